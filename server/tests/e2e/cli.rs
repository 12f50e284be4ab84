//! The CLI against a running server, and the refusals a newcomer may meet.

use std::os::unix::fs::PermissionsExt;

use crate::harness::{BIN, Server, jwt_parts};

#[test]
fn client_create_list_show_delete() {
    let server = Server::start();
    let created = server.cli_json(&[
        "client",
        "create",
        "--name",
        "billing",
        "--grant-type",
        "client_credentials",
        "--scope",
        "read write",
        "--resource",
        "https://api.example.com/",
        "--access-token-lifetime",
        "300",
        "--token-format",
        "opaque",
    ]);
    let id = created["client_id"].as_str().unwrap().to_owned();
    assert!(
        created["client_secret"]
            .as_str()
            .unwrap()
            .starts_with("gcs_")
    );
    assert_eq!(
        created["resources"],
        serde_json::json!(["https://api.example.com"])
    );
    assert_eq!(created["access_token_lifetime"], 300);
    assert_eq!(created["token_format"], "opaque");

    let shown = server.cli_json(&["client", "show", &id]);
    assert_eq!(shown["name"], "billing");
    assert!(
        shown.get("client_secret").is_none(),
        "the secret is shown only once"
    );
    let listed = server.cli_json(&["client", "list"]);
    assert_eq!(listed.as_array().unwrap().len(), 1);

    let human = server.cli(&["client", "list"]);
    let text = String::from_utf8(human.stdout).unwrap();
    assert!(
        text.starts_with("CLIENT ID") && text.contains("billing"),
        "{text}"
    );

    server.cli_json(&["client", "delete", &id]);
    let out = server.cli(&["client", "show", &id]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not_found"));
    // A deleted client can no longer authenticate.
    let secret = created["client_secret"].as_str().unwrap();
    let r = server.post_form(
        "/token",
        Some((&id, secret)),
        &[("grant_type", "client_credentials")],
    );
    assert_eq!(r.status(), 401);
}

#[test]
fn client_create_refuses_bad_fields_by_name() {
    let server = Server::start();
    for (args, field) in [
        (vec!["--resource", "not a uri"], "resources"),
        (
            vec!["--resource", "https://a.example", "--scope", "a\"b"],
            "scope",
        ),
        (
            vec![
                "--resource",
                "https://a.example",
                "--grant-type",
                "password",
            ],
            "grant_types",
        ),
        (
            vec![
                "--resource",
                "https://a.example",
                "--access-token-lifetime",
                "90d",
            ],
            "access_token_lifetime",
        ),
    ] {
        let mut all = vec!["client", "create", "--name", "x"];
        all.extend(args);
        let out = server.cli(&all);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(field), "{field}: {err}");
    }
    assert_eq!(server.cli_json(&["client", "list"]), serde_json::json!([]));
}

#[test]
fn key_rotation_keeps_old_tokens_valid() {
    let server = Server::start();
    let (id, secret) = server.client(&[]);
    let before = server.token((&id, &secret), &[]);
    let old_kid = jwt_parts(&before).0["kid"].as_str().unwrap().to_owned();

    let rotated = server.cli_json(&["keys", "rotate"]);
    let new_kid = rotated["kid"].as_str().unwrap().to_owned();
    assert_ne!(new_kid, old_kid);
    assert_eq!(rotated["state"], "active");

    let after = server.token((&id, &secret), &[]);
    assert_eq!(jwt_parts(&after).0["kid"], new_kid.as_str());
    assert!(server.is_active(&before), "signed by the retired key");
    assert!(server.is_active(&after));

    let keys = server.cli_json(&["keys", "list"]);
    let states: Vec<(&str, &str)> = keys
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["kid"].as_str().unwrap(), k["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        states,
        [(new_kid.as_str(), "active"), (old_kid.as_str(), "retired")]
    );
    assert!(keys[1]["publish_until"].as_u64().unwrap() > keys[1]["retired_at"].as_u64().unwrap());
    assert_eq!(server.jwks_kids(), [new_kid, old_kid]);
}

#[test]
fn admin_api_needs_the_admin_token_kept_owner_only() {
    let server = Server::start();
    let token_file = server.data_dir().join("admin-token");
    let mode = std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let dir_mode = std::fs::metadata(server.data_dir())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(dir_mode, 0o700);
    let admin = server.cli_json(&["keys", "list"]);
    assert_eq!(admin.as_array().unwrap().len(), 1);
    let listen = server.cli(&["--help"]); // the CLI itself runs without a server
    assert!(listen.status.success());
    let admin_url = std::fs::read_to_string(server.dir.path().join("stdout.log")).unwrap();
    let admin_addr = admin_url
        .rsplit("http://")
        .next()
        .unwrap()
        .trim()
        .to_owned();
    let r = server
        .http
        .get(format!("http://{admin_addr}/admin/clients"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = server
        .http
        .get(format!("http://{admin_addr}/admin/clients"))
        .bearer_auth("not-the-token")
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    let token = std::fs::read_to_string(&token_file).unwrap();
    let r = server
        .http
        .get(format!("http://{admin_addr}/admin/clients"))
        .bearer_auth(token.trim())
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[test]
fn cli_without_a_server_says_so() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("admin-token"), "x".repeat(43)).unwrap();
    let port = crate::harness::free_port();
    let out = std::process::Command::new(BIN)
        .args(["client", "list"])
        .env_clear()
        .env("GATEHOUSE_DATA_DIR", dir.path())
        .env("GATEHOUSE_ADMIN__LISTEN", format!("127.0.0.1:{port}"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot reach the admin API") && err.contains("gatehouse serve"),
        "{err}"
    );
}

#[test]
fn a_bad_config_is_refused_at_start_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "issuer = \"https://auth.example.com/\"\n",
            "issuer",
            "trailing slash",
        ),
        (
            "[tokens]\naccess_token_lifetime = 0\n",
            "tokens.access_token_lifetime",
            "1s to 30d",
        ),
        (
            "[signing]\nalgorithm = \"none\"\n",
            "signing.algorithm",
            "unsupported",
        ),
        ("listen = \"8080\"\n", "listen", "127.0.0.1:8080"),
        ("lissen = \"127.0.0.1:8080\"\n", "lissen", "expected one of"),
    ];
    for (toml, field, hint) in cases {
        let file = dir.path().join("gatehouse.toml");
        std::fs::write(&file, toml).unwrap();
        let out = std::process::Command::new(BIN)
            .args(["serve", "--config"])
            .arg(&file)
            .env_clear()
            .env("GATEHOUSE_DATA_DIR", dir.path().join("data"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{toml}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("`{field}`")) && err.contains(hint),
            "{toml}: {err}"
        );
    }
    assert!(!dir.path().join("data").exists(), "nothing was created");
}

/// Issue 8, item 4: deleting a client ends every token issued to it, at once and across a
/// restart, and drops its stored opaque tokens; other clients' tokens are untouched.
#[test]
fn deleting_a_client_ends_its_tokens_at_once_and_for_good() {
    let mut server = Server::start();
    let (a, a_secret) = server.client(&[]);
    let (oa, oa_secret) = server.client(&["--token-format", "opaque"]);
    let (b, b_secret) = server.client(&[]);
    let jwt = server.token((&a, &a_secret), &[]);
    let opaque = server.token((&oa, &oa_secret), &[]);
    let other = server.token((&b, &b_secret), &[]);
    for t in [&jwt, &opaque, &other] {
        assert!(
            server.is_active(t),
            "validated (and cached) before the deletion"
        );
    }
    server.cli_json(&["client", "delete", &a]);
    let deleted = server.cli_json(&["client", "delete", &oa]);
    assert_eq!(deleted["opaque_tokens_deleted"], 1);
    assert!(!server.is_active(&jwt), "JWT of a deleted client");
    assert!(
        !server.is_active(&opaque),
        "opaque token of a deleted client"
    );
    assert!(server.is_active(&other));
    server.restart();
    assert!(
        !server.is_active(&jwt) && !server.is_active(&opaque),
        "after a restart"
    );
    assert!(server.is_active(&other));
    let human = server.cli(&["client", "delete", &b]);
    let text = String::from_utf8(human.stdout).unwrap();
    assert!(text.contains("inactive"), "{text}");
}

/// Issue 8, item 6: the CLI talks to the admin API directly, never through a proxy named in
/// the environment (it would see the admin token and new client secrets).
#[test]
fn the_cli_never_sends_the_admin_token_through_a_proxy() {
    let server = Server::start();
    let proxy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    proxy.set_nonblocking(true).unwrap();
    let out = std::process::Command::new(BIN)
        .args(["client", "list", "--json"])
        .env_clear()
        .env("GATEHOUSE_DATA_DIR", server.data_dir())
        .env(
            "GATEHOUSE_ADMIN__LISTEN",
            server.admin_url().trim_start_matches("http://"),
        )
        .env("GATEHOUSE_LISTEN", server.addr())
        .env("HTTP_PROXY", &proxy_url)
        .env("http_proxy", &proxy_url)
        .env("ALL_PROXY", &proxy_url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let through_proxy = proxy.accept();
    assert!(
        matches!(&through_proxy, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the CLI connected to the proxy"
    );
}

/// Issue 8, item 10: an admin request with an unknown member is refused naming it (a typo must
/// not silently give a default), and the Bearer scheme is case-insensitive (RFC 7235 §2.1).
#[test]
fn the_admin_api_refuses_unknown_members_and_reads_any_bearer_case() {
    let server = Server::start();
    let post = |path: &str, scheme: &str, body: serde_json::Value| {
        server
            .http
            .post(format!("{}{path}", server.admin_url()))
            .header(
                "authorization",
                format!("{scheme} {}", server.admin_token()),
            )
            .json(&body)
            .send()
            .unwrap()
    };
    let r = post(
        "/admin/clients",
        "Bearer",
        serde_json::json!({"name": "x", "grant_types": ["client_credentials"],
            "resources": ["https://rs.example"], "acess_token_lifetime": 60}),
    );
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().unwrap();
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("acess_token_lifetime"),
        "{body}"
    );
    let r = post(
        "/admin/revocations",
        "Bearer",
        serde_json::json!([{"jti": "j", "exp": 4_000_000_000u64, "expires": 1}]),
    );
    assert_eq!(r.status(), 400);
    assert!(r.text().unwrap().contains("expires"));
    assert!(
        server
            .cli_json(&["client", "list"])
            .as_array()
            .unwrap()
            .is_empty()
    );
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let r = post(
            "/admin/clients",
            scheme,
            serde_json::json!({"name": "x", "grant_types": ["client_credentials"],
                "resources": ["https://rs.example"]}),
        );
        assert_eq!(r.status(), 201, "{scheme}");
    }
}

/// Issue 8, item 9: the database is created owner-only; a data directory Gatehouse did not
/// create keeps its permissions (with a warning), its files stay owner-only.
#[test]
fn the_database_is_owner_only_and_foreign_directories_keep_their_mode() {
    let mut server = Server::start();
    let db = server.data_dir().join("gatehouse.redb");
    let token = server.data_dir().join("admin-token");
    let mode = |f: &std::path::Path| std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&db), 0o600);
    // Files an operator opened up are owner-only again after a restart.
    for file in [&db, &token] {
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    server.restart();
    for file in [&db, &token] {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
    drop(server);

    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755)).unwrap();
    let server = Server::start_with(&[
        ("GATEHOUSE_DATA_DIR", shared.to_str().unwrap()),
        ("GATEHOUSE_LOG", "warn"),
    ]);
    assert_eq!(
        std::fs::metadata(&shared).unwrap().permissions().mode() & 0o777,
        0o755,
        "not changed"
    );
    for file in ["gatehouse.redb", "admin-token"] {
        let mode = std::fs::metadata(shared.join(file))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{file}");
    }
    assert!(
        server.stderr().contains("open to other users"),
        "{}",
        server.stderr()
    );
}

/// A reader that closes the pipe early (`| head`) makes the CLI report it, not panic.
#[test]
fn a_closed_stdout_is_reported_not_a_panic() {
    let server = Server::start();
    for _ in 0..3 {
        server.client(&[]);
    }
    let mut child = std::process::Command::new(BIN)
        .args(["client", "list", "--json"])
        .env_clear()
        .env("GATEHOUSE_DATA_DIR", server.data_dir())
        .env(
            "GATEHOUSE_ADMIN__LISTEN",
            server.admin_url().trim_start_matches("http://"),
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot write the answer"), "{err}");
}

/// Two `Authorization` headers are 400 whichever comes first, as on the public endpoints (a
/// probe found the first one counted).
#[test]
fn the_admin_api_refuses_two_authorization_headers() {
    let server = Server::start();
    let good = format!("Bearer {}", server.admin_token());
    for pair in [[good.as_str(), "Bearer x"], ["Bearer x", good.as_str()]] {
        let r = server
            .http
            .get(format!("{}/admin/status", server.admin_url()))
            .header("authorization", pair[0])
            .header("authorization", pair[1])
            .send()
            .unwrap();
        assert_eq!(r.status(), 400, "{pair:?}");
        let body: serde_json::Value = r.json().unwrap();
        assert_eq!(body["error"], "invalid_request", "{body}");
    }
}

/// An admin body over the limit is 413, not 400.
#[test]
fn an_oversized_admin_body_is_413() {
    let server = Server::start();
    let r = server
        .http
        .post(format!("{}/admin/revocations", server.admin_url()))
        .bearer_auth(server.admin_token())
        .header("content-type", "application/json")
        .body(vec![b' '; 9 * 1024 * 1024])
        .send()
        .unwrap();
    assert_eq!(r.status(), 413);
}
