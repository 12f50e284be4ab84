//! Wire formats of the tokens Gatehouse issues, shared by `core`, `signer` and `validator`.
//!
//! # Layout
//! - [`b64`]: strict, canonical base64url without padding (RFC 7515 §2).
//! - [`hex`]: strict hexadecimal, as PKCS#11 object ids (`CKA_ID`) are written.
//! - [`alg`]: the JWS algorithms Gatehouse signs and verifies with (RFC 7518 §3, RFC 8037).
//! - [`jwk`]: public JSON Web Keys and key sets (RFC 7517), with RFC 7638 thumbprints as `kid`.
//! - [`header`]: the protected header Gatehouse writes on its access tokens (RFC 9068 §2.1).
//! - [`confirmation`]: the `cnf` claim of sender-constrained tokens (RFC 7800, RFC 9449 §6,
//!   RFC 8705 §3.1).
//! - [`claims`]: the access-token claims (RFC 9068 §2.2), shared by JWTs and opaque-token records.
//! - [`opaque`]: opaque access and refresh tokens: prefix, 256 random bits, checksum; stored
//!   only as a digest.
//! - [`time`]: seconds since the Unix epoch; nothing here reads a clock.
//! - [`backend`]: where a signing key's private part lives (recorded with each stored key).
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod alg;
pub mod b64;
pub mod backend;
pub mod claims;
pub mod confirmation;
pub mod header;
pub mod hex;
pub mod jwk;
pub mod opaque;
pub mod time;

pub use alg::Algorithm;
pub use backend::BackendKind;
pub use claims::{AccessTokenClaims, Actor, Audience};
pub use confirmation::Confirmation;
pub use header::JwsHeader;
pub use jwk::{Jwk, JwkSet, KeyParams};
pub use opaque::{OpaqueToken, RefreshTokenText, SecretDigest};
pub use time::UnixTime;
