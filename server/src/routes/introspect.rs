//! The introspection endpoint (RFC 7662). The caller authenticates as a registered client
//! (RFC 7662 §2.1) that holds the introspection permission (403 otherwise); the answer is
//! `{"active": false}` for anything that is not a valid token, whatever the reason (RFC 7662
//! §2.2), and for a valid token the caller may not see (one meant for another resource, §4), so
//! it tells a prober nothing.
//!
//! A caller that sends `Accept: application/token-introspection+jwt` gets the answer as a JWT
//! signed by the authorization server (RFC 9701 §4, §5): `iss`, `aud` (the caller), `iat`, `jti`
//! and the introspection response in `token_introspection`, typed `token-introspection+jwt` so
//! that it can never pass for an access token.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use gatehouse_core::ports::random_bytes;
use gatehouse_core::{TokenError, introspection};
use gatehouse_token::b64;
use gatehouse_token::{AccessTokenClaims, Audience, UnixTime};
use serde::Serialize;

use crate::error::{OAuthError, no_store_only};
use crate::form::OAuthForm;
use crate::inspect::{authenticated_token, inspect};
use crate::state::AppState;

/// The media type of RFC 9701 responses.
pub const JWT_RESPONSE_TYPE: &str = "application/token-introspection+jwt";
const JWT_RESPONSE_TYP: &str = "token-introspection+jwt";

/// An introspection response (RFC 7662 §2.2), borrowing from the validated claims.
#[derive(Debug, Clone, Serialize)]
struct Introspection<'a> {
    active: bool,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    token: Option<ActiveToken<'a>>,
}

#[derive(Debug, Clone, Serialize)]
struct ActiveToken<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'a str>,
    client_id: &'a str,
    sub: &'a str,
    aud: &'a Audience,
    iss: &'a str,
    exp: UnixTime,
    iat: UnixTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    nbf: Option<UnixTime>,
    jti: &'a str,
    token_type: &'static str,
}

impl<'a> From<&'a AccessTokenClaims> for ActiveToken<'a> {
    fn from(c: &'a AccessTokenClaims) -> Self {
        Self {
            scope: c.scope.as_deref(),
            client_id: &c.client_id,
            sub: &c.sub,
            aud: &c.aud,
            iss: &c.iss,
            exp: c.exp,
            iat: c.iat,
            nbf: c.nbf,
            jti: &c.jti,
            token_type: "Bearer",
        }
    }
}

/// The claims of an RFC 9701 response.
#[derive(Debug, Clone, Serialize)]
struct JwtResponse {
    iss: String,
    aud: String,
    iat: UnixTime,
    jti: String,
    token_introspection: serde_json::Value,
}

/// Whether the caller asked for an RFC 9701 JWT response: the media type among its `Accept`
/// values, unless with `q=0`, which means "not acceptable" (RFC 9110 §12.4.2).
fn wants_jwt(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';');
            let media_type = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| {
                p.split_once('=').is_some_and(|(k, v)| {
                    k.trim().eq_ignore_ascii_case("q")
                        && v.trim().parse::<f32>().is_ok_and(|q| q <= 0.0)
                })
            });
            media_type.eq_ignore_ascii_case(JWT_RESPONSE_TYPE) && !refused
        })
}

/// `POST /introspect`.
pub async fn handle(
    State(app): State<AppState>,
    headers: HeaderMap,
    req: OAuthForm,
) -> Result<Response, OAuthError> {
    let (caller, token) = authenticated_token(&app, &req).await?;
    introspection::authorize(&caller)?;
    let claims = match inspect(&app, token, app.clock.now()).await? {
        Ok(valid) if introspection::may_see(&caller, valid.claims()) => {
            Some(valid.claims().clone())
        }
        Ok(_) => {
            tracing::debug!(caller = %caller.id, "introspected a token for another audience: answered inactive");
            None
        }
        Err(reason) => {
            tracing::debug!(%reason, "introspected an inactive token");
            None
        }
    };
    let body = Introspection {
        active: claims.is_some(),
        token: claims.as_deref().map(ActiveToken::from),
    };
    if !wants_jwt(&headers) {
        return Ok((no_store_only(), Json(body)).into_response());
    }
    let response = JwtResponse {
        iss: app.config.issuer.clone(),
        aud: caller.id.to_string(),
        iat: app.clock.now(),
        jti: b64::encode(random_bytes::<16>(app.random.as_ref())),
        token_introspection: serde_json::to_value(&body)
            .map_err(|e| TokenError::Server(e.to_string()))?,
    };
    let jwt = app
        .signer
        .sign_jwt(JWT_RESPONSE_TYP, &response)
        .await
        .map_err(TokenError::from)?;
    let content_type = [(
        header::CONTENT_TYPE,
        HeaderValue::from_static(JWT_RESPONSE_TYPE),
    )];
    Ok((no_store_only(), content_type, jwt).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(header::ACCEPT, HeaderValue::from_str(v).unwrap());
        }
        headers
    }

    #[test]
    fn the_jwt_answer_is_asked_for_by_media_type_and_quality() {
        for yes in [
            vec!["application/token-introspection+jwt"],
            vec!["application/json, Application/Token-Introspection+JWT;q=0.5"],
            vec!["application/json", "application/token-introspection+jwt"],
        ] {
            assert!(wants_jwt(&accept(&yes)), "{yes:?}");
        }
        for no in [
            vec![],
            vec!["application/json"],
            vec!["application/token-introspection+jwt;q=0, application/json"],
            vec!["application/token-introspection+jwt; q=0.000"],
            vec!["application/token-introspection+jwtx"],
        ] {
            assert!(!wants_jwt(&accept(&no)), "{no:?}");
        }
    }
}
