//! Signing-key records.

use async_trait::async_trait;
use gatehouse_core::store::{KeyRecord, KeyStore, StoreError};
use redb::ReadableTable;

use super::tables::KEYS;
use super::{EmbeddedStore, decode, encode, unavailable, write};

#[async_trait]
impl KeyStore for EmbeddedStore {
    async fn put(&self, key: KeyRecord) -> Result<(), StoreError> {
        let bytes = encode(&key)?;
        self.blocking(move |db| {
            write(db, |txn| {
                let mut table = txn.open_table(KEYS).map_err(unavailable)?;
                table
                    .insert(key.kid.as_str(), bytes.as_slice())
                    .map_err(unavailable)?;
                Ok(())
            })
        })
        .await
    }

    async fn list(&self) -> Result<Vec<KeyRecord>, StoreError> {
        self.blocking(|db| {
            let txn = db.begin_read().map_err(unavailable)?;
            let table = txn.open_table(KEYS).map_err(unavailable)?;
            let mut out: Vec<KeyRecord> = Vec::new();
            for row in table.iter().map_err(unavailable)? {
                let (_, value) = row.map_err(unavailable)?;
                out.push(decode(value.value())?);
            }
            out.sort_by_key(|k| k.created_at);
            Ok(out)
        })
        .await
    }

    async fn delete(&self, kid: &str) -> Result<bool, StoreError> {
        let kid = kid.to_owned();
        self.blocking(move |db| {
            write(db, |txn| {
                let mut table = txn.open_table(KEYS).map_err(unavailable)?;
                let existed = table.remove(kid.as_str()).map_err(unavailable)?.is_some();
                Ok(existed)
            })
        })
        .await
    }
}
