use gatehouse_token::UnixTime;

use super::*;
use crate::client::Client;
use crate::request::TokenRequest;
use crate::store::{ClientStore, RefreshTokenStore, UserStore};
use crate::testing::{ClientBuilder, Harness, user};

/// A harness at time 100 with alice, `client`, and a first refresh token of a family.
async fn setup(client: &Client) -> (Harness, String) {
    let h = Harness::at(100);
    ClientStore::insert(&h.store, client.clone()).await.unwrap();
    UserStore::insert(&h.store, user("alice")).await.unwrap();
    let text = RefreshTokenText::from_random([5; 32]);
    let record = RefreshToken {
        family: "fam".into(),
        client_id: client.id.clone(),
        user: user("alice").id,
        scope: "read write".parse().unwrap(),
        resources: vec!["https://rs.example".parse().unwrap()],
        auth_time: UnixTime(90),
        issued_at: UnixTime(100),
        idle_expires_at: UnixTime(1_100),
        expires_at: UnixTime(10_100),
        sid: Some("sid-1".into()),
        cnf: None,
    };
    RefreshTokenStore::insert(&h.store, text.digest(), record)
        .await
        .unwrap();
    (h, text.as_str().to_owned())
}

fn req(token: &str, scope: Option<&str>) -> TokenRequest {
    TokenRequest::RefreshToken(RefreshTokenRequest {
        refresh_token: token.into(),
        scope: scope.map(|s| s.parse().unwrap()),
        resource: None,
    })
}

fn client() -> Client {
    ClientBuilder::new()
        .code_flow()
        .scope("read write")
        .public()
        .client()
}

#[tokio::test]
async fn a_refresh_rotates_and_narrows_but_never_widens() {
    let c = client();
    let (h, first) = setup(&c).await;
    let issued = crate::grant::exchange(&h.context(), &c, &req(&first, Some("read")))
        .await
        .unwrap();
    assert_eq!(issued.scope.to_string(), "read");
    assert!(h.signer.id_tokens().is_empty(), "no openid, no ID token");
    let second = issued.refresh_token.unwrap();
    assert_ne!(second, first);
    let (next, _) = RefreshTokenStore::get(&h.store, &SecretDigest::of(&second))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        next.scope.to_string(),
        "read write",
        "the refresh token keeps its scope"
    );
    assert_eq!(next.family, "fam");
    assert!(matches!(
        crate::grant::exchange(&h.context(), &c, &req(&second, Some("read admin"))).await,
        Err(TokenError::InvalidScope(_))
    ));
}

#[tokio::test]
async fn a_repeat_within_the_grace_window_gets_the_same_successor_after_it_kills_the_family() {
    let c = client();
    let (h, first) = setup(&c).await;
    let a = crate::grant::exchange(&h.context(), &c, &req(&first, None))
        .await
        .unwrap();
    h.clock.advance(29);
    let b = crate::grant::exchange(&h.context(), &c, &req(&first, None))
        .await
        .unwrap();
    assert_eq!(a.refresh_token, b.refresh_token, "two tabs, one successor");
    assert_ne!(a.access_token, b.access_token);
    h.clock.advance(1);
    assert!(matches!(
        crate::grant::exchange(&h.context(), &c, &req(&first, None)).await,
        Err(TokenError::InvalidGrant(_))
    ));
    assert_eq!(
        h.alarms.reused.lock().unwrap().clone(),
        vec![(c.id.clone(), "fam".to_owned())]
    );
    let successor = a.refresh_token.unwrap();
    assert!(
        matches!(
            crate::grant::exchange(&h.context(), &c, &req(&successor, None)).await,
            Err(TokenError::InvalidGrant(_))
        ),
        "the whole family is dead"
    );
}

/// Two refreshes joined on one task: one successor. The true race runs in the store suite
/// (redb, threads) and in the e2e tests.
#[tokio::test]
async fn two_joined_refreshes_yield_one_successor() {
    let c = client();
    let (h, first) = setup(&c).await;
    let ctx = h.context();
    let (r1, r2) = (req(&first, None), req(&first, None));
    let (a, b) = tokio::join!(
        crate::grant::exchange(&ctx, &c, &r1),
        crate::grant::exchange(&ctx, &c, &r2)
    );
    assert_eq!(a.unwrap().refresh_token, b.unwrap().refresh_token);
}

#[tokio::test]
async fn another_clients_garbage_expired_and_disabled_are_refused_untouched() {
    let c = client();
    let (h, first) = setup(&c).await;
    let thief = client();
    assert!(matches!(
        crate::grant::exchange(&h.context(), &thief, &req(&first, None)).await,
        Err(TokenError::InvalidGrant(_))
    ));
    assert!(matches!(
        crate::grant::exchange(&h.context(), &c, &req("grt_garbage", None)).await,
        Err(TokenError::InvalidGrant(_))
    ));
    assert!(
        crate::grant::exchange(&h.context(), &c, &req(&first, None))
            .await
            .is_ok(),
        "the thief's attempt did not burn it"
    );
    let (h, first) = setup(&c).await;
    h.clock.advance(1_000);
    assert!(matches!(
        crate::grant::exchange(&h.context(), &c, &req(&first, None)).await,
        Err(TokenError::InvalidGrant(_))
    ));
    let (h, first) = setup(&c).await;
    let mut alice = user("alice");
    alice.disabled = true;
    UserStore::update(&h.store, alice).await.unwrap();
    assert!(matches!(
        crate::grant::exchange(&h.context(), &c, &req(&first, None)).await,
        Err(TokenError::InvalidGrant(_))
    ));
}

#[tokio::test]
async fn confidential_clients_may_keep_their_token() {
    let c = ClientBuilder::new()
        .code_flow()
        .scope("read write")
        .client();
    let (mut h, first) = setup(&c).await;
    h.settings.refresh.rotate_confidential = false;
    let issued = crate::grant::exchange(&h.context(), &c, &req(&first, None))
        .await
        .unwrap();
    assert_eq!(issued.refresh_token, None);
    let again = crate::grant::exchange(&h.context(), &c, &req(&first, None)).await;
    assert!(again.is_ok(), "a token that does not rotate is used again");
}

#[tokio::test]
async fn a_refreshed_id_token_names_the_sign_in_it_came_from() {
    let c = ClientBuilder::new()
        .code_flow()
        .scope("openid read write")
        .public()
        .client();
    let (h, _) = setup(&c).await;
    let text = RefreshTokenText::from_random([6; 32]);
    let (first, _) =
        RefreshTokenStore::get(&h.store, &RefreshTokenText::from_random([5; 32]).digest())
            .await
            .unwrap()
            .unwrap();
    let record = RefreshToken {
        family: "oidc".into(),
        scope: "openid read".parse().unwrap(),
        ..first
    };
    RefreshTokenStore::insert(&h.store, text.digest(), record)
        .await
        .unwrap();
    crate::grant::exchange(&h.context(), &c, &req(text.as_str(), Some("openid read")))
        .await
        .unwrap();
    let claims = h.signer.id_tokens().pop().unwrap();
    assert_eq!(claims.sid.as_deref(), Some("sid-1"));
    assert_eq!(claims.nonce, None);
    assert_eq!(claims.auth_time, UnixTime(90));
}

/// Keycloak #36475: a public client's DPoP-bound refresh token is refreshed only with a proof
/// by the same key; a refusal changes nothing (the token is not rotated).
#[tokio::test]
async fn a_bound_refresh_token_needs_the_same_key() {
    use crate::binding::{Holder, NO_HOLDER};
    let c = client();
    let (h, first) = setup(&c).await;
    let digest = SecretDigest::of(&first);
    let (mut record, _) = RefreshTokenStore::get(&h.store, &digest)
        .await
        .unwrap()
        .unwrap();
    record.cnf = Some(gatehouse_token::Confirmation::dpop("key-1"));
    let text = RefreshTokenText::from_random([6; 32]);
    RefreshTokenStore::insert(&h.store, text.digest(), record)
        .await
        .unwrap();
    let bound = text.as_str().to_owned();
    for holder in [NO_HOLDER.clone(), Holder::dpop("key-2")] {
        let mut ctx = h.context();
        ctx.holder = &holder;
        assert!(matches!(
            crate::grant::exchange(&ctx, &c, &req(&bound, None)).await,
            Err(TokenError::InvalidDpopProof(_))
        ));
    }
    let holder = Holder::dpop("key-1");
    let mut ctx = h.context();
    ctx.holder = &holder;
    let issued = crate::grant::exchange(&ctx, &c, &req(&bound, None))
        .await
        .expect("not rotated by the refusals: the same key refreshes");
    let (next, _) =
        RefreshTokenStore::get(&h.store, &SecretDigest::of(&issued.refresh_token.unwrap()))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(
        next.cnf.unwrap().jkt.as_deref(),
        Some("key-1"),
        "the successor stays bound"
    );
}
