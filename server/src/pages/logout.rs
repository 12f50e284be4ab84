//! The sign-out confirmation: asked when a sign-out request cannot prove it comes from the
//! person's own client (no valid `id_token_hint`), so that no other site can sign them out
//! behind their back (OIDC RP-Initiated Logout 1.0 §2, §6).

use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::look::Look;
use super::render::{self, source_of};

/// "Sign out?", a form posted to `action` with the sign-out request and the CSRF token.
#[derive(Debug, Clone, Copy, Template)]
#[template(path = "logout.html")]
pub struct LogoutPage<'a> {
    /// The look of the pages.
    pub look: &'a Look,
    /// The client that asks, or empty.
    pub client_name: &'a str,
    /// Where the form posts (a path).
    pub action: &'a str,
    /// The hidden field `request`: the sign-out request's parameters.
    pub request: &'a str,
    /// The hidden field `csrf`.
    pub csrf: &'a str,
    /// Where the person goes afterwards, if a registered post-logout redirect URI was given
    /// (the form's `form-action` must allow it).
    pub redirect_uri: Option<&'a str>,
}

impl IntoResponse for LogoutPage<'_> {
    fn into_response(self) -> Response {
        let target = self.redirect_uri.and_then(source_of);
        render::page(
            StatusCode::OK,
            &self,
            self.look.csp_posting_to(target.as_deref()),
        )
    }
}
