//! Token exchange: narrowing, `act`, `may_act`, ID-JAG issuance, and every refusal with its code
//! (RFC 8693 §2.2.2), issuing nothing.

use gatehouse_token::{AccessTokenClaims, Audience, UnixTime};

use super::*;
use crate::assertion::{Downstream, ExternalClaims, ExternalJwt, OwnIdToken, SubjectMapping};
use crate::client::{ClientKind, ClientOrigin};
use crate::request::token::TokenRequest;
use crate::store::UserStore;
use crate::testing::{ClientBuilder, Harness, user};

const NOW: u64 = 10_000;
const TE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// The caller: a resource server (`https://a.example`, which it may introspect) that calls
/// `https://b.example`.
fn client() -> Client {
    ClientBuilder::new()
        .grants(&[TE])
        .scope("read write")
        .resources(&["https://a.example", "https://b.example"])
        .introspection(crate::client::Introspection::Resources)
        .client()
}

fn access_claims(client_id: &str, aud: &str, scope: &str) -> AccessTokenClaims {
    AccessTokenClaims {
        iss: "https://as.example".into(),
        sub: "id-alice".into(),
        aud: Audience::One(aud.into()),
        client_id: client_id.into(),
        scope: Some(scope.into()),
        iat: UnixTime(NOW),
        nbf: None,
        exp: UnixTime(NOW + 600),
        jti: "at-1".into(),
        act: None,
        cnf: None,
    }
}

fn req(subject: &str, kind: TokenTypeUri) -> TokenExchangeRequest {
    TokenExchangeRequest {
        subject_token: subject.into(),
        subject_token_type: kind,
        actor: None,
        requested_token_type: None,
        resource: None,
        audience: None,
        scope: None,
    }
}

/// A harness knowing: `at` (alice's token from another client, for `https://a.example`, scope
/// `read write admin`), `foreign` (for a resource not the caller's), `id` (alice's ID token
/// issued to the caller), `ext` (an external JWT for us), `actor` (the caller's own token).
fn harness(c: &Client) -> Harness {
    let h = Harness::at(NOW);
    let v = &h.verifier;
    v.knows_access_token(
        "at",
        access_claims("frontend", "https://a.example", "read write admin"),
    );
    v.knows_access_token(
        "foreign",
        access_claims("frontend", "https://z.example", "read"),
    );
    let mut own = access_claims(c.id.as_str(), "https://b.example", "read");
    own.sub = c.id.as_str().into();
    v.knows_access_token("actor", own);
    v.knows_id_token(
        "id",
        OwnIdToken {
            iss: "https://as.example".into(),
            sub: "id-alice".into(),
            aud: c.id.as_str().into(),
            exp: UnixTime(NOW + 300),
            iat: UnixTime(NOW),
        },
    );
    v.knows_external(
        "ext",
        ExternalUse::ExchangeToken,
        ExternalJwt {
            claims: ExternalClaims {
                iss: "https://idp.example".into(),
                sub: "u1".into(),
                aud: Audience::One("https://as.example".into()),
                exp: UnixTime(NOW + 300),
                iat: Some(UnixTime(NOW)),
                nbf: None,
                jti: None,
                client_id: None,
                resource: None,
                scope: None,
                act: None,
                may_act: None,
                cnf: None,
            },
            subjects: SubjectMapping::IssuerQualified,
        },
    );
    h
}

async fn run(h: &Harness, c: &Client, r: TokenExchangeRequest) -> Result<IssuedToken, TokenError> {
    crate::grant::exchange(&h.context(), c, &TokenRequest::TokenExchange(r)).await
}

/// A refusal with `code`, and nothing signed.
async fn refused(h: &Harness, c: &Client, r: TokenExchangeRequest, code: &str) {
    let err = run(h, c, r).await.unwrap_err();
    let got = match &err {
        TokenError::InvalidRequest(_) => "invalid_request",
        TokenError::InvalidTarget(_) => "invalid_target",
        TokenError::InvalidScope(_) => "invalid_scope",
        TokenError::UnauthorizedClient(_) => "unauthorized_client",
        _ => "other",
    };
    assert_eq!(got, code, "{err:?}");
    assert!(h.signer.signed().is_empty() && h.signer.id_jags().is_empty());
}

#[tokio::test]
async fn an_access_token_for_my_resource_becomes_a_narrower_one_downstream() {
    let c = client();
    let h = harness(&c);
    let mut r = req("at", TokenTypeUri::AccessToken);
    r.resource = Some("https://b.example".parse().unwrap());
    r.scope = Some("read".parse().unwrap());
    let issued = run(&h, &c, r).await.unwrap();
    assert_eq!(
        issued.issued_token_type,
        Some(TokenTypeUri::AccessToken.as_str())
    );
    assert_eq!(issued.refresh_token, None);
    let at = h.signer.signed().pop().unwrap();
    assert_eq!(at.sub, "id-alice");
    assert_eq!(at.client_id, c.id.as_str());
    assert_eq!(at.aud, Audience::One("https://b.example".into()));
    assert_eq!(at.scope.as_deref(), Some("read"));
    assert_eq!(at.act, None);
}

#[tokio::test]
async fn without_a_scope_the_token_keeps_what_policy_allows_of_the_subjects() {
    let c = client();
    let h = harness(&c);
    let mut r = req("at", TokenTypeUri::AccessToken);
    r.audience = Some("https://b.example/".into());
    let g = grant(&h.context(), &c, &r).await.unwrap();
    assert_eq!(
        g.scope.to_string(),
        "read write",
        "admin dropped: not the client's"
    );
    assert_eq!(g.resource.as_str(), "https://b.example");
}

#[tokio::test]
async fn an_actor_token_becomes_act_with_the_prior_chain_nested() {
    let c = client();
    let h = harness(&c);
    let mut chained = access_claims("frontend", "https://a.example", "read");
    chained.act = Some(Actor {
        sub: "gateway".into(),
        iss: None,
        client_id: Some("gateway".into()),
        act: None,
    });
    h.verifier.knows_access_token("chained", chained);
    let mut r = req("chained", TokenTypeUri::AccessToken);
    r.actor = Some(("actor".into(), TokenTypeUri::AccessToken));
    r.resource = Some("https://b.example".parse().unwrap());
    let g = grant(&h.context(), &c, &r).await.unwrap();
    let act = g.act.unwrap();
    assert_eq!(act.sub, c.id.as_str());
    assert_eq!(act.client_id.as_deref(), Some(c.id.as_str()));
    assert_eq!(act.act.unwrap().sub, "gateway", "the prior actor nested");
    // Without an actor token, the subject's chain is kept as it is.
    let g = grant(&h.context(), &c, &req("chained", TokenTypeUri::AccessToken))
        .await
        .unwrap();
    assert_eq!(g.act.unwrap().sub, "gateway");
}

#[tokio::test]
async fn id_token_and_external_jwt_subjects() {
    let c = client();
    let h = harness(&c);
    h.store.insert(user("alice")).await.unwrap();
    // An ID token says who signed in, not what they allowed: only an ID-JAG comes of it (a
    // review found it turned into an access token with the client's whole scope).
    assert!(matches!(
        grant(&h.context(), &c, &req("id", TokenTypeUri::IdToken)).await,
        Err(TokenError::InvalidRequest(_))
    ));
    let g = grant(&h.context(), &c, &req("ext", TokenTypeUri::Jwt))
        .await
        .unwrap();
    assert_eq!(g.subject, "https://idp.example#u1");
}

#[tokio::test]
async fn may_act_must_name_the_acting_party() {
    let c = client();
    let h = harness(&c);
    let with_may_act = |may: MayAct| ExternalJwt {
        claims: ExternalClaims {
            iss: "https://idp.example".into(),
            sub: "u1".into(),
            aud: Audience::One("https://as.example".into()),
            exp: UnixTime(NOW + 300),
            iat: Some(UnixTime(NOW)),
            nbf: None,
            jti: None,
            client_id: None,
            resource: None,
            scope: None,
            act: None,
            may_act: Some(may),
            cnf: None,
        },
        subjects: SubjectMapping::IssuerQualified,
    };
    let me = MayAct {
        sub: None,
        iss: None,
        client_id: Some(c.id.as_str().into()),
    };
    let other = MayAct {
        sub: Some("someone".into()),
        iss: None,
        client_id: None,
    };
    let v = &h.verifier;
    v.knows_external("me", ExternalUse::ExchangeToken, with_may_act(me));
    v.knows_external("other", ExternalUse::ExchangeToken, with_may_act(other));
    assert!(
        grant(&h.context(), &c, &req("me", TokenTypeUri::Jwt))
            .await
            .is_ok()
    );
    refused(&h, &c, req("other", TokenTypeUri::Jwt), "invalid_request").await;
    // With an actor token, the actor is who must be named.
    let mut r = req("me", TokenTypeUri::Jwt);
    r.actor = Some(("actor".into(), TokenTypeUri::AccessToken));
    assert!(grant(&h.context(), &c, &r).await.is_ok());
}

#[tokio::test]
async fn every_refusal_has_its_code_and_issues_nothing() {
    let c = client();
    let h = harness(&c);
    let at = |f: fn(&mut TokenExchangeRequest)| {
        let mut r = req("at", TokenTypeUri::AccessToken);
        f(&mut r);
        r
    };
    // invalid_request: the tokens.
    refused(
        &h,
        &c,
        req("forged", TokenTypeUri::AccessToken),
        "invalid_request",
    )
    .await;
    refused(
        &h,
        &c,
        req("foreign", TokenTypeUri::AccessToken),
        "invalid_request",
    )
    .await;
    refused(
        &h,
        &c,
        req("id", TokenTypeUri::AccessToken),
        "invalid_request",
    )
    .await;
    refused(&h, &c, req("at", TokenTypeUri::IdToken), "invalid_request").await;
    refused(
        &h,
        &c,
        req("at", TokenTypeUri::RefreshToken),
        "invalid_request",
    )
    .await;
    refused(
        &h,
        &c,
        req("ext", TokenTypeUri::AccessToken),
        "invalid_request",
    )
    .await;
    refused(
        &h,
        &c,
        at(|r| r.actor = Some(("forged".into(), TokenTypeUri::AccessToken))),
        "invalid_request",
    )
    .await;
    refused(
        &h,
        &c,
        at(|r| r.requested_token_type = Some(TokenTypeUri::RefreshToken)),
        "invalid_request",
    )
    .await;
    // The ID token's user is unknown here (never inserted): dead.
    refused(&h, &c, req("id", TokenTypeUri::IdToken), "invalid_request").await;
    // invalid_target: widening the audience.
    refused(
        &h,
        &c,
        at(|r| r.resource = Some("https://z.example".parse().unwrap())),
        "invalid_target",
    )
    .await;
    refused(
        &h,
        &c,
        at(|r| r.audience = Some("not a uri".into())),
        "invalid_target",
    )
    .await;
    refused(
        &h,
        &c,
        at(|r| {
            r.resource = Some("https://a.example".parse().unwrap());
            r.audience = Some("https://b.example".into());
        }),
        "invalid_target",
    )
    .await;
    // invalid_scope: widening the scope, beyond the subject's or the client's.
    let mut narrow = access_claims("frontend", "https://a.example", "read");
    narrow.jti = "narrow".into();
    h.verifier.knows_access_token("narrow", narrow);
    let mut r = req("narrow", TokenTypeUri::AccessToken);
    r.scope = Some("read write".parse().unwrap());
    refused(&h, &c, r, "invalid_scope").await;
    refused(
        &h,
        &c,
        at(|r| r.scope = Some("admin".parse().unwrap())),
        "invalid_scope",
    )
    .await;
    let mut none = access_claims("frontend", "https://a.example", "admin");
    none.jti = "none".into();
    h.verifier.knows_access_token("none", none);
    refused(
        &h,
        &c,
        req("none", TokenTypeUri::AccessToken),
        "invalid_scope",
    )
    .await;
    // unauthorized_client: no grant, self-registered, public.
    let mut without = client();
    without.grant_types = vec![GrantType::ClientCredentials];
    let mut dynamic = client();
    dynamic.origin = ClientOrigin::MetadataDocument;
    let mut public = client();
    public.kind = ClientKind::Public;
    for who in [without, dynamic, public] {
        refused(
            &h,
            &who,
            req("at", TokenTypeUri::AccessToken),
            "unauthorized_client",
        )
        .await;
    }
}

#[tokio::test]
async fn an_expired_id_token_or_one_of_another_client_is_refused() {
    let c = client();
    let h = harness(&c);
    h.store.insert(user("alice")).await.unwrap();
    let mut other = user("alice");
    other.disabled = true;
    let v = &h.verifier;
    let id = |aud: &str, exp: u64| OwnIdToken {
        iss: "https://as.example".into(),
        sub: "id-alice".into(),
        aud: aud.into(),
        exp: UnixTime(exp),
        iat: UnixTime(NOW - 10),
    };
    v.knows_id_token("expired", id(c.id.as_str(), NOW));
    v.knows_id_token("theirs", id("frontend", NOW + 300));
    refused(
        &h,
        &c,
        req("expired", TokenTypeUri::IdToken),
        "invalid_request",
    )
    .await;
    refused(
        &h,
        &c,
        req("theirs", TokenTypeUri::IdToken),
        "invalid_request",
    )
    .await;
    h.store.update(other).await.unwrap();
    refused(&h, &c, req("id", TokenTypeUri::IdToken), "invalid_request").await;
}

fn id_jag_harness(c: &Client) -> Harness {
    let mut h = harness(c);
    h.assertions.downstream = vec![Downstream {
        issuer: "https://as.downstream.example".into(),
        resources: vec!["https://mcp.downstream.example".parse().unwrap()],
        clients: vec![(c.id.as_str().into(), "their-id".into())],
    }];
    h
}

fn id_jag_req() -> TokenExchangeRequest {
    let mut r = req("id", TokenTypeUri::IdToken);
    r.requested_token_type = Some(TokenTypeUri::IdJag);
    r.audience = Some("https://as.downstream.example".into());
    r.resource = Some("https://mcp.downstream.example/".parse().unwrap());
    r.scope = Some("chat.read".parse().unwrap());
    r
}

#[tokio::test]
async fn an_id_jag_for_a_configured_downstream_server() {
    let c = client();
    let h = id_jag_harness(&c);
    h.store.insert(user("alice")).await.unwrap();
    let issued = run(&h, &c, id_jag_req()).await.unwrap();
    assert_eq!(issued.token_type, TokenType::NotApplicable);
    assert_eq!(issued.issued_token_type, Some(TokenTypeUri::IdJag.as_str()));
    assert_eq!(issued.expires_in, 300);
    let jag = h.signer.id_jags().pop().unwrap();
    assert_eq!(issued.access_token, format!("id-jag:{}", jag.jti));
    assert_eq!(jag.iss, "https://as.example");
    assert_eq!(jag.sub, "id-alice");
    assert_eq!(jag.aud, "https://as.downstream.example");
    assert_eq!(jag.client_id, "their-id");
    assert_eq!(
        jag.resource.as_deref(),
        Some("https://mcp.downstream.example")
    );
    assert_eq!(jag.scope.as_deref(), Some("chat.read"));
    assert_eq!((jag.iat, jag.exp), (UnixTime(NOW), UnixTime(NOW + 300)));
    assert!(h.signer.signed().is_empty(), "no access token");
}

#[tokio::test]
async fn id_jag_refusals() {
    let c = client();
    let h = id_jag_harness(&c);
    h.store.insert(user("alice")).await.unwrap();
    let with = |f: fn(&mut TokenExchangeRequest)| {
        let mut r = id_jag_req();
        f(&mut r);
        r
    };
    refused(&h, &c, with(|r| r.audience = None), "invalid_request").await;
    refused(
        &h,
        &c,
        with(|r| r.audience = Some("https://as.unknown.example".into())),
        "invalid_target",
    )
    .await;
    refused(
        &h,
        &c,
        with(|r| r.resource = Some("https://mcp.other.example".parse().unwrap())),
        "invalid_target",
    )
    .await;
    refused(
        &h,
        &c,
        with(|r| {
            r.subject_token = "at".into();
            r.subject_token_type = TokenTypeUri::AccessToken;
        }),
        "invalid_request",
    )
    .await;
    refused(
        &h,
        &c,
        with(|r| r.actor = Some(("actor".into(), TokenTypeUri::AccessToken))),
        "invalid_request",
    )
    .await;
    refused(
        &h,
        &c,
        with(|r| r.subject_token = "forged".into()),
        "invalid_request",
    )
    .await;
    // A client the downstream server's entry does not list.
    let stranger = client();
    let mut r = id_jag_req();
    r.subject_token = "stranger-id".into();
    h.verifier.knows_id_token(
        "stranger-id",
        OwnIdToken {
            iss: "https://as.example".into(),
            sub: "id-alice".into(),
            aud: stranger.id.as_str().into(),
            exp: UnixTime(NOW + 300),
            iat: UnixTime(NOW),
        },
    );
    refused(&h, &stranger, r, "invalid_target").await;
    let mut public = client();
    public.kind = ClientKind::Public;
    refused(&h, &public, id_jag_req(), "unauthorized_client").await;
}

/// A review found an exchanged token got a full new lifetime, so a client could renew access
/// forever by exchanging its own token before it expired: it ends when the subject token does.
#[tokio::test]
async fn an_exchanged_token_never_outlives_its_subject_token() {
    let c = client();
    let h = Harness::at(NOW);
    let mut short = access_claims(c.id.as_str(), "https://a.example", "read");
    short.exp = UnixTime(NOW + 10);
    h.verifier.knows_access_token("short", short);
    let mut r = req("short", TokenTypeUri::AccessToken);
    r.resource = Some("https://b.example".parse().unwrap());
    let issued = run(&h, &c, r).await.unwrap();
    assert_eq!(issued.expires_in, 10);
    assert_eq!(issued.expires_at, UnixTime(NOW + 10));
}

/// Being allowed to ask for tokens for a resource does not make a client that resource: only a
/// resource server (one with the introspection permission) may exchange tokens meant for it.
#[tokio::test]
async fn only_a_resource_server_exchanges_tokens_meant_for_its_resource() {
    let c = ClientBuilder::new()
        .grants(&[TE])
        .scope("read write")
        .resources(&["https://a.example", "https://b.example"])
        .client();
    let h = harness(&c);
    let mut r = req("at", TokenTypeUri::AccessToken);
    r.resource = Some("https://b.example".parse().unwrap());
    refused(&h, &c, r, "invalid_request").await;
}

/// Exchanges `subject` (and `actor`, an access token) presented by `holder`.
async fn exchange_as(
    h: &Harness,
    c: &Client,
    holder: &crate::binding::Holder,
    subject: &str,
    kind: TokenTypeUri,
    actor: Option<&str>,
) -> Result<IssuedToken, TokenError> {
    let mut ctx = h.context();
    ctx.holder = holder;
    let mut r = req(subject, kind);
    r.actor = actor.map(|a| (a.to_owned(), TokenTypeUri::AccessToken));
    crate::grant::exchange(&ctx, c, &TokenRequest::TokenExchange(r)).await
}

/// RFC 9449 §5, RFC 8705 §3: a sender-constrained subject or actor token is exchanged only by
/// a request proving its key; without it (or with another key) `invalid_request` (RFC 8693
/// §2.2.2) and nothing issued: no downgrade to a bearer token, no rebinding.
#[tokio::test]
async fn a_sender_constrained_token_is_exchanged_only_with_its_key() {
    use crate::binding::Holder;
    let c = client();
    let h = harness(&c);
    let mut dpop_bound = access_claims("frontend", "https://a.example", "read");
    dpop_bound.cnf = Some(Confirmation::dpop("jkt-alice"));
    h.verifier.knows_access_token("dpop-at", dpop_bound);
    let mut cert_bound = access_claims("frontend", "https://a.example", "read");
    cert_bound.cnf = Some(Confirmation {
        jkt: None,
        x5t_s256: Some("x5t-alice".into()),
    });
    h.verifier.knows_access_token("cert-at", cert_bound);
    let mut ext = ExternalClaims {
        iss: "https://idp.example".into(),
        sub: "u1".into(),
        aud: Audience::One("https://as.example".into()),
        exp: UnixTime(NOW + 300),
        iat: Some(UnixTime(NOW)),
        nbf: None,
        jti: None,
        client_id: None,
        resource: None,
        scope: None,
        act: None,
        may_act: None,
        cnf: Some(Confirmation::dpop("jkt-alice")),
    };
    let jwt = |claims| ExternalJwt {
        claims,
        subjects: SubjectMapping::IssuerQualified,
    };
    h.verifier
        .knows_external("dpop-ext", ExternalUse::ExchangeToken, jwt(ext.clone()));
    // A `cnf` by a method we do not check (here `jwk`) binds it to a key nobody can prove.
    ext.cnf = Some(Confirmation::default());
    h.verifier
        .knows_external("jwk-ext", ExternalUse::ExchangeToken, jwt(ext));

    let exchange = |holder, subject, kind, actor| exchange_as(&h, &c, holder, subject, kind, actor);
    let refused = |r: Result<IssuedToken, TokenError>, what: &str| match r {
        Err(TokenError::InvalidRequest(d)) => {
            assert!(d.contains(what) && d.contains("sender-constrained"), "{d}");
        }
        other => panic!("{other:?}"),
    };
    let cert = Holder {
        dpop_jkt: None,
        certificate_thumbprint: Some("x5t-alice".into()),
    };
    let at = TokenTypeUri::AccessToken;
    let no = &crate::binding::NO_HOLDER;
    // No proof: no bearer token for a DPoP- or certificate-bound one.
    refused(exchange(no, "dpop-at", at, None).await, "subject_token");
    refused(exchange(no, "cert-at", at, None).await, "subject_token");
    refused(
        exchange(no, "dpop-ext", TokenTypeUri::Jwt, None).await,
        "subject_token",
    );
    refused(
        exchange(&cert, "jwk-ext", TokenTypeUri::Jwt, None).await,
        "subject_token",
    );
    // Another key: no rebinding.
    let mallory = Holder::dpop("jkt-mallory");
    let wrong_kind = Holder::dpop("x5t-alice");
    refused(
        exchange(&mallory, "dpop-at", at, None).await,
        "subject_token",
    );
    refused(
        exchange(&wrong_kind, "cert-at", at, None).await,
        "subject_token",
    );
    // A bound actor token is held to the same rule.
    refused(exchange(no, "at", at, Some("dpop-at")).await, "actor_token");
    assert!(h.signer.signed().is_empty());

    // Proven: the exchange goes through, and the new token is bound to the proven key.
    let alice = Holder::dpop("jkt-alice");
    exchange(&alice, "dpop-at", at, None).await.unwrap();
    let issued = h.signer.signed().pop().unwrap();
    assert_eq!(issued.cnf, Some(Confirmation::dpop("jkt-alice")));
    exchange(&cert, "cert-at", at, None).await.unwrap();
    exchange(&alice, "dpop-ext", TokenTypeUri::Jwt, None)
        .await
        .unwrap();
    exchange(&alice, "at", at, Some("dpop-at")).await.unwrap();
}
