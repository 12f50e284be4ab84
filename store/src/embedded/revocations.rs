//! Revoked JWT ids: by `jti`, each client's (its quota), and the time index the purge reads.

use async_trait::async_trait;
use gatehouse_core::store::{RevocationStore, StoreError};
use gatehouse_token::UnixTime;
use redb::{ReadableMultimapTable, ReadableTable, WriteTransaction};

use super::tables::{CLIENT_REVOCATIONS, REVOCATION_EXPIRY, REVOKED_JTIS};
use super::{EmbeddedStore, count, unavailable, write};

/// Records `jti` as revoked until `exp`, for `owner` ("" for an operator's import). A `jti`
/// revoked already keeps the later of the two expiries, and its index entry moves with it.
fn record(txn: &WriteTransaction, jti: &str, exp: u64, owner: &str) -> Result<(), StoreError> {
    let mut table = txn.open_table(REVOKED_JTIS).map_err(unavailable)?;
    let mut expiry = txn.open_table(REVOCATION_EXPIRY).map_err(unavailable)?;
    let previous = table.get(jti).map_err(unavailable)?.map(|e| e.value());
    let mut owner = owner.to_owned();
    if let Some(old) = previous {
        if old >= exp {
            return Ok(());
        }
        if let Some(was) = expiry.remove((old, jti)).map_err(unavailable)? {
            let was = was.value().to_owned();
            if !was.is_empty() {
                // Still the client's, at its new expiry: the purge frees its quota then.
                let mut owned = txn
                    .open_multimap_table(CLIENT_REVOCATIONS)
                    .map_err(unavailable)?;
                owned
                    .remove(was.as_str(), (old, jti))
                    .map_err(unavailable)?;
                owned
                    .insert(was.as_str(), (exp, jti))
                    .map_err(unavailable)?;
            }
            if owner.is_empty() {
                owner = was;
            }
        }
    }
    table.insert(jti, exp).map_err(unavailable)?;
    expiry
        .insert((exp, jti), owner.as_str())
        .map_err(unavailable)?;
    Ok(())
}

#[async_trait]
impl RevocationStore for EmbeddedStore {
    async fn revoke_many(&self, revoked: Vec<(String, UnixTime)>) -> Result<(), StoreError> {
        self.blocking(move |db| {
            write(db, |txn| {
                for (jti, exp) in &revoked {
                    record(txn, jti, exp.0, "")?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn revoke_owned(
        &self,
        client_id: &str,
        jti: &str,
        exp: UnixTime,
        limit: usize,
    ) -> Result<(), StoreError> {
        let (client_id, jti) = (client_id.to_owned(), jti.to_owned());
        self.blocking(move |db| {
            write(db, |txn| {
                let revoked = txn.open_table(REVOKED_JTIS).map_err(unavailable)?;
                if revoked.get(jti.as_str()).map_err(unavailable)?.is_some() {
                    return Ok(());
                }
                drop(revoked);
                let mut owned = txn
                    .open_multimap_table(CLIENT_REVOCATIONS)
                    .map_err(unavailable)?;
                if count(owned.get(client_id.as_str()).map_err(unavailable)?.len()) >= limit {
                    return Err(StoreError::limit_reached(
                        &client_id,
                        "outstanding revocations",
                        limit,
                    ));
                }
                owned
                    .insert(client_id.as_str(), (exp.0, jti.as_str()))
                    .map_err(unavailable)?;
                drop(owned); // `record` may open the table again
                record(txn, &jti, exp.0, &client_id)
            })
        })
        .await
    }

    async fn live_page(
        &self,
        cutoff: UnixTime,
        after: Option<String>,
        limit: usize,
    ) -> Result<Vec<(String, UnixTime)>, StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(unavailable)?;
            let table = txn.open_table(REVOKED_JTIS).map_err(unavailable)?;
            let rows = match &after {
                Some(after) => table.range::<&str>((
                    std::ops::Bound::Excluded(after.as_str()),
                    std::ops::Bound::Unbounded,
                )),
                None => table.range::<&str>(..),
            }
            .map_err(unavailable)?;
            let mut out = Vec::with_capacity(limit.min(65_536));
            for row in rows {
                if out.len() == limit {
                    break;
                }
                let (jti, exp) = row.map_err(unavailable)?;
                if exp.value() >= cutoff.0 {
                    out.push((jti.value().to_owned(), UnixTime(exp.value())));
                }
            }
            Ok(out)
        })
        .await
    }

    /// Reads the time index up to `cutoff` only: the cost is what expired, not what is stored.
    async fn purge_expired(&self, cutoff: UnixTime) -> Result<usize, StoreError> {
        self.blocking(move |db| {
            write(db, |txn| {
                let mut expiry = txn.open_table(REVOCATION_EXPIRY).map_err(unavailable)?;
                let mut expired: Vec<(u64, String, String)> = Vec::new();
                for row in expiry.range(..(cutoff.0, "")).map_err(unavailable)? {
                    let (key, owner) = row.map_err(unavailable)?;
                    let (exp, jti) = key.value();
                    expired.push((exp, jti.to_owned(), owner.value().to_owned()));
                }
                let mut table = txn.open_table(REVOKED_JTIS).map_err(unavailable)?;
                let mut owned = txn
                    .open_multimap_table(CLIENT_REVOCATIONS)
                    .map_err(unavailable)?;
                for (exp, jti, owner) in &expired {
                    table.remove(jti.as_str()).map_err(unavailable)?;
                    if !owner.is_empty() {
                        owned
                            .remove(owner.as_str(), (*exp, jti.as_str()))
                            .map_err(unavailable)?;
                    }
                    expiry.remove((*exp, jti.as_str())).map_err(unavailable)?;
                }
                Ok(expired.len())
            })
        })
        .await
    }
}
