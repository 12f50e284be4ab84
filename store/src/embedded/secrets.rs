//! Named server secrets, created once.

use async_trait::async_trait;
use gatehouse_core::store::{SecretStore, StoreError};
use redb::ReadableTable;

use super::tables::SECRETS;
use super::{EmbeddedStore, unavailable, write};

#[async_trait]
impl SecretStore for EmbeddedStore {
    /// Read first (inline: a point read); created, if still missing, by a write transaction
    /// that looks again, so two first calls store one secret and both return it.
    async fn get_or_create(&self, name: &str, fresh: [u8; 32]) -> Result<[u8; 32], StoreError> {
        {
            let txn = self.db.begin_read().map_err(unavailable)?;
            let secrets = txn.open_table(SECRETS).map_err(unavailable)?;
            if let Some(kept) = secrets.get(name).map_err(unavailable)? {
                return Ok(*kept.value());
            }
        }
        let name = name.to_owned();
        self.blocking(move |db| {
            write(db, |txn| {
                let mut secrets = txn.open_table(SECRETS).map_err(unavailable)?;
                if let Some(kept) = secrets.get(name.as_str()).map_err(unavailable)? {
                    return Ok(*kept.value());
                }
                secrets.insert(name.as_str(), &fresh).map_err(unavailable)?;
                Ok(fresh)
            })
        })
        .await
    }
}
