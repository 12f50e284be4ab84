//! In-memory implementations of the storage traits: the reference for what a store must do, and
//! what unit tests and benchmarks run on. Not durable.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use gatehouse_token::{AccessTokenClaims, TokenDigest, UnixTime};

use crate::client::{Client, ClientId};
use crate::ports::Random;
use crate::store::{
    AccessTokenStore, ClientStore, KeyRecord, KeyStore, RevocationStore, StoreError,
    StoredAccessToken,
};

/// Every store in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    clients: Mutex<BTreeMap<ClientId, Arc<Client>>>,
    tokens: Mutex<HashMap<TokenDigest, StoredAccessToken>>,
    revoked: Mutex<HashMap<String, UnixTime>>,
    keys: Mutex<Vec<KeyRecord>>,
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

    async fn delete(&self, id: &ClientId) -> Result<bool, StoreError> {
        Ok(lock(&self.clients).remove(id).is_some())
    }
}

#[async_trait]
impl AccessTokenStore for MemoryStore {
    async fn insert(
        &self,
        digest: TokenDigest,
        claims: AccessTokenClaims,
    ) -> Result<(), StoreError> {
        let record = StoredAccessToken {
            claims,
            revoked: false,
        };
        lock(&self.tokens).insert(digest, record);
        Ok(())
    }

    async fn get(&self, digest: &TokenDigest) -> Result<Option<StoredAccessToken>, StoreError> {
        Ok(lock(&self.tokens).get(digest).cloned())
    }

    async fn revoke(&self, digest: &TokenDigest) -> Result<bool, StoreError> {
        Ok(lock(&self.tokens)
            .get_mut(digest)
            .map(|t| t.revoked = true)
            .is_some())
    }

    async fn purge_expired(&self, now: UnixTime) -> Result<usize, StoreError> {
        let mut tokens = lock(&self.tokens);
        let before = tokens.len();
        tokens.retain(|_, t| t.claims.exp >= now);
        Ok(before - tokens.len())
    }
}

#[async_trait]
impl RevocationStore for MemoryStore {
    async fn revoke_many(&self, revoked: Vec<(String, UnixTime)>) -> Result<(), StoreError> {
        lock(&self.revoked).extend(revoked);
        Ok(())
    }

    async fn live_page(
        &self,
        now: UnixTime,
        after: Option<String>,
        limit: usize,
    ) -> Result<Vec<(String, UnixTime)>, StoreError> {
        let revoked = lock(&self.revoked);
        let mut live: Vec<(String, UnixTime)> = revoked
            .iter()
            .filter(|(jti, exp)| **exp >= now && after.as_ref().is_none_or(|a| *jti > a))
            .map(|(j, e)| (j.clone(), *e))
            .collect();
        live.sort();
        live.truncate(limit);
        Ok(live)
    }

    async fn purge_expired(&self, now: UnixTime) -> Result<usize, StoreError> {
        let mut revoked = lock(&self.revoked);
        let before = revoked.len();
        revoked.retain(|_, exp| *exp >= now);
        Ok(before - revoked.len())
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

/// A deterministic [`Random`] for tests: each call fills with a new counter value.
/// Never use it outside tests: its output is predictable.
#[derive(Debug, Default)]
pub struct CountingRandom(AtomicU64);

impl Random for CountingRandom {
    fn fill(&self, out: &mut [u8]) {
        let n = self.0.fetch_add(1, Ordering::Relaxed).to_le_bytes();
        for (i, b) in out.iter_mut().enumerate() {
            *b = n[i % 8] ^ (i as u8);
        }
    }
}
