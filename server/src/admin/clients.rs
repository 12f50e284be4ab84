//! `/admin/clients`: register, list, show and delete clients.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatehouse_core::client::auth::tls::TlsClientAuth;
use gatehouse_core::client::{Client, ClientId, ClientKind, ClientOrigin, ClientRegistration};
use serde::Serialize;
use serde_json::json;

use super::error::AdminError;
use crate::state::AppState;

/// A client as the admin API shows it: never the secret, nor its digest.
#[derive(Debug, Serialize)]
pub struct ClientView {
    client_id: String,
    name: String,
    grant_types: Vec<&'static str>,
    scope: String,
    resources: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    redirect_uris: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    post_logout_redirect_uris: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    require_pushed_authorization_requests: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    dpop_bound_access_tokens: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    tls_client_certificate_bound_access_tokens: bool,
    security_profile: &'static str,
    access_token_lifetime: Option<u64>,
    token_format: &'static str,
    token_endpoint_auth_method: &'static str,
    /// `private_key_jwt`: the registered public keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    jwks: Option<gatehouse_token::JwkSet>,
    /// `private_key_jwt`: where the client publishes its public keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    jwks_uri: Option<String>,
    /// A `tls_client_auth` client's subject, under its RFC 8705 §2.1.2 member.
    #[serde(flatten)]
    tls_subject: Option<serde_json::Map<String, serde_json::Value>>,
    introspection: &'static str,
    created_at: u64,
    /// `operator` or `dynamic` (RFC 7591).
    registered_by: &'static str,
    /// When a dynamically registered client was last used.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_used: Option<u64>,
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
            redirect_uris: c.redirect_uris.iter().map(ToString::to_string).collect(),
            post_logout_redirect_uris: c
                .post_logout_redirect_uris
                .iter()
                .map(ToString::to_string)
                .collect(),
            require_pushed_authorization_requests: c.require_pushed_authorization_requests,
            dpop_bound_access_tokens: c.binding.dpop_bound_access_tokens,
            tls_client_certificate_bound_access_tokens: c
                .binding
                .tls_client_certificate_bound_access_tokens,
            security_profile: c.security_profile.as_str(),
            access_token_lifetime: c.access_token_lifetime,
            token_format: c.token_format.as_str(),
            token_endpoint_auth_method: c.auth_method().as_str(),
            jwks: c.keys.as_ref().and_then(|k| k.jwks().cloned()),
            jwks_uri: c.keys.as_ref().and_then(|k| k.uri().map(str::to_owned)),
            tls_subject: match &c.kind {
                ClientKind::Tls(TlsClientAuth::Pki(subject)) => {
                    let mut member = serde_json::Map::new();
                    member.insert(subject.member().to_owned(), json!(subject.value()));
                    Some(member)
                }
                _ => None,
            },
            introspection: c.introspection.as_str(),
            created_at: c.created_at.0,
            registered_by: match c.origin {
                ClientOrigin::Operator => "operator",
                ClientOrigin::Dynamic { .. } => "dynamic",
                ClientOrigin::MetadataDocument => "metadata_document",
            },
            last_used: match &c.origin {
                ClientOrigin::Dynamic { last_used, .. } => Some(last_used.0),
                _ => None,
            },
            client_secret: secret,
        }
    }
}

/// `POST /admin/clients`: registers a client; the secret is in this answer only.
pub async fn create_client(
    State(app): State<AppState>,
    body: Result<Json<ClientRegistration>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, AdminError> {
    let Json(registration) =
        body.map_err(|e| AdminError::refused_body(&e, "invalid_client_metadata"))?;
    let (client, secret) = registration
        .register(app.random.as_ref(), app.clock.now())
        .map_err(|e| {
            // RFC 7591 §3.2.2: a redirect URI of its own error code.
            let code = match e.field {
                "redirect_uris" | "post_logout_redirect_uris" => "invalid_redirect_uri",
                _ => "invalid_client_metadata",
            };
            AdminError::new(StatusCode::BAD_REQUEST, code, e.to_string())
        })?;
    app.clients.insert(client.clone()).await?;
    tracing::info!(client_id = %client.id, name = %client.name, "client created");
    let view = ClientView::of(&client, secret.map(|s| s.expose().to_owned()));
    Ok((StatusCode::CREATED, crate::error::no_store(), Json(view)).into_response())
}

/// `GET /admin/clients`.
pub async fn list_clients(
    State(app): State<AppState>,
) -> Result<Json<Vec<ClientView>>, AdminError> {
    let clients = app.clients.list().await?;
    Ok(Json(
        clients.iter().map(|c| ClientView::of(c, None)).collect(),
    ))
}

fn not_found(id: &str) -> AdminError {
    AdminError::not_found(&format!("client {id:?}"))
}

/// `GET /admin/clients/{id}`.
pub async fn show_client(
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
pub async fn delete_client(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, AdminError> {
    let client_id = ClientId::new(&id).ok_or_else(|| not_found(&id))?;
    let dropped = app
        .changes
        .delete_client(&client_id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    tracing::info!(client_id = %id, opaque_tokens_deleted = dropped, "client deleted");
    Ok(Json(
        json!({"client_id": client_id.as_str(), "opaque_tokens_deleted": dropped}),
    ))
}
