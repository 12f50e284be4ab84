//! The consent page, and scopes in words.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::look::Look;
use super::render::{self, source_of};

/// A scope as a person reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeLine {
    /// The scope as requested, e.g. `offline_access`.
    pub name: String,
    /// What it allows, in words; the name itself for a scope with no words.
    pub description: String,
}

/// The words for a scope: the OpenID Connect ones (Core §5.4, §11) have theirs; any other is
/// shown as its name.
pub fn describe_scope(name: &str) -> ScopeLine {
    let words = match name {
        "openid" => "Confirm who you are",
        "profile" => "See your name and basic profile",
        "email" => "See your email address",
        "address" => "See your postal address",
        "phone" => "See your phone number",
        "offline_access" => "Stay connected when you are away",
        other => other,
    };
    ScopeLine {
        name: name.to_owned(),
        description: words.to_owned(),
    }
}

/// The question whether a client may act for the signed-in person: who asks, for what, at
/// which resource, and where the answer sends them. Posts `decision=approve` or
/// `decision=deny` to `action` with the authorization request and the CSRF token.
#[derive(Debug, Clone, Copy, Template)]
#[template(path = "consent.html")]
pub struct ConsentPage<'a> {
    /// The look of the pages.
    pub look: &'a Look,
    /// The client's name, as registered.
    pub client_name: &'a str,
    /// The host of the redirect URI, so a person sees where they will be sent.
    pub redirect_host: &'a str,
    /// The scopes asked for, in words.
    pub scopes: &'a [ScopeLine],
    /// The resource (RFC 8707) the access is for; empty for none.
    pub resource: &'a str,
    /// The signed-in username.
    pub user: &'a str,
    /// Where the form posts (a path).
    pub action: &'a str,
    /// The hidden field `request`: the authorization request's query string, as is.
    pub request: &'a str,
    /// The hidden field `csrf`.
    pub csrf: &'a str,
    /// The redirect URI the flow ends at: the form's answer redirects there, and browsers hold
    /// that redirect to the page's `form-action`, which therefore allows its origin.
    pub redirect_uri: &'a str,
}

impl IntoResponse for ConsentPage<'_> {
    fn into_response(self) -> Response {
        render::page(
            StatusCode::OK,
            &self,
            self.look
                .csp_posting_to(source_of(self.redirect_uri).as_deref()),
        )
    }
}
