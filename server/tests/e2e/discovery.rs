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
            "urn:ietf:params:oauth:grant-type:token-exchange",
            "urn:ietf:params:oauth:grant-type:device_code"
        ])
    );
    assert_eq!(
        oauth["device_authorization_endpoint"],
        format!("{}/device_authorization", server.base)
    );
    assert_eq!(
        oauth["token_endpoint_auth_methods_supported"],
        serde_json::json!([
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
            "none"
        ])
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
    assert_eq!(endpoints.len(), 10, "{endpoints:?}");
    assert_eq!(
        oauth["registration_endpoint"],
        format!("{}/register", server.base)
    );
    assert_eq!(oauth["client_id_metadata_document_supported"], true);
    // shared/reference/mcp-auth.md §1.5: what MCP clients key on.
    for scope in ["openid", "offline_access"] {
        assert!(
            oauth["scopes_supported"]
                .as_array()
                .unwrap()
                .contains(&serde_json::json!(scope)),
            "{scope}"
        );
    }
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
        ("/device_authorization", "POST"),
        ("/revoke", "POST"),
        ("/register", "POST"),
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
    // Every URL of the MCP probe order for a path issuer (mcp-auth.md §1.3), and rmcp's extra
    // one: 200, JSON, the issuer byte for byte.
    for path in [
        "/.well-known/oauth-authorization-server/tenant",
        "/.well-known/openid-configuration/tenant",
        "/tenant/.well-known/openid-configuration",
        "/tenant/.well-known/oauth-authorization-server",
    ] {
        let r = server.http.get(format!("{root}{path}")).send().unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["content-type"], "application/json", "{path}");
        let text = r.text().unwrap();
        assert!(
            text.contains(&format!("\"issuer\":\"{issuer}\"")),
            "{path}: {text}"
        );
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["token_endpoint"], format!("{issuer}/token"));
        assert_eq!(doc["registration_endpoint"], format!("{issuer}/register"));
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
    // A miss is a clean JSON 404, never HTML, never a 5xx (the TS SDK stops on a 5xx).
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server/other",
        "/.well-known/oauth-protected-resource/tenant",
        "/tenant/nothing",
        "/%ff%fe",
    ] {
        let r = server.http.get(format!("{root}{path}")).send().unwrap();
        assert_eq!(r.status(), 404, "{path}");
        assert_eq!(r.headers()["content-type"], "application/json", "{path}");
        assert_eq!(r.json::<serde_json::Value>().unwrap()["error"], "not_found");
    }
}

#[test]
fn registered_resources_have_protected_resource_metadata() {
    let server = Server::start();
    let out = server.cli_json(&[
        "resource",
        "create",
        "--uri",
        "https://MCP.example.com/mcp/",
        "--name",
        "Example MCP",
        "--scope",
        "tools=Call the tools",
        "--scope",
        "admin",
        "--default-scope",
        "tools",
    ]);
    assert_eq!(out["uri"], "https://mcp.example.com/mcp");
    assert_eq!(out["default"], true, "the only resource is the default");
    let doc = server.get_json(&format!(
        "{}/.well-known/oauth-protected-resource/mcp",
        server.root()
    ));
    assert_eq!(doc["resource"], "https://mcp.example.com/mcp");
    assert_eq!(
        doc["authorization_servers"],
        serde_json::json!([server.base])
    );
    assert_eq!(
        doc["scopes_supported"],
        serde_json::json!(["tools", "admin"])
    );
    let meta = server.get_json(&format!(
        "{}/.well-known/oauth-authorization-server",
        server.base
    ));
    assert!(
        meta["scopes_supported"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("tools"))
    );
    let list = server.cli_json(&["resource", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let shown = server.cli_json(&["resource", "show", "https://mcp.example.com/mcp"]);
    assert_eq!(shown["scopes"][0]["description"], "Call the tools");
    // The same resource in another spelling is the same resource.
    let again = server.cli(&[
        "resource",
        "create",
        "--uri",
        "https://mcp.example.com:443/mcp",
    ]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already registered"));
    // A default scope that is not one of its scopes is refused, naming the field.
    let bad = server.cli(&[
        "resource",
        "create",
        "--uri",
        "https://b.example",
        "--default-scope",
        "x",
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("default_scopes"));
    // Paths are compared as sent, percent-encoding and all; of two resources on one path, the
    // one on the request's host, https first (a probe got the http one, and 404 for encoded
    // paths).
    let others = [
        "https://mcp.example.com/a%2Fb",
        "http://mcp.example.com/mcp",
        "https://other.example.com/mcp",
    ];
    for uri in others {
        server.cli_json(&["resource", "create", "--uri", uri]);
    }
    let doc = server.get_json(&format!(
        "{}/.well-known/oauth-protected-resource/a%2Fb",
        server.root()
    ));
    assert_eq!(doc["resource"], "https://mcp.example.com/a%2Fb");
    let doc: serde_json::Value = server
        .http
        .get(format!(
            "{}/.well-known/oauth-protected-resource/mcp",
            server.root()
        ))
        .header("host", "mcp.example.com")
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(doc["resource"], "https://mcp.example.com/mcp");
    for uri in others {
        server.cli_json(&["resource", "delete", uri]);
    }
    let gone = server.cli_json(&["resource", "delete", "https://mcp.example.com/mcp"]);
    assert_eq!(gone["deleted"], true);
    let r = server
        .http
        .get(format!(
            "{}/.well-known/oauth-protected-resource/mcp",
            server.root()
        ))
        .send()
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[test]
fn probes_answer() {
    let server = Server::start();
    let health = server.get_json(&format!("{}/health", server.root()));
    assert_eq!(health["status"], "ok");
    let ready = server.get_json(&format!("{}/ready", server.root()));
    assert_eq!(ready["status"], "ready");
}
