//! The interoperability failures MCP clients met at other authorization servers
//! (shared/reference/mcp-auth.md §7), one test each where this module holds it; the others are
//! tested where their feature lives:
//!
//! 1. loopback port mismatch: [`a_portless_loopback_registration_matches_any_port`]
//!    (and `redirect_uris::loopback_redirect_uris_match_on_the_port_only`);
//! 2. issuer trailing slash: [`one_issuer_string_everywhere`] (and the config tests refusing a
//!    trailing slash, an upper-case host, a default port);
//! 3. `resource` trailing slash or absent, 7. scope policy: `registration::a_registered_mcp_client_signs_a_person_in_with_the_registry_deciding`;
//! 4. `resource` ignored on some grant: [`resource_is_honoured_on_every_grant`];
//! 5. PKCE not advertised: `discovery::metadata_documents_agree_and_advertise_only_what_exists`
//!    (both documents equal, `S256`);
//! 6. registration gated: `registration::*` (open, bounded instead);
//! 8. refresh races: `refresh::concurrent_refreshes_within_the_grace_window_get_the_same_successor`;
//! 9. custom-scheme and hosted redirect URIs: [`custom_scheme_and_hosted_callbacks_register_and_work`];
//! 10. CORS: `discovery::machine_endpoints_allow_cross_origin_calls`;
//! 11. protected-resource `resource` equal to the server's URL: the example MCP server's tests;
//! 12. client metadata documents without `application_type`: the client metadata document
//!     tests, and `ApplicationType::of` in core.

use serde_json::{Value, json};

use super::driver::{App, Page, Setup, Tokens, VERIFIER, admin};
use crate::harness::{Server, jwt_parts};

fn register(server: &Server, body: &Value) -> App {
    let page = Page::read(
        server
            .http
            .post(format!("{}/register", server.base))
            .json(body)
            .send()
            .unwrap(),
    );
    assert_eq!(page.status, 201, "{}", page.body);
    let answer = page.json();
    App {
        id: answer["client_id"].as_str().unwrap().to_owned(),
        secret: answer["client_secret"].as_str().map(str::to_owned),
        redirect_uri: answer["redirect_uris"][0].as_str().unwrap().to_owned(),
    }
}

fn add_resource(server: &Server, uri: &str) {
    let (status, body) = admin(
        server,
        "POST",
        "/admin/resources",
        Some(&json!({"uri": uri, "scopes": [{"name": "read"}], "default_scopes": ["read"]})),
    );
    assert_eq!(status, 201, "{body}");
}

/// §7.1: Claude Code's metadata registers portless `http://localhost/callback` and
/// `http://127.0.0.1/callback` and redirects to an ephemeral port; `localhost` is not taken for
/// `127.0.0.1` unless both are registered.
#[test]
fn a_portless_loopback_registration_matches_any_port() {
    let setup = Setup::new();
    add_resource(&setup.server, "https://mcp.example");
    let app = register(
        &setup.server,
        &json!({"redirect_uris": ["http://localhost/callback"], "token_endpoint_auth_method": "none"}),
    );
    let at = "http://localhost:48123/callback";
    let code = setup
        .browser()
        .code(&app, &app.request().with("redirect_uri", at));
    let page = app.post(
        &setup.server,
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", VERIFIER),
            ("redirect_uri", at),
        ],
    );
    assert_eq!(page.status, 200, "{}", page.body);
    // Another host on that port is another URI: an error page, no redirect.
    let page = setup.browser().authorize(
        &app.request()
            .with("redirect_uri", "http://127.0.0.1:48123/callback"),
    );
    assert_eq!(page.status, 400);
    assert!(page.location().is_none());
}

/// §7.2: the issuer is one string, byte for byte, in the metadata, the tokens and the
/// authorization response's `iss` (the driver checks `iss` on every code it gets).
#[test]
fn one_issuer_string_everywhere() {
    let setup = Setup::new();
    let server = &setup.server;
    let meta = server.get_json(&format!(
        "{}/.well-known/oauth-authorization-server",
        server.base
    ));
    let oidc = server.get_json(&format!("{}/.well-known/openid-configuration", server.base));
    assert_eq!(meta["issuer"], server.base.as_str());
    assert_eq!(oidc["issuer"], server.base.as_str());
    let tokens = setup.tokens(&setup.public);
    assert_eq!(jwt_parts(&tokens.access).1["iss"], server.base.as_str());
    assert_eq!(
        jwt_parts(tokens.id_token.as_deref().unwrap()).1["iss"],
        server.base.as_str()
    );
    // A server cannot even start with a second spelling of itself.
    for issuer in ["http://127.0.0.1:9/", "http://LOCALHOST:9"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .arg("serve")
            .env("GATEHOUSE_ISSUER", issuer)
            .env("GATEHOUSE_DATA_DIR", server.dir.path().join("other"))
            .output()
            .unwrap();
        assert!(!out.status.success(), "{issuer}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("issuer"),
            "{issuer}"
        );
    }
}

/// §7.4: `resource` is honoured on every grant: authorization code (narrowed to what was
/// authorized), refresh token (narrowing only), client credentials; in any spelling.
#[test]
fn resource_is_honoured_on_every_grant() {
    let setup = Setup::new();
    let server = &setup.server;
    let tokens = setup.tokens(&setup.public);
    assert_eq!(jwt_parts(&tokens.access).1["aud"], "https://mcp.example");
    // Refresh naming the same resource in another spelling: the canonical audience.
    let page = setup.public.post(
        server,
        "/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &tokens.refresh),
            ("resource", "https://MCP.example/"),
        ],
    );
    let refreshed = Tokens::of(&page);
    assert_eq!(jwt_parts(&refreshed.access).1["aud"], "https://mcp.example");
    // Refresh naming another resource: invalid_target, the token untouched.
    let page = setup.public.post(
        server,
        "/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refreshed.refresh),
            ("resource", "https://other.example"),
        ],
    );
    assert_eq!(page.status, 400, "{}", page.body);
    assert_eq!(page.json()["error"], "invalid_target");
    let page = setup.public.refresh(server, &refreshed.refresh);
    assert_eq!(page.status, 200, "{}", page.body);
    // Client credentials: the named resource, canonical; none named: the client's default.
    let (status, m2m) = admin(
        server,
        "POST",
        "/admin/clients",
        Some(&json!({
            "name": "agent",
            "grant_types": ["client_credentials"],
            "resources": ["https://api.example/v1", "https://mcp.example/mcp"],
            "scope": "read",
        })),
    );
    assert_eq!(status, 201);
    let creds = (
        m2m["client_id"].as_str().unwrap(),
        m2m["client_secret"].as_str().unwrap(),
    );
    let named = server.token(creds, &[("resource", "https://MCP.example:443/mcp/")]);
    assert_eq!(jwt_parts(&named).1["aud"], "https://mcp.example/mcp");
    let default = server.token(creds, &[]);
    assert_eq!(jwt_parts(&default).1["aud"], "https://api.example/v1");
}

/// §7.9: Cursor's, Claude Desktop's and hosted callbacks register as public clients and the
/// code is sent exactly there; dangerous schemes never register.
#[test]
fn custom_scheme_and_hosted_callbacks_register_and_work() {
    let setup = Setup::new();
    add_resource(&setup.server, "https://mcp.example");
    for uri in [
        "cursor://anysphere.cursor-mcp/oauth/callback",
        "claude://claude.ai/mcp-auth-callback/sdk",
        "https://claude.ai/api/mcp/auth_callback",
        "https://chatgpt.com/connector_platform_oauth_redirect",
    ] {
        let app = register(
            &setup.server,
            &json!({"client_name": "c", "redirect_uris": [uri], "token_endpoint_auth_method": "none",
                   "grant_types": ["authorization_code", "refresh_token"]}),
        );
        let code = setup.browser().code(&app, &app.request());
        assert!(!code.is_empty(), "{uri}");
    }
    for uri in [
        "javascript:alert(1)",
        "data:text/html,x",
        "file:///etc/passwd",
    ] {
        let page = Page::read(
            setup
                .server
                .http
                .post(format!("{}/register", setup.server.base))
                .json(&json!({"redirect_uris": [uri], "token_endpoint_auth_method": "none"}))
                .send()
                .unwrap(),
        );
        assert_eq!(page.status, 400, "{uri}");
        assert_eq!(page.json()["error"], "invalid_redirect_uri");
    }
}
