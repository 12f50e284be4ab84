//! The introspection endpoint (RFC 7662): authenticate the caller, check its permission,
//! validate the token, answer what `core::introspection` says the caller may know, as JSON or,
//! when the caller sends `Accept: application/token-introspection+jwt`, as a JWT signed by the
//! authorization server (RFC 9701 §4, §5).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use gatehouse_core::TokenError;
use gatehouse_core::introspection::{self, JWT_ANSWER_MEDIA_TYPE, JWT_ANSWER_TYP, JwtAnswer};
use gatehouse_core::ports::random_bytes;
use gatehouse_token::b64;

use crate::error::{OAuthError, no_store_only};
use crate::form::OAuthForm;
use crate::state::{Inspection, Part};
use crate::validate::{self, authenticated_token};

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
            media_type.eq_ignore_ascii_case(JWT_ANSWER_MEDIA_TYPE) && !refused
        })
}

/// `POST /introspect`.
pub async fn handle(
    State(app): State<Part<Inspection>>,
    headers: HeaderMap,
    req: OAuthForm,
) -> Result<Response, OAuthError> {
    let (caller, token) = authenticated_token(
        &app.auth,
        &req,
        gatehouse_core::discovery::paths::INTROSPECT,
    )
    .await?;
    introspection::authorize(&caller)?;
    let valid = match validate::token(&app, &token.token, app.auth.clock.now()).await? {
        Ok(valid) => Some(valid),
        Err(reason) => {
            tracing::debug!(%reason, "introspected an inactive token");
            None
        }
    };
    let answer = introspection::answer(&caller, valid.as_ref().map(|v| v.claims().as_ref()));
    if !wants_jwt(&headers) {
        return Ok((no_store_only(), Json(answer)).into_response());
    }
    let jwt_answer = JwtAnswer {
        iss: &app.issuer,
        aud: caller.id.as_str(),
        iat: app.auth.clock.now(),
        jti: b64::encode(random_bytes::<16>(app.random.as_ref())),
        token_introspection: answer,
    };
    // The signer may move the claims to another thread: an owned JSON value.
    let claims =
        serde_json::to_value(&jwt_answer).map_err(|e| TokenError::Server(e.to_string()))?;
    let jwt = app
        .signer
        .sign_jwt(JWT_ANSWER_TYP, &claims)
        .await
        .map_err(TokenError::from)?;
    let content_type = [(
        header::CONTENT_TYPE,
        HeaderValue::from_static(JWT_ANSWER_MEDIA_TYPE),
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
