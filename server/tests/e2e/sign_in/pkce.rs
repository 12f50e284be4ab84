//! §1.2 PKCE: S256 on every request, and the verifier checked at the token endpoint.

use super::driver::{
    CHALLENGE, STATE, Setup, Tokens, VERIFIER, WRONG_VERIFIER, assert_error_redirect,
    assert_oauth_error,
};

/// Matrix §1.2 items 11, 12 (and §1.6 item 45): no `code_challenge`, or an empty one, is
/// `invalid_request` at the redirect URI with `state` and `iss`, for public and confidential
/// clients alike; only S256 is advertised.
#[test]
fn an_authorization_request_without_a_challenge_is_refused() {
    let s = Setup::new();
    let metadata = s.server.get_json(&format!(
        "{}/.well-known/oauth-authorization-server",
        s.server.base
    ));
    assert_eq!(
        metadata["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    let mut browser = s.browser();
    for app in [&s.public, &s.web] {
        for request in [
            app.request().without("code_challenge"),
            app.request()
                .without("code_challenge")
                .without("code_challenge_method"),
            app.request().with("code_challenge", ""),
        ] {
            let page = browser.authorize(&request);
            assert_error_redirect(
                &page,
                &s.server,
                &app.redirect_uri,
                "invalid_request",
                Some(STATE),
            );
        }
    }
    assert_eq!(browser.cookie, None, "refused before any page");
}

/// Matrix §1.2 items 13, 17: `plain`, an unknown method, a method left out (RFC 7636's
/// default is `plain`), a lowercase `s256` and malformed challenges are `invalid_request`,
/// even for a signed-in browser whose consent is remembered (where S256 gets a code at once).
#[test]
fn plain_unknown_or_malformed_challenges_are_refused() {
    let s = Setup::new();
    let mut browser = s.browser();
    browser.code(&s.web, &s.web.request());
    let long = "a".repeat(129);
    for (challenge, method) in [
        (VERIFIER, Some("plain")),
        (CHALLENGE, Some("plain")),
        (CHALLENGE, Some("S512")),
        (CHALLENGE, Some("s256")),
        (CHALLENGE, None),
        ("abc", Some("S256")),
        (long.as_str(), Some("S256")),
        ("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM", Some("S256")),
        ("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM=", Some("S256")),
    ] {
        let mut request = s.web.request().with("code_challenge", challenge);
        request = match method {
            Some(m) => request.with("code_challenge_method", m),
            None => request.without("code_challenge_method"),
        };
        let page = browser.authorize(&request);
        assert_error_redirect(
            &page,
            &s.server,
            &s.web.redirect_uri,
            "invalid_request",
            Some(STATE),
        );
    }
    let code = browser.code(&s.web, &s.web.request());
    Tokens::of(&s.web.redeem(&s.server, &code, VERIFIER));
}

/// Matrix §1.2 items 16, 17 (§2.2 item 32): a wrong verifier, the challenge itself, or a
/// verifier of the wrong length or alphabet is `invalid_grant`, and nothing is issued. The
/// code is burnt by the attempt (core: every check after the atomic redeem burns it), so the
/// right verifier after a wrong one gets nothing either.
#[test]
fn a_wrong_or_malformed_verifier_is_invalid_grant() {
    let s = Setup::new();
    let mut browser = s.browser();
    let too_long = "a".repeat(129);
    let plus = format!("{}+", &VERIFIER[..43]);
    for verifier in [
        WRONG_VERIFIER,
        CHALLENGE,
        "abc",
        &VERIFIER[..42],
        too_long.as_str(),
        plus.as_str(),
    ] {
        let code = browser.code(&s.public, &s.public.request());
        let page = s.public.redeem(&s.server, &code, verifier);
        assert_oauth_error(&page, 400, "invalid_grant");
        let page = s.public.redeem(&s.server, &code, VERIFIER);
        assert_oauth_error(&page, 400, "invalid_grant");
    }
    let code = browser.code(&s.public, &s.public.request());
    Tokens::of(&s.public.redeem(&s.server, &code, VERIFIER));
}

/// Matrix §1.2 item 15 (§2.2 item 32, FAPI 2 ensure-pkce-code-verifier-required): a code
/// issued with a challenge and redeemed without a verifier (absent, or empty, which is absent)
/// is `invalid_grant`; nothing is issued.
#[test]
fn a_missing_verifier_is_invalid_grant() {
    let s = Setup::new();
    let mut browser = s.browser();
    for verifier in [None, Some("")] {
        let code = browser.code(&s.public, &s.public.request());
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", s.public.redirect_uri.as_str()),
        ];
        form.extend(verifier.map(|v| ("code_verifier", v)));
        let page = s.public.post(&s.server, "/token", &form);
        assert_oauth_error(&page, 400, "invalid_grant");
    }
}
