//! A key pair on the token: signs through the session pool, publishes its public half.

use std::sync::{Arc, Mutex};

use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use gatehouse_token::{Algorithm, BackendKind, Jwk, KeyParams, b64, hex};
use ring::digest;

use super::{Hsm, HsmError, KeyRef};
use crate::key::{SignError, SigningKey};

/// DER of the named-curve OIDs (`CKA_EC_PARAMS`): P-256, P-384 (RFC 5480) and Ed25519 (RFC 8410).
const P256_OID: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const P384_OID: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
const ED25519_OID: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];

/// The generation mechanism, public-key template and private-key extras for `alg`.
pub(super) fn generation_template(
    alg: Algorithm,
    rsa_bits: u64,
) -> (Mechanism<'static>, Vec<Attribute>, Vec<Attribute>) {
    match alg {
        Algorithm::ES256 => (
            Mechanism::EccKeyPairGen,
            vec![Attribute::EcParams(P256_OID.to_vec())],
            vec![],
        ),
        Algorithm::ES384 => (
            Mechanism::EccKeyPairGen,
            vec![Attribute::EcParams(P384_OID.to_vec())],
            vec![],
        ),
        Algorithm::EdDSA => (
            Mechanism::EccEdwardsKeyPairGen,
            vec![Attribute::EcParams(ED25519_OID.to_vec())],
            vec![],
        ),
        Algorithm::PS256 | Algorithm::RS256 => (
            Mechanism::RsaPkcsKeyPairGen,
            vec![
                Attribute::ModulusBits(rsa_bits.into()),
                Attribute::PublicExponent(vec![0x01, 0x00, 0x01]),
            ],
            vec![],
        ),
    }
}

/// Object class and key type of a key pair's halves (for searches).
fn class_template(class: ObjectClass, key_type: KeyType) -> [Attribute; 2] {
    [Attribute::Class(class), Attribute::KeyType(key_type)]
}

fn key_type(alg: Algorithm) -> KeyType {
    match alg {
        Algorithm::ES256 | Algorithm::ES384 => KeyType::EC,
        Algorithm::EdDSA => KeyType::EC_EDWARDS,
        Algorithm::PS256 | Algorithm::RS256 => KeyType::RSA,
    }
}

/// A key pair on the token.
pub struct HsmKey {
    hsm: Arc<Hsm>,
    id: Vec<u8>,
    label: String,
    jwk: Jwk,
    /// The private key's object handle, found once and reused; cleared when a retry suggests it
    /// went stale.
    handle: Mutex<Option<ObjectHandle>>,
}

impl std::fmt::Debug for HsmKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HsmKey")
            .field("kid", &self.jwk.kid)
            .field("alg", &self.jwk.alg)
            .field("id", &hex::encode(&self.id))
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

/// The raw point inside `CKA_EC_POINT`: a DER OCTET STRING, or (some modules) the bare point.
fn unwrap_octet_string(value: &[u8]) -> &[u8] {
    match value {
        [0x04, len, rest @ ..] if usize::from(*len) == rest.len() && *len < 0x80 => rest,
        [0x04, 0x81, len, rest @ ..] if usize::from(*len) == rest.len() => rest,
        _ => value,
    }
}

fn attribute_bytes(attrs: &[Attribute], wanted: AttributeType) -> Option<&[u8]> {
    attrs.iter().find_map(|a| match (a, wanted) {
        (Attribute::EcPoint(v), AttributeType::EcPoint)
        | (Attribute::Modulus(v), AttributeType::Modulus)
        | (Attribute::PublicExponent(v), AttributeType::PublicExponent)
        | (Attribute::Id(v), AttributeType::Id)
        | (Attribute::Label(v), AttributeType::Label) => Some(v.as_slice()),
        _ => None,
    })
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(bytes.len().saturating_sub(1));
    &bytes[first..]
}

/// The JWK parameters of a public-key object.
fn public_params(
    session: &Session,
    object: ObjectHandle,
    alg: Algorithm,
    name: &str,
) -> Result<KeyParams, HsmError> {
    let bad = || HsmError::PublicKey(name.to_owned());
    let call = |e| HsmError::from_pkcs11("read a public key", &e);
    match alg {
        Algorithm::ES256 | Algorithm::ES384 => {
            let attrs = session
                .get_attributes(object, &[AttributeType::EcPoint])
                .map_err(call)?;
            let point = unwrap_octet_string(
                attribute_bytes(&attrs, AttributeType::EcPoint).ok_or_else(bad)?,
            );
            let (crv, len) = if alg == Algorithm::ES256 {
                ("P-256", 65)
            } else {
                ("P-384", 97)
            };
            if point.len() != len {
                return Err(bad());
            }
            KeyParams::ec_from_uncompressed(crv, point).ok_or_else(bad)
        }
        Algorithm::EdDSA => {
            let attrs = session
                .get_attributes(object, &[AttributeType::EcPoint])
                .map_err(call)?;
            let point = unwrap_octet_string(
                attribute_bytes(&attrs, AttributeType::EcPoint).ok_or_else(bad)?,
            );
            if point.len() != 32 {
                return Err(bad());
            }
            Ok(KeyParams::Okp {
                crv: "Ed25519".into(),
                x: b64::encode(point),
            })
        }
        Algorithm::PS256 | Algorithm::RS256 => {
            let attrs = session
                .get_attributes(
                    object,
                    &[AttributeType::Modulus, AttributeType::PublicExponent],
                )
                .map_err(call)?;
            let n = attribute_bytes(&attrs, AttributeType::Modulus).ok_or_else(bad)?;
            let e = attribute_bytes(&attrs, AttributeType::PublicExponent).ok_or_else(bad)?;
            if strip_leading_zeros(n).len() < 256 {
                return Err(HsmError::PublicKey(format!(
                    "{name}: RSA keys must be at least 2048 bits"
                )));
            }
            Ok(KeyParams::Rsa {
                n: b64::encode(strip_leading_zeros(n)),
                e: b64::encode(strip_leading_zeros(e)),
            })
        }
    }
}

fn selector(key: &KeyRef) -> Attribute {
    match key {
        KeyRef::Id(id) => Attribute::Id(id.clone()),
        KeyRef::Label(label) => Attribute::Label(label.as_bytes().to_vec()),
    }
}

impl HsmKey {
    /// Finds the key pair named by `key` and reads its public half.
    pub(super) fn find(hsm: Arc<Hsm>, alg: Algorithm, key: &KeyRef) -> Result<Self, HsmError> {
        let name = key.to_string();
        let (id, label, params) = hsm.pool().run("find a key", |s, _| {
            let mut template = class_template(ObjectClass::PRIVATE_KEY, key_type(alg)).to_vec();
            template.push(selector(key));
            let private = s.find_objects(&template)?;
            let [private] = private.as_slice() else {
                return Ok(Err(HsmError::NoKey(format!(
                    "{name} ({} private keys match)",
                    private.len()
                ))));
            };
            let attrs = s.get_attributes(*private, &[AttributeType::Id, AttributeType::Label])?;
            let id = attribute_bytes(&attrs, AttributeType::Id)
                .unwrap_or_default()
                .to_vec();
            let label = String::from_utf8_lossy(
                attribute_bytes(&attrs, AttributeType::Label).unwrap_or_default(),
            )
            .into_owned();
            let mut template = class_template(ObjectClass::PUBLIC_KEY, key_type(alg)).to_vec();
            template.push(Attribute::Id(id.clone()));
            let public = s.find_objects(&template)?;
            let Some(public) = public.first() else {
                return Ok(Err(HsmError::NoKey(format!(
                    "{name}: no public key with the same CKA_ID"
                ))));
            };
            Ok(public_params(s, *public, alg, &name).map(|p| (id, label, p)))
        })??;
        let jwk = Jwk {
            x5c: Vec::new(),
            kid: params.thumbprint(),
            alg,
            use_: Some("sig".into()),
            params,
        };
        Ok(Self {
            hsm,
            id,
            label,
            jwk,
            handle: Mutex::new(None),
        })
    }

    /// The key's `CKA_ID`.
    pub fn id(&self) -> &[u8] {
        &self.id
    }

    /// The key's `CKA_LABEL`.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The token this key is on.
    pub fn hsm(&self) -> &Arc<Hsm> {
        &self.hsm
    }

    fn private_handle(
        &self,
        session: &Session,
        retry: bool,
    ) -> Result<ObjectHandle, cryptoki::error::Error> {
        let mut cached = self
            .handle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if retry {
            *cached = None;
        }
        if let Some(handle) = *cached {
            return Ok(handle);
        }
        let mut template =
            class_template(ObjectClass::PRIVATE_KEY, key_type(self.jwk.alg)).to_vec();
        template.push(Attribute::Id(self.id.clone()));
        let handle = session.find_objects(&template)?.first().copied().ok_or(
            cryptoki::error::Error::Pkcs11(
                cryptoki::error::RvError::KeyHandleInvalid,
                cryptoki::context::Function::FindObjects,
            ),
        )?;
        *cached = Some(handle);
        Ok(handle)
    }
}

impl SigningKey for HsmKey {
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
        BackendKind::Pkcs11
    }

    /// One single-part `C_SignInit` + `C_Sign`. ECDSA signs a digest computed here (so any module
    /// with plain `CKM_ECDSA` works) and returns raw `r || s`, the JOSE form (RFC 7518 §3.4).
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        let alg = self.jwk.alg;
        let digest = match alg {
            Algorithm::ES256 => Some(digest::digest(&digest::SHA256, message)),
            Algorithm::ES384 => Some(digest::digest(&digest::SHA384, message)),
            _ => None,
        };
        let pss = PkcsPssParams {
            hash_alg: MechanismType::SHA256,
            mgf: PkcsMgfType::MGF1_SHA256,
            s_len: 32.into(),
        };
        let (mechanism, input) = match (alg, &digest) {
            (Algorithm::ES256 | Algorithm::ES384, Some(d)) => (Mechanism::Ecdsa, d.as_ref()),
            (Algorithm::EdDSA, _) => (
                Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure)),
                message,
            ),
            (Algorithm::PS256, _) => (Mechanism::Sha256RsaPkcsPss(pss), message),
            _ => (Mechanism::Sha256RsaPkcs, message),
        };
        self.hsm
            .pool()
            .run("sign", |s, retry| {
                let key = self.private_handle(s, retry)?;
                s.sign(&mechanism, key, input)
            })
            .map_err(|e| match e {
                e if e.is_unavailable() => SignError::Unavailable(e.to_string()),
                e => SignError::Failed(e.to_string()),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ec_points_in_both_encodings() {
        let mut der = vec![0x04, 65, 0x04];
        der.extend([7u8; 64]);
        assert_eq!(unwrap_octet_string(&der).len(), 65);
        let raw = &der[2..];
        assert_eq!(unwrap_octet_string(raw), raw);
        assert_eq!(strip_leading_zeros(&[0, 0, 1, 0]), [1, 0]);
        assert_eq!(strip_leading_zeros(&[0]), [0]);
    }
}
