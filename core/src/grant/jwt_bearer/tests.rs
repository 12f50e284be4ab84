//! Every rule of the jwt-bearer grant: the happy path, and each refusal with its code, issuing
//! nothing and leaving the `jti` unused.

use gatehouse_token::{Audience, UnixTime};

use super::*;
use crate::assertion::{ExternalClaims, ExternalJwt, SubjectMapping};
use crate::client::ClientOrigin;
use crate::request::token::TokenRequest;
use crate::store::ReplayStore;
use crate::testing::{ClientBuilder, Harness};

const IDP: &str = "https://idp.example";
const NOW: u64 = 10_000;

fn client() -> Client {
    ClientBuilder::new()
        .grants(&["urn:ietf:params:oauth:grant-type:jwt-bearer"])
        .scope("read write")
        .resources(&["https://mcp.example", "https://other.example"])
        .client()
}

fn claims(c: &Client) -> ExternalClaims {
    ExternalClaims {
        iss: IDP.into(),
        sub: "U123".into(),
        aud: Audience::One("https://as.example".into()),
        exp: UnixTime(NOW + 300),
        iat: Some(UnixTime(NOW)),
        nbf: None,
        jti: Some("jti-1".into()),
        client_id: Some(c.id.as_str().into()),
        resource: Some("https://mcp.example/".into()),
        scope: Some("read".into()),
        act: None,
        may_act: None,
        cnf: None,
    }
}

/// A harness whose verifier knows `token` as an ID-JAG with `claims`.
fn harness(claims: ExternalClaims) -> Harness {
    let h = Harness::at(NOW);
    let jwt = ExternalJwt {
        claims,
        subjects: SubjectMapping::IssuerQualified,
    };
    h.verifier.knows_external("jag", ExternalUse::IdJag, jwt);
    h
}

fn req(assertion: &str) -> JwtBearerRequest {
    JwtBearerRequest {
        assertion: assertion.into(),
        scope: None,
        resource: None,
    }
}

/// Runs the whole token endpoint; asserts a refusal issued nothing.
async fn refused(h: &Harness, c: &Client, r: JwtBearerRequest) -> TokenError {
    let err = crate::grant::exchange(&h.context(), c, &TokenRequest::JwtBearer(r))
        .await
        .unwrap_err();
    assert!(h.signer.signed().is_empty(), "nothing issued for {err:?}");
    err
}

fn code(e: &TokenError) -> &'static str {
    match e {
        TokenError::InvalidGrant(_) => "invalid_grant",
        TokenError::InvalidRequest(_) => "invalid_request",
        TokenError::InvalidTarget(_) => "invalid_target",
        TokenError::InvalidScope(_) => "invalid_scope",
        TokenError::UnauthorizedClient(_) => "unauthorized_client",
        TokenError::TemporarilyUnavailable(_) => "temporarily_unavailable",
        _ => "other",
    }
}

#[tokio::test]
async fn an_id_jag_gets_a_token_for_its_resource_and_scope() {
    let c = client();
    let h = harness(claims(&c));
    let issued = crate::grant::exchange(&h.context(), &c, &TokenRequest::JwtBearer(req("jag")))
        .await
        .unwrap();
    let at = h.signer.signed().pop().unwrap();
    assert_eq!(
        at.sub, "https://idp.example#U123",
        "issuer-qualified subject"
    );
    assert_eq!(at.aud, Audience::One("https://mcp.example".into()));
    assert_eq!(at.scope.as_deref(), Some("read"));
    assert_eq!(at.client_id, c.id.as_str());
    assert_eq!(issued.refresh_token, None);
    // The same assertion again: a replay, and nothing more is issued.
    let err = grant(&h.context(), &c, &req("jag")).await.unwrap_err();
    assert!(
        matches!(&err, TokenError::InvalidGrant(m) if m.contains("jti")),
        "{err:?}"
    );
    assert_eq!(h.signer.signed().len(), 1);
}

#[tokio::test]
async fn subject_as_is_and_requested_scope_intersects() {
    let c = client();
    let mut cl = claims(&c);
    cl.scope = Some("read write".into());
    let h = Harness::at(NOW);
    let jwt = ExternalJwt {
        claims: cl,
        subjects: SubjectMapping::AsIs,
    };
    h.verifier.knows_external("jag", ExternalUse::IdJag, jwt);
    let mut r = req("jag");
    r.scope = Some("write admin".parse().unwrap());
    r.resource = Some("https://MCP.example".parse().unwrap());
    let g = grant(&h.context(), &c, &r).await.unwrap();
    assert_eq!(g.subject, "U123");
    assert_eq!(g.scope.to_string(), "write");
}

#[tokio::test]
async fn without_resource_or_scope_claims_the_request_and_policy_decide() {
    let c = client();
    let mut cl = claims(&c);
    cl.resource = None;
    cl.scope = None;
    let h = harness(cl);
    let mut r = req("jag");
    r.resource = Some("https://other.example".parse().unwrap());
    let g = grant(&h.context(), &c, &r).await.unwrap();
    assert_eq!(g.resource.as_str(), "https://other.example");
    assert_eq!(g.scope.to_string(), "read write");
}

type Mutation = fn(&mut ExternalClaims);

#[tokio::test]
async fn every_bad_claim_is_invalid_grant_and_burns_nothing() {
    let c = client();
    let cases: Vec<(&str, Mutation)> = vec![
        ("empty sub", |c| c.sub = String::new()),
        ("wrong aud", |c| {
            c.aud = Audience::One("https://as.example/".into())
        }),
        ("token endpoint as aud", |c| {
            c.aud = Audience::One("https://as.example/token".into())
        }),
        ("several audiences", |c| {
            c.aud = Audience::Many(vec!["https://as.example".into(), "https://x".into()])
        }),
        ("expired", |c| c.exp = UnixTime(NOW - 31)),
        ("no iat", |c| c.iat = None),
        ("iat in the future", |c| c.iat = Some(UnixTime(NOW + 31))),
        ("nbf in the future", |c| c.nbf = Some(UnixTime(NOW + 31))),
        ("iat after exp", |c| c.iat = Some(UnixTime(NOW + 301))),
        ("lives too long", |c| c.exp = UnixTime(NOW + 601)),
        ("no jti", |c| c.jti = None),
        ("empty jti", |c| c.jti = Some(String::new())),
        ("huge jti", |c| c.jti = Some("j".repeat(257))),
        ("no client_id", |c| c.client_id = None),
        ("another client", |c| {
            c.client_id = Some("someone-else".into())
        }),
        ("unknown resource", |c| {
            c.resource = Some("https://elsewhere.example".into())
        }),
        ("malformed resource", |c| {
            c.resource = Some("not a uri".into())
        }),
        ("scope beyond policy", |c| {
            c.scope = Some("read admin".into())
        }),
        ("malformed scope", |c| c.scope = Some("a  b".into())),
    ];
    for (name, mutate) in cases {
        let mut cl = claims(&c);
        mutate(&mut cl);
        let h = harness(cl);
        let err = refused(&h, &c, req("jag")).await;
        assert_eq!(code(&err), "invalid_grant", "{name}: {err:?}");
        // The jti is not burnt by a refusal.
        assert!(
            h.store
                .first_use(
                    ReplayKind::GrantAssertion,
                    replay_digest(IDP, "jti-1"),
                    UnixTime(NOW + 400)
                )
                .await
                .unwrap(),
            "{name}: jti burnt"
        );
    }
}

#[test]
fn an_exp_far_ahead_is_refused_even_without_iat() {
    let s = Harness::at(0).assertions;
    let now = UnixTime(NOW);
    assert!(check_time(UnixTime(NOW + 630), None, None, now, &s).is_ok());
    assert_eq!(
        check_time(UnixTime(NOW + 631), None, None, now, &s),
        Err("lives longer than this server accepts (exp)")
    );
}

#[tokio::test]
async fn within_the_leeway_is_accepted() {
    let c = client();
    let mut late = claims(&c);
    late.exp = UnixTime(NOW - 29);
    late.iat = Some(UnixTime(NOW - 300));
    let mut early = claims(&c);
    early.iat = Some(UnixTime(NOW + 29));
    early.nbf = Some(UnixTime(NOW + 29));
    for cl in [late, early] {
        let h = harness(cl.clone());
        assert!(grant(&h.context(), &c, &req("jag")).await.is_ok(), "{cl:?}");
    }
}

#[tokio::test]
async fn verifier_refusals() {
    let c = client();
    let h = harness(claims(&c));
    let err = refused(&h, &c, req("forged")).await;
    assert!(
        matches!(&err, TokenError::InvalidGrant(m) if m.contains("signature")),
        "{err:?}"
    );
    // A JWT trusted only as a token-exchange subject is no ID-JAG.
    let jwt = ExternalJwt {
        claims: claims(&c),
        subjects: SubjectMapping::IssuerQualified,
    };
    h.verifier
        .knows_external("subject", ExternalUse::ExchangeToken, jwt);
    let err = refused(&h, &c, req("subject")).await;
    assert!(
        matches!(&err, TokenError::InvalidGrant(m) if m.contains("not trusted")),
        "{err:?}"
    );
}

#[tokio::test]
async fn request_parameters_that_disagree() {
    let c = client();
    let h = harness(claims(&c));
    let mut r = req("jag");
    r.resource = Some("https://other.example".parse().unwrap());
    assert_eq!(code(&refused(&h, &c, r).await), "invalid_target");
    let mut r = req("jag");
    r.scope = Some("write".parse().unwrap());
    assert_eq!(code(&refused(&h, &c, r).await), "invalid_scope");
}

#[tokio::test]
async fn only_operator_registered_confidential_clients_with_the_grant() {
    let h = Harness::at(NOW);
    let mut without = client();
    without.grant_types = vec![GrantType::ClientCredentials];
    let mut dynamic = client();
    dynamic.origin = ClientOrigin::MetadataDocument;
    let mut public = client();
    public.kind = ClientKind::Public;
    for c in [without, dynamic, public] {
        let err = refused(&h, &c, req("jag")).await;
        assert_eq!(code(&err), "unauthorized_client", "{err:?}");
    }
}
