//! What can go wrong with the HSM, and which failures are the HSM's fault rather than the
//! request's.

use cryptoki::error::{Error, RvError};

use super::pool;
use crate::key::KeyError;

/// A PKCS#11 failure, with the function that failed where there is one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HsmError {
    /// The module could not be loaded or initialised.
    #[error("cannot load the PKCS#11 module {module}: {reason}")]
    Module {
        /// The module path.
        module: String,
        /// Why.
        reason: String,
    },
    /// No token matches the selector.
    #[error("no PKCS#11 token {0}")]
    NoToken(String),
    /// Every session is busy and the waiting line is full.
    #[error("the HSM is saturated: every session is busy")]
    Saturated,
    /// A PKCS#11 call failed.
    #[error("PKCS#11 failed to {what}: {rv}")]
    Call {
        /// What Gatehouse was doing.
        what: &'static str,
        /// The PKCS#11 return value and function.
        rv: String,
        /// Whether the HSM (not the request) is at fault.
        unavailable: bool,
    },
    /// No key matches.
    #[error("no key {0} on the token")]
    NoKey(String),
    /// A key's public part could not be read.
    #[error("key {0}: unexpected public key encoding")]
    PublicKey(String),
    /// The system's random generator failed (drawing a new key's `CKA_ID`).
    #[error("the system random generator failed")]
    Random,
}

impl HsmError {
    /// A failed PKCS#11 call made while doing `what`.
    pub(super) fn from_pkcs11(what: &'static str, e: &Error) -> Self {
        let unavailable = pool::is_session_fault(e)
            || matches!(
                e,
                Error::Pkcs11(RvError::DeviceMemory | RvError::FunctionFailed, _)
            );
        Self::Call {
            what,
            rv: e.to_string(),
            unavailable,
        }
    }

    /// Whether the HSM, not the request, is at fault (saturated, unreachable, failing).
    pub(super) fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Self::Saturated
                | Self::Module { .. }
                | Self::NoToken(_)
                | Self::Call {
                    unavailable: true,
                    ..
                }
        )
    }
}

impl From<HsmError> for KeyError {
    fn from(e: HsmError) -> Self {
        if e.is_unavailable() {
            Self::Unavailable(e.to_string())
        } else {
            Self::Rejected(e.to_string())
        }
    }
}
