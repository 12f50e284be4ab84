//! Opaque access tokens: the records by digest, each client's tokens (its quota), and the time
//! index the purge reads.

use async_trait::async_trait;
use gatehouse_core::store::{AccessTokenStore, StoreError, StoredAccessToken};
use gatehouse_token::{AccessTokenClaims, SecretDigest, UnixTime};
use redb::{ReadableMultimapTable, ReadableTable};

use super::tables::{ACCESS_TOKEN_EXPIRY, ACCESS_TOKENS, CLIENT_TOKENS};
use super::{EmbeddedStore, count, decode, encode, unavailable, write};

#[async_trait]
impl AccessTokenStore for EmbeddedStore {
    async fn insert(
        &self,
        digest: SecretDigest,
        claims: AccessTokenClaims,
        limit: usize,
    ) -> Result<(), StoreError> {
        let (client_id, exp) = (claims.client_id.clone(), claims.exp.0);
        let bytes = encode(&StoredAccessToken {
            claims,
            revoked: false,
        })?;
        self.blocking(move |db| {
            write(db, |txn| {
                let mut owned = txn
                    .open_multimap_table(CLIENT_TOKENS)
                    .map_err(unavailable)?;
                if count(owned.get(client_id.as_str()).map_err(unavailable)?.len()) >= limit {
                    return Err(StoreError::limit_reached(
                        &client_id,
                        "opaque tokens",
                        limit,
                    ));
                }
                owned
                    .insert(client_id.as_str(), (exp, &digest.0))
                    .map_err(unavailable)?;
                txn.open_table(ACCESS_TOKENS)
                    .map_err(unavailable)?
                    .insert(&digest.0, bytes.as_slice())
                    .map_err(unavailable)?;
                txn.open_table(ACCESS_TOKEN_EXPIRY)
                    .map_err(unavailable)?
                    .insert((exp, &digest.0), client_id.as_str())
                    .map_err(unavailable)?;
                Ok(())
            })
        })
        .await
    }

    /// A point read: no fsync, no blocking beyond a page read; run inline.
    async fn get(&self, digest: &SecretDigest) -> Result<Option<StoredAccessToken>, StoreError> {
        let txn = self.db.begin_read().map_err(unavailable)?;
        let table = txn.open_table(ACCESS_TOKENS).map_err(unavailable)?;
        let found = table.get(&digest.0).map_err(unavailable)?;
        found.map(|v| decode(v.value())).transpose()
    }

    async fn revoke(&self, digest: &SecretDigest) -> Result<bool, StoreError> {
        let digest = *digest;
        self.blocking(move |db| {
            write(db, |txn| {
                let mut table = txn.open_table(ACCESS_TOKENS).map_err(unavailable)?;
                let current = table.get(&digest.0).map_err(unavailable)?;
                let Some(mut record) = current
                    .map(|v| decode::<StoredAccessToken>(v.value()))
                    .transpose()?
                else {
                    return Ok(false);
                };
                record.revoked = true;
                let bytes = encode(&record)?;
                table
                    .insert(&digest.0, bytes.as_slice())
                    .map_err(unavailable)?;
                Ok(true)
            })
        })
        .await
    }

    async fn delete_client_tokens(&self, client_id: &str) -> Result<usize, StoreError> {
        let client_id = client_id.to_owned();
        self.blocking(move |db| {
            write(db, |txn| {
                let mut owned = txn
                    .open_multimap_table(CLIENT_TOKENS)
                    .map_err(unavailable)?;
                let mut table = txn.open_table(ACCESS_TOKENS).map_err(unavailable)?;
                let mut expiry = txn.open_table(ACCESS_TOKEN_EXPIRY).map_err(unavailable)?;
                let mut deleted = 0;
                for entry in owned.remove_all(client_id.as_str()).map_err(unavailable)? {
                    let entry = entry.map_err(unavailable)?;
                    let (exp, digest) = entry.value();
                    deleted += usize::from(table.remove(digest).map_err(unavailable)?.is_some());
                    expiry.remove((exp, digest)).map_err(unavailable)?;
                }
                Ok(deleted)
            })
        })
        .await
    }

    async fn count_client_tokens(&self, client_id: &str) -> Result<usize, StoreError> {
        let txn = self.db.begin_read().map_err(unavailable)?;
        let owned = txn
            .open_multimap_table(CLIENT_TOKENS)
            .map_err(unavailable)?;
        Ok(count(owned.get(client_id).map_err(unavailable)?.len()))
    }

    /// Reads the time index up to `cutoff` only: the cost is what expired, not what is stored.
    async fn purge_expired(&self, cutoff: UnixTime) -> Result<usize, StoreError> {
        self.blocking(move |db| {
            write(db, |txn| {
                let mut expiry = txn.open_table(ACCESS_TOKEN_EXPIRY).map_err(unavailable)?;
                let mut expired: Vec<(u64, [u8; 32], String)> = Vec::new();
                for row in expiry
                    .range(..(cutoff.0, &[0u8; 32]))
                    .map_err(unavailable)?
                {
                    let (key, client) = row.map_err(unavailable)?;
                    let (exp, digest) = key.value();
                    expired.push((exp, *digest, client.value().to_owned()));
                }
                let mut table = txn.open_table(ACCESS_TOKENS).map_err(unavailable)?;
                let mut owned = txn
                    .open_multimap_table(CLIENT_TOKENS)
                    .map_err(unavailable)?;
                let mut purged = 0;
                for (exp, digest, client) in &expired {
                    purged += usize::from(table.remove(digest).map_err(unavailable)?.is_some());
                    owned
                        .remove(client.as_str(), (*exp, digest))
                        .map_err(unavailable)?;
                    expiry.remove((*exp, digest)).map_err(unavailable)?;
                }
                Ok(purged)
            })
        })
        .await
    }
}
