//! The JWK Set (RFC 7517 §5) of every published key: the active one and retired ones whose
//! tokens may still be live.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::state::{Discovery, Part};

/// `GET /jwks`.
pub async fn handle(State(app): State<Part<Discovery>>) -> Response {
    let jwks = app.keys.ring().jwks();
    let cache = [(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    )];
    (cache, Json(jwks)).into_response()
}
