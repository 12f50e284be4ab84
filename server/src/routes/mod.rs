//! The HTTP endpoints, one module each. Handlers extract, call `core` or the validator, and
//! render; protocol rules live in `core`.

pub mod admin;
pub mod health;
pub mod introspect;
pub mod jwks;
pub mod metadata;
pub mod revoke;
pub mod token;

/// Endpoint paths, relative to the issuer's path. Shared by the router and the metadata.
pub mod paths {
    /// RFC 6749 §3.2.
    pub const TOKEN: &str = "/token";
    /// RFC 7662 §2.
    pub const INTROSPECT: &str = "/introspect";
    /// RFC 7009 §2.
    pub const REVOKE: &str = "/revoke";
    /// RFC 7517 §5, published as `jwks_uri`.
    pub const JWKS: &str = "/jwks";
    /// RFC 8414 §3.
    pub const OAUTH_METADATA: &str = "/.well-known/oauth-authorization-server";
    /// OpenID Connect Discovery 1.0 §4.
    pub const OIDC_METADATA: &str = "/.well-known/openid-configuration";
    /// Liveness.
    pub const HEALTH: &str = "/health";
    /// Readiness.
    pub const READY: &str = "/ready";
}
