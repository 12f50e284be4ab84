//! The sign-in page.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::look::Look;
use super::render::{self, source_of};

/// The sign-in form: username and password, posted to `action` with the authorization request
/// and the CSRF token in hidden fields.
#[derive(Debug, Clone, Copy, Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    /// The look of the pages.
    pub look: &'a Look,
    /// The client's name, as registered.
    pub client_name: &'a str,
    /// Where the form posts (a path).
    pub action: &'a str,
    /// The hidden field `request`: the original authorization request's query string, posted
    /// back as is.
    pub request: &'a str,
    /// The hidden field `csrf`.
    pub csrf: &'a str,
    /// The redirect URI the flow ends at: the form's answer redirects there, and browsers hold
    /// that redirect to the page's `form-action`, which therefore allows its origin.
    pub redirect_uri: &'a str,
    /// The username to prefill (from `login_hint`, or the one just tried); may be empty.
    pub username: &'a str,
    /// Why the last attempt failed, e.g. "Wrong username or password.".
    pub error: Option<&'a str>,
}

impl IntoResponse for LoginPage<'_> {
    /// 200, also when shown again after a failed attempt (a 401 would need a
    /// `WWW-Authenticate` challenge, which a form is not).
    fn into_response(self) -> Response {
        render::page(
            StatusCode::OK,
            &self,
            self.look
                .csp_posting_to(source_of(self.redirect_uri).as_deref()),
        )
    }
}
