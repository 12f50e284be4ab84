//! Dynamic client registration (RFC 7591) and management (RFC 7592) end to end, with the
//! resource registry deciding what a self-registered client gets (shared/reference/mcp-auth.md
//! §2.2, §3.2, §3.3, §7.3, §7.6, §7.7): what real MCP clients send registers, the answer has
//! what their parsers require, a registered client signs a person in and gets a token for the
//! default resource with its default scopes, bad registrations change nothing, and the limits
//! hold.

use reqwest::blocking::Response;
use serde_json::{Value, json};

use super::driver::{App, Page, Setup, Tokens, VERIFIER, admin};
use crate::harness::{Server, jwt_parts};

/// The MCP server the tests register as a resource.
const MCP: &str = "https://mcp.example/mcp";

/// Registers the MCP server as a resource (the default one), with two scopes.
fn add_mcp_resource(server: &Server) {
    let (status, body) = admin(
        server,
        "POST",
        "/admin/resources",
        Some(&json!({
            "uri": "https://MCP.example/mcp/",
            "name": "Example MCP",
            "scopes": [
                {"name": "tools", "description": "Call the example tools"},
                {"name": "admin", "description": "Change the server's settings"}
            ],
            "default_scopes": ["tools"],
        })),
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["uri"], MCP, "stored in canonical form");
}

fn post_json(server: &Server, path: &str, body: &Value) -> Response {
    server
        .http
        .post(format!("{}{path}", server.base))
        .json(body)
        .send()
        .unwrap()
}

/// What mcp-remote sends (no `scope`, extra members), on a loopback redirect URI.
fn mcp_remote() -> Value {
    json!({
        "client_name": "MCP CLI Proxy",
        "client_uri": "https://github.com/geelen/mcp-remote",
        "software_id": "2e6dc280-f3c3-4e01-99a7-8181dbd1d23d",
        "software_version": "0.1.29",
        "redirect_uris": ["http://localhost:3334/oauth/callback"],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "resource": MCP,
    })
}

fn dynamic_count(server: &Server) -> u64 {
    let (_, status) = admin(server, "GET", "/admin/status", None);
    status["dynamic_clients"]["count"].as_u64().unwrap()
}

fn registered(server: &Server, body: &Value) -> (App, Value) {
    let page = Page::read(post_json(server, "/register", body));
    assert_eq!(page.status, 201, "{}", page.body);
    assert_eq!(page.header("cache-control"), Some("no-store"));
    let answer = page.json();
    let app = App {
        id: answer["client_id"].as_str().unwrap().to_owned(),
        secret: answer["client_secret"].as_str().map(str::to_owned),
        redirect_uri: answer["redirect_uris"][0].as_str().unwrap().to_owned(),
    };
    (app, answer)
}

#[test]
fn a_registered_mcp_client_signs_a_person_in_with_the_registry_deciding() {
    let setup = Setup::new();
    let server = &setup.server;
    add_mcp_resource(server);
    let (app, answer) = registered(server, &mcp_remote());
    // What the TS SDK's schema and rmcp's struct require: redirect_uris echoed as an array,
    // no null anywhere, 201, the id's issue time, the management credentials.
    assert_eq!(
        answer["redirect_uris"],
        json!(["http://localhost:3334/oauth/callback"])
    );
    assert_eq!(answer["token_endpoint_auth_method"], "none");
    assert_eq!(answer["application_type"], "native");
    assert!(answer.get("client_secret").is_none());
    assert!(answer["client_id_issued_at"].as_u64().unwrap() > 1_700_000_000);
    assert!(
        answer["registration_access_token"]
            .as_str()
            .unwrap()
            .starts_with("gmt_")
    );
    assert_eq!(
        answer["registration_client_uri"],
        format!("{}/register/{}", server.base, app.id)
    );
    assert!(answer.as_object().unwrap().values().all(|v| !v.is_null()));
    assert!(
        answer.get("resource").is_none(),
        "unknown members are not kept"
    );

    // Claude Code sends no scope; the TS SDK names the resource with a trailing slash and an
    // ephemeral loopback port: the default scopes, the canonical audience.
    let request = app
        .request()
        .without("scope")
        .with("resource", "https://mcp.example/mcp/")
        .with("redirect_uri", "http://localhost:51234/oauth/callback");
    let code = setup.browser().code(&app, &request);
    let page = app.post(
        server,
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", VERIFIER),
            ("redirect_uri", "http://localhost:51234/oauth/callback"),
            ("resource", "https://MCP.example/mcp"),
        ],
    );
    let tokens = Tokens::of(&page);
    assert_eq!(
        page.json()["scope"],
        "tools",
        "the granted scope is returned"
    );
    let (_, claims) = jwt_parts(&tokens.access);
    assert_eq!(claims["aud"], MCP);
    assert_eq!(claims["scope"], "tools");
    assert_eq!(claims["client_id"], app.id.as_str());
    // The refresh token works and rotates (a public client).
    let refreshed = app.refresh(server, &tokens.refresh);
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    assert_ne!(refreshed.json()["refresh_token"], tokens.refresh.as_str());

    // SEP-2207 clients add `openid offline_access`, others ask for scopes of another server:
    // down-scoped, not refused (mcp-auth.md §7.7).
    let request = app
        .request()
        .with("scope", "openid offline_access tools repo:write")
        .with("resource", MCP)
        .with("prompt", "consent");
    let code = setup.browser().code(&app, &request);
    let page = app.redeem(server, &code, VERIFIER);
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.json()["scope"], "offline_access openid tools");
    assert!(page.json()["id_token"].is_string());

    // Nothing of what it asked for exists: refused at /authorize, back to the client.
    let browser_page = setup.browser().authorize(
        &app.request()
            .with("scope", "repo:write")
            .with("resource", MCP),
    );
    let params = browser_page.redirect_params(&app.redirect_uri);
    assert_eq!(params["error"], "invalid_scope");
    // A resource the registry does not know: invalid_target.
    let browser_page = setup
        .browser()
        .authorize(&app.request().with("resource", "https://other.example"));
    let params = browser_page.redirect_params(&app.redirect_uri);
    assert_eq!(params["error"], "invalid_target");

    // A self-registered client never introspects.
    let page = app.post(server, "/introspect", &[("token", &tokens.access)]);
    assert_ne!(page.status, 200, "{}", page.body);
}

#[test]
fn a_registration_is_managed_with_its_token_and_ends_with_invalid_client() {
    let server = Server::start();
    add_mcp_resource(&server);
    let (app, answer) = registered(
        &server,
        &json!({
            "client_name": "Agent",
            "redirect_uris": ["https://agent.example/cb"],
            "token_endpoint_auth_method": "client_secret_basic",
            "grant_types": ["authorization_code", "refresh_token"],
        }),
    );
    assert!(app.secret.as_deref().unwrap().starts_with("gcs_"));
    assert_eq!(answer["client_secret_expires_at"], 0);
    let token = answer["registration_access_token"].as_str().unwrap();
    let uri = answer["registration_client_uri"].as_str().unwrap();
    let read = |bearer: &str| Page::read(server.http.get(uri).bearer_auth(bearer).send().unwrap());
    // RFC 7592 §2.1: the metadata, never the secret or the token again.
    let page = read(token);
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.json()["client_name"], "Agent");
    assert!(page.json().get("client_secret").is_none());
    assert!(page.json().get("registration_access_token").is_none());
    // Another token, no token, another client's URI: 401 invalid_token, alike.
    for bad in ["gmt_wrong", ""] {
        let page = read(bad);
        assert_eq!(page.status, 401);
        assert_eq!(page.json()["error"], "invalid_token");
        assert!(
            page.header("www-authenticate")
                .unwrap()
                .starts_with("Bearer")
        );
    }
    let (other, other_answer) = registered(
        &server,
        &json!({"redirect_uris": ["https://b.example/cb"], "token_endpoint_auth_method": "none"}),
    );
    let cross = Page::read(
        server
            .http
            .get(other_answer["registration_client_uri"].as_str().unwrap())
            .bearer_auth(token)
            .send()
            .unwrap(),
    );
    assert_eq!(cross.status, 401, "one client's token manages no other");
    // An operator's client is not managed here, whatever is presented.
    let (status, op) = admin(
        &server,
        "POST",
        "/admin/clients",
        Some(&json!({"name": "op", "grant_types": ["client_credentials"], "resources": [MCP]})),
    );
    assert_eq!(status, 201);
    let page = Page::read(
        server
            .http
            .get(format!(
                "{}/register/{}",
                server.base,
                op["client_id"].as_str().unwrap()
            ))
            .bearer_auth(token)
            .send()
            .unwrap(),
    );
    assert_eq!(page.status, 401);

    // RFC 7592 §2.2: an update replaces the metadata.
    let page = Page::read(
        server
            .http
            .put(uri)
            .bearer_auth(token)
            .json(&json!({
                "client_id": app.id,
                "client_name": "Agent 2",
                "redirect_uris": ["https://agent.example/cb2"],
                "token_endpoint_auth_method": "client_secret_basic",
                "grant_types": ["authorization_code"],
            }))
            .send()
            .unwrap(),
    );
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.json()["client_name"], "Agent 2");
    assert_eq!(page.json()["grant_types"], json!(["authorization_code"]));
    // A bad update changes nothing.
    let page = Page::read(
        server
            .http
            .put(uri)
            .bearer_auth(token)
            .json(&json!({"client_id": app.id, "redirect_uris": ["javascript:alert(1)"]}))
            .send()
            .unwrap(),
    );
    assert_eq!(page.status, 400);
    assert_eq!(page.json()["error"], "invalid_redirect_uri");
    assert_eq!(read(token).json()["client_name"], "Agent 2");

    // The secret still authenticates; after DELETE the client is `invalid_client`, so SDKs
    // register again (mcp-auth.md §4.6).
    let creds = (app.id.as_str(), app.secret.as_deref().unwrap());
    let cc = |server: &Server| {
        server.post_form(
            "/token",
            Some(creds),
            &[("grant_type", "refresh_token"), ("refresh_token", "grt_x")],
        )
    };
    assert_eq!(cc(&server).status(), 400, "authenticated: the grant fails");
    let page = Page::read(server.http.delete(uri).bearer_auth(token).send().unwrap());
    assert_eq!(page.status, 204);
    let gone = cc(&server);
    assert_eq!(gone.status(), 401);
    assert_eq!(gone.json::<Value>().unwrap()["error"], "invalid_client");
    assert_eq!(read(token).status, 401);
    // mcp-remote's preflight of the authorization URL, asking for JSON, is told
    // `invalid_client` so it registers again; a browser gets the page.
    let authorize = format!(
        "{}/authorize?response_type=code&client_id={}&redirect_uri=https://agent.example/cb2",
        server.base, app.id
    );
    let page = Page::read(
        server
            .http
            .get(&authorize)
            .header("accept", "application/json")
            .send()
            .unwrap(),
    );
    assert_eq!(page.status, 401, "{}", page.body);
    assert_eq!(page.json()["error"], "invalid_client");
    let page = Page::read(
        server
            .http
            .get(&authorize)
            .header("accept", "text/html,application/json;q=0.9")
            .send()
            .unwrap(),
    );
    assert_eq!(page.status, 400);
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    // The public client registered alongside is untouched.
    let page = other.post(
        &server,
        "/token",
        &[("grant_type", "refresh_token"), ("refresh_token", "grt_x")],
    );
    assert_eq!(page.status, 400, "{}", page.body);
}

#[test]
fn bad_registrations_are_refused_and_change_nothing() {
    let server = Server::start();
    let before = dynamic_count(&server);
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"redirect_uris": ["https://a.example/cb#f"], "token_endpoint_auth_method": "none"}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["http://evil.example/cb"], "token_endpoint_auth_method": "none"}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["javascript:alert(1)"], "token_endpoint_auth_method": "none"}),
            "invalid_redirect_uri",
        ),
        (
            json!({"token_endpoint_auth_method": "none"}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["http://127.0.0.1/cb"], "application_type": "web", "token_endpoint_auth_method": "none"}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": "https://a.example/cb"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "grant_types": ["client_credentials"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "private_key_jwt"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "client_id": "chosen"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "client_name": "\u{0}"}),
            "invalid_client_metadata",
        ),
        // A name that would pass for another on the consent page (a probe found these).
        (
            json!({"redirect_uris": ["https://a.example/cb"], "client_name": "Google\u{202e}elgooG"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "client_name": "Goo\u{200b}gle"}),
            "invalid_client_metadata",
        ),
        (json!(["not", "an", "object"]), "invalid_request"),
    ];
    for (body, code) in cases {
        let page = Page::read(post_json(&server, "/register", &body));
        assert_eq!(page.status, 400, "{body}: {}", page.body);
        assert_eq!(page.json()["error"], code, "{body}");
        assert!(page.json()["error_description"].is_string());
    }
    // Not JSON, or not declared as JSON.
    for (ct, body) in [
        ("application/json", "{"),
        ("application/x-www-form-urlencoded", "a=b"),
        ("text/plain", "{}"),
    ] {
        let page = Page::read(
            server
                .http
                .post(format!("{}/register", server.base))
                .header("content-type", ct)
                .body(body)
                .send()
                .unwrap(),
        );
        assert_eq!(page.status, 400, "{ct}");
        assert_eq!(page.json()["error"], "invalid_request");
    }
    // A member sent twice: which one counts would depend on the reader (a probe registered a
    // confidential client through a proxy that reads the first).
    let page = Page::read(
        server
            .http
            .post(format!("{}/register", server.base))
            .header("content-type", "application/json")
            .body(r#"{"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"none","token_endpoint_auth_method":"client_secret_basic"}"#)
            .send()
            .unwrap(),
    );
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(
        page.json()["error_description"]
            .as_str()
            .unwrap()
            .contains("more than once")
    );
    // An id that is not text: the same JSON 401 as any unknown client.
    let page = Page::read(
        server
            .http
            .get(format!("{}/register/%ff%fe", server.base))
            .bearer_auth("gmt_x")
            .send()
            .unwrap(),
    );
    assert_eq!(page.status, 401);
    assert_eq!(page.json()["error"], "invalid_token");
    // Huge: refused by the body limit, not read whole.
    let huge =
        json!({"redirect_uris": ["https://a.example/cb"], "client_name": "x".repeat(100_000)});
    assert_eq!(post_json(&server, "/register", &huge).status(), 400);
    assert_eq!(dynamic_count(&server), before, "nothing was registered");
}

#[test]
fn registration_is_limited_per_address_capped_and_can_require_a_token() {
    let token_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(token_file.path(), "iat-0123456789abcdef\n").unwrap();
    let path = token_file.path().display().to_string();
    let server = Server::start_with(&[
        ("GATEHOUSE_REGISTRATION__PER_ADDRESS_PER_HOUR", "2"),
        ("GATEHOUSE_REGISTRATION__MAX_CLIENTS", "3"),
        ("GATEHOUSE_REGISTRATION__INITIAL_ACCESS_TOKEN_FILE", &path),
    ]);
    let body =
        json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "none"});
    let send = |bearer: Option<&str>| {
        let mut req = server
            .http
            .post(format!("{}/register", server.base))
            .json(&body);
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        Page::read(req.send().unwrap())
    };
    for bad in [None, Some("wrong-token-0123456")] {
        let page = send(bad);
        assert_eq!(page.status, 401, "{}", page.body);
        assert_eq!(page.json()["error"], "invalid_token");
    }
    let good = Some("iat-0123456789abcdef");
    assert_eq!(send(good).status, 201);
    assert_eq!(send(good).status, 201);
    let page = send(good);
    assert_eq!(page.status, 429, "{}", page.body);
    assert!(page.header("retry-after").unwrap().parse::<u64>().unwrap() > 0);
    assert_eq!(dynamic_count(&server), 2);
    // The cap holds (a fresh server; every attempt, good or bad, takes one of the address's
    // registrations, so a burst of slow requests cannot slip past the limit).
    let server = Server::start_with(&[("GATEHOUSE_REGISTRATION__MAX_CLIENTS", "1")]);
    assert_eq!(
        Page::read(post_json(
            &server,
            "/register",
            &json!({"redirect_uris": []})
        ))
        .status,
        400
    );
    assert_eq!(
        Page::read(post_json(&server, "/register", &body)).status,
        201
    );
    let page = Page::read(post_json(&server, "/register", &body));
    assert_eq!(page.status, 503, "{}", page.body);
    assert_eq!(page.json()["error"], "temporarily_unavailable");
    assert_eq!(dynamic_count(&server), 1);
    // Closed registration: no endpoint, not advertised.
    let server = Server::start_with(&[("GATEHOUSE_REGISTRATION__ENABLED", "false")]);
    assert_eq!(post_json(&server, "/register", &body).status(), 404);
    let meta = server.get_json(&format!(
        "{}/.well-known/oauth-authorization-server",
        server.base
    ));
    assert!(meta.get("registration_endpoint").is_none());
}

/// A probe got 40 registrations through a limit of 3 with slow bodies and 50 through a cap of 5
/// with concurrent requests: both now hold under concurrency.
#[test]
fn the_limits_hold_under_concurrent_registrations() {
    let body =
        json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "none"});
    let burst = |server: &Server, n: usize| -> Vec<u16> {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..n)
                .map(|_| s.spawn(|| post_json(server, "/register", &body).status().as_u16()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    };
    let server = Server::start_with(&[("GATEHOUSE_REGISTRATION__PER_ADDRESS_PER_HOUR", "3")]);
    let statuses = burst(&server, 20);
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        17,
        "{statuses:?}"
    );
    assert_eq!(dynamic_count(&server), 3);
    let server = Server::start_with(&[
        ("GATEHOUSE_REGISTRATION__PER_ADDRESS_PER_HOUR", "1000"),
        ("GATEHOUSE_REGISTRATION__MAX_CLIENTS", "5"),
    ]);
    let statuses = burst(&server, 30);
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(dynamic_count(&server), 5);
}

/// A probe had a code sent silently to an https URI of a registered client after the person
/// consented while it showed a loopback one (or after RFC 7592 changed its redirect URIs): a
/// self-registered client's consent is asked every time.
#[test]
fn a_self_registered_client_is_asked_for_consent_every_time() {
    let setup = Setup::new();
    add_mcp_resource(&setup.server);
    let (app, answer) = registered(
        &setup.server,
        &json!({
            "client_name": "Two-faced",
            "redirect_uris": ["http://127.0.0.1:9999/cb", "https://evil.example/cb"],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
        }),
    );
    let mut browser = setup.browser();
    let request = app.request().with("resource", MCP).without("scope");
    browser.code(&app, &request);
    for redirect_uri in ["http://127.0.0.1:9999/cb", "https://evil.example/cb"] {
        let page = browser.authorize(
            &request
                .clone()
                .with("redirect_uri", redirect_uri)
                .with("prompt", "none"),
        );
        let params = page.redirect_params(redirect_uri);
        assert_eq!(params["error"], "consent_required", "{redirect_uri}");
        assert!(!params.contains_key("code"));
    }
    // After an update, too.
    let page = Page::read(
        setup
            .server
            .http
            .put(answer["registration_client_uri"].as_str().unwrap())
            .bearer_auth(answer["registration_access_token"].as_str().unwrap())
            .json(&json!({"client_id": app.id, "client_name": "Other",
                          "redirect_uris": ["https://evil.example/cb"],
                          "token_endpoint_auth_method": "none"}))
            .send()
            .unwrap(),
    );
    assert_eq!(page.status, 200, "{}", page.body);
    let page = browser.authorize(
        &request
            .with("redirect_uri", "https://evil.example/cb")
            .with("prompt", "none"),
    );
    assert_eq!(
        page.redirect_params("https://evil.example/cb")["error"],
        "consent_required"
    );
}
