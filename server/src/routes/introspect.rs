//! The introspection endpoint (RFC 7662). The caller authenticates as a registered client
//! (RFC 7662 §2.1); the answer is `{"active": false}` for anything that is not a valid token,
//! whatever the reason (RFC 7662 §2.2), so it tells a prober nothing.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use gatehouse_token::{AccessTokenClaims, Audience, UnixTime};
use serde::Serialize;

use crate::error::{OAuthError, no_store};
use crate::form::OAuthForm;
use crate::inspect::{authenticated_token, inspect};
use crate::state::AppState;

/// An introspection response (RFC 7662 §2.2).
#[derive(Debug, Serialize)]
struct Introspection {
    active: bool,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    token: Option<ActiveToken>,
}

#[derive(Debug, Serialize)]
struct ActiveToken {
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    client_id: String,
    sub: String,
    aud: Audience,
    iss: String,
    exp: UnixTime,
    iat: UnixTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    nbf: Option<UnixTime>,
    jti: String,
    token_type: &'static str,
}

impl From<&AccessTokenClaims> for ActiveToken {
    fn from(c: &AccessTokenClaims) -> Self {
        Self {
            scope: c.scope.clone(),
            client_id: c.client_id.clone(),
            sub: c.sub.clone(),
            aud: c.aud.clone(),
            iss: c.iss.clone(),
            exp: c.exp,
            iat: c.iat,
            nbf: c.nbf,
            jti: c.jti.clone(),
            token_type: "Bearer",
        }
    }
}

/// `POST /introspect`.
pub async fn handle(State(app): State<AppState>, req: OAuthForm) -> Result<Response, OAuthError> {
    let (_caller, token) = authenticated_token(&app, &req).await?;
    let claims = match inspect(&app, token, app.clock.now()).await? {
        Ok(valid) => Some(valid.claims().clone()),
        Err(reason) => {
            tracing::debug!(%reason, "introspected an inactive token");
            None
        }
    };
    let body = Introspection {
        active: claims.is_some(),
        token: claims.as_deref().map(ActiveToken::from),
    };
    Ok((no_store(), Json(body)).into_response())
}
