//! The pages: plain HTML, every value escaped, no script (the CSP forbids any).

use std::fmt::Write as _;

use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use openidconnect::core::{CoreIdTokenClaims, CoreUserInfoClaims};

/// A whole page around `body` (HTML, already escaped); never cached, since it shows who is
/// signed in.
fn page(body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>Gatehouse web client</title>\n</head>\n<body>\n\
         <h1>Gatehouse web client</h1>\n{body}</body>\n</html>\n"
    );
    let headers = [
        (header::CACHE_CONTROL, "no-store"),
        (header::CONTENT_SECURITY_POLICY, "default-src 'none'"),
    ];
    (headers, Html(html)).into_response()
}

/// Nobody is signed in; `just_now` when Gatehouse has just sent the browser back from signing
/// out.
pub(crate) fn signed_out(just_now: bool) -> Response {
    let note = if just_now {
        "You have signed out of Gatehouse."
    } else {
        "You are not signed in."
    };
    page(&format!(
        "<p>{note}</p>\n<p><a href=\"/login\">Sign in with Gatehouse</a></p>\n"
    ))
}

/// The verified ID token's claims and the UserInfo answer.
pub(crate) fn signed_in(claims: &CoreIdTokenClaims, userinfo: &CoreUserInfoClaims) -> Response {
    let username = claims.preferred_username().map(|u| u.as_str());
    let rows = [
        ("sub", Some(claims.subject().as_str())),
        ("preferred_username", username),
        (
            "name",
            claims.name().and_then(|n| n.get(None)).map(|n| n.as_str()),
        ),
        ("email", claims.email().map(|e| e.as_str())),
    ];
    let mut body = format!(
        "<p>Signed in as <strong>{}</strong>.</p>\n<h2>ID token claims (verified)</h2>\n<table>\n",
        escape(username.unwrap_or(claims.subject().as_str()))
    );
    for (claim, value) in rows {
        let value = value.map_or_else(|| "<em>absent</em>".to_owned(), escape);
        let _ = writeln!(body, "<tr><th>{claim}</th><td>{value}</td></tr>");
    }
    let userinfo = serde_json::to_string_pretty(userinfo).unwrap_or_default();
    let _ = write!(
        body,
        "</table>\n<h2>UserInfo</h2>\n<pre>{}</pre>\n<p><a href=\"/logout\">Sign out</a></p>\n",
        escape(&userinfo)
    );
    page(&body)
}

/// A sign-in that went wrong, and why.
pub(crate) fn failed(reason: &str) -> Response {
    page(&format!(
        "<p>Signing in failed: {}.</p>\n<p><a href=\"/\">Back</a></p>\n",
        escape(reason)
    ))
}

/// `s` as HTML text or attribute value.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup() {
        assert_eq!(
            super::escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
