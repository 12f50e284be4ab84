//! The UserInfo endpoint (OIDC Core §5.3): the claims of the signed-in user that the access
//! token's scopes release, for a bearer access token with the `openid` scope (RFC 6750 §2.1:
//! the `Authorization` header; GET and POST alike), or a DPoP-bound one with the `DPoP` scheme
//! and a proof (RFC 9449 §7.1; a bound token presented as bearer is refused, §7.2; the proofs'
//! `jti`s are remembered per node), or a certificate-bound one with the client certificate it is
//! bound to (RFC 8705 §3: the connection's, or the one a trusted proxy forwards, as at the token
//! endpoint). Failures are RFC 6750 §3 challenges:
//! 401 `invalid_token` for a bad, expired or revoked token (or none), 403 `insufficient_scope`
//! without `openid`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_core::discovery::paths;
use gatehouse_core::id_token::{OPENID, UserClaims};
use gatehouse_core::scope::Scope;
use gatehouse_core::user::UserId;
use gatehouse_validator::dpop;
use gatehouse_validator::dpop::presentation::{self, Presentation, PresentationError, Scheme};
use serde::Serialize;

use crate::client_certificate::CertificateSource;
use crate::error::no_store;
use crate::state::{Inspection, Part};

#[derive(Debug, Serialize)]
struct UserInfo {
    sub: String,
    #[serde(flatten)]
    claims: UserClaims,
}

/// An RFC 6750 §3 challenge.
fn challenge(status: StatusCode, error: Option<(&str, &str)>) -> Response {
    let value = match error {
        None => "Bearer".to_owned(),
        Some((code, description)) => {
            let scope = if code == "insufficient_scope" {
                ", scope=\"openid\""
            } else {
                ""
            };
            format!("Bearer error=\"{code}\", error_description=\"{description}\"{scope}")
        }
    };
    let mut response = (status, no_store()).into_response();
    if let Ok(value) = HeaderValue::from_str(&value) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

fn invalid_token() -> Response {
    challenge(
        StatusCode::UNAUTHORIZED,
        Some((
            "invalid_token",
            "the access token is invalid, expired or revoked",
        )),
    )
}

/// The scheme and token of `Authorization: Bearer <token>` or `DPoP <token>` (scheme names
/// are case-insensitive, RFC 9110 §11.1); `Err` when the header is there but is not one.
fn credentials(headers: &HeaderMap) -> Result<Option<(Scheme, &str)>, ()> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(());
    }
    presentation::parse_authorization(value.to_str().map_err(|_| ())?)
        .map(Some)
        .ok_or(())
}

/// A DPoP challenge (RFC 9449 §7.1) for a failed DPoP presentation.
fn dpop_challenge(app: &Inspection, e: &PresentationError) -> Response {
    let value = presentation::challenge(&app.dpop, Some((e.error_code(), &e.to_string())));
    let mut response = (StatusCode::UNAUTHORIZED, no_store()).into_response();
    if let Ok(value) = HeaderValue::from_str(&value) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// RFC 9449 §9: the proof must carry this server nonce; a 401 DPoP challenge with
/// `use_dpop_nonce` and the nonce in `DPoP-Nonce`.
fn use_dpop_nonce(app: &Inspection, nonce: &str) -> Response {
    let value = presentation::challenge(
        &app.dpop,
        Some((
            "use_dpop_nonce",
            "the DPoP proof must carry the server's nonce",
        )),
    );
    let mut response = (StatusCode::UNAUTHORIZED, no_store()).into_response();
    if let Ok(value) = HeaderValue::from_str(&value) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    crate::dpop::set_nonce(response.headers_mut(), nonce);
    response
}

/// `GET` and `POST /userinfo`.
pub async fn handle(
    State(app): State<Part<Inspection>>,
    State(source): State<CertificateSource>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let (scheme, token) = match credentials(&headers) {
        Ok(Some(found)) => found,
        Ok(None) => return challenge(StatusCode::UNAUTHORIZED, None),
        Err(()) => {
            return challenge(
                StatusCode::BAD_REQUEST,
                Some((
                    "invalid_request",
                    "send one Authorization: Bearer or DPoP header",
                )),
            );
        }
    };
    let valid = match crate::validate::token(&app, token, app.auth.clock.now()).await {
        Ok(Ok(valid)) => valid,
        Ok(Err(_)) => return invalid_token(),
        Err(e) => return crate::error::OAuthError(e).into_response(),
    };
    let claims = valid.claims();
    let proof =
        match dpop::single_header(headers.get_all(dpop::HEADER).iter().map(|v| v.as_bytes())) {
            Ok(proof) => proof,
            Err(e) => return dpop_challenge(&app, &e.into()),
        };
    let url = format!("{}{}", app.issuer, paths::USERINFO);
    // RFC 8705 §3: a certificate-bound token is used over a connection with that certificate
    // (from the TLS handshake, or a trusted proxy's header, as at the token endpoint).
    let peer = crate::runtime::connections::peer().map(|addr| addr.ip());
    let certificate = match crate::client_certificate::of_request(&headers, peer, &source) {
        Ok(certificate) => certificate,
        Err(e) => return challenge(StatusCode::BAD_REQUEST, Some(("invalid_request", &e))),
    };
    let presented = Presentation {
        scheme,
        token,
        proof,
        method: method.as_str(),
        url: &url,
        now: app.auth.clock.now(),
        certificate: certificate.as_ref().map(|c| c.der()),
    };
    if let Err(e) =
        presentation::check(&app.dpop, &app.dpop_replay, &presented, claims.cnf.as_ref())
    {
        return match e {
            PresentationError::Certificate => invalid_token(),
            e => dpop_challenge(&app, &e),
        };
    }
    if scheme == Scheme::DPoP {
        if let Err(nonce) = app.dpop_nonces.resource_nonce(proof, app.auth.clock.now()) {
            return use_dpop_nonce(&app, &nonce);
        }
    }
    let scope: Scope = claims
        .scope
        .as_deref()
        .unwrap_or("")
        .parse()
        .unwrap_or_default();
    if !scope.contains(OPENID) {
        return challenge(
            StatusCode::FORBIDDEN,
            Some((
                "insufficient_scope",
                "the access token lacks the openid scope",
            )),
        );
    }
    let user = match app
        .users
        .get_by_id(&UserId::from_stored(claims.sub.clone()))
        .await
    {
        Ok(Some(user)) if !user.disabled => user,
        Ok(_) => return invalid_token(),
        Err(e) => return crate::error::OAuthError(e.into()).into_response(),
    };
    let body = UserInfo {
        sub: user.id.as_str().to_owned(),
        claims: UserClaims::of(&user, &scope),
    };
    (no_store(), Json(body)).into_response()
}
