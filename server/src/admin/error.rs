//! The admin API's one error mapping: the status and code each failure gets, and what the
//! operator reads. A server-side failure is logged with its detail and answered without it.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatehouse_core::store::StoreError;
use gatehouse_core::user::UserError;
use gatehouse_signer::key::KeyError;
use serde_json::json;

use crate::keys::KeyManagerError;

/// An admin API error: a status, a code and a description (RFC 7591 §3.2.2 shape).
#[derive(Debug)]
pub struct AdminError {
    status: StatusCode,
    code: &'static str,
    description: String,
}

impl AdminError {
    /// A refusal the operator can act on.
    pub fn new(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            code,
            description: description.into(),
        }
    }

    /// A failure of the server: the detail goes to the log, the answer says where to look.
    pub(super) fn internal(
        status: StatusCode,
        code: &'static str,
        detail: impl std::fmt::Display,
    ) -> Self {
        tracing::error!(%detail, "admin request failed");
        Self::new(
            status,
            code,
            "the request failed on the server; its log says why",
        )
    }

    /// No such client.
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("no {what}"))
    }

    /// A JSON body the admin API cannot take: 413 when it is over the size limit, else 400 with
    /// serde's words, which name an unknown or mistyped member.
    pub fn refused_body(e: &axum::extract::rejection::JsonRejection, code: &'static str) -> Self {
        let status = match e.status() {
            StatusCode::PAYLOAD_TOO_LARGE => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        };
        Self::new(status, code, e.body_text())
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let body = json!({"error": self.code, "error_description": self.description});
        (self.status, Json(body)).into_response()
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => Self::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("{what} exists already"),
            ),
            StoreError::LimitReached(detail) => {
                Self::new(StatusCode::TOO_MANY_REQUESTS, "limit_reached", detail)
            }
            StoreError::Unavailable(_) => Self::internal(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                e,
            ),
            StoreError::Corrupt(_) => {
                Self::internal(StatusCode::INTERNAL_SERVER_ERROR, "server_error", e)
            }
        }
    }
}

impl From<UserError> for AdminError {
    fn from(e: UserError) -> Self {
        match e {
            UserError::BadUsername => Self::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!("username: {e}"),
            ),
            UserError::BadPassword => Self::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!("password: {e}"),
            ),
            UserError::Hash(_) => {
                Self::internal(StatusCode::INTERNAL_SERVER_ERROR, "server_error", e)
            }
        }
    }
}

impl From<KeyManagerError> for AdminError {
    fn from(e: KeyManagerError) -> Self {
        match e {
            // The operator asked for what the configuration rules out: say so.
            KeyManagerError::Provisioned(_) => {
                Self::new(StatusCode::CONFLICT, "provisioned_key", e.to_string())
            }
            KeyManagerError::Store(e) => e.into(),
            KeyManagerError::Key(KeyError::Unavailable(_)) => Self::internal(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                e,
            ),
            other => Self::internal(StatusCode::INTERNAL_SERVER_ERROR, "server_error", other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_and_code(e: impl Into<AdminError>) -> (u16, &'static str, String) {
        let e = e.into();
        (e.status.as_u16(), e.code, e.description)
    }

    #[test]
    fn each_failure_gets_its_status_and_no_internals() {
        let (status, code, _) = status_and_code(StoreError::Conflict("client x".into()));
        assert_eq!((status, code), (409, "conflict"));
        let (status, code, text) =
            status_and_code(StoreError::Corrupt("bad json at byte 3".into()));
        assert_eq!((status, code), (500, "server_error"));
        assert!(!text.contains("byte 3"), "{text}");
        let (status, code, text) =
            status_and_code(StoreError::Unavailable("disk /dev/vda1 full".into()));
        assert_eq!((status, code), (503, "temporarily_unavailable"));
        assert!(!text.contains("vda1"), "{text}");
        let provisioned =
            KeyManagerError::Provisioned(gatehouse_signer::KeyRef::Label("prod".into()));
        let (status, code, text) = status_and_code(provisioned);
        assert_eq!((status, code), (409, "provisioned_key"));
        assert!(text.contains("rotate it there"), "{text}");
        let (status, code, text) = status_and_code(UserError::BadPassword);
        assert_eq!((status, code), (400, "invalid_request"));
        assert!(text.starts_with("password: a password is 8 to"), "{text}");
        let (status, code, text) = status_and_code(UserError::Hash("params".into()));
        assert_eq!((status, code), (500, "server_error"));
        assert!(!text.contains("params"), "{text}");
    }
}
