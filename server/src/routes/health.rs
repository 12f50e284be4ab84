//! Liveness and readiness probes.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::runtime::readiness::Readiness;
use crate::state::Part;

/// `GET /health`: the process serves HTTP. A static answer: it is also the HTTP floor every load
/// figure is measured against, so it does no work of its own.
pub async fn health() -> Response {
    let json = [(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    )];
    (json, r#"{"status":"ok"}"#).into_response()
}

/// `GET /ready`: the last readiness probe ([`crate::runtime::readiness`]), from memory: the
/// store answers and the signing backend can sign. It says only whether; the reason is in the
/// log and at the admin API's `/admin/status`. Validation of issued tokens goes on regardless.
pub async fn ready(State(readiness): State<Part<Readiness>>) -> Response {
    let json = [(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    )];
    if readiness.status().ready {
        (json, r#"{"status":"ready"}"#).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json,
            r#"{"status":"unavailable"}"#,
        )
            .into_response()
    }
}
