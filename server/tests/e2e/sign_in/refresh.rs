//! §1.4 Token answers and refresh tokens: never cached, rotated with a grace window, bound to
//! their client, never wider than the grant.

use std::sync::Barrier;

use serde_json::json;

use super::driver::{RESOURCE, Setup, Tokens, VERIFIER, assert_oauth_error, code_client, register};
use crate::harness::jwt_parts;

/// Matrix §1.4 item 26: every answer carrying tokens (code exchange, refresh, PAR) or a token
/// error has `Cache-Control: no-store` (and `Pragma: no-cache`).
#[test]
fn token_answers_are_never_cached() {
    let s = Setup::new();
    let code = s.browser().code(&s.public, &s.public.request());
    let exchanged = s.public.redeem(&s.server, &code, VERIFIER);
    let tokens = Tokens::of(&exchanged);
    let refreshed = s.public.refresh(&s.server, &tokens.refresh);
    let replayed = s.public.redeem(&s.server, &code, VERIFIER);
    let pushed = s.web.post(&s.server, "/par", &s.web.request().pairs());
    assert_eq!(pushed.status, 201, "{}", pushed.body);
    for (what, page) in [
        ("code exchange", &exchanged),
        ("refresh", &refreshed),
        ("invalid_grant", &replayed),
        ("PAR", &pushed),
    ] {
        assert_eq!(page.header("cache-control"), Some("no-store"), "{what}");
        assert_eq!(page.header("pragma"), Some("no-cache"), "{what}");
    }
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    assert_eq!(replayed.status, 400);
}

/// Matrix §1.4 item 28: with no grace window, using a rotated refresh token again is
/// `invalid_grant` and revokes the family, the successor included; public and confidential.
#[test]
fn reusing_a_rotated_refresh_token_revokes_its_family() {
    let s = Setup::with_env(&[("GATEHOUSE_TOKENS__REFRESH_TOKEN_GRACE", "0")]);
    for app in [&s.public, &s.web] {
        let first = s.tokens(app);
        let second = Tokens::of(&app.refresh(&s.server, &first.refresh));
        assert_ne!(second.refresh, first.refresh, "rotated");
        let reuse = app.refresh(&s.server, &first.refresh);
        assert_oauth_error(&reuse, 400, "invalid_grant");
        let successor = app.refresh(&s.server, &second.refresh);
        assert_oauth_error(&successor, 400, "invalid_grant");
    }
}

/// Matrix §1.4 item 28, the grace window: two refreshes with one token at once (two tabs, two
/// agent processes) both get the same successor, and the family lives on.
#[test]
fn concurrent_refreshes_within_the_grace_window_get_the_same_successor() {
    let s = Setup::new();
    let tokens = s.tokens(&s.public);
    let start = Barrier::new(2);
    let pages: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    start.wait();
                    s.public.refresh(&s.server, &tokens.refresh)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let (a, b) = (Tokens::of(&pages[0]), Tokens::of(&pages[1]));
    assert_eq!(a.refresh, b.refresh, "the same successor");
    assert_ne!(a.refresh, tokens.refresh);
    let again = Tokens::of(&s.public.refresh(&s.server, &tokens.refresh));
    assert_eq!(
        again.refresh, a.refresh,
        "and once more, still in the window"
    );
    let next = Tokens::of(&s.public.refresh(&s.server, &a.refresh));
    assert!(s.is_active(&next.access));
}

/// Matrix §1.4 item 29 (§2.1 item 11): another client's refresh token, presented by a
/// confidential or a public client (or revoked by one), is `invalid_grant` and is left
/// untouched: its owner refreshes as before.
#[test]
fn another_clients_refresh_token_is_refused_and_left_untouched() {
    let s = Setup::with_env(&[("GATEHOUSE_TOKENS__REFRESH_TOKEN_GRACE", "0")]);
    let other = code_client(&s.server, true, &["https://other.example/cb"], &[]);
    let tokens = s.tokens(&s.public);
    for thief in [&s.web, &other] {
        let page = thief.refresh(&s.server, &tokens.refresh);
        assert_oauth_error(&page, 400, "invalid_grant");
    }
    let revoked = s
        .web
        .post(&s.server, "/revoke", &[("token", &tokens.refresh)]);
    assert_eq!(revoked.status, 200, "RFC 7009 §2.2: 200, nothing said");
    let refreshed = Tokens::of(&s.public.refresh(&s.server, &tokens.refresh));
    assert!(s.is_active(&refreshed.access));
    Tokens::of(&s.public.refresh(&s.server, &refreshed.refresh));
}

/// Matrix §1.4 item 30: a refresh may narrow the scope, never widen it past the grant (even to
/// a scope the client may have): `invalid_scope`, the token unspent; the rotated token keeps the
/// original scope.
#[test]
fn refresh_may_narrow_the_scope_but_never_widen_it() {
    let s = Setup::new();
    let app = register(
        &s.server,
        &json!({
            "name": "Wide",
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "none",
            "redirect_uris": ["https://wide.example/cb"],
            "scope": "openid profile read write",
            "resources": [RESOURCE],
        }),
    );
    let request = app.request().with("scope", "openid read");
    let code = s.browser().code(&app, &request);
    let tokens = Tokens::of(&app.redeem(&s.server, &code, VERIFIER));
    for wider in ["openid read write", "profile", "admin", "openid read read2"] {
        let page = app.post(
            &s.server,
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &tokens.refresh),
                ("scope", wider),
            ],
        );
        assert_oauth_error(&page, 400, "invalid_scope");
    }
    let narrowed = app.post(
        &s.server,
        "/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &tokens.refresh),
            ("scope", "read"),
        ],
    );
    assert_eq!(narrowed.json()["scope"], "read", "{}", narrowed.body);
    let narrow = Tokens::of(&narrowed);
    assert_eq!(jwt_parts(&narrow.access).1["scope"], "read");
    assert!(narrow.id_token.is_none(), "no openid, no ID token");
    let page = app.refresh(&s.server, &narrow.refresh);
    assert_eq!(page.json()["scope"], "openid read", "{}", page.body);
}
