//! The ports `core` needs from the outside world: time, randomness and signing.

use async_trait::async_trait;
use gatehouse_token::{AccessTokenClaims, UnixTime};

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

/// Turns access-token claims into a signed JWT (RFC 9068) with the active key.
#[async_trait]
pub trait AccessTokenSigner: Send + Sync {
    /// Signs `claims` as a compact JWS with `typ: at+jwt`.
    async fn sign(&self, claims: &AccessTokenClaims) -> Result<String, SignFailure>;
}
