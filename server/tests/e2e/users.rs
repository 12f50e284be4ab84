//! User accounts through the CLI (passwords on standard input, never in argv) and the admin
//! API: create, list, show, duplicate and bad names, new passwords, disable, enable, delete;
//! never a password hash in any answer.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

use crate::harness::{BIN, Server};

/// Runs the CLI against `server` with `stdin` as its standard input (a pipe, not a terminal).
fn cli_with_stdin(server: &Server, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .args(["--admin-url", server.admin_url().as_str()])
        .env_clear()
        .env("GATEHOUSE_DATA_DIR", server.data_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The CLI may exit before reading (a refused argument): a closed pipe is no failure here.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    child.wait_with_output().unwrap()
}

/// As [`cli_with_stdin`] with `--json`; panics on failure.
fn cli_json_with_stdin(server: &Server, args: &[&str], stdin: &str) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = cli_with_stdin(server, &all, stdin);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert_no_hash(&text);
    serde_json::from_str(&text).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Neither the hash nor any trace of it.
fn assert_no_hash(text: &str) {
    for trace in ["argon2", "$v=19", "password\""] {
        assert!(!text.contains(trace), "{trace} in {text}");
    }
}

/// The CLI's human output, which must succeed and show no hash.
fn human(server: &Server, args: &[&str]) -> String {
    let out = server.cli(args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_no_hash(&text);
    text
}

fn usernames(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect()
}

#[test]
fn user_lifecycle_through_the_cli() {
    let server = Server::start();
    let created = cli_json_with_stdin(
        &server,
        &[
            "user",
            "create",
            "Alice",
            "--name",
            "Alice Liddell",
            "--email",
            "alice@example.com",
            "--email-verified",
        ],
        "correct horse battery\n",
    );
    assert_eq!(created["username"], "alice", "usernames are case-folded");
    assert_eq!(created["name"], "Alice Liddell");
    assert_eq!(created["email"], "alice@example.com");
    assert_eq!(created["email_verified"], true);
    assert_eq!(created["disabled"], false);
    let id = created["user_id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 22, "128 random bits, base64url");
    assert!(created["created_at"].as_u64().unwrap() > 1_700_000_000);

    // Human output; a CRLF line and no display name.
    let out = cli_with_stdin(&server, &["user", "create", "bob"], "another horse\r\n");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("Created user \"bob\" (user id "), "{text}");

    let list = server.cli_json(&["user", "list"]);
    assert_eq!(usernames(&list), ["alice", "bob"]);
    assert_no_hash(&list.to_string());
    let table = human(&server, &["user", "list"]);
    assert!(table.starts_with("USERNAME"), "{table}");
    assert!(
        table.contains("alice@example.com (verified)") && table.contains("enabled"),
        "{table}"
    );

    let shown = server.cli_json(&["user", "show", "ALICE"]);
    assert_eq!(shown, created);
    assert_no_hash(&shown.to_string());
    let details = human(&server, &["user", "show", "alice"]);
    assert!(
        details.contains(&id) && details.contains("Alice Liddell"),
        "{details}"
    );

    // A new password: the user stays as they were.
    let changed = cli_json_with_stdin(&server, &["user", "passwd", "alice"], "a new horse!\n");
    assert_eq!(changed["username"], "alice");
    assert_eq!(changed["sessions_ended"], 0);
    assert_eq!(changed["refresh_token_families_revoked"], 0);
    assert_eq!(server.cli_json(&["user", "show", "alice"]), created);
    let out = cli_with_stdin(&server, &["user", "passwd", "alice"], "another pass\n");
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        text,
        "Changed the password of user alice: 0 sessions ended, 0 refresh-token families revoked\n"
    );

    let disabled = server.cli_json(&["user", "disable", "alice"]);
    assert_eq!(disabled["disabled"], true);
    assert_eq!(disabled["sessions_ended"], 0);
    assert_eq!(
        server.cli_json(&["user", "show", "alice"])["disabled"],
        true
    );
    assert!(human(&server, &["user", "list"]).contains("disabled"));
    let enabled = server.cli_json(&["user", "enable", "alice"]);
    assert_eq!(enabled["disabled"], false);
    assert_eq!(server.cli_json(&["user", "show", "alice"]), created);
    assert_eq!(
        human(&server, &["user", "disable", "bob"]),
        "Disabled user bob: 0 sessions ended, 0 refresh-token families revoked\n"
    );
    assert!(human(&server, &["user", "enable", "bob"]).starts_with("Enabled user bob"));

    let deleted = server.cli_json(&["user", "delete", "alice"]);
    assert_eq!(deleted["username"], "alice");
    assert_eq!(deleted["user_id"], id.as_str());
    assert_eq!(deleted["consents_forgotten"], 0);
    let out = server.cli(&["user", "show", "alice"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not_found"), "{}", stderr(&out));
    for args in [
        ["user", "delete", "alice"],
        ["user", "disable", "alice"],
        ["user", "enable", "alice"],
    ] {
        let out = server.cli(&args);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            stderr(&out).contains("not_found"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    let out = cli_with_stdin(&server, &["user", "passwd", "alice"], "whatever horse\n");
    assert!(stderr(&out).contains("not_found"), "{}", stderr(&out));
    assert_eq!(usernames(&server.cli_json(&["user", "list"])), ["bob"]);
    // The name is free again; the new account is another user.
    let again = cli_json_with_stdin(&server, &["user", "create", "alice"], "fresh horse\n");
    assert_ne!(again["user_id"], id.as_str());
}

#[test]
fn the_cli_takes_passwords_from_stdin_only_and_relays_refusals() {
    let server = Server::start();
    // No flag, no positional: a password can never land in argv (ps, shell history).
    for args in [
        vec!["user", "create", "carol", "--password", "correct horse"],
        vec!["user", "create", "carol", "correct horse"],
        vec!["user", "passwd", "carol", "--password", "correct horse"],
    ] {
        let out = cli_with_stdin(&server, &args, "correct horse\n");
        assert!(!out.status.success(), "{args:?}");
        assert!(
            stderr(&out).contains("unexpected argument"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    // Nothing on stdin (not a terminal): refused before anything is sent.
    for stdin in ["", "\n"] {
        let out = cli_with_stdin(&server, &["user", "create", "carol"], stdin);
        assert!(!out.status.success());
        assert!(
            stderr(&out).contains("password: none on standard input"),
            "{}",
            stderr(&out)
        );
    }
    assert_eq!(server.cli_json(&["user", "list"]), json!([]));

    // The server's rules, named by field.
    for (args, stdin, wanted) in [
        (
            ["user", "create", "a b"],
            "correct horse\n",
            "username: a username is 1 to 64",
        ),
        (
            ["user", "create", "carol"],
            "short\n",
            "password: a password is 8 to 1024",
        ),
    ] {
        let out = cli_with_stdin(&server, &args, stdin);
        assert!(!out.status.success());
        assert!(stderr(&out).contains(wanted), "{}", stderr(&out));
    }
    let out = cli_with_stdin(
        &server,
        &["user", "create", "carol", "--email", "not an address"],
        "correct horse\n",
    );
    assert!(stderr(&out).contains("email: "), "{}", stderr(&out));
    assert_eq!(server.cli_json(&["user", "list"]), json!([]));

    cli_json_with_stdin(&server, &["user", "create", "carol"], "correct horse\n");
    let out = cli_with_stdin(&server, &["user", "create", "CAROL"], "correct horse\n");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("conflict"), "{}", stderr(&out));
    let out = cli_with_stdin(&server, &["user", "passwd", "carol"], "short\n");
    assert!(stderr(&out).contains("password: "), "{}", stderr(&out));
    assert_eq!(usernames(&server.cli_json(&["user", "list"])), ["carol"]);
}

#[test]
fn the_admin_api_answers_each_user_route_by_the_rules() {
    let server = Server::start();
    let admin = server.admin_url();
    let token = server.admin_token();
    let send = |method: &str, path: &str, body: Option<Value>, auth: bool| -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = server.http.request(method, format!("{admin}{path}"));
        if auth {
            request = request.bearer_auth(&token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().unwrap();
        let status = response.status().as_u16();
        let text = response.text().unwrap();
        assert_no_hash(&text);
        (
            status,
            serde_json::from_str::<Value>(&text).unwrap_or_default(),
        )
    };
    let new_user = json!({"username": "dave", "password": "correct horse"});
    let routes = [
        ("POST", "/admin/users", Some(new_user.clone())),
        ("GET", "/admin/users", None),
        ("GET", "/admin/users/dave", None),
        ("DELETE", "/admin/users/dave", None),
        (
            "POST",
            "/admin/users/dave/password",
            Some(json!({"password": "correct horse"})),
        ),
        ("POST", "/admin/users/dave/disable", None),
        ("POST", "/admin/users/dave/enable", None),
    ];
    for (method, path, body) in &routes {
        let (status, answer) = send(method, path, body.clone(), false);
        assert_eq!(
            (status, answer["error"].as_str()),
            (401, Some("invalid_token")),
            "{method} {path}"
        );
    }
    // Nothing was created by the refused calls.
    assert_eq!(send("GET", "/admin/users", None, true), (200, json!([])));
    for (method, path, body) in &routes[2..] {
        let (status, answer) = send(method, path, body.clone(), true);
        assert_eq!(
            (status, answer["error"].as_str()),
            (404, Some("not_found")),
            "{method} {path}"
        );
    }

    let (status, created) = send("POST", "/admin/users", Some(new_user.clone()), true);
    assert_eq!(status, 201);
    assert_eq!(created["username"], "dave");
    assert_eq!(created["name"], Value::Null);
    let (status, answer) = send("POST", "/admin/users", Some(new_user), true);
    assert_eq!((status, answer["error"].as_str()), (409, Some("conflict")));

    for (body, field) in [
        (
            json!({"username": "", "password": "correct horse"}),
            "username: ",
        ),
        (
            json!({"username": "e\u{7}", "password": "correct horse"}),
            "username: ",
        ),
        (
            json!({"username": "x".repeat(65), "password": "correct horse"}),
            "username: ",
        ),
        (
            json!({"username": "erin", "password": "1234567"}),
            "password: ",
        ),
        (
            json!({"username": "erin", "password": "x".repeat(1025)}),
            "password: ",
        ),
        (
            json!({"username": "erin", "password": "correct horse", "name": "a\nb"}),
            "name: ",
        ),
        (
            json!({"username": "erin", "password": "correct horse", "email": "erin"}),
            "email: ",
        ),
        (
            json!({"username": "erin", "password": "correct horse", "email_verified": true}),
            "email_verified: ",
        ),
        (
            json!({"username": "erin", "password": "correct horse", "admin": true}),
            "admin",
        ),
        (json!({"username": "erin"}), "password"),
    ] {
        let (status, answer) = send("POST", "/admin/users", Some(body.clone()), true);
        assert_eq!(
            (status, answer["error"].as_str()),
            (400, Some("invalid_request")),
            "{body}"
        );
        let description = answer["error_description"].as_str().unwrap();
        assert!(description.contains(field), "{body}: {description}");
    }
    let (status, answer) = send(
        "POST",
        "/admin/users/dave/password",
        Some(json!({"password": "short"})),
        true,
    );
    assert_eq!(status, 400);
    assert!(
        answer["error_description"]
            .as_str()
            .unwrap()
            .starts_with("password: ")
    );
    let (status, list) = send("GET", "/admin/users", None, true);
    assert_eq!((status, usernames(&list)), (200, vec!["dave"]));

    // A path that cannot be a username names nobody.
    let (status, _) = send("GET", "/admin/users/a%20b", None, true);
    assert_eq!(status, 404);

    let (status, deleted) = send("DELETE", "/admin/users/DAVE", None, true);
    assert_eq!(status, 200);
    assert_eq!(deleted["user_id"], created["user_id"]);
    assert_eq!(send("GET", "/admin/users", None, true), (200, json!([])));
}

#[test]
fn public_clients_with_redirect_uris_from_the_cli() {
    let server = Server::start();
    let created = server.cli_json(&[
        "client",
        "create",
        "--name",
        "desktop app",
        "--public",
        "--redirect-uri",
        "http://127.0.0.1/callback",
        "--redirect-uri",
        "https://app.example.com/cb",
        "--resource",
        "https://rs.example/api",
    ]);
    assert!(created.get("client_secret").is_none(), "{created}");
    assert_eq!(created["token_endpoint_auth_method"], "none");
    assert_eq!(
        created["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    let id = created["client_id"].as_str().unwrap();
    let shown = server.cli_json(&["client", "show", id]);
    assert_eq!(shown["token_endpoint_auth_method"], "none");
    if let Some(uris) = shown.get("redirect_uris") {
        assert_eq!(
            uris,
            &json!(["http://127.0.0.1/callback", "https://app.example.com/cb"])
        );
    }
    let out = server.cli(&[
        "client",
        "create",
        "--name",
        "shy app",
        "--public",
        "--redirect-uri",
        "https://app.example.com/cb",
        "--resource",
        "https://rs.example/api",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("a public client: no secret"), "{text}");

    // A confidential client with the code flow, by explicit grant types.
    let created = server.cli_json(&[
        "client",
        "create",
        "--name",
        "web app",
        "--grant-type",
        "authorization_code",
        "--grant-type",
        "refresh_token",
        "--redirect-uri",
        "https://web.example.com/cb",
        "--resource",
        "https://rs.example/api",
    ]);
    assert!(
        created["client_secret"]
            .as_str()
            .unwrap()
            .starts_with("gcs_")
    );
    assert_eq!(created["token_endpoint_auth_method"], "client_secret_basic");

    // Refusals name their field.
    for (args, field) in [
        (
            vec!["--public", "--grant-type", "client_credentials"],
            "grant_types",
        ),
        (vec!["--grant-type", "authorization_code"], "redirect_uris"),
        (
            vec!["--public", "--redirect-uri", "not a uri"],
            "redirect_uris",
        ),
    ] {
        let mut all = vec![
            "client",
            "create",
            "--name",
            "x",
            "--resource",
            "https://rs.example/api",
        ];
        all.extend(args);
        let out = server.cli(&all);
        assert!(!out.status.success(), "{all:?}");
        assert!(stderr(&out).contains(field), "{all:?}: {}", stderr(&out));
    }
}
