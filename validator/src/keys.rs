//! Verification keys, each bound to exactly one algorithm (RFC 8725 §3.1): the token's `alg`
//! header is checked against the key, never used to choose how to verify.

use std::collections::HashMap;

use gatehouse_token::{Algorithm, Jwk, JwkSet, KeyParams, b64};
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};

/// JWK members only a private or symmetric key has (RFC 7518 §6.2.2, §6.3.2, §6.4).
pub(crate) const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// A public key and the one algorithm it verifies.
#[derive(Debug)]
pub struct VerifyingKey {
    alg: Algorithm,
    key: Public,
}

#[derive(Debug)]
enum Public {
    Plain(UnparsedPublicKey<Vec<u8>>),
    Rsa(
        RsaPublicKeyComponents<Vec<u8>>,
        &'static signature::RsaParameters,
    ),
}

/// A JWK that cannot be used to verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unusable JWK {kid:?}: {reason}")]
pub struct BadKey {
    /// The key's id.
    pub kid: String,
    /// What is wrong.
    pub reason: &'static str,
}

impl VerifyingKey {
    /// Builds a verifier from a JWK whose key type and curve fit its `alg`.
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, BadKey> {
        let bad = |reason| BadKey {
            kid: jwk.kid.clone(),
            reason,
        };
        let decode = |s: &str| b64::decode(s).map_err(|_| bad("parameter is not base64url"));
        let key = match (&jwk.params, jwk.alg) {
            (KeyParams::Ec { crv, x, y }, Algorithm::ES256 | Algorithm::ES384) => {
                let (want_crv, len, alg): (_, _, &'static signature::EcdsaVerificationAlgorithm) =
                    if jwk.alg == Algorithm::ES256 {
                        ("P-256", 32, &signature::ECDSA_P256_SHA256_FIXED)
                    } else {
                        ("P-384", 48, &signature::ECDSA_P384_SHA384_FIXED)
                    };
                if crv != want_crv {
                    return Err(bad("curve does not match alg"));
                }
                let (x, y) = (decode(x)?, decode(y)?);
                if x.len() != len || y.len() != len {
                    return Err(bad("coordinate of wrong length"));
                }
                let mut point = Vec::with_capacity(1 + 2 * len);
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                Public::Plain(UnparsedPublicKey::new(alg, point))
            }
            (KeyParams::Okp { crv, x }, Algorithm::EdDSA) => {
                if crv != "Ed25519" {
                    return Err(bad("only Ed25519 is supported for EdDSA"));
                }
                let x = decode(x)?;
                if x.len() != 32 {
                    return Err(bad("Ed25519 key of wrong length"));
                }
                Public::Plain(UnparsedPublicKey::new(&signature::ED25519, x))
            }
            (KeyParams::Rsa { n, e }, Algorithm::RS256 | Algorithm::PS256) => {
                let n = decode(n)?;
                if n.len() < 256 {
                    return Err(bad("RSA keys must be at least 2048 bits"));
                }
                let params: &'static signature::RsaParameters = if jwk.alg == Algorithm::PS256 {
                    &signature::RSA_PSS_2048_8192_SHA256
                } else {
                    &signature::RSA_PKCS1_2048_8192_SHA256
                };
                Public::Rsa(RsaPublicKeyComponents { n, e: decode(e)? }, params)
            }
            _ => return Err(bad("key type does not match alg")),
        };
        Ok(Self { alg: jwk.alg, key })
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// Whether `signature` over `message` verifies.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match &self.key {
            Public::Plain(key) => key.verify(message, signature).is_ok(),
            Public::Rsa(key, params) => key.verify(params, message, signature).is_ok(),
        }
    }
}

/// The verification keys at one moment, by `kid`. Immutable: a change builds a new snapshot.
#[derive(Debug, Default)]
pub struct KeySnapshot {
    keys: HashMap<String, VerifyingKey>,
}

impl KeySnapshot {
    /// A snapshot of every key in `jwks`. Two keys with one `kid` are an error, not a choice.
    pub fn from_jwks(jwks: &JwkSet) -> Result<Self, BadKey> {
        let mut keys = HashMap::with_capacity(jwks.keys.len());
        for jwk in &jwks.keys {
            if keys
                .insert(jwk.kid.clone(), VerifyingKey::from_jwk(jwk)?)
                .is_some()
            {
                return Err(BadKey {
                    kid: jwk.kid.clone(),
                    reason: "duplicate kid",
                });
            }
        }
        Ok(Self { keys })
    }

    /// Parses a JWKS document strictly: a key carrying any private member refuses the whole set
    /// (security matrix §3.33); keys not for signing, or of an algorithm or type this crate does
    /// not verify, are left out; two keys with one `kid` are an error.
    pub fn parse_jwks(body: &[u8]) -> Result<Self, BadKey> {
        let bad = |reason| BadKey {
            kid: String::new(),
            reason,
        };
        let value: serde_json::Value = serde_json::from_slice(body).map_err(|_| bad("not JSON"))?;
        let keys = value
            .get("keys")
            .and_then(|k| k.as_array())
            .ok_or(bad("no keys array"))?;
        let mut usable = Vec::new();
        for key in keys {
            let object = key.as_object().ok_or(bad("a key is not an object"))?;
            if PRIVATE_MEMBERS.iter().any(|m| object.contains_key(*m)) {
                return Err(bad("a key carries a private member"));
            }
            if object.get("use").is_some_and(|u| u != "sig") {
                continue;
            }
            match serde_json::from_value::<Jwk>(key.clone()) {
                Ok(jwk) if VerifyingKey::from_jwk(&jwk).is_ok() => usable.push(jwk),
                _ => continue,
            }
        }
        Self::from_jwks(&JwkSet { keys: usable })
    }

    /// The key with this id.
    pub fn get(&self, kid: &str) -> Option<&VerifyingKey> {
        self.keys.get(kid)
    }

    /// The one key and its `kid`, when there is exactly one.
    pub fn only(&self) -> Option<(&str, &VerifyingKey)> {
        let mut all = self.keys.iter();
        match (all.next(), all.next()) {
            (Some((kid, key)), None) => Some((kid, key)),
            _ => None,
        }
    }

    /// How many keys there are.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there is no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwks_with_private_members_are_refused_and_odd_keys_skipped() {
        let public = r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"a","alg":"EdDSA","use":"sig"}"#;
        let private = r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","kid":"b","alg":"EdDSA"}"#;
        let enc = r#"{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"c","use":"enc"}"#;
        let hmac = r#"{"kty":"oct","k":"c2VjcmV0","kid":"d","alg":"HS256"}"#;
        let no_alg = r#"{"kty":"EC","crv":"P-256","x":"AA","y":"AA","kid":"e"}"#;
        let ok =
            KeySnapshot::parse_jwks(format!(r#"{{"keys":[{public},{enc},{no_alg}]}}"#).as_bytes())
                .unwrap();
        assert_eq!(ok.len(), 1);
        assert!(ok.get("a").is_some());
        assert!(
            KeySnapshot::parse_jwks(format!(r#"{{"keys":[{public},{private}]}}"#).as_bytes())
                .is_err()
        );
        assert!(
            KeySnapshot::parse_jwks(format!(r#"{{"keys":[{hmac}]}}"#).as_bytes()).is_err(),
            "a symmetric key is private"
        );
        assert!(KeySnapshot::parse_jwks(br#"{"keys":{}}"#).is_err());
        assert!(
            KeySnapshot::parse_jwks(format!(r#"{{"keys":[{public},{public}]}}"#).as_bytes())
                .is_err(),
            "duplicate kid"
        );
    }
}
