//! OAuth 2.0 Form Post Response Mode: the authorization response as a form that the browser
//! posts to the client's redirect URI.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::look::Look;
use super::render::{self, source_of};

/// The response parameters as hidden fields of a form posted to `redirect_uri`. The
/// form-post script (served from this origin, never inline) submits it on load; without
/// JavaScript, a person presses "Continue". The page's CSP `form-action` allows the redirect
/// URI's origin, and only it.
#[derive(Debug, Clone, Copy, Template)]
#[template(path = "form_post.html")]
pub struct FormPostPage<'a> {
    /// The look of the pages.
    pub look: &'a Look,
    /// The client's redirect URI, exactly as registered and requested.
    pub redirect_uri: &'a str,
    /// The response parameters (`code`, `state`, `iss`, or an error's).
    pub params: &'a [(&'a str, &'a str)],
}

impl IntoResponse for FormPostPage<'_> {
    fn into_response(self) -> Response {
        let csp = self
            .look
            .csp_posting_to(source_of(self.redirect_uri).as_deref());
        render::page(StatusCode::OK, &self, csp)
    }
}
