//! `/admin/resources`: the registry of protected resources (see [`crate::resources`]).
//! Resources defined in the configuration file are listed and shown, and refused (409) for
//! deletion or re-creation: the file is where they change.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatehouse_core::resource::{ProtectedResource, Resource, ResourceDefinition};
use serde::Serialize;

use super::error::AdminError;
use crate::resources::ResourceError;
use crate::state::AppState;

/// A resource as the admin API shows it.
#[derive(Debug, Serialize)]
pub struct ResourceView {
    /// The resource.
    #[serde(flatten)]
    pub resource: ProtectedResource,
    /// Whether it is defined in the configuration file.
    pub configured: bool,
    /// Whether it is the server's default resource.
    pub default: bool,
}

impl From<ResourceError> for AdminError {
    fn from(e: ResourceError) -> Self {
        match e {
            ResourceError::Invalid(m) => Self::new(StatusCode::BAD_REQUEST, "invalid_resource", m),
            e @ (ResourceError::Conflict(_) | ResourceError::Configured(_)) => {
                Self::new(StatusCode::CONFLICT, "conflict", e.to_string())
            }
            ResourceError::Store(e) => e.into(),
        }
    }
}

fn view(app: &AppState, resource: &ProtectedResource) -> ResourceView {
    let registry = app.resources.current();
    ResourceView {
        resource: resource.clone(),
        configured: app.resources.configured(&resource.uri),
        default: registry
            .default_resource()
            .is_some_and(|d| d.uri == resource.uri),
    }
}

fn parse(uri: &str) -> Result<Resource, AdminError> {
    uri.parse()
        .map_err(|e| AdminError::new(StatusCode::BAD_REQUEST, "invalid_resource", format!("{e}")))
}

/// `POST /admin/resources`.
pub async fn create_resource(
    State(app): State<AppState>,
    body: Result<Json<ResourceDefinition>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, AdminError> {
    let Json(definition) = body.map_err(|e| AdminError::refused_body(&e, "invalid_resource"))?;
    let resource = app.resources.create(definition).await?;
    tracing::info!(resource = %resource.uri, "resource registered");
    Ok((StatusCode::CREATED, Json(view(&app, &resource))).into_response())
}

/// `GET /admin/resources`.
pub async fn list_resources(State(app): State<AppState>) -> Json<Vec<ResourceView>> {
    Json(
        app.resources
            .current()
            .iter()
            .map(|r| view(&app, r))
            .collect(),
    )
}

/// `GET /admin/resources/{uri}` (the URI percent-encoded as one path segment).
pub async fn show_resource(
    State(app): State<AppState>,
    Path(uri): Path<String>,
) -> Result<Json<ResourceView>, AdminError> {
    let uri = parse(&uri)?;
    let registry = app.resources.current();
    let resource = registry
        .get(&uri)
        .ok_or_else(|| AdminError::not_found(&format!("resource {uri}")))?;
    Ok(Json(view(&app, resource)))
}

/// `DELETE /admin/resources/{uri}`.
pub async fn delete_resource(
    State(app): State<AppState>,
    Path(uri): Path<String>,
) -> Result<Json<serde_json::Value>, AdminError> {
    let uri = parse(&uri)?;
    if !app.resources.delete(&uri).await? {
        return Err(AdminError::not_found(&format!("resource {uri}")));
    }
    tracing::info!(resource = %uri, "resource deleted");
    Ok(Json(
        serde_json::json!({"uri": uri.as_str(), "deleted": true}),
    ))
}
