//! Validation of the access tokens Gatehouse issues: the hot path behind `/introspect`, and a
//! library a resource server can embed.
//!
//! The read path takes no lock and does no I/O for a JWT: the verification keys are an immutable
//! [`KeySnapshot`] behind an `ArcSwap` (a wait-free load), revocations a lock-free map. Time is a
//! parameter.
//!
//! # Layout
//! - [`keys`]: [`VerifyingKey`] (a public key bound to its one algorithm) and [`KeySnapshot`].
//! - [`jwt`]: strict parsing and verification of compact JWS access tokens (RFC 7515, RFC 9068 §4).
//! - [`dpop`]: DPoP proofs (RFC 9449): the proof checks, the `jti` replay cache of a
//!   resource server, stateless server nonces.
//! - [`json`]: the duplicate-member check every claims object passes.
//! - [`opaque`]: the [`OpaqueTokens`] port through which opaque tokens are looked up by digest.
//! - [`revocation`]: the node-local set of revoked token ids.
//! - [`cache`]: bounded, lock-free caches of validated tokens.
//! - [`validator`]: [`Validator`], tying policy, keys, revocations and caches together.
//! - `remote` (feature `remote`): for resource servers: discovery of an issuer and its JWKS
//!   through the hardened fetcher of `gatehouse-fetch`, key refresh, and a tower layer
//!   (RFC 6750, RFC 9728).
//! - [`rejection`]: why a token was refused; coarse for callers, precise for logs.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod cache;
pub mod dpop;
pub mod json;
pub mod jwt;
pub mod keys;
pub mod opaque;
pub mod rejection;
#[cfg(feature = "remote")]
pub mod remote;
pub mod revocation;
pub mod validator;

pub use keys::{KeySnapshot, VerifyingKey};
pub use opaque::{LookupError, NoOpaqueTokens, OpaqueRecord, OpaqueTokens};
pub use rejection::Rejection;
pub use revocation::RevocationSet;
pub use validator::{Invalid, Policy, Valid, Validator};
