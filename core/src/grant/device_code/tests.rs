//! The device grant's state machine on the test clock: pending, slow_down growth, approval,
//! single use, denial, expiry, another client, a disabled user.

use gatehouse_token::UnixTime;

use super::*;
use crate::device::{DeviceSettings, Started, start};
use crate::ports::Clock;
use crate::request::TokenRequest;
use crate::request::device::DeviceAuthorizationRequest;
use crate::store::{ClientStore, DeviceApproval, DeviceCodeStore, DeviceDecision, UserStore};
use crate::testing::{ClientBuilder, Harness, user};

fn device_client(grants: &[&str]) -> Client {
    ClientBuilder::new().grants(grants).public().client()
}

/// A harness at time 100 with alice and `client`, and a device authorization started.
async fn setup(client: &Client) -> (Harness, Started) {
    let h = Harness::at(100);
    ClientStore::insert(&h.store, client.clone()).await.unwrap();
    UserStore::insert(&h.store, user("alice")).await.unwrap();
    let req = DeviceAuthorizationRequest {
        scope: None,
        resource: None,
    };
    let started = start(
        client,
        &req,
        &h.resources,
        &h.store,
        &h.random,
        DeviceSettings::default(),
        UnixTime(100),
    )
    .await
    .unwrap();
    (h, started)
}

fn poll_req(started: &Started) -> TokenRequest {
    TokenRequest::DeviceCode(DeviceCodeRequest {
        device_code: started.device_code.as_str().to_owned(),
    })
}

async fn decide(h: &Harness, started: &Started, decision: DeviceDecision) {
    h.store
        .decide(&started.user_code, decision, h.clock.now())
        .await
        .unwrap()
        .unwrap();
}

fn approve() -> DeviceDecision {
    DeviceDecision::Approve(DeviceApproval {
        user: user("alice").id,
        auth_time: UnixTime(100),
        approved_at: UnixTime(100),
    })
}

const DEVICE: &str = "urn:ietf:params:oauth:grant-type:device_code";

#[tokio::test]
async fn pending_slow_down_then_tokens_once() {
    let client = device_client(&[DEVICE, "refresh_token"]);
    let (h, started) = setup(&client).await;
    assert!(started.device_code.as_str().starts_with("gdc_"));
    assert_eq!((started.expires_in, started.interval), (600, 5));
    let ctx = h.context();
    let req = poll_req(&started);
    let poll = || crate::grant::exchange(&ctx, &client, &req);
    assert_eq!(poll().await.unwrap_err(), TokenError::AuthorizationPending);
    // Too fast: slow_down, and each too-fast poll adds 5 s more (RFC 8628 §3.5).
    h.clock.advance(4);
    assert_eq!(poll().await.unwrap_err(), TokenError::SlowDown(10));
    h.clock.advance(9);
    assert_eq!(poll().await.unwrap_err(), TokenError::SlowDown(15));
    h.clock.advance(15);
    assert_eq!(poll().await.unwrap_err(), TokenError::AuthorizationPending);
    decide(&h, &started, approve()).await;
    let issued = poll().await.unwrap();
    assert!(
        issued.refresh_token.is_some(),
        "the client has the refresh grant"
    );
    let claims = h.signer.signed().pop().unwrap();
    assert_eq!(
        (claims.sub.as_str(), claims.client_id.as_str()),
        ("id-alice", client.id.as_str())
    );
    assert_eq!(
        claims.aud,
        gatehouse_token::Audience::One("https://rs.example".into())
    );
    // Single use.
    h.clock.advance(30);
    assert!(matches!(poll().await, Err(TokenError::InvalidGrant(_))));
}

#[tokio::test]
async fn another_clients_poll_is_invalid_grant_and_changes_nothing() {
    let client = device_client(&[DEVICE]);
    let other = device_client(&[DEVICE]);
    let (h, started) = setup(&client).await;
    ClientStore::insert(&h.store, other.clone()).await.unwrap();
    decide(&h, &started, approve()).await;
    let ctx = h.context();
    let stolen = crate::grant::exchange(&ctx, &other, &poll_req(&started)).await;
    assert!(
        matches!(stolen, Err(TokenError::InvalidGrant(_))),
        "{stolen:?}"
    );
    let issued = crate::grant::exchange(&ctx, &client, &poll_req(&started))
        .await
        .unwrap();
    assert!(
        issued.refresh_token.is_none(),
        "no refresh grant, no refresh token"
    );
}

#[tokio::test]
async fn denied_expired_and_garbage() {
    let client = device_client(&[DEVICE]);
    let (h, started) = setup(&client).await;
    let ctx = h.context();
    decide(&h, &started, DeviceDecision::Deny).await;
    assert!(matches!(
        crate::grant::exchange(&ctx, &client, &poll_req(&started)).await,
        Err(TokenError::AccessDenied(_))
    ));
    h.clock.advance(600);
    assert!(matches!(
        crate::grant::exchange(&ctx, &client, &poll_req(&started)).await,
        Err(TokenError::ExpiredToken(_))
    ));
    for garbage in [
        "",
        "gdc_",
        "gdc_short",
        &format!("gdc_{}", "é".repeat(43)),
        &"x".repeat(10_000),
    ] {
        let req = TokenRequest::DeviceCode(DeviceCodeRequest {
            device_code: garbage.into(),
        });
        assert!(
            matches!(
                crate::grant::exchange(&ctx, &client, &req).await,
                Err(TokenError::InvalidGrant(_))
            ),
            "{garbage:?}"
        );
    }
}

#[tokio::test]
async fn a_user_disabled_after_approval_gets_nothing() {
    let client = device_client(&[DEVICE]);
    let (h, started) = setup(&client).await;
    decide(&h, &started, approve()).await;
    let mut alice = user("alice");
    alice.disabled = true;
    UserStore::update(&h.store, alice).await.unwrap();
    let ctx = h.context();
    assert!(matches!(
        crate::grant::exchange(&ctx, &client, &poll_req(&started)).await,
        Err(TokenError::InvalidGrant(_))
    ));
    assert!(h.signer.signed().is_empty(), "nothing was signed");
}

#[tokio::test]
async fn only_clients_given_the_grant() {
    let client = ClientBuilder::new().client();
    let h = Harness::at(100);
    let req = DeviceAuthorizationRequest {
        scope: None,
        resource: None,
    };
    let refused = start(
        &client,
        &req,
        &h.resources,
        &h.store,
        &h.random,
        DeviceSettings::default(),
        UnixTime(100),
    )
    .await;
    assert!(
        matches!(refused, Err(TokenError::UnauthorizedClient(_))),
        "{refused:?}"
    );
    let poll = TokenRequest::DeviceCode(DeviceCodeRequest {
        device_code: "gdc_x".into(),
    });
    assert!(matches!(
        crate::grant::exchange(&h.context(), &client, &poll).await,
        Err(TokenError::UnauthorizedClient(_))
    ));
}

/// RFC 9449 §5.2: a poll refused because a `dpop_bound_access_tokens` client sent no proof
/// leaves the approved device code redeemable (the person's approval is not lost).
#[tokio::test]
async fn a_binding_refusal_leaves_the_device_code_redeemable() {
    let mut client = device_client(&[DEVICE]);
    client.binding.dpop_bound_access_tokens = true;
    let (h, started) = setup(&client).await;
    decide(&h, &started, approve()).await;
    let req = poll_req(&started);
    let err = crate::grant::exchange(&h.context(), &client, &req)
        .await
        .unwrap_err();
    assert!(matches!(err, TokenError::InvalidDpopProof(_)), "{err:?}");
    h.clock.advance(5);
    let proof = crate::binding::Holder::dpop("jkt");
    let mut ctx = h.context();
    ctx.holder = &proof;
    crate::grant::exchange(&ctx, &client, &req).await.unwrap();
    let claims = h.signer.signed().pop().unwrap();
    assert_eq!(claims.cnf.unwrap().jkt.as_deref(), Some("jkt"));
}
