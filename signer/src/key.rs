//! The signing-key trait every backend implements.

use std::fmt::Debug;

use gatehouse_token::{Algorithm, BackendKind, Jwk};

/// A key that signs, wherever its private part lives.
pub trait SigningKey: Send + Sync + Debug {
    /// The key id published in the JWKS and written in each token's header.
    fn kid(&self) -> &str;
    /// The one algorithm this key signs with.
    fn algorithm(&self) -> Algorithm;
    /// The public key, as published.
    fn public_jwk(&self) -> &Jwk;
    /// The backend holding the private key.
    fn backend(&self) -> BackendKind;
    /// Signs `message`, returning the signature in JOSE form. May block (HSM round trip).
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError>;
}

/// Why a signature could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The backend is saturated or unreachable for now.
    #[error("signing backend unavailable: {0}")]
    Unavailable(String),
    /// The backend failed.
    #[error("signing failed: {0}")]
    Failed(String),
}

/// Why a key could not be created or loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The backend cannot make or use keys of this algorithm.
    #[error("the {backend} backend cannot generate {alg} keys")]
    Unsupported {
        /// The backend.
        backend: &'static str,
        /// The algorithm asked for.
        alg: Algorithm,
    },
    /// The stored key material is not a valid key for the algorithm.
    #[error("key material rejected: {0}")]
    Rejected(String),
    /// The backend holding the key cannot be used now.
    #[error("key backend unavailable: {0}")]
    Unavailable(String),
}
