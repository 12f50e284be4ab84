//! The key manager: carries out `core::keys`' rotation plan over a [`KeyBackend`] (software or
//! HSM) and the key store, and keeps the signing ring and the validator's keys in step.
//!
//! Everything decided (when to publish the next key, when to promote it, which records change,
//! when a retired key goes) is `core::keys`; this module generates and loads keys in the backend,
//! writes records, and swaps. After every change the validator's key snapshot is swapped first
//! and the signing ring second, so no token is ever signed by a key the validator does not know,
//! and a key is in the JWKS before it signs.
//!
//! Backend calls block (an HSM round trip): they run on the blocking pool.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use gatehouse_core::keys::{self as plan, Rotation, Step};
use gatehouse_core::store::{KeyRecord, KeyState, KeyStore, StoreError};
use gatehouse_signer::key::KeyError;
use gatehouse_signer::{Generated, KeyBackend, KeyRef, KeyRing, SigningKey, SoftwareBackend};
use gatehouse_token::{Algorithm, BackendKind, UnixTime};
use gatehouse_validator::keys::BadKey;
use gatehouse_validator::{KeySnapshot, Validator};

use crate::config::Schedule;

/// Why a key operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyManagerError {
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

impl KeySettings {
    fn rotation(&self) -> Rotation {
        Rotation {
            period: self.schedule.rotation_period,
            prepublish: self.schedule.prepublish,
        }
    }
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
            .field("backend", &self.parts.backend.kind())
            .field("settings", &self.parts.settings)
            .finish_non_exhaustive()
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, KeyError> + Send + 'static,
) -> Result<T, KeyManagerError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| KeyManagerError::Key(KeyError::Unavailable(format!("key task failed: {e}"))))?
        .map_err(KeyManagerError::Key)
}

fn record_of(
    generated: &Generated,
    alg: Algorithm,
    backend: BackendKind,
    state: KeyState,
    now: UnixTime,
) -> KeyRecord {
    KeyRecord {
        kid: generated.key.kid().to_owned(),
        alg,
        backend,
        material: generated.material.clone(),
        state,
        created_at: now,
        activated_at: (state == KeyState::Active).then_some(now),
        retired_at: None,
        publish_until: None,
    }
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
    ) -> Result<Self, KeyManagerError> {
        let records = store.list().await?;
        let active = plan::newest(&records, KeyState::Active).cloned();
        let adopt = match &settings.provisioned {
            Some(key) => {
                let (b, alg, key) = (backend.clone(), settings.algorithm, key.clone());
                let found = blocking(move || b.find_provisioned(alg, &key)).await?;
                (active.as_ref().map(|a| a.kid.as_str()) != Some(found.key.kid())).then_some(found)
            }
            // No key yet, or the active key is held by another backend than the configured one
            // (e.g. moving from software keys to an HSM): a new key in the configured backend.
            None if active.as_ref().is_none_or(|a| a.backend != backend.kind()) => {
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
                    backend.kind(),
                    KeyState::Active,
                    now,
                );
                tracing::info!(kid = %record.kid, alg = %record.alg, backend = %backend.kind(), "new active signing key");
                store.put(record.clone()).await?;
                Some(record.kid)
            }
            None => active.map(|a| a.kid),
        };
        if let Some(keep) = &keep {
            for retired in plan::settle(&records, keep, now, retain) {
                store.put(retired).await?;
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

    /// The kind of backend keys are generated in.
    pub fn backend_kind(&self) -> BackendKind {
        self.parts.backend.kind()
    }

    /// Every key record, oldest first.
    pub async fn records(&self) -> Result<Vec<KeyRecord>, KeyManagerError> {
        Ok(self.parts.store.list().await?)
    }

    /// Whether the backend can sign now.
    pub async fn probe(&self) -> Result<(), KeyManagerError> {
        let backend = self.parts.backend.clone();
        blocking(move || backend.probe()).await
    }

    /// Forces a rotation now: the published `next` key if there is one (it is already in every
    /// JWKS), else a new key. The previous key retires, published for `retain` seconds.
    pub async fn rotate(&self, now: UnixTime, retain: u64) -> Result<KeyRecord, KeyManagerError> {
        if let Some(key) = &self.parts.settings.provisioned {
            return Err(KeyManagerError::Provisioned(key.clone()));
        }
        let _serial = self.changes.lock().await;
        let records = self.parts.store.list().await?;
        let next = match plan::newest(&records, KeyState::Next) {
            Some(next) => next.clone(),
            None => {
                tracing::warn!(
                    "forced rotation without a pre-published key: resource servers that cache the JWKS may not know the new key until they refresh"
                );
                self.parts.generate(KeyState::Next, now).await?
            }
        };
        let promoted = self.parts.promote(&records, &next, now, retain).await?;
        self.publish(now).await?;
        Ok(promoted)
    }

    /// Carries out what the schedule asks for at `now` (publish the next key, promote it, remove
    /// retired keys); whether any key changed.
    pub async fn tick(&self, now: UnixTime, retain: u64) -> Result<bool, KeyManagerError> {
        let _serial = self.changes.lock().await;
        let records = self.parts.store.list().await?;
        let mut rotation = self.parts.settings.rotation();
        if self.parts.settings.provisioned.is_some() {
            // A provisioned key is rotated by the security team, never here.
            rotation.period = None;
        }
        let steps = plan::plan(&records, now, &rotation);
        for step in &steps {
            match step {
                Step::PublishNext => {
                    let record = self.parts.generate(KeyState::Next, now).await?;
                    tracing::info!(kid = %record.kid, "published the next signing key");
                }
                Step::Promote(kid) => {
                    if let Some(next) = records.iter().find(|r| &r.kid == kid) {
                        let promoted = self.parts.promote(&records, next, now, retain).await?;
                        tracing::info!(kid = %promoted.kid, "scheduled rotation: the next key is now active");
                    }
                }
                Step::Remove(kid) => {
                    if let Some(record) = records.iter().find(|r| &r.kid == kid) {
                        self.parts.remove(record).await?;
                    }
                }
            }
        }
        if !steps.is_empty() {
            self.publish(now).await?;
        }
        Ok(!steps.is_empty())
    }

    /// Removes retired keys whose tokens have all expired (destroying them in the backend if
    /// configured), then republishes; how many.
    pub async fn prune(&self, now: UnixTime) -> Result<usize, KeyManagerError> {
        let _serial = self.changes.lock().await;
        let pruned = self.parts.remove_expired(now).await?;
        self.publish(now).await?;
        Ok(pruned)
    }

    /// Rebuilds the ring from the store: the validator's snapshot is swapped first (inside
    /// `build_ring`), the signing ring second.
    async fn publish(&self, now: UnixTime) -> Result<(), KeyManagerError> {
        let ring = self.parts.build_ring(now).await?;
        self.ring.store(Arc::new(ring));
        Ok(())
    }
}

impl Parts {
    async fn remove_expired(&self, now: UnixTime) -> Result<usize, KeyManagerError> {
        let records = self.store.list().await?;
        let mut pruned = 0;
        for step in plan::plan(
            &records,
            now,
            &Rotation {
                period: None,
                prepublish: 0,
            },
        ) {
            if let Step::Remove(kid) = step {
                if let Some(record) = records.iter().find(|r| r.kid == kid) {
                    self.remove(record).await?;
                    pruned += 1;
                }
            }
        }
        Ok(pruned)
    }

    /// Removes a retired key from the store (and the backend, if configured).
    async fn remove(&self, record: &KeyRecord) -> Result<(), KeyManagerError> {
        if self.settings.destroy_retired && record.backend == self.backend.kind() {
            let (backend, material) = (self.backend.clone(), record.material.clone());
            blocking(move || backend.destroy(&material)).await?;
        }
        self.store.delete(&record.kid).await?;
        self.loaded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&record.kid);
        tracing::info!(kid = %record.kid, destroyed = self.settings.destroy_retired, "removed a retired key from the JWKS");
        Ok(())
    }

    async fn generate(&self, state: KeyState, now: UnixTime) -> Result<KeyRecord, KeyManagerError> {
        let (backend, alg) = (self.backend.clone(), self.settings.algorithm);
        let generated = blocking(move || backend.generate(alg)).await?;
        let record = record_of(&generated, alg, self.backend.kind(), state, now);
        self.store.put(record.clone()).await?;
        self.cache(&record.kid, generated.key);
        Ok(record)
    }

    /// Writes what promoting `next` changes, the new active key first.
    async fn promote(
        &self,
        records: &[KeyRecord],
        next: &KeyRecord,
        now: UnixTime,
        retain: u64,
    ) -> Result<KeyRecord, KeyManagerError> {
        let writes = plan::promote(records, next, now, retain);
        let promoted = writes[0].clone();
        for record in writes {
            self.store.put(record).await?;
        }
        tracing::info!(kid = %promoted.kid, alg = %promoted.alg, "rotated the signing key");
        Ok(promoted)
    }

    fn cache(&self, kid: &str, key: Arc<dyn SigningKey>) {
        self.loaded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(kid.to_owned(), key);
    }

    async fn load(&self, record: &KeyRecord) -> Result<Arc<dyn SigningKey>, KeyManagerError> {
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
        let backend: Arc<dyn KeyBackend> = if record.backend == self.backend.kind() {
            self.backend.clone()
        } else if record.backend == BackendKind::Software && record.state == KeyState::Retired {
            Arc::new(SoftwareBackend)
        } else {
            return Err(KeyManagerError::Record {
                kid: record.kid.clone(),
                reason: format!(
                    "held by the {} backend, but signing.backend is {}",
                    record.backend,
                    self.backend.kind()
                ),
            });
        };
        let (alg, material) = (record.alg, record.material.clone());
        let key = blocking(move || backend.load(alg, &material)).await?;
        if key.kid() != record.kid {
            return Err(KeyManagerError::Record {
                kid: record.kid.clone(),
                reason: format!("the backend's key has kid {}", key.kid()),
            });
        }
        self.cache(&record.kid, key.clone());
        Ok(key)
    }

    /// The ring the store describes now; swaps the validator's snapshot to match before
    /// returning, so the ring's keys are known to the validator before anything signs with them.
    async fn build_ring(&self, now: UnixTime) -> Result<KeyRing, KeyManagerError> {
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
        let active = active.ok_or_else(|| KeyManagerError::Record {
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
mod tests;
