//! §1.7 Browser-facing defences: no framing and no referrer on any page, 303 after every
//! credential post, `iss` on every authorization response, no open redirector at logout.

use super::driver::{
    App, Browser, PASSWORD, Page, STATE, Setup, Tokens, USERNAME, VERIFIER, assert_error_page,
    assert_error_redirect, assert_page_headers, assert_signed_in, code_client,
};

/// Every `src` and `href` of `page` is on this server: no third-party resource.
fn assert_own_resources(page: &Page, base: &str, what: &str) {
    for attribute in ["src=\"", "href=\""] {
        for (at, _) in page.body.match_indices(attribute) {
            let value = &page.body[at + attribute.len()..];
            let value = &value[..value.find('"').unwrap()];
            assert!(
                value.starts_with('/') && !value.starts_with("//") || value.starts_with(base),
                "{what} loads {value}"
            );
        }
    }
}

/// Matrix §1.7 items 51, 52: every page (sign-in, wrong password, consent, every error page,
/// form post, sign-out confirmation, signed out) forbids framing (CSP `frame-ancestors 'none'`
/// and `X-Frame-Options`), sends no referrer, is never cached, and loads nothing from
/// elsewhere.
#[test]
fn every_page_forbids_framing_and_referrers() {
    let s = Setup::new();
    let base = s.server.base.clone();
    let mut pages: Vec<(&str, Page)> = Vec::new();
    let mut browser = s.browser();
    let sign_in = browser.authorize(&s.public.request());
    assert!(sign_in.is_sign_in());
    let wrong = browser.log_in(&sign_in, USERNAME, "wrong horse battery");
    assert!(
        wrong.body.contains("Wrong username or password."),
        "{}",
        wrong.body
    );
    let consent = browser.log_in(&sign_in, USERNAME, PASSWORD);
    assert!(consent.is_consent(), "{}", consent.body);
    let undecided = browser.post(
        "/authorize/consent",
        &[
            ("request", &consent.field("request")),
            ("csrf", &consent.field("csrf")),
        ],
    );
    assert_error_page(&undecided, 400, "Nothing was decided");
    let expired = browser.post(
        "/authorize/login",
        &[("request", &sign_in.field("request"))],
    );
    assert_error_page(&expired, 400, "This form has expired");
    let unknown = browser.authorize(&s.public.request().with("client_id", "nobody"));
    assert_error_page(&unknown, 400, "not registered");
    let broken = browser.get("/authorize?client_id=%ZZ");
    assert_error_page(&broken, 400, "could not be read");
    let approved = browser.decide(&consent, "approve");
    let confirm = browser.get("/logout");
    assert!(
        confirm.body.contains("/logout/confirm\""),
        "{}",
        confirm.body
    );
    let refused = browser.get("/logout?post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F");
    assert_error_page(&refused, 400, "has not registered");
    let signed_out = Browser::new(&s.server).get("/logout");
    let post_form = {
        let mut b = s.browser();
        b.approve(&s.public.request().with("response_mode", "form_post"))
    };
    pages.extend([
        ("sign-in", sign_in),
        ("wrong password", wrong),
        ("consent", consent),
        ("nothing decided", undecided),
        ("expired form", expired),
        ("unknown client", unknown),
        ("broken request", broken),
        ("logout confirmation", confirm),
        ("logout refused", refused),
        ("signed out", signed_out),
        ("form post", post_form),
    ]);
    assert_eq!(approved.status, 303);
    for (what, page) in &pages {
        assert_page_headers(page, what);
        assert_own_resources(page, &base, what);
    }
}

/// Matrix §1.7 item 53: the login and consent posts answer 303 (never 307, which would
/// re-post the password to the client): approve, deny, and a login that needs no consent.
#[test]
fn credential_posts_answer_with_303() {
    let s = Setup::new();
    let mut first = s.browser();
    let consent = first.sign_in(&s.web);
    assert!(consent.is_consent(), "{}", consent.body);
    let approved = first.decide(&consent, "approve");
    assert_eq!(approved.status, 303);
    assert!(
        approved
            .redirect_params(&s.web.redirect_uri)
            .contains_key("code")
    );

    let mut second = s.browser();
    let remembered = second.sign_in(&s.web);
    assert_eq!(
        remembered.status, 303,
        "consent remembered: the login post redirects"
    );
    assert!(
        remembered
            .redirect_params(&s.web.redirect_uri)
            .contains_key("code")
    );

    let mut third = s.browser();
    let consent = third.sign_in(&s.public);
    let denied = third.decide(&consent, "deny");
    assert_eq!(denied.status, 303);
    assert_error_redirect(
        &denied,
        &s.server,
        &s.public.redirect_uri,
        "access_denied",
        Some(STATE),
    );
}

/// The hidden fields of a form-post page, after checking it posts to `redirect_uri` and may.
fn form_post_fields(page: &Page, redirect_uri: &str) -> Vec<(String, Option<String>)> {
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains(&format!("action=\"{redirect_uri}\"")),
        "{}",
        page.body
    );
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("form-action 'self' https://"), "{csp}");
    ["code", "error", "state", "iss"]
        .iter()
        .map(|n| (n.to_string(), page.hidden(n)))
        .collect()
}

/// Matrix §1.7 item 58 (RFC 9207): every authorization response, success or error, query or
/// form post, carries `iss`; `state` comes back intact, hostile characters included, and is
/// escaped in the form-post page.
#[test]
fn every_authorization_response_carries_iss() {
    let s = Setup::new();
    let metadata = s.server.get_json(&format!(
        "{}/.well-known/oauth-authorization-server",
        s.server.base
    ));
    assert_eq!(
        metadata["authorization_response_iss_parameter_supported"],
        true
    );
    let fresh = code_client(&s.server, true, &["https://fresh.example/cb"], &[]);
    let mut browser = s.browser();
    let login_required = browser.authorize(&s.public.request().with("prompt", "none"));
    assert_error_redirect(
        &login_required,
        &s.server,
        &s.public.redirect_uri,
        "login_required",
        Some(STATE),
    );
    browser.code(&s.public, &s.public.request());
    let errors: [(&App, _, &str); 6] = [
        (
            &s.public,
            s.public.request().with("response_type", "token"),
            "unsupported_response_type",
        ),
        (
            &s.public,
            s.public.request().without("response_type"),
            "invalid_request",
        ),
        (
            &s.public,
            s.public.request().with("scope", "openid admin"),
            "invalid_scope",
        ),
        (
            &s.public,
            s.public.request().with("resource", "https://evil.example"),
            "invalid_target",
        ),
        (
            &s.public,
            s.public.request().with("prompt", "bogus"),
            "invalid_request",
        ),
        (
            &fresh,
            fresh.request().with("prompt", "none"),
            "consent_required",
        ),
    ];
    for (app, request, error) in errors {
        let page = browser.authorize(&request);
        assert_error_redirect(&page, &s.server, &app.redirect_uri, error, Some(STATE));
    }
    let page = browser.authorize(&s.public.request().without("state").with("scope", "admin"));
    assert_error_redirect(
        &page,
        &s.server,
        &s.public.redirect_uri,
        "invalid_scope",
        None,
    );

    let hostile = "x\"><script>alert(1)</script>&iss=https://evil.example";
    let success = browser.authorize(
        &s.public
            .request()
            .with("response_mode", "form_post")
            .with("state", hostile),
    );
    let fields = form_post_fields(&success, &s.public.redirect_uri);
    assert!(!success.body.contains("<script>alert"), "{}", success.body);
    assert!(fields[0].1.is_some(), "a code: {fields:?}");
    assert_eq!(fields[1].1, None);
    assert_eq!(fields[2].1.as_deref(), Some(hostile));
    assert_eq!(fields[3].1.as_deref(), Some(s.server.base.as_str()));
    let failure = browser.authorize(
        &s.public
            .request()
            .with("response_mode", "form_post")
            .with("scope", "admin"),
    );
    let fields = form_post_fields(&failure, &s.public.redirect_uri);
    assert_eq!(fields[0].1, None, "no code: {fields:?}");
    assert_eq!(fields[1].1.as_deref(), Some("invalid_scope"));
    assert_eq!(fields[2].1.as_deref(), Some(STATE));
    assert_eq!(fields[3].1.as_deref(), Some(s.server.base.as_str()));
    let query = browser.authorize(&s.public.request().with("state", hostile));
    let params = query.redirect_params(&s.public.redirect_uri);
    assert_eq!(params.get("state").map(String::as_str), Some(hostile));
    assert_eq!(params.get("iss"), Some(&s.server.base));
}

/// Matrix §1.7 item 54 (§2.1 items 27, 28): RP-initiated logout never redirects to an address
/// not registered, exactly, as a post-logout redirect URI of the client the request names:
/// unregistered, query added, another client's, the redirect URI, case or slash changed, a
/// forged `id_token_hint`. A 400 page each time, and the person stays signed in.
#[test]
fn logout_never_redirects_to_an_unregistered_address() {
    let s = Setup::new();
    let mut browser = s.browser();
    let code = browser.code(&s.public, &s.public.request());
    let tokens = Tokens::of(&s.public.redeem(&s.server, &code, VERIFIER));
    let hint = tokens.id_token.expect("an ID token");
    let mut forged = hint.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    for uri in [
        "https://evil.example/",
        "https://client.example/signed-out?foo=bar",
        "https://client.example/signed-out/",
        "https://CLIENT.example/signed-out",
        "https://client.example/signed-out#x",
        "https://client.example/cb",
        "https://web.example/bye",
        "https://client.example.evil.example/signed-out",
    ] {
        for named in [
            vec![("id_token_hint", hint.as_str())],
            vec![("client_id", s.public.id.as_str())],
            vec![],
        ] {
            let mut pairs = named.clone();
            pairs.extend([("post_logout_redirect_uri", uri), ("state", STATE)]);
            let query = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&pairs)
                .finish();
            let page = browser.get(&format!("/logout?{query}"));
            assert_error_page(&page, 400, "not registered");
            let page = browser.post("/logout", &pairs);
            assert_error_page(&page, 400, "not registered");
        }
    }
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("id_token_hint", forged.as_str()),
            (
                "post_logout_redirect_uri",
                "https://client.example/signed-out",
            ),
            ("state", STATE),
        ])
        .finish();
    let page = browser.get(&format!("/logout?{query}"));
    assert_error_page(&page, 400, "not ours");
    assert_signed_in(&mut browser, &s.public);
}
