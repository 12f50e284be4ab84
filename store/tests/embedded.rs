//! The embedded store keeps the storage contract, and keeps it across a reopen.

use gatehouse_core::client::{ClientId, ClientRegistration};
use gatehouse_core::memory::CountingRandom;
use gatehouse_core::store::{
    AccessTokenStore, ClientStore, KeyRecord, KeyState, KeyStore, RevocationStore, StoreError,
};
use gatehouse_store::{EmbeddedStore, OpenError};
use gatehouse_token::{AccessTokenClaims, Algorithm, Audience, OpaqueToken, UnixTime};

fn registration(name: &str) -> ClientRegistration {
    ClientRegistration {
        name: name.into(),
        grant_types: vec!["client_credentials".into()],
        scope: "read".into(),
        resources: vec!["https://rs.example".into()],
        access_token_lifetime: None,
        token_format: Default::default(),
        introspection: Default::default(),
    }
}

fn claims(exp: u64) -> AccessTokenClaims {
    AccessTokenClaims {
        iss: "https://as".into(),
        sub: "c".into(),
        aud: Audience::One("https://rs".into()),
        client_id: "c".into(),
        scope: None,
        iat: UnixTime(0),
        nbf: None,
        exp: UnixTime(exp),
        jti: "j".into(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn everything_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let random = CountingRandom::default();
    let (client, _) = registration("a").register(&random, UnixTime(1)).unwrap();
    let token = OpaqueToken::from_random([3; 32]);
    {
        let store = EmbeddedStore::open(dir.path()).unwrap();
        ClientStore::insert(&store, client.clone()).await.unwrap();
        AccessTokenStore::insert(&store, token.digest(), claims(100), 10)
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
                backend: "software".into(),
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
    let stored = AccessTokenStore::get(&store, &token.digest())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.claims, claims(100));
    assert_eq!(
        store.live_page(UnixTime(150), None, 10).await.unwrap(),
        vec![("jti-9".to_owned(), UnixTime(200))]
    );
    assert_eq!(KeyStore::list(&store).await.unwrap()[0].kid, "k1");
    // The per-client indexes survive too.
    assert_eq!(store.count_client_tokens("c").await.unwrap(), 1);
    assert!(matches!(
        RevocationStore::revoke_owned(&store, "c", "jti-10", UnixTime(200), 1).await,
        Err(StoreError::LimitReached(_))
    ));
}

/// Issue 8, item 9: the database holds software private keys and secret digests.
#[tokio::test(flavor = "multi_thread")]
async fn the_database_file_is_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(gatehouse_store::embedded::FILE_NAME);
    drop(EmbeddedStore::open(dir.path()).unwrap());
    let mode = |f: &std::path::Path| std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&file), 0o600);
    // A file an older version left readable is tightened.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    drop(EmbeddedStore::open(dir.path()).unwrap());
    assert_eq!(mode(&file), 0o600);
}

fn owned_claims(client_id: &str, exp: u64) -> AccessTokenClaims {
    AccessTokenClaims {
        client_id: client_id.into(),
        ..claims(exp)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn per_client_quotas_deletion_and_purge() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    let tokens: Vec<OpaqueToken> = (0..4u8)
        .map(|i| OpaqueToken::from_random([i; 32]))
        .collect();
    // Client a holds two tokens (its quota), one expiring early; b holds one.
    for (token, client, exp) in [
        (&tokens[0], "a", 50),
        (&tokens[1], "a", 500),
        (&tokens[2], "b", 500),
    ] {
        AccessTokenStore::insert(&store, token.digest(), owned_claims(client, exp), 2)
            .await
            .unwrap();
    }
    assert!(matches!(
        AccessTokenStore::insert(&store, tokens[3].digest(), owned_claims("a", 500), 2).await,
        Err(StoreError::LimitReached(_))
    ));
    assert!(
        AccessTokenStore::get(&store, &tokens[3].digest())
            .await
            .unwrap()
            .is_none()
    );
    // The purge frees a's quota along with its expired token.
    assert_eq!(
        AccessTokenStore::purge_expired(&store, UnixTime(100))
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.count_client_tokens("a").await.unwrap(), 1);
    AccessTokenStore::insert(&store, tokens[3].digest(), owned_claims("a", 500), 2)
        .await
        .unwrap();
    // Deleting a's tokens leaves b's.
    assert_eq!(store.delete_client_tokens("a").await.unwrap(), 2);
    assert_eq!(store.count_client_tokens("a").await.unwrap(), 0);
    for (token, present) in [(&tokens[1], false), (&tokens[2], true), (&tokens[3], false)] {
        let found = AccessTokenStore::get(&store, &token.digest())
            .await
            .unwrap();
        assert_eq!(found.is_some(), present);
    }

    // Revocations: a quota per client, a repeat costs nothing, the purge frees it.
    RevocationStore::revoke_owned(&store, "a", "j1", UnixTime(50), 2)
        .await
        .unwrap();
    RevocationStore::revoke_owned(&store, "a", "j2", UnixTime(500), 2)
        .await
        .unwrap();
    RevocationStore::revoke_owned(&store, "a", "j2", UnixTime(500), 2)
        .await
        .unwrap();
    RevocationStore::revoke_owned(&store, "b", "j3", UnixTime(500), 2)
        .await
        .unwrap();
    assert!(matches!(
        RevocationStore::revoke_owned(&store, "a", "j4", UnixTime(500), 2).await,
        Err(StoreError::LimitReached(_))
    ));
    assert_eq!(
        RevocationStore::purge_expired(&store, UnixTime(100))
            .await
            .unwrap(),
        1
    );
    RevocationStore::revoke_owned(&store, "a", "j4", UnixTime(500), 2)
        .await
        .unwrap();
    let live: Vec<String> = store
        .live_page(UnixTime(0), None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|(jti, _)| jti)
        .collect();
    assert_eq!(live, ["j2", "j3", "j4"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn clients_insert_conflict_list_delete() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    let random = CountingRandom::default();
    let (a, _) = registration("a").register(&random, UnixTime(1)).unwrap();
    let (b, _) = registration("b").register(&random, UnixTime(1)).unwrap();
    ClientStore::insert(&store, a.clone()).await.unwrap();
    ClientStore::insert(&store, b.clone()).await.unwrap();
    assert!(matches!(
        ClientStore::insert(&store, a.clone()).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(ClientStore::list(&store).await.unwrap().len(), 2);
    assert!(ClientStore::delete(&store, &a.id).await.unwrap());
    assert!(!ClientStore::delete(&store, &a.id).await.unwrap());
    assert!(ClientStore::get(&store, &a.id).await.unwrap().is_none());
    let unknown = ClientId::new("nope").unwrap();
    assert!(ClientStore::get(&store, &unknown).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn opaque_tokens_revoke_and_purge() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    let (live, dead) = (
        OpaqueToken::from_random([1; 32]),
        OpaqueToken::from_random([2; 32]),
    );
    AccessTokenStore::insert(&store, live.digest(), claims(500), 10)
        .await
        .unwrap();
    AccessTokenStore::insert(&store, dead.digest(), claims(50), 10)
        .await
        .unwrap();
    assert!(
        AccessTokenStore::revoke(&store, &live.digest())
            .await
            .unwrap()
    );
    assert!(
        AccessTokenStore::get(&store, &live.digest())
            .await
            .unwrap()
            .unwrap()
            .revoked
    );
    let missing = OpaqueToken::from_random([4; 32]);
    assert!(
        !AccessTokenStore::revoke(&store, &missing.digest())
            .await
            .unwrap()
    );
    assert_eq!(
        AccessTokenStore::purge_expired(&store, UnixTime(100))
            .await
            .unwrap(),
        1
    );
    assert!(
        AccessTokenStore::get(&store, &dead.digest())
            .await
            .unwrap()
            .is_none()
    );

    RevocationStore::revoke_many(
        &store,
        vec![("old".into(), UnixTime(10)), ("new".into(), UnixTime(1000))],
    )
    .await
    .unwrap();
    assert_eq!(
        RevocationStore::purge_expired(&store, UnixTime(100))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store.live_page(UnixTime(0), None, 10).await.unwrap().len(),
        1
    );
}
