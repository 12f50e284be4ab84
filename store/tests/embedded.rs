//! The embedded store keeps the storage contract (the one suite every backend runs), keeps it
//! across a reopen, and keeps its file owner-only.

use gatehouse_core::client::ClientId;
use gatehouse_core::store::{
    AccessTokenStore, AuthorizationCode, ClientStore, CodeStore, Consent, ConsentStore, KeyRecord,
    KeyState, KeyStore, Redemption, RefreshToken, RefreshTokenStore, RevocationStore, Rotation,
    SecretStore, Session, SessionStore, StoreError, UserStore,
};
use gatehouse_core::testing::{ClientBuilder, suite};
use gatehouse_store::embedded::FILE_NAME;
use gatehouse_store::{EmbeddedStore, OpenError};
use gatehouse_token::{
    AccessTokenClaims, Algorithm, Audience, OpaqueToken, SecretDigest, UnixTime,
};

fn store() -> (tempfile::TempDir, EmbeddedStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    (dir, store)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_store_suite() {
    suite::clients(&store().1).await;
    suite::resources(&store().1).await;
    suite::access_tokens(&store().1).await;
    suite::revocations(&store().1).await;
    suite::keys(&store().1).await;
    suite::users(&store().1).await;
    suite::sessions(&store().1).await;
    suite::consents(&store().1).await;
    suite::codes(&store().1).await;
    suite::refresh_tokens(&store().1).await;
    suite::par(&store().1).await;
    suite::secrets(&store().1).await;
    suite::replay(&store().1).await;
    suite::devices(&store().1).await;
}

fn claims(client_id: &str, exp: u64) -> AccessTokenClaims {
    AccessTokenClaims {
        iss: "https://as".into(),
        sub: client_id.into(),
        aud: Audience::One("https://rs".into()),
        client_id: client_id.into(),
        scope: None,
        iat: UnixTime(0),
        nbf: None,
        exp: UnixTime(exp),
        jti: "j".into(),
        act: None,
        cnf: None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn everything_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let client = ClientBuilder::new().client();
    let public = ClientBuilder::new().public().client();
    let token = OpaqueToken::from_random([3; 32]);
    {
        let store = EmbeddedStore::open(dir.path()).unwrap();
        ClientStore::insert(&store, client.clone()).await.unwrap();
        ClientStore::insert(&store, public.clone()).await.unwrap();
        AccessTokenStore::insert(&store, token.digest(), claims("c", 100), 10)
            .await
            .unwrap();
        RevocationStore::revoke_owned(&store, "c", "jti-9", UnixTime(200), 10)
            .await
            .unwrap();
        KeyStore::put(
            &store,
            KeyRecord {
                kid: "k1".into(),
                alg: Algorithm::ES256,
                backend: gatehouse_token::BackendKind::Software,
                material: "AAAA".into(),
                state: KeyState::Active,
                created_at: UnixTime(1),
                activated_at: Some(UnixTime(1)),
                retired_at: None,
                publish_until: None,
            },
        )
        .await
        .unwrap();
        assert!(
            matches!(EmbeddedStore::open(dir.path()), Err(OpenError::InUse(_))),
            "a second process must not open the same data directory"
        );
    }
    let store = EmbeddedStore::open(dir.path()).unwrap();
    assert_eq!(
        *ClientStore::get(&store, &client.id).await.unwrap().unwrap(),
        client
    );
    assert_eq!(
        *ClientStore::get(&store, &public.id).await.unwrap().unwrap(),
        public,
        "a public client stays public"
    );
    let stored = AccessTokenStore::get(&store, &token.digest())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.claims, claims("c", 100));
    assert_eq!(
        store.live_page(UnixTime(150), None, 10).await.unwrap(),
        vec![("jti-9".to_owned(), UnixTime(200))]
    );
    assert_eq!(KeyStore::list(&store).await.unwrap()[0].kid, "k1");
    // The per-client indexes and the time indexes survive too.
    assert_eq!(store.count_client_tokens("c").await.unwrap(), 1);
    assert!(matches!(
        RevocationStore::revoke_owned(&store, "c", "jti-10", UnixTime(200), 1).await,
        Err(StoreError::LimitReached(_))
    ));
    assert_eq!(
        AccessTokenStore::purge_expired(&store, UnixTime(101))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        RevocationStore::purge_expired(&store, UnixTime(201))
            .await
            .unwrap(),
        1
    );
    let unknown = ClientId::new("nope").unwrap();
    assert!(ClientStore::get(&store, &unknown).await.unwrap().is_none());
}

/// Users, sessions, consents, codes, refresh tokens and secrets survive a reopen, with their
/// indexes (by id, by user, by client, by time).
#[tokio::test(flavor = "multi_thread")]
async fn people_and_single_use_items_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let alice = gatehouse_core::testing::user("alice");
    let client = ClientId::new("c").unwrap();
    let session = Session {
        user: alice.id.clone(),
        auth_time: UnixTime(1),
        expires_at: UnixTime(100),
    };
    let consent = Consent {
        scope: "read".parse().unwrap(),
        resources: vec!["https://rs.example".parse().unwrap()],
        granted_at: UnixTime(1),
    };
    let code = AuthorizationCode {
        client_id: client.clone(),
        redirect_uri: None,
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
        user: alice.id.clone(),
        auth_time: UnixTime(1),
        scope: "read".parse().unwrap(),
        resource: "https://rs.example".parse().unwrap(),
        nonce: None,
        session: SecretDigest([1; 32]),
        expires_at: UnixTime(60),
        dpop_jkt: Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into()),
    };
    let refresh = RefreshToken {
        family: "f".into(),
        client_id: client.clone(),
        user: alice.id.clone(),
        scope: "read".parse().unwrap(),
        resources: vec!["https://rs.example".parse().unwrap()],
        auth_time: UnixTime(1),
        issued_at: UnixTime(1),
        idle_expires_at: UnixTime(50),
        expires_at: UnixTime(500),
        sid: Some("s".into()),
        cnf: Some(gatehouse_token::Confirmation::dpop(
            "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I",
        )),
    };
    let (old, new) = (SecretDigest([2; 32]), SecretDigest([3; 32]));
    {
        let store = EmbeddedStore::open(dir.path()).unwrap();
        UserStore::insert(&store, alice.clone()).await.unwrap();
        SessionStore::insert(&store, SecretDigest([1; 32]), session.clone())
            .await
            .unwrap();
        ConsentStore::put(&store, &alice.id, &client, consent.clone())
            .await
            .unwrap();
        CodeStore::insert(&store, SecretDigest([4; 32]), code.clone())
            .await
            .unwrap();
        assert_eq!(
            store.redeem(&SecretDigest([4; 32])).await.unwrap(),
            Redemption::Fresh(code.clone())
        );
        RefreshTokenStore::insert(&store, old, refresh.clone())
            .await
            .unwrap();
        let rotated = store
            .rotate(&old, new, refresh.clone(), UnixTime(10), 5)
            .await
            .unwrap();
        assert_eq!(rotated, Rotation::Rotated(refresh.clone()));
        assert_eq!(store.get_or_create("csrf", [7; 32]).await.unwrap(), [7; 32]);
    }
    let store = EmbeddedStore::open(dir.path()).unwrap();
    assert_eq!(
        store.get_by_id(&alice.id).await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(
        SessionStore::get(&store, &SecretDigest([1; 32]))
            .await
            .unwrap(),
        Some(session)
    );
    assert_eq!(
        store.list_user(&alice.id).await.unwrap(),
        [(client.clone(), consent)]
    );
    assert_eq!(
        store.redeem(&SecretDigest([4; 32])).await.unwrap(),
        Redemption::Replayed(code, None),
        "used stays used"
    );
    assert_eq!(
        store
            .rotate(&old, new, refresh.clone(), UnixTime(12), 5)
            .await
            .unwrap(),
        Rotation::Grace(refresh.clone()),
        "the rotation is remembered"
    );
    assert_eq!(store.get_or_create("csrf", [8; 32]).await.unwrap(), [7; 32]);
    assert_eq!(store.delete_user_sessions(&alice.id).await.unwrap(), 1);
    assert_eq!(store.delete_client(&client).await.unwrap(), 1);
    assert_eq!(store.revoke_user(&alice.id).await.unwrap(), 1);
    assert_eq!(
        CodeStore::purge_expired(&store, UnixTime(61))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        RefreshTokenStore::purge_expired(&store, UnixTime(501))
            .await
            .unwrap(),
        2
    );
}

/// A database written before the time indexes existed gets them at open, so its expired rows
/// are still purged.
#[tokio::test(flavor = "multi_thread")]
async fn a_database_without_time_indexes_gets_them_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let token = OpaqueToken::from_random([4; 32]);
    {
        let store = EmbeddedStore::open(dir.path()).unwrap();
        AccessTokenStore::insert(&store, token.digest(), claims("c", 100), 10)
            .await
            .unwrap();
        store
            .revoke_many(vec![("old".into(), UnixTime(100))])
            .await
            .unwrap();
    }
    {
        let db = redb::Database::open(dir.path().join(FILE_NAME)).unwrap();
        let txn = db.begin_write().unwrap();
        let tokens: redb::TableDefinition<(u64, &[u8; 32]), &str> =
            redb::TableDefinition::new("access_token_expiry");
        let revocations: redb::TableDefinition<(u64, &str), &str> =
            redb::TableDefinition::new("revocation_expiry");
        assert!(txn.delete_table(tokens).unwrap());
        assert!(txn.delete_table(revocations).unwrap());
        txn.commit().unwrap();
    }
    let store = EmbeddedStore::open(dir.path()).unwrap();
    assert_eq!(
        AccessTokenStore::purge_expired(&store, UnixTime(101))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        RevocationStore::purge_expired(&store, UnixTime(101))
            .await
            .unwrap(),
        1
    );
    assert!(
        AccessTokenStore::get(&store, &token.digest())
            .await
            .unwrap()
            .is_none()
    );
}

/// Issue 8, item 9: the database holds software private keys and secret digests.
#[tokio::test(flavor = "multi_thread")]
async fn the_database_file_is_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(FILE_NAME);
    drop(EmbeddedStore::open(dir.path()).unwrap());
    let mode = |f: &std::path::Path| std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&file), 0o600);
    // A file an older version left readable is tightened.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    drop(EmbeddedStore::open(dir.path()).unwrap());
    assert_eq!(mode(&file), 0o600);
}
