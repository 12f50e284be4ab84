//! The device authorization grant (RFC 8628) end to end: the `oauth2` crate's device flow is
//! the device; `server/tests/browser/device.mjs` (Playwright's `playwright-core` driving
//! Debian's headless Chromium) is the person on the verification page. Polling rules, another
//! client, replay, guessing limits and CSRF are checked over plain HTTP and in the browser.
//! Security matrix §7. Short lifetimes and intervals come from `[device]`, so no test sleeps
//! more than a couple of seconds.

use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use oauth2::basic::{BasicClient, BasicTokenResponse};
use oauth2::{
    ClientId, DeviceAuthorizationUrl, DeviceCodeErrorResponseType, RequestTokenError, Scope,
    StandardDeviceAuthorizationResponse, TokenResponse, TokenUrl,
};
use serde_json::{Value, json};

use crate::harness::{Server, jwt_parts};

const RESOURCE: &str = "https://tv.example";
const USERNAME: &str = "alice";
const PASSWORD: &str = "correct horse battery";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A server with a short device interval (1 s) and lifetime `lifetime`, a public device
/// client, a confidential one, and alice.
struct Fixture {
    server: Server,
    client_id: String,
    confidential: (String, String),
    user_id: String,
}

fn admin_post(server: &Server, path: &str, body: &Value) -> Value {
    let r = server
        .http
        .post(format!("{}{path}", server.admin_url()))
        .bearer_auth(server.admin_token())
        .json(body)
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().unwrap()
}

impl Fixture {
    fn new(lifetime: &str, extra: &[(&str, &str)]) -> Self {
        let mut env = vec![
            ("GATEHOUSE_DEVICE__INTERVAL", "1"),
            ("GATEHOUSE_DEVICE__LIFETIME", lifetime),
        ];
        env.extend_from_slice(extra);
        let server = Server::start_with(&env);
        let public = admin_post(
            &server,
            "/admin/clients",
            &json!({
                "name": "Living Room TV",
                "grant_types": [DEVICE_GRANT, "refresh_token"],
                "token_endpoint_auth_method": "none",
                "scope": "read write",
                "resources": [RESOURCE],
            }),
        );
        let confidential = admin_post(
            &server,
            "/admin/clients",
            &json!({
                "name": "Build agent",
                "grant_types": [DEVICE_GRANT],
                "scope": "read",
                "resources": [RESOURCE],
            }),
        );
        let user = admin_post(
            &server,
            "/admin/users",
            &json!({"username": USERNAME, "password": PASSWORD}),
        );
        Self {
            client_id: public["client_id"].as_str().unwrap().to_owned(),
            confidential: (
                confidential["client_id"].as_str().unwrap().to_owned(),
                confidential["client_secret"].as_str().unwrap().to_owned(),
            ),
            user_id: user["user_id"].as_str().unwrap().to_owned(),
            server,
        }
    }

    fn oauth(
        &self,
    ) -> BasicClient<
        oauth2::EndpointNotSet,
        oauth2::EndpointSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointSet,
    > {
        BasicClient::new(ClientId::new(self.client_id.clone()))
            .set_device_authorization_url(
                DeviceAuthorizationUrl::new(format!("{}/device_authorization", self.server.base))
                    .unwrap(),
            )
            .set_token_uri(TokenUrl::new(format!("{}/token", self.server.base)).unwrap())
    }

    /// A device authorization through the `oauth2` crate.
    fn start(&self) -> StandardDeviceAuthorizationResponse {
        self.oauth()
            .exchange_device_code()
            .add_scope(Scope::new("read".into()))
            .add_extra_param("resource", RESOURCE)
            .request(&http())
            .unwrap()
    }

    /// Polls as the `oauth2` crate does (sleeping the interval, +5 s on `slow_down`), in a
    /// thread: the device waiting while the person decides.
    fn poll_in_background(
        &self,
        details: &StandardDeviceAuthorizationResponse,
    ) -> thread::JoinHandle<Result<BasicTokenResponse, String>> {
        let client = self.oauth();
        let details = details.clone();
        thread::spawn(move || {
            client
                .exchange_device_access_token(&details)
                .request(&http(), thread::sleep, Some(Duration::from_secs(60)))
                .map_err(|e| match e {
                    RequestTokenError::ServerResponse(r) => match r.error() {
                        DeviceCodeErrorResponseType::AccessDenied => "access_denied".to_owned(),
                        DeviceCodeErrorResponseType::ExpiredToken => "expired_token".to_owned(),
                        other => format!("{other:?}"),
                    },
                    other => other.to_string(),
                })
        })
    }

    /// One poll at the token endpoint by the public client (or `creds`): status and body.
    fn poll(&self, device_code: &str, creds: Option<(&str, &str)>) -> (u16, Value) {
        let mut form = vec![("grant_type", DEVICE_GRANT), ("device_code", device_code)];
        if creds.is_none() {
            form.push(("client_id", self.client_id.as_str()));
        }
        let r = self.server.post_form("/token", creds, &form);
        (r.status().as_u16(), r.json().unwrap())
    }

    fn drive(&self, scenario: &str, steps: &Value) -> Vec<Value> {
        let input = json!({"scenario": scenario, "artifacts": artifacts_dir(), "steps": steps});
        let report =
            crate::harness::run_node("browser", "device.mjs", "device browser driver", &input);
        report.as_array().unwrap().clone()
    }

    fn verification_uri(&self) -> String {
        format!("{}/device", self.server.base)
    }
}

fn http() -> oauth2::reqwest::blocking::Client {
    oauth2::reqwest::blocking::Client::builder()
        .redirect(oauth2::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn artifacts_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("browser-artifacts")
}

fn sign_in() -> Value {
    json!({"sign_in": {"username": USERNAME, "password": PASSWORD}})
}

/// Never framed, never cached, no console errors or CSP violations (no inline script).
fn assert_clean(page: &Value) {
    let csp = page["content_security_policy"]
        .as_str()
        .unwrap_or_else(|| panic!("no CSP: {page}"));
    assert!(
        csp.split(';').any(|d| d.trim() == "frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(page["x_frame_options"], "DENY", "{page}");
    assert_eq!(page["cache_control"], "no-store", "{page}");
    assert_eq!(page["console_errors"], json!([]), "{page}");
    assert_eq!(page["csp_violations"], json!([]), "{page}");
}

/// The whole flow with the `oauth2` crate polling while Chromium approves: the link with the
/// code needs signing in and a confirmation, the question says a device asks, the tokens are
/// the person's, single use after; the refresh token works.
#[test]
fn approved_in_the_browser_the_device_gets_its_tokens_once() {
    let fx = Fixture::new("120", &[]);
    let details = fx.start();
    let user_code = details.user_code().secret().clone();
    assert_eq!(user_code.len(), 9, "{user_code}");
    assert_eq!(&user_code[4..5], "-");
    assert!(
        user_code
            .chars()
            .filter(|c| *c != '-')
            .all(|c| "BCDFGHJKLMNPQRSTVWXZ".contains(c)),
        "{user_code}"
    );
    assert_eq!(details.verification_uri().as_str(), fx.verification_uri());
    let complete = details
        .verification_uri_complete()
        .unwrap()
        .secret()
        .clone();
    assert_eq!(
        complete,
        format!("{}?user_code={user_code}", fx.verification_uri())
    );
    assert!(details.device_code().secret().starts_with("gdc_"));
    assert_eq!(
        (details.expires_in().as_secs(), details.interval().as_secs()),
        (120, 1)
    );
    let device = fx.poll_in_background(&details);

    let pages = fx.drive(
        "approve",
        &json!([{"goto": complete}, sign_in(), {"continue": true}, {"decide": "approve"}]),
    );
    let [login, confirm, question, done] = pages.as_slice() else {
        panic!("{pages:?}")
    };
    assert!(
        login["text"].as_str().unwrap().contains("Sign in"),
        "{login}"
    );
    // RFC 8628 §5.4: the code from the link is shown to be confirmed, not acted on.
    assert_eq!(confirm["code_field"], user_code.as_str(), "{confirm}");
    assert!(
        confirm["text"]
            .as_str()
            .unwrap()
            .contains("Check that this code is the one shown on your device"),
        "{confirm}"
    );
    let text = question["text"].as_str().unwrap();
    assert!(text.contains("A device"), "{text}");
    assert!(text.contains("Living Room TV"), "{text}");
    assert!(text.contains(&user_code), "{text}");
    assert!(text.contains("read"), "{text}");
    assert!(!text.contains("write"), "only the scope asked for: {text}");
    assert!(text.contains(RESOURCE), "{text}");
    assert_eq!(done["heading"], "Device connected", "{done}");
    for page in &pages {
        assert_eq!(page["status"], 200, "{page}");
        assert_clean(page);
    }

    let tokens = device.join().unwrap().expect("tokens");
    let (_, claims) = jwt_parts(tokens.access_token().secret());
    assert_eq!(claims["sub"], fx.user_id.as_str(), "{claims}");
    assert_eq!(claims["client_id"], fx.client_id.as_str(), "{claims}");
    assert_eq!(claims["aud"], RESOURCE, "{claims}");
    assert_eq!(claims["scope"], "read", "{claims}");
    // Single use: the same device code again is invalid_grant.
    let (status, body) = fx.poll(details.device_code().secret(), None);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    // The refresh token follows the usual rules.
    let refreshed = fx
        .oauth()
        .exchange_refresh_token(tokens.refresh_token().expect("a refresh token"))
        .request(&http())
        .unwrap();
    assert!(refreshed.refresh_token().is_some());
    // The code is dead on the page too.
    let again = fx.drive(
        "approve-again",
        &json!([{"goto": complete}, sign_in(), {"continue": true}]),
    );
    assert_eq!(again[2]["status"], 400, "{}", again[2]);
    assert!(
        again[2]["text"].as_str().unwrap().contains("not valid"),
        "{}",
        again[2]
    );
}

/// The person types the code (lower case, spaces) and denies: the device hears
/// `access_denied`.
#[test]
fn denied_in_the_browser_the_device_hears_access_denied() {
    let fx = Fixture::new("120", &[]);
    let details = fx.start();
    let device = fx.poll_in_background(&details);
    let typed = details
        .user_code()
        .secret()
        .to_lowercase()
        .replace('-', " ");
    let pages = fx.drive(
        "deny",
        &json!([{"goto": fx.verification_uri()}, sign_in(), {"code": typed}, {"decide": "deny"}]),
    );
    assert_eq!(
        pages[1]["code_field"], "",
        "no code to confirm: {}",
        pages[1]
    );
    assert!(
        pages[1]["text"]
            .as_str()
            .unwrap()
            .contains("Enter the code shown on your device")
    );
    assert!(
        pages[2]["text"]
            .as_str()
            .unwrap()
            .contains("Living Room TV"),
        "{}",
        pages[2]
    );
    assert_eq!(pages[3]["heading"], "Request denied", "{}", pages[3]);
    assert_eq!(device.join().unwrap().unwrap_err(), "access_denied");
}

/// RFC 8628 §3.5 over plain HTTP: pending, slow_down (and again: the interval keeps growing),
/// another client's poll is invalid_grant (Keycloak CVE-2023-2585), a client without the grant
/// and garbage codes are refused; confidential clients authenticate at the endpoint.
#[test]
fn polling_rules_and_other_clients() {
    let fx = Fixture::new("120", &[]);
    let (id, secret) = (fx.confidential.0.as_str(), fx.confidential.1.as_str());
    let r = fx.server.post_form(
        "/device_authorization",
        Some((id, "wrong")),
        &[("scope", "read")],
    );
    assert_eq!(r.status(), 401, "a confidential client authenticates");
    let r = fx.server.post_form(
        "/device_authorization",
        Some((id, secret)),
        &[("scope", "read")],
    );
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let started: Value = r.json().unwrap();
    let code = started["device_code"].as_str().unwrap();
    for name in [
        "device_code",
        "user_code",
        "verification_uri",
        "verification_uri_complete",
        "expires_in",
        "interval",
    ] {
        assert!(!started[name].is_null(), "{name} in {started}");
    }
    let creds = Some((id, secret));
    let (status, body) = fx.poll(code, creds);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("authorization_pending")),
        "{body}"
    );
    // Polling at once again: slow_down, and again (the interval is now 6 s, then 11 s).
    for _ in 0..2 {
        let (status, body) = fx.poll(code, creds);
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("slow_down")),
            "{body}"
        );
    }
    // Another client with the stolen device code: invalid_grant.
    let (status, body) = fx.poll(code, None);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    // A client without the grant; garbage.
    let (other, other_secret) = fx
        .server
        .client(&["--resource", RESOURCE, "--scope", "read"]);
    let (status, body) = fx.poll(code, Some((&other, &other_secret)));
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client")),
        "{body}"
    );
    let r = fx
        .server
        .post_form("/device_authorization", Some((&other, &other_secret)), &[]);
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().unwrap()["error"], "unauthorized_client");
    for garbage in ["", "gdc_x", &"é".repeat(5_000), &format!("{code}x")] {
        let (status, body) = fx.poll(garbage, creds);
        assert_eq!(status, 400, "{garbage:?}");
        assert!(
            matches!(
                body["error"].as_str(),
                Some("invalid_grant" | "invalid_request")
            ),
            "{body}"
        );
    }
    // Bad requests at the device endpoint are spec-shaped.
    for (form, error) in [
        (vec![("scope", "admin")], "invalid_scope"),
        (
            vec![("scope", "read"), ("scope", "read")],
            "invalid_request",
        ),
        (
            vec![
                ("resource", "https://a.example"),
                ("resource", "https://b.example"),
            ],
            "invalid_target",
        ),
    ] {
        let r = fx.server.post_form("/device_authorization", creds, &form);
        assert_eq!(r.status(), 400, "{form:?}");
        assert_eq!(r.json::<Value>().unwrap()["error"], error, "{form:?}");
    }
    // Odd links to the page: a sign-in page all the same, nothing echoed unescaped.
    let long = "B".repeat(10_000);
    for query in [
        "user_code=a&user_code=b",
        "user_code=%FF%FE",
        "user_code=%3Cscript%3E",
        &format!("user_code={long}"),
        "user_code",
    ] {
        let r = fx
            .server
            .http
            .get(format!("{}?{query}", fx.verification_uri()))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200, "{query}");
        let text = r.text().unwrap();
        assert!(!text.contains("<script>"), "{query}");
        assert!(!text.contains(&long[..100]), "{query}");
    }
    // Forms without the cookie and token: refused, nothing decided.
    for path in ["/device", "/device/decide", "/device/login"] {
        let r = fx.server.post_form(
            path,
            None,
            &[("user_code", "BBBB-BBBB"), ("decision", "approve")],
        );
        assert_eq!(r.status(), 400, "{path}");
        assert!(
            r.text().unwrap().contains("This form has expired"),
            "{path}"
        );
    }
    // Discovery names the endpoint and the grant.
    let doc = fx.server.get_json(&format!(
        "{}/.well-known/oauth-authorization-server",
        fx.server.base
    ));
    assert_eq!(
        doc["device_authorization_endpoint"],
        format!("{}/device_authorization", fx.server.base)
    );
    assert!(
        doc["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&json!(DEVICE_GRANT))
    );
}

/// Approved, then many polls at once: exactly one gets tokens. Approved, then the person is
/// disabled before the device polls: no tokens (Keycloak CVE-2026-88770). A form without its
/// CSRF token decides nothing.
#[test]
fn parallel_polls_a_disabled_user_and_csrf() {
    let fx = Fixture::new("120", &[]);
    let first = fx.start();
    let second = fx.start();
    let third = fx.start();
    let pages = fx.drive("parallel", &json!([
            {"goto": format!("{}?user_code={}", fx.verification_uri(), third.user_code().secret())},
            sign_in(),
            {"continue": true},
            // The question for the third code is showing; a form without its token tries to
            // approve it, from this page (cookie sent) and from another site (none sent).
            {"post_here": {"url": format!("{}/device/decide", fx.server.base), "form": {"user_code": third.user_code().secret(), "decision": "approve"}}},
            {"post": {"url": format!("{}/device/decide", fx.server.base), "form": {"user_code": third.user_code().secret(), "decision": "approve", "csrf": ""}}},
            {"goto": fx.verification_uri()},
            {"code": first.user_code().secret()},
            {"decide": "approve"},
            {"goto": fx.verification_uri()},
            {"code": second.user_code().secret()},
            {"decide": "approve"},
        ]),
    );
    for i in [3, 4] {
        assert_eq!(pages[i]["status"], 400, "{}", pages[i]);
        assert_eq!(pages[i]["heading"], "This form has expired", "{}", pages[i]);
    }
    let (status, body) = fx.poll(third.device_code().secret(), None);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("authorization_pending")),
        "no CSRF, no decision: {body}"
    );
    assert_eq!(pages[7]["heading"], "Device connected");
    assert_eq!(pages[10]["heading"], "Device connected");

    let code = first.device_code().secret().clone();
    let polls: Vec<_> = (0..8)
        .map(|_| {
            let (base, id, code) = (fx.server.base.clone(), fx.client_id.clone(), code.clone());
            thread::spawn(move || {
                let r = reqwest::blocking::Client::new()
                    .post(format!("{base}/token"))
                    .form(&[
                        ("grant_type", DEVICE_GRANT),
                        ("device_code", &code),
                        ("client_id", &id),
                    ])
                    .send()
                    .unwrap();
                (r.status().as_u16(), r.json::<Value>().unwrap())
            })
        })
        .collect();
    let answers: Vec<(u16, Value)> = polls.into_iter().map(|t| t.join().unwrap()).collect();
    let won = answers.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(won, 1, "{answers:?}");
    assert!(
        answers
            .iter()
            .all(|(s, b)| *s == 200 || b["error"] == "invalid_grant"),
        "{answers:?}"
    );

    admin_post(
        &fx.server,
        &format!("/admin/users/{USERNAME}/disable"),
        &json!({}),
    );
    let (status, body) = fx.poll(second.device_code().secret(), None);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
}

/// RFC 8628 §5.1: five wrong codes from one browser and address, then it is paused, even for
/// a right code.
#[test]
fn guessing_is_limited() {
    let fx = Fixture::new("120", &[]);
    let details = fx.start();
    let mut steps = vec![json!({"goto": fx.verification_uri()}), sign_in()];
    for wrong in [
        "BBBB-BBBB",
        "CCCC-CCCC",
        "DDDD-DDDD",
        "FFFF-FFFF",
        "not a code",
    ] {
        steps.push(json!({"code": wrong}));
    }
    steps.push(json!({"code": details.user_code().secret()}));
    let pages = fx.drive("guessing", &json!(steps));
    for page in &pages[2..7] {
        assert_eq!(page["status"], 400, "{page}");
        assert!(
            page["text"]
                .as_str()
                .unwrap()
                .contains("That code is not valid"),
            "{page}"
        );
        assert_clean_but_status(page);
    }
    assert_eq!(pages[7]["status"], 429, "{}", pages[7]);
    assert_eq!(pages[7]["heading"], "Too many wrong codes", "{}", pages[7]);
}

/// F5: wrong codes also count per signed-in account, from any browser and address, so one
/// account cannot spend the server-wide budget (a probe did, from 200 addresses, and the right
/// code of everyone was then refused for an hour); another account still gets its question.
#[test]
fn guessing_is_limited_per_account() {
    let fx = Fixture::new(
        "120",
        &[
            ("GATEHOUSE_DEVICE__WRONG_CODES_PER_HOUR", "50"),
            ("GATEHOUSE_DEVICE__WRONG_CODES_PER_ACCOUNT_PER_HOUR", "3"),
        ],
    );
    admin_post(
        &fx.server,
        "/admin/users",
        &json!({"username": "mallory", "password": PASSWORD}),
    );
    let mallory = json!({"sign_in": {"username": "mallory", "password": PASSWORD}});
    let details = fx.start();
    let code = details.user_code().secret();
    let mut steps = vec![json!({"goto": fx.verification_uri()}), mallory.clone()];
    for wrong in ["BBBB-BBBB", "CCCC-CCCC", "DDDD-DDDD"] {
        steps.push(json!({"code": wrong}));
    }
    steps.push(json!({"code": code}));
    let pages = fx.drive("guessing-account", &json!(steps));
    for page in &pages[2..5] {
        assert_eq!(page["status"], 400, "{page}");
    }
    assert_eq!(pages[5]["status"], 429, "{}", pages[5]);
    assert_eq!(pages[5]["heading"], "Too many wrong codes", "{}", pages[5]);
    // The same account in a fresh browser: still over its limit.
    let pages = fx.drive(
        "guessing-account-again",
        &json!([{"goto": fx.verification_uri()}, mallory, {"code": code}]),
    );
    assert_eq!(pages[2]["status"], 429, "{}", pages[2]);
    // Another account enters the right code and gets the question.
    let pages = fx.drive(
        "guessing-account-other",
        &json!([{"goto": fx.verification_uri()}, sign_in(), {"code": code}]),
    );
    assert_eq!(pages[2]["status"], 200, "{}", pages[2]);
    assert!(
        pages[2]["text"].as_str().unwrap().contains("A device"),
        "{}",
        pages[2]
    );
}

/// F6: a public client's id is anyone's to use; strangers asking in its name from one address
/// spend that address's share, not the budget of the client's genuine devices elsewhere. (Both
/// are loopback addresses: Linux routes all of 127.0.0.0/8 to the server's 127.0.0.1.)
#[test]
fn strangers_cannot_use_up_a_public_clients_budget() {
    let fx = Fixture::new(
        "120",
        &[
            ("GATEHOUSE_DEVICE__PER_CLIENT_PER_MINUTE", "3"),
            ("GATEHOUSE_DEVICE__PER_ADDRESS_PER_MINUTE", "100"),
        ],
    );
    let from = |last: u8| {
        reqwest::blocking::Client::builder()
            .local_address(std::net::IpAddr::from([127, 0, 0, last]))
            .build()
            .unwrap()
    };
    let start = |http: &reqwest::blocking::Client, creds: Option<(&str, &str)>| {
        let mut request = http.post(format!("{}/device_authorization", fx.server.base));
        request = match creds {
            Some((id, secret)) => request
                .basic_auth(id, Some(secret))
                .form(&[("scope", "read")]),
            None => request.form(&[("client_id", fx.client_id.as_str()), ("scope", "read")]),
        };
        request.send().unwrap().status().as_u16()
    };
    let stranger = from(2);
    for _ in 0..3 {
        assert_eq!(start(&stranger, None), 200);
    }
    assert_eq!(start(&stranger, None), 429, "the stranger's share is spent");
    assert_eq!(start(&from(3), None), 200, "a genuine device elsewhere");
    // A confidential client is counted by its id alone: only its holder can use it.
    let (id, secret) = (&fx.confidential.0, &fx.confidential.1);
    for _ in 0..3 {
        assert_eq!(start(&stranger, Some((id, secret))), 200);
    }
    assert_eq!(start(&from(3), Some((id, secret))), 429);
}

/// A code past its lifetime (2 s here) is `expired_token` at the token endpoint and refused
/// on the page.
#[test]
fn expired_codes_are_refused_everywhere() {
    let fx = Fixture::new("2", &[]);
    let fresh = fx.start();
    thread::sleep(Duration::from_millis(2_100));
    let (status, body) = fx.poll(fresh.device_code().secret(), None);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("expired_token")),
        "{body}"
    );
    let pages = fx.drive(
        "expired",
        &json!([{"goto": fx.verification_uri()}, sign_in(), {"code": fresh.user_code().secret()}]),
    );
    assert_eq!(pages[2]["status"], 400, "{}", pages[2]);
    assert!(
        pages[2]["text"]
            .as_str()
            .unwrap()
            .contains("That code is not valid"),
        "{}",
        pages[2]
    );
}

fn assert_clean_but_status(page: &Value) {
    let csp = page["content_security_policy"].as_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(page["csp_violations"], json!([]), "{page}");
}

/// A dynamically registered public client may use the grant only where `[device]` allows it.
#[test]
fn dynamic_public_clients_where_policy_allows() {
    let register = |server: &Server| {
        server
            .http
            .post(format!("{}/register", server.base))
            .json(&json!({
                "client_name": "cli",
                "token_endpoint_auth_method": "none",
                "grant_types": [DEVICE_GRANT],
            }))
            .send()
            .unwrap()
    };
    let closed = Server::start();
    let r = register(&closed);
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().unwrap()["error"],
        "invalid_client_metadata"
    );
    let open = Server::start_with(&[("GATEHOUSE_DEVICE__DYNAMIC_CLIENTS", "true")]);
    open.cli_json(&[
        "resource", "create", "--uri", RESOURCE, "--name", "TV", "--scope", "watch",
    ]);
    let r = register(&open);
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().unwrap()["client_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = open.post_form(
        "/device_authorization",
        None,
        &[("client_id", id.as_str()), ("resource", RESOURCE)],
    );
    assert_eq!(r.status(), 200, "{:?}", r.text());
    let started = r.json::<Value>().unwrap();
    assert!(started["device_code"].as_str().unwrap().starts_with("gdc_"));
    // F3: the question says the self-chosen name is not verified.
    admin_post(
        &open,
        "/admin/users",
        &json!({"username": USERNAME, "password": PASSWORD}),
    );
    let input = json!({"scenario": "self-registered", "artifacts": artifacts_dir(), "steps": [
        {"goto": format!("{}/device", open.base)}, sign_in(), {"code": started["user_code"]},
    ]});
    let report = crate::harness::run_node("browser", "device.mjs", "device browser driver", &input);
    let question = &report[2];
    assert_eq!(question["status"], 200, "{question}");
    assert!(
        question["text"]
            .as_str()
            .unwrap()
            .contains("This app registered itself: its name is not verified by"),
        "{question}"
    );
    assert_clean(question);
}

/// A code whose question keeps being shown is being phished or fumbled: after 5 showings the
/// next entry finds it dead, and the device hears `access_denied` (RFC 8628 §5.4).
#[test]
fn the_question_for_one_code_is_shown_a_few_times_only() {
    let fx = Fixture::new("120", &[]);
    let details = fx.start();
    let code = details.user_code().secret();
    let mut steps = vec![json!({"goto": fx.verification_uri()}), sign_in()];
    for _ in 0..6 {
        steps.push(json!({"code": code}));
        steps.push(json!({"goto": fx.verification_uri()}));
    }
    let pages = fx.drive("views", &json!(steps));
    for shown in (2..12).step_by(2) {
        assert!(
            pages[shown]["text"].as_str().unwrap().contains("A device"),
            "{}",
            pages[shown]
        );
    }
    assert_eq!(
        pages[12]["heading"], "This code can no longer be used",
        "{}",
        pages[12]
    );
    let (status, body) = fx.poll(details.device_code().secret(), None);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("access_denied")),
        "{body}"
    );
}

/// RFC 9449 §5.2: a poll by a `dpop_bound_access_tokens` client without a proof is refused
/// before the approved device code is spent, so the person's approval is not lost: the next
/// poll, with a proof, gets the (bound) tokens.
#[test]
fn a_poll_refused_for_a_missing_dpop_proof_keeps_the_approval() {
    let fx = Fixture::new("120", &[]);
    let tv = admin_post(
        &fx.server,
        "/admin/clients",
        &json!({
            "name": "DPoP TV",
            "grant_types": [DEVICE_GRANT],
            "token_endpoint_auth_method": "none",
            "scope": "read",
            "resources": [RESOURCE],
            "dpop_bound_access_tokens": true,
        }),
    );
    let id = tv["client_id"].as_str().unwrap();
    let r = fx.server.post_form(
        "/device_authorization",
        None,
        &[("client_id", id), ("scope", "read"), ("resource", RESOURCE)],
    );
    assert_eq!(r.status(), 200);
    let started: Value = r.json().unwrap();
    let (device_code, user_code) = (
        started["device_code"].as_str().unwrap(),
        started["user_code"].as_str().unwrap(),
    );
    let pages = fx.drive(
        "dpop",
        &json!([
            {"goto": format!("{}?user_code={user_code}", fx.verification_uri())},
            sign_in(),
            {"continue": true},
            {"decide": "approve"},
        ]),
    );
    assert_eq!(
        pages.last().unwrap()["heading"],
        "Device connected",
        "{pages:?}"
    );
    let form = [
        ("grant_type", DEVICE_GRANT),
        ("device_code", device_code),
        ("client_id", id),
    ];
    let r = fx.server.post_form("/token", None, &form);
    assert_eq!(r.status(), 400);
    let body: Value = r.json().unwrap();
    assert_eq!(body["error"], "invalid_dpop_proof", "{body}");
    // The interval (1 s) is respected before polling again.
    thread::sleep(Duration::from_millis(1_100));
    let key = crate::dpop::DpopKey::new();
    let url = format!("{}/token", fx.server.base);
    let r = fx
        .server
        .http
        .post(&url)
        .header("DPoP", key.proof("POST", &url))
        .form(&form)
        .send()
        .unwrap();
    let status = r.status().as_u16();
    let body: Value = r.json().unwrap();
    assert_eq!(status, 200, "the approval survived: {body}");
    assert_eq!(body["token_type"], "DPoP");
    let (_, claims) = jwt_parts(body["access_token"].as_str().unwrap());
    assert_eq!(claims["cnf"]["jkt"], key.jkt());
}
