//! Where a signing key's private part lives: recorded with every stored key, reported by every
//! key, and what decides whether signing may block.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The kind of place that holds a private key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// In process memory (PKCS#8 kept by the store). Development only.
    Software,
    /// In an HSM, used through PKCS#11.
    Pkcs11,
}

impl BackendKind {
    /// The name as recorded and shown (`software`, `pkcs11`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Software => "software",
            Self::Pkcs11 => "pkcs11",
        }
    }

    /// Whether a signature may block (a round trip to a device): then it runs off the async
    /// workers. A software signature is a few microseconds of CPU.
    pub const fn blocks(self) -> bool {
        !matches!(self, Self::Software)
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_stored() {
        for kind in [BackendKind::Software, BackendKind::Pkcs11] {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{kind}\""));
            assert_eq!(serde_json::from_str::<BackendKind>(&json).unwrap(), kind);
        }
        assert!(serde_json::from_str::<BackendKind>("\"cloudkms\"").is_err());
        assert!(BackendKind::Pkcs11.blocks() && !BackendKind::Software.blocks());
    }
}
