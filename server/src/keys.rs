//! The signing keys' lifecycle: load them from the store at start (generating the first one),
//! rotate on demand, drop retired keys once every token they signed has expired. After every
//! change the key ring and the validator's key snapshot are swapped atomically, the validator
//! first, so a token is never signed by a key the validator does not know.

use std::sync::Arc;

use arc_swap::ArcSwap;
use gatehouse_core::store::{KeyRecord, KeyState, KeyStore, StoreError};
use gatehouse_signer::key::KeyError;
use gatehouse_signer::{KeyRing, SigningKey, SoftwareKey};
use gatehouse_token::{Algorithm, UnixTime, b64};
use gatehouse_validator::keys::BadKey;
use gatehouse_validator::{KeySnapshot, Validator};

/// Why a key operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// The key store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A key could not be made or loaded.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A stored record is unusable.
    #[error("key {kid}: {reason}")]
    Record {
        /// The key.
        kid: String,
        /// What is wrong.
        reason: String,
    },
    /// A published key was refused by the validator.
    #[error(transparent)]
    Published(#[from] BadKey),
}

/// Owns the key ring.
pub struct KeyManager {
    store: Arc<dyn KeyStore>,
    ring: ArcSwap<KeyRing>,
    validator: Arc<Validator>,
    algorithm: Algorithm,
    changes: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for KeyManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyManager")
            .field("active", &self.ring.load().active().kid())
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

fn load_key(record: &KeyRecord) -> Result<Arc<dyn SigningKey>, KeysError> {
    let bad = |reason: String| KeysError::Record {
        kid: record.kid.clone(),
        reason,
    };
    match record.backend.as_str() {
        "software" => {
            let pkcs8 = b64::decode(&record.material).map_err(|e| bad(e.to_string()))?;
            let key = SoftwareKey::from_pkcs8(record.alg, &pkcs8)?;
            if key.kid() != record.kid {
                return Err(bad("material does not match the kid".into()));
            }
            Ok(Arc::new(key))
        }
        other => Err(bad(format!(
            "backend {other:?} is not available in this build"
        ))),
    }
}

fn new_record(alg: Algorithm, now: UnixTime) -> Result<KeyRecord, KeysError> {
    let key = SoftwareKey::generate(alg)?;
    Ok(KeyRecord {
        kid: key.kid().to_owned(),
        alg,
        backend: key.backend().to_owned(),
        material: b64::encode(key.pkcs8()),
        state: KeyState::Active,
        created_at: now,
        activated_at: Some(now),
        retired_at: None,
        publish_until: None,
    })
}

impl KeyManager {
    /// Loads the keys, generating the first one if there is none; settles a store with more
    /// than one active key (an interrupted rotation) by keeping the newest active; drops
    /// retired keys past their publication time. `retain` is how long a retired key stays
    /// published: the longest token lifetime plus leeway.
    pub async fn start(
        store: Arc<dyn KeyStore>,
        validator: Arc<Validator>,
        algorithm: Algorithm,
        now: UnixTime,
        retain: u64,
    ) -> Result<Self, KeysError> {
        let mut records = store.list().await?;
        if !records.iter().any(|r| r.state == KeyState::Active) {
            let record = new_record(algorithm, now)?;
            tracing::info!(kid = %record.kid, alg = %algorithm, "generated the first signing key");
            store.put(record.clone()).await?;
            records.push(record);
        }
        let newest_active = records
            .iter()
            .filter(|r| r.state == KeyState::Active)
            .max_by_key(|r| r.created_at)
            .map(|r| r.kid.clone());
        for record in &mut records {
            if record.state == KeyState::Active && Some(&record.kid) != newest_active.as_ref() {
                retire(record, now, retain);
                store.put(record.clone()).await?;
            }
        }
        let first = records.first().map(load_key).transpose()?;
        let Some(first) = first else {
            return Err(KeysError::Record {
                kid: String::new(),
                reason: "no key".into(),
            });
        };
        let manager = Self {
            store,
            ring: ArcSwap::from_pointee(KeyRing::new(first, vec![])),
            validator,
            algorithm,
            changes: tokio::sync::Mutex::new(()),
        };
        manager.prune(now).await?;
        Ok(manager)
    }

    /// The current ring.
    pub fn ring(&self) -> Arc<KeyRing> {
        self.ring.load_full()
    }

    /// Every key record, oldest first.
    pub async fn records(&self) -> Result<Vec<KeyRecord>, KeysError> {
        Ok(self.store.list().await?)
    }

    /// Makes a new key active now and retires the current one, keeping it published for `retain`
    /// seconds. Returns the new key's record.
    pub async fn rotate(&self, now: UnixTime, retain: u64) -> Result<KeyRecord, KeysError> {
        let _serial = self.changes.lock().await;
        let record = new_record(self.algorithm, now)?;
        // New key first: a crash between the writes leaves two active keys, which `start` settles.
        self.store.put(record.clone()).await?;
        for mut old in self.store.list().await? {
            if old.state == KeyState::Active && old.kid != record.kid {
                retire(&mut old, now, retain);
                self.store.put(old).await?;
            }
        }
        self.publish(now).await?;
        tracing::info!(kid = %record.kid, alg = %record.alg, "rotated the signing key");
        Ok(record)
    }

    /// Deletes retired keys whose tokens have all expired, then republishes.
    pub async fn prune(&self, now: UnixTime) -> Result<usize, KeysError> {
        let _serial = self.changes.lock().await;
        let mut pruned = 0;
        for record in self.store.list().await? {
            if record.state == KeyState::Retired && record.publish_until.is_some_and(|t| t < now) {
                self.store.delete(&record.kid).await?;
                tracing::info!(kid = %record.kid, "removed a retired key from the JWKS");
                pruned += 1;
            }
        }
        self.publish(now).await?;
        Ok(pruned)
    }

    /// Builds the ring from the store and swaps it in: validator snapshot first, then the ring.
    async fn publish(&self, now: UnixTime) -> Result<(), KeysError> {
        let records = self.store.list().await?;
        let mut active = None;
        let mut retired = Vec::new();
        for record in records.iter().rev() {
            let live = record.publish_until.is_none_or(|t| t >= now);
            match record.state {
                KeyState::Active if active.is_none() => active = Some(load_key(record)?),
                _ if live => retired.push(load_key(record)?),
                _ => {}
            }
        }
        let active = active.ok_or_else(|| KeysError::Record {
            kid: String::new(),
            reason: "no active key in the store".into(),
        })?;
        let ring = KeyRing::new(active, retired);
        self.validator
            .swap_keys(KeySnapshot::from_jwks(&ring.jwks())?);
        self.ring.store(Arc::new(ring));
        Ok(())
    }
}

fn retire(record: &mut KeyRecord, now: UnixTime, retain: u64) {
    record.state = KeyState::Retired;
    record.retired_at = Some(now);
    record.publish_until = Some(now.plus(retain));
}

#[cfg(test)]
mod tests {
    use gatehouse_core::memory::MemoryStore;
    use gatehouse_validator::Policy;

    use super::*;

    fn validator() -> Arc<Validator> {
        Arc::new(Validator::new(
            Policy::for_issuer("https://as"),
            KeySnapshot::default(),
        ))
    }

    #[tokio::test]
    async fn first_start_generates_and_second_start_reuses() {
        let store: Arc<dyn KeyStore> = Arc::new(MemoryStore::default());
        let v = validator();
        let m = KeyManager::start(
            store.clone(),
            v.clone(),
            Algorithm::ES256,
            UnixTime(10),
            100,
        )
        .await
        .unwrap();
        let kid = m.ring().active().kid().to_owned();
        assert_eq!(v.keys().len(), 1);
        let again = KeyManager::start(store, validator(), Algorithm::ES256, UnixTime(20), 100)
            .await
            .unwrap();
        assert_eq!(again.ring().active().kid(), kid);
    }

    #[tokio::test]
    async fn rotation_keeps_the_old_key_published_until_its_tokens_expire() {
        let store: Arc<dyn KeyStore> = Arc::new(MemoryStore::default());
        let v = validator();
        let m = KeyManager::start(
            store.clone(),
            v.clone(),
            Algorithm::ES256,
            UnixTime(10),
            100,
        )
        .await
        .unwrap();
        let old = m.ring().active().kid().to_owned();
        let new = m.rotate(UnixTime(50), 100).await.unwrap();
        assert_eq!(m.ring().active().kid(), new.kid);
        let published: Vec<String> = m.ring().jwks().keys.into_iter().map(|k| k.kid).collect();
        assert_eq!(published, [new.kid.clone(), old.clone()]);
        assert!(v.keys().get(&old).is_some());
        assert_eq!(
            m.prune(UnixTime(150)).await.unwrap(),
            0,
            "still within retention"
        );
        assert_eq!(m.prune(UnixTime(151)).await.unwrap(), 1);
        assert!(v.keys().get(&old).is_none());
        assert_eq!(m.ring().published().len(), 1);
    }

    #[tokio::test]
    async fn an_interrupted_rotation_settles_on_the_newest_key() {
        let store: Arc<dyn KeyStore> = Arc::new(MemoryStore::default());
        let a = new_record(Algorithm::ES256, UnixTime(1)).unwrap();
        let b = new_record(Algorithm::ES256, UnixTime(2)).unwrap();
        store.put(a.clone()).await.unwrap();
        store.put(b.clone()).await.unwrap();
        let m = KeyManager::start(
            store.clone(),
            validator(),
            Algorithm::ES256,
            UnixTime(3),
            100,
        )
        .await
        .unwrap();
        assert_eq!(m.ring().active().kid(), b.kid);
        let states: Vec<KeyState> = store
            .list()
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.state)
            .collect();
        assert_eq!(states, [KeyState::Retired, KeyState::Active]);
    }
}
