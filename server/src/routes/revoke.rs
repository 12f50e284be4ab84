//! The revocation endpoint (RFC 7009). An invalid, expired or unknown token is answered 200, as
//! RFC 7009 §2.2 requires; a valid token of another client is refused (§2.1); a storage failure
//! is an error response, never a 200.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatehouse_core::revocation::{RevokeTarget, revoke};

use crate::error::{OAuthError, no_store};
use crate::form::OAuthForm;
use crate::inspect::{Inspected, authenticated_token, inspect};
use crate::state::AppState;

/// `POST /revoke`.
pub async fn handle(State(app): State<AppState>, req: OAuthForm) -> Result<Response, OAuthError> {
    let (client, token) = authenticated_token(&app, &req).await?;
    let stores = (app.revocations.as_ref(), app.tokens.as_ref());
    match inspect(&app, token, app.clock.now()).await? {
        Inspected::Jwt(claims) => {
            revoke(&client, RevokeTarget::Jwt(&claims), stores.0, stores.1).await?;
            // Durable first, then visible on this node at once.
            app.validator.revocations().insert(claims.jti, claims.exp);
        }
        Inspected::Opaque(digest, claims) => {
            revoke(
                &client,
                RevokeTarget::Opaque(digest, &claims),
                stores.0,
                stores.1,
            )
            .await?;
        }
        Inspected::Inactive(_) => {}
    }
    Ok((StatusCode::OK, no_store()).into_response())
}
