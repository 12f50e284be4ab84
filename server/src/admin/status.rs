//! `/admin/status`: readiness with its reason, what signs, and how many clients registered
//! themselves (RFC 7591) with the one that has been idle longest, so an operator sees a flood
//! of registrations and when the oldest will expire.

use axum::Json;
use axum::extract::State;
use gatehouse_core::client::ClientOrigin;
use serde_json::{Value, json};

use crate::state::AppState;

/// `GET /admin/status`.
pub async fn status(State(app): State<AppState>) -> Json<Value> {
    let status = app.readiness.status();
    Json(json!({
        "ready": status.ready,
        "reason": status.reason,
        "checked_at": status.checked_at,
        "signing_key": app.keys.ring().active().kid(),
        "signing_backend": app.keys.backend_kind(),
        "dynamic_clients": dynamic_clients(&app).await,
    }))
}

/// The count of dynamically registered clients and the longest idle one (`null` when the
/// store cannot be read: the status must answer anyway).
async fn dynamic_clients(app: &AppState) -> Value {
    let Ok(clients) = app.clients.list().await else {
        return Value::Null;
    };
    let idle = app.config.registration.idle_expiry;
    let mut count = 0usize;
    let mut oldest: Option<(u64, &str)> = None;
    for c in &clients {
        if let ClientOrigin::Dynamic { last_used, .. } = &c.origin {
            count += 1;
            if oldest.is_none_or(|(t, _)| last_used.0 < t) {
                oldest = Some((last_used.0, c.id.as_str()));
            }
        }
    }
    json!({
        "count": count,
        "limit": app.config.registration.max_clients,
        "oldest_idle": oldest.map(|(last_used, id)| json!({
            "client_id": id,
            "last_used": last_used,
            "expires_at": last_used.saturating_add(idle),
        })),
    })
}
