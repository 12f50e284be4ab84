//! The authorization code flow in a real browser, with a real third-party client: the `oauth2`
//! crate builds the authorization URL (PKCE S256, a CSRF `state`) and exchanges the code;
//! `server/tests/browser/drive.mjs` (Playwright's `playwright-core` driving Debian's headless
//! Chromium) signs in on the pages as a person would and reports the redirect the browser was
//! finally sent to, where the test listens.
//!
//! Needs Node.js, `/usr/bin/chromium` and `npm ci` in `server/tests/browser` (`scripts/test`
//! installs all three); without them these tests fail, saying what to install. Every page shown
//! is saved as a full-page screenshot in `<target dir>/browser-artifacts/`, named
//! `<scenario>-<n>-<page>.png`.

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};

use oauth2::basic::{BasicClient, BasicTokenResponse, BasicTokenType};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse, TokenUrl,
};
use serde_json::{Value, json};

use crate::harness::{Server, jwt_parts};

const CLIENT_NAME: &str = "Demo";
const SCOPE: &str = "read";
const RESOURCE: &str = "https://mcp.example";
const USERNAME: &str = "alice";
const PASSWORD: &str = "correct horse battery";

/// The client as the `oauth2` crate knows it: authorization and token endpoints set.
type OAuthClient =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// The two kinds of client a person meets in the browser.
#[derive(Clone, Copy)]
enum Kind {
    /// A public client (`token_endpoint_auth_method` `none`) on a loopback redirect URI: its
    /// identity cannot be proven, so it is asked to consent every time (OAuth 2.1 §7.3.1).
    NativeApp,
    /// A confidential client (`client_secret_basic`): a remembered consent is honoured.
    WebApp,
}

/// A server with one client and one user.
struct Fixture {
    server: Server,
    client_id: String,
    client_secret: Option<String>,
    user_id: String,
    /// The registered `http://127.0.0.1/callback` on the port of [`callback_listener`]:
    /// loopback redirect URIs match on any port (RFC 8252 §7.3).
    redirect_uri: String,
}

/// One authorization request, and what the client keeps to check and redeem its answer.
struct Authorization {
    url: String,
    state: CsrfToken,
    verifier: PkceCodeVerifier,
}

impl Fixture {
    fn new(kind: Kind) -> Self {
        let server = Server::start();
        let auth_method = match kind {
            Kind::NativeApp => "none",
            Kind::WebApp => "client_secret_basic",
        };
        let client = admin_post(
            &server,
            "/admin/clients",
            &json!({
                "name": CLIENT_NAME,
                "grant_types": ["authorization_code", "refresh_token"],
                "token_endpoint_auth_method": auth_method,
                "redirect_uris": ["http://127.0.0.1/callback"],
                "scope": SCOPE,
                "resources": [RESOURCE],
            }),
        );
        let user = admin_post(
            &server,
            "/admin/users",
            &json!({"username": USERNAME, "password": PASSWORD}),
        );
        Self {
            client_id: client["client_id"].as_str().unwrap().to_owned(),
            client_secret: client["client_secret"].as_str().map(str::to_owned),
            user_id: user["user_id"].as_str().unwrap().to_owned(),
            redirect_uri: format!("http://127.0.0.1:{}/callback", callback_listener()),
            server,
        }
    }

    /// The client in the `oauth2` crate; a web app authenticates with `client_secret_basic`.
    fn oauth(&self) -> OAuthClient {
        let client = BasicClient::new(ClientId::new(self.client_id.clone()))
            .set_auth_uri(AuthUrl::new(format!("{}/authorize", self.server.base)).unwrap())
            .set_token_uri(TokenUrl::new(format!("{}/token", self.server.base)).unwrap())
            .set_redirect_uri(RedirectUrl::new(self.redirect_uri.clone()).unwrap());
        match &self.client_secret {
            Some(secret) => client.set_client_secret(ClientSecret::new(secret.clone())),
            None => client,
        }
    }

    /// A fresh authorization request with PKCE S256 and a random `state`, plus `extra`
    /// parameters.
    fn authorization(&self, extra: &[(&str, &str)]) -> Authorization {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let client = self.oauth();
        let mut request = client
            .authorize_url(CsrfToken::new_random)
            .add_scope(Scope::new(SCOPE.into()))
            .add_extra_param("resource", RESOURCE)
            .set_pkce_challenge(challenge);
        for (name, value) in extra {
            request = request.add_extra_param(*name, *value);
        }
        let (url, state) = request.url();
        Authorization {
            url: url.to_string(),
            state,
            verifier,
        }
    }

    /// Runs the browser through `flows` (authorizations in one browser context, each with the
    /// pages a person goes through), optionally framing `frame`; the driver's report.
    fn drive(
        &self,
        scenario: &str,
        flows: &[(&Authorization, Value)],
        frame: Option<&str>,
    ) -> Value {
        let flows: Vec<Value> = flows
            .iter()
            .map(|(auth, steps)| json!({"url": auth.url, "steps": steps}))
            .collect();
        let input = json!({
            "scenario": scenario,
            "artifacts": artifacts_dir(),
            "redirect_uri": self.redirect_uri,
            "flows": flows,
            "frame": frame,
        });
        run_driver(&input)
    }

    /// The query parameters of the redirect, after checking its `state` and `iss`.
    fn answer(&self, auth: &Authorization, callback: &Value) -> HashMap<String, String> {
        let callback = callback
            .as_str()
            .expect("the browser was sent to the redirect URI");
        assert!(
            callback.starts_with(&format!("{}?", self.redirect_uri)),
            "{callback}"
        );
        let params: HashMap<String, String> = url::Url::parse(callback)
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect();
        assert_eq!(params.get("state"), Some(auth.state.secret()), "{callback}");
        assert_eq!(params.get("iss"), Some(&self.server.base), "{callback}");
        params
    }

    /// Redeems the code of `callback` with the `oauth2` crate, checks the tokens, refreshes them
    /// and checks them again; the refreshed response.
    fn redeem(&self, auth: Authorization, callback: &Value) -> BasicTokenResponse {
        let params = self.answer(&auth, callback);
        let code = params.get("code").expect("a code in the redirect");
        let http = http_client();
        let tokens = self
            .oauth()
            .exchange_code(AuthorizationCode::new(code.clone()))
            .set_pkce_verifier(auth.verifier)
            .request(&http)
            .unwrap();
        self.check_tokens(&tokens);
        let refresh = tokens.refresh_token().expect("a refresh token");
        let refreshed = self
            .oauth()
            .exchange_refresh_token(refresh)
            .request(&http)
            .unwrap();
        self.check_tokens(&refreshed);
        assert_ne!(
            refreshed.refresh_token().unwrap().secret(),
            refresh.secret(),
            "refresh tokens rotate on use"
        );
        refreshed
    }

    /// A bearer JWT access token for the user, this client, the resource and scope; a refresh
    /// token.
    fn check_tokens(&self, tokens: &BasicTokenResponse) {
        assert_eq!(*tokens.token_type(), BasicTokenType::Bearer);
        assert!(tokens.refresh_token().is_some());
        if let Some(scopes) = tokens.scopes() {
            assert_eq!(scopes, &vec![Scope::new(SCOPE.into())]);
        }
        let (header, claims) = jwt_parts(tokens.access_token().secret());
        assert_eq!(header["typ"], "at+jwt", "{header}");
        assert_eq!(claims["iss"], self.server.base.as_str(), "{claims}");
        assert_eq!(claims["sub"], self.user_id.as_str(), "{claims}");
        assert_eq!(claims["aud"], RESOURCE, "{claims}");
        assert_eq!(claims["scope"], SCOPE, "{claims}");
        assert_eq!(claims["client_id"], self.client_id.as_str(), "{claims}");
    }
}

/// A port on which every request gets a short page, as a native app's loopback listener would
/// (RFC 8252 §7.3): the browser lands there, and the driver reads where it landed.
fn callback_listener() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            // A thread each: a browser may open a connection it sends nothing on.
            std::thread::spawn(move || answer_callback(stream));
        }
    });
    port
}

fn answer_callback(mut stream: TcpStream) {
    let mut head = Vec::new();
    let mut buf = [0; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let body = "Signed in. You may close this window.";
    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\n";
    let _ = write!(stream, "{head}content-length: {}\r\n\r\n{body}", body.len());
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

/// The `oauth2` crate's HTTP client, following no redirects (as its documentation advises).
fn http_client() -> oauth2::reqwest::blocking::Client {
    oauth2::reqwest::blocking::Client::builder()
        .redirect(oauth2::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `<target dir>/browser-artifacts`.
fn artifacts_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("browser-artifacts")
}

/// Runs `server/tests/browser/drive.mjs` with `input`; its report. Fails with the driver's
/// message (which says what to install when Chromium or node_modules are missing).
fn run_driver(input: &Value) -> Value {
    crate::harness::run_node("browser", "drive.mjs", "browser driver", input)
}

/// The sign-in page, filled in with `password` and sent with a click or the Enter key.
fn sign_in(password: &str, submit: &str) -> Value {
    json!({"expect": "sign-in", "username": USERNAME, "password": password, "submit": submit})
}

fn consent(decision: &str) -> Value {
    json!({"expect": "consent", "decision": decision})
}

/// The pages a flow showed, by kind.
fn kinds(flow: &Value) -> Vec<&str> {
    flow["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap())
        .collect()
}

/// What every page must be in the browser: never framed (CSP `frame-ancestors 'none'`), no
/// console errors, no CSP violation (no inline script or style, a form allowed to go where it
/// goes), never cached.
fn assert_clean(page: &Value) {
    let what = format!("the {} page at {}", page["kind"], page["url"]);
    let csp = page["content_security_policy"]
        .as_str()
        .unwrap_or_else(|| panic!("{what} has no Content-Security-Policy"));
    assert!(
        csp.split(';').any(|d| d.trim() == "frame-ancestors 'none'"),
        "{what}: {csp}"
    );
    assert_eq!(
        page["console_errors"],
        json!([]),
        "console errors on {what}"
    );
    assert_eq!(
        page["csp_violations"],
        json!([]),
        "CSP violations on {what}"
    );
    assert_eq!(page["cache_control"], "no-store", "{what}");
    assert_eq!(page["status"], 200, "{what}");
}

#[test]
fn first_sign_in_with_consent() {
    let fx = Fixture::new(Kind::NativeApp);
    let auth = fx.authorization(&[]);
    let report = fx.drive(
        "first-sign-in",
        &[(
            &auth,
            json!([sign_in(PASSWORD, "click"), consent("approve")]),
        )],
        None,
    );
    let flow = &report["flows"][0];
    assert_eq!(kinds(flow), ["sign-in", "consent"]);
    let (login, approve) = (&flow["pages"][0], &flow["pages"][1]);
    for page in [login, approve] {
        assert_clean(page);
    }
    assert_eq!(login["error"], Value::Null);
    assert_eq!(
        login["focused"], "username",
        "the username field has the focus"
    );
    assert!(login["text"].as_str().unwrap().contains(CLIENT_NAME));
    let text = approve["text"].as_str().unwrap();
    for shown in [CLIENT_NAME, USERNAME, SCOPE, RESOURCE, "127.0.0.1"] {
        assert!(
            text.contains(shown),
            "{shown:?} on the consent page: {text}"
        );
    }
    fx.redeem(auth, &flow["callback"]);
}

#[test]
fn wrong_password_then_the_right_one() {
    let fx = Fixture::new(Kind::NativeApp);
    let auth = fx.authorization(&[]);
    let report = fx.drive(
        "wrong-password",
        &[(
            &auth,
            json!([
                sign_in("correct horse staple", "click"),
                sign_in(PASSWORD, "enter"),
                consent("approve"),
            ]),
        )],
        None,
    );
    let flow = &report["flows"][0];
    assert_eq!(kinds(flow), ["sign-in", "sign-in", "consent"]);
    let retry = &flow["pages"][1];
    assert_eq!(retry["error"], "Wrong username or password.");
    assert_eq!(
        retry["focused"], "password",
        "the password field has the focus"
    );
    for page in flow["pages"].as_array().unwrap() {
        assert_clean(page);
    }
    fx.redeem(auth, &flow["callback"]);
}

/// One browser and a web app: signed in and consented once, it is sent straight back next time;
/// with `prompt=login` it signs in again but is not asked to consent again, and the codes of the
/// session it replaced die with it.
#[test]
fn a_signed_in_browser_is_not_asked_again() {
    let fx = Fixture::new(Kind::WebApp);
    let first = fx.authorization(&[]);
    let again = fx.authorization(&[]);
    let relogin = fx.authorization(&[("prompt", "login")]);
    let report = fx.drive(
        "session",
        &[
            (
                &first,
                json!([sign_in(PASSWORD, "click"), consent("approve")]),
            ),
            (&again, json!([])),
            (&relogin, json!([sign_in(PASSWORD, "click")])),
        ],
        None,
    );
    let flows = report["flows"].as_array().unwrap();
    assert_eq!(kinds(&flows[0]), ["sign-in", "consent"]);
    assert_eq!(
        kinds(&flows[1]),
        Vec::<&str>::new(),
        "remembered consent: no page"
    );
    assert_eq!(
        kinds(&flows[2]),
        ["sign-in"],
        "prompt=login: sign-in, no consent"
    );
    for page in flows.iter().flat_map(|f| f["pages"].as_array().unwrap()) {
        assert_clean(page);
    }
    let codes: Vec<String> = [
        (&first, &flows[0]),
        (&again, &flows[1]),
        (&relogin, &flows[2]),
    ]
    .iter()
    .map(|(auth, flow)| fx.answer(auth, &flow["callback"])["code"].clone())
    .collect();
    assert!(codes[0] != codes[1] && codes[1] != codes[2] && codes[0] != codes[2]);
    // Signing in again replaced the session the first two codes came from: they are dead (a
    // code outlives neither its sign-in nor a sign-out); the last one works.
    for (auth, flow) in [first, again].into_iter().zip(flows) {
        let code = fx.answer(&auth, &flow["callback"])["code"].clone();
        let refused = fx
            .oauth()
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(auth.verifier)
            .request(&http_client());
        let error = format!("{refused:?}");
        assert!(
            error.contains("invalid_grant") && error.contains("sign-in this code came from"),
            "{error}"
        );
    }
    fx.redeem(relogin, &flows[2]["callback"]);
}

/// Deny: the client (a web app, whose consent would be remembered) hears `access_denied` with
/// its `state` and our `iss`, and gets no code; the denial is not remembered: the same browser,
/// still signed in, is asked again.
#[test]
fn deny_on_the_consent_page() {
    let fx = Fixture::new(Kind::WebApp);
    let denied = fx.authorization(&[]);
    let asked_again = fx.authorization(&[]);
    let report = fx.drive(
        "deny",
        &[
            (
                &denied,
                json!([sign_in(PASSWORD, "click"), consent("deny")]),
            ),
            (&asked_again, json!([consent("approve")])),
        ],
        None,
    );
    let flows = report["flows"].as_array().unwrap();
    assert_eq!(kinds(&flows[0]), ["sign-in", "consent"]);
    assert_eq!(kinds(&flows[1]), ["consent"]);
    for page in flows.iter().flat_map(|f| f["pages"].as_array().unwrap()) {
        assert_clean(page);
    }
    let params = fx.answer(&denied, &flows[0]["callback"]);
    assert_eq!(
        params.get("error").map(String::as_str),
        Some("access_denied")
    );
    assert!(!params.contains_key("code"), "{params:?}");
    fx.redeem(asked_again, &flows[1]["callback"]);
}

/// A native app (public client, loopback redirect URI) is asked to consent every time, even in
/// a browser that is signed in and approved it a moment ago (OAuth 2.1 §7.3.1: any app on the
/// device could claim its redirect URI).
#[test]
fn a_native_app_is_asked_to_consent_every_time() {
    let fx = Fixture::new(Kind::NativeApp);
    let first = fx.authorization(&[]);
    let again = fx.authorization(&[]);
    let report = fx.drive(
        "native-app",
        &[
            (
                &first,
                json!([sign_in(PASSWORD, "click"), consent("approve")]),
            ),
            (&again, json!([consent("approve")])),
        ],
        None,
    );
    let flows = report["flows"].as_array().unwrap();
    assert_eq!(kinds(&flows[0]), ["sign-in", "consent"]);
    assert_eq!(kinds(&flows[1]), ["consent"], "signed in, asked again");
    for page in flows.iter().flat_map(|f| f["pages"].as_array().unwrap()) {
        assert_clean(page);
    }
    for (auth, flow) in [first, again].into_iter().zip(flows) {
        fx.redeem(auth, &flow["callback"]);
    }
}

/// A page that frames the sign-in page (clickjacking) gets an empty frame: the server answers,
/// the browser refuses to show it (CSP `frame-ancestors 'none'`).
#[test]
fn the_sign_in_page_is_not_rendered_in_a_frame() {
    let fx = Fixture::new(Kind::NativeApp);
    let auth = fx.authorization(&[]);
    let report = fx.drive("framed", &[], Some(&auth.url));
    let frame = &report["frame"];
    let responses = frame["responses"].as_array().unwrap();
    assert_eq!(responses.len(), 1, "{frame}");
    assert_eq!(responses[0]["status"], 200, "{frame}");
    let csp = responses[0]["content_security_policy"]
        .as_str()
        .unwrap_or_default();
    assert!(csp.contains("frame-ancestors 'none'"), "{frame}");
    assert_eq!(frame["rendered"]["sign_in"], false, "{frame}");
    assert_ne!(frame["frame_url"], auth.url.as_str(), "{frame}");
    let errors = frame["console_errors"].as_array().unwrap();
    assert!(
        errors
            .iter()
            .any(|e| e.as_str().unwrap().contains("frame-ancestors 'none'")),
        "the browser names the directive that refused the frame: {frame}"
    );
}
