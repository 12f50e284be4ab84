//! The one error enum of `core`'s endpoints. Each variant is an RFC error code; `server` maps it
//! to the wire exactly once. Descriptions are safe to show to the client; [`TokenError::Server`]
//! carries internal detail for the log only.

use crate::form::FormError;
use crate::ports::SignFailure;
use crate::store::StoreError;

/// An error of the token, introspection or revocation endpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// RFC 6749 §5.2 `invalid_request`: a missing, repeated or malformed parameter.
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    /// RFC 6749 §5.2 `invalid_client`: client authentication failed (unknown client, wrong
    /// secret, no authentication). Deliberately says nothing about which.
    #[error("invalid_client")]
    InvalidClient,
    /// RFC 6749 §5.2 `unauthorized_client`: the client may not use this grant or operation.
    #[error("unauthorized_client: {0}")]
    UnauthorizedClient(String),
    /// RFC 6749 §5.2 `invalid_grant`: the code, refresh token or PKCE verifier is invalid,
    /// expired, revoked, used, or another client's.
    #[error("invalid_grant: {0}")]
    InvalidGrant(String),
    /// RFC 6749 §5.2 `unsupported_grant_type`.
    #[error("unsupported_grant_type: {0}")]
    UnsupportedGrantType(String),
    /// RFC 6749 §5.2 `invalid_scope`.
    #[error("invalid_scope: {0}")]
    InvalidScope(String),
    /// RFC 8707 §2 `invalid_target`: the resource is invalid, unknown or not allowed.
    #[error("invalid_target: {0}")]
    InvalidTarget(String),
    /// RFC 8628 §3.5 `authorization_pending`: the person has not decided yet; poll again.
    #[error("authorization_pending")]
    AuthorizationPending,
    /// RFC 8628 §3.5 `slow_down`: polled too fast; the interval is now this many seconds.
    #[error("slow_down: poll every {0} s")]
    SlowDown(u64),
    /// RFC 8628 §3.5 `access_denied`: the person denied the request.
    #[error("access_denied: {0}")]
    AccessDenied(String),
    /// RFC 8628 §3.5 `expired_token`: the device code expired; start again.
    #[error("expired_token: {0}")]
    ExpiredToken(String),
    /// RFC 9449 §5, §7.1 `invalid_dpop_proof`: the DPoP proof is missing where one is
    /// required, invalid, or by another key than the binding.
    #[error("invalid_dpop_proof: {0}")]
    InvalidDpopProof(String),
    /// RFC 9449 §8 `use_dpop_nonce`: the proof must carry the server's nonce, which is sent in
    /// the `DPoP-Nonce` header of the answer.
    #[error("use_dpop_nonce")]
    UseDpopNonce {
        /// The nonce to use.
        nonce: String,
    },
    /// The client is authenticated but may not use this endpoint at all (HTTP 403 with RFC
    /// 6749 §5.2 `unauthorized_client`), e.g. introspection without the permission.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The server cannot serve this now (e.g. the signing backend is saturated); retry later.
    #[error("temporarily_unavailable: {0}")]
    TemporarilyUnavailable(String),
    /// Too many requests (HTTP 429, RFC 6585 §4): failed authentications from this client id
    /// or address, or a client at its quota. Retry after `retry_after` seconds.
    #[error("too many requests: {detail}")]
    TooManyRequests {
        /// Safe to show to the client.
        detail: String,
        /// Seconds until a retry may succeed (the `Retry-After` header).
        retry_after: u64,
    },
    /// An internal failure; the detail is for the log, never for the client.
    #[error("server_error: {0}")]
    Server(String),
}

impl From<FormError> for TokenError {
    fn from(e: FormError) -> Self {
        Self::InvalidRequest(e.to_string())
    }
}

impl From<StoreError> for TokenError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(m) => Self::TemporarilyUnavailable(format!("storage: {m}")),
            // The quota frees up as tokens expire and are purged (every minute).
            StoreError::LimitReached(detail) => Self::TooManyRequests {
                detail,
                retry_after: 60,
            },
            other => Self::Server(other.to_string()),
        }
    }
}

impl From<SignFailure> for TokenError {
    fn from(e: SignFailure) -> Self {
        match e {
            SignFailure::Unavailable(m) => Self::TemporarilyUnavailable(m),
            SignFailure::Failed(m) => Self::Server(m),
        }
    }
}
