//! The admin API: manage clients and keys while the server runs. Listens on its own address
//! (loopback by default) and requires `Authorization: Bearer <admin token>`, compared by digest
//! in constant time. The CLI is its main user.

use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use gatehouse_core::client::{Client, ClientId, ClientRegistration, LIFETIME_RANGE};
use gatehouse_core::revocation::purge_cutoff;
use gatehouse_core::store::{KeyRecord, KeyState, StoreError};
use gatehouse_token::{TokenDigest, UnixTime};
use serde::Serialize;
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::state::AppState;

/// An admin API error: a status and an RFC-7591-style body.
#[derive(Debug)]
pub struct AdminError(StatusCode, &'static str, String);

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        if self.0.is_server_error() {
            tracing::error!(detail = %self.2, "admin request failed");
        }
        let body = json!({"error": self.1, "error_description": self.2});
        (self.0, Json(body)).into_response()
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        Self(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            e.to_string(),
        )
    }
}

impl From<crate::keys::KeysError> for AdminError {
    fn from(e: crate::keys::KeysError) -> Self {
        Self(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            e.to_string(),
        )
    }
}

/// A JSON body the admin API cannot take: 413 when it is over the size limit, else 400 with
/// serde's words, which name an unknown or mistyped member.
fn refused_body(e: &axum::extract::rejection::JsonRejection, code: &'static str) -> AdminError {
    let status = match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::BAD_REQUEST,
    };
    AdminError(status, code, e.body_text())
}

/// A client as the admin API shows it: never the secret, nor its digest.
#[derive(Debug, Serialize)]
pub struct ClientView {
    client_id: String,
    name: String,
    grant_types: Vec<&'static str>,
    scope: String,
    resources: Vec<String>,
    access_token_lifetime: Option<u64>,
    token_format: &'static str,
    introspection: &'static str,
    created_at: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
}

impl ClientView {
    fn of(c: &Client, secret: Option<String>) -> Self {
        Self {
            client_id: c.id.to_string(),
            name: c.name.clone(),
            grant_types: c.grant_types.iter().map(|g| g.as_str()).collect(),
            scope: c.scope.to_string(),
            resources: c.resources.iter().map(ToString::to_string).collect(),
            access_token_lifetime: c.access_token_lifetime,
            token_format: c.token_format.as_str(),
            introspection: c.introspection.as_str(),
            created_at: c.created_at.0,
            client_secret: secret,
        }
    }
}

/// A key as the admin API shows it: never its private material.
#[derive(Debug, Serialize)]
pub struct KeyView {
    kid: String,
    alg: String,
    state: KeyState,
    backend: String,
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

/// The admin router.
pub fn router(app: AppState) -> Router {
    Router::new()
        .route("/admin/clients", post(create_client).get(list_clients))
        .route(
            "/admin/clients/{id}",
            get(show_client).delete(delete_client),
        )
        .route("/admin/keys", get(list_keys))
        .route("/admin/revocations", post(import_revocations))
        .route("/admin/keys/rotate", post(rotate_keys))
        .route("/admin/status", get(status))
        // Room for a full revocation import (100 000 entries); the admin API is loopback-only.
        .layer(axum::extract::DefaultBodyLimit::max(8 * 1024 * 1024))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            require_admin,
        ))
        .with_state(app)
}

/// The credentials of `Authorization: Bearer <token>`; the scheme name is case-insensitive
/// (RFC 7235 §2.1).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_start_matches(' '))
}

async fn require_admin(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer);
    let ok = presented
        .is_some_and(|t| bool::from(TokenDigest::of(t).0.ct_eq(&app.admin_token_digest.0)));
    if !ok {
        let mut response = AdminError(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "the admin API needs `Authorization: Bearer <admin token>`".into(),
        )
        .into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"gatehouse-admin\""),
        );
        return response;
    }
    next.run(req).await
}

async fn create_client(
    State(app): State<AppState>,
    body: Result<Json<ClientRegistration>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, AdminError> {
    let Json(registration) = body.map_err(|e| refused_body(&e, "invalid_client_metadata"))?;
    let (client, secret) = registration
        .register(app.random.as_ref(), app.clock.now())
        .map_err(|e| {
            AdminError(
                StatusCode::BAD_REQUEST,
                "invalid_client_metadata",
                e.to_string(),
            )
        })?;
    app.clients.insert(client.clone()).await?;
    tracing::info!(client_id = %client.id, name = %client.name, "client created");
    let view = ClientView::of(&client, Some(secret.expose().to_owned()));
    Ok((StatusCode::CREATED, crate::error::no_store(), Json(view)).into_response())
}

async fn list_clients(State(app): State<AppState>) -> Result<Json<Vec<ClientView>>, AdminError> {
    let clients = app.clients.list().await?;
    Ok(Json(
        clients.iter().map(|c| ClientView::of(c, None)).collect(),
    ))
}

fn not_found(id: &str) -> AdminError {
    AdminError(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no client {id:?}"),
    )
}

async fn show_client(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ClientView>, AdminError> {
    let client_id = ClientId::new(&id).ok_or_else(|| not_found(&id))?;
    let client = app
        .clients
        .get(&client_id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    Ok(Json(ClientView::of(&client, None)))
}

/// `DELETE /admin/clients/{id}`: the client is gone, and with it every token issued to it: its
/// tokens introspect inactive from this moment (introspection checks the client set), and its
/// stored opaque tokens are dropped.
async fn delete_client(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, AdminError> {
    let client_id = ClientId::new(&id).ok_or_else(|| not_found(&id))?;
    if !app.clients.delete(&client_id).await? {
        return Err(not_found(&id));
    }
    let dropped = app.tokens.delete_client_tokens(client_id.as_str()).await?;
    tracing::info!(client_id = %id, opaque_tokens_deleted = dropped, "client deleted");
    Ok(Json(
        json!({"client_id": client_id.as_str(), "opaque_tokens_deleted": dropped}),
    ))
}

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
async fn import_revocations(
    State(app): State<AppState>,
    body: Result<Json<Vec<Revoked>>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<serde_json::Value>, AdminError> {
    let Json(list) = body.map_err(|e| refused_body(&e, "invalid_request"))?;
    if list.len() > MAX_REVOCATIONS_PER_IMPORT {
        return Err(AdminError(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            format!("at most {MAX_REVOCATIONS_PER_IMPORT} revocations per import"),
        ));
    }
    if let Some(bad) = list.iter().find(|r| r.jti.is_empty() || r.jti.len() > 256) {
        return Err(AdminError(
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
        return Err(AdminError(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!(
                "exp {} of jti {:?} is later than any token can live (30 days from now)",
                bad.exp, bad.jti
            ),
        ));
    }
    let cutoff = purge_cutoff(now, app.config.tokens.leeway);
    let live: Vec<(String, UnixTime)> = list
        .into_iter()
        .filter(|r| UnixTime(r.exp) >= cutoff)
        .map(|r| (r.jti, UnixTime(r.exp)))
        .collect();
    let count = live.len();
    app.revocations.revoke_many(live.clone()).await?;
    for (jti, exp) in live {
        app.validator.revocations().insert(jti, exp);
    }
    tracing::info!(count, "revocations imported");
    Ok(Json(json!({"revoked": count})))
}

async fn list_keys(State(app): State<AppState>) -> Result<Json<Vec<KeyView>>, AdminError> {
    let mut records = app.keys.records().await?;
    // The active key first, then the others newest first.
    records.sort_by_key(|k| (k.state != KeyState::Active, std::cmp::Reverse(k.created_at)));
    Ok(Json(records.into_iter().map(KeyView::from).collect()))
}

async fn rotate_keys(
    State(app): State<AppState>,
) -> Result<(StatusCode, Json<KeyView>), AdminError> {
    let retain = app.key_retention().await?;
    let record = app.keys.rotate(app.clock.now(), retain).await?;
    Ok((StatusCode::CREATED, Json(KeyView::from(record))))
}

/// `GET /admin/status`: readiness with its reason, and what signs.
async fn status(State(app): State<AppState>) -> Json<serde_json::Value> {
    let status = app.readiness.status();
    Json(json!({
        "ready": status.ready,
        "reason": status.reason,
        "checked_at": status.checked_at,
        "signing_key": app.keys.ring().active().kid(),
        "signing_backend": app.keys.backend_name(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for header in ["Bearer t", "bearer t", "BEARER t", "bEaReR t", "Bearer  t"] {
            assert_eq!(bearer(header), Some("t"), "{header}");
        }
        for header in ["Basic t", "Bearert", "t", "Bearer", "Token t"] {
            assert_ne!(bearer(header), Some("t"), "{header}");
        }
    }
}
