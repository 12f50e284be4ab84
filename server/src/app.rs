//! The routers: the OAuth endpoints under the issuer's path (with CORS for browser-based
//! clients on discovery, JWKS, token and revocation, shared/reference/mcp-auth.md §7.10), the
//! probes at the root. The admin API's router is [`crate::admin::router`].

use axum::Router;
use axum::http::{HeaderName, Method, header};
use axum::routing::{get, post};
use tower_http::cors::{Any, CorsLayer};

use crate::routes::{health, introspect, jwks, metadata, paths, revoke, token};
use crate::state::AppState;

/// The public router.
pub fn router(app: AppState) -> Router {
    let base = app.config.issuer_path();
    // Any origin, no credentials: the answer never depends on the origin, so no `Vary` either.
    // A preflight names the one method the route takes.
    let cors = |method: Method| {
        CorsLayer::new()
            .allow_origin(Any)
            .vary([])
            .allow_methods([method])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("mcp-protocol-version"),
            ])
    };
    let posts = Router::new()
        .route(&format!("{base}{}", paths::TOKEN), post(token::handle))
        .route(&format!("{base}{}", paths::REVOKE), post(revoke::handle));
    let mut gets = Router::new().route(&format!("{base}{}", paths::JWKS), get(jwks::handle));
    for path in gatehouse_core::discovery::well_known_paths(&base) {
        gets = gets.route(&path, get(metadata::handle));
    }
    // Introspection is for resource servers, never browsers (a page would have to hold a
    // resource server's credentials), so it gets no CORS.
    Router::new()
        // `route_layer`: CORS on these routes only, never on the fallback (an unknown path
        // answers a plain 404, not a preflight).
        .merge(posts.route_layer(cors(Method::POST)))
        .merge(gets.route_layer(cors(Method::GET)))
        .route(
            &format!("{base}{}", paths::INTROSPECT),
            post(introspect::handle),
        )
        .route(paths::HEALTH, get(health::health))
        .route(paths::READY, get(health::ready))
        .with_state(app)
}
