//! `/admin/status`: readiness with its reason, and what signs.

use axum::Json;
use axum::extract::State;
use serde_json::json;

use crate::state::AppState;

/// `GET /admin/status`: readiness with its reason, and what signs.
pub async fn status(State(app): State<AppState>) -> Json<serde_json::Value> {
    let status = app.readiness.status();
    Json(json!({
        "ready": status.ready,
        "reason": status.reason,
        "checked_at": status.checked_at,
        "signing_key": app.keys.ring().active().kid(),
        "signing_backend": app.keys.backend_kind(),
    }))
}
