//! §1.1 Redirect URIs: exact matching (loopback ports excepted), what may be registered, and
//! an error page, never a redirect, while the client or its redirect URI is in doubt.

use serde_json::json;

use super::driver::{
    Browser, Setup, VERIFIER, admin, assert_error_page, assert_oauth_error, code_client,
};

const NOT_REGISTERED: &str = "has not registered";

/// Matrix §1.1 item 1 (and §2.1 items 1, 3): every near miss of `https://web.example/cb` is an
/// error page, even in a browser that is signed in and has consented, where the registered URI
/// gets a code at once.
#[test]
fn redirect_uris_match_exactly_even_for_a_signed_in_browser() {
    let s = Setup::new();
    let mut browser = s.browser();
    browser.code(&s.web, &s.web.request());
    let page = browser.authorize(&s.web.request());
    assert!(
        page.redirect_params(&s.web.redirect_uri)
            .contains_key("code"),
        "signed in with consent remembered: a code at once"
    );
    for uri in [
        "https://web.example/cb/",
        "https://web.example/CB",
        "https://WEB.example/cb",
        "https://web.example/cb?x=1",
        "https://web.example/cb#f",
        "https://web.example/x/../cb",
        "https://web.example%2Fcb",
        "https://web.example/cb%2F",
        "https://web.example@evil.example/cb",
        "https://web.example.evil.example/cb",
        "https://web.example:443/cb",
        "http://web.example/cb",
        "https://evil.example/cb",
    ] {
        let page = browser.authorize(&s.web.request().with("redirect_uri", uri));
        assert_error_page(&page, 400, NOT_REGISTERED);
    }
    // A query registered is part of the exact match (§2.1 items 4, 5).
    let with_query = code_client(&s.server, false, &["https://q.example/cb?a=1"], &[]);
    for uri in [
        "https://q.example/cb?a=2",
        "https://q.example/cb",
        "https://q.example/cb?a=1&b=2",
    ] {
        let page = browser.authorize(&with_query.request().with("redirect_uri", uri));
        assert_error_page(&page, 400, NOT_REGISTERED);
    }
    let code = browser.code(&with_query, &with_query.request());
    let tokens = with_query.redeem(&s.server, &code, VERIFIER);
    assert_eq!(tokens.status, 200, "{}", tokens.body);
}

/// Matrix §1.1 item 2 (fosite CVE-2020-15233): a loopback redirect URI matches on any port and
/// on nothing else; the token request repeats the very URI the authorization request used.
#[test]
fn loopback_redirect_uris_match_on_the_port_only() {
    let s = Setup::new();
    let native = code_client(
        &s.server,
        true,
        &["http://127.0.0.1/cb", "http://[::1]/cb"],
        &[],
    );
    let mut browser = s.browser();
    for uri in [
        "http://127.0.0.1:51004/cb",
        "http://[::1]:51004/cb",
        "http://127.0.0.1/cb",
    ] {
        let page = browser.authorize(&native.request().with("redirect_uri", uri));
        assert!(page.is_sign_in(), "{uri}: {}", page.body);
    }
    browser.sign_in(&native);
    for uri in [
        "http://127.0.0.1:51004/cb2",
        "http://127.0.0.1:51004/cb?x=1",
        "http://127.0.0.1:51004/cb/",
        "http://127.0.0.1:51004/CB",
        "http://localhost:51004/cb",
        "https://127.0.0.1:51004/cb",
        "http://127.0.0.2:51004/cb",
        "http://[::1]:51004/cb#f",
        "http://127.0.0.1:51004@evil.example/cb",
        "http://127.0.0.1.evil.example:51004/cb",
        "http://127.0.0.1:/cb",
        "http://127.0.0.1:5100x/cb",
    ] {
        let page = browser.authorize(&native.request().with("redirect_uri", uri));
        assert_error_page(&page, 400, NOT_REGISTERED);
    }
    // Two loopback URIs registered and none named: the port is the app's choice each time.
    let page = browser.authorize(&native.request().without("redirect_uri"));
    assert_error_page(&page, 400, "names no redirect_uri");

    let on_port = native
        .request()
        .with("redirect_uri", "http://127.0.0.1:51004/cb");
    let code = browser.code(&native, &on_port);
    let other_port = native.post(
        &s.server,
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", VERIFIER),
            ("redirect_uri", "http://127.0.0.1:51005/cb"),
        ],
    );
    assert_oauth_error(&other_port, 400, "invalid_grant");
    let code = browser.code(&native, &on_port);
    let redeemed = native.post(
        &s.server,
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", VERIFIER),
            ("redirect_uri", "http://127.0.0.1:51004/cb"),
        ],
    );
    assert_eq!(redeemed.status, 200, "{}", redeemed.body);
}

/// RFC 6749 §4.1.3, matrix §1.3 item 25: the token request repeats the authorization request's
/// redirect URI exactly, or the code is refused.
#[test]
fn the_token_request_must_repeat_the_redirect_uri() {
    let s = Setup::new();
    let mut browser = s.browser();
    for uri in [
        None,
        Some("https://client.example/cb/"),
        Some("https://evil.example/cb"),
    ] {
        let code = browser.code(&s.public, &s.public.request());
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("code_verifier", VERIFIER),
        ];
        form.extend(uri.map(|u| ("redirect_uri", u)));
        let page = s.public.post(&s.server, "/token", &form);
        assert_oauth_error(&page, 400, "invalid_grant");
    }
}

/// Matrix §1.1 items 3, 4, 5, 8: plain http off loopback, fragments, bare private-use schemes
/// and schemes that run code are refused at registration (as redirect URIs and as
/// post-logout redirect URIs); nothing is registered. A reverse-domain scheme is accepted.
#[test]
fn registration_refuses_unsafe_redirect_uris() {
    let s = Setup::new();
    let count = || {
        admin(&s.server, "GET", "/admin/clients", None)
            .1
            .as_array()
            .unwrap()
            .len()
    };
    let before = count();
    let body = |field: &str, uri: &str| {
        let mut body = json!({
            "name": "Evil",
            "grant_types": ["authorization_code"],
            "token_endpoint_auth_method": "none",
            "redirect_uris": ["https://app.example/cb"],
            "scope": "read",
            "resources": ["https://mcp.example"],
        });
        body[field] = json!([uri]);
        body
    };
    let mut codes = Vec::new();
    for (field, uri) in [
        ("redirect_uris", "http://app.example/cb"),
        ("redirect_uris", "https://c.example/cb#x"),
        ("redirect_uris", "myapp:/cb"),
        ("redirect_uris", "javascript:alert(1)"),
        ("redirect_uris", "JavaScript:alert(1)"),
        ("redirect_uris", "data:text/html,<script>alert(1)</script>"),
        ("redirect_uris", "vbscript:msgbox(1)"),
        ("redirect_uris", "file:///etc/passwd"),
        ("redirect_uris", "https://user@app.example/cb"),
        ("redirect_uris", "/cb"),
        ("post_logout_redirect_uris", "javascript:alert(1)"),
        ("post_logout_redirect_uris", "data:text/html,x"),
        ("post_logout_redirect_uris", "http://app.example/bye"),
        ("post_logout_redirect_uris", "https://app.example/bye#x"),
    ] {
        let (status, answer) = admin(&s.server, "POST", "/admin/clients", Some(&body(field, uri)));
        assert_eq!(status, 400, "{field} {uri}: {answer}");
        let description = answer["error_description"].as_str().unwrap_or("");
        assert!(description.starts_with(field), "{field} {uri}: {answer}");
        codes.push((field, uri, answer["error"].clone()));
    }
    assert_eq!(count(), before, "nothing was registered");
    let (status, created) = admin(
        &s.server,
        "POST",
        "/admin/clients",
        Some(&body("redirect_uris", "com.example.app:/cb")),
    );
    assert_eq!(status, 201, "{created}");
    // RFC 7591 §3.2.2 and the matrix (§1.1 items 3, 8): the error code names the redirect URI.
    let other: Vec<_> = codes
        .iter()
        .filter(|(_, _, error)| error != "invalid_redirect_uri")
        .collect();
    assert!(other.is_empty(), "not invalid_redirect_uri: {other:?}");
}

/// Matrix §1.1 items 6, 7 (§2.1 item 2): no client, an unknown client, or no redirect URI where
/// two are registered: an error page, nothing sent anywhere.
#[test]
fn an_unknown_client_or_an_unnamed_redirect_uri_gets_an_error_page() {
    let s = Setup::new();
    let two = code_client(
        &s.server,
        false,
        &["https://two.example/a", "https://two.example/b"],
        &[],
    );
    let mut browser = s.browser();
    browser.sign_in(&s.web);
    let cases = [
        (
            two.request().without("redirect_uri"),
            "names no redirect_uri",
        ),
        (s.web.request().without("client_id"), "client_id is missing"),
        (
            s.web.request().with("client_id", "no-such-client"),
            "not registered",
        ),
        (
            s.web.request().with("client_id", ""),
            "client_id is missing",
        ),
        (
            s.web.request().and("client_id", &s.public.id),
            "more than once",
        ),
    ];
    for (request, says) in cases {
        let page = browser.authorize(&request);
        assert_error_page(&page, 400, says);
    }
    // The same for a request sent as a form: from a browser without a cookie (a cross-site
    // post carries no SameSite=Lax cookie) it is first sent to the GET form of itself, which
    // carries the cookie; then the same error page.
    let mut fresh = Browser::new(&s.server);
    let page = fresh.post("/authorize", &two.request().without("redirect_uri").pairs());
    assert_eq!(page.status, 303, "{}", page.body);
    let to = page.location().unwrap().to_owned();
    assert!(to.starts_with("/authorize?"), "{to}");
    assert_eq!(fresh.cookie, None, "the hop gives no cookie");
    let page = fresh.get(&to);
    assert_error_page(&page, 400, "names no redirect_uri");
    assert_eq!(fresh.cookie, None, "an error page gives no cookie");
    // With a cookie (a same-site post), the form is handled where it was posted.
    let mut known = s.browser();
    known.authorize(&s.web.request());
    let page = known.post("/authorize", &two.request().without("redirect_uri").pairs());
    assert_error_page(&page, 400, "names no redirect_uri");
}
