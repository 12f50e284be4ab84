//! Revocation (RFC 7009) of JWT and opaque access tokens, with the `oauth2` crate.

use oauth2::basic::BasicClient;
use oauth2::{
    AccessToken, ClientId, ClientSecret, IntrospectionUrl, Scope, TokenIntrospectionResponse,
};

use crate::harness::Server;

#[test]
fn revoked_tokens_are_inactive_at_once() {
    let server = Server::start();
    let (id, secret) = server.client(&[]);
    let (oid, osecret) = server.client(&["--token-format", "opaque"]);
    for (creds, token) in [
        ((&id, &secret), server.token((&id, &secret), &[])),
        ((&oid, &osecret), server.token((&oid, &osecret), &[])),
    ] {
        let creds = (creds.0.as_str(), creds.1.as_str());
        assert!(server.is_active(&token));
        let r = server.post_form(
            "/revoke",
            Some(creds),
            &[("token", &token), ("token_type_hint", "access_token")],
        );
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["cache-control"], "no-store");
        assert!(!server.is_active(&token));
        // Revoking again is fine (RFC 7009 §2.2).
        assert_eq!(
            server
                .post_form("/revoke", Some(creds), &[("token", &token)])
                .status(),
            200
        );
    }
}

/// The `oauth2` crate refuses to revoke over plain http (`InsecureUrl`, RFC 7009 §2 wants TLS),
/// so its introspection client checks our revocation instead.
#[test]
fn oauth2_crate_sees_the_revocation() {
    let server = Server::start();
    let (id, secret) = server.client(&["--scope", "read", "--introspect"]);
    let token = server.token((&id, &secret), &[]);
    let client = BasicClient::new(ClientId::new(id.clone()))
        .set_client_secret(ClientSecret::new(secret.clone()))
        .set_introspection_url(
            IntrospectionUrl::new(format!("{}/introspect", server.base)).unwrap(),
        );
    let http = oauth2::reqwest::blocking::Client::new();
    let introspect = || {
        client
            .introspect(&AccessToken::new(token.clone()))
            .request(&http)
            .unwrap()
    };
    let answer = introspect();
    assert!(answer.active());
    assert_eq!(answer.client_id().unwrap().as_str(), id);
    assert_eq!(answer.scopes().unwrap(), &vec![Scope::new("read".into())]);
    assert!(answer.exp().is_some());
    assert_eq!(
        server
            .post_form("/revoke", Some((&id, &secret)), &[("token", &token)])
            .status(),
        200
    );
    assert!(!introspect().active());
}

/// Issue 8, item 7: RFC 7009 §2.1-2.2: another client's token is left alone, and the answer is
/// the same 200 as for an invalid token, so `/revoke` tells nobody which tokens are live.
#[test]
fn another_clients_token_is_answered_200_and_stays_active() {
    let server = Server::start();
    let (owner, owner_secret) = server.client(&[]);
    let (other, other_secret) = server.client(&[]);
    let token = server.token((&owner, &owner_secret), &[]);
    let revoke = |t: &str| {
        let r = server.post_form("/revoke", Some((&other, &other_secret)), &[("token", t)]);
        (
            r.status(),
            r.headers().get("content-length").cloned(),
            r.text().unwrap(),
        )
    };
    let live = revoke(&token);
    let invalid = revoke("eyJhbGciOiJFUzI1NiJ9.e30.c2ln");
    assert_eq!(live.0, 200);
    assert_eq!(live, invalid, "indistinguishable from an invalid token");
    assert!(server.is_active(&token));
}

#[test]
fn invalid_tokens_are_answered_200_and_change_nothing() {
    let server = Server::start();
    let (id, secret) = server.client(&[]);
    let token = server.token((&id, &secret), &[]);
    for bad in ["garbage", "gat_nope", &token[..token.len() - 3]] {
        assert_eq!(
            server
                .post_form("/revoke", Some((&id, &secret)), &[("token", bad)])
                .status(),
            200
        );
    }
    assert!(server.is_active(&token));
}

/// Bulk revocation import on the admin API: durable, and effective on the next introspection.
#[test]
fn admin_bulk_revocation_import() {
    let mut server = Server::start();
    let (id, secret) = server.client(&[]);
    let token = server.token((&id, &secret), &[]);
    let claims = crate::harness::jwt_parts(&token).1;
    let token_file = server.data_dir().join("admin-token");
    let admin_token = std::fs::read_to_string(token_file).unwrap();
    let admin = server.cli_json(&["keys", "list"]); // the admin API is up
    assert!(admin.is_array());
    let out =
        String::from_utf8(std::fs::read(server.dir.path().join("stdout.log")).unwrap()).unwrap();
    let admin_addr = out.rsplit("http://").next().unwrap().trim().to_owned();
    let import = |body: serde_json::Value| {
        server
            .http
            .post(format!("http://{admin_addr}/admin/revocations"))
            .bearer_auth(admin_token.trim())
            .json(&body)
            .send()
            .unwrap()
    };
    let in_a_day = claims["exp"].as_u64().unwrap() + 86_400;
    let mut batch: Vec<serde_json::Value> = (0..50_000)
        .map(|i| serde_json::json!({"jti": format!("bulk-{i:06}-0123456789"), "exp": in_a_day}))
        .collect();
    batch.push(serde_json::json!({"jti": claims["jti"], "exp": claims["exp"]}));
    batch.push(serde_json::json!({"jti": "long-expired", "exp": 1}));
    let r = import(serde_json::Value::Array(batch));
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<serde_json::Value>().unwrap()["revoked"],
        50_001,
        "expired entries are skipped"
    );
    assert!(!server.is_active(&token));
    assert_eq!(
        import(serde_json::json!([{"jti": "", "exp": 4_000_000_000u64}])).status(),
        400
    );
    assert_eq!(import(serde_json::json!({"not": "a list"})).status(), 400);
    // An exp no token can reach (over 30 days ahead) would never be purged.
    let r = import(serde_json::json!([{"jti": "far", "exp": u64::MAX}]));
    assert_eq!(r.status(), 400);
    assert!(r.text().unwrap().contains("later than any token can live"));
    server.restart();
    assert!(!server.is_active(&token), "durable");
}
