//! The PKCS#11 [`KeyBackend`]: keys on one token, named in the store by their `CKA_ID`.

use std::sync::Arc;

use gatehouse_token::{Algorithm, BackendKind, hex};

use super::{Hsm, HsmKey, KeyRef};
use crate::backend::{Generated, KeyBackend};
use crate::key::{KeyError, SigningKey};

/// The PKCS#11 backend: keys on one token.
#[derive(Debug, Clone)]
pub struct Pkcs11Backend {
    hsm: Arc<Hsm>,
}

/// The prefix of the material the store keeps for an HSM key: `id:<hex CKA_ID>`.
const ID_MATERIAL: &str = "id:";

impl Pkcs11Backend {
    /// A backend over a connected token.
    pub fn new(hsm: Arc<Hsm>) -> Self {
        Self { hsm }
    }

    /// The token.
    pub fn hsm(&self) -> &Arc<Hsm> {
        &self.hsm
    }

    /// The store material naming a key on the token.
    pub fn material_for(key: &HsmKey) -> String {
        format!("{ID_MATERIAL}{}", hex::encode(key.id()))
    }

    fn id_of(material: &str) -> Result<Vec<u8>, KeyError> {
        material
            .strip_prefix(ID_MATERIAL)
            .and_then(|id| hex::decode(id).ok())
            .ok_or_else(|| KeyError::Rejected(format!("not a PKCS#11 key reference: {material:?}")))
    }
}

impl KeyBackend for Pkcs11Backend {
    fn kind(&self) -> BackendKind {
        BackendKind::Pkcs11
    }

    fn generate(&self, alg: Algorithm) -> Result<Generated, KeyError> {
        let key = self.hsm.generate(alg)?;
        let material = Self::material_for(&key);
        Ok(Generated {
            key: Arc::new(key),
            material,
        })
    }

    fn load(&self, alg: Algorithm, material: &str) -> Result<Arc<dyn SigningKey>, KeyError> {
        let id = Self::id_of(material)?;
        Ok(Arc::new(self.hsm.find(alg, &KeyRef::Id(id))?))
    }

    fn destroy(&self, material: &str) -> Result<(), KeyError> {
        Ok(self.hsm.destroy(&Self::id_of(material)?)?)
    }

    fn probe(&self) -> Result<(), KeyError> {
        Ok(self.hsm.probe_session()?)
    }

    fn find_provisioned(&self, alg: Algorithm, key: &KeyRef) -> Result<Generated, KeyError> {
        let key = self.hsm.find(alg, key)?;
        let material = Self::material_for(&key);
        Ok(Generated {
            key: Arc::new(key),
            material,
        })
    }
}
