//! Public JSON Web Keys (RFC 7517) and their RFC 7638 thumbprints.
//!
//! Only public members exist in these types: a private key can never be serialised into a JWKS.

use ring::digest;
use serde::{Deserialize, Serialize};

use crate::{Algorithm, b64};

/// A public key as published in Gatehouse's JWKS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key id: the RFC 7638 thumbprint of the key for keys Gatehouse generates.
    pub kid: String,
    /// The one algorithm this key is used with (RFC 7517 §4.4).
    pub alg: Algorithm,
    /// Intended use (RFC 7517 §4.2); always `sig` for Gatehouse's keys.
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// The key type and its public parameters.
    #[serde(flatten)]
    pub params: KeyParams,
    /// The X.509 certificate chain of the key (RFC 7517 §4.7): base64 (not base64url) DER,
    /// the key's own certificate first. Gatehouse's keys have none; a client registered for
    /// `self_signed_tls_client_auth` puts its certificates here (RFC 8705 §2.2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub x5c: Vec<String>,
}

/// Public key parameters by key type (RFC 7518 §6, RFC 8037 §2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kty")]
pub enum KeyParams {
    /// An elliptic-curve key (RFC 7518 §6.2.1).
    #[serde(rename = "EC")]
    Ec {
        /// Curve: `P-256` or `P-384`.
        crv: String,
        /// X coordinate, base64url, full length.
        x: String,
        /// Y coordinate, base64url, full length.
        y: String,
    },
    /// An octet key pair, Ed25519 here (RFC 8037 §2).
    #[serde(rename = "OKP")]
    Okp {
        /// Curve: `Ed25519`.
        crv: String,
        /// The public key, base64url.
        x: String,
    },
    /// An RSA key (RFC 7518 §6.3.1).
    #[serde(rename = "RSA")]
    Rsa {
        /// Modulus, base64url big-endian without leading zeros.
        n: String,
        /// Public exponent, base64url big-endian.
        e: String,
    },
}

impl KeyParams {
    /// Parameters of an EC key from its SEC 1 uncompressed point (`0x04 || X || Y`).
    pub fn ec_from_uncompressed(crv: &str, point: &[u8]) -> Option<Self> {
        let coords = point.strip_prefix(&[0x04])?;
        if coords.is_empty() || coords.len() % 2 != 0 {
            return None;
        }
        let (x, y) = coords.split_at(coords.len() / 2);
        Some(Self::Ec {
            crv: crv.to_owned(),
            x: b64::encode(x),
            y: b64::encode(y),
        })
    }

    /// The RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order,
    /// base64url-encoded.
    pub fn thumbprint(&self) -> String {
        // Member values here are base64url or curve names, which need no JSON escaping.
        let canonical = match self {
            Self::Ec { crv, x, y } => {
                format!(r#"{{"crv":"{crv}","kty":"EC","x":"{x}","y":"{y}"}}"#)
            }
            Self::Okp { crv, x } => format!(r#"{{"crv":"{crv}","kty":"OKP","x":"{x}"}}"#),
            Self::Rsa { n, e } => format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#),
        };
        b64::encode(digest::digest(&digest::SHA256, canonical.as_bytes()))
    }
}

/// A JWK Set (RFC 7517 §5).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwkSet {
    /// The keys, newest first.
    pub keys: Vec<Jwk>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7638 §3.1: the thumbprint of the example RSA key.
    #[test]
    fn rfc7638_example_thumbprint() {
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let params = KeyParams::Rsa {
            n: n.to_owned(),
            e: "AQAB".to_owned(),
        };
        assert_eq!(
            params.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn jwk_serialises_with_kty_and_use() {
        let jwk = Jwk {
            x5c: Vec::new(),
            kid: "k1".into(),
            alg: Algorithm::EdDSA,
            use_: Some("sig".into()),
            params: KeyParams::Okp {
                crv: "Ed25519".into(),
                x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo".into(),
            },
        };
        let json = serde_json::to_value(&jwk).unwrap();
        assert_eq!(json["kty"], "OKP");
        assert_eq!(json["use"], "sig");
        assert_eq!(json["alg"], "EdDSA");
        let back: Jwk = serde_json::from_value(json).unwrap();
        assert_eq!(back, jwk);
    }

    #[test]
    fn ec_point_must_be_uncompressed() {
        assert!(KeyParams::ec_from_uncompressed("P-256", &[0x02; 33]).is_none());
        assert!(KeyParams::ec_from_uncompressed("P-256", &[0x04]).is_none());
        let mut point = vec![0x04];
        point.extend_from_slice(&[1; 64]);
        assert!(KeyParams::ec_from_uncompressed("P-256", &point).is_some());
    }
}
