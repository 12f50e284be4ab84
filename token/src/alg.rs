//! JWS algorithms (RFC 7518 §3.1, RFC 8037 §3.1).
//!
//! `none` and the HMAC algorithms cannot be represented: an access token Gatehouse issues is
//! always signed with an asymmetric key that resource servers can verify from the JWKS
//! (RFC 9068 §4, RFC 8725 §3.1).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An asymmetric JWS algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Algorithm {
    /// ECDSA on P-256 with SHA-256; signatures are raw `r || s`, 64 bytes (RFC 7518 §3.4).
    ES256,
    /// ECDSA on P-384 with SHA-384; signatures are raw `r || s`, 96 bytes.
    ES384,
    /// Ed25519 (RFC 8037 §3.1).
    EdDSA,
    /// RSASSA-PSS with SHA-256 and MGF1 with SHA-256.
    PS256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
}

impl Algorithm {
    /// Every algorithm, in the order Gatehouse prefers them.
    pub const ALL: [Self; 5] = [
        Self::ES256,
        Self::ES384,
        Self::EdDSA,
        Self::PS256,
        Self::RS256,
    ];

    /// The registered `alg` name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::EdDSA => "EdDSA",
            Self::PS256 => "PS256",
            Self::RS256 => "RS256",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text is not an algorithm Gatehouse supports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported JWS algorithm {0:?} (supported: ES256, ES384, EdDSA, PS256, RS256)")]
pub struct UnknownAlgorithm(pub String);

impl FromStr for Algorithm {
    type Err = UnknownAlgorithm;

    /// Exact, case-sensitive match: `"es256"` and `"none"` are not algorithms (RFC 7515 §4.1.1).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| UnknownAlgorithm(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_exact() {
        for alg in Algorithm::ALL {
            assert_eq!(alg.as_str().parse::<Algorithm>().unwrap(), alg);
        }
        for bad in ["none", "None", "es256", "HS256", ""] {
            assert!(bad.parse::<Algorithm>().is_err(), "{bad}");
        }
    }
}
