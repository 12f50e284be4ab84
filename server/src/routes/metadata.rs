//! Authorization server metadata (RFC 8414 §2) and the OpenID Connect discovery document, with
//! the same issuer, at every well-known path MCP clients probe; the document is
//! `core::discovery`'s.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use gatehouse_core::discovery::{Metadata, Offered};

use crate::state::{Discovery, Part};

/// `GET` on any of the well-known paths.
pub async fn handle(State(app): State<Part<Discovery>>) -> Response {
    let cache = [(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    )];
    let alg = app.keys.ring().active().algorithm();
    let offered = Offered {
        require_par: app.require_par,
        registration: app.registration,
        metadata_documents: app.metadata_documents,
        resource_scopes: app
            .resources
            .current()
            .all_scopes()
            .iter()
            .map(str::to_owned)
            .collect(),
    };
    let doc = Metadata::new(&app.issuer, alg.as_str(), &offered);
    (cache, Json(doc)).into_response()
}
