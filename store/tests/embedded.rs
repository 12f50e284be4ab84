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
        AccessTokenStore::insert(&store, token.digest(), claims(100))
            .await
            .unwrap();
        RevocationStore::revoke(&store, "jti-9", UnixTime(200))
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
    AccessTokenStore::insert(&store, live.digest(), claims(500))
        .await
        .unwrap();
    AccessTokenStore::insert(&store, dead.digest(), claims(50))
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

    RevocationStore::revoke(&store, "old", UnixTime(10))
        .await
        .unwrap();
    RevocationStore::revoke(&store, "new", UnixTime(1000))
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
