//! The behaviour every storage backend must show, as one suite each backend runs on a fresh,
//! empty store: the in-memory reference here, redb in `gatehouse-store`, Redis later. A
//! backend that passes keeps the rules of [`crate::store`]: writes are visible at once, absence
//! is `Ok(None)`, quotas refuse without writing, purges go by the cutoff given.

use gatehouse_token::{AccessTokenClaims, Algorithm, Audience, OpaqueToken, UnixTime};

use super::ClientBuilder;
use crate::client::ClientId;
use crate::store::{
    AccessTokenStore, ClientStore, KeyRecord, KeyState, KeyStore, RevocationStore, StoreError,
};

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
    assert!(store.delete(&a.id).await.unwrap());
    assert!(!store.delete(&a.id).await.unwrap());
    assert!(store.get(&a.id).await.unwrap().is_none());
    assert!(!store.contains(a.id.as_str()).await.unwrap());
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
