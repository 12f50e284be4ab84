//! A small browser and client for the sign-in tests: one `gatehouse` cookie, the hidden fields
//! of the pages, the RFC 7636 Appendix B PKCE pair, clients and a user made through the admin
//! API, and the assertions every test shares.

use std::collections::HashMap;

use reqwest::blocking::{RequestBuilder, Response};
use reqwest::header::{self, HeaderMap};
use serde_json::{Value, json};

use crate::harness::Server;

/// RFC 7636 Appendix B: the verifier and its S256 challenge.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
/// A well-formed verifier that is not [`VERIFIER`] (its last character changed).
pub const WRONG_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK";

pub const RESOURCE: &str = "https://mcp.example";
pub const SCOPE: &str = "openid profile read";
pub const USERNAME: &str = "alice";
pub const PASSWORD: &str = "correct horse battery";
/// A `state` that needs encoding, to see it come back intact.
pub const STATE: &str = "s-4711 &/=?";

/// The session cookie's name on a plain-http issuer.
const COOKIE: &str = "gatehouse";

/// An answer, read whole.
pub struct Page {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn read(response: Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().unwrap();
        Self {
            status,
            headers,
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    pub fn location(&self) -> Option<&str> {
        self.header("location")
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }

    /// The value of the hidden field `name`, HTML entities decoded.
    pub fn hidden(&self, name: &str) -> Option<String> {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&marker)? + marker.len();
        let end = start + self.body[start..].find('"')?;
        Some(unescape(&self.body[start..end]))
    }

    /// [`Self::hidden`], which must be there.
    pub fn field(&self, name: &str) -> String {
        self.hidden(name)
            .unwrap_or_else(|| panic!("no hidden {name:?} in {}: {}", self.status, self.body))
    }

    /// The sign-in page (200, its form posting to `/authorize/login`).
    pub fn is_sign_in(&self) -> bool {
        self.status == 200 && self.body.contains("/authorize/login\"")
    }

    pub fn is_consent(&self) -> bool {
        self.status == 200 && self.body.contains("/authorize/consent\"")
    }

    /// The parameters of a 303 to `redirect_uri` (each at most once).
    pub fn redirect_params(&self, redirect_uri: &str) -> HashMap<String, String> {
        assert_eq!(
            self.status, 303,
            "a 303 to the client expected: {}",
            self.body
        );
        let location = self.location().expect("a Location");
        // RFC 6749 §3.1.2: a query the redirect URI has is kept, and the answer appended.
        let joint = if redirect_uri.contains('?') { '&' } else { '?' };
        assert!(
            location.starts_with(&format!("{redirect_uri}{joint}")),
            "{location} is not {redirect_uri}"
        );
        let pairs: Vec<(String, String)> = url::Url::parse(location)
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect();
        let params: HashMap<String, String> = pairs.iter().cloned().collect();
        assert_eq!(
            params.len(),
            pairs.len(),
            "a parameter repeated: {location}"
        );
        params
    }

    /// The `gatehouse` cookie this answer sets: `Some("")` when it clears it.
    pub fn set_cookie(&self) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next()?.trim().split_once('='))
            .find(|(name, _)| *name == COOKIE)
            .map(|(_, value)| value.to_owned())
    }
}

/// HTML character references as askama writes them.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let Some(semi) = rest.find(';') else { break };
        let entity = &rest[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .map(|hex| u32::from_str_radix(hex, 16))
                .or_else(|| entity.strip_prefix('#').map(str::parse::<u32>))
                .and_then(Result::ok)
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The query of an authorization request, built from a client's defaults.
#[derive(Clone, Debug)]
pub struct AuthRequest(pub Vec<(String, String)>);

impl AuthRequest {
    /// `name` set to `value` (replacing it, or added last).
    pub fn with(mut self, name: &str, value: &str) -> Self {
        match self.0.iter_mut().find(|(n, _)| n == name) {
            Some(pair) => pair.1 = value.to_owned(),
            None => self.0.push((name.to_owned(), value.to_owned())),
        }
        self
    }

    /// `name` added once more, as a repeat.
    pub fn and(mut self, name: &str, value: &str) -> Self {
        self.0.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn without(mut self, name: &str) -> Self {
        self.0.retain(|(n, _)| n != name);
        self
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn query(&self) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&self.0)
            .finish()
    }

    pub fn pairs(&self) -> Vec<(&str, &str)> {
        self.0
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect()
    }
}

/// A registered client.
#[derive(Clone, Debug)]
pub struct App {
    pub id: String,
    pub secret: Option<String>,
    /// Its first registered redirect URI (empty for a client without one).
    pub redirect_uri: String,
}

/// Tokens from a token response.
#[derive(Debug)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
    pub id_token: Option<String>,
}

impl Tokens {
    pub fn of(page: &Page) -> Self {
        assert_eq!(page.status, 200, "{}", page.body);
        let body = page.json();
        Self {
            access: body["access_token"].as_str().unwrap().to_owned(),
            refresh: body["refresh_token"].as_str().unwrap().to_owned(),
            id_token: body["id_token"].as_str().map(str::to_owned),
        }
    }
}

impl App {
    /// Its authorization request: code flow, PKCE S256 with [`CHALLENGE`], [`SCOPE`],
    /// [`RESOURCE`], [`STATE`], its first redirect URI.
    pub fn request(&self) -> AuthRequest {
        AuthRequest(Vec::new())
            .with("response_type", "code")
            .with("client_id", &self.id)
            .with("redirect_uri", &self.redirect_uri)
            .with("scope", SCOPE)
            .with("resource", RESOURCE)
            .with("state", STATE)
            .with("code_challenge", CHALLENGE)
            .with("code_challenge_method", "S256")
    }

    /// A request to `path` with this client's authentication: Basic for a confidential
    /// client, `client_id` in the form for a public one.
    pub fn post(&self, server: &Server, path: &str, form: &[(&str, &str)]) -> Page {
        let mut all = form.to_vec();
        let mut req = server.http.post(format!("{}{path}", server.base));
        match &self.secret {
            Some(secret) => req = req.basic_auth(&self.id, Some(secret)),
            None => all.push(("client_id", &self.id)),
        }
        Page::read(req.form(&all).send().unwrap())
    }

    /// Redeems `code` with `verifier` and the redirect URI of [`Self::request`].
    pub fn redeem(&self, server: &Server, code: &str, verifier: &str) -> Page {
        self.post(
            server,
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("code_verifier", verifier),
                ("redirect_uri", &self.redirect_uri),
            ],
        )
    }

    pub fn refresh(&self, server: &Server, refresh_token: &str) -> Page {
        self.post(
            server,
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
        )
    }
}

/// Sends an admin API request; the status and JSON body (`Null` when empty).
pub fn admin(server: &Server, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = server
        .http
        .request(method, format!("{}{path}", server.admin_url()))
        .bearer_auth(server.admin_token());
    if let Some(body) = body {
        req = req.json(body);
    }
    let page = Page::read(req.send().unwrap());
    let value = if page.body.is_empty() {
        Value::Null
    } else {
        page.json()
    };
    (page.status, value)
}

/// Registers a client (201 expected).
pub fn register(server: &Server, body: &Value) -> App {
    let (status, created) = admin(server, "POST", "/admin/clients", Some(body));
    assert_eq!(status, 201, "{created}");
    App {
        id: created["client_id"].as_str().unwrap().to_owned(),
        secret: created["client_secret"].as_str().map(str::to_owned),
        redirect_uri: body["redirect_uris"][0].as_str().unwrap_or("").to_owned(),
    }
}

/// A code-flow client; `public` ones authenticate with `none`.
pub fn code_client(server: &Server, public: bool, redirect_uris: &[&str], logout: &[&str]) -> App {
    let mut body = json!({
        "name": "Demo",
        "grant_types": ["authorization_code", "refresh_token"],
        "redirect_uris": redirect_uris,
        "post_logout_redirect_uris": logout,
        "scope": SCOPE,
        "resources": [RESOURCE],
    });
    if public {
        body["token_endpoint_auth_method"] = json!("none");
    }
    register(server, &body)
}

/// Creates a user; their id.
pub fn add_user(server: &Server, username: &str, password: &str) -> String {
    let body = json!({"username": username, "password": password});
    let (status, created) = admin(server, "POST", "/admin/users", Some(&body));
    assert_eq!(status, 201, "{created}");
    created["user_id"].as_str().unwrap().to_owned()
}

/// A server with a public client on an https redirect URI, a confidential one, a resource
/// server that may introspect any token, and [`USERNAME`].
pub struct Setup {
    pub server: Server,
    /// Public, `https://client.example/cb`, signs out to `https://client.example/signed-out`.
    pub public: App,
    /// Confidential, `https://web.example/cb`, signs out to `https://web.example/bye`.
    pub web: App,
    /// A resource server (`client_credentials`, introspection of any token).
    pub rs: App,
    pub user_id: String,
}

impl Setup {
    pub fn new() -> Self {
        Self::with_env(&[])
    }

    pub fn with_env(env: &[(&str, &str)]) -> Self {
        let server = Server::start_with(env);
        let public = code_client(
            &server,
            true,
            &["https://client.example/cb"],
            &["https://client.example/signed-out"],
        );
        let web = code_client(
            &server,
            false,
            &["https://web.example/cb"],
            &["https://web.example/bye"],
        );
        let rs = register(
            &server,
            &json!({
                "name": "Resource server",
                "grant_types": ["client_credentials"],
                "resources": ["https://rs.example"],
                "introspection": "any",
            }),
        );
        let user_id = add_user(&server, USERNAME, PASSWORD);
        Self {
            server,
            public,
            web,
            rs,
            user_id,
        }
    }

    pub fn browser(&self) -> Browser<'_> {
        Browser::new(&self.server)
    }

    /// Whether `token` introspects active for the resource server.
    pub fn is_active(&self, token: &str) -> bool {
        let page = self
            .rs
            .post(&self.server, "/introspect", &[("token", token)]);
        assert_eq!(page.status, 200, "{}", page.body);
        page.json()["active"].as_bool().unwrap()
    }

    /// A fresh code for `app` from a new browser, and its tokens.
    pub fn tokens(&self, app: &App) -> Tokens {
        let code = self.browser().code(app, &app.request());
        Tokens::of(&app.redeem(&self.server, &code, VERIFIER))
    }
}

/// A browser: the one `gatehouse` cookie it holds.
pub struct Browser<'a> {
    server: &'a Server,
    pub cookie: Option<String>,
}

impl<'a> Browser<'a> {
    pub fn new(server: &'a Server) -> Self {
        Self {
            server,
            cookie: None,
        }
    }

    /// A browser holding `cookie`.
    pub fn with_cookie(server: &'a Server, cookie: Option<String>) -> Self {
        Self { server, cookie }
    }

    fn send(&mut self, mut req: RequestBuilder) -> Page {
        if let Some(cookie) = &self.cookie {
            req = req.header(header::COOKIE, format!("{COOKIE}={cookie}"));
        }
        let page = Page::read(req.send().unwrap());
        if let Some(value) = page.set_cookie() {
            self.cookie = (!value.is_empty()).then_some(value);
        }
        page
    }

    /// GETs `path_and_query` under the issuer.
    pub fn get(&mut self, path_and_query: &str) -> Page {
        let url = format!("{}{path_and_query}", self.server.base);
        let req = self.server.http.get(url);
        self.send(req)
    }

    pub fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let url = format!("{}{path}", self.server.base);
        let req = self.server.http.post(url).form(form);
        self.send(req)
    }

    pub fn authorize(&mut self, request: &AuthRequest) -> Page {
        self.get(&format!("/authorize?{}", request.query()))
    }

    /// Posts the sign-in form of `page`.
    pub fn log_in(&mut self, page: &Page, username: &str, password: &str) -> Page {
        assert!(page.is_sign_in(), "not the sign-in page: {}", page.body);
        let (request, csrf) = (page.field("request"), page.field("csrf"));
        self.post(
            "/authorize/login",
            &[
                ("request", &request),
                ("csrf", &csrf),
                ("username", username),
                ("password", password),
            ],
        )
    }

    /// Posts the consent form of `page` with `decision`.
    pub fn decide(&mut self, page: &Page, decision: &str) -> Page {
        assert!(page.is_consent(), "not the consent page: {}", page.body);
        let (request, csrf) = (page.field("request"), page.field("csrf"));
        self.post(
            "/authorize/consent",
            &[
                ("request", &request),
                ("csrf", &csrf),
                ("decision", decision),
            ],
        )
    }

    /// Sends `request`, signs in as [`USERNAME`] when asked, approves when asked: the last
    /// answer.
    pub fn approve(&mut self, request: &AuthRequest) -> Page {
        let mut page = self.authorize(request);
        if page.is_sign_in() {
            page = self.log_in(&page, USERNAME, PASSWORD);
        }
        if page.is_consent() {
            page = self.decide(&page, "approve");
        }
        page
    }

    /// [`Self::approve`], down to the code (its `state` and `iss` checked).
    pub fn code(&mut self, app: &App, request: &AuthRequest) -> String {
        let page = self.approve(request);
        let redirect_uri = request.get("redirect_uri").unwrap_or(&app.redirect_uri);
        let params = page.redirect_params(redirect_uri);
        assert_eq!(
            params.get("state").map(String::as_str),
            request.get("state")
        );
        assert_eq!(params.get("iss"), Some(&self.server.base));
        params
            .get("code")
            .unwrap_or_else(|| panic!("no code: {params:?}"))
            .clone()
    }

    /// Signs in (through `app`'s sign-in page) without finishing the authorization.
    pub fn sign_in(&mut self, app: &App) -> Page {
        let page = self.authorize(&app.request());
        self.log_in(&page, USERNAME, PASSWORD)
    }

    /// `prompt=none` for `app`: the error it gets, or `None` when it got a code.
    pub fn silent(&mut self, app: &App) -> Option<String> {
        let page = self.authorize(&app.request().with("prompt", "none"));
        let params = page.redirect_params(&app.redirect_uri);
        params.get("error").cloned()
    }
}

/// No live session in `browser`: `prompt=none` is answered `login_required`.
pub fn assert_signed_out(browser: &mut Browser<'_>, app: &App) {
    assert_eq!(
        browser.silent(app).as_deref(),
        Some("login_required"),
        "the browser has a session"
    );
}

/// A live session in `browser`: `prompt=none` is not answered `login_required`.
pub fn assert_signed_in(browser: &mut Browser<'_>, app: &App) {
    assert_ne!(
        browser.silent(app).as_deref(),
        Some("login_required"),
        "the browser has no session"
    );
}

/// The headers every page carries: never framed, no referrer, never cached, HTML.
pub fn assert_page_headers(page: &Page, what: &str) {
    let csp = page
        .header("content-security-policy")
        .unwrap_or_else(|| panic!("{what}: no Content-Security-Policy"));
    assert!(
        csp.split(';').any(|d| d.trim() == "frame-ancestors 'none'"),
        "{what}: {csp}"
    );
    assert_eq!(page.header("x-frame-options"), Some("DENY"), "{what}");
    assert_eq!(
        page.header("referrer-policy"),
        Some("no-referrer"),
        "{what}"
    );
    assert_eq!(page.header("cache-control"), Some("no-store"), "{what}");
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8"),
        "{what}"
    );
}

/// An error page: `status`, the security headers, no redirect, no code, `says` in its text.
pub fn assert_error_page(page: &Page, status: u16, says: &str) {
    assert_eq!(page.status, status, "{}", page.body);
    assert_eq!(page.location(), None, "an error page redirects nowhere");
    assert!(!page.body.contains("name=\"code\""), "{}", page.body);
    assert!(page.body.contains(says), "{says:?} not in {}", page.body);
    assert_page_headers(page, "the error page");
}

/// A 303 to `redirect_uri` with `error`, `state` (when the request had one) and our `iss`,
/// and no code.
pub fn assert_error_redirect(
    page: &Page,
    server: &Server,
    redirect_uri: &str,
    error: &str,
    state: Option<&str>,
) {
    let params = page.redirect_params(redirect_uri);
    assert_eq!(
        params.get("error").map(String::as_str),
        Some(error),
        "{params:?}"
    );
    assert_eq!(params.get("state").map(String::as_str), state, "{params:?}");
    assert_eq!(params.get("iss"), Some(&server.base), "{params:?}");
    assert!(!params.contains_key("code"), "{params:?}");
    assert!(params.contains_key("error_description"), "{params:?}");
}

/// An RFC 6749 §5.2 JSON error: `status`, `error`, never cached.
pub fn assert_oauth_error(page: &Page, status: u16, error: &str) {
    assert_eq!(page.status, status, "{}", page.body);
    assert_eq!(page.json()["error"], error, "{}", page.body);
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert!(page.json().get("access_token").is_none());
}
