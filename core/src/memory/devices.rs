//! Device authorizations in memory (RFC 8628): by digest, with the user-code index, each
//! step under one lock.

use std::collections::HashMap;

use async_trait::async_trait;
use gatehouse_token::{SecretDigest, UnixTime};

use super::{MemoryStore, lock};
use crate::client::ClientId;
use crate::device::UserCode;
use crate::store::{
    DeviceAuthorization, DeviceCodeStore, DeviceDecision, PollOutcome, StoreError, decide_step,
    poll_step,
};

#[derive(Debug, Default)]
pub(super) struct Devices {
    by_digest: HashMap<SecretDigest, DeviceAuthorization>,
    by_user_code: HashMap<UserCode, SecretDigest>,
}

#[async_trait]
impl DeviceCodeStore for MemoryStore {
    async fn insert(
        &self,
        digest: SecretDigest,
        record: DeviceAuthorization,
    ) -> Result<(), StoreError> {
        let mut all = lock(&self.devices);
        if all.by_digest.contains_key(&digest) {
            return Err(StoreError::Conflict("device code".into()));
        }
        if all.by_user_code.contains_key(&record.user_code) {
            return Err(StoreError::Conflict("user code".into()));
        }
        all.by_user_code.insert(record.user_code.clone(), digest);
        all.by_digest.insert(digest, record);
        Ok(())
    }

    async fn find(&self, user_code: &UserCode) -> Result<Option<DeviceAuthorization>, StoreError> {
        let all = lock(&self.devices);
        Ok(all
            .by_user_code
            .get(user_code)
            .and_then(|d| all.by_digest.get(d))
            .cloned())
    }

    async fn decide(
        &self,
        user_code: &UserCode,
        decision: DeviceDecision,
        now: UnixTime,
    ) -> Result<Option<DeviceAuthorization>, StoreError> {
        let mut all = lock(&self.devices);
        let Some(digest) = all.by_user_code.get(user_code).copied() else {
            return Ok(None);
        };
        let Some(record) = all.by_digest.get_mut(&digest) else {
            return Ok(None);
        };
        let next = decide_step(record, &decision, now);
        if let Some(next) = &next {
            *record = next.clone();
        }
        Ok(next)
    }

    async fn poll(
        &self,
        digest: &SecretDigest,
        client: &ClientId,
        now: UnixTime,
    ) -> Result<Option<PollOutcome>, StoreError> {
        let mut all = lock(&self.devices);
        let Some(record) = all.by_digest.get_mut(digest) else {
            return Ok(None);
        };
        let (outcome, next) = poll_step(record, client, now);
        if let Some(next) = next {
            *record = next;
        }
        Ok(Some(outcome))
    }

    async fn purge_expired(&self, cutoff: UnixTime) -> Result<usize, StoreError> {
        let mut all = lock(&self.devices);
        let Devices {
            by_digest,
            by_user_code,
        } = &mut *all;
        let before = by_digest.len();
        by_digest.retain(|_, r| r.expires_at >= cutoff);
        by_user_code.retain(|_, d| by_digest.contains_key(d));
        Ok(before - by_digest.len())
    }
}
