//! The jwt-bearer grant with ID-JAGs (RFC 7523, MCP Enterprise-Managed Authorization §5): a test
//! IdP whose JWKS a loopback server publishes signs assertions; the server trusts it through
//! `[trust]`.

use std::io::{Read, Write};
use std::net::TcpListener;

use gatehouse_signer::{SigningKey, SoftwareKey, jws};
use gatehouse_token::{Algorithm, b64};
use serde_json::{Value, json};

use crate::harness::{Server, jwt_parts};

pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
pub const IDP: &str = "https://idp.test";

/// Serves `body` as JSON to every request on a loopback port, until the process ends; its URL.
pub fn serve_json(body: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/jwks", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let mut seen = Vec::new();
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body.as_bytes());
        }
    });
    url
}

/// Now, in seconds.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A test IdP: its key and the JWKS URL that publishes it.
pub struct Idp {
    pub key: SoftwareKey,
    pub jwks_uri: String,
}

impl Idp {
    pub fn start() -> Self {
        let key = SoftwareKey::generate(Algorithm::ES256).unwrap();
        let jwks = json!({"keys": [key.public_jwk()]}).to_string();
        Self {
            jwks_uri: serve_json(jwks),
            key,
        }
    }

    /// The `GATEHOUSE_TRUST__*` settings that trust this IdP for `accept`.
    pub fn env(&self, accept: &str) -> Vec<(String, String)> {
        vec![
            ("GATEHOUSE_TRUST__ALLOW_HTTP_LOOPBACK".into(), "true".into()),
            (
                "GATEHOUSE_TRUST__ISSUERS".into(),
                format!(
                    r#"[{{issuer = "{IDP}", jwks_uri = "{}", algorithms = ["ES256"], accept = [{accept}]}}]"#,
                    self.jwks_uri
                ),
            ),
        ]
    }

    /// `claims` signed with `typ`.
    pub fn sign(&self, typ: &str, claims: &Value) -> String {
        jws::sign_compact(&self.key, typ, claims).unwrap()
    }
}

/// A server trusting `idp` for ID-JAGs, and a client registered for the jwt-bearer grant.
fn setup(idp: &Idp) -> (Server, (String, String)) {
    let env = idp.env(r#""id_jag""#);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let server = Server::start_with(&env);
    let client = server.client(&[
        "--grant-type",
        JWT_BEARER,
        "--resource",
        "https://mcp.example",
        "--scope",
        "read write",
    ]);
    (server, client)
}

fn claims(server: &Server, client_id: &str, jti: &str) -> Value {
    let now = now();
    json!({
        "iss": IDP, "sub": "alice", "aud": server.base, "client_id": client_id,
        "jti": jti, "iat": now, "exp": now + 300,
        "resource": "https://mcp.example/", "scope": "read",
    })
}

/// Presents `assertion`; the status and body.
fn present(server: &Server, client: &(String, String), assertion: &str) -> (u16, Value) {
    let r = server.post_form(
        "/token",
        Some((&client.0, &client.1)),
        &[("grant_type", JWT_BEARER), ("assertion", assertion)],
    );
    (r.status().as_u16(), r.json().unwrap())
}

#[test]
fn an_id_jag_is_redeemed_once_for_a_token_at_its_resource() {
    let idp = Idp::start();
    let (server, client) = setup(&idp);
    let meta = server.get_json(&format!(
        "{}/.well-known/oauth-authorization-server",
        server.base
    ));
    assert_eq!(
        meta["authorization_grant_profiles_supported"],
        json!(["urn:ietf:params:oauth:grant-profile:id-jag"])
    );
    assert!(
        meta["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&json!(JWT_BEARER))
    );
    let jag = idp.sign("oauth-id-jag+jwt", &claims(&server, &client.0, "j-1"));
    let (status, body) = present(&server, &client, &jag);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "read");
    assert!(body.get("refresh_token").is_none());
    let (_, at) = jwt_parts(body["access_token"].as_str().unwrap());
    assert_eq!(at["aud"], "https://mcp.example");
    assert_eq!(at["sub"], "https://idp.test#alice");
    assert_eq!(at["client_id"], client.0.as_str());
    assert_eq!(at["scope"], "read");
    assert!(server.is_active(body["access_token"].as_str().unwrap()));
    // The same assertion again: refused, the jti is used.
    let (status, body) = present(&server, &client, &jag);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert!(body["error_description"].as_str().unwrap().contains("jti"));
}

#[test]
fn every_bad_assertion_is_invalid_grant() {
    let idp = Idp::start();
    let (server, client) = setup(&idp);
    let good = || claims(&server, &client.0, "j-ok");
    let with = |k: &str, v: Value| {
        let mut c = good();
        c[k] = v;
        c
    };
    let typ = "oauth-id-jag+jwt";
    let other_key = SoftwareKey::generate(Algorithm::ES256).unwrap();
    let header = |alg: &str| {
        b64::encode(
            json!({"alg": alg, "kid": idp.key.kid(), "typ": typ})
                .to_string()
                .as_bytes(),
        )
    };
    let payload = b64::encode(good().to_string().as_bytes());
    let cases: Vec<(&str, String)> = vec![
        (
            "wrong aud",
            idp.sign(typ, &with("aud", json!("https://as.other"))),
        ),
        (
            "another client",
            idp.sign(typ, &with("client_id", json!("someone-else"))),
        ),
        ("wrong typ", idp.sign("JWT", &good())),
        ("no typ", {
            let h = b64::encode(
                json!({"alg": "ES256", "kid": idp.key.kid()})
                    .to_string()
                    .as_bytes(),
            );
            let signed = format!("{h}.{payload}");
            let sig = idp.key.sign(signed.as_bytes()).unwrap();
            format!("{signed}.{}", b64::encode(sig))
        }),
        ("expired", {
            let mut c = good();
            c["iat"] = json!(now() - 400);
            c["exp"] = json!(now() - 100);
            idp.sign(typ, &c)
        }),
        ("alg none", format!("{}.{payload}.", header("none"))),
        (
            "HS256",
            format!("{}.{payload}.c2lnbmF0dXJl", header("HS256")),
        ),
        (
            "unknown kid",
            jws::sign_compact(&other_key, typ, &good()).unwrap(),
        ),
        (
            "untrusted issuer",
            idp.sign(typ, &with("iss", json!("https://evil.test"))),
        ),
        ("no jti", {
            let mut c = good();
            c.as_object_mut().unwrap().remove("jti");
            idp.sign(typ, &c)
        }),
        (
            "unknown resource",
            idp.sign(typ, &with("resource", json!("https://elsewhere.example"))),
        ),
        (
            "exp as a string",
            idp.sign(typ, &with("exp", json!("9999999999"))),
        ),
        ("garbage", "not.a.jwt".into()),
    ];
    for (name, assertion) in cases {
        let (status, body) = present(&server, &client, &assertion);
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant")),
            "{name}: {body}"
        );
    }
    // None of them burnt the good assertion's jti.
    let (status, body) = present(&server, &client, &idp.sign(typ, &good()));
    assert_eq!(status, 200, "{body}");
}

#[test]
fn a_client_without_the_grant_is_unauthorized() {
    let idp = Idp::start();
    let (server, _) = setup(&idp);
    let other = server.client(&["--resource", "https://mcp.example"]);
    let jag = idp.sign("oauth-id-jag+jwt", &claims(&server, &other.0, "j-2"));
    let (status, body) = present(&server, &other, &jag);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client")),
        "{body}"
    );
}
