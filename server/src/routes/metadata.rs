//! Authorization server metadata (RFC 8414 §2) and the OpenID Connect discovery document, with
//! the same issuer, at every well-known path MCP clients probe; the document is
//! `core::discovery`'s. Also protected-resource metadata (RFC 9728 §3) for registered
//! resources, for MCP servers that let Gatehouse answer it (a proxy routes the resource's
//! well-known path here), and the clean JSON 404 every unknown path gets.

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
        device: app.device,
        profile: app.profile,
        assertion_algorithms: app.assertion_algorithms.clone(),
        resource_scopes: app
            .resources
            .current()
            .all_scopes()
            .iter()
            .map(str::to_owned)
            .collect(),
        client_certificates: app.client_certificates,
        mtls_base: app.mtls_base.clone(),
        dpop_algorithms: app.dpop_algorithms.clone(),
        // RFC 8705 §3: tokens are bound to certificates where certificates reach the server.
        certificate_bound_tokens: app.client_certificates,
    };
    let doc = Metadata::new(&app.issuer, alg.as_str(), &offered);
    (cache, Json(doc)).into_response()
}

/// The well-known path of protected-resource metadata (RFC 9728 §3.1).
pub const PROTECTED_RESOURCE: &str = "/.well-known/oauth-protected-resource";

/// `GET /.well-known/oauth-protected-resource[/<path>]`: the metadata of the registered
/// resource whose path is `<path>` (RFC 9728 §3.1 inserts the well-known segment before the
/// resource's path). When several registered resources share the path, the one whose host is
/// the request's `Host` (RFC 9728 §3.3: `resource` must be the URL the client used).
pub async fn protected_resource(
    State(app): State<Part<Discovery>>,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
) -> Response {
    // Compared as sent (percent-encoded), like `Url::path` keeps a resource's path.
    let wanted = uri
        .path()
        .strip_prefix(PROTECTED_RESOURCE)
        .unwrap_or_default()
        .trim_end_matches('/');
    let registry = app.resources.current();
    let same_path: Vec<(&std::sync::Arc<_>, url::Url)> = registry
        .iter()
        .filter_map(|r| url::Url::parse(r.uri.as_str()).ok().map(|u| (r, u)))
        .filter(|(_, u)| u.path().trim_end_matches('/') == wanted && u.query() == uri.query())
        .collect();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_ascii_lowercase);
    let authority = |u: &url::Url| match u.port() {
        Some(p) => format!("{}:{p}", u.host_str().unwrap_or_default()),
        None => u.host_str().unwrap_or_default().to_owned(),
    };
    // One resource with this path: it. Several: the one on the request's host, https first.
    let chosen = match same_path.as_slice() {
        [(only, _)] => Some(*only),
        several => several
            .iter()
            .filter(|(_, u)| host.as_deref() == Some(authority(u).as_str()))
            .min_by_key(|(_, u)| u.scheme() != "https")
            .map(|(r, _)| *r),
    };
    let Some(resource) = chosen else {
        return not_found().await;
    };
    // RFC 9728 §2; mcp-auth.md §1.1: `offline_access` is not the resource's to list.
    let scopes: Vec<&str> = resource.scopes.iter().map(|s| s.name.as_str()).collect();
    let doc = serde_json::json!({
        "resource": resource.uri.as_str(),
        "authorization_servers": [app.issuer],
        "scopes_supported": scopes,
        "bearer_methods_supported": ["header"],
        "resource_name": resource.name,
    });
    let cache = [(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    )];
    (cache, Json(doc)).into_response()
}

/// Any path nothing else serves: a 404 with a JSON body (never HTML, never a 5xx), so a client
/// probing well-known URLs moves on cleanly (shared/reference/mcp-auth.md §1.3).
pub async fn not_found() -> Response {
    (
        axum::http::StatusCode::NOT_FOUND,
        Json(serde_json::json!({
            "error": "not_found",
            "error_description": "nothing is served at this path",
        })),
    )
        .into_response()
}
