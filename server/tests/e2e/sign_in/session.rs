//! The browser session: CSRF on the login and consent forms, no session fixation, `prompt`,
//! the sign-in limit, and what disabling a user ends.

use super::driver::{
    Browser, PASSWORD, STATE, Setup, Tokens, USERNAME, VERIFIER, add_user, admin,
    assert_error_page, assert_error_redirect, assert_oauth_error, assert_page_headers,
    assert_signed_in, assert_signed_out,
};

const EXPIRED: &str = "This form has expired";

/// A login or consent post refused as forged: a 400 page, no cookie set, no redirect.
fn assert_forged(page: &super::driver::Page) {
    assert_error_page(page, 400, EXPIRED);
    assert_eq!(page.set_cookie(), None, "no new cookie");
}

/// `fields` and, when given, `csrf`.
fn with_csrf<'a>(fields: &[(&'a str, &'a str)], csrf: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
    let mut form = fields.to_vec();
    form.extend(csrf.map(|c| ("csrf", c)));
    form
}

/// Login CSRF: a sign-in post without the CSRF token, with another browser's, or without the
/// cookie it is bound to is refused, and no session comes of it, even with the right password.
#[test]
fn sign_in_without_a_valid_csrf_token_is_refused() {
    let s = Setup::new();
    let mut victim = s.browser();
    let page = victim.authorize(&s.public.request());
    let cookie = victim.cookie.clone();
    assert!(cookie.is_some(), "the sign-in page gives a cookie");
    let mut attacker = s.browser();
    let theirs = attacker.authorize(&s.public.request());
    let request = page.field("request");
    let (own, other) = (page.field("csrf"), theirs.field("csrf"));
    assert_ne!(own, other);
    let fields = [
        ("request", request.as_str()),
        ("username", USERNAME),
        ("password", PASSWORD),
    ];
    let login = |csrf| with_csrf(&fields, csrf);
    for csrf in [None, Some(""), Some(other.as_str()), Some("x")] {
        assert_forged(&victim.post("/authorize/login", &login(csrf)));
    }
    let mut cookieless = Browser::new(&s.server);
    assert_forged(&cookieless.post("/authorize/login", &login(Some(&own))));
    assert_eq!(cookieless.cookie, None);
    // The attacker posting the victim's form from their own browser.
    assert_forged(&attacker.post("/authorize/login", &login(Some(&own))));
    assert_eq!(victim.cookie, cookie, "the cookie is unchanged");
    assert_signed_out(&mut victim, &s.public);
    assert_signed_out(&mut attacker, &s.public);
    let consent = victim.log_in(&page, USERNAME, PASSWORD);
    assert!(
        consent.is_consent(),
        "the real form still works: {}",
        consent.body
    );
}

/// Consent CSRF: an approval without the CSRF token, with another browser's, or without the
/// cookie is refused: no code, and nothing is remembered (the next request asks again).
#[test]
fn consent_without_a_valid_csrf_token_is_refused() {
    let s = Setup::new();
    let mut victim = s.browser();
    let page = victim.sign_in(&s.web);
    assert!(page.is_consent(), "{}", page.body);
    let mut other = s.browser();
    let theirs = other.sign_in(&s.web);
    let request = page.field("request");
    let (own, foreign) = (page.field("csrf"), theirs.field("csrf"));
    let fields = [("request", request.as_str()), ("decision", "approve")];
    let approve = |csrf| with_csrf(&fields, csrf);
    for csrf in [None, Some(""), Some(foreign.as_str())] {
        assert_forged(&victim.post("/authorize/consent", &approve(csrf)));
    }
    assert_forged(&Browser::new(&s.server).post("/authorize/consent", &approve(Some(&own))));
    assert_forged(&other.post("/authorize/consent", &approve(Some(&own))));
    let again = victim.authorize(&s.web.request());
    assert!(again.is_consent(), "nothing was remembered: {}", again.body);
    let again = other.authorize(&s.web.request());
    assert!(again.is_consent(), "nothing was remembered: {}", again.body);
}

/// Session fixation: a cookie planted before sign-in (an attacker's, from the sign-in page) is
/// replaced at sign-in, and the planted one has no session; so is the cookie at each sign-in.
#[test]
fn signing_in_rotates_the_session_cookie() {
    let s = Setup::new();
    let mut attacker = s.browser();
    attacker.authorize(&s.web.request());
    let planted = attacker.cookie.clone().expect("a cookie");
    let mut victim = Browser::with_cookie(&s.server, Some(planted.clone()));
    let page = victim.authorize(&s.web.request());
    assert_eq!(
        page.set_cookie(),
        None,
        "a browser with a cookie keeps it until sign-in"
    );
    let consent = victim.log_in(&page, USERNAME, PASSWORD);
    assert!(consent.is_consent(), "{}", consent.body);
    let signed_in = victim.cookie.clone().expect("a cookie");
    assert_ne!(signed_in, planted, "a new cookie at sign-in");
    assert_signed_out(&mut attacker, &s.web);
    assert_signed_in(&mut victim, &s.web);
    // Signing in again (prompt=login) rotates it again; the old one is ended.
    let page = victim.authorize(&s.web.request().with("prompt", "login"));
    victim.log_in(&page, USERNAME, PASSWORD);
    let again = victim.cookie.clone().expect("a cookie");
    assert_ne!(again, signed_in);
    assert_signed_out(
        &mut Browser::with_cookie(&s.server, Some(signed_in)),
        &s.web,
    );
    assert_signed_in(&mut victim, &s.web);
}

/// OIDC `prompt=none` (§2.1 item 16): without a session (no cookie, an unknown cookie, a
/// cookie whose session ended) the answer is a `login_required` redirect with `state` and
/// `iss`, no page and no cookie.
#[test]
fn prompt_none_without_a_session_redirects_login_required() {
    let s = Setup::new();
    let mut ended = s.browser();
    ended.sign_in(&s.public);
    let old = ended.cookie.clone();
    let confirm = ended.get("/logout");
    let page = ended.post(
        "/logout/confirm",
        &[
            ("request", &confirm.field("request")),
            ("csrf", &confirm.field("csrf")),
        ],
    );
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(ended.cookie, None, "the cookie is cleared");
    let unknown = "A".repeat(43);
    for cookie in [None, Some(unknown), old] {
        let mut browser = Browser::with_cookie(&s.server, cookie.clone());
        for app in [&s.public, &s.web] {
            let page = browser.authorize(&app.request().with("prompt", "none"));
            assert_error_redirect(
                &page,
                &s.server,
                &app.redirect_uri,
                "login_required",
                Some(STATE),
            );
            assert_eq!(page.set_cookie(), None);
        }
    }
}

/// `prompt=login` (§2.1 item 17): a signed-in browser whose consent is remembered, which would
/// get a code at once, is shown the sign-in page instead.
#[test]
fn prompt_login_shows_the_sign_in_page_to_a_signed_in_browser() {
    let s = Setup::new();
    let mut browser = s.browser();
    browser.code(&s.web, &s.web.request());
    let page = browser.authorize(&s.web.request());
    assert!(
        page.redirect_params(&s.web.redirect_uri)
            .contains_key("code")
    );
    let page = browser.authorize(&s.web.request().with("prompt", "login"));
    assert!(page.is_sign_in(), "{}", page.body);
    let page = browser.log_in(&page, USERNAME, PASSWORD);
    let code = page.redirect_params(&s.web.redirect_uri)["code"].clone();
    Tokens::of(&s.web.redeem(&s.server, &code, VERIFIER));
}

/// The sign-in limit: five wrong passwords for one account, and the sixth attempt is a 429
/// page with `Retry-After`; the right password is refused while it lasts, in any letter case;
/// no session comes of it; another account signs in from the same address.
#[test]
fn the_sixth_failed_sign_in_is_throttled() {
    let s = Setup::new();
    add_user(&s.server, "bob", "another horse battery");
    let mut browser = s.browser();
    let page = browser.authorize(&s.public.request());
    for n in 0..5 {
        let failed = browser.log_in(&page, USERNAME, &format!("wrong horse {n}"));
        assert!(failed.is_sign_in(), "attempt {n}: {}", failed.body);
        assert!(failed.body.contains("Wrong username or password."));
    }
    for (username, password) in [
        (USERNAME, "wrong horse 5"),
        (USERNAME, PASSWORD),
        ("ALICE", PASSWORD),
    ] {
        let locked = browser.log_in(&page, username, password);
        assert_error_page(&locked, 429, "Too many attempts");
        let wait: u64 = locked.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=300).contains(&wait), "Retry-After {wait}");
        assert_eq!(locked.set_cookie(), None);
    }
    assert_signed_out(&mut browser, &s.public);
    let consent = browser.log_in(&page, "bob", "another horse battery");
    assert!(consent.is_consent(), "{}", consent.body);
    assert_page_headers(&consent, "consent");
}

/// Disabling a user (admin API) ends what they had: their refresh token is `invalid_grant`, a
/// code issued before cannot be redeemed, UserInfo refuses their access token, their browser
/// is shown the sign-in page again, and the right password no longer signs them in.
#[test]
fn a_disabled_user_loses_tokens_and_session() {
    let s = Setup::new();
    let mut browser = s.browser();
    let tokens = {
        let code = browser.code(&s.web, &s.web.request());
        Tokens::of(&s.web.redeem(&s.server, &code, VERIFIER))
    };
    let pending = browser.code(&s.web, &s.web.request());
    let userinfo = |token: &str| {
        let r = s
            .server
            .http
            .get(format!("{}/userinfo", s.server.base))
            .bearer_auth(token)
            .send()
            .unwrap();
        super::driver::Page::read(r)
    };
    assert_eq!(userinfo(&tokens.access).status, 200);
    let (status, ended) = admin(&s.server, "POST", "/admin/users/alice/disable", None);
    assert_eq!(status, 200, "{ended}");
    assert_eq!(ended["disabled"], true);
    assert_eq!(ended["sessions_ended"], 1, "{ended}");

    assert_oauth_error(
        &s.web.refresh(&s.server, &tokens.refresh),
        400,
        "invalid_grant",
    );
    assert_oauth_error(
        &s.web.redeem(&s.server, &pending, VERIFIER),
        400,
        "invalid_grant",
    );
    let info = userinfo(&tokens.access);
    assert_eq!(info.status, 401);
    assert!(
        info.header("www-authenticate")
            .unwrap()
            .contains("error=\"invalid_token\"")
    );
    let page = browser.authorize(&s.web.request());
    assert!(page.is_sign_in(), "signed out: {}", page.body);
    let page = browser.log_in(&page, USERNAME, PASSWORD);
    assert!(page.is_sign_in(), "{}", page.body);
    assert!(page.body.contains("Wrong username or password."));
    assert_signed_out(&mut browser, &s.web);
}

/// An operator revokes a user's consent to a client (admin API): it is listed before and gone
/// after, the refresh tokens of that grant die, the client must ask again, and revoking it a
/// second time is 404 and changes nothing.
#[test]
fn an_operator_revokes_a_consent_and_its_refresh_tokens() {
    let s = Setup::new();
    let code = s.browser().code(&s.web, &s.web.request());
    let tokens = Tokens::of(&s.web.redeem(&s.server, &code, VERIFIER));
    let path = format!("/admin/users/{USERNAME}/consents");
    let (status, listed) = admin(&s.server, "GET", &path, None);
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed[0]["client_id"], s.web.id.as_str(), "{listed}");
    let one = format!("{path}/{}", s.web.id);
    assert_eq!(admin(&s.server, "DELETE", &one, None).0, 204);
    let (_, listed) = admin(&s.server, "GET", &path, None);
    assert_eq!(listed, serde_json::json!([]));
    assert_oauth_error(
        &s.web.refresh(&s.server, &tokens.refresh),
        400,
        "invalid_grant",
    );
    let (status, _) = admin(&s.server, "DELETE", &one, None);
    assert_eq!(status, 404);
    let mut browser = s.browser();
    let page = browser.sign_in(&s.web);
    assert!(page.is_consent(), "asked again: {}", page.body);
}

/// The CSRF token of a form is bound to the request it carries, not only to the browser: the
/// consent form of one request cannot approve another, even in the same browser (the probe's
/// hardening note: a per-browser token approved any request).
#[test]
fn a_consent_token_approves_its_own_request_only() {
    let s = Setup::new();
    let mut browser = s.browser();
    let first = browser.sign_in(&s.web);
    assert!(first.is_consent(), "{}", first.body);
    let other = s.web.request().with("state", "another-state");
    let second = browser.authorize(&other);
    assert!(second.is_consent(), "{}", second.body);
    let crossed = browser.post(
        "/authorize/consent",
        &[
            ("request", second.field("request").as_str()),
            ("csrf", first.field("csrf").as_str()),
            ("decision", "approve"),
        ],
    );
    assert_error_page(&crossed, 400, EXPIRED);
    let page = browser.decide(&second, "approve");
    let params = page.redirect_params(&s.web.redirect_uri);
    assert_eq!(params["state"], "another-state");
}
