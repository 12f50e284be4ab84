//! What one client or one address may cost the server (issue 8, "Also"): the credential-guessing
//! limit at the token, introspection and revocation endpoints, and the per-client quotas of
//! opaque tokens and outstanding revocations.

use serde_json::Value;

use crate::harness::Server;

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

/// Failed authentications from one address lock that address, whatever ids it tries.
#[test]
fn guessing_from_one_address_is_throttled_per_address() {
    let server = Server::start_with(&[
        ("GATEHOUSE_LIMITS__AUTH_FAILURES_PER_CLIENT", "0"),
        ("GATEHOUSE_LIMITS__AUTH_FAILURES_PER_ADDRESS", "5"),
    ]);
    let (id, secret) = server.client(&[]);
    for n in 0..5 {
        let r = server.post_form(
            "/token",
            Some((&format!("random-id-{n}"), "gcs_x")),
            &[("grant_type", "client_credentials")],
        );
        assert_eq!(r.status(), 401);
    }
    let r = server.post_form(
        "/token",
        Some((&id, &secret)),
        &[("grant_type", "client_credentials")],
    );
    assert_eq!(r.status(), 429);
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
