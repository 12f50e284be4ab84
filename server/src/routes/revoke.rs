//! The revocation endpoint (RFC 7009). An invalid, expired or unknown token is answered 200, as
//! RFC 7009 §2.2 requires, and so is a valid token of another client, which is left untouched
//! (§2.1): the answer never tells the caller whether someone else's token is live. A storage
//! failure is an error response, never a 200; a client at its quota of outstanding revocations
//! gets 429. Revoking a refresh token revokes its whole family: the grant it came from (RFC
//! 7009 §2.1, "revoke … other tokens based on the same authorization grant").

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatehouse_core::TokenError;
use gatehouse_core::revocation::Revoked;
use gatehouse_token::RefreshTokenText;

use crate::error::{OAuthError, no_store};
use crate::form::OAuthForm;
use crate::state::{Inspection, Part};
use crate::validate::{self, authenticated_token};

/// `POST /revoke`.
pub async fn handle(
    State(app): State<Part<Inspection>>,
    req: OAuthForm,
) -> Result<Response, OAuthError> {
    let (client, token) =
        authenticated_token(&app.auth, &req, gatehouse_core::discovery::paths::REVOKE).await?;
    if let Ok(refresh) = RefreshTokenText::parse(&token.token) {
        let refresh_tokens = &app.changes.refresh_tokens;
        match refresh_tokens
            .get(&refresh.digest())
            .await
            .map_err(TokenError::from)?
        {
            Some((stored, _)) if stored.client_id == client.id => {
                refresh_tokens
                    .revoke_family(&stored.family)
                    .await
                    .map_err(TokenError::from)?;
            }
            Some(_) => {
                tracing::debug!(caller = %client.id, "revocation of another client's refresh token: answered 200, nothing changed");
            }
            None => {}
        }
        return Ok((StatusCode::OK, no_store()).into_response());
    }
    let Ok(valid) = validate::token(&app, &token.token, app.auth.clock.now()).await? else {
        return Ok((StatusCode::OK, no_store()).into_response());
    };
    if app.changes.revoke(&client, &valid).await? == Revoked::NotOwner {
        tracing::debug!(caller = %client.id, "revocation of another client's token: answered 200, nothing changed");
    }
    Ok((StatusCode::OK, no_store()).into_response())
}
