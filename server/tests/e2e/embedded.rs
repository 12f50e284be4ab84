//! `gatehouse-validator` embedded in a resource server (its `remote` feature and tower layer),
//! against a running Gatehouse.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use gatehouse_validator::remote::layer::BearerAuthLayer;
use gatehouse_validator::remote::{RemoteError, RemoteSettings, RemoteValidator};

use crate::harness::{Server, free_port, jwt_parts};

fn settings(server: &Server, resource: &str) -> RemoteSettings {
    let mut s = RemoteSettings::new(server.base.clone(), resource);
    s.fetch.allow_http_loopback = true;
    s.unknown_kid_interval = Duration::ZERO;
    s
}

#[test]
fn a_resource_server_validates_gatehouse_tokens_locally() {
    let server = Server::start();
    let rs_port = free_port();
    let resource = format!("http://127.0.0.1:{rs_port}/mcp");
    let (full, full_secret) =
        server.client(&["--resource", &resource, "--scope", "tools:read tools:call"]);
    let (other, other_secret) = server.client(&["--resource", "https://elsewhere.example"]);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let remote = rt
        .block_on(RemoteValidator::discover(settings(&server, &resource)))
        .unwrap();
    let layer = BearerAuthLayer::new(remote).require_scopes(&["tools:call"]);
    let metadata_url = layer.metadata_url().to_owned();
    let app = Router::new()
        .route("/mcp", get(|| async { "protected" }))
        .layer(layer);
    // Bound before the first request: no wait for the server to come up.
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(("127.0.0.1", rs_port)))
        .unwrap();
    rt.spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    let call = |token: Option<&str>| {
        let mut req = server.http.get(&resource);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().unwrap();
        let challenge = r
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned());
        (r.status().as_u16(), challenge)
    };

    // No token: 401 and the RFC 9728 challenge, without an error code.
    let (status, challenge) = call(None);
    assert_eq!(status, 401);
    let challenge = challenge.unwrap();
    assert_eq!(
        challenge,
        format!(
            "Bearer resource_metadata=\"http://127.0.0.1:{rs_port}/.well-known/oauth-protected-resource/mcp\", scope=\"tools:call\""
        )
    );
    let metadata = server.get_json(&metadata_url);
    assert_eq!(metadata["resource"], resource.as_str());
    assert_eq!(
        metadata["authorization_servers"],
        serde_json::json!([server.base])
    );

    let good = server.token((&full, &full_secret), &[]);
    assert_eq!(call(Some(&good)).0, 200);
    let (status, challenge) = call(Some("garbage"));
    assert_eq!(status, 401);
    assert!(
        challenge
            .unwrap()
            .starts_with("Bearer error=\"invalid_token\"")
    );
    let elsewhere = server.token((&other, &other_secret), &[]);
    assert_eq!(
        call(Some(&elsewhere)).0,
        401,
        "a token for another resource"
    );
    let narrow = server.token((&full, &full_secret), &[("scope", "tools:read")]);
    let (status, challenge) = call(Some(&narrow));
    assert_eq!(status, 403);
    assert!(challenge.unwrap().contains("error=\"insufficient_scope\""));

    // After a rotation the new key is fetched on its first unknown kid; old tokens still pass.
    server.cli_json(&["keys", "rotate"]);
    let rotated = server.token((&full, &full_secret), &[]);
    assert_ne!(jwt_parts(&rotated).0["kid"], jwt_parts(&good).0["kid"]);
    assert_eq!(call(Some(&rotated)).0, 200, "new key fetched on demand");
    assert_eq!(
        call(Some(&good)).0,
        200,
        "the retired key is still published"
    );
}

#[test]
fn discovery_is_strict() {
    let server = Server::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // The issuer must match byte for byte (RFC 8414 §3.3).
    let mut slash = settings(&server, "https://rs.example");
    slash.issuer.push('/');
    assert!(rt.block_on(RemoteValidator::discover(slash)).is_err());
    // Plain http is refused unless explicitly allowed for loopback development.
    let mut strict = settings(&server, "https://rs.example");
    strict.fetch.allow_http_loopback = false;
    let err = rt.block_on(RemoteValidator::discover(strict)).unwrap_err();
    assert!(matches!(err, RemoteError::Fetch(_)), "{err}");
}
