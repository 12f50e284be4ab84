//! The revocation endpoint (RFC 7009). An invalid, expired or unknown token is answered 200, as
//! RFC 7009 §2.2 requires, and so is a valid token of another client, which is left untouched
//! (§2.1): the answer never tells the caller whether someone else's token is live. A storage
//! failure is an error response, never a 200; a client at its quota of outstanding revocations
//! gets 429.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatehouse_core::revocation::{RevokeTarget, Revoked, revoke};

use crate::error::{OAuthError, no_store};
use crate::form::OAuthForm;
use crate::state::AppState;
use crate::validate::{self, authenticated_token};
use gatehouse_validator::Valid;

/// `POST /revoke`.
pub async fn handle(State(app): State<AppState>, req: OAuthForm) -> Result<Response, OAuthError> {
    let (client, token) = authenticated_token(&app, &req).await?;
    let stores = (app.revocations.as_ref(), app.tokens.as_ref());
    let Ok(valid) = validate::token(&app, &token.token, app.clock.now()).await? else {
        return Ok((StatusCode::OK, no_store()).into_response());
    };
    let target = match &valid {
        Valid::Jwt(claims) => RevokeTarget::Jwt(claims),
        Valid::Opaque(digest, claims) => RevokeTarget::Opaque(*digest, claims),
    };
    let limit = app.config.limits.revocations_per_client;
    if revoke(&client, target, stores.0, stores.1, limit).await? == Revoked::NotOwner {
        tracing::debug!(caller = %client.id, "revocation of another client's token: answered 200, nothing changed");
        return Ok((StatusCode::OK, no_store()).into_response());
    }
    // Durable first, then visible on this node at once, through the caches too (by jti).
    let claims = valid.claims();
    app.validator
        .revocations()
        .insert(claims.jti.clone(), claims.exp);
    Ok((StatusCode::OK, no_store()).into_response())
}
