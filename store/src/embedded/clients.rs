//! Clients: the table, and the in-memory copy every read is served from.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use gatehouse_core::client::{Client, ClientId};
use gatehouse_core::store::{ClientStore, StoreError};
use gatehouse_token::UnixTime;
use redb::{Database, ReadableTable};

use super::tables::CLIENTS;
use super::{EmbeddedStore, decode, encode, unavailable, write};

impl EmbeddedStore {
    /// Every client, read from the table (at open).
    pub(super) fn read_clients(&self) -> Result<BTreeMap<ClientId, Arc<Client>>, StoreError> {
        let txn = self.db.begin_read().map_err(unavailable)?;
        let table = txn.open_table(CLIENTS).map_err(unavailable)?;
        let mut out = BTreeMap::new();
        for row in table.iter().map_err(unavailable)? {
            let (_, value) = row.map_err(unavailable)?;
            let client: Client = decode(value.value())?;
            out.insert(client.id.clone(), Arc::new(client));
        }
        Ok(out)
    }

    /// Applies a change to the clients table and then to the in-memory copy, under the write
    /// lock.
    async fn change_clients<T: Send + 'static>(
        &self,
        op: impl FnOnce(&Database) -> Result<T, StoreError> + Send + 'static,
        update: impl FnOnce(&mut BTreeMap<ClientId, Arc<Client>>) + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = self.clone();
        let guard = self.client_writes.clone();
        tokio::task::spawn_blocking(move || {
            let _serial = guard
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let out = op(&store.db)?;
            let mut next = BTreeMap::clone(&store.clients.load());
            update(&mut next);
            store.clients.store(Arc::new(next));
            Ok(out)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("storage task failed: {e}")))?
    }
}

#[async_trait]
impl ClientStore for EmbeddedStore {
    async fn insert(&self, client: Client) -> Result<(), StoreError> {
        let bytes = encode(&client)?;
        let id = client.id.clone();
        let cached = Arc::new(client);
        self.change_clients(
            move |db| {
                write(db, |txn| {
                    let mut table = txn.open_table(CLIENTS).map_err(unavailable)?;
                    if table.get(id.as_str()).map_err(unavailable)?.is_some() {
                        return Err(StoreError::Conflict(format!("client {id}")));
                    }
                    table
                        .insert(id.as_str(), bytes.as_slice())
                        .map_err(unavailable)?;
                    Ok(())
                })
            },
            move |clients| {
                clients.insert(cached.id.clone(), cached);
            },
        )
        .await
    }

    async fn get(&self, id: &ClientId) -> Result<Option<Arc<Client>>, StoreError> {
        Ok(self.clients.load().get(id).cloned())
    }

    async fn list(&self) -> Result<Vec<Arc<Client>>, StoreError> {
        Ok(self.clients.load().values().cloned().collect())
    }

    async fn update(&self, client: Client) -> Result<bool, StoreError> {
        let bytes = encode(&client)?;
        let id = client.id.clone();
        let cached = Arc::new(client);
        self.change_clients(
            move |db| {
                write(db, |txn| {
                    let mut table = txn.open_table(CLIENTS).map_err(unavailable)?;
                    if table.get(id.as_str()).map_err(unavailable)?.is_none() {
                        return Ok(false);
                    }
                    table
                        .insert(id.as_str(), bytes.as_slice())
                        .map_err(unavailable)?;
                    Ok(true)
                })
            },
            // Only a client that was there is replaced in the copy (the table said so).
            move |clients| {
                if let Some(kept) = clients.get_mut(&cached.id) {
                    *kept = cached;
                }
            },
        )
        .await
    }

    async fn record_use(&self, id: &ClientId, now: UnixTime) -> Result<bool, StoreError> {
        let key = id.clone();
        // The client as written, handed from the transaction to the in-memory copy.
        let written: Arc<Mutex<Option<Arc<Client>>>> = Arc::default();
        let slot = written.clone();
        self.change_clients(
            move |db| {
                write(db, |txn| {
                    let mut table = txn.open_table(CLIENTS).map_err(unavailable)?;
                    let Some(mut client) = table
                        .get(key.as_str())
                        .map_err(unavailable)?
                        .map(|v| decode::<Client>(v.value()))
                        .transpose()?
                    else {
                        return Ok(false);
                    };
                    if !gatehouse_core::client::record_use(&mut client, now) {
                        return Ok(false);
                    }
                    let bytes = encode(&client)?;
                    table
                        .insert(key.as_str(), bytes.as_slice())
                        .map_err(unavailable)?;
                    *slot
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) =
                        Some(Arc::new(client));
                    Ok(true)
                })
            },
            move |clients| {
                let taken = written
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .take();
                if let Some(client) = taken {
                    clients.insert(client.id.clone(), client);
                }
            },
        )
        .await
    }

    async fn delete(&self, id: &ClientId) -> Result<bool, StoreError> {
        let (key, gone) = (id.clone(), id.clone());
        self.change_clients(
            move |db| {
                write(db, |txn| {
                    let mut table = txn.open_table(CLIENTS).map_err(unavailable)?;
                    let existed = table.remove(key.as_str()).map_err(unavailable)?.is_some();
                    Ok(existed)
                })
            },
            move |clients| {
                clients.remove(&gone);
            },
        )
        .await
    }

    async fn contains(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.clients.load().contains_key(id))
    }
}
