//! The FAPI 2.0 Security Profile (security matrix §2.2) against the real binary: held
//! server-wide (`security_profile = "fapi2"`) and by one client (`--security-profile fapi2`).

use serde_json::{Value, json};

use crate::dpop::DpopKey;
use crate::harness::Server;
use crate::private_key_jwt::{
    ASSERTION_TYPE, LIMITS, assert_invalid_client, claims, header, jwks_of, new_key, post,
    register_with, sign,
};

const RESOURCE: &str = "https://rs.example/api";
const REDIRECT: &str = "https://app.example/cb";

/// A client-credentials request authenticated by `assertion`, with a DPoP `proof` if any.
fn token(server: &Server, assertion: &str, proof: Option<&str>) -> (u16, Value) {
    let mut request = server.http.post(format!("{}/token", server.base)).form(&[
        ("grant_type", "client_credentials"),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion),
    ]);
    if let Some(proof) = proof {
        request = request.header("DPoP", proof);
    }
    let r = request.send().unwrap();
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(Value::Null))
}

/// A direct (not pushed) authorization request of `client`: the `error` it is redirected with.
fn direct_authorization_error(server: &Server, client: &str) -> Option<String> {
    let r = server
        .http
        .get(format!("{}/authorize", server.base))
        .query(&[
            ("client_id", client),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("scope", "read"),
            ("state", "s1"),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .unwrap();
    let location = r.headers().get("location")?.to_str().ok()?.to_owned();
    let url = url::Url::parse(&location).ok()?;
    url.query_pairs()
        .find(|(k, _)| k == "error")
        .map(|(_, v)| v.into_owned())
}

#[test]
fn a_fapi2_server_holds_every_client_to_the_profile() {
    let mut env = LIMITS.to_vec();
    env.push(("GATEHOUSE_SECURITY_PROFILE", "fapi2"));
    let server = Server::start_with(&env);
    let issuer = server.base.clone();

    // Discovery offers what the profile allows, and nothing else.
    let meta = server.get_json(&format!("{issuer}/.well-known/oauth-authorization-server"));
    assert_eq!(
        meta["token_endpoint_auth_methods_supported"],
        json!(["private_key_jwt"]),
        "{meta}"
    );
    assert_eq!(
        meta["token_endpoint_auth_signing_alg_values_supported"],
        json!(["ES256", "PS256"])
    );
    assert_eq!(meta["require_pushed_authorization_requests"], true);
    for alg in meta["dpop_signing_alg_values_supported"]
        .as_array()
        .unwrap()
    {
        assert!(alg == "ES256" || alg == "PS256", "{alg}");
    }

    // A client with a secret, registered before the profile or beside it, cannot authenticate
    // (§2.2 item 37: only strong client authentication).
    let (secret_client, secret) = server.client(&["--grant-type", "client_credentials"]);
    let r = server.post_form(
        "/token",
        Some((&secret_client, &secret)),
        &[("grant_type", "client_credentials")],
    );
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().unwrap()["error"], "invalid_client");

    let key = new_key();
    let client = register_with(&server, &[&key], &[]);
    let good = |aud: &str| sign(&key, &header(&key), &claims(&client, aud));

    // §2.2 item 39: the assertion's audience is the issuer alone, not an endpoint's URL.
    for aud in [format!("{issuer}/token"), format!("{issuer}/par")] {
        assert_invalid_client(&token(&server, &good(&aud), None), &aud);
    }
    let mut array_aud = claims(&client, &issuer);
    array_aud["aud"] = json!([issuer]);
    assert_invalid_client(
        &token(&server, &sign(&key, &header(&key), &array_aud), None),
        "aud as an array",
    );

    // §2.2 item 53: no DPoP proof and no certificate: no token.
    let (status, body) = token(&server, &good(&issuer), None);
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_request", "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("sender-constrained"),
        "{body}"
    );

    // With a proof: a DPoP-bound token.
    let dpop = DpopKey::new();
    let proof = dpop.proof("POST", &format!("{issuer}/token"));
    let (status, body) = token(&server, &good(&issuer), Some(&proof));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    let claims_part = body["access_token"].as_str().unwrap().split('.').nth(1);
    let at: Value =
        serde_json::from_slice(&gatehouse_token::b64::decode(claims_part.unwrap()).unwrap())
            .unwrap();
    assert_eq!(at["cnf"]["jkt"], dpop.jkt());

    // §2.2 item 30: an authorization request that was not pushed is refused.
    assert_eq!(
        direct_authorization_error(&server, &client).as_deref(),
        Some("invalid_request")
    );
    // PAR itself takes the key client's assertion (aud the issuer).
    let (status, body) = post(
        &server,
        "/par",
        &good(&issuer),
        &[
            ("client_id", &client),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("scope", "read"),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
        ],
    );
    assert_eq!(status, 201, "{body}");
    assert!(body["request_uri"].as_str().is_some(), "{body}");
}

#[test]
fn a_fapi2_client_on_an_oauth21_server() {
    let server = Server::start_with(&LIMITS);
    let issuer = server.base.clone();

    // A FAPI client cannot be registered with a secret or with a key the profile refuses.
    let out = server.cli(&[
        "client",
        "create",
        "--name",
        "weak",
        "--resource",
        RESOURCE,
        "--grant-type",
        "client_credentials",
        "--security-profile",
        "fapi2",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("token_endpoint_auth_method") && err.contains("fapi2"),
        "{err}"
    );
    let es384 = gatehouse_signer::SoftwareKey::generate(gatehouse_token::Algorithm::ES384).unwrap();
    let mut file = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut file, jwks_of(&[&es384]).to_string().as_bytes()).unwrap();
    let path = file.path().display().to_string();
    let out = server.cli(&[
        "client",
        "create",
        "--name",
        "es384",
        "--resource",
        RESOURCE,
        "--grant-type",
        "client_credentials",
        "--auth-method",
        "private_key_jwt",
        "--jwks-file",
        &path,
        "--security-profile",
        "fapi2",
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ES256 and PS256"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let key = new_key();
    let fapi = register_with(&server, &[&key], &["--security-profile", "fapi2"]);
    let shown = server.cli_json(&["client", "show", &fapi]);
    assert_eq!(shown["security_profile"], "fapi2", "{shown}");
    let assertion = || sign(&key, &header(&key), &claims(&fapi, &issuer));
    // Its tokens are sender-constrained; its authorization requests pushed.
    let (status, body) = token(&server, &assertion(), None);
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("invalid_request")),
        "{body}"
    );
    let dpop = DpopKey::new();
    let proof = dpop.proof("POST", &format!("{issuer}/token"));
    let (status, body) = token(&server, &assertion(), Some(&proof));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    assert_eq!(
        direct_authorization_error(&server, &fapi).as_deref(),
        Some("invalid_request")
    );

    // Its assertions name the issuer alone (SP §5.3.2.1 item 8), though the server's rules let
    // other clients name the token endpoint.
    let to_token = sign(
        &key,
        &header(&key),
        &claims(&fapi, &format!("{issuer}/token")),
    );
    let proof = dpop.proof("POST", &format!("{issuer}/token"));
    assert_invalid_client(
        &token(&server, &to_token, Some(&proof)),
        "aud = token endpoint",
    );
    // Its proofs are ES256 or PS256, though the server accepts EdDSA proofs from others.
    let eddsa = ed25519_proof(&format!("{issuer}/token"));
    let (status, body) = token(&server, &assertion(), Some(&eddsa));
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("invalid_dpop_proof")),
        "{body}"
    );

    // An OAuth 2.1 client of the same server is untouched: a bearer token for its secret.
    let (plain, secret) = server.client(&["--grant-type", "client_credentials"]);
    let r = server.post_form(
        "/token",
        Some((&plain, &secret)),
        &[("grant_type", "client_credentials")],
    );
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().unwrap()["token_type"], "Bearer");
}

/// A DPoP proof for `POST url` signed with a fresh Ed25519 key (`EdDSA`).
fn ed25519_proof(url: &str) -> String {
    use gatehouse_token::b64;
    use ring::signature::{Ed25519KeyPair, KeyPair as _};
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": b64::encode(pair.public_key().as_ref())});
    let header = json!({"typ": "dpop+jwt", "alg": "EdDSA", "jwk": jwk});
    let now = crate::jwt_bearer::now();
    let claims = json!({"jti": format!("ed-{now}"), "htm": "POST", "htu": url, "iat": now});
    let input = format!(
        "{}.{}",
        b64::encode(header.to_string()),
        b64::encode(claims.to_string())
    );
    format!("{input}.{}", b64::encode(pair.sign(input.as_bytes())))
}
