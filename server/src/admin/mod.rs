//! The admin API: manage clients, users, keys and revocations while the server runs. Listens on
//! its own address (loopback by default) and requires `Authorization: Bearer <admin token>`,
//! compared by digest in constant time. The CLI is its main user.
//!
//! # Layout
//! - this module: the router and the credential check.
//! - [`error`]: the one mapping of failures to answers.
//! - one module per resource: [`clients`], [`users`], [`keys`], [`resources`] (protected
//!   resources), [`revocations`], [`status`].

pub mod clients;
pub mod error;
pub mod keys;
pub mod resources;
pub mod revocations;
pub mod status;
pub mod users;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use gatehouse_token::SecretDigest;
use subtle::ConstantTimeEq;

use crate::state::AppState;
use error::AdminError;

/// The admin router.
pub fn router(app: AppState) -> Router {
    Router::new()
        .route(
            "/admin/clients",
            post(clients::create_client).get(clients::list_clients),
        )
        .route(
            "/admin/clients/{id}",
            get(clients::show_client).delete(clients::delete_client),
        )
        .route(
            "/admin/users",
            post(users::create_user).get(users::list_users),
        )
        .route(
            "/admin/users/{username}",
            get(users::show_user).delete(users::delete_user),
        )
        .route(
            "/admin/users/{username}/password",
            post(users::set_password),
        )
        .route("/admin/users/{username}/disable", post(users::disable_user))
        .route("/admin/users/{username}/enable", post(users::enable_user))
        .route(
            "/admin/users/{username}/consents",
            get(users::list_consents),
        )
        .route(
            "/admin/users/{username}/consents/{client_id}",
            axum::routing::delete(users::revoke_consent),
        )
        .route(
            "/admin/resources",
            post(resources::create_resource).get(resources::list_resources),
        )
        .route(
            "/admin/resources/{uri}",
            get(resources::show_resource).delete(resources::delete_resource),
        )
        .route("/admin/keys", get(keys::list_keys))
        .route("/admin/keys/rotate", post(keys::rotate_keys))
        .route("/admin/revocations", post(revocations::import_revocations))
        .route("/admin/status", get(status::status))
        // Room for a full revocation import (100 000 entries); the admin API is loopback-only.
        .layer(axum::extract::DefaultBodyLimit::max(8 * 1024 * 1024))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            require_admin,
        ))
        .with_state(app)
}

/// The credentials of `Authorization: Bearer <token>`; the scheme name is case-insensitive
/// (RFC 7235 §2.1).
pub(crate) fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_start_matches(' '))
}

async fn require_admin(State(app): State<AppState>, req: Request, next: Next) -> Response {
    // Single-valued (RFC 9110 §11.6.2): with two, which one counts would depend on who reads
    // them (a proxy may read the last), as on the public endpoints.
    if req
        .headers()
        .get_all(header::AUTHORIZATION)
        .iter()
        .nth(1)
        .is_some()
    {
        return AdminError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the authorization header is sent more than once",
        )
        .into_response();
    }
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer);
    let ok = presented
        .is_some_and(|t| bool::from(SecretDigest::of(t).0.ct_eq(&app.admin_token_digest.0)));
    if !ok {
        let mut response = AdminError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "the admin API needs `Authorization: Bearer <admin token>`",
        )
        .into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"gatehouse-admin\""),
        );
        return response;
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for header in ["Bearer t", "bearer t", "BEARER t", "bEaReR t", "Bearer  t"] {
            assert_eq!(bearer(header), Some("t"), "{header}");
        }
        for header in ["Basic t", "Bearert", "t", "Bearer", "Token t"] {
            assert_ne!(bearer(header), Some("t"), "{header}");
        }
    }
}
