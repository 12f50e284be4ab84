//! The sample against a real Gatehouse: a `gatehouse serve` child process (built first with
//! `cargo build -p gatehouse-server`), the web client in-process, and a cookie-keeping HTTP
//! client playing the browser: it follows redirects by hand across both servers, signs in and
//! approves on Gatehouse's pages, and reads the web client's pages.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use openidconnect::{ClientSecret, IssuerUrl};
use reqwest::header::LOCATION;
use reqwest::{StatusCode, Url};
use serde_json::{Value, json};
use web_client::Config;

const USERNAME: &str = "alice";
const PASSWORD: &str = "correct horse battery";
const RESOURCE: &str = "https://notes.example/mcp";

#[tokio::test(flavor = "multi_thread")]
async fn public_client_signs_in_and_out() {
    signs_in_and_out(false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn confidential_client_signs_in_and_out() {
    signs_in_and_out(true).await;
}

async fn signs_in_and_out(confidential: bool) {
    let gatehouse = Gatehouse::start().await;
    let user = gatehouse
        .admin(
            "/admin/users",
            json!({"username": USERNAME, "password": PASSWORD, "name": "Alice Liddell",
                   "email": "alice@example.com", "email_verified": true}),
        )
        .await;
    let web = start_web_client(&gatehouse, confidential).await;
    let browser = Browser::new();

    let page = browser.browse(web.clone(), None).await;
    assert!(
        page.body.contains("Sign in with Gatehouse"),
        "{}",
        page.body
    );

    // /login → Gatehouse: sign in, approve → /callback → /.
    let page = browser.browse(web.join("login").unwrap(), None).await;
    assert_eq!((page.status, &page.url), (StatusCode::OK, &web));
    let sub = user["user_id"].as_str().unwrap();
    for shown in [sub, "alice", "Alice Liddell", "alice@example.com"] {
        assert!(page.body.contains(shown), "{shown} in {}", page.body);
    }
    let userinfo = "&quot;email&quot;: &quot;alice@example.com&quot;";
    assert!(page.body.contains(userinfo), "{}", page.body);

    // /logout → Gatehouse's end_session_endpoint with the ID token as hint → / with `state`.
    let end_session = format!("{}/logout?", gatehouse.issuer);
    let logout = browser
        .browse(web.join("logout").unwrap(), Some(&end_session))
        .await;
    let params: Vec<String> = logout.url.query_pairs().map(|(k, _)| k.into()).collect();
    for param in ["id_token_hint", "post_logout_redirect_uri", "state"] {
        assert!(
            params.iter().any(|p| p == param),
            "{param} in {}",
            logout.url
        );
    }
    let page = browser.browse(logout.url, None).await;
    assert_eq!(page.url.path(), "/");
    assert!(
        page.body.contains("You have signed out of Gatehouse."),
        "{}",
        page.body
    );
    let page = browser.browse(web.clone(), None).await;
    assert!(
        page.body.contains("Sign in with Gatehouse"),
        "{}",
        page.body
    );

    // An answer whose `state` or `iss` was changed is refused, and the sign-in is spent.
    let callback = web.join("callback").unwrap();
    for (name, value, reason) in [
        (
            "state",
            "tampered",
            "the state in the answer is not the one",
        ),
        ("iss", "http://127.0.0.1:1", "not the issuer (RFC 9207)"),
    ] {
        let answer = browser
            .browse(web.join("login").unwrap(), Some(callback.as_str()))
            .await
            .url;
        let page = browser.browse(with_param(&answer, name, value), None).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
        assert!(page.body.contains(reason), "{}", page.body);
        let page = browser.browse(answer, None).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
        assert!(
            page.body.contains("no sign-in is in progress"),
            "{}",
            page.body
        );
    }
}

/// `url` with the query parameter `name` set to `value`.
fn with_param(url: &Url, name: &str, value: &str) -> Url {
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let mut url = url.clone();
    let mut query = url.query_pairs_mut();
    query.clear();
    for (k, v) in pairs {
        query.append_pair(&k, if k == name { value } else { &v });
    }
    drop(query);
    url
}

/// Registers the web client at Gatehouse and serves it on a free port; its URL.
async fn start_web_client(gatehouse: &Gatehouse, confidential: bool) -> Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    let auth_method = if confidential {
        "client_secret_basic"
    } else {
        "none"
    };
    let client = gatehouse
        .admin(
            "/admin/clients",
            json!({
                "name": "Web client",
                "grant_types": ["authorization_code"],
                "token_endpoint_auth_method": auth_method,
                "scope": "openid profile email",
                "resources": [RESOURCE],
                "redirect_uris": [url.join("callback").unwrap()],
                "post_logout_redirect_uris": [url],
            }),
        )
        .await;
    let config = Config {
        issuer: IssuerUrl::new(gatehouse.issuer.clone()).unwrap(),
        client_id: client["client_id"].as_str().unwrap().to_owned(),
        client_secret: client["client_secret"]
            .as_str()
            .map(|s| ClientSecret::new(s.to_owned())),
        listen: listener.local_addr().unwrap(),
        resource: RESOURCE.to_owned(),
    };
    assert_eq!(config.client_secret.is_some(), confidential);
    tokio::spawn(axum::serve(listener, web_client::router(config)).into_future());
    url
}

/// What the browser ended on.
struct Page {
    url: Url,
    status: StatusCode,
    body: String,
}

/// A browser: keeps cookies, follows redirects itself, and does what a person would on
/// Gatehouse's pages.
struct Browser {
    http: reqwest::Client,
}

impl Browser {
    fn new() -> Self {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self { http }
    }

    /// Opens `url` and follows redirects, signing in and approving when asked, until a page that
    /// asks nothing; or until a redirect to a URL starting with `stop_before`, which it returns
    /// (not loaded, with the redirect's status).
    async fn browse(&self, mut url: Url, stop_before: Option<&str>) -> Page {
        let mut request = self.http.get(url.clone());
        for _ in 0..20 {
            let response = request.send().await.unwrap();
            let status = response.status();
            if status.is_redirection() {
                let location = response.headers()[LOCATION].to_str().unwrap();
                url = url.join(location).unwrap();
                if stop_before.is_some_and(|prefix| url.as_str().starts_with(prefix)) {
                    let body = String::new();
                    return Page { url, status, body };
                }
                request = self.http.get(url.clone());
                continue;
            }
            let body = response.text().await.unwrap();
            let answer = if body.contains(r#"id="sign-in""#) {
                [("username", USERNAME), ("password", PASSWORD)].as_slice()
            } else if body.contains(r#"id="approve""#) {
                &[("decision", "approve")]
            } else {
                return Page { url, status, body };
            };
            // Gatehouse's forms carry the request and a CSRF token in hidden fields.
            let mut form = vec![
                (
                    "request",
                    unescape(attribute(&body, r#"name="request" value=""#)),
                ),
                ("csrf", unescape(attribute(&body, r#"name="csrf" value=""#))),
            ];
            form.extend(answer.iter().map(|&(k, v)| (k, v.to_owned())));
            url = url
                .join(&unescape(attribute(
                    &body,
                    r#"<form method="post" action=""#,
                )))
                .unwrap();
            request = self.http.post(url.clone()).form(&form);
        }
        panic!("more than 20 steps; last at {url}");
    }
}

/// The attribute value that follows `prefix` (which ends with its opening quote).
fn attribute<'a>(html: &'a str, prefix: &str) -> &'a str {
    let start = html
        .find(prefix)
        .unwrap_or_else(|| panic!("{prefix} in {html}"))
        + prefix.len();
    let len = html[start..].find('"').unwrap();
    &html[start..start + len]
}

/// HTML character references decoded (the few an HTML escaper writes).
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let end = rest[at..].find(';').unwrap() + at;
        let name = &rest[at + 1..end];
        let c = match name {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = match name.strip_prefix("#x").or(name.strip_prefix("#X")) {
                    Some(hex) => u32::from_str_radix(hex, 16),
                    None => name.trim_start_matches('#').parse(),
                };
                char::from_u32(code.unwrap()).unwrap()
            }
        };
        out.push(c);
        rest = &rest[end + 1..];
    }
    out + rest
}

/// The `gatehouse` binary, built once per test run into the target directory of this test.
fn gatehouse_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        // This test runs as <target>/debug/deps/flow-<hash>.
        let exe = std::env::current_exe().unwrap();
        let target = exe.ancestors().nth(3).unwrap();
        let built = Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "-p",
                "gatehouse-server",
                "--bin",
                "gatehouse",
            ])
            .arg("--target-dir")
            .arg(target)
            .status();
        assert!(
            built.is_ok_and(|s| s.success()),
            "could not build the gatehouse binary; run `cargo build -p gatehouse-server` to see why"
        );
        let bin = target
            .join("debug")
            .join(format!("gatehouse{}", std::env::consts::EXE_SUFFIX));
        assert!(bin.exists(), "no gatehouse binary at {}", bin.display());
        bin
    })
}

/// A free loopback address (bound, then released for the server to take).
fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// A `gatehouse serve` with its own data directory, on free ports; killed when dropped.
struct Gatehouse {
    child: Child,
    dir: tempfile::TempDir,
    issuer: String,
    admin: String,
    http: reqwest::Client,
}

impl Gatehouse {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (listen, admin) = (free_addr(), free_addr());
        let issuer = format!("http://{listen}");
        let log = |name: &str| Stdio::from(std::fs::File::create(dir.path().join(name)).unwrap());
        let child = Command::new(gatehouse_bin())
            .arg("serve")
            .env_clear()
            .env("GATEHOUSE_ISSUER", &issuer)
            .env("GATEHOUSE_LISTEN", listen.to_string())
            .env("GATEHOUSE_ADMIN__LISTEN", admin.to_string())
            .env("GATEHOUSE_DATA_DIR", dir.path().join("data"))
            .env("GATEHOUSE_LOG", "warn")
            .stdout(log("stdout.log"))
            .stderr(log("stderr.log"))
            .spawn()
            .unwrap();
        let mut gatehouse = Self {
            child,
            dir,
            issuer,
            admin: format!("http://{admin}"),
            http: reqwest::Client::new(),
        };
        gatehouse.wait_ready().await;
        gatehouse
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let ready = format!("{}/ready", self.issuer);
        loop {
            if let Ok(r) = self.http.get(&ready).send().await {
                if r.status() == StatusCode::OK {
                    return;
                }
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("gatehouse exited with {status}: {}", self.stderr());
            }
            assert!(Instant::now() < deadline, "not ready: {}", self.stderr());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    /// POSTs `body` to the admin API; the created object.
    async fn admin(&self, path: &str, body: Value) -> Value {
        let token = std::fs::read_to_string(self.dir.path().join("data/admin-token")).unwrap();
        let response = self
            .http
            .post(format!("{}{path}", self.admin))
            .bearer_auth(token.trim())
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED, "{path}");
        response.json().await.unwrap()
    }
}

impl Drop for Gatehouse {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
