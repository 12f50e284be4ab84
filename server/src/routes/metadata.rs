//! Authorization server metadata (RFC 8414 §2) and the OpenID Connect discovery document, with
//! the same issuer, at every well-known path MCP clients probe; the document is
//! `core::discovery`'s.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use gatehouse_core::discovery::Metadata;

use crate::state::{Discovery, Part};

/// `GET` on any of the well-known paths.
pub async fn handle(State(app): State<Part<Discovery>>) -> Response {
    let cache = [(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    )];
    let alg = app.keys.ring().active().algorithm();
    let doc = Metadata::new(&app.issuer, alg.as_str(), app.require_par);
    (cache, Json(doc)).into_response()
}
