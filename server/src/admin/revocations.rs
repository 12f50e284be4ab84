//! `/admin/revocations`: revoke JWT access tokens by `jti` in bulk (incident response).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use gatehouse_core::client::LIFETIME_RANGE;
use gatehouse_token::UnixTime;
use serde_json::json;

use super::error::AdminError;
use crate::state::AppState;

/// One revoked token in a bulk import; an unknown member is an error naming it.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revoked {
    jti: String,
    exp: u64,
}

/// The most revocations one import may carry.
pub const MAX_REVOCATIONS_PER_IMPORT: usize = 100_000;

/// `POST /admin/revocations`: revokes JWT access tokens by `jti` in bulk (incident response:
/// "revoke every token these ids name"), durably in one transaction, then on this node at once.
pub async fn import_revocations(
    State(app): State<AppState>,
    body: Result<Json<Vec<Revoked>>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<serde_json::Value>, AdminError> {
    let Json(list) = body.map_err(|e| AdminError::refused_body(&e, "invalid_request"))?;
    if list.len() > MAX_REVOCATIONS_PER_IMPORT {
        return Err(AdminError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            format!("at most {MAX_REVOCATIONS_PER_IMPORT} revocations per import"),
        ));
    }
    if let Some(bad) = list.iter().find(|r| r.jti.is_empty() || r.jti.len() > 256) {
        return Err(AdminError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("bad jti {:?}", bad.jti),
        ));
    }
    let now = app.clock.now();
    // No token lives longer than the longest lifetime: a later `exp` names no real token and
    // would never be purged.
    let latest = now.plus(*LIFETIME_RANGE.end() + app.config.tokens.leeway);
    if let Some(bad) = list.iter().find(|r| UnixTime(r.exp) > latest) {
        return Err(AdminError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!(
                "exp {} of jti {:?} is later than any token can live (30 days from now)",
                bad.exp, bad.jti
            ),
        ));
    }
    let list = list.into_iter().map(|r| (r.jti, UnixTime(r.exp))).collect();
    let count = app.changes.import_revocations(list).await?;
    tracing::info!(count, "revocations imported");
    Ok(Json(json!({"revoked": count})))
}
