//! The claim rules of `private_key_jwt`, with a stopped clock and a verifier that only decodes
//! (signatures are the server's, tested there and end to end).

use gatehouse_token::b64;
use serde_json::{Value, json};

use super::*;
use crate::client::auth::{AuthContext, Credentials, authenticate};
use crate::form::Form;
use crate::memory::MemoryStore;
use crate::testing::ClientBuilder;

/// The stopped clock's time.
pub(crate) const NOW: u64 = 1_700_000_000;
const ISSUER: &str = "https://as.example";
const TOKEN_ENDPOINT: &str = "https://as.example/token";

/// Rules with the defaults: five minutes, 30 s of leeway.
pub(crate) fn rules(issuer_only: bool) -> ClientAssertionRules {
    ClientAssertionRules {
        issuer: ISSUER.into(),
        token_endpoint: TOKEN_ENDPOINT.into(),
        issuer_only,
        lifetimes: AssertionSettings {
            max_lifetime: DEFAULT_MAX_LIFETIME,
            leeway: 30,
            ..AssertionSettings::default()
        },
    }
}

/// Accepts an assertion whose signature segment is `ok`, refuses any other as badly signed.
#[derive(Debug)]
pub(crate) struct Unsigned;

#[async_trait]
impl ClientKeyVerifier for Unsigned {
    async fn client_assertion(
        &self,
        _: &Client,
        _: &ClientKeys,
        assertion: &str,
    ) -> Result<ClientAssertionClaims, Refusal> {
        let parts: Vec<&str> = assertion.split('.').collect();
        if parts.len() != 3 || parts[2] != "ok" {
            return Err(Refusal::BadSignature);
        }
        let json = b64::decode(parts[1]).map_err(|_| Refusal::Malformed("payload"))?;
        serde_json::from_slice(&json).map_err(|_| Refusal::Malformed("claims"))
    }
}

fn jwt(claims: &Value) -> String {
    format!(
        "{}.{}.ok",
        b64::encode(br#"{"alg":"ES256"}"#),
        b64::encode(claims.to_string())
    )
}

fn good(id: &str) -> Value {
    json!({"iss": id, "sub": id, "aud": ISSUER, "exp": NOW + 60, "iat": NOW, "jti": "j1"})
}

struct Setup {
    store: MemoryStore,
    id: String,
}

async fn setup() -> Setup {
    let store = MemoryStore::default();
    let keys = ClientKeys::Uri("https://client.example/jwks".into());
    let client = ClientBuilder::new().keys(keys).client();
    let id = client.id.as_str().to_owned();
    ClientStore::insert(&store, client).await.unwrap();
    Setup { store, id }
}

async fn try_auth(
    s: &Setup,
    claims: &Value,
    client_id: Option<&str>,
    rules: &ClientAssertionRules,
    endpoint: &str,
) -> Result<Arc<Client>, Failure> {
    try_jwt(s, &jwt(claims), client_id, rules, endpoint).await
}

async fn try_jwt(
    s: &Setup,
    assertion: &str,
    client_id: Option<&str>,
    rules: &ClientAssertionRules,
    endpoint: &str,
) -> Result<Arc<Client>, Failure> {
    let mut body =
        format!("client_assertion_type={JWT_BEARER_ASSERTION}&client_assertion={assertion}");
    if let Some(id) = client_id {
        body.push_str(&format!("&client_id={id}"));
    }
    let credentials = Credentials::from_request(None, &Form::parse(body.as_bytes()).unwrap())?;
    let ctx = AuthContext {
        clients: &s.store,
        assertions: AssertionContext {
            verifier: &Unsigned,
            replay: &s.store,
            rules,
            endpoint,
            now: UnixTime(NOW),
        },
    };
    authenticate(&credentials, &ctx).await
}

fn refused_for(result: Result<Arc<Client>, Failure>, why: &str) {
    let f = result.expect_err(why);
    assert_eq!(
        f.error,
        crate::error::TokenError::InvalidClient,
        "{why}: {}",
        f.reason
    );
    assert!(f.reason.contains(why), "expected {why:?} in {:?}", f.reason);
}

#[tokio::test]
async fn a_good_assertion_authenticates_once() {
    let s = setup().await;
    let r = rules(false);
    let claims = good(&s.id);
    let client = try_auth(&s, &claims, Some(&s.id), &r, TOKEN_ENDPOINT)
        .await
        .unwrap();
    assert_eq!(client.id.as_str(), s.id);
    refused_for(
        try_auth(&s, &claims, None, &r, TOKEN_ENDPOINT).await,
        "used before",
    );
    // Another jti is another assertion.
    let mut other = claims.clone();
    other["jti"] = json!("j2");
    assert!(try_auth(&s, &other, None, &r, TOKEN_ENDPOINT).await.is_ok());
}

#[tokio::test]
async fn iss_sub_and_client_id_name_the_client() {
    let s = setup().await;
    let r = rules(false);
    let mut c = good(&s.id);
    c["iss"] = json!("someone-else");
    refused_for(
        try_auth(&s, &c, None, &r, TOKEN_ENDPOINT).await,
        "iss and sub",
    );
    let mut c = good(&s.id);
    c.as_object_mut().unwrap().remove("sub");
    refused_for(
        try_auth(&s, &c, None, &r, TOKEN_ENDPOINT).await,
        "names its client",
    );
    let c = good(&s.id);
    refused_for(
        try_auth(&s, &c, Some("other"), &r, TOKEN_ENDPOINT).await,
        "client_id",
    );
    let c = good("unknown-client");
    refused_for(
        try_auth(&s, &c, None, &r, TOKEN_ENDPOINT).await,
        "no such client",
    );
    let mut c = good(&s.id);
    c["sub"] = json!(7);
    refused_for(
        try_auth(&s, &c, None, &r, TOKEN_ENDPOINT).await,
        "names its client",
    );
}

#[tokio::test]
async fn a_client_with_a_secret_cannot_use_an_assertion() {
    let s = setup().await;
    let (secret_client, _) = ClientBuilder::new().build();
    let id = secret_client.id.as_str().to_owned();
    ClientStore::insert(&s.store, secret_client).await.unwrap();
    let r = rules(false);
    refused_for(
        try_auth(&s, &good(&id), None, &r, TOKEN_ENDPOINT).await,
        "private_key_jwt",
    );
}

#[tokio::test]
async fn audiences() {
    let s = setup().await;
    let par = "https://as.example/par";
    let lenient = rules(false);
    let strict = rules(true);
    let mut n = 0;
    let mut with_aud = |aud: Value| {
        n += 1;
        let mut c = good(&s.id);
        c["aud"] = aud;
        c["jti"] = json!(format!("a{n}"));
        c
    };
    for (aud, endpoint) in [
        (json!(ISSUER), TOKEN_ENDPOINT),
        (json!(TOKEN_ENDPOINT), TOKEN_ENDPOINT),
        (json!(TOKEN_ENDPOINT), par),
        (json!(par), par),
        (json!(["https://elsewhere.example", ISSUER]), par),
    ] {
        let c = with_aud(aud.clone());
        assert!(
            try_auth(&s, &c, None, &lenient, endpoint).await.is_ok(),
            "{aud} at {endpoint}"
        );
    }
    for (aud, endpoint) in [
        (json!(par), TOKEN_ENDPOINT),
        (json!("https://as.example/"), TOKEN_ENDPOINT),
        (json!("https://AS.example"), TOKEN_ENDPOINT),
        (json!([]), TOKEN_ENDPOINT),
        (json!(["https://elsewhere.example"]), TOKEN_ENDPOINT),
    ] {
        let c = with_aud(aud.clone());
        refused_for(try_auth(&s, &c, None, &lenient, endpoint).await, "aud");
    }
    // Non-string members make the claims malformed (security matrix §3.26).
    let c = with_aud(json!([ISSUER, 1]));
    refused_for(
        try_auth(&s, &c, None, &lenient, TOKEN_ENDPOINT).await,
        "malformed",
    );
    // FAPI 2.0: the issuer, as a string, only.
    let c = with_aud(json!(ISSUER));
    assert!(try_auth(&s, &c, None, &strict, par).await.is_ok());
    for aud in [json!([ISSUER]), json!(TOKEN_ENDPOINT), json!(par)] {
        let c = with_aud(aud.clone());
        refused_for(try_auth(&s, &c, None, &strict, par).await, "single string");
    }
}

#[tokio::test]
async fn times() {
    let s = setup().await;
    let r = rules(false);
    let mut n = 0;
    let mut with = |changes: Value| {
        n += 1;
        let mut c = good(&s.id);
        c["jti"] = json!(format!("t{n}"));
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    };
    // Expired at the edge of the leeway (30 s): still accepted one second before, not at it.
    let ok_edge = with(json!({"exp": NOW - 29, "iat": NOW - 60}));
    assert!(
        try_auth(&s, &ok_edge, None, &r, TOKEN_ENDPOINT)
            .await
            .is_ok()
    );
    let expired = with(json!({"exp": NOW - 30, "iat": NOW - 60}));
    refused_for(
        try_auth(&s, &expired, None, &r, TOKEN_ENDPOINT).await,
        "expired",
    );
    // exp: required, an integer, not further ahead than 5 min (+ leeway).
    refused_for(
        try_auth(&s, &with(json!({"exp": null})), None, &r, TOKEN_ENDPOINT).await,
        "malformed",
    );
    for bad in [json!("1700000060"), json!(1_700_000_060.5), json!(-1)] {
        let c = with(json!({"exp": bad}));
        refused_for(
            try_auth(&s, &c, None, &r, TOKEN_ENDPOINT).await,
            "malformed",
        );
    }
    let far = with(json!({"exp": NOW + 331, "iat": null}));
    refused_for(
        try_auth(&s, &far, None, &r, TOKEN_ENDPOINT).await,
        "lives longer",
    );
    let far = with(json!({"exp": NOW + 320, "iat": NOW}));
    refused_for(
        try_auth(&s, &far, None, &r, TOKEN_ENDPOINT).await,
        "lives longer",
    );
    let ok = with(json!({"exp": NOW + 300, "iat": NOW}));
    assert!(try_auth(&s, &ok, None, &r, TOKEN_ENDPOINT).await.is_ok());
    // nbf and iat: 8 s ahead is fine (FAPI conformance), beyond the leeway is not.
    let ok = with(json!({"nbf": NOW + 8, "iat": NOW + 8}));
    assert!(try_auth(&s, &ok, None, &r, TOKEN_ENDPOINT).await.is_ok());
    let early = with(json!({"nbf": NOW + 61, "exp": NOW + 120}));
    refused_for(
        try_auth(&s, &early, None, &r, TOKEN_ENDPOINT).await,
        "not valid yet",
    );
    let future = with(json!({"iat": NOW + 31}));
    refused_for(
        try_auth(&s, &future, None, &r, TOKEN_ENDPOINT).await,
        "future",
    );
}

#[tokio::test]
async fn jti_is_required_and_bounded() {
    let s = setup().await;
    let r = rules(false);
    for jti in [Value::Null, json!(""), json!("x".repeat(MAX_JTI_LEN + 1))] {
        let mut c = good(&s.id);
        if jti.is_null() {
            c.as_object_mut().unwrap().remove("jti");
        } else {
            c["jti"] = jti;
        }
        refused_for(try_auth(&s, &c, None, &r, TOKEN_ENDPOINT).await, "jti");
    }
    let mut c = good(&s.id);
    c["jti"] = json!(42);
    refused_for(
        try_auth(&s, &c, None, &r, TOKEN_ENDPOINT).await,
        "malformed",
    );
}

#[tokio::test]
async fn the_signature_is_checked_before_the_claims_and_burns_nothing() {
    let s = setup().await;
    let r = rules(false);
    let mut c = good(&s.id);
    c["exp"] = json!(NOW - 1000);
    let forged = jwt(&c).replace(".ok", ".forged");
    refused_for(
        try_jwt(&s, &forged, None, &r, TOKEN_ENDPOINT).await,
        "signature",
    );
    // A forged assertion does not use up the jti of the real one.
    let real = good(&s.id);
    let forged = jwt(&real).replace(".ok", ".forged");
    refused_for(
        try_jwt(&s, &forged, None, &r, TOKEN_ENDPOINT).await,
        "signature",
    );
    assert!(try_auth(&s, &real, None, &r, TOKEN_ENDPOINT).await.is_ok());
}

#[tokio::test]
async fn oversized_and_malformed_assertions_are_invalid_client() {
    let s = setup().await;
    let r = rules(false);
    let big = format!("a.{}.ok", "b".repeat(MAX_ASSERTION_LEN));
    refused_for(
        try_jwt(&s, &big, None, &r, TOKEN_ENDPOINT).await,
        "too large",
    );
    for junk in ["abc", "a.b", "....", "a.bnVsbA.c"] {
        refused_for(
            try_jwt(&s, junk, None, &r, TOKEN_ENDPOINT).await,
            "names its client",
        );
    }
}
