//! The pushed authorization request endpoint (RFC 9126 §2): authenticate the client, check the
//! request as the authorization endpoint would, store it, answer its `request_uri` (201).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatehouse_core::authorize::par;
use serde::Serialize;

use crate::error::{OAuthError, no_store};
use crate::form::OAuthForm;
use crate::state::{Issuance, Part};

#[derive(Debug, Serialize)]
struct Answer {
    request_uri: String,
    expires_in: u64,
}

/// `POST /par`.
pub async fn handle(
    State(app): State<Part<Issuance>>,
    req: OAuthForm,
) -> Result<Response, OAuthError> {
    let client =
        crate::authenticate::client(&app.auth, &req, gatehouse_core::discovery::paths::PAR).await?;
    let registry = app.resources.current();
    let checks = gatehouse_core::authorize::Checks {
        clients: app.auth.clients.as_ref(),
        resources: &registry,
        issuer: &app.settings.issuer,
    };
    let pushed = par::push(
        &req.form,
        &client,
        checks,
        app.pushed.as_ref(),
        app.random.as_ref(),
        app.auth.clock.now(),
    )
    .await?;
    let body = Answer {
        request_uri: pushed.request_uri,
        expires_in: pushed.expires_in,
    };
    Ok((StatusCode::CREATED, no_store(), Json(body)).into_response())
}
