//! The HTTP endpoints, one module each. Handlers extract, call `core` or the validator, and
//! render; protocol rules live in `core`.

pub mod authorize;
pub mod device;
pub mod device_authorization;
pub mod health;
pub mod introspect;
pub mod jwks;
pub mod logout;
pub mod metadata;
pub mod par;
pub mod register;
pub mod revoke;
pub mod token;
pub mod userinfo;

/// Endpoint paths: the OAuth ones relative to the issuer's path (named by the metadata too),
/// the probes at the root.
pub mod paths {
    pub use gatehouse_core::discovery::paths::*;
    /// Liveness.
    pub const HEALTH: &str = "/health";
    /// Readiness.
    pub const READY: &str = "/ready";
}
