//! What one client or one address may cost the server (issue 8, "Also"): the credential-guessing
//! limit at the token, introspection and revocation endpoints, and the per-client quotas of
//! opaque tokens and outstanding revocations.

use std::net::IpAddr;

use reqwest::blocking::{Client, Response};
use serde_json::Value;

use crate::harness::Server;

/// An HTTP client whose connections come from `from` (any 127.0.0.0/8 address is loopback), so
/// one test can play several hosts.
fn from(addr: &str) -> Client {
    Client::builder()
        .local_address(addr.parse::<IpAddr>().unwrap())
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

fn token_request(server: &Server, http: &Client, id: &str, secret: &str) -> Response {
    http.post(format!("{}/token", server.base))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .unwrap()
}

/// Failed authentications of one client id, from any endpoint, lock that id (the right secret
/// included) until the window ends; other clients are not affected.
#[test]
fn guessing_a_clients_secret_is_throttled_per_client_id() {
    let server = Server::start_with(&[
        ("GATEHOUSE_LIMITS__AUTH_FAILURES_PER_CLIENT", "5"),
        ("GATEHOUSE_LIMITS__AUTH_FAILURES_PER_ADDRESS", "0"),
    ]);
    let (victim, victim_secret) = server.client(&[]);
    let (other, other_secret) = server.client(&[]);
    let token = server.token((&other, &other_secret), &[]);
    for (n, path) in ["/token", "/introspect", "/revoke", "/token", "/introspect"]
        .into_iter()
        .enumerate()
    {
        let r = server.post_form(
            path,
            Some((&victim, &format!("gcs_guess{n}"))),
            &[("grant_type", "client_credentials"), ("token", &token)],
        );
        assert_eq!(r.status(), 401, "guess {n} at {path}");
    }
    let r = server.post_form(
        "/token",
        Some((&victim, &victim_secret)),
        &[("grant_type", "client_credentials")],
    );
    assert_eq!(r.status(), 429, "locked, the right secret included");
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let body: Value = r.json().unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    // Another client from the same address is served.
    server.token((&other, &other_secret), &[]);
}

/// Failed authentications from one address lock that address, whatever ids it tries; other
/// addresses are served.
#[test]
fn guessing_from_one_address_is_throttled_per_address() {
    let server = Server::start_with(&[
        ("GATEHOUSE_LIMITS__AUTH_FAILURES_PER_CLIENT", "0"),
        ("GATEHOUSE_LIMITS__AUTH_FAILURES_PER_ADDRESS", "5"),
    ]);
    let (id, secret) = server.client(&[]);
    let attacker = from("127.0.0.2");
    for n in 0..5 {
        let r = token_request(&server, &attacker, &format!("random-id-{n}"), "gcs_x");
        assert_eq!(r.status(), 401);
    }
    assert_eq!(
        token_request(&server, &attacker, &id, &secret).status(),
        429
    );
    assert_eq!(
        token_request(&server, &from("127.0.0.1"), &id, &secret).status(),
        200
    );
}

/// A client holds at most its quota of opaque tokens; the next is refused (429) and nothing
/// is stored.
#[test]
fn opaque_tokens_per_client_are_capped() {
    let server = Server::start_with(&[("GATEHOUSE_LIMITS__OPAQUE_TOKENS_PER_CLIENT", "3")]);
    let (id, secret) = server.client(&["--token-format", "opaque"]);
    let (other, other_secret) = server.client(&["--token-format", "opaque"]);
    for _ in 0..3 {
        server.token((&id, &secret), &[]);
    }
    let r = server.post_form(
        "/token",
        Some((&id, &secret)),
        &[("grant_type", "client_credentials")],
    );
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    assert!(
        server
            .token((&other, &other_secret), &[])
            .starts_with("gat_")
    );
}

/// A client has at most its quota of outstanding revocations: the next revocation is refused
/// (429, never a 200 that did nothing) and its token stays active; revoking a token again costs
/// nothing.
#[test]
fn outstanding_revocations_per_client_are_capped() {
    let server = Server::start_with(&[("GATEHOUSE_LIMITS__REVOCATIONS_PER_CLIENT", "2")]);
    let (id, secret) = server.client(&[]);
    let tokens: Vec<String> = (0..3).map(|_| server.token((&id, &secret), &[])).collect();
    let revoke = |t: &str| server.post_form("/revoke", Some((&id, &secret)), &[("token", t)]);
    assert_eq!(revoke(&tokens[0]).status(), 200);
    assert_eq!(revoke(&tokens[1]).status(), 200);
    assert_eq!(revoke(&tokens[1]).status(), 200, "again: no cost");
    let r = revoke(&tokens[2]);
    assert_eq!(r.status(), 429);
    assert_eq!(
        r.json::<Value>().unwrap()["error"],
        "temporarily_unavailable"
    );
    assert!(
        server.is_active(&tokens[2]),
        "not revoked, and not told it was"
    );
    assert!(!server.is_active(&tokens[0]) && !server.is_active(&tokens[1]));
}

/// A client id is public, so failing on purpose could lock its owner out. An address that
/// authenticated as the client during the attack keeps being served; the attacker's address and
/// any new one are refused until the window ends.
#[test]
fn the_owner_of_a_client_id_under_attack_keeps_being_served() {
    let server = Server::start_with(&[
        ("GATEHOUSE_LIMITS__AUTH_FAILURES_PER_CLIENT", "5"),
        ("GATEHOUSE_LIMITS__AUTH_FAILURES_PER_ADDRESS", "0"),
    ]);
    let (id, secret) = server.client(&[]);
    let (owner, attacker, newcomer) = (from("127.0.0.1"), from("127.0.0.2"), from("127.0.0.3"));
    for n in 0..2 {
        let r = token_request(&server, &attacker, &id, &format!("gcs_guess{n}"));
        assert_eq!(r.status(), 401);
    }
    assert_eq!(token_request(&server, &owner, &id, &secret).status(), 200);
    for n in 2..5 {
        let r = token_request(&server, &attacker, &id, &format!("gcs_guess{n}"));
        assert_eq!(r.status(), 401);
    }
    assert_eq!(
        token_request(&server, &attacker, &id, &secret).status(),
        429
    );
    assert_eq!(
        token_request(&server, &newcomer, &id, &secret).status(),
        429
    );
    assert_eq!(
        token_request(&server, &owner, &id, &secret).status(),
        200,
        "the owner's address authenticated during the attack"
    );
}

/// Behind a reverse proxy (no per-address limit; every request has the proxy's address) the
/// proxy's address is known for every client that authenticated through it; a probe found that
/// this exempted all guessing through the proxy for ever. The pair is counted: after the limit
/// of failures from it, the id is refused there too, right secret included.
#[test]
fn a_known_address_that_keeps_failing_is_throttled_too() {
    let server = Server::start_with(&[
        ("GATEHOUSE_LIMITS__AUTH_FAILURES_PER_CLIENT", "5"),
        ("GATEHOUSE_LIMITS__AUTH_FAILURES_PER_ADDRESS", "0"),
    ]);
    let (id, secret) = server.client(&[]);
    let (other_id, other_secret) = server.client(&[]);
    let proxy = from("127.0.0.1");
    assert_eq!(
        token_request(&server, &proxy, &other_id, &other_secret).status(),
        200
    );
    assert_eq!(token_request(&server, &proxy, &id, &secret).status(), 200);
    for n in 0..5 {
        let r = token_request(&server, &proxy, &id, &format!("gcs_guess{n}"));
        assert_eq!(r.status(), 401, "guess {n}");
    }
    for guess in ["gcs_guess5", secret.as_str()] {
        let r = token_request(&server, &proxy, &id, guess);
        assert_eq!(r.status(), 429);
        assert!(r.headers().get("retry-after").is_some());
    }
    // Another client behind the same proxy is not affected.
    assert_eq!(
        token_request(&server, &proxy, &other_id, &other_secret).status(),
        200
    );
}

/// Spelling the same client id in other encodings (Basic credentials are form-encoded, RFC 6749
/// §2.3.1) does not make it another id for the limit.
#[test]
fn re_encoding_the_client_id_does_not_escape_the_limit() {
    let server = Server::start_with(&[
        ("GATEHOUSE_LIMITS__AUTH_FAILURES_PER_CLIENT", "3"),
        ("GATEHOUSE_LIMITS__AUTH_FAILURES_PER_ADDRESS", "0"),
    ]);
    let (id, secret) = server.client(&[]);
    let encode_all = |s: &str| s.bytes().map(|b| format!("%{b:02X}")).collect::<String>();
    let encode_first = |s: &str| format!("%{:02X}{}", s.as_bytes()[0], &s[1..]);
    let http = from("127.0.0.1");
    for spelling in [id.clone(), encode_all(&id), encode_first(&id)] {
        assert_eq!(
            token_request(&server, &http, &spelling, "gcs_wrong").status(),
            401
        );
    }
    assert_eq!(
        token_request(&server, &http, &encode_all(&id), &secret).status(),
        429
    );
    let post = http
        .post(format!("{}/token", server.base))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id.as_str()),
            ("client_secret", secret.as_str()),
        ])
        .send()
        .unwrap();
    assert_eq!(post.status(), 429, "client_secret_post counts the same id");
}
