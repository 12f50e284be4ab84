//! Device authorizations (RFC 8628): by device-code digest in a table of their own, the user
//! code a second unique key, the time index for the purge. Every poll and decision reads,
//! applies core's step and writes in one write transaction, so it is atomic.

use async_trait::async_trait;
use gatehouse_core::client::ClientId;
use gatehouse_core::device::UserCode;
use gatehouse_core::store::{
    DeviceAuthorization, DeviceCodeStore, DeviceDecision, PollOutcome, StoreError, decide_step,
    poll_step,
};
use gatehouse_token::{SecretDigest, UnixTime};
use redb::ReadableTable;

use super::tables::{DEVICE_CODES, DEVICE_EXPIRY, DEVICE_USER_CODES};
use super::{EmbeddedStore, decode_found, encode, unavailable, write};

/// Reads the record of `digest` in `txn`.
fn read(
    txn: &redb::WriteTransaction,
    digest: &[u8; 32],
) -> Result<Option<DeviceAuthorization>, StoreError> {
    let rows = txn.open_table(DEVICE_CODES).map_err(unavailable)?;
    decode_found(rows.get(digest).map_err(unavailable)?)
}

/// Writes `record` back under `digest` in `txn` (its expiry and user code never change).
fn rewrite(
    txn: &redb::WriteTransaction,
    digest: &[u8; 32],
    record: &DeviceAuthorization,
) -> Result<(), StoreError> {
    let bytes = encode(record)?;
    txn.open_table(DEVICE_CODES)
        .map_err(unavailable)?
        .insert(digest, bytes.as_slice())
        .map_err(unavailable)?;
    Ok(())
}

#[async_trait]
impl DeviceCodeStore for EmbeddedStore {
    async fn insert(
        &self,
        digest: SecretDigest,
        record: DeviceAuthorization,
    ) -> Result<(), StoreError> {
        let bytes = encode(&record)?;
        self.blocking(move |db| {
            write(db, |txn| {
                let mut rows = txn.open_table(DEVICE_CODES).map_err(unavailable)?;
                if rows.get(&digest.0).map_err(unavailable)?.is_some() {
                    return Err(StoreError::Conflict("device code".into()));
                }
                let mut codes = txn.open_table(DEVICE_USER_CODES).map_err(unavailable)?;
                let user_code = record.user_code.as_str();
                if codes.get(user_code).map_err(unavailable)?.is_some() {
                    return Err(StoreError::Conflict("user code".into()));
                }
                codes.insert(user_code, &digest.0).map_err(unavailable)?;
                rows.insert(&digest.0, bytes.as_slice())
                    .map_err(unavailable)?;
                txn.open_table(DEVICE_EXPIRY)
                    .map_err(unavailable)?
                    .insert((record.expires_at.0, &digest.0), ())
                    .map_err(unavailable)?;
                Ok(())
            })
        })
        .await
    }

    async fn find(&self, user_code: &UserCode) -> Result<Option<DeviceAuthorization>, StoreError> {
        let txn = self.db.begin_read().map_err(unavailable)?;
        let codes = txn.open_table(DEVICE_USER_CODES).map_err(unavailable)?;
        let Some(digest) = codes.get(user_code.as_str()).map_err(unavailable)? else {
            return Ok(None);
        };
        let digest = *digest.value();
        let rows = txn.open_table(DEVICE_CODES).map_err(unavailable)?;
        decode_found(rows.get(&digest).map_err(unavailable)?)
    }

    async fn decide(
        &self,
        user_code: &UserCode,
        decision: DeviceDecision,
        now: UnixTime,
    ) -> Result<Option<DeviceAuthorization>, StoreError> {
        let user_code = user_code.clone();
        self.blocking(move |db| {
            write(db, |txn| {
                let found = {
                    let codes = txn.open_table(DEVICE_USER_CODES).map_err(unavailable)?;
                    let found = codes.get(user_code.as_str()).map_err(unavailable)?;
                    found.map(|d| *d.value())
                };
                let Some(digest) = found else {
                    return Ok(None);
                };
                let Some(record) = read(txn, &digest)? else {
                    return Ok(None);
                };
                let next = decide_step(&record, &decision, now);
                if let Some(next) = &next {
                    rewrite(txn, &digest, next)?;
                }
                Ok(next)
            })
        })
        .await
    }

    async fn poll(
        &self,
        digest: &SecretDigest,
        client: &ClientId,
        now: UnixTime,
    ) -> Result<Option<PollOutcome>, StoreError> {
        let (digest, client) = (*digest, client.clone());
        self.blocking(move |db| {
            write(db, |txn| {
                let Some(record) = read(txn, &digest.0)? else {
                    return Ok(None);
                };
                let (outcome, next) = poll_step(&record, &client, now);
                if let Some(next) = next {
                    rewrite(txn, &digest.0, &next)?;
                }
                Ok(Some(outcome))
            })
        })
        .await
    }

    /// Reads the time index up to `cutoff` only; each record goes with its user code.
    async fn purge_expired(&self, cutoff: UnixTime) -> Result<usize, StoreError> {
        self.blocking(move |db| {
            write(db, |txn| {
                let mut index = txn.open_table(DEVICE_EXPIRY).map_err(unavailable)?;
                let mut expired: Vec<(u64, [u8; 32])> = Vec::new();
                for row in index.range(..(cutoff.0, &[0u8; 32])).map_err(unavailable)? {
                    let (key, _) = row.map_err(unavailable)?;
                    let (at, digest) = key.value();
                    expired.push((at, *digest));
                }
                let mut rows = txn.open_table(DEVICE_CODES).map_err(unavailable)?;
                let mut codes = txn.open_table(DEVICE_USER_CODES).map_err(unavailable)?;
                let mut purged = 0;
                for (at, digest) in &expired {
                    let found: Option<DeviceAuthorization> =
                        decode_found(rows.remove(digest).map_err(unavailable)?)?;
                    if let Some(record) = found {
                        purged += 1;
                        codes
                            .remove(record.user_code.as_str())
                            .map_err(unavailable)?;
                    }
                    index.remove((*at, digest)).map_err(unavailable)?;
                }
                Ok(purged)
            })
        })
        .await
    }
}
