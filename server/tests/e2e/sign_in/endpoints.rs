//! The endpoints around the flow: pushed authorization requests (RFC 9126), UserInfo (OIDC
//! Core §5.3, RFC 6750 §3) and RP-initiated logout.

use serde_json::json;

use super::driver::{
    App, Browser, Page, RESOURCE, SCOPE, STATE, Setup, Tokens, USERNAME, VERIFIER, add_user,
    assert_error_page, assert_error_redirect, assert_signed_in, assert_signed_out, register,
};

/// Pushes `app`'s request; the `request_uri`.
fn push(s: &Setup, app: &App) -> String {
    let page = app.post(&s.server, "/par", &app.request().pairs());
    assert_eq!(page.status, 201, "{}", page.body);
    let body = page.json();
    assert_eq!(body["expires_in"], 90);
    let uri = body["request_uri"].as_str().unwrap();
    assert!(
        uri.starts_with("urn:ietf:params:oauth:request_uri:"),
        "{uri}"
    );
    uri.to_owned()
}

fn by_reference(app: &App, request_uri: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([("client_id", app.id.as_str()), ("request_uri", request_uri)])
        .finish()
}

/// RFC 9126 §4, §7.3 (§2.2 items 48, 51): a `request_uri` works from `client_id` and
/// `request_uri` alone, in the browser that used it first (a reload shows the sign-in page
/// again) until the authorization completes; then, or in another browser, signed in or not, it
/// is an error page, and no second code comes of it.
#[test]
fn a_pushed_request_uri_works_once() {
    let s = Setup::new();
    let request_uri = push(&s, &s.web);
    let query = by_reference(&s.web, &request_uri);
    let mut browser = s.browser();
    let page = browser.get(&format!("/authorize?{query}"));
    assert!(page.is_sign_in(), "{}", page.body);
    // A reload of the sign-in page works in this browser (RFC 9126 §4), not in another.
    let reload = browser.get(&format!("/authorize?{query}"));
    assert!(reload.is_sign_in(), "{}", reload.body);
    let elsewhere = Browser::new(&s.server).get(&format!("/authorize?{query}"));
    assert_error_page(&elsewhere, 400, "used already");
    let page = browser.log_in(&reload, USERNAME, super::driver::PASSWORD);
    let page = browser.decide(&page, "approve");
    let params = page.redirect_params(&s.web.redirect_uri);
    assert_eq!(params.get("state").map(String::as_str), Some(STATE));
    assert_eq!(params.get("iss"), Some(&s.server.base));
    Tokens::of(&s.web.redeem(&s.server, &params["code"], VERIFIER));
    for mut again in [browser, Browser::new(&s.server)] {
        let page = again.get(&format!("/authorize?{query}"));
        assert_error_page(&page, 400, "used already");
    }
    // Another client naming a pushed request of this one.
    let request_uri = push(&s, &s.web);
    let page = s.browser().get(&format!(
        "/authorize?{}",
        by_reference(&s.public, &request_uri)
    ));
    assert_error_page(&page, 400, "used already");
}

/// RFC 9126 §2.1: a confidential client may authenticate with `client_secret_post`, in the
/// same body as its request; the secret is never kept with the pushed request, so it never
/// reaches the pages (found by review: it was carried in the sign-in page's hidden field).
#[test]
fn a_pushed_request_never_carries_the_clients_secret() {
    let s = Setup::new();
    let secret = s.web.secret.clone().unwrap();
    let request = s.web.request();
    let mut form = request.pairs();
    form.push(("client_secret", &secret));
    let answer = Page::read(
        s.server
            .http
            .post(format!("{}/par", s.server.base))
            .form(&form)
            .send()
            .unwrap(),
    );
    assert_eq!(answer.status, 201, "{}", answer.body);
    let uri = answer.json()["request_uri"].as_str().unwrap().to_owned();
    let mut browser = s.browser();
    let page = browser.get(&format!("/authorize?{}", by_reference(&s.web, &uri)));
    assert!(page.is_sign_in(), "{}", page.body);
    assert!(!page.body.contains(&secret), "the secret reached the page");
    assert!(!page.field("request").contains("client_secret"));
    let page = browser.log_in(&page, USERNAME, super::driver::PASSWORD);
    assert!(
        !page.body.contains(&secret),
        "the secret reached the consent page"
    );
    let page = browser.decide(&page, "approve");
    let params = page.redirect_params(&s.web.redirect_uri);
    Tokens::of(&s.web.redeem(&s.server, &params["code"], VERIFIER));
}

/// The pages carry a used pushed request sealed to the browser that used its `request_uri`:
/// another browser cannot replay it, in a query or in a form (found by review: the seal was
/// bound to nothing and never expired).
#[test]
fn a_used_pushed_request_is_of_no_use_to_another_browser() {
    let s = Setup::new();
    let uri = push(&s, &s.web);
    let mut mine = s.browser();
    let page = mine.get(&format!("/authorize?{}", by_reference(&s.web, &uri)));
    assert!(page.is_sign_in(), "{}", page.body);
    let sealed = page.field("request");
    assert!(sealed.starts_with("pushed."), "{sealed}");
    let mut theirs = s.browser();
    let query: String = url::form_urlencoded::byte_serialize(sealed.as_bytes()).collect();
    let replayed = theirs.get(&format!("/authorize?{query}"));
    assert!(!replayed.is_sign_in(), "another browser got a sign-in page");
    // Unsealed, the text is no request: at best its last parameters name the client, and the
    // first (`pushed.….response_type`) is not `response_type`: an error, never a code.
    let location = replayed.location().unwrap_or("");
    assert!(
        replayed.status == 400 || location.contains("error=invalid_request"),
        "{} {location}",
        replayed.status
    );
    assert!(!location.contains("code="), "{location}");
    // Their own sign-in page (any client) gives them a CSRF token; with our sealed request it
    // is still refused.
    let own = theirs.authorize(&s.web.request());
    let posted = theirs.post(
        "/authorize/login",
        &[
            ("request", sealed.as_str()),
            ("csrf", own.field("csrf").as_str()),
            ("username", USERNAME),
            ("password", super::driver::PASSWORD),
        ],
    );
    assert!(
        posted.location().is_none_or(|l| !l.contains("code=")),
        "{}",
        posted.status
    );
    assert!(
        !posted.is_consent(),
        "another browser reached consent with our pushed request"
    );
    // Ours still works, through sign-in (the seal follows the new cookie) and consent.
    let page = mine.log_in(&page, USERNAME, super::driver::PASSWORD);
    assert!(page.is_consent(), "{}", page.body);
    assert!(page.field("request").starts_with("pushed."));
    let page = mine.decide(&page, "approve");
    let params = page.redirect_params(&s.web.redirect_uri);
    assert_eq!(params.get("state").map(String::as_str), Some(STATE));
}

/// RFC 9126 §5 (§2.2 item 30): a client registered with
/// `require_pushed_authorization_requests` that sends its request directly gets
/// `invalid_request` at its redirect URI, even from a signed-in browser whose consent is
/// remembered; pushed, the same request gets its code.
#[test]
fn a_client_that_must_push_cannot_send_a_direct_request() {
    let s = Setup::new();
    let strict = register(
        &s.server,
        &json!({
            "name": "Strict",
            "grant_types": ["authorization_code", "refresh_token"],
            "redirect_uris": ["https://strict.example/cb"],
            "scope": SCOPE,
            "resources": [RESOURCE],
            "require_pushed_authorization_requests": true,
        }),
    );
    let mut browser = s.browser();
    let direct = browser.authorize(&strict.request());
    assert_error_redirect(
        &direct,
        &s.server,
        &strict.redirect_uri,
        "invalid_request",
        Some(STATE),
    );
    assert_eq!(browser.cookie, None, "refused before any page");
    let pushed = by_reference(&strict, &push(&s, &strict));
    let page = browser.get(&format!("/authorize?{pushed}"));
    let page = browser.log_in(&page, USERNAME, super::driver::PASSWORD);
    let page = browser.decide(&page, "approve");
    assert!(
        page.redirect_params(&strict.redirect_uri)
            .contains_key("code")
    );
    let direct = browser.authorize(&strict.request());
    assert_error_redirect(
        &direct,
        &s.server,
        &strict.redirect_uri,
        "invalid_request",
        Some(STATE),
    );
}

fn userinfo(s: &Setup, token: Option<&str>) -> Page {
    let mut req = s.server.http.get(format!("{}/userinfo", s.server.base));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    Page::read(req.send().unwrap())
}

/// The `error` of a page's `WWW-Authenticate: Bearer` challenge, if it names one.
fn challenge_error(page: &Page) -> Option<String> {
    let value = page.header("www-authenticate").expect("a challenge");
    assert!(value.starts_with("Bearer"), "{value}");
    let start = value.find("error=\"")? + 7;
    Some(value[start..start + value[start..].find('"')?].to_owned())
}

/// UserInfo: an `openid` access token gets the user's `sub`; one without `openid` is 403
/// `insufficient_scope`; no token is a bare 401 challenge; garbage, a tampered or a revoked
/// token is 401 `invalid_token`.
#[test]
fn userinfo_needs_a_valid_openid_access_token() {
    let s = Setup::new();
    let tokens = s.tokens(&s.public);
    let page = userinfo(&s, Some(&tokens.access));
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.json()["sub"], s.user_id.as_str());
    assert_eq!(page.header("cache-control"), Some("no-store"));

    let code = s
        .browser()
        .code(&s.public, &s.public.request().with("scope", "read"));
    let read_only = Tokens::of(&s.public.redeem(&s.server, &code, VERIFIER));
    let page = userinfo(&s, Some(&read_only.access));
    assert_eq!(page.status, 403);
    assert_eq!(
        challenge_error(&page).as_deref(),
        Some("insufficient_scope")
    );

    let page = userinfo(&s, None);
    assert_eq!(page.status, 401);
    assert_eq!(challenge_error(&page), None);
    let mut tampered = tokens.access.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    for bad in ["garbage", tampered.as_str()] {
        let page = userinfo(&s, Some(bad));
        assert_eq!(page.status, 401, "{bad}");
        assert_eq!(challenge_error(&page).as_deref(), Some("invalid_token"));
    }
    let revoked = s
        .public
        .post(&s.server, "/revoke", &[("token", &tokens.access)]);
    assert_eq!(revoked.status, 200);
    let page = userinfo(&s, Some(&tokens.access));
    assert_eq!(page.status, 401);
    assert_eq!(challenge_error(&page).as_deref(), Some("invalid_token"));
    assert_eq!(
        userinfo(&s, Some(&read_only.access)).status,
        403,
        "others unaffected"
    );
}

/// The sign-out query for `pairs`.
fn logout_query(pairs: &[(&str, &str)]) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("/logout?{query}")
}

/// RP-initiated logout with a valid `id_token_hint` for the signed-in user: a 303 to the
/// registered post-logout URI with `state`, the cookie cleared and the session ended (the old
/// cookie no longer signs anyone in).
#[test]
fn logout_with_an_id_token_hint_ends_the_session_and_redirects() {
    let s = Setup::new();
    let mut browser = s.browser();
    let code = browser.code(&s.public, &s.public.request());
    let hint = Tokens::of(&s.public.redeem(&s.server, &code, VERIFIER))
        .id_token
        .expect("an ID token");
    let cookie = browser.cookie.clone();
    let page = browser.get(&logout_query(&[
        ("id_token_hint", &hint),
        (
            "post_logout_redirect_uri",
            "https://client.example/signed-out",
        ),
        ("state", STATE),
    ]));
    let params = page.redirect_params("https://client.example/signed-out");
    assert_eq!(params.get("state").map(String::as_str), Some(STATE));
    assert_eq!(params.len(), 1, "{params:?}");
    assert_eq!(
        page.set_cookie().as_deref(),
        Some(""),
        "the cookie is cleared"
    );
    assert_eq!(browser.cookie, None);
    assert_signed_out(&mut Browser::with_cookie(&s.server, cookie), &s.public);
}

/// A cross-site form post to `/logout` carries no `SameSite=Lax` cookie: it is sent to the
/// `GET` form of itself (which carries it, and so asks the signed-in person), and clears no
/// cookie (found by the probe: it answered `Set-Cookie: …; Max-Age=0` at once).
#[test]
fn a_cross_site_logout_post_clears_nothing() {
    let s = Setup::new();
    let mut browser = s.browser();
    browser.sign_in(&s.public);
    let mut stranger = Browser::new(&s.server);
    let page = stranger.post("/logout", &[("client_id", s.public.id.as_str())]);
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.set_cookie(), None, "no cookie cleared");
    let to = page.location().unwrap().to_owned();
    assert!(to.starts_with("/logout?client_id="), "{to}");
    // The browser follows it with its cookie: the person is asked, and still signed in.
    let page = browser.get(&to);
    assert!(page.body.contains("/logout/confirm\""), "{}", page.body);
    assert_signed_in(&mut browser, &s.public);
}

/// Without a hint (or with the hint of someone else) a signed-in person is asked first: a
/// confirmation page, the session intact; a confirmation without the CSRF token, or with
/// another browser's, is refused; the real one ends the session and redirects with `state`.
#[test]
fn logout_without_a_hint_asks_for_confirmation() {
    let s = Setup::new();
    add_user(&s.server, "bob", "another horse battery");
    let bob_hint = {
        let mut bob = s.browser();
        let page = bob.authorize(&s.public.request());
        let page = bob.log_in(&page, "bob", "another horse battery");
        let page = bob.decide(&page, "approve");
        let code = page.redirect_params(&s.public.redirect_uri)["code"].clone();
        Tokens::of(&s.public.redeem(&s.server, &code, VERIFIER))
            .id_token
            .unwrap()
    };
    let mut browser = s.browser();
    browser.sign_in(&s.public);
    let cookie = browser.cookie.clone();
    let target = "https://client.example/signed-out";
    let mut confirm = None;
    for named in [
        ("client_id", s.public.id.as_str()),
        ("id_token_hint", bob_hint.as_str()),
    ] {
        let page = browser.get(&logout_query(&[
            named,
            ("post_logout_redirect_uri", target),
            ("state", STATE),
        ]));
        assert_eq!(page.status, 200, "{}", page.body);
        assert_eq!(page.location(), None);
        assert!(page.body.contains("/logout/confirm\""), "{}", page.body);
        assert_eq!(page.set_cookie(), None);
        assert_signed_in(&mut browser, &s.public);
        confirm.get_or_insert(page);
    }
    let confirm = confirm.unwrap();
    let request = confirm.field("request");
    let mut other = s.browser();
    other.sign_in(&s.public);
    let foreign = other.get("/logout").field("csrf");
    for csrf in [None, Some(foreign.as_str())] {
        let mut form = vec![("request", request.as_str())];
        form.extend(csrf.map(|c| ("csrf", c)));
        let page = browser.post("/logout/confirm", &form);
        assert_error_page(&page, 400, "This form has expired");
        assert_signed_in(&mut browser, &s.public);
    }
    let page = browser.post(
        "/logout/confirm",
        &[("request", &request), ("csrf", &confirm.field("csrf"))],
    );
    let params = page.redirect_params(target);
    assert_eq!(params.get("state").map(String::as_str), Some(STATE));
    assert_signed_out(&mut Browser::with_cookie(&s.server, cookie), &s.public);
}
