//! The changes of users and clients over the in-memory stores: what each ends, what it leaves
//! alone, and that a failed write is an error with nothing ended behind it.

use async_trait::async_trait;
use gatehouse_core::events::InProcessEvents;
use gatehouse_core::memory::MemoryStore;
use gatehouse_core::store::{Consent, RefreshToken, Session};
use gatehouse_core::testing::{ClientBuilder, CountingRandom, FixedClock, user};
use gatehouse_signer::SoftwareBackend;
use gatehouse_token::SecretDigest;
use gatehouse_validator::{KeySnapshot, Policy};

use super::*;
use crate::keys::KeySettings;

const NOW: u64 = 1_000_000;

/// Changes over one memory store, with `users` in place of its user store.
async fn changes(store: &Arc<MemoryStore>, users: Arc<dyn UserStore>) -> Changes {
    let config = Config::load_from(None, Vec::<(String, String)>::new()).unwrap();
    let validator = Arc::new(Validator::new(
        Policy::for_issuer("https://as"),
        KeySnapshot::default(),
    ));
    let settings = KeySettings {
        algorithm: config.signing.algorithm,
        schedule: config.keys,
        provisioned: None,
        destroy_retired: false,
    };
    let keys = KeyManager::start(
        store.clone(),
        Arc::new(SoftwareBackend),
        validator.clone(),
        settings,
        UnixTime(NOW),
        100,
    )
    .await
    .unwrap();
    Changes {
        clients: store.clone(),
        tokens: store.clone(),
        revocations: store.clone(),
        users,
        sessions: store.clone(),
        consents: store.clone(),
        refresh_tokens: store.clone(),
        validator,
        keys: Arc::new(keys),
        events: Arc::new(InProcessEvents::default()),
        clock: Arc::new(FixedClock::at(NOW)),
        config,
    }
}

fn refresh_token(family: &str, client: &ClientId, user: &UserId) -> RefreshToken {
    RefreshToken {
        family: family.to_owned(),
        client_id: client.clone(),
        user: user.clone(),
        scope: "read".parse().unwrap(),
        resources: vec![],
        auth_time: UnixTime(NOW),
        issued_at: UnixTime(NOW),
        idle_expires_at: UnixTime(NOW + 3600),
        expires_at: UnixTime(NOW + 86_400),
        sid: None,
        cnf: None,
    }
}

/// What two users, alice and bob, hold with two clients.
struct World {
    store: Arc<MemoryStore>,
    changes: Changes,
    alice: User,
    bob: User,
    app: ClientId,
    other: ClientId,
}

/// alice: two sessions, a refresh-token family with each client, a consent to each; bob: one
/// session, one family and one consent with `app`.
async fn world_with(users: impl FnOnce(Arc<MemoryStore>) -> Arc<dyn UserStore>) -> World {
    let store = Arc::new(MemoryStore::default());
    let changes = changes(&store, users(store.clone())).await;
    let (alice, bob) = (user("alice"), user("bob"));
    let (app, other) = (ClientBuilder::new().client(), ClientBuilder::new().client());
    for u in [&alice, &bob] {
        UserStore::insert(store.as_ref(), u.clone()).await.unwrap();
    }
    for c in [&app, &other] {
        ClientStore::insert(store.as_ref(), c.clone())
            .await
            .unwrap();
    }
    let session = |u: &User| Session {
        user: u.id.clone(),
        auth_time: UnixTime(NOW),
        expires_at: UnixTime(NOW + 3600),
    };
    for (cookie, u) in [("a1", &alice), ("a2", &alice), ("b1", &bob)] {
        SessionStore::insert(store.as_ref(), SecretDigest::of(cookie), session(u))
            .await
            .unwrap();
    }
    let consent = Consent {
        scope: "read".parse().unwrap(),
        resources: vec![],
        granted_at: UnixTime(NOW),
    };
    for (token, family, client, u) in [
        ("ra1", "fa1", &app.id, &alice),
        ("ra2", "fa2", &other.id, &alice),
        ("rb1", "fb1", &app.id, &bob),
    ] {
        RefreshTokenStore::insert(
            store.as_ref(),
            SecretDigest::of(token),
            refresh_token(family, client, &u.id),
        )
        .await
        .unwrap();
        ConsentStore::put(store.as_ref(), &u.id, client, consent.clone())
            .await
            .unwrap();
    }
    World {
        store,
        changes,
        alice,
        bob,
        app: app.id,
        other: other.id,
    }
}

async fn world() -> World {
    world_with(|store| store).await
}

impl World {
    async fn session_alive(&self, cookie: &str) -> bool {
        SessionStore::get(self.store.as_ref(), &SecretDigest::of(cookie))
            .await
            .unwrap()
            .is_some()
    }

    /// Whether the refresh token is stored and its family not revoked.
    async fn refresh_alive(&self, token: &str) -> bool {
        RefreshTokenStore::get(self.store.as_ref(), &SecretDigest::of(token))
            .await
            .unwrap()
            .is_some_and(|(_, revoked)| !revoked)
    }

    async fn consents(&self, u: &User) -> Vec<ClientId> {
        ConsentStore::list_user(self.store.as_ref(), &u.id)
            .await
            .unwrap()
            .into_iter()
            .map(|(c, _)| c)
            .collect()
    }

    async fn stored(&self, u: &User) -> Option<User> {
        UserStore::get(self.store.as_ref(), &u.username)
            .await
            .unwrap()
    }

    /// bob kept everything.
    async fn assert_bob_untouched(&self) {
        assert!(self.session_alive("b1").await);
        assert!(self.refresh_alive("rb1").await);
        assert_eq!(
            self.consents(&self.bob).await,
            std::slice::from_ref(&self.app)
        );
        assert_eq!(self.stored(&self.bob).await.as_ref(), Some(&self.bob));
    }
}

fn name(text: &str) -> Username {
    Username::new(text).unwrap()
}

#[tokio::test]
async fn a_new_password_signs_the_user_out_everywhere() {
    let w = world().await;
    let hash = PasswordHash::new("another horse", &CountingRandom::default()).unwrap();
    let (written, ended) = w
        .changes
        .set_password(&w.alice.username, hash.clone())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(written.password, hash);
    let stored = w.stored(&w.alice).await.unwrap();
    assert!(stored.password.verify("another horse"));
    assert!(!stored.password.verify("correct horse"));
    assert!(!stored.disabled);
    assert_eq!(
        ended,
        Ended {
            sessions: 2,
            refresh_token_families: 2
        }
    );
    for cookie in ["a1", "a2"] {
        assert!(!w.session_alive(cookie).await);
    }
    for token in ["ra1", "ra2"] {
        assert!(!w.refresh_alive(token).await);
    }
    assert_eq!(w.consents(&w.alice).await.len(), 2, "consents are kept");
    w.assert_bob_untouched().await;
}

#[tokio::test]
async fn disabling_ends_sessions_and_refresh_tokens_and_enabling_restores_sign_in_only() {
    let w = world().await;
    let (user, ended) = w
        .changes
        .disable_user(&w.alice.username)
        .await
        .unwrap()
        .unwrap();
    assert!(user.disabled);
    assert!(w.stored(&w.alice).await.unwrap().disabled);
    assert_eq!((ended.sessions, ended.refresh_token_families), (2, 2));
    assert!(!w.session_alive("a1").await && !w.refresh_alive("ra2").await);
    w.assert_bob_untouched().await;

    // Again: nothing left to end, still an answer.
    let (_, again) = w
        .changes
        .disable_user(&w.alice.username)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again, Ended::default());

    let enabled = w
        .changes
        .enable_user(&w.alice.username)
        .await
        .unwrap()
        .unwrap();
    assert!(!enabled.disabled);
    assert_eq!(w.stored(&w.alice).await.unwrap(), w.alice);
    assert!(!w.refresh_alive("ra1").await, "nothing comes back");
}

#[tokio::test]
async fn deleting_a_user_ends_and_forgets_everything_of_theirs() {
    let w = world().await;
    let (user, ended, consents) = w
        .changes
        .delete_user(&w.alice.username)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.id, w.alice.id);
    assert_eq!(
        (ended.sessions, ended.refresh_token_families, consents),
        (2, 2, 2)
    );
    assert_eq!(w.stored(&w.alice).await, None);
    assert!(w.consents(&w.alice).await.is_empty());
    for token in ["ra1", "ra2"] {
        assert!(!w.refresh_alive(token).await);
    }
    w.assert_bob_untouched().await;
    assert_eq!(
        w.changes.delete_user(&w.alice.username).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn an_unknown_user_is_none_and_changes_nothing() {
    let w = world().await;
    let nobody = name("nobody");
    let hash = w.alice.password.clone();
    assert_eq!(w.changes.set_password(&nobody, hash).await.unwrap(), None);
    assert_eq!(w.changes.disable_user(&nobody).await.unwrap(), None);
    assert_eq!(w.changes.enable_user(&nobody).await.unwrap(), None);
    assert_eq!(w.changes.delete_user(&nobody).await.unwrap(), None);
    assert!(w.session_alive("a1").await && w.refresh_alive("ra1").await);
    w.assert_bob_untouched().await;
}

/// A user store whose writes fail (a full disk), reads pass through.
struct FailingWrites(Arc<MemoryStore>);

fn disk_full() -> StoreError {
    StoreError::Unavailable("disk full".into())
}

#[async_trait]
impl UserStore for FailingWrites {
    async fn insert(&self, _: User) -> Result<(), StoreError> {
        Err(disk_full())
    }
    async fn get(&self, username: &Username) -> Result<Option<User>, StoreError> {
        UserStore::get(self.0.as_ref(), username).await
    }
    async fn get_by_id(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        self.0.get_by_id(id).await
    }
    async fn list(&self) -> Result<Vec<User>, StoreError> {
        UserStore::list(self.0.as_ref()).await
    }
    async fn update(&self, _: User) -> Result<bool, StoreError> {
        Err(disk_full())
    }
    async fn change(
        &self,
        _: &Username,
        _: gatehouse_core::user::UserChange,
    ) -> Result<Option<User>, StoreError> {
        Err(disk_full())
    }
    async fn delete(&self, _: &Username) -> Result<Option<User>, StoreError> {
        Err(disk_full())
    }
}

#[tokio::test]
async fn a_failed_write_is_an_error_and_ends_nothing() {
    let w = world_with(|store| Arc::new(FailingWrites(store))).await;
    let hash = PasswordHash::new("another horse", &CountingRandom::default()).unwrap();
    let alice = &w.alice.username;
    assert_eq!(
        w.changes.set_password(alice, hash).await.unwrap_err(),
        disk_full()
    );
    assert_eq!(
        w.changes.disable_user(alice).await.unwrap_err(),
        disk_full()
    );
    assert_eq!(w.changes.enable_user(alice).await.unwrap_err(), disk_full());
    assert_eq!(w.changes.delete_user(alice).await.unwrap_err(), disk_full());
    assert_eq!(w.stored(&w.alice).await.as_ref(), Some(&w.alice));
    assert!(w.session_alive("a1").await && w.session_alive("a2").await);
    assert!(w.refresh_alive("ra1").await && w.refresh_alive("ra2").await);
    assert_eq!(w.consents(&w.alice).await.len(), 2);
}

#[tokio::test]
async fn deleting_a_client_revokes_its_refresh_tokens_and_forgets_consents_to_it() {
    let w = world().await;
    assert_eq!(w.changes.delete_client(&w.app).await.unwrap(), Some(0));
    assert!(
        ClientStore::get(w.store.as_ref(), &w.app)
            .await
            .unwrap()
            .is_none()
    );
    assert!(!w.refresh_alive("ra1").await && !w.refresh_alive("rb1").await);
    assert!(
        w.refresh_alive("ra2").await,
        "another client's family lives"
    );
    assert_eq!(w.consents(&w.alice).await, std::slice::from_ref(&w.other));
    assert!(w.consents(&w.bob).await.is_empty());
    assert!(w.session_alive("a1").await, "sessions are the users'");
}

#[tokio::test]
async fn deleting_a_gone_client_again_sweeps_what_it_left() {
    let w = world().await;
    // As after a deletion whose sweep failed: the client is gone, its grants are not.
    assert!(
        ClientStore::delete(w.store.as_ref(), &w.other)
            .await
            .unwrap()
    );
    assert_eq!(w.changes.delete_client(&w.other).await.unwrap(), None);
    assert!(!w.refresh_alive("ra2").await);
    assert_eq!(w.consents(&w.alice).await, std::slice::from_ref(&w.app));
    assert!(w.refresh_alive("ra1").await);
}
