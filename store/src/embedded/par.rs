//! Pushed authorization requests (RFC 9126): by digest in a table of their own, claimed by the
//! first browser that uses them; the purge reads their time index.

use async_trait::async_trait;
use gatehouse_core::store::{ParStore, PushedRequest, StoreError};
use gatehouse_token::{SecretDigest, UnixTime};
use redb::ReadableTable;

use super::tables::{PAR_EXPIRY, PUSHED_REQUESTS, purge_by_expiry};
use super::{EmbeddedStore, decode_found, encode, unavailable, write};

#[async_trait]
impl ParStore for EmbeddedStore {
    /// A digest stored already is a [`StoreError::Conflict`], and the stored request stays.
    async fn insert(&self, digest: SecretDigest, request: PushedRequest) -> Result<(), StoreError> {
        let at = request.expires_at.0;
        let bytes = encode(&request)?;
        self.blocking(move |db| {
            write(db, |txn| {
                let mut pushed = txn.open_table(PUSHED_REQUESTS).map_err(unavailable)?;
                if pushed.get(&digest.0).map_err(unavailable)?.is_some() {
                    return Err(StoreError::Conflict("pushed request".into()));
                }
                pushed
                    .insert(&digest.0, bytes.as_slice())
                    .map_err(unavailable)?;
                txn.open_table(PAR_EXPIRY)
                    .map_err(unavailable)?
                    .insert((at, &digest.0), ())
                    .map_err(unavailable)?;
                Ok(())
            })
        })
        .await
    }

    /// Removes the request and its time-index entry in one write transaction.
    async fn complete(&self, digest: &SecretDigest) -> Result<bool, StoreError> {
        let digest = *digest;
        self.blocking(move |db| {
            write(db, |txn| {
                let mut pushed = txn.open_table(PUSHED_REQUESTS).map_err(unavailable)?;
                let found: Option<PushedRequest> =
                    decode_found(pushed.remove(&digest.0).map_err(unavailable)?)?;
                if let Some(request) = &found {
                    txn.open_table(PAR_EXPIRY)
                        .map_err(unavailable)?
                        .remove((request.expires_at.0, &digest.0))
                        .map_err(unavailable)?;
                }
                Ok(found.is_some())
            })
        })
        .await
    }

    /// Reads and records the claim in one write transaction: redb runs one at a time, so of two
    /// first claims the second sees the first's.
    async fn claim(
        &self,
        digest: &SecretDigest,
        browser: SecretDigest,
    ) -> Result<Option<PushedRequest>, StoreError> {
        let digest = *digest;
        self.blocking(move |db| {
            write(db, |txn| {
                let mut pushed = txn.open_table(PUSHED_REQUESTS).map_err(unavailable)?;
                let found: Option<PushedRequest> =
                    decode_found(pushed.get(&digest.0).map_err(unavailable)?)?;
                match found {
                    Some(mut request) if request.claimed_by.is_none_or(|b| b == browser) => {
                        if request.claimed_by.is_none() {
                            request.claimed_by = Some(browser);
                            let bytes = encode(&request)?;
                            pushed
                                .insert(&digest.0, bytes.as_slice())
                                .map_err(unavailable)?;
                        }
                        Ok(Some(request))
                    }
                    _ => Ok(None),
                }
            })
        })
        .await
    }

    /// Reads the time index up to `cutoff` only (`tables::purge_by_expiry`).
    async fn purge_expired(&self, cutoff: UnixTime) -> Result<usize, StoreError> {
        self.blocking(move |db| {
            write(db, |txn| {
                purge_by_expiry(txn, PUSHED_REQUESTS, PAR_EXPIRY, cutoff.0)
            })
        })
        .await
    }
}
