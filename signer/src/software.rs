//! Keys held in process memory, with ring. ES256, ES384 and EdDSA keys can be generated; RSA
//! keys (PS256, RS256) can be loaded from PKCS#8 but not generated here.

use std::fmt;

use gatehouse_token::{Algorithm, BackendKind, Jwk, KeyParams, b64};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};

use crate::key::{KeyError, SignError, SigningKey};

/// A private key in memory.
pub struct SoftwareKey {
    pair: Pair,
    jwk: Jwk,
    pkcs8: Vec<u8>,
    rng: SystemRandom,
}

enum Pair {
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
    Rsa(RsaKeyPair, &'static dyn signature::RsaEncoding),
}

impl SoftwareKey {
    /// Generates a new key for `alg`.
    pub fn generate(alg: Algorithm) -> Result<Self, KeyError> {
        let rng = SystemRandom::new();
        let rejected = |e: ring::error::Unspecified| KeyError::Rejected(e.to_string());
        let pkcs8 = match alg {
            Algorithm::ES256 | Algorithm::ES384 => {
                EcdsaKeyPair::generate_pkcs8(ecdsa_alg(alg), &rng).map_err(rejected)?
            }
            Algorithm::EdDSA => Ed25519KeyPair::generate_pkcs8(&rng).map_err(rejected)?,
            Algorithm::PS256 | Algorithm::RS256 => {
                return Err(KeyError::Unsupported {
                    backend: "software",
                    alg,
                });
            }
        };
        Self::from_pkcs8(alg, pkcs8.as_ref())
    }

    /// Loads a key from its PKCS#8 (DER) encoding.
    pub fn from_pkcs8(alg: Algorithm, pkcs8: &[u8]) -> Result<Self, KeyError> {
        let rng = SystemRandom::new();
        let rejected = |e: ring::error::KeyRejected| KeyError::Rejected(e.to_string());
        let (pair, params) = match alg {
            Algorithm::ES256 | Algorithm::ES384 => {
                let pair =
                    EcdsaKeyPair::from_pkcs8(ecdsa_alg(alg), pkcs8, &rng).map_err(rejected)?;
                let crv = if alg == Algorithm::ES256 {
                    "P-256"
                } else {
                    "P-384"
                };
                let params = KeyParams::ec_from_uncompressed(crv, pair.public_key().as_ref())
                    .ok_or_else(|| KeyError::Rejected("not an uncompressed EC point".into()))?;
                (Pair::Ecdsa(pair), params)
            }
            Algorithm::EdDSA => {
                let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8).map_err(rejected)?;
                let params = KeyParams::Okp {
                    crv: "Ed25519".into(),
                    x: b64::encode(pair.public_key().as_ref()),
                };
                (Pair::Ed25519(pair), params)
            }
            Algorithm::PS256 | Algorithm::RS256 => {
                let pair = RsaKeyPair::from_pkcs8(pkcs8).map_err(rejected)?;
                if pair.public().modulus_len() < 256 {
                    return Err(KeyError::Rejected(
                        "RSA keys must be at least 2048 bits".into(),
                    ));
                }
                let public: signature::RsaPublicKeyComponents<Vec<u8>> = pair.public().into();
                let params = KeyParams::Rsa {
                    n: b64::encode(&public.n),
                    e: b64::encode(&public.e),
                };
                let encoding: &'static dyn signature::RsaEncoding = if alg == Algorithm::PS256 {
                    &signature::RSA_PSS_SHA256
                } else {
                    &signature::RSA_PKCS1_SHA256
                };
                (Pair::Rsa(pair, encoding), params)
            }
        };
        let jwk = Jwk {
            x5c: Vec::new(),
            kid: params.thumbprint(),
            alg,
            use_: Some("sig".into()),
            params,
        };
        Ok(Self {
            pair,
            jwk,
            pkcs8: pkcs8.to_vec(),
            rng,
        })
    }

    /// The PKCS#8 encoding of the private key, for the store.
    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }
}

fn ecdsa_alg(alg: Algorithm) -> &'static signature::EcdsaSigningAlgorithm {
    // The FIXED variants produce raw r || s, the JOSE form (RFC 7518 §3.4).
    if alg == Algorithm::ES384 {
        &signature::ECDSA_P384_SHA384_FIXED_SIGNING
    } else {
        &signature::ECDSA_P256_SHA256_FIXED_SIGNING
    }
}

impl SigningKey for SoftwareKey {
    fn kid(&self) -> &str {
        &self.jwk.kid
    }

    fn algorithm(&self) -> Algorithm {
        self.jwk.alg
    }

    fn public_jwk(&self) -> &Jwk {
        &self.jwk
    }

    fn backend(&self) -> BackendKind {
        BackendKind::Software
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        let failed = |e: ring::error::Unspecified| SignError::Failed(e.to_string());
        match &self.pair {
            Pair::Ecdsa(pair) => Ok(pair
                .sign(&self.rng, message)
                .map_err(failed)?
                .as_ref()
                .to_vec()),
            Pair::Ed25519(pair) => Ok(pair.sign(message).as_ref().to_vec()),
            Pair::Rsa(pair, encoding) => {
                let mut sig = vec![0u8; pair.public().modulus_len()];
                pair.sign(*encoding, &self.rng, message, &mut sig)
                    .map_err(failed)?;
                Ok(sig)
            }
        }
    }
}

impl fmt::Debug for SoftwareKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoftwareKey")
            .field("kid", &self.jwk.kid)
            .field("alg", &self.jwk.alg)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::UnparsedPublicKey;

    fn verify(key: &SoftwareKey, message: &[u8], sig: &[u8]) -> bool {
        let (alg, public): (&dyn signature::VerificationAlgorithm, Vec<u8>) = match &key.jwk.params
        {
            KeyParams::Ec { x, y, crv } => {
                let mut point = vec![4];
                point.extend(b64::decode(x).unwrap());
                point.extend(b64::decode(y).unwrap());
                let alg: &dyn signature::VerificationAlgorithm = if crv == "P-256" {
                    &signature::ECDSA_P256_SHA256_FIXED
                } else {
                    &signature::ECDSA_P384_SHA384_FIXED
                };
                (alg, point)
            }
            KeyParams::Okp { x, .. } => (&signature::ED25519, b64::decode(x).unwrap()),
            KeyParams::Rsa { .. } => unreachable!("no RSA keys generated here"),
        };
        UnparsedPublicKey::new(alg, public)
            .verify(message, sig)
            .is_ok()
    }

    #[test]
    fn generated_keys_sign_in_jose_form_and_verify_from_their_jwk() {
        for (alg, len) in [
            (Algorithm::ES256, 64),
            (Algorithm::ES384, 96),
            (Algorithm::EdDSA, 64),
        ] {
            let key = SoftwareKey::generate(alg).unwrap();
            let sig = key.sign(b"payload").unwrap();
            assert_eq!(sig.len(), len, "{alg}");
            assert!(verify(&key, b"payload", &sig), "{alg}");
            assert!(!verify(&key, b"payloae", &sig), "{alg}");
            assert_eq!(key.kid(), key.public_jwk().params.thumbprint());
        }
    }

    #[test]
    fn reloads_from_pkcs8_with_the_same_kid() {
        let key = SoftwareKey::generate(Algorithm::ES256).unwrap();
        let again = SoftwareKey::from_pkcs8(Algorithm::ES256, key.pkcs8()).unwrap();
        assert_eq!(again.kid(), key.kid());
        assert!(SoftwareKey::from_pkcs8(Algorithm::EdDSA, key.pkcs8()).is_err());
    }

    #[test]
    fn rsa_cannot_be_generated_in_software() {
        assert!(matches!(
            SoftwareKey::generate(Algorithm::RS256),
            Err(KeyError::Unsupported { .. })
        ));
    }
}

#[cfg(test)]
mod rsa_tests {
    use super::*;

    /// RSA keys come from elsewhere (ring cannot generate them): one from OpenSSL loads and signs.
    #[test]
    fn loads_an_openssl_rsa_key() {
        let out = std::process::Command::new("sh")
            .args(["-c", "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 2>/dev/null | openssl pkcs8 -topk8 -nocrypt -outform DER"])
            .output()
            .expect("openssl");
        assert!(out.status.success());
        for alg in [Algorithm::RS256, Algorithm::PS256] {
            let key =
                SoftwareKey::from_pkcs8(alg, &out.stdout).unwrap_or_else(|e| panic!("{alg}: {e}"));
            assert_eq!(key.sign(b"m").unwrap().len(), 256);
        }
    }
}
