//! Opaque access tokens: recognised by prefix, their checksum verified before any lookup, then
//! looked up by digest through [`OpaqueTokens`] (the store behind it belongs to the caller).

use async_trait::async_trait;
use gatehouse_token::{AccessTokenClaims, SecretDigest};

/// A stored opaque token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpaqueRecord {
    /// What it grants.
    pub claims: AccessTokenClaims,
    /// Whether it was revoked.
    pub revoked: bool,
}

/// The lookup failed (the store is unreachable); the token's validity is unknown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("opaque token lookup failed: {0}")]
pub struct LookupError(pub String);

/// Where opaque tokens are found, by the SHA-256 digest of their text.
#[async_trait]
pub trait OpaqueTokens: Send + Sync {
    /// The token with this digest, if it exists.
    async fn lookup(&self, digest: &SecretDigest) -> Result<Option<OpaqueRecord>, LookupError>;
}

/// No opaque tokens at all (a resource server that only accepts JWTs).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoOpaqueTokens;

#[async_trait]
impl OpaqueTokens for NoOpaqueTokens {
    async fn lookup(&self, _: &SecretDigest) -> Result<Option<OpaqueRecord>, LookupError> {
        Ok(None)
    }
}
