//! The replay cache in memory: one map keyed by (kind, digest), so kinds never collide.

use std::collections::HashMap;

use async_trait::async_trait;
use gatehouse_token::{SecretDigest, UnixTime};

use super::{MemoryStore, lock};
use crate::store::{ReplayKind, ReplayStore, StoreError};

/// Seen identifiers, by kind and digest, with when each may be forgotten.
pub(super) type Seen = HashMap<(ReplayKind, SecretDigest), UnixTime>;

#[async_trait]
impl ReplayStore for MemoryStore {
    async fn first_use(
        &self,
        kind: ReplayKind,
        id: SecretDigest,
        expires_at: UnixTime,
    ) -> Result<bool, StoreError> {
        let mut seen = lock(&self.replay);
        if seen.contains_key(&(kind, id)) {
            return Ok(false);
        }
        seen.insert((kind, id), expires_at);
        Ok(true)
    }

    async fn purge_expired(&self, cutoff: UnixTime) -> Result<usize, StoreError> {
        let mut seen = lock(&self.replay);
        let before = seen.len();
        seen.retain(|_, at| *at >= cutoff);
        Ok(before - seen.len())
    }
}
