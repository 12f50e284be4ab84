//! The JOSE header Gatehouse writes on the access tokens it signs.

use serde::Serialize;

use crate::Algorithm;

/// `typ` of a JWT access token (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// A JWS protected header with exactly the members Gatehouse sets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JwsHeader<'a> {
    /// The key's own algorithm (RFC 7515 §4.1.1).
    pub alg: Algorithm,
    /// The signing key's id, as published in the JWKS (RFC 7515 §4.1.4).
    pub kid: &'a str,
    /// The token type (RFC 7515 §4.1.9), `at+jwt` for access tokens.
    pub typ: &'a str,
}
