//! The one place where `core`'s errors become HTTP responses (RFC 6749 §5.2, RFC 7009 §2.2.1,
//! RFC 8707 §2). Descriptions come from `core` and are safe to show; server errors are logged
//! here with their detail and answered with a bare `server_error`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_core::TokenError;
use serde::Serialize;

/// The challenge sent with every `invalid_client` (RFC 6749 §5.2 requires it when the client
/// used Basic, and we answer every authentication failure alike).
pub const BASIC_CHALLENGE: &str = "Basic realm=\"gatehouse\", charset=\"UTF-8\"";

/// An OAuth error body (RFC 6749 §5.2).
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    /// The error code.
    pub error: &'a str,
    /// Human-readable detail, printable ASCII only (RFC 6749 §5.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

/// A `core` error on its way to the wire.
#[derive(Debug)]
pub struct OAuthError(pub TokenError);

impl From<TokenError> for OAuthError {
    fn from(e: TokenError) -> Self {
        Self(e)
    }
}

impl From<gatehouse_core::form::FormError> for OAuthError {
    fn from(e: gatehouse_core::form::FormError) -> Self {
        Self(e.into())
    }
}

/// The longest `error_description`, in characters: enough for every message of ours with the
/// value it quotes, short enough that an answer never echoes a whole hostile request back.
const MAX_DESCRIPTION: usize = 256;

/// RFC 6749 §5.2: `error_description` may hold only %x20-21 / %x23-5B / %x5D-7E; anything else
/// becomes `'`. At most [`MAX_DESCRIPTION`] characters, the last three `...` when cut.
pub(crate) fn sanitize(text: &str) -> String {
    let allowed = |c: char| matches!(c, '\x20'..='\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e');
    let cut = text.chars().count() > MAX_DESCRIPTION;
    let keep = if cut {
        MAX_DESCRIPTION - 3
    } else {
        MAX_DESCRIPTION
    };
    let mut out: String = text
        .chars()
        .take(keep)
        .map(|c| if allowed(c) { c } else { '\'' })
        .collect();
    if cut {
        out.push_str("...");
    }
    out
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let (status, code, description) = match &self.0 {
            TokenError::InvalidRequest(d) => {
                (StatusCode::BAD_REQUEST, "invalid_request", Some(d.as_str()))
            }
            TokenError::InvalidClient => (
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                Some("client authentication failed"),
            ),
            TokenError::UnauthorizedClient(d) => (
                StatusCode::BAD_REQUEST,
                "unauthorized_client",
                Some(d.as_str()),
            ),
            TokenError::UnsupportedGrantType(d) => (
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                Some(d.as_str()),
            ),
            TokenError::InvalidGrant(d) => {
                (StatusCode::BAD_REQUEST, "invalid_grant", Some(d.as_str()))
            }
            TokenError::InvalidScope(d) => {
                (StatusCode::BAD_REQUEST, "invalid_scope", Some(d.as_str()))
            }
            TokenError::InvalidTarget(d) => {
                (StatusCode::BAD_REQUEST, "invalid_target", Some(d.as_str()))
            }
            // RFC 8628 §3.5: the polling answers, each a 400 with its own code.
            TokenError::AuthorizationPending => {
                (StatusCode::BAD_REQUEST, "authorization_pending", None)
            }
            TokenError::SlowDown(_) => (
                StatusCode::BAD_REQUEST,
                "slow_down",
                Some("polling too fast: wait 5 seconds longer between polls from now on"),
            ),
            TokenError::AccessDenied(d) => {
                (StatusCode::BAD_REQUEST, "access_denied", Some(d.as_str()))
            }
            TokenError::ExpiredToken(d) => {
                (StatusCode::BAD_REQUEST, "expired_token", Some(d.as_str()))
            }
            TokenError::InvalidDpopProof(d) => (
                StatusCode::BAD_REQUEST,
                "invalid_dpop_proof",
                Some(d.as_str()),
            ),
            TokenError::UseDpopNonce { .. } => (
                StatusCode::BAD_REQUEST,
                "use_dpop_nonce",
                Some("the DPoP proof must carry the nonce of the DPoP-Nonce header"),
            ),
            TokenError::Forbidden(d) => (
                StatusCode::FORBIDDEN,
                "unauthorized_client",
                Some(d.as_str()),
            ),
            TokenError::TooManyRequests { detail, .. } => {
                tracing::debug!(%detail, "request refused: too many requests");
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    "temporarily_unavailable",
                    Some(detail.as_str()),
                )
            }
            TokenError::TemporarilyUnavailable(detail) => {
                tracing::warn!(%detail, "request refused: temporarily unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    Some("the server is temporarily unable to handle the request; retry later"),
                )
            }
            TokenError::Server(detail) => {
                tracing::error!(%detail, "request failed: server error");
                (StatusCode::INTERNAL_SERVER_ERROR, "server_error", None)
            }
        };
        let body = ErrorBody {
            error: code,
            error_description: description.map(sanitize),
        };
        let mut response = (status, no_store(), Json(body)).into_response();
        let headers = response.headers_mut();
        match self.0 {
            TokenError::InvalidClient => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(BASIC_CHALLENGE),
                );
            }
            TokenError::TemporarilyUnavailable(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            TokenError::TooManyRequests { retry_after, .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            }
            // RFC 9449 §8: the nonce to put in the next proof.
            TokenError::UseDpopNonce { nonce } => crate::dpop::set_nonce(headers, &nonce),
            _ => {}
        }
        response
    }
}

/// `Cache-Control: no-store` and `Pragma: no-cache`, for every response that carries a token or
/// a token error (RFC 6749 §5.1, OAuth 2.1 §3.2.3).
pub fn no_store() -> [(header::HeaderName, HeaderValue); 2] {
    [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::PRAGMA, HeaderValue::from_static("no-cache")),
    ]
}

/// `Cache-Control: no-store` alone, for introspection answers (RFC 7662 asks for no more; the
/// HTTP/1.0 `Pragma` of RFC 6749 §5.1 is for token responses).
pub fn no_store_only() -> [(header::HeaderName, HeaderValue); 1] {
    [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_are_printable_ascii_without_quotes() {
        assert_eq!(sanitize("a\"b\\c\nd\u{e9}"), "a'b'c'd'");
    }

    /// A probe found a 60 000-character scope echoed back whole.
    #[test]
    fn descriptions_are_cut_to_a_bounded_length() {
        let exact = "a".repeat(MAX_DESCRIPTION);
        assert_eq!(sanitize(&exact), exact);
        let long = format!("scope \"{}\"", "\u{e9}".repeat(60_000));
        let cut = sanitize(&long);
        assert_eq!(cut.chars().count(), MAX_DESCRIPTION);
        assert!(cut.starts_with("scope ''"), "{cut}");
        assert!(cut.ends_with("''..."), "{cut}");
    }
}
