//! `/admin/keys`: list the signing keys, force a rotation.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use gatehouse_core::store::{KeyRecord, KeyState};
use serde::Serialize;

use super::error::AdminError;
use crate::state::AppState;

/// A key as the admin API shows it: never its private material.
#[derive(Debug, Serialize)]
pub struct KeyView {
    kid: String,
    alg: String,
    state: KeyState,
    backend: gatehouse_token::BackendKind,
    created_at: u64,
    activated_at: Option<u64>,
    retired_at: Option<u64>,
    publish_until: Option<u64>,
}

impl From<KeyRecord> for KeyView {
    fn from(k: KeyRecord) -> Self {
        Self {
            kid: k.kid,
            alg: k.alg.to_string(),
            state: k.state,
            backend: k.backend,
            created_at: k.created_at.0,
            activated_at: k.activated_at.map(|t| t.0),
            retired_at: k.retired_at.map(|t| t.0),
            publish_until: k.publish_until.map(|t| t.0),
        }
    }
}

/// `GET /admin/keys`: the active key first, then the others newest first.
pub async fn list_keys(State(app): State<AppState>) -> Result<Json<Vec<KeyView>>, AdminError> {
    let mut records = app.keys.records().await?;
    // The active key first, then the others newest first.
    records.sort_by_key(|k| (k.state != KeyState::Active, std::cmp::Reverse(k.created_at)));
    Ok(Json(records.into_iter().map(KeyView::from).collect()))
}

/// `POST /admin/keys/rotate`: the next key signs from now on.
pub async fn rotate_keys(
    State(app): State<AppState>,
) -> Result<(StatusCode, Json<KeyView>), AdminError> {
    let record = app.changes.rotate_keys().await?;
    Ok((StatusCode::CREATED, Json(KeyView::from(record))))
}
