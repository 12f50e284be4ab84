//! Registered protected resources: one table, read whole when the registry is rebuilt.

use async_trait::async_trait;
use gatehouse_core::resource::{ProtectedResource, Resource};
use gatehouse_core::store::{ResourceStore, StoreError};
use redb::ReadableTable;

use super::tables::RESOURCES;
use super::{EmbeddedStore, decode, encode, unavailable, write};

#[async_trait]
impl ResourceStore for EmbeddedStore {
    async fn insert(&self, resource: ProtectedResource) -> Result<(), StoreError> {
        let bytes = encode(&resource)?;
        self.blocking(move |db| {
            write(db, |txn| {
                let mut table = txn.open_table(RESOURCES).map_err(unavailable)?;
                let key = resource.uri.as_str();
                if table.get(key).map_err(unavailable)?.is_some() {
                    return Err(StoreError::Conflict(format!("resource {key}")));
                }
                table.insert(key, bytes.as_slice()).map_err(unavailable)?;
                Ok(())
            })
        })
        .await
    }

    async fn list(&self) -> Result<Vec<ProtectedResource>, StoreError> {
        self.blocking(|db| {
            let txn = db.begin_read().map_err(unavailable)?;
            let table = txn.open_table(RESOURCES).map_err(unavailable)?;
            let mut out = Vec::new();
            for row in table.iter().map_err(unavailable)? {
                let (_, value) = row.map_err(unavailable)?;
                out.push(decode(value.value())?);
            }
            Ok(out)
        })
        .await
    }

    async fn delete(&self, uri: &Resource) -> Result<bool, StoreError> {
        let key = uri.as_str().to_owned();
        self.blocking(move |db| {
            write(db, |txn| {
                let mut table = txn.open_table(RESOURCES).map_err(unavailable)?;
                Ok(table.remove(key.as_str()).map_err(unavailable)?.is_some())
            })
        })
        .await
    }
}
