//! What runs besides the handlers: the listeners and their connections ([`connections`]), TLS
//! termination and client certificates ([`tls`]), the periodic work ([`maintain`]) and the
//! readiness probe ([`readiness`]).

pub mod connections;
pub mod maintain;
pub mod readiness;
pub mod tls;
