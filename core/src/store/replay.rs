//! The replay cache: identifiers of one-time credentials (assertion `jti`s) seen before, kept
//! until the credential could no longer be accepted anyway.

use async_trait::async_trait;
use gatehouse_token::{SecretDigest, UnixTime};
use serde::{Deserialize, Serialize};

use super::StoreError;

/// What kind of one-time credential an identifier belongs to. Every entry is namespaced by its
/// kind, in every backend: a `jti` seen as one kind never collides with the same `jti` of
/// another kind (security matrix §4.1.12: one flat single-use store shared by features let one
/// kind of item be replayed as another).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplayKind {
    /// An authorization grant assertion (RFC 7523 §3 item 7), such as an ID-JAG.
    GrantAssertion,
    /// A client authentication assertion (RFC 7523 §3, `private_key_jwt`).
    ClientAssertion,
    /// A DPoP proof (RFC 9449 §11.1), keyed by its key's thumbprint and its `jti`.
    DpopProof,
}

impl ReplayKind {
    /// The kind's name, as backends prefix their keys with it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::GrantAssertion => "grant_assertion",
            Self::ClientAssertion => "client_assertion",
            Self::DpopProof => "dpop_proof",
        }
    }
}

/// The digest a replay entry is keyed by: SHA-256 over the issuer and the `jti`, so that two
/// issuers' `jti`s never collide, and never the signature bytes (ECDSA signatures are malleable,
/// security matrix §3.21).
pub fn replay_digest(issuer: &str, jti: &str) -> SecretDigest {
    // The issuer's length first: no choice of issuer and `jti` can read as another pair.
    SecretDigest::of(&format!("{}:{issuer}{jti}", issuer.len()))
}

/// Identifiers of one-time credentials already used.
#[async_trait]
pub trait ReplayStore: Send + Sync {
    /// Records the first use of `id` of `kind`, kept until `expires_at`: `true` if it was not
    /// seen before (and is now recorded), `false` if it was (nothing changes). Atomic: of two
    /// concurrent first uses, exactly one gets `true`. An entry past `expires_at` that is not
    /// yet purged still counts as seen: only [`ReplayStore::purge_expired`] forgets.
    async fn first_use(
        &self,
        kind: ReplayKind,
        id: SecretDigest,
        expires_at: UnixTime,
    ) -> Result<bool, StoreError>;
    /// Forgets entries whose `expires_at` is before `cutoff`; how many.
    async fn purge_expired(&self, cutoff: UnixTime) -> Result<usize, StoreError>;
}
