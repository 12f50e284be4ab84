//! Liveness and readiness probes.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_token::TokenDigest;
use serde_json::json;

use crate::state::AppState;

/// `GET /health`: the process serves HTTP. A static answer: it is also the HTTP floor every load
/// figure is measured against, so it does no work of its own.
pub async fn health() -> Response {
    let json = [(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    )];
    (json, r#"{"status":"ok"}"#).into_response()
}

/// `GET /ready`: the store answers and the signing backend can sign. While the HSM is out of
/// reach this says so (503); validation of issued tokens goes on regardless.
pub async fn ready(State(app): State<AppState>) -> Response {
    // A point read of a digest that cannot exist proves the database is readable.
    let store = app
        .tokens
        .get(&TokenDigest([0; 32]))
        .await
        .err()
        .map(|e| format!("store: {e}"));
    let signer = app
        .keys
        .probe()
        .await
        .err()
        .map(|e| format!("signing backend ({}): {e}", app.keys.backend_name()));
    match store.or(signer) {
        None => Json(json!({
            "status": "ready",
            "signing_key": app.keys.ring().active().kid(),
            "signing_backend": app.keys.backend_name(),
        }))
        .into_response(),
        Some(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "reason": reason})),
        )
            .into_response(),
    }
}
