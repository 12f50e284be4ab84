//! The ports `core` needs from the outside world: time, randomness, signing, and what to do
//! when a grant sees an attack.

use async_trait::async_trait;
use gatehouse_token::{AccessTokenClaims, UnixTime};

use crate::assertion::IdJagClaims;
use crate::client::ClientId;
use crate::id_token::IdTokenClaims;
use crate::store::IssuedForCode;

/// The current time. The server passes the system clock; tests pass a fixed one.
pub trait Clock: Send + Sync {
    /// Now, in seconds since the Unix epoch.
    fn now(&self) -> UnixTime;
}

/// A cryptographically secure source of random bytes.
pub trait Random: Send + Sync {
    /// Fills `out` with random bytes.
    fn fill(&self, out: &mut [u8]);
}

/// Returns `N` random bytes from `random`.
pub fn random_bytes<const N: usize>(random: &dyn Random) -> [u8; N] {
    let mut out = [0u8; N];
    random.fill(&mut out);
    out
}

/// Why an access token could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignFailure {
    /// The signing backend is saturated or unreachable for now; the client may retry.
    #[error("signing backend unavailable: {0}")]
    Unavailable(String),
    /// Signing failed for another reason.
    #[error("signing failed: {0}")]
    Failed(String),
}

/// Turns claims into signed JWTs with the active key: access tokens (RFC 9068), ID tokens
/// (OIDC Core §2) and ID-JAGs (MCP EMA §4.3).
#[async_trait]
pub trait AccessTokenSigner: Send + Sync {
    /// Signs `claims` as a compact JWS with `typ: at+jwt`.
    async fn sign(&self, claims: &AccessTokenClaims) -> Result<String, SignFailure>;
    /// Signs an ID token for `access_token`, setting its `at_hash` with the hash of the
    /// signing key's algorithm ([`crate::id_token::at_hash`]).
    async fn sign_id_token(
        &self,
        claims: IdTokenClaims,
        access_token: &str,
    ) -> Result<String, SignFailure>;
    /// Signs an Identity Assertion JWT Authorization Grant with `typ: oauth-id-jag+jwt`
    /// ([`crate::assertion::ID_JAG_TYP`]), so it can never pass for another kind of token.
    async fn sign_id_jag(&self, claims: &IdJagClaims) -> Result<String, SignFailure>;
}

/// What the server does when a grant sees the signs of an attack: a stolen code or refresh
/// token used twice. It records a security event and, for a code, revokes what the code was
/// exchanged for, wherever that lives (stores, every node's validator).
#[async_trait]
pub trait Alarms: Send + Sync {
    /// A used authorization code came back (RFC 9700 §4.5): revoke what it was exchanged for;
    /// an error if that could not be written (the request then fails with it).
    async fn code_replayed(
        &self,
        client: &ClientId,
        issued: Option<&IssuedForCode>,
    ) -> Result<(), crate::TokenError>;
    /// A rotated refresh token came back after its grace window (RFC 9700 §4.14.2); its
    /// family is revoked already (by the store's rotation).
    async fn refresh_reused(&self, client: &ClientId, family: &str);
}
