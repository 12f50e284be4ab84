//! The pushed authorization request endpoint (RFC 9126 §2): authenticate the client, check the
//! request as the authorization endpoint would, store it, answer its `request_uri` (201).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatehouse_core::authorize::par;
use gatehouse_core::discovery::paths;
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
    let now = app.auth.clock.now();
    // RFC 9449 §10.1: a proof at PAR binds the request (and its code) to the proof's key.
    let url = format!("{}{}", app.settings.issuer, paths::PAR);
    let (_, proof) = app
        .dpop
        .holder(
            req.dpop.as_deref(),
            &url,
            paths::PAR,
            now,
            app.replay.as_ref(),
        )
        .await?;
    crate::dpop::DpopCheck::allowed_for(proof.as_ref(), client.security_profile)?;
    let registry = app.resources.current();
    let checks = gatehouse_core::authorize::Checks {
        clients: app.auth.clients.as_ref(),
        resources: &registry,
        issuer: &app.settings.issuer,
    };
    let pushed = par::push(
        &req.form,
        proof.as_ref().map(|p| p.jkt.as_str()),
        &client,
        checks,
        app.pushed.as_ref(),
        app.random.as_ref(),
        now,
    )
    .await?;
    let body = Answer {
        request_uri: pushed.request_uri,
        expires_in: pushed.expires_in,
    };
    let mut response = (StatusCode::CREATED, no_store(), Json(body)).into_response();
    app.dpop.offer_nonce(response.headers_mut(), now);
    Ok(response)
}
