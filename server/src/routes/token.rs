//! The token endpoint (RFC 6749 §3.2, OAuth 2.1 §3.2): authenticate the client, parse the typed
//! request, apply the grant, issue the token.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use gatehouse_core::grant;
use gatehouse_core::request::TokenRequest;
use serde::Serialize;

use crate::error::{OAuthError, no_store};
use crate::form::OAuthForm;
use crate::state::{Issuance, Part};

/// A successful token response (RFC 6749 §5.1; a token exchange's, RFC 8693 §2.2.1).
#[derive(Debug, Serialize)]
struct TokenResponse {
    access_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    issued_token_type: Option<&'static str>,
    token_type: &'static str,
    expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
}

/// `POST /token`.
pub async fn handle(
    State(app): State<Part<Issuance>>,
    req: OAuthForm,
) -> Result<Response, OAuthError> {
    let client =
        crate::authenticate::client(&app.auth, &req, gatehouse_core::discovery::paths::TOKEN)
            .await?;
    let request = TokenRequest::parse(&req.form)?;
    let registry = app.resources.current();
    let issued = grant::exchange(&app.grant_context(&registry), &client, &request).await?;
    let body = TokenResponse {
        access_token: issued.access_token,
        issued_token_type: issued.issued_token_type,
        token_type: issued.token_type.as_str(),
        expires_in: issued.expires_in,
        scope: (!issued.scope.is_empty()).then(|| issued.scope.to_string()),
        refresh_token: issued.refresh_token,
        id_token: issued.id_token,
    };
    Ok((no_store(), Json(body)).into_response())
}
