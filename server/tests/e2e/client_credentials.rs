//! The client-credentials grant, driven by the `oauth2` crate and by hand.

use oauth2::basic::BasicClient;
use oauth2::{AuthType, ClientId, ClientSecret, Scope, TokenResponse, TokenUrl};
use serde_json::Value;

use crate::harness::{Server, jwt_parts};

fn http() -> oauth2::reqwest::blocking::Client {
    oauth2::reqwest::blocking::ClientBuilder::new()
        .redirect(oauth2::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[test]
fn oauth2_crate_gets_tokens_with_basic_and_post_authentication() {
    let server = Server::start();
    let (id, secret) = server.client(&["--scope", "read write"]);
    for auth in [AuthType::BasicAuth, AuthType::RequestBody] {
        let client = BasicClient::new(ClientId::new(id.clone()))
            .set_client_secret(ClientSecret::new(secret.clone()))
            .set_auth_type(auth.clone())
            .set_token_uri(TokenUrl::new(format!("{}/token", server.base)).unwrap());
        let token = client
            .exchange_client_credentials()
            .add_scope(Scope::new("read".into()))
            .add_extra_param("resource", "https://rs.example/api")
            .request(&http())
            .unwrap_or_else(|e| panic!("{auth:?}: {e:?}"));
        assert_eq!(token.token_type().as_ref(), "bearer");
        assert_eq!(token.expires_in().unwrap().as_secs(), 3600);
        assert_eq!(token.scopes().unwrap(), &vec![Scope::new("read".into())]);
        assert!(server.is_active(token.access_token().secret()));
    }
}

#[test]
fn jwt_access_tokens_follow_rfc9068() {
    let server = Server::start();
    let (id, secret) = server.client(&["--scope", "read write", "--access-token-lifetime", "5m"]);
    let r = server.post_form(
        "/token",
        Some((&id, &secret)),
        &[("grant_type", "client_credentials")],
    );
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(r.headers()["pragma"], "no-cache");
    let body: Value = r.json().unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    assert_eq!(
        body["scope"], "read write",
        "no scope asked: the registered scope"
    );
    let (header, claims) = jwt_parts(body["access_token"].as_str().unwrap());
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["kid"], server.jwks_kids()[0].as_str());
    assert_eq!(claims["iss"], server.base);
    assert_eq!(claims["sub"], id.as_str());
    assert_eq!(claims["client_id"], id.as_str());
    assert_eq!(
        claims["aud"], "https://rs.example/api",
        "the default resource, one audience"
    );
    assert_eq!(claims["scope"], "read write");
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        300
    );
    assert_eq!(claims["jti"].as_str().unwrap().len(), 22);
}

#[test]
fn resources_are_canonical_and_bound_one_per_token() {
    let server = Server::start();
    let (id, secret) = server.client(&[
        "--resource",
        "https://mcp.example.com/",
        "--resource",
        "https://other.example/mcp",
    ]);
    let token = server.token((&id, &secret), &[("resource", "https://MCP.example.com")]);
    assert_eq!(jwt_parts(&token).1["aud"], "https://mcp.example.com");
    let token = server.token(
        (&id, &secret),
        &[("resource", "https://other.example/mcp/")],
    );
    assert_eq!(jwt_parts(&token).1["aud"], "https://other.example/mcp");
    let token = server.token((&id, &secret), &[]);
    assert_eq!(jwt_parts(&token).1["aud"], "https://mcp.example.com");
}

#[test]
fn opaque_tokens_per_client() {
    let server = Server::start();
    let (id, secret) = server.client(&["--token-format", "opaque", "--scope", "read"]);
    let token = server.token((&id, &secret), &[]);
    assert!(token.starts_with("gat_"), "{token}");
    assert_eq!(token.len(), 53);
    let answer = server.introspect(server.introspector(), &token);
    assert_eq!(answer["active"], true);
    assert_eq!(answer["client_id"], id.as_str());
    assert_eq!(answer["aud"], "https://rs.example/api");
    assert_eq!(answer["scope"], "read");
}

#[test]
fn lifetimes_global_and_per_client() {
    let server = Server::start_with(&[("GATEHOUSE_TOKENS__ACCESS_TOKEN_LIFETIME", "2h")]);
    let (a, a_secret) = server.client(&[]);
    let (b, b_secret) = server.client(&["--access-token-lifetime", "2d"]);
    let lifetime = |creds: (&str, &str)| {
        let r = server.post_form(
            "/token",
            Some(creds),
            &[("grant_type", "client_credentials")],
        );
        r.json::<Value>().unwrap()["expires_in"].as_u64().unwrap()
    };
    assert_eq!(lifetime((&a, &a_secret)), 7200);
    assert_eq!(lifetime((&b, &b_secret)), 172_800);
}

/// security-matrix 1.6.46: unknown parameters are ignored (only known ones are read, and only
/// those must not repeat).
#[test]
fn unknown_parameters_are_ignored() {
    let server = Server::start();
    let (id, secret) = server.client(&[]);
    let token = server.token(
        (&id, &secret),
        &[("extra", "foobar"), ("another", "1"), ("another", "2")],
    );
    assert!(server.is_active(&token));
}
