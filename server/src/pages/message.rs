//! Pages that only say something: an error, and "signed out".

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::look::Look;
use super::render;

/// An error a person can read: what went wrong and, for a pause after too many attempts, how
/// long to wait (also sent as `Retry-After`). The text is the caller's and must carry no
/// internal detail.
#[derive(Debug, Clone, Copy, Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    /// The look of the pages.
    pub look: &'a Look,
    /// The response's status.
    pub status: StatusCode,
    /// The heading, e.g. "This link does not work".
    pub title: &'a str,
    /// One or two sentences under it.
    pub message: &'a str,
    /// Seconds until trying again makes sense: a `Retry-After` header and a sentence.
    pub retry_after: Option<u64>,
}

impl<'a> ErrorPage<'a> {
    /// 429 "Too many attempts", try again in `seconds`.
    pub fn too_many_attempts(look: &'a Look, seconds: u64) -> Self {
        Self {
            look,
            status: StatusCode::TOO_MANY_REQUESTS,
            title: "Too many attempts",
            message: "To keep your account safe, signing in is paused for a moment.",
            retry_after: Some(seconds),
        }
    }

    /// "Try again in N seconds.", when there is a wait.
    fn wait(&self) -> Option<String> {
        self.retry_after.map(|s| match s {
            1 => "Try again in 1 second.".to_owned(),
            s => format!("Try again in {s} seconds."),
        })
    }
}

impl IntoResponse for ErrorPage<'_> {
    fn into_response(self) -> Response {
        let mut response = render::page(self.status, &self, self.look.csp());
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// "You have signed out."
#[derive(Debug, Clone, Copy, Template)]
#[template(path = "logged_out.html")]
pub struct LoggedOutPage<'a> {
    /// The look of the pages.
    pub look: &'a Look,
}

impl IntoResponse for LoggedOutPage<'_> {
    fn into_response(self) -> Response {
        render::page(StatusCode::OK, &self, self.look.csp())
    }
}
