//! The PKCS#11 backend: keys generated inside an HSM as token objects (`CKA_SENSITIVE`, not
//! `CKA_EXTRACTABLE`), or provisioned there beforehand and found by label or id. Only public
//! parts ever leave the HSM.
//!
//! Every call blocks: callers run them off the async runtime. Calls go through a pool of
//! logged-in sessions that bounds concurrency and refuses excess load at once.
//!
//! # Layout
//! - this file: [`Pkcs11Settings`] and [`TokenSelector`] (how to reach the token).
//! - `error`: [`HsmError`], and which failures make the HSM unavailable rather than the request
//!   wrong.
//! - `context`: the process-global registry of PKCS#11 contexts (one per module, initialised
//!   once, never finalised), and finding a token's slot.
//! - `hsm`: [`Hsm`], the handle on one token: connect and log in, generate, find and destroy key
//!   pairs, probe.
//! - `pool`: the pool of logged-in sessions: admission control, back-pressure, recovery.
//! - `key`: [`HsmKey`], a key pair on the token that signs through the pool.
//! - `backend`: [`Pkcs11Backend`], the [`KeyBackend`](crate::KeyBackend) over an [`Hsm`].

mod backend;
mod context;
mod error;
mod hsm;
mod key;
mod pool;

use std::path::PathBuf;

pub use backend::Pkcs11Backend;
pub use error::HsmError;
pub use hsm::Hsm;
pub use key::HsmKey;

pub use crate::backend::KeyRef;

/// How to reach the token.
#[derive(Clone)]
pub struct Pkcs11Settings {
    /// Path of the PKCS#11 module (`libsofthsm2.so`, a vendor library).
    pub module: PathBuf,
    /// Which token: by label, or by slot id.
    pub token: TokenSelector,
    /// The user PIN. Never logged, never written anywhere.
    pub pin: String,
    /// Prefix of the labels of keys Gatehouse generates.
    pub key_label_prefix: String,
    /// Modulus size of generated RSA keys (PS256, RS256): 2048, 3072 or 4096.
    pub rsa_bits: u64,
    /// Sessions in the pool: the most signatures in flight at once.
    pub sessions: usize,
    /// Operations that may wait for a session; beyond, requests are refused at once.
    pub max_waiting: usize,
}

impl std::fmt::Debug for Pkcs11Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Settings")
            .field("module", &self.module)
            .field("token", &self.token)
            .field("pin", &"[redacted]")
            .field("key_label_prefix", &self.key_label_prefix)
            .field("rsa_bits", &self.rsa_bits)
            .field("sessions", &self.sessions)
            .field("max_waiting", &self.max_waiting)
            .finish()
    }
}

/// Which token to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSelector {
    /// The token with this label.
    Label(String),
    /// The token in this slot.
    Slot(u64),
}
