//! The key manager carrying out the rotation plan over a store and a backend: first start,
//! forced and scheduled rotations, pruning, destruction, moving between backends.

use gatehouse_core::memory::MemoryStore;
use gatehouse_signer::SoftwareBackend;
use gatehouse_validator::Policy;

use gatehouse_token::BackendKind;

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
    fn kind(&self) -> BackendKind {
        BackendKind::Pkcs11
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
        BackendKind::Software,
        "the stand-in signs with software keys"
    );
    let records = store.list().await.unwrap();
    let state = |kid: &str| {
        records
            .iter()
            .find(|r| r.kid == kid)
            .map(|r| (r.backend, r.state))
    };
    assert_eq!(state(&new), Some((BackendKind::Pkcs11, KeyState::Active)));
    assert_eq!(
        state(&old),
        Some((BackendKind::Software, KeyState::Retired))
    );
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
            BackendKind::Software,
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
