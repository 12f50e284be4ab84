//! The replay cache: one table keyed by (kind, digest), so kinds are namespaces, and its time
//! index for the purge.

use async_trait::async_trait;
use gatehouse_core::store::{ReplayKind, ReplayStore, StoreError};
use gatehouse_token::{SecretDigest, UnixTime};
use redb::ReadableTable;

use super::tables::{REPLAY, REPLAY_EXPIRY};
use super::{EmbeddedStore, unavailable, write};

#[async_trait]
impl ReplayStore for EmbeddedStore {
    /// Looks and records in one write transaction: redb runs one at a time, so of two first uses
    /// the second sees the first's entry.
    async fn first_use(
        &self,
        kind: ReplayKind,
        id: SecretDigest,
        expires_at: UnixTime,
    ) -> Result<bool, StoreError> {
        self.blocking(move |db| {
            write(db, |txn| {
                let mut seen = txn.open_table(REPLAY).map_err(unavailable)?;
                let key = (kind.as_str(), &id.0);
                if seen.get(key).map_err(unavailable)?.is_some() {
                    return Ok(false);
                }
                seen.insert(key, expires_at.0).map_err(unavailable)?;
                txn.open_table(REPLAY_EXPIRY)
                    .map_err(unavailable)?
                    .insert((expires_at.0, kind.as_str(), &id.0), ())
                    .map_err(unavailable)?;
                Ok(true)
            })
        })
        .await
    }

    /// Reads the time index up to `cutoff` only.
    async fn purge_expired(&self, cutoff: UnixTime) -> Result<usize, StoreError> {
        self.blocking(move |db| {
            write(db, |txn| {
                let mut index = txn.open_table(REPLAY_EXPIRY).map_err(unavailable)?;
                let mut expired: Vec<(u64, String, [u8; 32])> = Vec::new();
                for row in index
                    .range(..(cutoff.0, "", &[0u8; 32]))
                    .map_err(unavailable)?
                {
                    let (key, _) = row.map_err(unavailable)?;
                    let (at, kind, digest) = key.value();
                    expired.push((at, kind.to_owned(), *digest));
                }
                let mut seen = txn.open_table(REPLAY).map_err(unavailable)?;
                let mut purged = 0;
                for (at, kind, digest) in &expired {
                    purged += usize::from(
                        seen.remove((kind.as_str(), digest))
                            .map_err(unavailable)?
                            .is_some(),
                    );
                    index
                        .remove((*at, kind.as_str(), digest))
                        .map_err(unavailable)?;
                }
                Ok(purged)
            })
        })
        .await
    }
}
