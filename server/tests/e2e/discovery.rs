//! Metadata, JWKS, CORS and issuers with a path.

use crate::harness::{Server, free_port};

#[test]
fn metadata_documents_agree_and_advertise_only_what_exists() {
    let server = Server::start();
    let oauth = server.get_json(&format!(
        "{}/.well-known/oauth-authorization-server",
        server.base
    ));
    let oidc = server.get_json(&format!("{}/.well-known/openid-configuration", server.base));
    assert_eq!(oauth, oidc);
    assert_eq!(oauth["issuer"], server.base);
    assert_eq!(oauth["token_endpoint"], format!("{}/token", server.base));
    assert_eq!(
        oauth["introspection_endpoint"],
        format!("{}/introspect", server.base)
    );
    assert_eq!(
        oauth["revocation_endpoint"],
        format!("{}/revoke", server.base)
    );
    assert_eq!(oauth["jwks_uri"], format!("{}/jwks", server.base));
    assert_eq!(
        oauth["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        oauth["grant_types_supported"],
        serde_json::json!([
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "urn:ietf:params:oauth:grant-type:token-exchange"
        ])
    );
    assert_eq!(
        oauth["token_endpoint_auth_methods_supported"],
        serde_json::json!(["client_secret_basic", "client_secret_post", "none"])
    );
    assert_eq!(
        oauth["response_types_supported"],
        serde_json::json!(["code"])
    );
    assert_eq!(
        oauth["authorization_response_iss_parameter_supported"],
        true
    );
    assert_eq!(oauth["require_pushed_authorization_requests"], false);
    assert_eq!(
        oauth["subject_types_supported"],
        serde_json::json!(["public"])
    );
    assert_eq!(
        oauth["id_token_signing_alg_values_supported"],
        serde_json::json!(["ES256"])
    );
    // Every endpoint advertised exists: it answers GET or POST with something else than 404
    // or 405 (an error about the empty request is fine).
    let endpoints: Vec<(&String, &serde_json::Value)> = oauth
        .as_object()
        .unwrap()
        .iter()
        .filter(|(name, _)| name.ends_with("_endpoint") || *name == "jwks_uri")
        .collect();
    assert_eq!(endpoints.len(), 8, "{endpoints:?}");
    for (name, url) in endpoints {
        let url = url.as_str().unwrap();
        assert!(url.starts_with(&server.base), "{name}: {url}");
        let get = server.http.get(url).send().unwrap().status().as_u16();
        let post = server.http.post(url).send().unwrap().status().as_u16();
        let exists = |s: u16| s != 404 && s != 405;
        assert!(
            exists(get) || exists(post),
            "{name} {url}: GET {get}, POST {post}"
        );
    }
}

#[test]
fn jwks_publishes_public_keys_only() {
    let server = Server::start();
    let jwks = server.get_json(&format!("{}/jwks", server.base));
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "EC");
    assert_eq!(key["crv"], "P-256");
    assert_eq!(key["alg"], "ES256");
    assert_eq!(key["use"], "sig");
    assert!(key.get("d").is_none(), "no private member");
}

#[test]
fn machine_endpoints_allow_cross_origin_calls() {
    let server = Server::start();
    let preflight = server
        .http
        .request(reqwest::Method::OPTIONS, format!("{}/token", server.base))
        .header("Origin", "http://localhost:6274")
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization, content-type, mcp-protocol-version",
        )
        .send()
        .unwrap();
    assert!(preflight.status().is_success());
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(allowed.contains("mcp-protocol-version"), "{allowed}");
    // A preflight names the one method each route takes (a probe found GET,POST everywhere).
    for (path, method) in [
        ("/token", "POST"),
        ("/revoke", "POST"),
        ("/jwks", "GET"),
        ("/.well-known/oauth-authorization-server", "GET"),
    ] {
        let r = server
            .http
            .request(reqwest::Method::OPTIONS, format!("{}{path}", server.base))
            .header("Origin", "http://localhost:6274")
            .header("Access-Control-Request-Method", method)
            .send()
            .unwrap();
        assert_eq!(
            r.headers()["access-control-allow-methods"],
            method,
            "{path}"
        );
    }
    let r = server
        .http
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            server.base
        ))
        .header("Origin", "http://localhost:6274")
        .send()
        .unwrap();
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    assert!(
        r.headers()
            .get("access-control-allow-credentials")
            .is_none()
    );
    // Unknown paths and introspection get no CORS, preflight or not.
    for path in ["/anything", "/introspect"] {
        let r = server
            .http
            .request(reqwest::Method::OPTIONS, format!("{}{path}", server.base))
            .header("Origin", "http://localhost:6274")
            .header("Access-Control-Request-Method", "POST")
            .send()
            .unwrap();
        assert!(!r.status().is_success(), "{path}: {}", r.status());
        assert!(
            r.headers().get("access-control-allow-origin").is_none(),
            "{path}"
        );
    }
}

#[test]
fn an_issuer_with_a_path_serves_path_inserted_metadata_and_endpoints_under_it() {
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}/tenant");
    let listen = format!("127.0.0.1:{port}");
    let server =
        Server::start_with(&[("GATEHOUSE_LISTEN", &listen), ("GATEHOUSE_ISSUER", &issuer)]);
    let root = server.root();
    for path in [
        "/.well-known/oauth-authorization-server/tenant",
        "/.well-known/openid-configuration/tenant",
        "/tenant/.well-known/openid-configuration",
    ] {
        let doc = server.get_json(&format!("{root}{path}"));
        assert_eq!(doc["issuer"], issuer, "{path}");
        assert_eq!(doc["token_endpoint"], format!("{issuer}/token"));
    }
    let (id, secret) = server.client(&[]);
    let token = server.token((&id, &secret), &[]);
    assert_eq!(crate::harness::jwt_parts(&token).1["iss"], issuer);
    assert!(server.is_active(&token));
    let r = server
        .http
        .get(format!("{root}/.well-known/oauth-authorization-server"))
        .send()
        .unwrap();
    assert_eq!(
        r.status(),
        404,
        "the root document would name another issuer"
    );
}

#[test]
fn probes_answer() {
    let server = Server::start();
    let health = server.get_json(&format!("{}/health", server.root()));
    assert_eq!(health["status"], "ok");
    let ready = server.get_json(&format!("{}/ready", server.root()));
    assert_eq!(ready["status"], "ready");
}
