//! Signing for Gatehouse: keys behind one trait, whatever holds them.
//!
//! [`SigningKey`] is long-lived and knows its `kid`, its one algorithm and its public JWK; its
//! [`SigningKey::sign`] is a *blocking* call, because an HSM behind PKCS#11 blocks: callers on an
//! async runtime decide where to run it. Signatures come back in JOSE form (raw `r || s` for
//! ECDSA, RFC 7518 §3.4).
//!
//! # Layout
//! - [`key`]: the [`SigningKey`] trait and [`SignError`].
//! - [`backend`]: [`KeyBackend`], where keys are generated, found and destroyed.
//! - [`software`]: keys held in process memory (ring). For development and the embedded quick
//!   start; the server says so loudly in its logs.
//! - `pkcs11` (feature `pkcs11`): keys born and kept in an HSM, used through a pool of logged-in
//!   PKCS#11 sessions with bounded concurrency and back-pressure (its own Layout is in its
//!   module docs).
//! - [`jws`]: JWS compact serialisation (RFC 7515 §7.1) of a header and claims.
//! - [`keyring`]: the active key and the retired keys still published, as one immutable value.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod backend;
pub mod jws;
pub mod key;
pub mod keyring;
#[cfg(feature = "pkcs11")]
pub mod pkcs11;
pub mod software;

pub use backend::{Generated, KeyBackend, KeyRef, SoftwareBackend};
pub use key::{KeyError, SignError, SigningKey};
pub use keyring::KeyRing;
pub use software::SoftwareKey;
