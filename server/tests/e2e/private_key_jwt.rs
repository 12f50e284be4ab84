//! `private_key_jwt` client authentication end to end (RFC 7523 §2.2 and §3, OIDC Core §9;
//! security matrix §1.5.43, §2.2.37–41, §3): clients registered with the CLI and by dynamic
//! registration with a JWK set or a `jwks_uri`; assertions built by hand in the test and signed
//! with real ES256/ES384 keys (ring, through gatehouse-signer's software keys).
//!
//! A good assertion authenticates at the token, introspection, revocation and PAR endpoints;
//! every bad one is 401 `invalid_client`; keys at a `jwks_uri` are served by a local https
//! server (its certificate trusted through `client_keys.extra_ca_files`, its URL opened by
//! `client_keys.allowed_prefixes`), rotate through a refresh on an unknown `kid`, and a flood of
//! unknown `kid`s fetches at most once per `refresh_interval`. No packet leaves loopback.

use gatehouse_signer::{SigningKey, SoftwareKey};
use gatehouse_token::{Algorithm, b64};
use serde_json::{Value, json};

use crate::harness::Server;
use crate::jwt_bearer::now;
use crate::metadata_documents::DocServer;

pub(crate) const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const RESOURCE: &str = "https://rs.example/api";
const REDIRECT: &str = "https://app.example/cb";
/// S256 of "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk" (RFC 7636 appendix B).
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// Generous failure limits: the negative tests below fail many times from one address.
pub(crate) const LIMITS: [(&str, &str); 2] = [
    ("GATEHOUSE_LIMITS__AUTH_FAILURES_PER_CLIENT", "1000"),
    ("GATEHOUSE_LIMITS__AUTH_FAILURES_PER_ADDRESS", "1000"),
];

pub(crate) fn new_key() -> SoftwareKey {
    SoftwareKey::generate(Algorithm::ES256).unwrap()
}

/// `header`.`claims` signed with `key`, as a compact JWS.
pub(crate) fn sign(key: &SoftwareKey, header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        b64::encode(header.to_string()),
        b64::encode(claims.to_string())
    );
    let signature = key.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", b64::encode(signature))
}

pub(crate) fn header(key: &SoftwareKey) -> Value {
    json!({"alg": key.algorithm().as_str(), "kid": key.kid(), "typ": "JWT"})
}

/// The claims of a good assertion of `client` for `aud`, with a fresh `jti`.
pub(crate) fn claims(client: &str, aud: &str) -> Value {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let now = now();
    json!({
        "iss": client, "sub": client, "aud": aud,
        "iat": now, "exp": now + 60, "jti": format!("jti-{n}-{now}"),
    })
}

pub(crate) fn jwks_of(keys: &[&SoftwareKey]) -> Value {
    json!({"keys": keys.iter().map(|k| k.public_jwk()).collect::<Vec<_>>()})
}

/// Registers a private_key_jwt client with the CLI (`--jwks-file`), for client credentials,
/// the code flow (PAR) and introspection; its id.
fn register(server: &Server, keys: &[&SoftwareKey]) -> String {
    register_with(server, keys, &[])
}

/// [`register`] with `extra` CLI arguments (`--security-profile fapi2`).
pub(crate) fn register_with(server: &Server, keys: &[&SoftwareKey], extra: &[&str]) -> String {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut file, jwks_of(keys).to_string().as_bytes()).unwrap();
    let path = file.path().display().to_string();
    let mut args = vec![
        "client",
        "create",
        "--name",
        "billing",
        "--auth-method",
        "private_key_jwt",
        "--jwks-file",
        &path,
        "--resource",
        RESOURCE,
        "--scope",
        "read",
        "--grant-type",
        "client_credentials",
        "--grant-type",
        "authorization_code",
        "--grant-type",
        "refresh_token",
        "--redirect-uri",
        REDIRECT,
        "--introspect",
        "any",
    ];
    args.extend_from_slice(extra);
    let created = server.cli_json(&args);
    assert!(created.get("client_secret").is_none(), "{created}");
    assert_eq!(created["token_endpoint_auth_method"], "private_key_jwt");
    created["client_id"].as_str().unwrap().to_owned()
}

/// POSTs `form` to `path` with `assertion` as the client's authentication.
pub(crate) fn post(
    server: &Server,
    path: &str,
    assertion: &str,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let mut all = vec![
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion),
    ];
    all.extend_from_slice(form);
    let r = server
        .http
        .post(format!("{}{path}", server.base))
        .form(&all)
        .send()
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(Value::Null))
}

/// A client-credentials token request authenticated by `assertion`.
fn token(server: &Server, assertion: &str) -> (u16, Value) {
    post(
        server,
        "/token",
        assertion,
        &[("grant_type", "client_credentials")],
    )
}

pub(crate) fn assert_invalid_client(answer: &(u16, Value), what: &str) {
    assert_eq!(answer.0, 401, "{what}: {}", answer.1);
    assert_eq!(answer.1["error"], "invalid_client", "{what}: {}", answer.1);
}

fn start(extra: &[(&str, &str)]) -> Server {
    let mut env = LIMITS.to_vec();
    env.extend_from_slice(extra);
    Server::start_with(&env)
}

#[test]
fn a_key_client_authenticates_at_token_introspection_revocation_and_par() {
    let server = start(&[]);
    let key = new_key();
    let id = register(&server, &[&key]);
    let issuer = server.base.clone();
    // Token: aud = the issuer.
    let (status, body) = token(&server, &sign(&key, &header(&key), &claims(&id, &issuer)));
    assert_eq!(status, 200, "{body}");
    let access = body["access_token"].as_str().unwrap().to_owned();
    // Introspection: aud = the introspection endpoint's URL.
    let at = format!("{issuer}/introspect");
    let (status, body) = post(
        &server,
        "/introspect",
        &sign(&key, &header(&key), &claims(&id, &at)),
        &[("token", &access)],
    );
    assert_eq!((status, &body["active"]), (200, &json!(true)), "{body}");
    assert_eq!(body["client_id"], id.as_str());
    // PAR: aud = the token endpoint (OIDC Core §9), and the client_id parameter may come along.
    let aud = format!("{issuer}/token");
    let (status, body) = post(
        &server,
        "/par",
        &sign(&key, &header(&key), &claims(&id, &aud)),
        &[
            ("client_id", &id),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("scope", "read"),
            ("resource", RESOURCE),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ],
    );
    assert_eq!(status, 201, "{body}");
    assert!(
        body["request_uri"]
            .as_str()
            .unwrap()
            .starts_with("urn:ietf:params:oauth:request_uri:")
    );
    // Revocation: aud = an array holding the revocation endpoint and another party.
    let aud = json!(["https://elsewhere.example", format!("{issuer}/revoke")]);
    let mut c = claims(&id, "");
    c["aud"] = aud;
    let (status, body) = post(
        &server,
        "/revoke",
        &sign(&key, &header(&key), &c),
        &[("token", &access)],
    );
    assert_eq!(status, 200, "{body}");
    assert!(!server.is_active(&access), "revoked by its client");
    // A header without kid picks the client's only key (RFC 7515 §4.1.4).
    let no_kid = json!({"alg": "ES256"});
    assert_eq!(
        token(&server, &sign(&key, &no_kid, &claims(&id, &issuer))).0,
        200
    );
    // Discovery advertises the method and its algorithms at each endpoint.
    let doc = server.get_json(&format!("{issuer}/.well-known/oauth-authorization-server"));
    for endpoint in ["token", "introspection", "revocation"] {
        let methods = doc[format!("{endpoint}_endpoint_auth_methods_supported")].to_string();
        assert!(methods.contains("private_key_jwt"), "{endpoint}: {methods}");
        let algs = &doc[format!("{endpoint}_endpoint_auth_signing_alg_values_supported")];
        assert_eq!(algs, &json!(["ES256", "ES384", "EdDSA", "PS256", "RS256"]));
    }
    // The CLI shows the registered keys.
    let shown = server.cli_json(&["client", "show", &id]);
    assert_eq!(shown["jwks"]["keys"][0]["kid"], key.kid());
}

#[test]
fn every_bad_assertion_is_invalid_client() {
    let server = start(&[]);
    let key = new_key();
    let id = register(&server, &[&key]);
    let other_key = new_key();
    let other = register(&server, &[&other_key]);
    let issuer = server.base.clone();
    let good = |c: &Value| sign(&key, &header(&key), c);
    let with = |changes: Value| {
        let mut c = claims(&id, &issuer);
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    };
    let now = now();
    // Claims (security matrix §1.5.43, §2.2.38).
    for (what, c) in [
        ("wrong aud", with(json!({"aud": "https://other.example"}))),
        (
            "aud with a trailing slash",
            with(json!({"aud": format!("{issuer}/")})),
        ),
        (
            "aud of another endpoint",
            with(json!({"aud": format!("{issuer}/par")})),
        ),
        ("no aud", with(json!({"aud": null}))),
        (
            "expired 5 minutes ago",
            with(json!({"exp": now - 300, "iat": now - 360})),
        ),
        ("exp an hour ahead", with(json!({"exp": now + 3600}))),
        (
            "exp as a string",
            with(json!({"exp": (now + 60).to_string()})),
        ),
        ("no exp", with(json!({"exp": null}))),
        (
            "nbf two minutes ahead",
            with(json!({"nbf": now + 120, "exp": now + 240})),
        ),
        ("no jti", with(json!({"jti": null}))),
        ("no sub", with(json!({"sub": null}))),
        ("iss is not sub", with(json!({"iss": other.as_str()}))),
        (
            "sub is another client",
            with(json!({"sub": other.as_str(), "iss": other.as_str()})),
        ),
    ] {
        assert_invalid_client(&token(&server, &good(&c)), what);
    }
    // Replay (Hydra CVE-2020-5300): the same jti twice, even at another endpoint.
    let once = good(&claims(&id, &issuer));
    assert_eq!(token(&server, &once).0, 200);
    assert_invalid_client(&token(&server, &once), "replayed");
    let mut again = claims(&id, &issuer);
    again["jti"] = serde_json::from_str::<Value>(&b64_claims(&once)).unwrap()["jti"].clone();
    assert_invalid_client(
        &token(&server, &good(&again)),
        "replayed jti, new assertion",
    );
    // Another client's assertion: with client_id of this one, or signed with its key.
    let theirs = sign(&other_key, &header(&other_key), &claims(&other, &issuer));
    assert_invalid_client(
        &post(
            &server,
            "/token",
            &theirs,
            &[("grant_type", "client_credentials"), ("client_id", &id)],
        ),
        "client A's assertion with client B's client_id",
    );
    let forged = sign(&other_key, &header(&other_key), &claims(&id, &issuer));
    assert_invalid_client(&token(&server, &forged), "signed with another client's key");
    let forged = sign(&other_key, &header(&key), &claims(&id, &issuer));
    assert_invalid_client(
        &token(&server, &forged),
        "the right kid, another key's signature",
    );
    // Keys and algorithms (security matrix §3.1–§3.5, §3.8).
    let stranger = new_key();
    let c = claims(&id, &issuer);
    assert_invalid_client(
        &token(&server, &sign(&stranger, &header(&stranger), &c)),
        "unknown kid",
    );
    let p384 = SoftwareKey::generate(Algorithm::ES384).unwrap();
    let mismatched = json!({"alg": "ES384", "kid": key.kid()});
    assert_invalid_client(
        &token(&server, &sign(&p384, &mismatched, &c)),
        "ES384 for an ES256 key",
    );
    let rs256 = json!({"alg": "RS256", "kid": key.kid()});
    assert_invalid_client(
        &token(&server, &sign(&key, &rs256, &c)),
        "RS256 header on an EC key",
    );
    for alg in ["none", "None", "NONE", "nOnE"] {
        for kid in [json!(key.kid()), Value::Null] {
            let mut h = json!({"alg": alg});
            if !kid.is_null() {
                h["kid"] = kid;
            }
            let unsigned = format!(
                "{}.{}.",
                b64::encode(h.to_string()),
                b64::encode(c.to_string())
            );
            assert_invalid_client(&token(&server, &unsigned), alg);
        }
    }
    // HMAC keyed with the public key, in the forms confused verifiers used.
    let jwk = key.public_jwk();
    let jwk_json = serde_json::to_string(jwk).unwrap();
    let Value::Object(params) = serde_json::to_value(jwk).unwrap() else {
        unreachable!()
    };
    let point: Vec<u8> = [
        vec![4u8],
        b64::decode(params["x"].as_str().unwrap()).unwrap(),
        b64::decode(params["y"].as_str().unwrap()).unwrap(),
    ]
    .concat();
    for (what, secret) in [
        ("JWK JSON", jwk_json.as_bytes().to_vec()),
        ("EC point", point),
    ] {
        for alg in ["HS256", "HS384", "HS512"] {
            let h = json!({"alg": alg, "kid": key.kid()});
            let input = format!(
                "{}.{}",
                b64::encode(h.to_string()),
                b64::encode(c.to_string())
            );
            let algorithm = match alg {
                "HS256" => ring::hmac::HMAC_SHA256,
                "HS384" => ring::hmac::HMAC_SHA384,
                _ => ring::hmac::HMAC_SHA512,
            };
            let mac = ring::hmac::sign(&ring::hmac::Key::new(algorithm, &secret), input.as_bytes());
            let token_text = format!("{input}.{}", b64::encode(mac.as_ref()));
            assert_invalid_client(
                &token(&server, &token_text),
                &format!("{alg} with the {what}"),
            );
        }
    }
    // Header members that bring their own key or extension are refused, even validly signed.
    for (member, value) in [
        ("jku", json!("https://attacker.example/jwks")),
        ("x5u", json!("https://attacker.example/cert")),
        ("jwk", serde_json::to_value(stranger.public_jwk()).unwrap()),
        ("crit", json!(["exp"])),
        ("x5c", json!(["MIIB"])),
    ] {
        let mut h = header(&key);
        h[member] = value;
        assert_invalid_client(
            &token(&server, &sign(&key, &h, &claims(&id, &issuer))),
            member,
        );
    }
    // Another kind of JWT: a request object, an access token, a DPoP proof.
    for typ in ["oauth-authz-req+jwt", "at+jwt", "dpop+jwt"] {
        let mut h = header(&key);
        h["typ"] = json!(typ);
        assert_invalid_client(&token(&server, &sign(&key, &h, &claims(&id, &issuer))), typ);
    }
    // Junk, oversized and repeated assertions.
    for junk in ["x", "a.b.c", "....", &".".repeat(30_000), "ünïcödé.ü.ü"] {
        assert_invalid_client(&token(&server, junk), "junk");
    }
    let big = sign(&key, &header(&key), &with(json!({"pad": "x".repeat(9000)})));
    assert_invalid_client(&token(&server, &big), "over 8 KiB");
    // The assertion type: another type is invalid_client; one parameter alone, a repeated
    // assertion or a second method is invalid_request (RFC 7521 §4.2, OAuth 2.1 §2.4).
    let a = good(&claims(&id, &issuer));
    let r = server
        .http
        .post(format!("{issuer}/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
            ),
            ("client_assertion", &a),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    for form in [
        vec![("client_assertion", a.as_str())],
        vec![("client_assertion_type", ASSERTION_TYPE)],
        vec![
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &a),
            ("client_assertion", &a),
        ],
        vec![
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &a),
            ("client_secret", "s"),
        ],
    ] {
        let mut all = vec![("grant_type", "client_credentials")];
        all.extend(form.iter().copied());
        let r = server
            .http
            .post(format!("{issuer}/token"))
            .form(&all)
            .send()
            .unwrap();
        assert_eq!(r.status(), 400, "{all:?}");
        assert_eq!(r.json::<Value>().unwrap()["error"], "invalid_request");
    }
    let r = server
        .http
        .post(format!("{issuer}/token"))
        .basic_auth(&id, Some("secret"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &a),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status(), 400, "Basic and an assertion");
    // None of the refusals used up the good assertion's jti.
    assert_eq!(token(&server, &a).0, 200);
}

/// The payload JSON of a compact JWS.
fn b64_claims(jws: &str) -> String {
    String::from_utf8(b64::decode(jws.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

#[test]
fn issuer_only_audience_for_fapi() {
    let server = start(&[
        ("GATEHOUSE_CLIENT_KEYS__AUDIENCE", "issuer_only"),
        ("GATEHOUSE_CLIENT_KEYS__ALGORITHMS", r#"["ES256", "PS256"]"#),
        ("GATEHOUSE_LOG", "warn,gatehouse_server::authenticate=debug"),
    ]);
    let key = new_key();
    let id = register(&server, &[&key]);
    let issuer = server.base.clone();
    // FAPI 2.0 conformance par-test-*-as-audience-fails and array-as-audience-fails.
    for aud in [
        json!(format!("{issuer}/token")),
        json!([issuer]),
        json!(format!("{issuer}/par")),
    ] {
        let mut c = claims(&id, "");
        c["aud"] = aud.clone();
        assert_invalid_client(
            &token(&server, &sign(&key, &header(&key), &c)),
            &aud.to_string(),
        );
    }
    assert_eq!(
        token(&server, &sign(&key, &header(&key), &claims(&id, &issuer))).0,
        200
    );
    // FAPI 2.0 algorithms only (security matrix §2.2.41): an ES384 key registers (the set is
    // valid) but its assertions are refused, and discovery says which algorithms are taken.
    let p384 = SoftwareKey::generate(Algorithm::ES384).unwrap();
    let other = register(&server, &[&p384]);
    let a = sign(&p384, &header(&p384), &claims(&other, &issuer));
    assert_invalid_client(
        &token(&server, &a),
        "ES384 where only ES256 and PS256 are allowed",
    );
    let doc = server.get_json(&format!("{issuer}/.well-known/oauth-authorization-server"));
    assert_eq!(
        doc["token_endpoint_auth_signing_alg_values_supported"],
        json!(["ES256", "PS256"])
    );
    // Each refusal is logged with its reason at debug level, never with the assertion.
    let mut c = claims(&id, "");
    c["aud"] = json!([issuer]);
    let refused = sign(&key, &header(&key), &c);
    assert_invalid_client(&token(&server, &refused), "array");
    let log = server.stderr();
    assert!(
        log.contains("aud must be the issuer identifier, as a single string"),
        "{log}"
    );
    assert!(
        !log.contains(refused.split('.').nth(2).unwrap()),
        "a signature in the log"
    );
    assert!(
        !log.contains(refused.split('.').nth(1).unwrap()),
        "claims in the log"
    );
}

#[test]
fn registration_refuses_private_and_symmetric_keys() {
    let server = start(&[]);
    let key = new_key();
    let mut private = serde_json::to_value(key.public_jwk()).unwrap();
    private["d"] = json!(b64::encode([7u8; 32]));
    let mut file = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut file, json!({"keys": [private]}).to_string().as_bytes())
        .unwrap();
    let path = file.path().display().to_string();
    let out = server.cli(&[
        "client",
        "create",
        "--name",
        "x",
        "--auth-method",
        "private_key_jwt",
        "--jwks-file",
        &path,
        "--resource",
        RESOURCE,
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("private"), "{stderr}");
    let out = server.cli(&[
        "client",
        "create",
        "--name",
        "x",
        "--auth-method",
        "private_key_jwt",
        "--jwks-uri",
        "http://keys.example/jwks",
        "--resource",
        RESOURCE,
    ]);
    assert!(!out.status.success(), "a plain-http jwks_uri");
    // Dynamic registration (RFC 7591 §2).
    let register = |metadata: Value| {
        let r = server
            .http
            .post(format!("{}/register", server.base))
            .json(&metadata)
            .send()
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().unwrap())
    };
    let base = json!({
        "client_name": "svc", "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "private_key_jwt",
    });
    let with = |extra: Value| {
        let mut m = base.clone();
        m.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        m
    };
    let public = serde_json::to_value(key.public_jwk()).unwrap();
    for (what, metadata) in [
        ("a private key", with(json!({"jwks": {"keys": [private]}}))),
        (
            "a symmetric key",
            with(json!({"jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0", "alg": "HS256"}]}})),
        ),
        (
            "both jwks and jwks_uri",
            with(json!({"jwks": {"keys": [public]}, "jwks_uri": "https://c.example/jwks"})),
        ),
        ("no keys", base.clone()),
        (
            "keys for a secret client",
            json!({"redirect_uris": [REDIRECT], "jwks": {"keys": [public]}}),
        ),
        (
            "alg none",
            with(
                json!({"jwks": {"keys": [{"kty": "EC", "crv": "P-256", "alg": "none", "x": public["x"], "y": public["y"]}]}}),
            ),
        ),
    ] {
        let (status, body) = register(metadata);
        assert_eq!(status, 400, "{what}: {body}");
        assert_eq!(body["error"], "invalid_client_metadata", "{what}");
    }
    let (status, body) = register(with(json!({"jwks": {"keys": [public]}})));
    assert_eq!(status, 201, "{body}");
    assert!(body.get("client_secret").is_none(), "{body}");
    assert_eq!(body["token_endpoint_auth_method"], "private_key_jwt");
    assert_eq!(body["jwks"]["keys"][0]["kid"], key.kid());
}

/// A server whose client keeps its keys at a `jwks_uri` on `docs`.
fn with_jwks_uri(docs: &DocServer) -> Server {
    let prefixes = format!("[\"{}/\"]", docs.origin());
    let ca = format!("[\"{}\"]", docs.ca_file.path().display());
    start(&[
        ("GATEHOUSE_CLIENT_KEYS__ALLOWED_PREFIXES", &prefixes),
        ("GATEHOUSE_CLIENT_KEYS__EXTRA_CA_FILES", &ca),
        // One refresh per hour: the test runs well inside it, whatever the machine's load.
        ("GATEHOUSE_CLIENT_KEYS__REFRESH_INTERVAL", "1h"),
    ])
}

fn register_uri(server: &Server, uri: &str) -> String {
    let created = server.cli_json(&[
        "client",
        "create",
        "--name",
        "rotating",
        "--auth-method",
        "private_key_jwt",
        "--jwks-uri",
        uri,
        "--resource",
        RESOURCE,
        "--grant-type",
        "client_credentials",
    ]);
    created["client_id"].as_str().unwrap().to_owned()
}

const JSON_CACHED: &str = "content-type: application/json\r\ncache-control: max-age=3600\r\n";

#[test]
fn jwks_uri_keys_rotate_through_a_rate_limited_refresh() {
    let docs = DocServer::start();
    let server = with_jwks_uri(&docs);
    let (old, new, stranger) = (new_key(), new_key(), new_key());
    docs.set("/jwks", 200, JSON_CACHED, &jwks_of(&[&old]).to_string());
    let id = register_uri(&server, &docs.url("/jwks"));
    let issuer = server.base.clone();
    let assert_with = |k: &SoftwareKey| token(&server, &sign(k, &header(k), &claims(&id, &issuer)));
    assert_eq!(assert_with(&old).0, 200);
    assert_eq!(assert_with(&old).0, 200);
    assert_eq!(docs.hits("/jwks"), 1, "cached for its max-age");
    // The client rotates: the new kid is unknown, so the keys are fetched again.
    docs.set("/jwks", 200, JSON_CACHED, &jwks_of(&[&new]).to_string());
    assert_eq!(assert_with(&new).0, 200, "the new key after a refresh");
    assert_eq!(docs.hits("/jwks"), 2);
    // The old key is gone; unknown kids no longer fetch within the refresh interval.
    assert_invalid_client(&assert_with(&old), "a retired key");
    for _ in 0..5 {
        assert_invalid_client(&assert_with(&stranger), "an unknown kid");
    }
    assert_eq!(
        docs.hits("/jwks"),
        2,
        "a flood of unknown kids fetched nothing"
    );
    assert_eq!(assert_with(&new).0, 200);
}

#[test]
fn bad_jwks_uri_documents_fail_closed() {
    let docs = DocServer::start();
    let server = with_jwks_uri(&docs);
    let key = new_key();
    let issuer = server.base.clone();
    let mut private = serde_json::to_value(key.public_jwk()).unwrap();
    private["d"] = json!(b64::encode([7u8; 32]));
    docs.set(
        "/private",
        200,
        JSON_CACHED,
        &json!({"keys": [private]}).to_string(),
    );
    docs.set(
        "/html",
        200,
        "content-type: text/html\r\n",
        &jwks_of(&[&key]).to_string(),
    );
    docs.set(
        "/redirect",
        302,
        &format!("location: {}\r\n", docs.url("/jwks")),
        "",
    );
    for path in ["/private", "/html", "/redirect", "/missing"] {
        let id = register_uri(&server, &docs.url(path));
        let a = sign(&key, &header(&key), &claims(&id, &issuer));
        assert_invalid_client(&token(&server, &a), path);
    }
    // A jwks_uri on a loopback address outside the allowed prefixes is never fetched.
    let id = register_uri(&server, "https://127.0.0.1:9/jwks");
    let a = sign(&key, &header(&key), &claims(&id, &issuer));
    assert_invalid_client(&token(&server, &a), "a loopback jwks_uri");
}

/// The README's example: `examples/private-key-jwt/client_assertion.py` makes the key and its
/// JWK set, the CLI registers it, and its assertions get a token, once each.
#[test]
fn the_python_example_authenticates() {
    let server = start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/private-key-jwt/client_assertion.py");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(crate::mcp_sdk::python())
            .arg(&script)
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let jwks = run(&["keygen"]);
    let jwks_file = dir.path().join("jwks.json");
    std::fs::write(&jwks_file, &jwks).unwrap();
    let created = server.cli_json(&[
        "client",
        "create",
        "--name",
        "billing-service",
        "--auth-method",
        "private_key_jwt",
        "--jwks-file",
        jwks_file.to_str().unwrap(),
        "--resource",
        RESOURCE,
    ]);
    let id = created["client_id"].as_str().unwrap();
    let assertion = run(&["assert", id, &server.base]);
    assert_eq!(token(&server, &assertion).0, 200);
    assert_invalid_client(&token(&server, &assertion), "the same assertion again");
    let assertion = run(&["assert", id, &format!("{}/token", server.base)]);
    assert_eq!(token(&server, &assertion).0, 200);
}
