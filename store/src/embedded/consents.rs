//! Consents: keyed by (user, client), so a user's are one key range in client-id order, with an
//! index by client for when a client is deleted.

use async_trait::async_trait;
use gatehouse_core::client::ClientId;
use gatehouse_core::store::{Consent, ConsentStore, StoreError};
use gatehouse_core::user::UserId;
use redb::{ReadableTable, Table};

use super::tables::{CLIENT_CONSENTS, CONSENTS};
use super::{EmbeddedStore, decode, decode_found, encode, unavailable, write};

/// The client ids of `user`'s consents, in order: the key range that starts at `(user, "")`.
fn user_clients(
    consents: &Table<'_, (&'static str, &'static str), &'static [u8]>,
    user: &str,
) -> Result<Vec<String>, StoreError> {
    let mut out = Vec::new();
    for row in consents.range((user, "")..).map_err(unavailable)? {
        let (key, _) = row.map_err(unavailable)?;
        let (owner, client) = key.value();
        if owner != user {
            break;
        }
        out.push(client.to_owned());
    }
    Ok(out)
}

#[async_trait]
impl ConsentStore for EmbeddedStore {
    /// A point read: run inline.
    async fn get(&self, user: &UserId, client: &ClientId) -> Result<Option<Consent>, StoreError> {
        let txn = self.db.begin_read().map_err(unavailable)?;
        let consents = txn.open_table(CONSENTS).map_err(unavailable)?;
        let key = (user.as_str(), client.as_str());
        decode_found(consents.get(key).map_err(unavailable)?)
    }

    async fn put(
        &self,
        user: &UserId,
        client: &ClientId,
        consent: Consent,
    ) -> Result<(), StoreError> {
        let bytes = encode(&consent)?;
        let (user, client) = (user.clone(), client.clone());
        self.blocking(move |db| {
            write(db, |txn| {
                txn.open_table(CONSENTS)
                    .map_err(unavailable)?
                    .insert((user.as_str(), client.as_str()), bytes.as_slice())
                    .map_err(unavailable)?;
                txn.open_multimap_table(CLIENT_CONSENTS)
                    .map_err(unavailable)?
                    .insert(client.as_str(), user.as_str())
                    .map_err(unavailable)?;
                Ok(())
            })
        })
        .await
    }

    async fn revoke(&self, user: &UserId, client: &ClientId) -> Result<bool, StoreError> {
        let (user, client) = (user.clone(), client.clone());
        self.blocking(move |db| {
            write(db, |txn| {
                let existed = txn
                    .open_table(CONSENTS)
                    .map_err(unavailable)?
                    .remove((user.as_str(), client.as_str()))
                    .map_err(unavailable)?
                    .is_some();
                txn.open_multimap_table(CLIENT_CONSENTS)
                    .map_err(unavailable)?
                    .remove(client.as_str(), user.as_str())
                    .map_err(unavailable)?;
                Ok(existed)
            })
        })
        .await
    }

    async fn list_user(&self, user: &UserId) -> Result<Vec<(ClientId, Consent)>, StoreError> {
        let user = user.clone();
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(unavailable)?;
            let consents = txn.open_table(CONSENTS).map_err(unavailable)?;
            let mut out = Vec::new();
            for row in consents.range((user.as_str(), "")..).map_err(unavailable)? {
                let (key, value) = row.map_err(unavailable)?;
                let (owner, client) = key.value();
                if owner != user.as_str() {
                    break;
                }
                let client = ClientId::new(client)
                    .ok_or_else(|| StoreError::Corrupt(format!("consent for client {client:?}")))?;
                out.push((client, decode(value.value())?));
            }
            Ok(out)
        })
        .await
    }

    async fn delete_user(&self, user: &UserId) -> Result<usize, StoreError> {
        let user = user.clone();
        self.blocking(move |db| {
            write(db, |txn| {
                let mut consents = txn.open_table(CONSENTS).map_err(unavailable)?;
                let mut by_client = txn
                    .open_multimap_table(CLIENT_CONSENTS)
                    .map_err(unavailable)?;
                let clients = user_clients(&consents, user.as_str())?;
                for client in &clients {
                    consents
                        .remove((user.as_str(), client.as_str()))
                        .map_err(unavailable)?;
                    by_client
                        .remove(client.as_str(), user.as_str())
                        .map_err(unavailable)?;
                }
                Ok(clients.len())
            })
        })
        .await
    }

    async fn delete_client(&self, client: &ClientId) -> Result<usize, StoreError> {
        let client = client.clone();
        self.blocking(move |db| {
            write(db, |txn| {
                let mut by_client = txn
                    .open_multimap_table(CLIENT_CONSENTS)
                    .map_err(unavailable)?;
                let mut consents = txn.open_table(CONSENTS).map_err(unavailable)?;
                let mut deleted = 0;
                for user in by_client.remove_all(client.as_str()).map_err(unavailable)? {
                    let user = user.map_err(unavailable)?;
                    let key = (user.value(), client.as_str());
                    deleted += usize::from(consents.remove(key).map_err(unavailable)?.is_some());
                }
                Ok(deleted)
            })
        })
        .await
    }
}
