//! The signing keys' lifecycle, the same over any [`KeyBackend`] (software or HSM).
//!
//! A key is `next` (published in the JWKS, not yet signing), then `active` (signing), then
//! `retired` (published until every token it signed has expired), then removed (and, if
//! configured, destroyed in the HSM). [`KeyManager::tick`] follows the schedule;
//! [`KeyManager::rotate`] forces a rotation. After every change the validator's key snapshot is
//! swapped first and the signing ring second, so no token is ever signed by a key the
//! validator does not know, and a key is in the JWKS before it signs.
//!
//! Backend calls block (an HSM round trip): they run on the blocking pool.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use gatehouse_core::store::{KeyRecord, KeyState, KeyStore, StoreError};
use gatehouse_signer::key::KeyError;
use gatehouse_signer::{Generated, KeyBackend, KeyRef, KeyRing, SigningKey, SoftwareBackend};
use gatehouse_token::{Algorithm, UnixTime};
use gatehouse_validator::keys::BadKey;
use gatehouse_validator::{KeySnapshot, Validator};

use crate::config::Schedule;

/// Why a key operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// The key store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The backend failed.
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
    /// Keys are provisioned in the HSM by label; Gatehouse does not rotate them.
    #[error(
        "the signing key is provisioned in the HSM ({0}); rotate it there and change signing.pkcs11.key_label or key_id"
    )]
    Provisioned(KeyRef),
}

/// What the manager is built from.
#[derive(Debug)]
pub struct KeySettings {
    /// The algorithm of generated keys.
    pub algorithm: Algorithm,
    /// When keys rotate.
    pub schedule: Schedule,
    /// A key provisioned beforehand, by label or id (rotation is then the security team's job).
    pub provisioned: Option<KeyRef>,
    /// Whether retired keys are destroyed in the backend when they leave the JWKS.
    pub destroy_retired: bool,
}

/// Owns the key ring.
pub struct KeyManager {
    parts: Parts,
    ring: ArcSwap<KeyRing>,
    /// Serialises changes (rotation, schedule, pruning).
    changes: tokio::sync::Mutex<()>,
}

/// Everything but the ring: what building a ring needs.
struct Parts {
    store: Arc<dyn KeyStore>,
    backend: Arc<dyn KeyBackend>,
    validator: Arc<Validator>,
    settings: KeySettings,
    /// Keys loaded from the backend, by kid, so a republish costs no HSM round trip.
    loaded: Mutex<HashMap<String, Arc<dyn SigningKey>>>,
}

impl std::fmt::Debug for KeyManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyManager")
            .field("active", &self.ring.load().active().kid())
            .field("backend", &self.parts.backend.name())
            .field("settings", &self.parts.settings)
            .finish_non_exhaustive()
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, KeyError> + Send + 'static,
) -> Result<T, KeysError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| KeysError::Key(KeyError::Unavailable(format!("key task failed: {e}"))))?
        .map_err(KeysError::Key)
}

fn record_of(
    generated: &Generated,
    alg: Algorithm,
    backend: &str,
    state: KeyState,
    now: UnixTime,
) -> KeyRecord {
    KeyRecord {
        kid: generated.key.kid().to_owned(),
        alg,
        backend: backend.to_owned(),
        material: generated.material.clone(),
        state,
        created_at: now,
        activated_at: (state == KeyState::Active).then_some(now),
        retired_at: None,
        publish_until: None,
    }
}

fn retire(record: &mut KeyRecord, now: UnixTime, retain: u64) {
    record.state = KeyState::Retired;
    record.retired_at = Some(now);
    record.publish_until = Some(now.plus(retain));
}

fn find(records: &[KeyRecord], state: KeyState) -> Option<&KeyRecord> {
    records
        .iter()
        .filter(|r| r.state == state)
        .max_by_key(|r| r.created_at)
}

impl KeyManager {
    /// Loads the keys; generates the first one (or adopts the provisioned one) when none is
    /// active; settles a store with several active keys (an interrupted rotation) on the newest;
    /// drops retired keys past their publication. `retain`: how long a key retired now must
    /// stay published.
    pub async fn start(
        store: Arc<dyn KeyStore>,
        backend: Arc<dyn KeyBackend>,
        validator: Arc<Validator>,
        settings: KeySettings,
        now: UnixTime,
        retain: u64,
    ) -> Result<Self, KeysError> {
        let mut records = store.list().await?;
        let active = find(&records, KeyState::Active).cloned();
        let adopt = match &settings.provisioned {
            Some(key) => {
                let (b, alg, key) = (backend.clone(), settings.algorithm, key.clone());
                let found = blocking(move || b.find_provisioned(alg, &key)).await?;
                (active.as_ref().map(|a| a.kid.as_str()) != Some(found.key.kid())).then_some(found)
            }
            // No key yet, or the active key is held by another backend than the configured one
            // (e.g. moving from software keys to an HSM): a new key in the configured backend.
            None if active.as_ref().is_none_or(|a| a.backend != backend.name()) => {
                let (b, alg) = (backend.clone(), settings.algorithm);
                Some(blocking(move || b.generate(alg)).await?)
            }
            None => None,
        };
        let keep = match adopt {
            Some(generated) => {
                let record = record_of(
                    &generated,
                    settings.algorithm,
                    backend.name(),
                    KeyState::Active,
                    now,
                );
                tracing::info!(kid = %record.kid, alg = %record.alg, backend = backend.name(), "new active signing key");
                store.put(record.clone()).await?;
                let kid = record.kid.clone();
                records.push(record);
                Some(kid)
            }
            None => active.map(|a| a.kid),
        };
        for record in &mut records {
            if record.state == KeyState::Active && Some(&record.kid) != keep.as_ref() {
                retire(record, now, retain);
                store.put(record.clone()).await?;
            }
        }
        let parts = Parts {
            store,
            backend,
            validator,
            settings,
            loaded: Mutex::default(),
        };
        parts.remove_expired(now).await?;
        let ring = parts.build_ring(now).await?;
        Ok(Self {
            parts,
            ring: ArcSwap::from_pointee(ring),
            changes: tokio::sync::Mutex::new(()),
        })
    }

    /// The current ring.
    pub fn ring(&self) -> Arc<KeyRing> {
        self.ring.load_full()
    }

    /// The backend's name.
    pub fn backend_name(&self) -> &'static str {
        self.parts.backend.name()
    }

    /// Every key record, oldest first.
    pub async fn records(&self) -> Result<Vec<KeyRecord>, KeysError> {
        Ok(self.parts.store.list().await?)
    }

    /// Whether the backend can sign now.
    pub async fn probe(&self) -> Result<(), KeysError> {
        let backend = self.parts.backend.clone();
        blocking(move || backend.probe()).await
    }

    /// Forces a rotation now: the published `next` key if there is one (it is already in every
    /// JWKS), else a new key. The previous key retires, published for `retain` seconds.
    pub async fn rotate(&self, now: UnixTime, retain: u64) -> Result<KeyRecord, KeysError> {
        if let Some(key) = &self.parts.settings.provisioned {
            return Err(KeysError::Provisioned(key.clone()));
        }
        let _serial = self.changes.lock().await;
        let records = self.parts.store.list().await?;
        let next = match find(&records, KeyState::Next) {
            Some(next) => next.clone(),
            None => {
                tracing::warn!(
                    "forced rotation without a pre-published key: resource servers that cache the JWKS may not know the new key until they refresh"
                );
                self.generate(KeyState::Next, now).await?
            }
        };
        let promoted = self.promote(records, next, now, retain).await?;
        self.publish(now).await?;
        Ok(promoted)
    }

    /// Follows the schedule: publishes the next key `prepublish` before the active key's period
    /// ends, promotes it when the period ends, and prunes retired keys. Whether any key changed.
    pub async fn tick(&self, now: UnixTime, retain: u64) -> Result<bool, KeysError> {
        let mut changed = false;
        if let (None, Some(period)) = (
            &self.parts.settings.provisioned,
            self.parts.settings.schedule.rotation_period,
        ) {
            let _serial = self.changes.lock().await;
            let records = self.parts.store.list().await?;
            let active_since = find(&records, KeyState::Active).and_then(|r| r.activated_at);
            if let Some(since) = active_since {
                let next = find(&records, KeyState::Next).cloned();
                let prepublish = self.parts.settings.schedule.prepublish;
                match next {
                    None if now >= since.plus(period.saturating_sub(prepublish)) => {
                        let record = self.generate(KeyState::Next, now).await?;
                        tracing::info!(kid = %record.kid, "published the next signing key");
                        self.publish(now).await?;
                        changed = true;
                    }
                    Some(next)
                        if now >= since.plus(period) && now >= next.created_at.plus(prepublish) =>
                    {
                        let promoted = self.promote(records, next, now, retain).await?;
                        tracing::info!(kid = %promoted.kid, "scheduled rotation: the next key is now active");
                        self.publish(now).await?;
                        changed = true;
                    }
                    _ => {}
                }
            }
        }
        Ok(self.prune(now).await? > 0 || changed)
    }

    /// Removes retired keys whose tokens have all expired (destroying them in the backend if
    /// configured), then republishes.
    pub async fn prune(&self, now: UnixTime) -> Result<usize, KeysError> {
        let _serial = self.changes.lock().await;
        let pruned = self.parts.remove_expired(now).await?;
        self.publish(now).await?;
        Ok(pruned)
    }

    /// Rebuilds the ring from the store: the validator's snapshot is swapped first (inside
    /// `build_ring`), the signing ring second.
    async fn publish(&self, now: UnixTime) -> Result<(), KeysError> {
        let ring = self.parts.build_ring(now).await?;
        self.ring.store(Arc::new(ring));
        Ok(())
    }

    async fn generate(&self, state: KeyState, now: UnixTime) -> Result<KeyRecord, KeysError> {
        self.parts.generate(state, now).await
    }

    async fn promote(
        &self,
        records: Vec<KeyRecord>,
        next: KeyRecord,
        now: UnixTime,
        retain: u64,
    ) -> Result<KeyRecord, KeysError> {
        self.parts.promote(records, next, now, retain).await
    }
}

impl Parts {
    async fn remove_expired(&self, now: UnixTime) -> Result<usize, KeysError> {
        let mut pruned = 0;
        for record in self.store.list().await? {
            if record.state == KeyState::Retired && record.publish_until.is_some_and(|t| t < now) {
                if self.settings.destroy_retired && record.backend == self.backend.name() {
                    let (backend, material) = (self.backend.clone(), record.material.clone());
                    blocking(move || backend.destroy(&material)).await?;
                }
                self.store.delete(&record.kid).await?;
                self.loaded
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .remove(&record.kid);
                tracing::info!(kid = %record.kid, destroyed = self.settings.destroy_retired, "removed a retired key from the JWKS");
                pruned += 1;
            }
        }
        Ok(pruned)
    }

    async fn generate(&self, state: KeyState, now: UnixTime) -> Result<KeyRecord, KeysError> {
        let (backend, alg) = (self.backend.clone(), self.settings.algorithm);
        let generated = blocking(move || backend.generate(alg)).await?;
        let record = record_of(&generated, alg, self.backend.name(), state, now);
        self.store.put(record.clone()).await?;
        self.cache(&record.kid, generated.key);
        Ok(record)
    }

    /// Makes `next` active and retires the current active key. The new key is written first: a
    /// crash between the writes leaves two active keys, which `start` settles.
    async fn promote(
        &self,
        records: Vec<KeyRecord>,
        mut next: KeyRecord,
        now: UnixTime,
        retain: u64,
    ) -> Result<KeyRecord, KeysError> {
        next.state = KeyState::Active;
        next.activated_at = Some(now);
        self.store.put(next.clone()).await?;
        for mut old in records {
            if old.state == KeyState::Active && old.kid != next.kid {
                retire(&mut old, now, retain);
                self.store.put(old).await?;
            }
        }
        tracing::info!(kid = %next.kid, alg = %next.alg, "rotated the signing key");
        Ok(next)
    }

    fn cache(&self, kid: &str, key: Arc<dyn SigningKey>) {
        self.loaded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(kid.to_owned(), key);
    }

    async fn load(&self, record: &KeyRecord) -> Result<Arc<dyn SigningKey>, KeysError> {
        let cached = self
            .loaded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&record.kid)
            .cloned();
        if let Some(key) = cached {
            return Ok(key);
        }
        // A retired software key (from before a move to an HSM) still verifies its tokens: its
        // public half comes from the stored material. Keys of any other backend need it.
        let backend: Arc<dyn KeyBackend> = if record.backend == self.backend.name() {
            self.backend.clone()
        } else if record.backend == SoftwareBackend.name() && record.state == KeyState::Retired {
            Arc::new(SoftwareBackend)
        } else {
            return Err(KeysError::Record {
                kid: record.kid.clone(),
                reason: format!(
                    "held by the {} backend, but signing.backend is {}",
                    record.backend,
                    self.backend.name()
                ),
            });
        };
        let (alg, material) = (record.alg, record.material.clone());
        let key = blocking(move || backend.load(alg, &material)).await?;
        if key.kid() != record.kid {
            return Err(KeysError::Record {
                kid: record.kid.clone(),
                reason: format!("the backend's key has kid {}", key.kid()),
            });
        }
        self.cache(&record.kid, key.clone());
        Ok(key)
    }

    /// The ring the store describes now; swaps the validator's snapshot to match before
    /// returning, so the ring's keys are known to the validator before anything signs with them.
    async fn build_ring(&self, now: UnixTime) -> Result<KeyRing, KeysError> {
        let records = self.store.list().await?;
        let mut active = None;
        let mut others = Vec::new();
        for record in records.iter().rev() {
            let live = record.publish_until.is_none_or(|t| t >= now);
            match record.state {
                KeyState::Active if active.is_none() => active = Some(self.load(record).await?),
                _ if live => others.push(self.load(record).await?),
                _ => {}
            }
        }
        let active = active.ok_or_else(|| KeysError::Record {
            kid: String::new(),
            reason: "no active key in the store".into(),
        })?;
        let ring = KeyRing::new(active, others);
        self.validator
            .swap_keys(KeySnapshot::from_jwks(&ring.jwks())?);
        Ok(ring)
    }
}

#[cfg(test)]
mod tests {
    use gatehouse_core::memory::MemoryStore;
    use gatehouse_signer::SoftwareBackend;
    use gatehouse_validator::Policy;

    use super::*;

    const DAY: u64 = 86_400;

    fn validator() -> Arc<Validator> {
        Arc::new(Validator::new(
            Policy::for_issuer("https://as"),
            KeySnapshot::default(),
        ))
    }

    fn settings(period: Option<u64>) -> KeySettings {
        KeySettings {
            algorithm: Algorithm::ES256,
            schedule: Schedule {
                rotation_period: period,
                prepublish: 3600,
                retention: 0,
            },
            provisioned: None,
            destroy_retired: false,
        }
    }

    async fn manager(
        store: Arc<dyn KeyStore>,
        v: Arc<Validator>,
        period: Option<u64>,
        now: u64,
    ) -> KeyManager {
        KeyManager::start(
            store,
            Arc::new(SoftwareBackend),
            v,
            settings(period),
            UnixTime(now),
            100,
        )
        .await
        .unwrap()
    }

    fn kids(m: &KeyManager) -> Vec<String> {
        m.ring().jwks().keys.into_iter().map(|k| k.kid).collect()
    }

    #[tokio::test]
    async fn first_start_generates_and_second_start_reuses() {
        let store: Arc<dyn KeyStore> = Arc::new(MemoryStore::default());
        let v = validator();
        let m = manager(store.clone(), v.clone(), None, 10).await;
        let kid = m.ring().active().kid().to_owned();
        assert_eq!(v.keys().len(), 1);
        let again = manager(store, validator(), None, 20).await;
        assert_eq!(again.ring().active().kid(), kid);
    }

    #[tokio::test]
    async fn forced_rotation_keeps_the_old_key_published_until_its_tokens_expire() {
        let store: Arc<dyn KeyStore> = Arc::new(MemoryStore::default());
        let v = validator();
        let m = manager(store.clone(), v.clone(), None, 10).await;
        let old = m.ring().active().kid().to_owned();
        let new = m.rotate(UnixTime(50), 100).await.unwrap();
        assert_eq!(m.ring().active().kid(), new.kid);
        assert_eq!(kids(&m), [new.kid.clone(), old.clone()]);
        assert!(v.keys().get(&old).is_some());
        assert_eq!(
            m.prune(UnixTime(150)).await.unwrap(),
            0,
            "still within retention"
        );
        assert_eq!(m.prune(UnixTime(151)).await.unwrap(), 1);
        assert!(v.keys().get(&old).is_none());
        assert_eq!(kids(&m), [new.kid]);
    }

    #[tokio::test]
    async fn the_schedule_prepublishes_then_promotes_then_prunes() {
        let store: Arc<dyn KeyStore> = Arc::new(MemoryStore::default());
        let v = validator();
        let start = 1_000_000;
        let m = manager(store.clone(), v.clone(), Some(30 * DAY), start).await;
        let first = m.ring().active().kid().to_owned();

        m.tick(UnixTime(start + 30 * DAY - 3601), 100)
            .await
            .unwrap();
        assert_eq!(kids(&m).len(), 1, "too early for the next key");

        let t_next = start + 30 * DAY - 3600;
        m.tick(UnixTime(t_next), 100).await.unwrap();
        let published = kids(&m);
        assert_eq!(published.len(), 2, "the next key is published");
        assert_eq!(m.ring().active().kid(), first, "but does not sign yet");
        let next = published.into_iter().find(|k| *k != first).unwrap();
        assert!(
            v.keys().get(&next).is_some(),
            "the validator knows it before it signs"
        );

        m.tick(UnixTime(start + 30 * DAY), 100).await.unwrap();
        assert_eq!(
            m.ring().active().kid(),
            next,
            "promoted when the period ends"
        );
        assert_eq!(
            kids(&m),
            [next.clone(), first.clone()],
            "the old key stays published"
        );

        m.tick(UnixTime(start + 30 * DAY + 101), 100).await.unwrap();
        assert_eq!(kids(&m), [next], "removed once its tokens expired");
    }

    #[tokio::test]
    async fn forced_rotation_uses_the_prepublished_key() {
        let store: Arc<dyn KeyStore> = Arc::new(MemoryStore::default());
        let m = manager(store, validator(), Some(10 * DAY), 0).await;
        m.tick(UnixTime(10 * DAY - 3600), 100).await.unwrap();
        let next = kids(&m)
            .into_iter()
            .find(|k| k != m.ring().active().kid())
            .unwrap();
        let rotated = m.rotate(UnixTime(10 * DAY - 10), 100).await.unwrap();
        assert_eq!(rotated.kid, next);
    }

    /// A stand-in for an HSM: software keys recorded under another backend name, counting what
    /// it is asked to destroy.
    #[derive(Debug, Default)]
    struct OtherBackend(std::sync::Mutex<Vec<String>>);

    impl KeyBackend for OtherBackend {
        fn name(&self) -> &'static str {
            "pkcs11"
        }
        fn generate(&self, alg: Algorithm) -> Result<Generated, KeyError> {
            SoftwareBackend.generate(alg)
        }
        fn load(&self, alg: Algorithm, material: &str) -> Result<Arc<dyn SigningKey>, KeyError> {
            SoftwareBackend.load(alg, material)
        }
        fn destroy(&self, material: &str) -> Result<(), KeyError> {
            self.0.lock().unwrap().push(material.to_owned());
            Ok(())
        }
        fn probe(&self) -> Result<(), KeyError> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn retired_keys_are_destroyed_in_the_backend_only_when_configured() {
        for destroy in [false, true] {
            let store: Arc<dyn KeyStore> = Arc::new(MemoryStore::default());
            let backend = Arc::new(OtherBackend::default());
            let mut s = settings(None);
            s.destroy_retired = destroy;
            let m = KeyManager::start(
                store.clone(),
                backend.clone(),
                validator(),
                s,
                UnixTime(0),
                100,
            )
            .await
            .unwrap();
            let old = store.list().await.unwrap()[0].material.clone();
            m.rotate(UnixTime(10), 100).await.unwrap();
            m.prune(UnixTime(111)).await.unwrap();
            let destroyed = backend.0.lock().unwrap().clone();
            assert_eq!(destroyed, if destroy { vec![old] } else { vec![] });
        }
    }

    #[tokio::test]
    async fn moving_from_software_keys_to_another_backend_keeps_old_tokens_valid() {
        let store: Arc<dyn KeyStore> = Arc::new(MemoryStore::default());
        let software = manager(store.clone(), validator(), None, 10).await;
        let old = software.ring().active().kid().to_owned();
        drop(software);
        let v = validator();
        let moved = KeyManager::start(
            store.clone(),
            Arc::new(OtherBackend::default()),
            v.clone(),
            settings(None),
            UnixTime(20),
            100,
        )
        .await
        .unwrap();
        let new = moved.ring().active().kid().to_owned();
        assert_ne!(new, old);
        assert_eq!(
            moved.ring().active().backend(),
            "software",
            "the stand-in signs with software keys"
        );
        let records = store.list().await.unwrap();
        let state = |kid: &str| {
            records
                .iter()
                .find(|r| r.kid == kid)
                .map(|r| (r.backend.clone(), r.state))
        };
        assert_eq!(state(&new), Some(("pkcs11".into(), KeyState::Active)));
        assert_eq!(state(&old), Some(("software".into(), KeyState::Retired)));
        assert!(
            v.keys().get(&old).is_some(),
            "tokens signed by the software key still validate"
        );
        assert_eq!(
            moved.prune(UnixTime(121)).await.unwrap(),
            1,
            "until they have expired"
        );
    }

    #[tokio::test]
    async fn an_interrupted_rotation_settles_on_the_newest_key() {
        let store: Arc<dyn KeyStore> = Arc::new(MemoryStore::default());
        let make = |t| {
            let g = SoftwareBackend.generate(Algorithm::ES256).unwrap();
            record_of(
                &g,
                Algorithm::ES256,
                "software",
                KeyState::Active,
                UnixTime(t),
            )
        };
        let (a, b) = (make(1), make(2));
        store.put(a).await.unwrap();
        store.put(b.clone()).await.unwrap();
        let m = manager(store.clone(), validator(), None, 3).await;
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
