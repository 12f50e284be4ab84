//! What runs besides the handlers: the listeners and their connections ([`connections`]), the
//! periodic work ([`maintain`]) and the readiness probe ([`readiness`]).

pub mod connections;
pub mod maintain;
pub mod readiness;
