//! The token endpoint (RFC 6749 §3.2, OAuth 2.1 §3.2): authenticate the client, parse the typed
//! request, apply the grant, issue the token.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use gatehouse_core::discovery::paths;
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
    let now = app.auth.clock.now();
    // RFC 9449 §5: a proof binds the tokens to its key; `htu` is our token endpoint's URL.
    let url = format!("{}{}", app.settings.issuer, paths::TOKEN);
    let (mut holder, proof) = app
        .dpop
        .holder(
            req.dpop.as_deref(),
            &url,
            paths::TOKEN,
            now,
            app.replay.as_ref(),
        )
        .await?;
    crate::dpop::DpopCheck::allowed_for(proof.as_ref(), client.security_profile)?;
    // RFC 8705 §3.1: the certificate the client proved it holds (in the TLS handshake, or as a
    // trusted proxy saw it) can bind its tokens (`cnf.x5t#S256`).
    holder.certificate_thumbprint = req
        .client_certificate
        .as_ref()
        .map(gatehouse_core::client::auth::tls::thumbprint_s256);
    let registry = app.resources.current();
    let mut ctx = app.grant_context(&registry);
    ctx.holder = &holder;
    let issued = grant::exchange(&ctx, &client, &request).await?;
    let body = TokenResponse {
        access_token: issued.access_token,
        issued_token_type: issued.issued_token_type,
        token_type: issued.token_type.as_str(),
        expires_in: issued.expires_in,
        scope: (!issued.scope.is_empty()).then(|| issued.scope.to_string()),
        refresh_token: issued.refresh_token,
        id_token: issued.id_token,
    };
    let mut response = (no_store(), Json(body)).into_response();
    app.dpop.offer_nonce(response.headers_mut(), now);
    Ok(response)
}
