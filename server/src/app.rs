//! The routers: the OAuth endpoints under the issuer's path (with CORS for browser-based
//! clients on discovery, JWKS, token, revocation, PAR and UserInfo, shared/reference/mcp-auth.md
//! §7.10), the sign-in pages and sign-out (same-origin, no CORS), the
//! probes at the root. The admin API's router is [`crate::admin::router`].

use axum::Router;
use axum::http::{HeaderName, Method, header};
use axum::routing::{get, post};
use tower_http::cors::{Any, CorsLayer};

use crate::routes::{
    authorize, device, device_authorization, health, introspect, jwks, logout, metadata, par,
    paths, register, revoke, token, userinfo,
};
use crate::state::AppState;

/// The public router.
pub fn router(app: AppState) -> Router {
    let base = app.config.issuer_path();
    // Any origin, no credentials: the answer never depends on the origin, so no `Vary` either.
    // A preflight names the one method the route takes.
    let cors = |methods: &[Method]| {
        CorsLayer::new()
            .allow_origin(Any)
            .vary([])
            .allow_methods(methods.to_vec())
            .expose_headers([header::WWW_AUTHENTICATE])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("mcp-protocol-version"),
                // MCP 2026-07-28 clients send these on every request (mcp-auth.md §1.1).
                HeaderName::from_static("mcp-method"),
                HeaderName::from_static("mcp-name"),
            ])
    };
    let mut registration = Router::new();
    if app.config.registration.enabled {
        let register = format!("{base}{}", paths::REGISTER);
        registration = registration
            .merge(
                Router::new()
                    .route(&register, post(register::register))
                    .route_layer(cors(&[Method::POST])),
            )
            .merge(
                Router::new()
                    .route(
                        &format!("{register}/{{client_id}}"),
                        get(register::read)
                            .put(register::update)
                            .delete(register::delete),
                    )
                    .route_layer(cors(&[Method::GET, Method::PUT, Method::DELETE])),
            );
    }
    let posts = Router::new()
        .route(&format!("{base}{}", paths::TOKEN), post(token::handle))
        .route(&format!("{base}{}", paths::REVOKE), post(revoke::handle))
        .route(&format!("{base}{}", paths::PAR), post(par::handle));
    // RFC 8628: the device's endpoint (CORS, like the token endpoint) and the person's pages.
    let (posts, sign_in_device) = if app.config.device.enabled {
        let pages = Router::new()
            .route(
                &format!("{base}{}", paths::DEVICE),
                get(device::show).post(device::enter),
            )
            .route(
                &format!("{base}{}", device::LOGIN_PATH),
                post(device::login),
            )
            .route(
                &format!("{base}{}", device::DECIDE_PATH),
                post(device::decide),
            );
        let posts = posts.route(
            &format!("{base}{}", paths::DEVICE_AUTHORIZATION),
            post(device_authorization::handle),
        );
        (posts, pages)
    } else {
        (posts, Router::new())
    };
    let mut gets = Router::new().route(&format!("{base}{}", paths::JWKS), get(jwks::handle));
    for path in gatehouse_core::discovery::well_known_paths(&base) {
        gets = gets.route(&path, get(metadata::handle));
    }
    gets = gets
        .route(
            metadata::PROTECTED_RESOURCE,
            get(metadata::protected_resource),
        )
        .route(
            &format!("{}/{{*path}}", metadata::PROTECTED_RESOURCE),
            get(metadata::protected_resource),
        );
    // The browser's side of the flow: same-origin pages, no CORS.
    let sign_in = Router::new()
        .route(
            &format!("{base}{}", paths::AUTHORIZE),
            get(authorize::start).post(authorize::start_post),
        )
        .route(
            &format!("{base}{}", authorize::LOGIN_PATH),
            post(authorize::login),
        )
        .route(
            &format!("{base}{}", authorize::CONSENT_PATH),
            post(authorize::decide),
        )
        .route(
            &format!("{base}{}", paths::END_SESSION),
            get(logout::start).post(logout::start_post),
        )
        .route(
            &format!("{base}{}", logout::CONFIRM_PATH),
            post(logout::confirm),
        )
        .merge(sign_in_device)
        .merge(crate::pages::router(&base, app.assets.clone()));
    // Introspection is for resource servers, never browsers (a page would have to hold a
    // resource server's credentials), so it gets no CORS.
    Router::new()
        // `route_layer`: CORS on these routes only, never on the fallback (an unknown path
        // answers a plain 404, not a preflight).
        .merge(posts.route_layer(cors(&[Method::POST])))
        .merge(gets.route_layer(cors(&[Method::GET])))
        .merge(registration)
        .merge(
            Router::new()
                .route(
                    &format!("{base}{}", paths::USERINFO),
                    get(userinfo::handle).post(userinfo::handle),
                )
                .route_layer(cors(&[Method::GET, Method::POST])),
        )
        .merge(sign_in)
        .route(
            &format!("{base}{}", paths::INTROSPECT),
            post(introspect::handle),
        )
        .route(paths::HEALTH, get(health::health))
        .route(paths::READY, get(health::ready))
        .fallback(metadata::not_found)
        .with_state(app)
}
