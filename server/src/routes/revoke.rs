//! The revocation endpoint (RFC 7009). An invalid, expired or unknown token is answered 200, as
//! RFC 7009 §2.2 requires, and so is a valid token of another client, which is left untouched
//! (§2.1): the answer never tells the caller whether someone else's token is live. A storage
//! failure is an error response, never a 200; a client at its quota of outstanding revocations
//! gets 429.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatehouse_core::revocation::Revoked;

use crate::error::{OAuthError, no_store};
use crate::form::OAuthForm;
use crate::state::{Inspection, Part};
use crate::validate::{self, authenticated_token};

/// `POST /revoke`.
pub async fn handle(
    State(app): State<Part<Inspection>>,
    req: OAuthForm,
) -> Result<Response, OAuthError> {
    let (client, token) = authenticated_token(&app.auth, &req).await?;
    let Ok(valid) = validate::token(&app, &token.token, app.auth.clock.now()).await? else {
        return Ok((StatusCode::OK, no_store()).into_response());
    };
    if app.changes.revoke(&client, &valid).await? == Revoked::NotOwner {
        tracing::debug!(caller = %client.id, "revocation of another client's token: answered 200, nothing changed");
    }
    Ok((StatusCode::OK, no_store()).into_response())
}
