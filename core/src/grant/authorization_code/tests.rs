use gatehouse_token::UnixTime;

use super::*;
use crate::authorize::code::{self, Approval};
use crate::authorize::{self as authz, AuthorizationRequest};
use crate::form::Form;
use crate::store::{ClientStore, RefreshTokenStore, UserStore};
use crate::testing::{ClientBuilder, Harness, user};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// A harness with a user and `client` registered, and a code issued for `client` at time 100.
async fn setup(client: &Client, extra: &str) -> (Harness, String) {
    let h = Harness::at(100);
    ClientStore::insert(&h.store, client.clone()).await.unwrap();
    UserStore::insert(&h.store, user("alice")).await.unwrap();
    let session = crate::store::Session {
        user: user("alice").id,
        auth_time: UnixTime(90),
        expires_at: UnixTime(10_000),
    };
    crate::store::SessionStore::insert(&h.store, SecretDigest::of("session"), session)
        .await
        .unwrap();
    let q = format!(
        "response_type=code&client_id={}&code_challenge={CHALLENGE}&code_challenge_method=S256{extra}",
        client.id
    );
    let req: AuthorizationRequest = authz::parse(
        &Form::parse(q.as_bytes()).unwrap(),
        authz::Checks {
            clients: &h.store,
            resources: &h.resources,
            issuer: "https://as.example",
        },
    )
    .await
    .unwrap();
    let who = Approval {
        user: user("alice").id,
        auth_time: UnixTime(90),
        session: SecretDigest::of("session"),
    };
    let text = code::issue(&req, &who, &h.store, &h.random, UnixTime(100))
        .await
        .unwrap();
    (h, text)
}

fn req(code: &str) -> AuthorizationCodeRequest {
    AuthorizationCodeRequest {
        code: code.into(),
        redirect_uri: None,
        code_verifier: Some(VERIFIER.into()),
        resource: None,
    }
}

fn exchange_req(code: &str) -> crate::request::TokenRequest {
    crate::request::TokenRequest::AuthorizationCode(req(code))
}

#[tokio::test]
async fn a_code_is_exchanged_once_for_an_access_and_a_refresh_token() {
    let client = ClientBuilder::new().code_flow().public().client();
    let (h, code) = setup(&client, "").await;
    let issued = crate::grant::exchange(&h.context(), &client, &exchange_req(&code))
        .await
        .unwrap();
    let claims = h.signer.signed().pop().unwrap();
    assert_eq!(claims.sub, "id-alice");
    assert_eq!(claims.client_id, client.id.as_str());
    let refresh = issued.refresh_token.unwrap();
    assert!(refresh.starts_with("grt_"));
    let (stored, revoked) = RefreshTokenStore::get(&h.store, &SecretDigest::of(&refresh))
        .await
        .unwrap()
        .unwrap();
    assert!(!revoked);
    assert_eq!(stored.auth_time, UnixTime(90));
    // The second use fails and the alarm hears what the first one was exchanged for.
    let again = crate::grant::exchange(&h.context(), &client, &exchange_req(&code)).await;
    assert!(matches!(again, Err(TokenError::InvalidGrant(_))));
    let replayed = h.alarms.replayed.lock().unwrap().clone();
    let (by, what) = replayed.last().unwrap();
    assert_eq!(by, &client.id);
    let what = what.clone().unwrap();
    assert_eq!(what.access_jti, claims.jti);
    assert_eq!(what.refresh_family.as_deref(), Some(stored.family.as_str()));
}

#[tokio::test]
async fn a_replay_without_the_verifier_or_by_another_client_revokes_nothing() {
    let client = ClientBuilder::new().code_flow().public().client();
    let other = ClientBuilder::new().code_flow().public().client();
    let (h, code) = setup(&client, "").await;
    ClientStore::insert(&h.store, other.clone()).await.unwrap();
    crate::grant::exchange(&h.context(), &client, &exchange_req(&code))
        .await
        .unwrap();
    let mut wrong = req(&code);
    wrong.code_verifier = Some("y".repeat(43));
    assert!(matches!(
        grant(&h.context(), &client, &wrong).await,
        Err(TokenError::InvalidGrant(_))
    ));
    assert!(matches!(
        grant(&h.context(), &other, &req(&code)).await,
        Err(TokenError::InvalidGrant(_))
    ));
    assert!(
        h.alarms.replayed.lock().unwrap().is_empty(),
        "no lever to revoke the holder's tokens"
    );
}

#[tokio::test]
async fn pkce_mismatch_expiry_another_client_and_redirect_rules_are_invalid_grant() {
    let client = ClientBuilder::new().code_flow().public().client();
    let other = ClientBuilder::new().code_flow().public().client();
    type Case = (fn(&mut AuthorizationCodeRequest), &'static str);
    let cases: [Case; 4] = [
        (|r| r.code_verifier = Some("x".repeat(43)), "wrong verifier"),
        (
            |r| r.code_verifier = Some("short".into()),
            "malformed verifier",
        ),
        (|r| r.code_verifier = None, "missing verifier"),
        (
            |r| r.redirect_uri = Some("https://evil.example/cb".into()),
            "unregistered redirect",
        ),
    ];
    for (mutate, why) in cases {
        let (h, code) = setup(&client, "").await;
        let mut r = req(&code);
        mutate(&mut r);
        assert!(
            matches!(
                grant(&h.context(), &client, &r).await,
                Err(TokenError::InvalidGrant(_))
            ),
            "{why}"
        );
        assert!(
            matches!(
                grant(&h.context(), &client, &req(&code)).await,
                Err(TokenError::InvalidGrant(_))
            ),
            "{why}: a failed attempt burns the code"
        );
    }
    let (h, code) = setup(&client, "").await;
    ClientStore::insert(&h.store, other.clone()).await.unwrap();
    assert!(matches!(
        grant(&h.context(), &other, &req(&code)).await,
        Err(TokenError::InvalidGrant(_))
    ));
    let (h, code) = setup(&client, "").await;
    h.clock.advance(60);
    assert!(matches!(
        grant(&h.context(), &client, &req(&code)).await,
        Err(TokenError::InvalidGrant(_))
    ));
    // Named in the authorization request: must be repeated, identically.
    let (h, code) = setup(&client, "&redirect_uri=https%3A%2F%2Fapp.example%2Fcb").await;
    assert!(matches!(
        grant(&h.context(), &client, &req(&code)).await,
        Err(TokenError::InvalidGrant(_))
    ));
    let (h, code) = setup(&client, "&redirect_uri=https%3A%2F%2Fapp.example%2Fcb").await;
    let mut r = req(&code);
    r.redirect_uri = Some("https://app.example/cb".into());
    assert!(grant(&h.context(), &client, &r).await.is_ok());
}

#[tokio::test]
async fn the_resource_may_be_named_but_not_widened_and_a_disabled_user_gets_nothing() {
    let client = ClientBuilder::new()
        .code_flow()
        .resources(&["https://rs.example", "https://b.example"])
        .client();
    let (h, code) = setup(&client, "").await;
    let mut r = req(&code);
    r.resource = Some("https://b.example".parse().unwrap());
    assert!(matches!(
        grant(&h.context(), &client, &r).await,
        Err(TokenError::InvalidTarget(_))
    ));
    let (h, code) = setup(&client, "").await;
    let mut alice = user("alice");
    alice.disabled = true;
    UserStore::update(&h.store, alice).await.unwrap();
    assert!(matches!(
        grant(&h.context(), &client, &req(&code)).await,
        Err(TokenError::InvalidGrant(_))
    ));
    let cc = ClientBuilder::new().client();
    let (h, code) = setup(&client, "").await;
    assert!(matches!(
        grant(&h.context(), &cc, &req(&code)).await,
        Err(TokenError::UnauthorizedClient(_))
    ));
}

/// Two exchanges joined on one task (the memory store never yields, so they interleave only
/// between awaits): one token. The true race runs in the store suite (redb, threads) and in
/// the e2e tests (20 HTTP requests at once).
#[tokio::test]
async fn two_joined_exchanges_of_one_code_yield_one_token() {
    let client = ClientBuilder::new().code_flow().public().client();
    let (h, code) = setup(&client, "").await;
    let ctx = h.context();
    let (r1, r2) = (req(&code), req(&code));
    let (a, b) = tokio::join!(grant(&ctx, &client, &r1), grant(&ctx, &client, &r2));
    assert_eq!(usize::from(a.is_ok()) + usize::from(b.is_ok()), 1);
}

#[tokio::test]
async fn an_openid_request_gets_an_id_token_with_nonce_sid_and_at_hash() {
    let client = ClientBuilder::new()
        .code_flow()
        .scope("openid profile read")
        .public()
        .client();
    let (h, code) = setup(&client, "&scope=openid+profile&nonce=n-0S6").await;
    let issued = crate::grant::exchange(&h.context(), &client, &exchange_req(&code))
        .await
        .unwrap();
    assert_eq!(issued.id_token.as_deref(), Some("id:id-alice"));
    let claims = h.signer.id_tokens().pop().unwrap();
    assert_eq!(claims.aud, client.id.as_str());
    assert_eq!(claims.azp, client.id.as_str());
    assert_eq!(claims.nonce.as_deref(), Some("n-0S6"));
    assert_eq!(claims.auth_time, UnixTime(90));
    assert_eq!(claims.iss, "https://as.example");
    assert_eq!(claims.user.preferred_username.as_deref(), Some("alice"));
    assert_eq!(
        claims.at_hash,
        Some(crate::id_token::at_hash(
            gatehouse_token::Algorithm::ES256,
            &issued.access_token
        ))
    );
    assert_eq!(
        claims.sid,
        Some(crate::id_token::session_id(&SecretDigest::of("session")))
    );
    // Without `openid`, no ID token.
    let (h, code) = setup(&client, "&scope=read").await;
    let issued = crate::grant::exchange(&h.context(), &client, &exchange_req(&code))
        .await
        .unwrap();
    assert_eq!(issued.id_token, None);
    assert!(h.signer.id_tokens().is_empty());
}

#[tokio::test]
async fn a_replay_racing_the_first_redemption_revokes_what_it_then_gives() {
    let client = ClientBuilder::new().code_flow().public().client();
    let (h, code) = setup(&client, "").await;
    // The first redemption has taken the code but not yet recorded what it issued.
    assert!(matches!(
        crate::store::CodeStore::redeem(&h.store, &SecretDigest::of(&code))
            .await
            .unwrap(),
        crate::store::Redemption::Fresh(_)
    ));
    // The replay comes now: nothing to revoke yet, the code is marked.
    assert!(matches!(
        grant(&h.context(), &client, &req(&code)).await,
        Err(TokenError::InvalidGrant(_))
    ));
    let record = crate::store::IssuedForCode {
        access_jti: "j".into(),
        access_exp: UnixTime(500),
        access_digest: None,
        refresh_family: Some("fam".into()),
    };
    assert!(
        crate::store::CodeStore::record_issued(&h.store, &SecretDigest::of(&code), record)
            .await
            .unwrap(),
        "the first redemption learns of the replay when it records what it issued"
    );
}

#[tokio::test]
async fn a_code_dies_with_the_sign_in_it_came_from() {
    let client = ClientBuilder::new().code_flow().public().client();
    let (h, code) = setup(&client, "").await;
    crate::store::SessionStore::delete(&h.store, &SecretDigest::of("session"))
        .await
        .unwrap();
    assert_eq!(
        grant(&h.context(), &client, &req(&code)).await,
        Err(TokenError::InvalidGrant(
            "the sign-in this code came from has ended".into()
        ))
    );
}

const JKT: &str = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
const OTHER_JKT: &str = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";

/// RFC 9449 §10.1: a code issued for `dpop_jkt` is redeemed only with a proof by that key.
#[tokio::test]
async fn a_code_bound_by_dpop_jkt_needs_a_proof_by_that_key() {
    let client = ClientBuilder::new().code_flow().public().client();
    for holder in [
        crate::binding::NO_HOLDER.clone(),
        crate::binding::Holder::dpop(OTHER_JKT),
    ] {
        let (h, code) = setup(&client, &format!("&dpop_jkt={JKT}")).await;
        let mut ctx = h.context();
        ctx.holder = &holder;
        assert!(matches!(
            crate::grant::exchange(&ctx, &client, &exchange_req(&code)).await,
            Err(TokenError::InvalidDpopProof(_))
        ));
        assert!(h.signer.signed().is_empty(), "nothing issued");
    }
    let (h, code) = setup(&client, &format!("&dpop_jkt={JKT}")).await;
    let holder = crate::binding::Holder::dpop(JKT);
    let mut ctx = h.context();
    ctx.holder = &holder;
    let issued = crate::grant::exchange(&ctx, &client, &exchange_req(&code))
        .await
        .unwrap();
    assert_eq!(issued.token_type, crate::issue::TokenType::DPoP);
    let claims = h.signer.signed().pop().unwrap();
    assert_eq!(claims.cnf.unwrap().jkt.as_deref(), Some(JKT));
    // A public client's refresh token is bound to the same key (RFC 9449 §5).
    let (stored, _) =
        RefreshTokenStore::get(&h.store, &SecretDigest::of(&issued.refresh_token.unwrap()))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(stored.cnf.unwrap().jkt.as_deref(), Some(JKT));
}

#[tokio::test]
async fn a_malformed_dpop_jkt_is_refused_at_the_authorization_endpoint() {
    let client = ClientBuilder::new().code_flow().public().client();
    let h = Harness::at(100);
    ClientStore::insert(&h.store, client.clone()).await.unwrap();
    for bad in ["abc", "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4", "a=b"] {
        let q = format!(
            "response_type=code&client_id={}&code_challenge={CHALLENGE}&code_challenge_method=S256&dpop_jkt={bad}",
            client.id
        );
        let checks = authz::Checks {
            clients: &h.store,
            resources: &h.resources,
            issuer: "https://as.example",
        };
        assert!(
            authz::parse(&Form::parse(q.as_bytes()).unwrap(), checks)
                .await
                .is_err(),
            "{bad}"
        );
    }
}

/// Confidential clients' refresh tokens are not bound to a key (RFC 9449 §5).
#[tokio::test]
async fn a_confidential_clients_refresh_token_is_not_bound() {
    let client = ClientBuilder::new().code_flow().client();
    let (h, code) = setup(&client, "").await;
    let holder = crate::binding::Holder::dpop(JKT);
    let mut ctx = h.context();
    ctx.holder = &holder;
    let issued = crate::grant::exchange(&ctx, &client, &exchange_req(&code))
        .await
        .unwrap();
    assert_eq!(issued.token_type, crate::issue::TokenType::DPoP);
    let (stored, _) =
        RefreshTokenStore::get(&h.store, &SecretDigest::of(&issued.refresh_token.unwrap()))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(stored.cnf, None);
}

/// A registry whose `https://bank.example` requires sender-constrained tokens.
fn strict_registry() -> crate::resource::ResourceRegistry {
    use crate::resource::{ResourceDefinition, ResourceRegistry};
    let bank = ResourceDefinition {
        uri: "https://bank.example".into(),
        name: None,
        scopes: Vec::new(),
        default_scopes: Vec::new(),
        token_format: None,
        access_token_lifetime: None,
        require_sender_constrained: true,
    }
    .validate()
    .unwrap();
    ResourceRegistry::new([bank], None).unwrap()
}

/// Redeems `code` for `client`, presented by `holder`, naming `resource`.
async fn redeem(
    h: &Harness,
    client: &Client,
    holder: &crate::binding::Holder,
    resource: Option<&str>,
    code: &str,
) -> Result<crate::issue::IssuedToken, TokenError> {
    let mut ctx = h.context();
    ctx.holder = holder;
    let mut r = req(code);
    r.resource = resource.map(|s| s.parse().unwrap());
    let request = crate::request::TokenRequest::AuthorizationCode(r);
    crate::grant::exchange(&ctx, client, &request).await
}

/// RFC 9449 §5.2, RFC 8705 §3.4: a token request refused for a binding reason that needs
/// nothing of the code (the client must send a DPoP proof or use its certificate, the named
/// resource or the security profile requires a bound token) leaves the code redeemable: the
/// person's approval is not lost, and the retry with a proof gets the tokens.
#[tokio::test]
async fn a_binding_refusal_leaves_the_code_redeemable() {
    let proof = crate::binding::Holder::dpop(JKT);
    let no = &crate::binding::NO_HOLDER;
    // A client registered with dpop_bound_access_tokens, without a proof.
    let mut dpop = ClientBuilder::new().code_flow().public().client();
    dpop.binding.dpop_bound_access_tokens = true;
    let (h, code) = setup(&dpop, "").await;
    let err = redeem(&h, &dpop, no, None, &code).await.unwrap_err();
    assert!(matches!(err, TokenError::InvalidDpopProof(_)), "{err:?}");
    redeem(&h, &dpop, &proof, None, &code).await.unwrap();

    // A client registered with tls_client_certificate_bound_access_tokens, with a DPoP proof
    // and no certificate.
    let mut mtls = ClientBuilder::new().code_flow().public().client();
    mtls.binding.tls_client_certificate_bound_access_tokens = true;
    let (h, code) = setup(&mtls, "").await;
    let err = redeem(&h, &mtls, &proof, None, &code).await.unwrap_err();
    assert!(matches!(err, TokenError::InvalidRequest(_)), "{err:?}");
    let cert = crate::binding::Holder {
        dpop_jkt: None,
        certificate_thumbprint: Some("x5t".into()),
    };
    redeem(&h, &mtls, &cert, None, &code).await.unwrap();

    // A client under the FAPI 2.0 profile, without a proof.
    let mut fapi = ClientBuilder::new().code_flow().public().client();
    fapi.security_profile = crate::profile::SecurityProfile::Fapi2;
    let (h, code) = setup(&fapi, "").await;
    let err = redeem(&h, &fapi, no, None, &code).await.unwrap_err();
    assert!(matches!(err, TokenError::InvalidRequest(_)), "{err:?}");
    redeem(&h, &fapi, &proof, None, &code).await.unwrap();

    // A named resource that requires sender-constrained tokens, without a proof.
    let bank = "https://bank.example";
    let client = ClientBuilder::new()
        .code_flow()
        .public()
        .resources(&[bank])
        .client();
    let (mut h, code) = setup(&client, &format!("&resource={bank}")).await;
    h.resources = strict_registry();
    let err = redeem(&h, &client, no, Some(bank), &code)
        .await
        .unwrap_err();
    assert!(matches!(err, TokenError::InvalidRequest(_)), "{err:?}");
    redeem(&h, &client, &proof, Some(bank), &code)
        .await
        .unwrap();
    assert!(h.alarms.replayed.lock().unwrap().is_empty());
}
