//! In-memory implementations of the storage traits: the reference for what a store must do, and
//! what unit tests and benchmarks run on. Not durable.

mod devices;
mod people;
mod replay;
mod single_use;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use gatehouse_token::{AccessTokenClaims, SecretDigest, UnixTime};

use crate::client::{Client, ClientId};
use crate::resource::{ProtectedResource, Resource};
use crate::store::{
    AccessTokenStore, ClientStore, KeyRecord, KeyStore, ResourceStore, RevocationStore, StoreError,
    StoredAccessToken,
};

/// Every store in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    clients: Mutex<BTreeMap<ClientId, Arc<Client>>>,
    tokens: Mutex<Tokens>,
    revoked: Mutex<Revoked>,
    keys: Mutex<Vec<KeyRecord>>,
    people: Mutex<people::People>,
    single_use: Mutex<single_use::SingleUse>,
    devices: Mutex<devices::Devices>,
    secrets: Mutex<BTreeMap<String, [u8; 32]>>,
    replay: Mutex<replay::Seen>,
    resources: Mutex<BTreeMap<Resource, ProtectedResource>>,
}

/// Opaque tokens by digest, and the digests of each client's tokens.
#[derive(Debug, Default)]
struct Tokens {
    by_digest: HashMap<SecretDigest, StoredAccessToken>,
    by_client: HashMap<String, BTreeSet<SecretDigest>>,
}

/// Revoked `jti`s with their expiry, and the `jti`s each client revoked.
#[derive(Debug, Default)]
struct Revoked {
    by_jti: HashMap<String, UnixTime>,
    by_client: HashMap<String, BTreeSet<String>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock only means another test thread panicked; the data is still usable.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[async_trait]
impl ClientStore for MemoryStore {
    async fn insert(&self, client: Client) -> Result<(), StoreError> {
        let mut clients = lock(&self.clients);
        if clients.contains_key(&client.id) {
            return Err(StoreError::Conflict(format!("client {}", client.id)));
        }
        clients.insert(client.id.clone(), Arc::new(client));
        Ok(())
    }

    async fn get(&self, id: &ClientId) -> Result<Option<Arc<Client>>, StoreError> {
        Ok(lock(&self.clients).get(id).cloned())
    }

    async fn list(&self) -> Result<Vec<Arc<Client>>, StoreError> {
        Ok(lock(&self.clients).values().cloned().collect())
    }

    async fn update(&self, client: Client) -> Result<bool, StoreError> {
        let mut clients = lock(&self.clients);
        match clients.get_mut(&client.id) {
            Some(kept) => {
                *kept = Arc::new(client);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn record_use(&self, id: &ClientId, now: UnixTime) -> Result<bool, StoreError> {
        let mut clients = lock(&self.clients);
        match clients.get_mut(id) {
            Some(kept) => Ok(crate::client::record_use(Arc::make_mut(kept), now)),
            None => Ok(false),
        }
    }

    async fn delete(&self, id: &ClientId) -> Result<bool, StoreError> {
        Ok(lock(&self.clients).remove(id).is_some())
    }
}

#[async_trait]
impl ResourceStore for MemoryStore {
    async fn insert(&self, resource: ProtectedResource) -> Result<(), StoreError> {
        let mut resources = lock(&self.resources);
        if resources.contains_key(&resource.uri) {
            return Err(StoreError::Conflict(format!("resource {}", resource.uri)));
        }
        resources.insert(resource.uri.clone(), resource);
        Ok(())
    }

    async fn list(&self) -> Result<Vec<ProtectedResource>, StoreError> {
        Ok(lock(&self.resources).values().cloned().collect())
    }

    async fn delete(&self, uri: &Resource) -> Result<bool, StoreError> {
        Ok(lock(&self.resources).remove(uri).is_some())
    }
}

#[async_trait]
impl AccessTokenStore for MemoryStore {
    async fn insert(
        &self,
        digest: SecretDigest,
        claims: AccessTokenClaims,
        limit: usize,
    ) -> Result<(), StoreError> {
        let mut tokens = lock(&self.tokens);
        let owned = tokens
            .by_client
            .entry(claims.client_id.clone())
            .or_default();
        if owned.len() >= limit {
            return Err(StoreError::limit_reached(
                &claims.client_id,
                "opaque tokens",
                limit,
            ));
        }
        owned.insert(digest);
        let record = StoredAccessToken {
            claims,
            revoked: false,
        };
        tokens.by_digest.insert(digest, record);
        Ok(())
    }

    async fn get(&self, digest: &SecretDigest) -> Result<Option<StoredAccessToken>, StoreError> {
        Ok(lock(&self.tokens).by_digest.get(digest).cloned())
    }

    async fn revoke(&self, digest: &SecretDigest) -> Result<bool, StoreError> {
        Ok(lock(&self.tokens)
            .by_digest
            .get_mut(digest)
            .map(|t| t.revoked = true)
            .is_some())
    }

    async fn delete_client_tokens(&self, client_id: &str) -> Result<usize, StoreError> {
        let mut tokens = lock(&self.tokens);
        let owned = tokens.by_client.remove(client_id).unwrap_or_default();
        for digest in &owned {
            tokens.by_digest.remove(digest);
        }
        Ok(owned.len())
    }

    async fn count_client_tokens(&self, client_id: &str) -> Result<usize, StoreError> {
        Ok(lock(&self.tokens)
            .by_client
            .get(client_id)
            .map_or(0, BTreeSet::len))
    }

    async fn purge_expired(&self, cutoff: UnixTime) -> Result<usize, StoreError> {
        let mut tokens = lock(&self.tokens);
        let expired: Vec<(SecretDigest, String)> = tokens
            .by_digest
            .iter()
            .filter(|(_, t)| t.claims.exp < cutoff)
            .map(|(d, t)| (*d, t.claims.client_id.clone()))
            .collect();
        for (digest, client_id) in &expired {
            tokens.by_digest.remove(digest);
            if let Some(owned) = tokens.by_client.get_mut(client_id) {
                owned.remove(digest);
            }
        }
        tokens.by_client.retain(|_, owned| !owned.is_empty());
        Ok(expired.len())
    }
}

#[async_trait]
impl RevocationStore for MemoryStore {
    async fn revoke_many(&self, revoked: Vec<(String, UnixTime)>) -> Result<(), StoreError> {
        let mut by_jti = lock(&self.revoked);
        for (jti, exp) in revoked {
            // A jti revoked already keeps the later expiry.
            let kept = by_jti.by_jti.entry(jti).or_insert(exp);
            *kept = (*kept).max(exp);
        }
        Ok(())
    }

    async fn revoke_owned(
        &self,
        client_id: &str,
        jti: &str,
        exp: UnixTime,
        limit: usize,
    ) -> Result<(), StoreError> {
        let mut revoked = lock(&self.revoked);
        // Revoked already (by this client, another or the operator): nothing changes.
        if revoked.by_jti.contains_key(jti) {
            return Ok(());
        }
        let owned = revoked.by_client.entry(client_id.to_owned()).or_default();
        if owned.len() >= limit {
            return Err(StoreError::limit_reached(
                client_id,
                "outstanding revocations",
                limit,
            ));
        }
        owned.insert(jti.to_owned());
        revoked.by_jti.insert(jti.to_owned(), exp);
        Ok(())
    }

    async fn live_page(
        &self,
        cutoff: UnixTime,
        after: Option<String>,
        limit: usize,
    ) -> Result<Vec<(String, UnixTime)>, StoreError> {
        let revoked = lock(&self.revoked);
        let mut live: Vec<(String, UnixTime)> = revoked
            .by_jti
            .iter()
            .filter(|(jti, exp)| **exp >= cutoff && after.as_ref().is_none_or(|a| *jti > a))
            .map(|(j, e)| (j.clone(), *e))
            .collect();
        live.sort();
        live.truncate(limit);
        Ok(live)
    }

    async fn purge_expired(&self, cutoff: UnixTime) -> Result<usize, StoreError> {
        let mut revoked = lock(&self.revoked);
        let before = revoked.by_jti.len();
        revoked.by_jti.retain(|_, exp| *exp >= cutoff);
        let Revoked { by_jti, by_client } = &mut *revoked;
        for owned in by_client.values_mut() {
            owned.retain(|jti| by_jti.contains_key(jti));
        }
        by_client.retain(|_, owned| !owned.is_empty());
        Ok(before - by_jti.len())
    }
}

#[async_trait]
impl KeyStore for MemoryStore {
    async fn put(&self, key: KeyRecord) -> Result<(), StoreError> {
        let mut keys = lock(&self.keys);
        keys.retain(|k| k.kid != key.kid);
        keys.push(key);
        keys.sort_by_key(|k| k.created_at);
        Ok(())
    }

    async fn list(&self) -> Result<Vec<KeyRecord>, StoreError> {
        Ok(lock(&self.keys).clone())
    }

    async fn delete(&self, kid: &str) -> Result<bool, StoreError> {
        let mut keys = lock(&self.keys);
        let before = keys.len();
        keys.retain(|k| k.kid != kid);
        Ok(keys.len() != before)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::suite;

    #[tokio::test]
    async fn the_store_suite() {
        suite::clients(&MemoryStore::default()).await;
        suite::resources(&MemoryStore::default()).await;
        suite::access_tokens(&MemoryStore::default()).await;
        suite::revocations(&MemoryStore::default()).await;
        suite::keys(&MemoryStore::default()).await;
        suite::users(&MemoryStore::default()).await;
        suite::sessions(&MemoryStore::default()).await;
        suite::consents(&MemoryStore::default()).await;
        suite::codes(&MemoryStore::default()).await;
        suite::refresh_tokens(&MemoryStore::default()).await;
        suite::par(&MemoryStore::default()).await;
        suite::secrets(&MemoryStore::default()).await;
        suite::replay(&MemoryStore::default()).await;
        suite::devices(&MemoryStore::default()).await;
    }
}
