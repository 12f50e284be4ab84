//! The confirmation claim `cnf` (RFC 7800 §3.1): the key a sender-constrained token is bound
//! to, so that only its holder can use it.
//!
//! Two confirmation methods exist here: `jkt`, the RFC 7638 thumbprint of a DPoP key (RFC 9449
//! §6.1), and `x5t#S256`, the SHA-256 thumbprint of a TLS client certificate (RFC 8705 §3.1).

use ring::digest;
use serde::{Deserialize, Serialize};

use crate::b64;

/// The `cnf` claim of a sender-constrained access token, an opaque-token record or a refresh
/// token (RFC 7800 §3.1). At least one member is set on a bound token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Confirmation {
    /// The RFC 7638 JWK SHA-256 thumbprint of the DPoP key, base64url (RFC 9449 §6.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jkt: Option<String>,
    /// The SHA-256 thumbprint of the DER client certificate, base64url (RFC 8705 §3.1).
    #[serde(rename = "x5t#S256", default, skip_serializing_if = "Option::is_none")]
    pub x5t_s256: Option<String>,
}

impl Confirmation {
    /// A confirmation by DPoP key thumbprint.
    pub fn dpop(jkt: impl Into<String>) -> Self {
        Self {
            jkt: Some(jkt.into()),
            x5t_s256: None,
        }
    }

    /// Whether no confirmation method is set (an unbound token carries no `cnf` at all).
    pub fn is_empty(&self) -> bool {
        self.jkt.is_none() && self.x5t_s256.is_none()
    }

    /// Whether the DER certificate `der` is the one the token is bound to (RFC 8705 §3.1): its
    /// SHA-256 thumbprint equals `x5t#S256`. A token without `x5t#S256` matches no certificate.
    pub fn matches_certificate(&self, der: &[u8]) -> bool {
        self.x5t_s256
            .as_deref()
            .is_some_and(|x5t| x5t == certificate_thumbprint(der))
    }
}

/// The `x5t#S256` thumbprint of a DER certificate: base64url of its SHA-256 (RFC 8705 §3.1).
pub fn certificate_thumbprint(der: &[u8]) -> String {
    b64::encode(digest::digest(&digest::SHA256, der))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_with_registered_member_names() {
        let cnf = Confirmation {
            jkt: Some("a".into()),
            x5t_s256: Some("b".into()),
        };
        let json = serde_json::to_string(&cnf).unwrap();
        assert_eq!(json, r#"{"jkt":"a","x5t#S256":"b"}"#);
        assert_eq!(serde_json::from_str::<Confirmation>(&json).unwrap(), cnf);
        assert_eq!(
            serde_json::to_string(&Confirmation::default()).unwrap(),
            "{}"
        );
    }

    #[test]
    fn certificate_binding() {
        let der = b"not really a certificate";
        let cnf = Confirmation {
            jkt: None,
            x5t_s256: Some(certificate_thumbprint(der)),
        };
        assert!(cnf.matches_certificate(der));
        assert!(!cnf.matches_certificate(b"another"));
        assert!(!Confirmation::dpop("k").matches_certificate(der));
    }
}
