//! Liveness and readiness probes.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatehouse_token::TokenDigest;
use serde_json::json;

use crate::state::AppState;

/// `GET /health`: the process serves HTTP.
pub async fn health() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

/// `GET /ready`: the store answers and a signing key is active.
pub async fn ready(State(app): State<AppState>) -> Response {
    // A point read of a digest that cannot exist proves the database is readable.
    match app.tokens.get(&TokenDigest([0; 32])).await {
        Ok(_) => Json(json!({
            "status": "ready",
            "signing_key": app.keys.ring().active().kid(),
        }))
        .into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "reason": format!("store: {e}")})),
        )
            .into_response(),
    }
}
