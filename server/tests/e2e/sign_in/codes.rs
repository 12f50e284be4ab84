//! §1.3 Authorization codes: single use, bound to their client, and a replay by the holder
//! revokes what the code gave, while a replay that proves nothing revokes nothing.
//!
//! Expiry (item 20: a code older than its 60 s is `invalid_grant`) is not tested here: the
//! server has no fake clock, and a minute of sleep per run is too dear. It is unit-tested in
//! core with a test clock (`core/src/grant/authorization_code/tests.rs`,
//! `pkce_mismatch_expiry_another_client_and_redirect_rules_are_invalid_grant`).

use std::sync::Barrier;

use super::driver::{
    App, Page, STATE, Setup, Tokens, VERIFIER, WRONG_VERIFIER, assert_oauth_error, code_client,
    register,
};

/// The form of a code redemption by `app` naming the redirect URI of `owner`'s request, so
/// that only the client differs.
fn redeem_as(s: &Setup, app: &App, owner: &App, code: &str) -> Page {
    app.post(
        &s.server,
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("code_verifier", VERIFIER),
            ("redirect_uri", &owner.redirect_uri),
        ],
    )
}

/// Matrix §1.3 item 21 (§2.1 items 9, 10; §2.2 item 33): the second redemption is
/// `invalid_grant`, and the access token of the first stops introspecting active, its refresh
/// token family dies; for a public and a confidential client.
#[test]
fn a_replayed_code_revokes_what_it_gave() {
    let s = Setup::new();
    for app in [&s.public, &s.web] {
        let code = s.browser().code(app, &app.request());
        let tokens = Tokens::of(&app.redeem(&s.server, &code, VERIFIER));
        assert!(s.is_active(&tokens.access));
        let replay = app.redeem(&s.server, &code, VERIFIER);
        assert_oauth_error(&replay, 400, "invalid_grant");
        assert!(
            !s.is_active(&tokens.access),
            "the first access token is revoked"
        );
        let refresh = app.refresh(&s.server, &tokens.refresh);
        assert_oauth_error(&refresh, 400, "invalid_grant");
    }
}

/// The same with opaque access tokens, introspected first so that the validator's cache holds
/// them: the replay revokes them in the cache as well (found by review: only the stored record
/// was marked, and the cached answer stayed active).
#[test]
fn a_replayed_code_revokes_a_cached_opaque_token() {
    let s = Setup::new();
    let opaque = register(
        &s.server,
        &serde_json::json!({
            "name": "Opaque",
            "grant_types": ["authorization_code", "refresh_token"],
            "redirect_uris": ["https://opaque.example/cb"],
            "scope": super::driver::SCOPE,
            "resources": [super::driver::RESOURCE],
            "token_format": "opaque",
        }),
    );
    let code = s.browser().code(&opaque, &opaque.request());
    let tokens = Tokens::of(&opaque.redeem(&s.server, &code, VERIFIER));
    assert!(tokens.access.starts_with("gat_"), "{}", tokens.access);
    for _ in 0..3 {
        assert!(s.is_active(&tokens.access), "cached as active");
    }
    let replay = opaque.redeem(&s.server, &code, VERIFIER);
    assert_oauth_error(&replay, 400, "invalid_grant");
    assert!(
        !s.is_active(&tokens.access),
        "the cached opaque token is revoked"
    );
    assert_oauth_error(
        &opaque.refresh(&s.server, &tokens.refresh),
        400,
        "invalid_grant",
    );
}

/// Matrix §1.3 item 22: a replay with a wrong verifier, or by another client, proves nothing
/// and must be no lever to revoke the holder's tokens: `invalid_grant`, and the tokens live on.
#[test]
fn a_replay_that_proves_nothing_revokes_nothing() {
    let s = Setup::new();
    let other = code_client(&s.server, true, &["https://other.example/cb"], &[]);
    let code = s.browser().code(&s.public, &s.public.request());
    let tokens = Tokens::of(&s.public.redeem(&s.server, &code, VERIFIER));
    for verifier in [WRONG_VERIFIER, "abc"] {
        let page = s.public.redeem(&s.server, &code, verifier);
        assert_oauth_error(&page, 400, "invalid_grant");
    }
    for thief in [&other, &s.web] {
        let page = redeem_as(&s, thief, &s.public, &code);
        assert_oauth_error(&page, 400, "invalid_grant");
    }
    assert!(
        s.is_active(&tokens.access),
        "the holder's access token lives"
    );
    let refreshed = Tokens::of(&s.public.refresh(&s.server, &tokens.refresh));
    assert!(s.is_active(&refreshed.access));
}

/// Matrix §1.3 item 23 (§2.2 item 35, Keycloak CVE-2026-16089): a fresh code redeemed by
/// another client, public or confidential, with the right verifier, is `invalid_grant` and
/// gives nothing; the attempt burns the code (core: checks after the atomic redeem burn it).
#[test]
fn a_code_redeemed_by_another_client_is_invalid_grant() {
    let s = Setup::new();
    let other = code_client(&s.server, true, &["https://other.example/cb"], &[]);
    let mut browser = s.browser();
    for thief in [&other, &s.web] {
        let code = browser.code(&s.public, &s.public.request());
        let page = redeem_as(&s, thief, &s.public, &code);
        assert_oauth_error(&page, 400, "invalid_grant");
        let page = s.public.redeem(&s.server, &code, VERIFIER);
        assert_oauth_error(&page, 400, "invalid_grant");
    }
    // A client naming another's `client_id` without its secret is no client at all.
    let code = browser.code(&s.web, &s.web.request().with("state", STATE));
    let page = s.server.post_form(
        "/token",
        None,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", VERIFIER),
            ("redirect_uri", &s.web.redirect_uri),
            ("client_id", &s.web.id),
        ],
    );
    assert_oauth_error(&Page::read(page), 401, "invalid_client");
    Tokens::of(&s.web.redeem(&s.server, &code, VERIFIER));
}

/// 20 redemptions of one code at once by its own client with the right verifier, as
/// [`parallel_redemptions_of_one_code_succeed_exactly_once`].
fn race(s: &Setup) -> Vec<Page> {
    let code = s.browser().code(&s.public, &s.public.request());
    let start = Barrier::new(20);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..20)
            .map(|_| {
                scope.spawn(|| {
                    start.wait();
                    s.public.redeem(&s.server, &code, VERIFIER)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// Matrix §1.3 items 21, 24 together: the 19 losers of a race are valid replays (own client,
/// right verifier), so what the winner got is revoked once the race is over, even when every
/// replay lands before the winner has recorded what it issued.
#[test]
fn a_replay_racing_the_first_redemption_still_revokes_what_it_gave() {
    let s = Setup::new();
    let pages = race(&s);
    let won: Vec<_> = pages.iter().filter(|p| p.status == 200).collect();
    assert_eq!(won.len(), 1);
    let tokens = Tokens::of(won[0]);
    assert!(
        !s.is_active(&tokens.access),
        "the winner's access token outlived 19 valid replays"
    );
    assert_oauth_error(
        &s.public.refresh(&s.server, &tokens.refresh),
        400,
        "invalid_grant",
    );
}

/// Matrix §1.3 item 24 (Keycloak CVE-2026-1035's race class): 20 redemptions of one code at
/// once: exactly one 200, every other one `invalid_grant`.
#[test]
fn parallel_redemptions_of_one_code_succeed_exactly_once() {
    let s = Setup::new();
    let pages = race(&s);
    let won: Vec<_> = pages.iter().filter(|p| p.status == 200).collect();
    assert_eq!(won.len(), 1, "exactly one redemption succeeds");
    for page in pages.iter().filter(|p| p.status != 200) {
        assert_oauth_error(page, 400, "invalid_grant");
    }
}
