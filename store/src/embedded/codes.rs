//! Authorization codes: by digest in a table of their own, kept (as used) after redemption
//! until the purge, which reads their time index.

use async_trait::async_trait;
use gatehouse_core::store::{AuthorizationCode, CodeStore, IssuedForCode, Redemption, StoreError};
use gatehouse_token::{SecretDigest, UnixTime};
use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use super::tables::{CODE_EXPIRY, CODES, purge_by_expiry};
use super::{EmbeddedStore, decode_found, encode, unavailable, write};

/// A code as stored.
#[derive(Serialize, Deserialize)]
struct StoredCode {
    code: AuthorizationCode,
    /// Whether it was redeemed.
    used: bool,
    /// What was issued for it, once recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    issued: Option<IssuedForCode>,
    /// Whether a replay was reported before what was issued was recorded.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    replayed: bool,
}

impl EmbeddedStore {
    /// Changes a stored code in one write transaction; `None` for an unknown code.
    async fn update<T: Send + 'static>(
        &self,
        digest: SecretDigest,
        change: impl FnOnce(&mut StoredCode) -> T + Send + 'static,
    ) -> Result<Option<T>, StoreError> {
        self.blocking(move |db| {
            write(db, |txn| {
                let mut codes = txn.open_table(CODES).map_err(unavailable)?;
                let found: Option<StoredCode> =
                    decode_found(codes.get(&digest.0).map_err(unavailable)?)?;
                let Some(mut stored) = found else {
                    return Ok(None);
                };
                let out = change(&mut stored);
                let bytes = encode(&stored)?;
                codes
                    .insert(&digest.0, bytes.as_slice())
                    .map_err(unavailable)?;
                Ok(Some(out))
            })
        })
        .await
    }
}

#[async_trait]
impl CodeStore for EmbeddedStore {
    /// A digest stored already is a [`StoreError::Conflict`], and the stored code stays.
    async fn insert(
        &self,
        digest: SecretDigest,
        code: AuthorizationCode,
    ) -> Result<(), StoreError> {
        let at = code.expires_at.0;
        let bytes = encode(&StoredCode {
            code,
            used: false,
            issued: None,
            replayed: false,
        })?;
        self.blocking(move |db| {
            write(db, |txn| {
                let mut codes = txn.open_table(CODES).map_err(unavailable)?;
                if codes.get(&digest.0).map_err(unavailable)?.is_some() {
                    return Err(StoreError::Conflict("authorization code".into()));
                }
                codes
                    .insert(&digest.0, bytes.as_slice())
                    .map_err(unavailable)?;
                txn.open_table(CODE_EXPIRY)
                    .map_err(unavailable)?
                    .insert((at, &digest.0), ())
                    .map_err(unavailable)?;
                Ok(())
            })
        })
        .await
    }

    /// Reads and marks the code in one write transaction: redb runs one at a time, so of two
    /// redemptions one sees the other's mark.
    async fn redeem(&self, digest: &SecretDigest) -> Result<Redemption, StoreError> {
        let digest = *digest;
        self.blocking(move |db| {
            write(db, |txn| {
                let mut codes = txn.open_table(CODES).map_err(unavailable)?;
                let found: Option<StoredCode> =
                    decode_found(codes.get(&digest.0).map_err(unavailable)?)?;
                let Some(mut stored) = found else {
                    return Ok(Redemption::Unknown);
                };
                if stored.used {
                    return Ok(Redemption::Replayed(stored.code, stored.issued));
                }
                stored.used = true;
                let bytes = encode(&stored)?;
                codes
                    .insert(&digest.0, bytes.as_slice())
                    .map_err(unavailable)?;
                Ok(Redemption::Fresh(stored.code))
            })
        })
        .await
    }

    /// Recording for an unknown (or purged) code does nothing.
    async fn record_issued(
        &self,
        digest: &SecretDigest,
        issued: IssuedForCode,
    ) -> Result<bool, StoreError> {
        let digest = *digest;
        self.update(digest, move |stored| {
            stored.issued = Some(issued);
            stored.replayed
        })
        .await
        .map(|r| r.unwrap_or(false))
    }

    /// Marks and reads in one write transaction, so that it and [`CodeStore::record_issued`]
    /// see each other, whichever runs first.
    async fn mark_replayed(
        &self,
        digest: &SecretDigest,
    ) -> Result<Option<IssuedForCode>, StoreError> {
        self.update(*digest, |stored| {
            stored.replayed = true;
            stored.issued.clone()
        })
        .await
        .map(Option::flatten)
    }

    /// Reads the time index up to `cutoff` only (`tables::purge_by_expiry`).
    async fn purge_expired(&self, cutoff: UnixTime) -> Result<usize, StoreError> {
        self.blocking(move |db| write(db, |txn| purge_by_expiry(txn, CODES, CODE_EXPIRY, cutoff.0)))
            .await
    }
}
