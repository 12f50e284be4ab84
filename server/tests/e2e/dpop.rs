//! DPoP (RFC 9449) end to end: proofs at the token endpoint and PAR, the whole negative list of
//! security matrix §2.2 item 56 and §9 item 3, server nonces, bound refresh tokens of public
//! clients, `dpop_jkt`, and bound tokens at UserInfo and at a resource server guarded by the
//! validator's tower layer. Proofs are made here by hand (ring) for the negative cases; the
//! positive case with a third-party implementation is [`oauth4webapi_binds_and_uses_a_token`].

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use gatehouse_token::{KeyParams, b64};
use gatehouse_validator::remote::layer::BearerAuthLayer;
use gatehouse_validator::remote::{RemoteSettings, RemoteValidator};
use reqwest::blocking::RequestBuilder;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use serde_json::{Value, json};

use crate::harness::{Server, free_port, jwt_parts, run_node};
use crate::sign_in::driver::{App, AuthRequest, Page, Setup, VERIFIER};

/// A client's DPoP key (ES256), making proofs.
pub(crate) struct DpopKey {
    pair: EcdsaKeyPair,
    rng: SystemRandom,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The `ath` of `token` (RFC 9449 §4.2).
fn ath(token: &str) -> String {
    b64::encode(ring::digest::digest(
        &ring::digest::SHA256,
        token.as_bytes(),
    ))
}

impl DpopKey {
    pub(crate) fn new() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        Self { pair, rng }
    }

    pub(crate) fn jwk(&self) -> Value {
        let p = self.pair.public_key().as_ref();
        json!({"kty": "EC", "crv": "P-256", "x": b64::encode(&p[1..33]), "y": b64::encode(&p[33..])})
    }

    pub(crate) fn jkt(&self) -> String {
        serde_json::from_value::<KeyParams>(self.jwk())
            .unwrap()
            .thumbprint()
    }

    fn header(&self) -> Value {
        json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk()})
    }

    fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64::encode(header.to_string()),
            b64::encode(claims.to_string())
        );
        let sig = self.pair.sign(&self.rng, input.as_bytes()).unwrap();
        format!("{input}.{}", b64::encode(sig))
    }

    /// Fresh claims for `method url`: a random `jti`, `iat` now.
    fn claims(&self, method: &str, url: &str) -> Value {
        let mut jti = [0u8; 16];
        self.rng.fill(&mut jti).unwrap();
        json!({"jti": b64::encode(jti), "htm": method, "htu": url, "iat": now()})
    }

    pub(crate) fn proof(&self, method: &str, url: &str) -> String {
        self.sign(&self.header(), &self.claims(method, url))
    }

    /// A proof for a resource request carrying `token`.
    fn proof_for(&self, method: &str, url: &str, token: &str) -> String {
        let mut claims = self.claims(method, url);
        claims["ath"] = json!(ath(token));
        self.sign(&self.header(), &claims)
    }
}

fn with(mut base: Value, key: &str, value: Value) -> Value {
    base[key] = value;
    base
}

fn without(mut base: Value, key: &str) -> Value {
    base.as_object_mut().unwrap().remove(key);
    base
}

/// `POST path` with Basic credentials, `form` and these `DPoP` headers.
fn post(
    server: &Server,
    path: &str,
    creds: (&str, &str),
    form: &[(&str, &str)],
    proofs: &[&str],
) -> Page {
    let mut req = server
        .http
        .post(format!("{}{path}", server.base))
        .basic_auth(creds.0, Some(creds.1))
        .form(form);
    for proof in proofs {
        req = req.header("DPoP", *proof);
    }
    Page::read(req.send().unwrap())
}

/// A request of `app` (Basic for a confidential one, `client_id` for a public one) with a proof.
fn app_post(s: &Setup, app: &App, path: &str, form: &[(&str, &str)], proof: Option<&str>) -> Page {
    let mut all = form.to_vec();
    let mut req: RequestBuilder = s.server.http.post(format!("{}{path}", s.server.base));
    match &app.secret {
        Some(secret) => req = req.basic_auth(&app.id, Some(secret)),
        None => all.push(("client_id", &app.id)),
    }
    if let Some(proof) = proof {
        req = req.header("DPoP", proof);
    }
    Page::read(req.form(&all).send().unwrap())
}

const CC: [(&str, &str); 1] = [("grant_type", "client_credentials")];

fn assert_dpop_error(page: &Page, error: &str, what: &str) {
    assert_eq!(page.status, 400, "{what}: {}", page.body);
    assert_eq!(page.json()["error"], error, "{what}: {}", page.body);
    assert!(page.json().get("access_token").is_none(), "{what}");
}

/// RFC 9449 §5, §6.1: a proof at the token endpoint binds the access token (`cnf.jkt`),
/// answered with `token_type: DPoP`; introspection returns `cnf` (RFC 9449 §6.2) so a remote
/// resource server can check it; discovery lists the proof algorithms.
#[test]
fn a_proof_binds_the_token_and_introspection_returns_cnf() {
    let server = Server::start();
    let (id, secret) = server.client(&[]);
    let key = DpopKey::new();
    let token_url = format!("{}/token", server.base);
    let page = post(
        &server,
        "/token",
        (&id, &secret),
        &CC,
        &[&key.proof("POST", &token_url)],
    );
    assert_eq!(page.status, 200, "{}", page.body);
    let body = page.json();
    assert_eq!(body["token_type"], "DPoP");
    let token = body["access_token"].as_str().unwrap();
    let (_, claims) = jwt_parts(token);
    assert_eq!(claims["cnf"], json!({"jkt": key.jkt()}));
    let answer = server.introspect(server.introspector(), token);
    assert_eq!(answer["active"], true);
    assert_eq!(answer["cnf"], json!({"jkt": key.jkt()}));
    assert_eq!(answer["token_type"], "DPoP");
    // Without a proof: a bearer token, no cnf.
    let bearer = server.token((&id, &secret), &[]);
    assert!(jwt_parts(&bearer).1.get("cnf").is_none());
    let answer = server.introspect(server.introspector(), &bearer);
    assert_eq!(answer["token_type"], "Bearer");
    assert!(answer.get("cnf").is_none());
    // Opaque tokens carry the binding in their record.
    let (oid, osecret) = server.client(&["--token-format", "opaque"]);
    let page = post(
        &server,
        "/token",
        (&oid, &osecret),
        &CC,
        &[&key.proof("POST", &token_url)],
    );
    assert_eq!(page.status, 200, "{}", page.body);
    let answer = server.introspect(
        server.introspector(),
        page.json()["access_token"].as_str().unwrap(),
    );
    assert_eq!(answer["cnf"], json!({"jkt": key.jkt()}));
    let metadata = server.get_json(&format!(
        "{}/.well-known/oauth-authorization-server",
        server.base
    ));
    assert_eq!(
        metadata["dpop_signing_alg_values_supported"],
        json!(["ES256", "PS256", "EdDSA", "RS256"])
    );
}

/// Security matrix §2.2 item 56 and §9 item 3: every RFC 9449 §4.3 check at the token
/// endpoint, each an `invalid_dpop_proof` (400) with no token; and what must still pass.
#[test]
fn every_proof_check_at_the_token_endpoint() {
    let server = Server::start();
    let (id, secret) = server.client(&[]);
    let key = DpopKey::new();
    let url = format!("{}/token", server.base);
    let good = || key.claims("POST", &url);
    let signed = |claims: &Value| key.sign(&key.header(), claims);
    let with_header = |header: Value| key.sign(&header, &good());
    let none = {
        let header = with(key.header(), "alg", json!("none"));
        format!(
            "{}.{}.",
            b64::encode(header.to_string()),
            b64::encode(good().to_string())
        )
    };
    let hs256 = {
        let header = with(key.header(), "alg", json!("HS256"));
        let input = format!(
            "{}.{}",
            b64::encode(header.to_string()),
            b64::encode(good().to_string())
        );
        let mac = ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key.jwk().to_string().as_bytes()),
            input.as_bytes(),
        );
        format!("{input}.{}", b64::encode(mac))
    };
    let replayed = key.proof("POST", &url);
    let first = post(&server, "/token", (&id, &secret), &CC, &[&replayed]);
    assert_eq!(first.status, 200, "{}", first.body);
    let other = DpopKey::new();
    let cases: Vec<(&str, String)> = vec![
        ("replayed jti", replayed),
        ("wrong htm", signed(&with(good(), "htm", json!("GET")))),
        ("lowercase htm", signed(&with(good(), "htm", json!("post")))),
        (
            "htu of another endpoint",
            signed(&with(good(), "htu", json!(format!("{}/par", server.base)))),
        ),
        (
            "htu of another host",
            signed(&with(good(), "htu", json!("https://evil.example/token"))),
        ),
        (
            "iat an hour ago",
            signed(&with(good(), "iat", json!(now() - 3600))),
        ),
        (
            "iat in an hour",
            signed(&with(good(), "iat", json!(now() + 3600))),
        ),
        (
            "iat 2 minutes ago",
            signed(&with(good(), "iat", json!(now() - 120))),
        ),
        ("no jti", signed(&without(good(), "jti"))),
        ("no htm", signed(&without(good(), "htm"))),
        ("no htu", signed(&without(good(), "htu"))),
        ("no iat", signed(&without(good(), "iat"))),
        (
            "expired exp",
            signed(&with(good(), "exp", json!(now() - 5))),
        ),
        ("no typ", with_header(without(key.header(), "typ"))),
        (
            "typ JWT",
            with_header(with(key.header(), "typ", json!("JWT"))),
        ),
        ("no alg", with_header(without(key.header(), "alg"))),
        ("no jwk", with_header(without(key.header(), "jwk"))),
        (
            "private key in jwk",
            with_header(with(
                key.header(),
                "jwk",
                with(key.jwk(), "d", json!("AAAA")),
            )),
        ),
        (
            "symmetric jwk",
            with_header(with(
                key.header(),
                "jwk",
                json!({"kty": "oct", "k": "c2VjcmV0"}),
            )),
        ),
        ("alg none", none),
        ("alg HS256 keyed with the public key", hs256),
        ("signed by another key", other.sign(&key.header(), &good())),
        ("not a JWT", "not-a-jwt".into()),
        ("two parts", "eyJhbGciOiJFUzI1NiJ9.e30".into()),
    ];
    for (what, proof) in &cases {
        let page = post(&server, "/token", (&id, &secret), &CC, &[proof]);
        assert_dpop_error(&page, "invalid_dpop_proof", what);
    }
    // Two DPoP headers, each a good proof.
    let page = post(
        &server,
        "/token",
        (&id, &secret),
        &CC,
        &[&key.proof("POST", &url), &key.proof("POST", &url)],
    );
    assert_dpop_error(&page, "invalid_dpop_proof", "two DPoP headers");
    // Hostile header values: bytes that are not text, an empty value, a huge proof (a valid
    // signature over 9 KiB of claims).
    let huge = signed(&with(good(), "pad", json!("x".repeat(9 * 1024))));
    for (what, value) in [
        (
            "non-UTF-8 bytes",
            reqwest::header::HeaderValue::from_bytes(b"ey\xff\xfe.a.b").unwrap(),
        ),
        ("empty value", reqwest::header::HeaderValue::from_static("")),
        (
            "9 KiB proof",
            reqwest::header::HeaderValue::from_str(&huge).unwrap(),
        ),
    ] {
        let r = server
            .http
            .post(format!("{}/token", server.base))
            .basic_auth(&id, Some(&secret))
            .header("DPoP", value)
            .form(&CC)
            .send()
            .unwrap();
        assert_dpop_error(&Page::read(r), "invalid_dpop_proof", what);
    }
    // FAPI 2.0 (matrix §2.2 item 55): ±10 s of skew; htu with query, fragment, another case
    // of scheme and host, the default port; unknown header members and claims.
    let upper = url.replacen("http://127.0.0.1", "HTTP://127.0.0.1", 1);
    for (what, proof) in [
        (
            "iat 10 s ago",
            signed(&with(good(), "iat", json!(now() - 10))),
        ),
        (
            "iat in 10 s",
            signed(&with(good(), "iat", json!(now() + 10))),
        ),
        (
            "htu with query and fragment",
            signed(&with(good(), "htu", json!(format!("{url}?a=b#c")))),
        ),
        (
            "htu in capitals",
            signed(&with(good(), "htu", json!(upper))),
        ),
        (
            "extra claims",
            signed(&with(good(), "extra", json!({"x": 1}))),
        ),
        (
            "extra header",
            with_header(with(key.header(), "kid", json!("k1"))),
        ),
    ] {
        let page = post(&server, "/token", (&id, &secret), &CC, &[&proof]);
        assert_eq!(page.status, 200, "{what}: {}", page.body);
        assert_eq!(page.json()["token_type"], "DPoP", "{what}");
    }
}

/// RFC 9449 §8: with nonces required, a proof without the server's nonce (or with a wrong
/// one) is answered `use_dpop_nonce` with a `DPoP-Nonce` header; a proof carrying it passes,
/// and every answer brings a fresh nonce.
#[test]
fn server_nonces_when_required() {
    let server = Server::start_with(&[("GATEHOUSE_DPOP__REQUIRE_NONCE", "true")]);
    let (id, secret) = server.client(&[]);
    let key = DpopKey::new();
    let url = format!("{}/token", server.base);
    let page = post(
        &server,
        "/token",
        (&id, &secret),
        &CC,
        &[&key.proof("POST", &url)],
    );
    assert_dpop_error(&page, "use_dpop_nonce", "no nonce");
    let nonce = page
        .header("dpop-nonce")
        .expect("a DPoP-Nonce header")
        .to_owned();
    let wrong = key.sign(
        &key.header(),
        &with(key.claims("POST", &url), "nonce", json!("made-up")),
    );
    let page = post(&server, "/token", (&id, &secret), &CC, &[&wrong]);
    assert_dpop_error(&page, "use_dpop_nonce", "wrong nonce");
    assert_eq!(page.header("dpop-nonce"), Some(nonce.as_str()));
    let right = key.sign(
        &key.header(),
        &with(key.claims("POST", &url), "nonce", json!(nonce)),
    );
    let page = post(&server, "/token", (&id, &secret), &CC, &[&right]);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.header("dpop-nonce").is_some());
    // Without any proof nonces do not matter: a bearer token.
    assert_eq!(
        post(&server, "/token", (&id, &secret), &CC, &[]).status,
        200
    );
    // At PAR too (RFC 9449 §9).
    let page = post(
        &server,
        "/par",
        (&id, &secret),
        &[("response_type", "code")],
        &[&key.proof("POST", &format!("{}/par", server.base))],
    );
    assert_dpop_error(&page, "use_dpop_nonce", "PAR without nonce");
    assert!(page.header("dpop-nonce").is_some());
    // And at UserInfo, a resource of this server (§9; the probe found it let proofs without a
    // nonce through): a 401 DPoP challenge with a fresh nonce, then the proof with it passes
    // (the token lacks `openid`, so the answer is the 403 that comes after the proof checks).
    let fresh = key.sign(
        &key.header(),
        &with(key.claims("POST", &url), "nonce", json!(nonce)),
    );
    let page = post(&server, "/token", (&id, &secret), &CC, &[&fresh]);
    let bound: Value = serde_json::from_str(&page.body).unwrap();
    let access = bound["access_token"].as_str().unwrap();
    let userinfo = format!("{}/userinfo", server.base);
    let at_userinfo = |proof: &str| {
        server
            .http
            .get(&userinfo)
            .header("Authorization", format!("DPoP {access}"))
            .header("DPoP", proof)
            .send()
            .unwrap()
    };
    let r = at_userinfo(&key.proof_for("GET", &userinfo, access));
    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.contains("use_dpop_nonce"), "{challenge}");
    let nonce = r.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    let mut claims = key.claims("GET", &userinfo);
    claims["ath"] = json!(ath(access));
    claims["nonce"] = json!(nonce);
    let r = at_userinfo(&key.sign(&key.header(), &claims));
    assert_eq!(r.status(), 403, "{:?}", r.headers().get("www-authenticate"));
}

/// RFC 9449 §5.2 and matrix §2.2 item 53: a client registered `dpop_bound_access_tokens`, or a
/// resource requiring sender-constrained tokens, gets no token without a proof.
#[test]
fn required_bindings_refuse_requests_without_a_proof() {
    let server = Server::start();
    let (id, secret) = server.client(&["--dpop"]);
    let shown = server.cli_json(&["client", "show", &id]);
    assert_eq!(shown["dpop_bound_access_tokens"], true);
    let key = DpopKey::new();
    let url = format!("{}/token", server.base);
    let page = post(&server, "/token", (&id, &secret), &CC, &[]);
    assert_dpop_error(&page, "invalid_dpop_proof", "DPoP client without a proof");
    let page = post(
        &server,
        "/token",
        (&id, &secret),
        &CC,
        &[&key.proof("POST", &url)],
    );
    assert_eq!(page.status, 200, "{}", page.body);

    let out = server.cli(&[
        "resource",
        "create",
        "--uri",
        "https://bank.example",
        "--scope",
        "read",
        "--require-sender-constrained",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (bank, bank_secret) =
        server.client(&["--resource", "https://bank.example", "--scope", "read"]);
    let page = post(&server, "/token", (&bank, &bank_secret), &CC, &[]);
    assert_dpop_error(
        &page,
        "invalid_request",
        "bearer token for a strict resource",
    );
    let page = post(
        &server,
        "/token",
        (&bank, &bank_secret),
        &CC,
        &[&key.proof("POST", &url)],
    );
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.json()["token_type"], "DPoP");
}

/// The code flow with DPoP: the token bound; UserInfo refuses it as a bearer token and takes
/// it with a proof (matrix §2.2 items 56, 59); a public client's refresh token is bound to the
/// key (Keycloak #36475); `dpop_jkt` at the authorization endpoint and a proof at PAR bind the
/// code (RFC 9449 §10; matrix §2.2 item 54).
#[test]
fn the_code_flow_with_dpop_binds_codes_tokens_and_refresh_tokens() {
    let s = Setup::new();
    let key = DpopKey::new();
    let other = DpopKey::new();
    let token_url = format!("{}/token", s.server.base);
    let redeem = |app: &App, code: &str, proof: Option<&str>| {
        app_post(
            &s,
            app,
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("code_verifier", VERIFIER),
                ("redirect_uri", &app.redirect_uri),
            ],
            proof,
        )
    };
    let code = s.browser().code(&s.public, &s.public.request());
    let page = redeem(&s.public, &code, Some(&key.proof("POST", &token_url)));
    assert_eq!(page.status, 200, "{}", page.body);
    let body = page.json();
    assert_eq!(body["token_type"], "DPoP");
    let access = body["access_token"].as_str().unwrap().to_owned();
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();

    // UserInfo: a bound token as bearer is refused; with the DPoP scheme and a proof it works,
    // whatever the case of the scheme name; a proof is used once; `ath` must match.
    let userinfo = format!("{}/userinfo", s.server.base);
    let get = |scheme: &str, proof: Option<&str>| {
        let mut req = s
            .server
            .http
            .get(&userinfo)
            .header("Authorization", format!("{scheme} {access}"));
        if let Some(p) = proof {
            req = req.header("DPoP", p);
        }
        Page::read(req.send().unwrap())
    };
    let page = get("Bearer", None);
    assert_eq!(page.status, 401);
    let challenge = page.header("www-authenticate").unwrap().to_owned();
    assert!(
        challenge.starts_with("DPoP error=\"invalid_token\""),
        "{challenge}"
    );
    assert!(
        challenge.contains("algs=\"ES256 PS256 EdDSA RS256\""),
        "{challenge}"
    );
    let proof = key.proof_for("GET", &userinfo, &access);
    assert_eq!(get("DPoP", Some(&proof)).status, 200);
    let page = get("DPoP", Some(&proof));
    assert_eq!(page.status, 401, "replayed proof");
    assert!(
        page.header("www-authenticate")
            .unwrap()
            .contains("invalid_dpop_proof")
    );
    assert_eq!(
        get("DPOP", Some(&key.proof_for("GET", &userinfo, &access))).status,
        200
    );
    assert_eq!(
        get("dpop", Some(&key.proof_for("GET", &userinfo, &access))).status,
        200
    );
    for (what, proof) in [
        ("no proof", None),
        (
            "wrong ath",
            Some(key.proof_for("GET", &userinfo, "another token")),
        ),
        ("no ath", Some(key.proof("GET", &userinfo))),
        (
            "another key",
            Some(other.proof_for("GET", &userinfo, &access)),
        ),
        ("wrong htm", Some(key.proof_for("POST", &userinfo, &access))),
        ("wrong htu", Some(key.proof_for("GET", &token_url, &access))),
    ] {
        let page = get("DPoP", proof.as_deref());
        assert_eq!(page.status, 401, "{what}");
        assert!(
            page.header("www-authenticate")
                .unwrap()
                .contains("invalid_dpop_proof"),
            "{what}"
        );
    }

    // The public client's refresh token is bound: not without a proof, not with another key,
    // and the refusals change nothing.
    let refresh_with = |proof: Option<&str>| {
        app_post(
            &s,
            &s.public,
            "/token",
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
            proof,
        )
    };
    assert_dpop_error(
        &refresh_with(None),
        "invalid_dpop_proof",
        "refresh without a proof",
    );
    assert_dpop_error(
        &refresh_with(Some(&other.proof("POST", &token_url))),
        "invalid_dpop_proof",
        "refresh with another key",
    );
    let page = refresh_with(Some(&key.proof("POST", &token_url)));
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.json()["token_type"], "DPoP");

    // dpop_jkt at the authorization endpoint binds the code: another key (or none) cannot
    // redeem it, and a refused redemption burns it.
    let request = s.public.request().with("dpop_jkt", &key.jkt());
    let code = s.browser().code(&s.public, &request);
    assert_dpop_error(
        &redeem(&s.public, &code, Some(&other.proof("POST", &token_url))),
        "invalid_dpop_proof",
        "dpop_jkt with another key",
    );
    let code = s.browser().code(&s.public, &request);
    assert_dpop_error(
        &redeem(&s.public, &code, None),
        "invalid_dpop_proof",
        "dpop_jkt without a proof",
    );
    let code = s.browser().code(&s.public, &request);
    let page = redeem(&s.public, &code, Some(&key.proof("POST", &token_url)));
    assert_eq!(page.status, 200, "{}", page.body);

    // A proof at PAR binds the pushed request (RFC 9449 §10.1).
    let par_url = format!("{}/par", s.server.base);
    let push = |proof: &str, extra: Option<(&str, &str)>| {
        let mut form = s
            .web
            .request()
            .pairs()
            .into_iter()
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .collect::<Vec<_>>();
        if let Some((n, v)) = extra {
            form.push((n.to_owned(), v.to_owned()));
        }
        let form: Vec<(&str, &str)> = form.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        app_post(&s, &s.web, "/par", &form, Some(proof))
    };
    let page = push(
        &key.proof("POST", &par_url),
        Some(("dpop_jkt", &other.jkt())),
    );
    assert_dpop_error(
        &page,
        "invalid_dpop_proof",
        "PAR dpop_jkt not the proof's key",
    );
    let once = key.proof("POST", &par_url);
    assert_eq!(push(&once, None).status, 201);
    assert_dpop_error(
        &push(&once, None),
        "invalid_dpop_proof",
        "a PAR proof replayed",
    );
    assert_dpop_error(
        &push(&key.proof("POST", &token_url), None),
        "invalid_dpop_proof",
        "a proof for /token at /par",
    );
    let code_of = |page: &Page| {
        assert_eq!(page.status, 201, "{}", page.body);
        let uri = page.json()["request_uri"].as_str().unwrap().to_owned();
        let request = AuthRequest(Vec::new())
            .with("client_id", &s.web.id)
            .with("request_uri", &uri);
        let page = s.browser().approve(&request);
        page.redirect_params(&s.web.redirect_uri)["code"].clone()
    };
    let code = code_of(&push(&key.proof("POST", &par_url), None));
    assert_dpop_error(
        &redeem(&s.web, &code, Some(&other.proof("POST", &token_url))),
        "invalid_dpop_proof",
        "PAR-bound code with another key",
    );
    let code = code_of(&push(&key.proof("POST", &par_url), None));
    let page = redeem(&s.web, &code, Some(&key.proof("POST", &token_url)));
    assert_eq!(page.status, 200, "{}", page.body);
    // A confidential client's refresh token is not bound (RFC 9449 §5): it refreshes with no
    // proof, and gets a bearer token.
    let refresh = page.json()["refresh_token"].as_str().unwrap().to_owned();
    let page = app_post(
        &s,
        &s.web,
        "/token",
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        None,
    );
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.json()["token_type"], "Bearer");
}

/// A resource server guarded by the validator's tower layer takes a DPoP-bound token only with
/// a proof for its own URL; refuses it as a bearer token; answers `WWW-Authenticate: DPoP`.
#[test]
fn a_resource_server_checks_dpop_bound_tokens() {
    let server = Server::start();
    let rs_port = free_port();
    let resource = format!("http://127.0.0.1:{rs_port}/mcp");
    let (id, secret) = server.client(&["--resource", &resource, "--scope", "tools"]);
    let key = DpopKey::new();
    let token_url = format!("{}/token", server.base);
    let page = post(
        &server,
        "/token",
        (&id, &secret),
        &CC,
        &[&key.proof("POST", &token_url)],
    );
    assert_eq!(page.status, 200, "{}", page.body);
    let token = page.json()["access_token"].as_str().unwrap().to_owned();
    let bearer = server.token((&id, &secret), &[]);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut settings = RemoteSettings::new(server.base.clone(), resource.clone());
    settings.fetch.allow_http_loopback = true;
    settings.unknown_kid_interval = Duration::ZERO;
    let remote = rt.block_on(RemoteValidator::discover(settings)).unwrap();
    let app = Router::new()
        .route("/mcp", get(|| async { "protected" }))
        .layer(BearerAuthLayer::new(remote));
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(("127.0.0.1", rs_port)))
        .unwrap();
    rt.spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    let call = |scheme: &str, token: &str, proof: Option<&str>| {
        let mut req = server
            .http
            .get(&resource)
            .header("Authorization", format!("{scheme} {token}"));
        if let Some(p) = proof {
            req = req.header("DPoP", p);
        }
        let r = req.send().unwrap();
        let challenges: Vec<String> = r
            .headers()
            .get_all("www-authenticate")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        (r.status().as_u16(), challenges)
    };
    let (status, challenges) = call("Bearer", &token, None);
    assert_eq!(status, 401);
    assert!(
        challenges[0].starts_with("DPoP error=\"invalid_token\""),
        "{challenges:?}"
    );
    assert!(
        challenges
            .iter()
            .any(|c| c.starts_with("Bearer resource_metadata=")),
        "{challenges:?}"
    );
    let proof = key.proof_for("GET", &resource, &token);
    assert_eq!(call("DPoP", &token, Some(&proof)).0, 200);
    let (status, challenges) = call("DPoP", &token, Some(&proof));
    assert_eq!(status, 401, "replayed");
    assert!(
        challenges[0].contains("invalid_dpop_proof"),
        "{challenges:?}"
    );
    assert_eq!(
        call(
            "DPOP",
            &token,
            Some(&key.proof_for("GET", &resource, &token))
        )
        .0,
        200
    );
    let elsewhere = format!("http://127.0.0.1:{rs_port}/other");
    for (what, proof) in [
        ("no proof", None),
        (
            "htu of another path",
            Some(key.proof_for("GET", &elsewhere, &token)),
        ),
        ("wrong ath", Some(key.proof_for("GET", &resource, &bearer))),
        (
            "another key",
            Some(DpopKey::new().proof_for("GET", &resource, &token)),
        ),
    ] {
        let (status, challenges) = call("DPoP", &token, proof.as_deref());
        assert_eq!(status, 401, "{what}");
        assert!(
            challenges[0].contains("invalid_dpop_proof"),
            "{what}: {challenges:?}"
        );
    }
    // A bearer token stays a bearer token; presented with DPoP it binds nothing.
    assert_eq!(call("bearer", &bearer, None).0, 200);
    assert_eq!(
        call(
            "DPoP",
            &bearer,
            Some(&key.proof_for("GET", &resource, &bearer))
        )
        .0,
        401
    );
}

/// A third-party DPoP implementation, `oauth4webapi` (npm): it makes its own key, gets a
/// DPoP-bound token by client credentials (answering our `use_dpop_nonce` challenge as RFC
/// 9449 §8 says), then calls a protected resource (our UserInfo-free path: a resource server
/// behind the validator's tower layer) with its proof.
#[test]
fn oauth4webapi_binds_and_uses_a_token() {
    let server = Server::start_with(&[("GATEHOUSE_DPOP__REQUIRE_NONCE", "true")]);
    let rs_port = free_port();
    let resource = format!("http://127.0.0.1:{rs_port}/mcp");
    let (id, secret) = server.client(&["--resource", &resource, "--scope", "tools", "--dpop"]);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut settings = RemoteSettings::new(server.base.clone(), resource.clone());
    settings.fetch.allow_http_loopback = true;
    let remote = rt.block_on(RemoteValidator::discover(settings)).unwrap();
    let app = Router::new()
        .route("/mcp", get(|| async { "protected" }))
        .layer(BearerAuthLayer::new(remote));
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(("127.0.0.1", rs_port)))
        .unwrap();
    rt.spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    let report = run_node(
        "dpop",
        "client.mjs",
        "oauth4webapi DPoP client",
        &json!({
            "issuer": server.base,
            "client_id": id,
            "client_secret": secret,
            "resource": resource,
        }),
    );
    assert_eq!(report["token_type"], "dpop", "{report}");
    let token = report["access_token"].as_str().unwrap();
    let (_, claims) = jwt_parts(token);
    assert_eq!(claims["cnf"]["jkt"], report["jkt"], "{report}");
    assert_eq!(report["nonce_challenge_answered"], true, "{report}");
    assert_eq!(report["resource_status"], 200, "{report}");
    assert_eq!(report["resource_body"], "protected", "{report}");
    assert_eq!(report["bearer_status"], 401, "{report}");
}

/// RFC 9449 §5 (and RFC 8693 §2.2.2): a DPoP-bound token is exchanged only with a proof by its
/// key: without one it would become a bearer token, with another key it would be rebound.
/// Both are `invalid_request`, and nothing is issued.
#[test]
fn a_dpop_bound_token_is_exchanged_only_with_a_proof_by_its_key() {
    const TE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
    const AT: &str = "urn:ietf:params:oauth:token-type:access_token";
    let server = Server::start();
    let url = format!("{}/token", server.base);
    // JWT and opaque subject tokens alike (an opaque token's record carries its cnf).
    for format in ["jwt", "opaque"] {
        let (id, secret) = server.client(&[
            "--grant-type",
            TE,
            "--grant-type",
            "client_credentials",
            "--resource",
            "https://a.example",
            "--scope",
            "read",
            "--token-format",
            format,
        ]);
        let key = DpopKey::new();
        let page = post(
            &server,
            "/token",
            (&id, &secret),
            &CC,
            &[&key.proof("POST", &url)],
        );
        assert_eq!(page.status, 200, "{}", page.body);
        let bound = page.json()["access_token"].as_str().unwrap().to_owned();
        let exchange = [
            ("grant_type", TE),
            ("subject_token", bound.as_str()),
            ("subject_token_type", AT),
        ];
        let page = post(&server, "/token", (&id, &secret), &exchange, &[]);
        assert_dpop_error(&page, "invalid_request", "exchanged without a proof");
        assert!(
            page.json()["error_description"]
                .as_str()
                .unwrap()
                .contains("sender-constrained"),
            "{format}: {}",
            page.body
        );
        let other = DpopKey::new();
        let page = post(
            &server,
            "/token",
            (&id, &secret),
            &exchange,
            &[&other.proof("POST", &url)],
        );
        assert_dpop_error(&page, "invalid_request", "rebound to another key");
        let page = post(
            &server,
            "/token",
            (&id, &secret),
            &exchange,
            &[&key.proof("POST", &url)],
        );
        assert_eq!(page.status, 200, "{format}: {}", page.body);
        assert_eq!(page.json()["token_type"], "DPoP");
        let exchanged = page.json()["access_token"].as_str().unwrap().to_owned();
        let answer = server.introspect(server.introspector(), &exchanged);
        assert_eq!(answer["cnf"], json!({"jkt": key.jkt()}), "{format}");
    }
}

/// RFC 9449 §5.2: a code redeemed by a `dpop_bound_access_tokens` client without a proof is
/// refused before the code is taken, so the person's approval is not lost: the retry with a
/// proof gets the tokens.
#[test]
fn a_code_redemption_refused_for_a_missing_proof_keeps_the_code() {
    let s = Setup::new();
    let app = crate::sign_in::driver::register(
        &s.server,
        &json!({
            "name": "DPoP app",
            "grant_types": ["authorization_code"],
            "redirect_uris": ["https://dpop-app.example/cb"],
            "token_endpoint_auth_method": "none",
            "scope": crate::sign_in::driver::SCOPE,
            "resources": [crate::sign_in::driver::RESOURCE],
            "dpop_bound_access_tokens": true,
        }),
    );
    let code = s.browser().code(&app, &app.request());
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", VERIFIER),
        ("redirect_uri", app.redirect_uri.as_str()),
    ];
    let page = app_post(&s, &app, "/token", &form, None);
    assert_dpop_error(&page, "invalid_dpop_proof", "no proof");
    let key = DpopKey::new();
    let url = format!("{}/token", s.server.base);
    let page = app_post(&s, &app, "/token", &form, Some(&key.proof("POST", &url)));
    assert_eq!(page.status, 200, "the code survived: {}", page.body);
    assert_eq!(page.json()["token_type"], "DPoP");
}
