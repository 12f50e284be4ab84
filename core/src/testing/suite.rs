//! The behaviour every storage backend must show, as one suite each backend runs on a fresh,
//! empty store: the in-memory reference here, redb in `gatehouse-store`, Redis later. A
//! backend that passes keeps the rules of [`crate::store`]: writes are visible at once, absence
//! is `Ok(None)`, quotas refuse without writing, purges go by the cutoff given.

use std::future::Future;
use std::task::Poll;

use gatehouse_token::{
    AccessTokenClaims, Algorithm, Audience, OpaqueToken, SecretDigest, UnixTime,
};

use super::{ClientBuilder, user};
use crate::client::ClientId;
use crate::store::{
    AccessTokenStore, AuthorizationCode, ClientStore, CodeStore, Consent, ConsentStore,
    DeviceApproval, DeviceAuthorization, DeviceCodeStore, DeviceDecision, DeviceStatus,
    IssuedForCode, KeyRecord, KeyState, KeyStore, MAX_VIEWS, ParStore, PollOutcome, PushedRequest,
    Redemption, RefreshToken, RefreshTokenStore, ReplayStore, ResourceStore, RevocationStore,
    Rotation, SecretStore, Session, SessionStore, StoreError, UserStore,
};
use crate::user::{UserId, Username};

fn claims(client_id: &str, exp: u64) -> AccessTokenClaims {
    AccessTokenClaims {
        iss: "https://as.example".into(),
        sub: client_id.into(),
        aud: Audience::One("https://rs.example".into()),
        client_id: client_id.into(),
        scope: None,
        iat: UnixTime(0),
        nbf: None,
        exp: UnixTime(exp),
        jti: format!("jti-{client_id}-{exp}"),
        act: None,
        cnf: None,
    }
}

fn key(kid: &str, created_at: u64) -> KeyRecord {
    KeyRecord {
        kid: kid.into(),
        alg: Algorithm::ES256,
        backend: gatehouse_token::BackendKind::Software,
        material: "AAAA".into(),
        state: KeyState::Active,
        created_at: UnixTime(created_at),
        activated_at: Some(UnixTime(created_at)),
        retired_at: None,
        publish_until: None,
    }
}

/// Clients: insert, a conflicting insert, get, list in id order, contains, delete.
pub async fn clients(store: &dyn ClientStore) {
    let a = ClientBuilder::new().name("a").client();
    let b = ClientBuilder::new().name("b").public().client();
    store.insert(a.clone()).await.unwrap();
    store.insert(b.clone()).await.unwrap();
    assert!(matches!(
        store.insert(a.clone()).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(*store.get(&a.id).await.unwrap().unwrap(), a);
    assert_eq!(
        *store.get(&b.id).await.unwrap().unwrap(),
        b,
        "public clients too"
    );
    let listed: Vec<ClientId> = store
        .list()
        .await
        .unwrap()
        .iter()
        .map(|c| c.id.clone())
        .collect();
    let mut sorted = vec![a.id.clone(), b.id.clone()];
    sorted.sort();
    assert_eq!(listed, sorted, "ordered by id");
    assert!(store.contains(a.id.as_str()).await.unwrap());
    assert!(!store.contains("nobody").await.unwrap());
    assert!(!store.contains("").await.unwrap());
    let mut changed = a.clone();
    changed.name = "renamed".into();
    assert!(store.update(changed.clone()).await.unwrap());
    assert_eq!(*store.get(&a.id).await.unwrap().unwrap(), changed);
    let stranger = ClientBuilder::new().name("c").client();
    assert!(!store.update(stranger.clone()).await.unwrap(), "no upsert");
    // A use is recorded on a dynamically registered client only, and changes nothing else.
    assert!(
        !store.record_use(&a.id, UnixTime(5)).await.unwrap(),
        "an operator's client"
    );
    assert!(!store.record_use(&stranger.id, UnixTime(5)).await.unwrap());
    let mut dynamic = ClientBuilder::new().name("d").public().client();
    dynamic.origin = crate::client::ClientOrigin::Dynamic {
        registration_token_digest: gatehouse_token::SecretDigest::of("gmt_x"),
        last_used: UnixTime(1),
        profile: Box::default(),
    };
    store.insert(dynamic.clone()).await.unwrap();
    assert!(store.record_use(&dynamic.id, UnixTime(99)).await.unwrap());
    let used = store.get(&dynamic.id).await.unwrap().unwrap();
    let mut expected = dynamic.clone();
    crate::client::record_use(&mut expected, UnixTime(99));
    assert_eq!(*used, expected);
    assert!(store.delete(&dynamic.id).await.unwrap());
    assert!(store.get(&stranger.id).await.unwrap().is_none());
    assert!(store.delete(&a.id).await.unwrap());
    assert!(!store.delete(&a.id).await.unwrap());
    assert!(store.get(&a.id).await.unwrap().is_none());
    assert!(!store.contains(a.id.as_str()).await.unwrap());
}

/// Registered resources: insert, a conflicting insert (the same URI in another spelling), list
/// in URI order, delete.
pub async fn resources(store: &dyn ResourceStore) {
    let def = |uri: &str| crate::resource::ResourceDefinition {
        uri: uri.into(),
        name: None,
        scopes: vec![crate::resource::ScopeDescription {
            name: "tools".into(),
            description: "Call the tools".into(),
        }],
        default_scopes: vec!["tools".into()],
        token_format: None,
        access_token_lifetime: Some(300),
        require_sender_constrained: false,
    };
    let b = def("https://b.example/mcp").validate().unwrap();
    let a = def("https://a.example").validate().unwrap();
    store.insert(b.clone()).await.unwrap();
    store.insert(a.clone()).await.unwrap();
    assert!(matches!(
        store
            .insert(def("https://A.example/").validate().unwrap())
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.list().await.unwrap(), vec![a.clone(), b.clone()]);
    assert!(store.delete(&a.uri).await.unwrap());
    assert!(!store.delete(&a.uri).await.unwrap());
    assert_eq!(store.list().await.unwrap(), vec![b]);
}

/// Opaque tokens: insert and get, revoke, the per-client quota, a client's tokens counted and
/// deleted, and the purge by cutoff freeing the quota.
pub async fn access_tokens(store: &dyn AccessTokenStore) {
    let t: Vec<OpaqueToken> = (0..5u8)
        .map(|i| OpaqueToken::from_random([i; 32]))
        .collect();
    store
        .insert(t[0].digest(), claims("a", 50), 2)
        .await
        .unwrap();
    store
        .insert(t[1].digest(), claims("a", 500), 2)
        .await
        .unwrap();
    store
        .insert(t[2].digest(), claims("b", 500), 2)
        .await
        .unwrap();
    let stored = store.get(&t[1].digest()).await.unwrap().unwrap();
    assert_eq!((stored.claims, stored.revoked), (claims("a", 500), false));
    assert!(store.get(&t[4].digest()).await.unwrap().is_none());

    // The quota: a third token of `a` is refused and nothing is written.
    assert!(matches!(
        store.insert(t[3].digest(), claims("a", 500), 2).await,
        Err(StoreError::LimitReached(_))
    ));
    assert!(store.get(&t[3].digest()).await.unwrap().is_none());
    assert_eq!(store.count_client_tokens("a").await.unwrap(), 2);

    assert!(store.revoke(&t[1].digest()).await.unwrap());
    assert!(store.get(&t[1].digest()).await.unwrap().unwrap().revoked);
    assert!(!store.revoke(&t[4].digest()).await.unwrap());

    // The purge drops what expired before the cutoff (exp 50 < 100), and frees its quota.
    assert_eq!(
        store.purge_expired(UnixTime(50)).await.unwrap(),
        0,
        "exp == cutoff stays"
    );
    assert_eq!(store.purge_expired(UnixTime(100)).await.unwrap(), 1);
    assert!(store.get(&t[0].digest()).await.unwrap().is_none());
    assert_eq!(store.count_client_tokens("a").await.unwrap(), 1);
    store
        .insert(t[3].digest(), claims("a", 500), 2)
        .await
        .unwrap();

    // Deleting a client's tokens leaves the others'.
    assert_eq!(store.delete_client_tokens("a").await.unwrap(), 2);
    assert_eq!(store.count_client_tokens("a").await.unwrap(), 0);
    assert!(store.get(&t[1].digest()).await.unwrap().is_none());
    assert!(store.get(&t[3].digest()).await.unwrap().is_none());
    assert!(store.get(&t[2].digest()).await.unwrap().is_some());
    assert_eq!(store.delete_client_tokens("a").await.unwrap(), 0);
}

/// Revocations: bulk and owned, the per-client quota (a repeat costs nothing), pages in `jti`
/// order past a cutoff, and the purge by cutoff freeing the quota.
pub async fn revocations(store: &dyn RevocationStore) {
    store
        .revoke_many(vec![
            ("imported-1".into(), UnixTime(10)),
            ("imported-2".into(), UnixTime(900)),
        ])
        .await
        .unwrap();
    store
        .revoke_owned("a", "a-1", UnixTime(50), 2)
        .await
        .unwrap();
    store
        .revoke_owned("a", "a-2", UnixTime(500), 2)
        .await
        .unwrap();
    store
        .revoke_owned("a", "a-2", UnixTime(500), 2)
        .await
        .unwrap();
    store
        .revoke_owned("b", "b-1", UnixTime(500), 2)
        .await
        .unwrap();
    assert!(matches!(
        store.revoke_owned("a", "a-3", UnixTime(500), 2).await,
        Err(StoreError::LimitReached(_))
    ));

    let page = |cutoff: u64, after: Option<&str>, limit: usize| {
        let after = after.map(str::to_owned);
        async move {
            store
                .live_page(UnixTime(cutoff), after, limit)
                .await
                .unwrap()
                .into_iter()
                .map(|(jti, _)| jti)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        page(0, None, 10).await,
        ["a-1", "a-2", "b-1", "imported-1", "imported-2"]
    );
    assert_eq!(page(0, None, 2).await, ["a-1", "a-2"]);
    assert_eq!(page(0, Some("a-2"), 2).await, ["b-1", "imported-1"]);
    assert_eq!(page(100, None, 10).await, ["a-2", "b-1", "imported-2"]);

    assert_eq!(store.purge_expired(UnixTime(100)).await.unwrap(), 2);
    assert_eq!(page(0, None, 10).await, ["a-2", "b-1", "imported-2"]);
    store
        .revoke_owned("a", "a-3", UnixTime(500), 2)
        .await
        .unwrap();

    // A jti revoked twice keeps the later expiry, whoever revoked it and in whichever order.
    store
        .revoke_many(vec![("twice".into(), UnixTime(5_000))])
        .await
        .unwrap();
    store
        .revoke_many(vec![("twice".into(), UnixTime(1_000))])
        .await
        .unwrap();
    assert!(page(4_000, None, 10).await.contains(&"twice".to_owned()));
    // A jti the operator revoked already costs a client none of its quota.
    store
        .revoke_owned("c", "twice", UnixTime(6_000), 1)
        .await
        .unwrap();
    store
        .revoke_owned("c", "c-1", UnixTime(1_000), 1)
        .await
        .unwrap();
    // A client's revocation the operator extends is still the client's, and frees its quota
    // when it is purged at its new expiry (a review found the quota held for ever).
    store
        .revoke_many(vec![("c-1".into(), UnixTime(7_000))])
        .await
        .unwrap();
    assert!(matches!(
        store.revoke_owned("c", "c-2", UnixTime(1_000), 1).await,
        Err(StoreError::LimitReached(_))
    ));
    store.purge_expired(UnixTime(8_000)).await.unwrap();
    assert!(page(0, None, 10).await.is_empty());
    store
        .revoke_owned("c", "c-2", UnixTime(9_000), 1)
        .await
        .unwrap();
}

/// Key records: put (insert or replace), list in creation order, delete.
pub async fn keys(store: &dyn KeyStore) {
    store.put(key("k2", 20)).await.unwrap();
    store.put(key("k1", 10)).await.unwrap();
    let mut retired = key("k1", 10);
    retired.state = KeyState::Retired;
    store.put(retired.clone()).await.unwrap();
    let listed = store.list().await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0], retired, "replaced, and first by creation time");
    assert_eq!(listed[1].kid, "k2");
    assert!(store.delete("k1").await.unwrap());
    assert!(!store.delete("k1").await.unwrap());
    assert_eq!(store.list().await.unwrap().len(), 1);
}

/// Polls both futures until both are done, as `tokio::join!` does, so that two store calls are
/// in flight at once; written here because the suite runs on the caller's runtime and depends
/// on none.
async fn join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (std::pin::pin!(a), std::pin::pin!(b));
    let (mut done_a, mut done_b) = (None, None);
    std::future::poll_fn(move |cx| {
        if done_a.is_none() {
            if let Poll::Ready(out) = a.as_mut().poll(cx) {
                done_a = Some(out);
            }
        }
        if done_b.is_none() {
            if let Poll::Ready(out) = b.as_mut().poll(cx) {
                done_b = Some(out);
            }
        }
        match (done_a.take(), done_b.take()) {
            (Some(a), Some(b)) => Poll::Ready((a, b)),
            (a, b) => {
                (done_a, done_b) = (a, b);
                Poll::Pending
            }
        }
    })
    .await
}

fn digest(n: u8) -> SecretDigest {
    SecretDigest([n; 32])
}

fn uid(id: &str) -> UserId {
    UserId::from_stored(id)
}

fn cid(id: &str) -> ClientId {
    ClientId::new(id).unwrap()
}

fn username(name: &str) -> Username {
    Username::new(name).unwrap()
}

/// Users: insert, a taken username or id refused without writing, get by name and by id, list
/// in username order, update (whole record; of a missing user `false`, nothing written; under
/// another id a conflict), delete returning the record and freeing the name and the id.
pub async fn users(store: &dyn UserStore) {
    let alice = user("alice");
    let bob = user("bob");
    store.insert(bob.clone()).await.unwrap();
    store.insert(alice.clone()).await.unwrap();

    // The username is taken (even with a new id), or the id is (even under a new name).
    let mut again = user("alice");
    again.id = uid("id-other");
    assert!(matches!(
        store.insert(again).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.get_by_id(&uid("id-other")).await.unwrap(), None);
    let mut twin = user("carol");
    twin.id = alice.id.clone();
    assert!(matches!(
        store.insert(twin).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.get(&username("carol")).await.unwrap(), None);
    assert_eq!(
        store.get_by_id(&alice.id).await.unwrap(),
        Some(alice.clone()),
        "the id still names alice"
    );

    assert_eq!(
        store.get(&username("alice")).await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(store.get(&username("nobody")).await.unwrap(), None);
    assert_eq!(store.get_by_id(&bob.id).await.unwrap(), Some(bob.clone()));
    assert_eq!(store.get_by_id(&uid("id-nobody")).await.unwrap(), None);
    assert_eq!(
        store.list().await.unwrap(),
        [alice.clone(), bob.clone()],
        "ordered by username"
    );

    // An update replaces the whole record, found by name and by id.
    let mut changed = alice.clone();
    changed.name = Some("Alice Liddell".into());
    changed.email = Some("alice@example.com".into());
    changed.email_verified = true;
    changed.disabled = true;
    assert!(store.update(changed.clone()).await.unwrap());
    assert_eq!(
        store.get(&username("alice")).await.unwrap(),
        Some(changed.clone())
    );
    assert_eq!(
        store.get_by_id(&alice.id).await.unwrap(),
        Some(changed.clone())
    );
    // A missing user is not created by an update.
    assert!(!store.update(user("dave")).await.unwrap());
    assert_eq!(store.get(&username("dave")).await.unwrap(), None);
    assert_eq!(store.get_by_id(&uid("id-dave")).await.unwrap(), None);
    // The same username under another id is another person: refused, nothing written.
    let mut impostor = user("alice");
    impostor.id = uid("id-impostor");
    assert!(matches!(
        store.update(impostor).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.get(&username("alice")).await.unwrap(),
        Some(changed.clone())
    );

    // A change applies to what is stored, not to a copy read earlier: two changes at once keep
    // both (a password change does not re-enable an account disabled meanwhile).
    let hash =
        crate::user::PasswordHash::new("another horse", &super::CountingRandom::default()).unwrap();
    let (a, b) = join(
        store.change(
            &username("alice"),
            crate::user::UserChange::Password(hash.clone()),
        ),
        store.change(&username("alice"), crate::user::UserChange::Disabled(true)),
    )
    .await;
    assert!(a.unwrap().is_some() && b.unwrap().is_some());
    let now = store.get(&username("alice")).await.unwrap().unwrap();
    assert!(now.disabled && now.password == hash, "both changes kept");
    assert_eq!(
        store
            .change(&username("alice"), crate::user::UserChange::Disabled(false))
            .await
            .unwrap()
            .map(|u| u.disabled),
        Some(false)
    );
    assert_eq!(
        store
            .change(&username("nobody"), crate::user::UserChange::Disabled(true))
            .await
            .unwrap(),
        None,
        "no user is created by a change"
    );
    assert_eq!(store.get(&username("nobody")).await.unwrap(), None);
    store.update(changed.clone()).await.unwrap();

    // A delete returns the record and frees the name and the id.
    assert_eq!(
        store.delete(&username("alice")).await.unwrap(),
        Some(changed)
    );
    assert_eq!(store.delete(&username("alice")).await.unwrap(), None);
    assert_eq!(store.get(&username("alice")).await.unwrap(), None);
    assert_eq!(store.get_by_id(&alice.id).await.unwrap(), None);
    assert_eq!(store.list().await.unwrap(), [bob]);
    let mut reborn = user("alice");
    reborn.id = uid("id-alice-2");
    store.insert(reborn.clone()).await.unwrap();
    assert_eq!(
        store.get_by_id(&alice.id).await.unwrap(),
        None,
        "the old id does not find the new alice"
    );
    assert_eq!(store.get_by_id(&reborn.id).await.unwrap(), Some(reborn));
    let mut heir = user("erin");
    heir.id = alice.id.clone();
    store.insert(heir).await.unwrap();
}

fn session(user: &str, auth_time: u64, expires_at: u64) -> Session {
    Session {
        user: uid(user),
        auth_time: UnixTime(auth_time),
        expires_at: UnixTime(expires_at),
    }
}

/// Sessions: insert and get, delete one, delete every session of a user (and no other's), and
/// the purge by cutoff (a session expiring at the cutoff stays); a purged or deleted session is
/// no longer its user's.
pub async fn sessions(store: &dyn SessionStore) {
    store
        .insert(digest(1), session("u1", 10, 100))
        .await
        .unwrap();
    store
        .insert(digest(2), session("u1", 20, 200))
        .await
        .unwrap();
    store
        .insert(digest(3), session("u2", 30, 50))
        .await
        .unwrap();
    assert_eq!(
        store.get(&digest(1)).await.unwrap(),
        Some(session("u1", 10, 100))
    );
    assert_eq!(store.get(&digest(9)).await.unwrap(), None);

    assert!(store.delete(&digest(3)).await.unwrap());
    assert!(!store.delete(&digest(3)).await.unwrap());
    assert_eq!(store.get(&digest(3)).await.unwrap(), None);
    assert!(!store.delete(&digest(9)).await.unwrap());

    // Every session of one user ends; the others' stay (`u` prefixes `u1`: another user).
    store
        .insert(digest(3), session("u2", 30, 50))
        .await
        .unwrap();
    store
        .insert(digest(4), session("u2", 40, 100))
        .await
        .unwrap();
    store
        .insert(digest(5), session("u", 50, 100))
        .await
        .unwrap();
    assert_eq!(store.delete_user_sessions(&uid("u1")).await.unwrap(), 2);
    assert_eq!(store.get(&digest(1)).await.unwrap(), None);
    assert_eq!(store.get(&digest(2)).await.unwrap(), None);
    assert!(store.get(&digest(3)).await.unwrap().is_some());
    assert!(store.get(&digest(5)).await.unwrap().is_some());
    assert_eq!(store.delete_user_sessions(&uid("u1")).await.unwrap(), 0);
    assert_eq!(store.delete_user_sessions(&uid("nobody")).await.unwrap(), 0);
    assert!(store.delete(&digest(5)).await.unwrap());
    assert_eq!(
        store.delete_user_sessions(&uid("u")).await.unwrap(),
        0,
        "a deleted session is no longer the user's"
    );

    // The purge goes by `expires_at`: before the cutoff goes, at or after it stays.
    assert_eq!(
        store.purge_expired(UnixTime(50)).await.unwrap(),
        0,
        "expires_at == cutoff stays"
    );
    assert_eq!(store.purge_expired(UnixTime(51)).await.unwrap(), 1);
    assert_eq!(store.get(&digest(3)).await.unwrap(), None);
    assert!(!store.delete(&digest(3)).await.unwrap());
    assert_eq!(
        store.get(&digest(4)).await.unwrap(),
        Some(session("u2", 40, 100))
    );
    assert_eq!(
        store.delete_user_sessions(&uid("u2")).await.unwrap(),
        1,
        "a purged session is no longer the user's"
    );
    assert_eq!(store.purge_expired(UnixTime(1_000)).await.unwrap(), 0);
}

fn consent(scope: &str, granted_at: u64) -> Consent {
    Consent {
        scope: scope.parse().unwrap(),
        resources: vec!["https://rs.example".parse().unwrap()],
        granted_at: UnixTime(granted_at),
    }
}

/// Consents: get, put (replacing), revoke one, a user's listed in client-id order, and every
/// consent of a deleted user or client forgotten, counted.
pub async fn consents(store: &dyn ConsentStore) {
    // `u` prefixes `u1`: another user all the same.
    let (u, u1, u2) = (uid("u"), uid("u1"), uid("u2"));
    let (a, b, c) = (cid("a"), cid("b"), cid("c"));
    store.put(&u1, &b, consent("read", 1)).await.unwrap();
    store.put(&u1, &a, consent("read", 2)).await.unwrap();
    store.put(&u2, &a, consent("read", 3)).await.unwrap();
    store.put(&u, &c, consent("read", 4)).await.unwrap();
    assert_eq!(store.get(&u1, &b).await.unwrap(), Some(consent("read", 1)));
    assert_eq!(store.get(&u2, &b).await.unwrap(), None);
    assert_eq!(store.get(&uid("nobody"), &a).await.unwrap(), None);

    // A put replaces.
    store.put(&u1, &b, consent("read write", 5)).await.unwrap();
    assert_eq!(
        store.get(&u1, &b).await.unwrap(),
        Some(consent("read write", 5))
    );
    assert_eq!(
        store.list_user(&u1).await.unwrap(),
        [
            (a.clone(), consent("read", 2)),
            (b.clone(), consent("read write", 5))
        ],
        "ordered by client id, one per client"
    );
    assert_eq!(
        store.list_user(&u).await.unwrap(),
        [(c.clone(), consent("read", 4))]
    );
    assert!(store.list_user(&uid("nobody")).await.unwrap().is_empty());

    assert!(store.revoke(&u2, &a).await.unwrap());
    assert!(!store.revoke(&u2, &a).await.unwrap());
    assert_eq!(store.get(&u2, &a).await.unwrap(), None);
    assert!(store.list_user(&u2).await.unwrap().is_empty());

    // A deleted client's consents go, whoever gave them; the others stay.
    store.put(&u2, &a, consent("read", 6)).await.unwrap();
    assert_eq!(store.delete_client(&a).await.unwrap(), 2);
    assert_eq!(store.delete_client(&a).await.unwrap(), 0);
    assert_eq!(store.get(&u2, &a).await.unwrap(), None);
    assert_eq!(
        store.list_user(&u1).await.unwrap(),
        [(b.clone(), consent("read write", 5))]
    );

    // A deleted user's consents go; the others stay.
    store.put(&u1, &c, consent("read", 7)).await.unwrap();
    assert_eq!(store.delete_user(&u1).await.unwrap(), 2);
    assert_eq!(store.delete_user(&u1).await.unwrap(), 0);
    assert!(store.list_user(&u1).await.unwrap().is_empty());
    assert_eq!(store.get(&u1, &c).await.unwrap(), None);
    assert_eq!(
        store.list_user(&u).await.unwrap(),
        [(c.clone(), consent("read", 4))]
    );
    assert_eq!(
        store.delete_client(&c).await.unwrap(),
        1,
        "a deleted user's consent is no longer the client's"
    );
    assert_eq!(store.delete_client(&b).await.unwrap(), 0);
}

fn code(client: &str, expires_at: u64) -> AuthorizationCode {
    AuthorizationCode {
        client_id: cid(client),
        redirect_uri: Some("https://app.example/cb".into()),
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
        user: uid("u1"),
        auth_time: UnixTime(1),
        scope: "openid read".parse().unwrap(),
        resource: "https://rs.example".parse().unwrap(),
        nonce: Some("n-0S6_WzA2Mj".into()),
        session: digest(200),
        expires_at: UnixTime(expires_at),
        dpop_jkt: Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into()),
    }
}

fn issued() -> IssuedForCode {
    IssuedForCode {
        access_jti: "jti-1".into(),
        access_exp: UnixTime(3_600),
        access_digest: Some(digest(201)),
        refresh_family: Some("family-1".into()),
    }
}

/// Authorization codes: a digest inserted twice is a conflict (the first stays); the first
/// redemption is fresh, the next ones replays carrying what was issued once it is recorded; an
/// unknown code is unknown; the purge drops used and unused codes by cutoff; of two concurrent
/// redemptions exactly one is fresh.
pub async fn codes(store: &dyn CodeStore) {
    store.insert(digest(1), code("a", 100)).await.unwrap();
    store.insert(digest(2), code("a", 200)).await.unwrap();
    assert!(matches!(
        store.insert(digest(1), code("b", 300)).await,
        Err(StoreError::Conflict(_))
    ));

    assert_eq!(
        store.redeem(&digest(1)).await.unwrap(),
        Redemption::Fresh(code("a", 100)),
        "the first insert stays"
    );
    assert_eq!(
        store.redeem(&digest(1)).await.unwrap(),
        Redemption::Replayed(code("a", 100), None)
    );
    assert!(
        !store.record_issued(&digest(1), issued()).await.unwrap(),
        "no replay was reported"
    );
    assert_eq!(
        store.redeem(&digest(1)).await.unwrap(),
        Redemption::Replayed(code("a", 100), Some(issued()))
    );
    assert_eq!(
        store.mark_replayed(&digest(1)).await.unwrap(),
        Some(issued()),
        "a replay after the recording gets what to revoke"
    );
    // A replay reported before the recording: the recording says so.
    store.insert(digest(4), code("a", 100)).await.unwrap();
    store.redeem(&digest(4)).await.unwrap();
    assert_eq!(store.mark_replayed(&digest(4)).await.unwrap(), None);
    assert!(store.record_issued(&digest(4), issued()).await.unwrap());
    assert_eq!(store.mark_replayed(&digest(9)).await.unwrap(), None);
    assert!(matches!(
        store.insert(digest(1), code("a", 100)).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.redeem(&digest(1)).await.unwrap(),
        Redemption::Replayed(code("a", 100), Some(issued())),
        "a used code cannot be made fresh by a second insert"
    );
    assert_eq!(store.redeem(&digest(9)).await.unwrap(), Redemption::Unknown);
    assert!(!store.record_issued(&digest(9), issued()).await.unwrap());
    assert_eq!(
        store.redeem(&digest(9)).await.unwrap(),
        Redemption::Unknown,
        "recording for an unknown code creates none"
    );

    // The purge drops codes that expired before the cutoff, used (1, 4) or not (3).
    store.insert(digest(3), code("b", 100)).await.unwrap();
    assert_eq!(
        store.purge_expired(UnixTime(100)).await.unwrap(),
        0,
        "expires_at == cutoff stays"
    );
    assert_eq!(store.purge_expired(UnixTime(101)).await.unwrap(), 3);
    assert_eq!(store.redeem(&digest(1)).await.unwrap(), Redemption::Unknown);
    assert_eq!(store.redeem(&digest(3)).await.unwrap(), Redemption::Unknown);
    assert_eq!(
        store.redeem(&digest(2)).await.unwrap(),
        Redemption::Fresh(code("a", 200))
    );
    assert_eq!(store.purge_expired(UnixTime(201)).await.unwrap(), 1);
    assert_eq!(store.redeem(&digest(2)).await.unwrap(), Redemption::Unknown);
    assert_eq!(store.purge_expired(UnixTime(10_000)).await.unwrap(), 0);

    // Two concurrent redemptions of one code: exactly one is fresh, the other a replay.
    for n in 10..18 {
        store.insert(digest(n), code("a", 1_000)).await.unwrap();
        let (x, y) = join(store.redeem(&digest(n)), store.redeem(&digest(n))).await;
        let mut outcomes = [x.unwrap(), y.unwrap()];
        outcomes.sort_by_key(|r| matches!(r, Redemption::Replayed(..)));
        assert_eq!(
            outcomes,
            [
                Redemption::Fresh(code("a", 1_000)),
                Redemption::Replayed(code("a", 1_000), None)
            ]
        );
    }
}

fn pushed(client: &str, expires_at: u64) -> PushedRequest {
    PushedRequest {
        client_id: cid(client),
        params: format!(
            "response_type=code&client_id={client}&redirect_uri=https%3A%2F%2Fapp.example%2Fcb\
             &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
        ),
        expires_at: UnixTime(expires_at),
        claimed_by: None,
    }
}

/// Pushed requests: a digest inserted twice is a conflict (the first stays); a take returns the
/// request once, then `None`; an unknown digest is `None`; the purge drops requests by cutoff
/// (one expiring at the cutoff stays, one taken already is not counted); of two concurrent takes
/// exactly one gets the request.
pub async fn par(store: &dyn ParStore) {
    let (mine, theirs) = (digest(201), digest(202));
    let claimed = |who: SecretDigest, exp: u64| {
        let mut request = pushed("a", exp);
        request.claimed_by = Some(who);
        request
    };
    store.insert(digest(1), pushed("a", 100)).await.unwrap();
    store.insert(digest(2), pushed("a", 200)).await.unwrap();
    store.insert(digest(3), pushed("b", 100)).await.unwrap();
    store.insert(digest(4), pushed("b", 300)).await.unwrap();
    assert!(matches!(
        store.insert(digest(1), pushed("b", 300)).await,
        Err(StoreError::Conflict(_))
    ));

    // The first browser to claim it owns it: it may claim it again (a reload), no other can.
    assert_eq!(
        store.claim(&digest(1), mine).await.unwrap(),
        Some(claimed(mine, 100)),
        "the first insert stays"
    );
    assert_eq!(
        store.claim(&digest(1), mine).await.unwrap(),
        Some(claimed(mine, 100))
    );
    assert_eq!(
        store.claim(&digest(1), theirs).await.unwrap(),
        None,
        "another browser"
    );
    assert_eq!(
        store.claim(&digest(9), mine).await.unwrap(),
        None,
        "unknown"
    );

    // The purge drops what expired before the cutoff (1 and 3), claimed or not.
    assert_eq!(
        store.purge_expired(UnixTime(100)).await.unwrap(),
        0,
        "expires_at == cutoff stays"
    );
    assert_eq!(store.purge_expired(UnixTime(101)).await.unwrap(), 2);
    assert_eq!(store.claim(&digest(1), mine).await.unwrap(), None);
    assert_eq!(store.claim(&digest(3), mine).await.unwrap(), None);
    assert_eq!(
        store.claim(&digest(2), theirs).await.unwrap(),
        Some(claimed(theirs, 200)),
        "expires_at after the cutoff stays"
    );
    assert_eq!(store.purge_expired(UnixTime(301)).await.unwrap(), 2);
    assert_eq!(store.claim(&digest(4), mine).await.unwrap(), None);
    assert_eq!(store.purge_expired(UnixTime(10_000)).await.unwrap(), 0);

    // Two browsers claiming one request at once: exactly one gets it.
    for n in 10..18 {
        store.insert(digest(n), pushed("a", 1_000)).await.unwrap();
        let (x, y) = join(
            store.claim(&digest(n), mine),
            store.claim(&digest(n), theirs),
        )
        .await;
        let (x, y) = (x.unwrap(), y.unwrap());
        assert!(x.is_some() != y.is_some(), "one of two: {x:?} {y:?}");
    }
    assert_eq!(store.purge_expired(UnixTime(10_000)).await.unwrap(), 8);
}

fn refresh(family: &str, client: &str, user: &str, idle: u64, expires_at: u64) -> RefreshToken {
    RefreshToken {
        family: family.into(),
        client_id: cid(client),
        user: uid(user),
        scope: "openid read".parse().unwrap(),
        resources: vec!["https://rs.example".parse().unwrap()],
        auth_time: UnixTime(1),
        issued_at: UnixTime(0),
        idle_expires_at: UnixTime(idle),
        expires_at: UnixTime(expires_at),
        sid: Some(format!("sid-{family}")),
        cnf: Some(gatehouse_token::Confirmation::dpop(format!("jkt-{family}"))),
    }
}

/// The successor of `token`, issued at `at`, idle-expiring at `idle`.
fn successor(token: &RefreshToken, at: u64, idle: u64) -> RefreshToken {
    RefreshToken {
        issued_at: UnixTime(at),
        idle_expires_at: UnixTime(idle),
        ..token.clone()
    }
}

/// Refresh tokens: insert (a taken digest a conflict) and get with the family's revoked flag;
/// rotation (rotated, the successor stored in the family; grace; reuse after the grace window
/// or with another successor revoking the family; revoked; expired by idle or absolute lifetime
/// changing nothing; unknown); touch; revocation by family, client and user, counted in
/// families; the purge by absolute expiry taking the families along; and two concurrent
/// rotations with one successor being one rotation and one grace.
pub async fn refresh_tokens(store: &dyn RefreshTokenStore) {
    const GRACE: u64 = 5;
    let rotate = |old: u8, new: u8, next: &RefreshToken, now: u64| {
        let next = next.clone();
        async move {
            store
                .rotate(&digest(old), digest(new), next, UnixTime(now), GRACE)
                .await
                .unwrap()
        }
    };
    let get = |d: u8| async move { store.get(&digest(d)).await.unwrap() };
    let revoked = |d: u8| async move { store.get(&digest(d)).await.unwrap().unwrap().1 };

    let t1 = refresh("f1", "a", "u1", 100, 1_000);
    store.insert(digest(1), t1.clone()).await.unwrap();
    assert_eq!(get(1).await, Some((t1.clone(), false)));
    assert_eq!(get(99).await, None);
    assert!(matches!(
        store
            .insert(digest(1), refresh("other", "b", "u2", 100, 1_000))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(get(1).await, Some((t1.clone(), false)), "the first stays");

    // First use: rotated; the successor is stored, in the same family.
    let t2 = successor(&t1, 10, 110);
    assert_eq!(rotate(1, 2, &t2, 10).await, Rotation::Rotated(t1.clone()));
    assert_eq!(get(2).await, Some((t2.clone(), false)));
    assert_eq!(
        get(1).await,
        Some((t1.clone(), false)),
        "kept, to know reuse"
    );
    // Used again with the same successor within the grace window (a lost response): nothing
    // changes, and the successor rotates in turn. The window is `[rotation, rotation + grace)`:
    // a grace of 0 is none.
    assert_eq!(
        rotate(1, 2, &t2, 10 + GRACE - 1).await,
        Rotation::Grace(t1.clone())
    );
    assert_eq!(get(2).await, Some((t2.clone(), false)));
    let t3 = successor(&t1, 20, 120);
    assert_eq!(rotate(2, 3, &t3, 20).await, Rotation::Rotated(t2.clone()));
    // Used again after the grace window: reuse, and the whole family is revoked.
    assert_eq!(rotate(1, 2, &t2, 21).await, Rotation::Reused(t1.clone()));
    for d in [1, 2, 3] {
        assert!(revoked(d).await, "token {d} of the reused family");
    }
    assert_eq!(
        rotate(3, 4, &successor(&t1, 22, 122), 22).await,
        Rotation::Revoked
    );
    assert_eq!(get(4).await, None, "no successor of a revoked token");
    assert_eq!(rotate(1, 2, &t2, 22).await, Rotation::Revoked);

    // Used again with another successor, even within the grace window: reuse.
    let f2 = refresh("f2", "a", "u1", 100, 1_000);
    store.insert(digest(10), f2.clone()).await.unwrap();
    let next = successor(&f2, 10, 110);
    assert_eq!(
        rotate(10, 11, &next, 10).await,
        Rotation::Rotated(f2.clone())
    );
    assert_eq!(
        rotate(10, 12, &next, 11).await,
        Rotation::Reused(f2.clone())
    );
    assert!(revoked(10).await && revoked(11).await);
    assert_eq!(get(12).await, None);

    // The successor joins the old token's family, whatever `next` says.
    let f6 = refresh("f6", "a", "u1", 100, 1_000);
    store.insert(digest(50), f6.clone()).await.unwrap();
    let stray = refresh("elsewhere", "a", "u1", 110, 1_000);
    assert_eq!(
        rotate(50, 51, &stray, 10).await,
        Rotation::Rotated(f6.clone())
    );
    assert_eq!(get(51).await.unwrap().0.family, "f6");
    assert!(store.revoke_family("f6").await.unwrap());
    assert!(revoked(51).await);

    // Past its idle lifetime, or its absolute one: expired, and nothing changed.
    let idle = refresh("f3", "a", "u1", 50, 1_000);
    store.insert(digest(20), idle.clone()).await.unwrap();
    assert_eq!(
        rotate(20, 21, &successor(&idle, 50, 150), 50).await,
        Rotation::Expired
    );
    assert_eq!(get(20).await, Some((idle.clone(), false)));
    assert_eq!(get(21).await, None);
    let ended = refresh("f4", "a", "u1", 500, 60);
    store.insert(digest(22), ended.clone()).await.unwrap();
    let next = successor(&ended, 59, 60);
    assert_eq!(rotate(22, 23, &next, 60).await, Rotation::Expired);
    assert_eq!(get(22).await, Some((ended.clone(), false)));
    assert_eq!(get(23).await, None);
    assert_eq!(
        rotate(22, 23, &next, 59).await,
        Rotation::Rotated(ended.clone())
    );

    assert_eq!(rotate(98, 97, &t1, 10).await, Rotation::Unknown);
    assert_eq!(get(97).await, None);

    // Touch extends the idle lifetime of a live token (never past its absolute end); not of a
    // rotated, revoked or unknown one.
    let live = refresh("f5", "b", "u2", 100, 1_000);
    store.insert(digest(30), live.clone()).await.unwrap();
    assert!(store.touch(&digest(30), UnixTime(300)).await.unwrap());
    assert_eq!(get(30).await.unwrap().0.idle_expires_at, UnixTime(300));
    assert!(store.touch(&digest(30), UnixTime(5_000)).await.unwrap());
    assert_eq!(get(30).await.unwrap().0.idle_expires_at, UnixTime(1_000));
    assert!(
        !store.touch(&digest(22), UnixTime(60)).await.unwrap(),
        "rotated"
    );
    assert!(
        !store.touch(&digest(3), UnixTime(300)).await.unwrap(),
        "revoked"
    );
    assert!(
        !store.touch(&digest(99), UnixTime(300)).await.unwrap(),
        "unknown"
    );

    assert!(store.revoke_family("f5").await.unwrap());
    assert!(!store.revoke_family("f5").await.unwrap(), "revoked already");
    assert!(!store.revoke_family("nope").await.unwrap());
    assert!(revoked(30).await);
    assert!(!store.touch(&digest(30), UnixTime(400)).await.unwrap());

    // By user and client (a revoked consent): only that pair's families.
    store
        .insert(digest(60), refresh("h1", "c7", "v7", 100, 2_000))
        .await
        .unwrap();
    store
        .insert(digest(61), refresh("h2", "c8", "v7", 100, 2_000))
        .await
        .unwrap();
    assert_eq!(store.revoke_grant(&uid("v7"), &cid("c7")).await.unwrap(), 1);
    assert!(revoked(60).await);
    assert!(
        !revoked(61).await,
        "the user's grant to another client stays"
    );
    assert_eq!(store.revoke_grant(&uid("v7"), &cid("c7")).await.unwrap(), 0);
    assert_eq!(store.revoke_grant(&uid("v9"), &cid("c8")).await.unwrap(), 0);

    // By client and by user, counted in families (a family of two tokens counts once).
    let g1 = refresh("g1", "c1", "v1", 100, 2_000);
    store.insert(digest(40), g1.clone()).await.unwrap();
    store
        .insert(digest(41), refresh("g2", "c1", "v2", 100, 2_000))
        .await
        .unwrap();
    store
        .insert(digest(42), refresh("g3", "c2", "v1", 100, 2_000))
        .await
        .unwrap();
    let next = successor(&g1, 10, 110);
    assert_eq!(
        rotate(40, 43, &next, 10).await,
        Rotation::Rotated(g1.clone())
    );
    assert_eq!(store.revoke_client(&cid("c1")).await.unwrap(), 2);
    assert!(revoked(40).await && revoked(41).await && revoked(43).await);
    assert!(!revoked(42).await, "another client's family");
    assert_eq!(store.revoke_client(&cid("c1")).await.unwrap(), 0);
    assert_eq!(store.revoke_client(&cid("nobody")).await.unwrap(), 0);
    assert_eq!(store.revoke_user(&uid("v1")).await.unwrap(), 1);
    assert!(revoked(42).await);
    assert_eq!(store.revoke_user(&uid("v1")).await.unwrap(), 0);
    assert_eq!(store.revoke_user(&uid("v2")).await.unwrap(), 0);
    assert_eq!(store.revoke_user(&uid("nobody")).await.unwrap(), 0);

    // The purge goes by absolute expiry (not idle), and takes the families along.
    assert_eq!(
        store.purge_expired(UnixTime(60)).await.unwrap(),
        0,
        "expires_at == cutoff stays"
    );
    assert_eq!(store.purge_expired(UnixTime(61)).await.unwrap(), 2);
    assert_eq!(get(22).await, None);
    assert_eq!(get(23).await, None);
    assert_eq!(
        get(20).await,
        Some((idle, false)),
        "idle-expired, not purged"
    );
    // f1: 1, 2, 3; f2: 10, 11; f3: 20; f5: 30; f6: 50, 51.
    assert_eq!(store.purge_expired(UnixTime(1_001)).await.unwrap(), 9);
    for d in [1, 2, 3, 10, 11, 20, 30, 50, 51] {
        assert_eq!(get(d).await, None, "token {d}");
    }
    assert!(
        !store.revoke_family("f1").await.unwrap(),
        "purged with its tokens"
    );
    store.insert(digest(1), t1.clone()).await.unwrap();
    assert_eq!(
        get(1).await,
        Some((t1.clone(), false)),
        "a new family of the name of a purged one starts afresh"
    );
    // f1 again (1), g1–g3 and their successor (4), h1 and h2 (2).
    assert_eq!(store.purge_expired(UnixTime(2_001)).await.unwrap(), 7);
    assert_eq!(store.revoke_user(&uid("v1")).await.unwrap(), 0);

    // Two concurrent rotations of one token with one successor: one rotation, one grace.
    for n in 0..8u8 {
        let (old, new) = (100 + 2 * n, 101 + 2 * n);
        let token = refresh(&format!("race-{n}"), "a", "u1", 100, 1_000);
        store.insert(digest(old), token.clone()).await.unwrap();
        let next = successor(&token, 10, 110);
        let (x, y) = join(rotate(old, new, &next, 10), rotate(old, new, &next, 10)).await;
        let mut outcomes = [x, y];
        outcomes.sort_by_key(|r| matches!(r, Rotation::Grace(_)));
        assert_eq!(
            outcomes,
            [Rotation::Rotated(token.clone()), Rotation::Grace(token)]
        );
        assert_eq!(get(new).await, Some((next, false)));
    }
}

/// Secrets: created once with the first value offered, one per name; of two concurrent first
/// calls, both get the same secret.
pub async fn secrets(store: &dyn SecretStore) {
    assert_eq!(store.get_or_create("csrf", [1; 32]).await.unwrap(), [1; 32]);
    assert_eq!(
        store.get_or_create("csrf", [2; 32]).await.unwrap(),
        [1; 32],
        "created once"
    );
    assert_eq!(
        store.get_or_create("refresh", [2; 32]).await.unwrap(),
        [2; 32],
        "one per name"
    );
    for n in 0..8u8 {
        let name = format!("race-{n}");
        let (x, y) = join(
            store.get_or_create(&name, [10 + n; 32]),
            store.get_or_create(&name, [100 + n; 32]),
        )
        .await;
        let (x, y) = (x.unwrap(), y.unwrap());
        assert_eq!(x, y);
        assert!(x == [10 + n; 32] || x == [100 + n; 32]);
        assert_eq!(store.get_or_create(&name, [0; 32]).await.unwrap(), x);
    }
}

/// The replay cache: a first use is `true` once, whatever comes after; kinds are namespaces (the
/// same digest of another kind is a first use); concurrent first uses: exactly one wins; an
/// entry counts until purged, and the purge goes by the cutoff given.
pub async fn replay(store: &dyn ReplayStore) {
    use crate::store::{ReplayKind, replay_digest};
    let id = replay_digest("https://idp.example", "jti-1");
    assert_ne!(
        id,
        replay_digest("https://idp.example/", "jti-1"),
        "issuers differ"
    );
    assert_ne!(
        replay_digest("a", "\0b"),
        replay_digest("a\0", "b"),
        "the boundary between issuer and jti cannot be moved"
    );
    let grant = ReplayKind::GrantAssertion;
    assert!(store.first_use(grant, id, UnixTime(100)).await.unwrap());
    assert!(!store.first_use(grant, id, UnixTime(100)).await.unwrap());
    assert!(
        !store.first_use(grant, id, UnixTime(500)).await.unwrap(),
        "a later expiry does not make it new"
    );
    assert!(
        store
            .first_use(ReplayKind::ClientAssertion, id, UnixTime(100))
            .await
            .unwrap(),
        "another kind is another namespace"
    );
    assert!(
        store
            .first_use(ReplayKind::DpopProof, id, UnixTime(100))
            .await
            .unwrap(),
        "DPoP proofs are their own namespace"
    );
    assert!(
        !store
            .first_use(ReplayKind::DpopProof, id, UnixTime(100))
            .await
            .unwrap()
    );
    for n in 0..8u8 {
        let (x, y) = join(
            store.first_use(grant, digest(n), UnixTime(200)),
            store.first_use(grant, digest(n), UnixTime(200)),
        )
        .await;
        assert!(x.unwrap() ^ y.unwrap(), "exactly one first use of {n}");
    }
    assert_eq!(
        store.purge_expired(UnixTime(100)).await.unwrap(),
        0,
        "kept through expires_at"
    );
    assert!(!store.first_use(grant, id, UnixTime(100)).await.unwrap());
    assert_eq!(store.purge_expired(UnixTime(101)).await.unwrap(), 3);
    assert!(
        store.first_use(grant, id, UnixTime(300)).await.unwrap(),
        "forgotten after the purge"
    );
    assert_eq!(store.purge_expired(UnixTime(201)).await.unwrap(), 8);
    assert!(!store.first_use(grant, id, UnixTime(300)).await.unwrap());
}

fn device(client: &str, code: &str, expires_at: u64) -> DeviceAuthorization {
    DeviceAuthorization {
        client_id: cid(client),
        user_code: crate::device::UserCode::parse(code).unwrap(),
        scope: "read".parse().unwrap(),
        resource: "https://rs.example".parse().unwrap(),
        expires_at: UnixTime(expires_at),
        interval: 5,
        last_poll: None,
        views: 0,
        status: DeviceStatus::Pending,
    }
}

/// Device authorizations (RFC 8628): unique by digest and by user code; found by user code;
/// polled with `slow_down` growth; decided once; redeemed by exactly one of concurrent polls;
/// another client's poll changes nothing; purged by expiry with their user codes.
pub async fn devices(store: &dyn DeviceCodeStore) {
    let code = |s: &str| crate::device::UserCode::parse(s).unwrap();
    let a = cid("a");
    store
        .insert(digest(1), device("a", "BBBBCCCC", 1_000))
        .await
        .unwrap();
    assert!(matches!(
        store
            .insert(digest(1), device("a", "DDDDFFFF", 1_000))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(
        matches!(
            store
                .insert(digest(2), device("a", "BBBBCCCC", 1_000))
                .await,
            Err(StoreError::Conflict(_))
        ),
        "a live user code is unique"
    );
    assert_eq!(
        store.find(&code("DDDDFFFF")).await.unwrap(),
        None,
        "nothing written"
    );
    assert_eq!(
        store.find(&code("bbbb-cccc")).await.unwrap(),
        Some(device("a", "BBBBCCCC", 1_000))
    );

    // Polling: pending, too fast (slow_down, +5 s each time), in time again.
    let poll = |n: u8, client: &ClientId, at: u64| {
        let client = client.clone();
        async move { store.poll(&digest(n), &client, UnixTime(at)).await.unwrap() }
    };
    assert_eq!(poll(1, &a, 10).await, Some(PollOutcome::Pending));
    assert_eq!(poll(1, &a, 14).await, Some(PollOutcome::SlowDown(10)));
    assert_eq!(poll(1, &a, 20).await, Some(PollOutcome::SlowDown(15)));
    assert_eq!(poll(1, &a, 35).await, Some(PollOutcome::Pending));
    assert_eq!(
        store
            .find(&code("BBBBCCCC"))
            .await
            .unwrap()
            .unwrap()
            .interval,
        15
    );
    assert_eq!(poll(9, &a, 40).await, None, "unknown");
    // Another client: refused, and nothing changes (not even the last poll).
    assert_eq!(poll(1, &cid("b"), 36).await, Some(PollOutcome::OtherClient));
    assert_eq!(
        store
            .find(&code("BBBBCCCC"))
            .await
            .unwrap()
            .unwrap()
            .last_poll,
        Some(UnixTime(35))
    );

    // Decided once; views are counted.
    let approval = DeviceApproval {
        user: uid("u"),
        auth_time: UnixTime(30),
        approved_at: UnixTime(50),
    };
    let viewed = store
        .decide(&code("BBBBCCCC"), DeviceDecision::View, UnixTime(45))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(viewed.views, 1);
    let approved = store
        .decide(
            &code("BBBBCCCC"),
            DeviceDecision::Approve(approval.clone()),
            UnixTime(50),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(approved.status, DeviceStatus::Approved(approval.clone()));
    for again in [
        DeviceDecision::Deny,
        DeviceDecision::View,
        DeviceDecision::Approve(approval.clone()),
    ] {
        assert_eq!(
            store
                .decide(&code("BBBBCCCC"), again, UnixTime(51))
                .await
                .unwrap(),
            None,
            "decided already"
        );
    }
    assert_eq!(
        store
            .decide(&code("ZZZZZZZZ"), DeviceDecision::Deny, UnixTime(51))
            .await
            .unwrap(),
        None
    );
    // Redeemed by one poll, whatever its timing; then used.
    assert_eq!(poll(1, &cid("b"), 60).await, Some(PollOutcome::OtherClient));
    let Some(PollOutcome::Approved(redeemed)) = poll(1, &a, 51).await else {
        panic!("approved")
    };
    assert_eq!(redeemed.status, DeviceStatus::Approved(approval.clone()));
    assert_eq!(poll(1, &a, 100).await, Some(PollOutcome::Used));

    // Denied: access_denied until it expires; expired: expired_token; a decision after expiry
    // changes nothing.
    store
        .insert(digest(3), device("a", "DDDDFFFF", 200))
        .await
        .unwrap();
    store
        .decide(&code("DDDDFFFF"), DeviceDecision::Deny, UnixTime(10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(poll(3, &a, 20).await, Some(PollOutcome::Denied));
    assert_eq!(poll(3, &a, 200).await, Some(PollOutcome::Expired));
    store
        .insert(digest(4), device("a", "GGGGHHHH", 100))
        .await
        .unwrap();
    assert_eq!(
        store
            .decide(
                &code("GGGGHHHH"),
                DeviceDecision::Approve(approval.clone()),
                UnixTime(100)
            )
            .await
            .unwrap(),
        None,
        "expired at expires_at"
    );
    assert_eq!(poll(4, &a, 100).await, Some(PollOutcome::Expired));

    // Too many views deny the code.
    store
        .insert(digest(5), device("a", "JJJJKKKK", 1_000))
        .await
        .unwrap();
    for n in 1..=MAX_VIEWS {
        let seen = store
            .decide(&code("JJJJKKKK"), DeviceDecision::View, UnixTime(1))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((seen.views, &seen.status), (n, &DeviceStatus::Pending));
    }
    let last = store
        .decide(&code("JJJJKKKK"), DeviceDecision::View, UnixTime(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(last.status, DeviceStatus::Denied);
    assert_eq!(poll(5, &a, 2).await, Some(PollOutcome::Denied));

    // Concurrent polls after approval: exactly one redeems.
    for n in 10..16 {
        let text = format!(
            "LLLLMMM{}",
            ["B", "C", "D", "F", "G", "H"][usize::from(n - 10)]
        );
        store
            .insert(digest(n), device("a", &text, 1_000))
            .await
            .unwrap();
        store
            .decide(
                &code(&text),
                DeviceDecision::Approve(approval.clone()),
                UnixTime(1),
            )
            .await
            .unwrap()
            .unwrap();
        let (x, y) = join(poll(n, &a, 2), poll(n, &a, 2)).await;
        let won = [&x, &y]
            .iter()
            .filter(|o| matches!(o, Some(PollOutcome::Approved(_))))
            .count();
        assert_eq!(won, 1, "{x:?} {y:?}");
    }

    // The purge drops what expired before the cutoff, and frees its user code.
    assert_eq!(
        store.purge_expired(UnixTime(100)).await.unwrap(),
        0,
        "expires_at == cutoff stays"
    );
    assert_eq!(store.purge_expired(UnixTime(201)).await.unwrap(), 2);
    assert_eq!(store.find(&code("DDDDFFFF")).await.unwrap(), None);
    assert_eq!(poll(3, &a, 300).await, None);
    store
        .insert(digest(6), device("b", "DDDDFFFF", 5_000))
        .await
        .unwrap();
    assert_eq!(store.purge_expired(UnixTime(1_001)).await.unwrap(), 8);
    assert_eq!(store.find(&code("BBBBCCCC")).await.unwrap(), None);
    assert_eq!(
        store
            .find(&code("DDDDFFFF"))
            .await
            .unwrap()
            .unwrap()
            .client_id,
        cid("b")
    );
}
