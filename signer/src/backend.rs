//! Where keys are made, found and destroyed: one [`KeyBackend`] per place that can hold private
//! keys. The server's key lifecycle talks to this trait only, so it runs the same over process
//! memory and over an HSM.

use std::fmt::Debug;
use std::sync::Arc;

use gatehouse_token::{Algorithm, BackendKind, b64};

use crate::key::{KeyError, SigningKey};
use crate::software::SoftwareKey;

/// A newly generated key and what the store must keep to find it again.
#[derive(Debug)]
pub struct Generated {
    /// The key, ready to sign.
    pub key: Arc<dyn SigningKey>,
    /// Backend-specific material: PKCS#8 for software keys, the object id for HSM keys.
    pub material: String,
}

/// How a key provisioned beforehand is named on the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRef {
    /// By `CKA_ID` (bytes).
    Id(Vec<u8>),
    /// By `CKA_LABEL`.
    Label(String),
}

impl std::fmt::Display for KeyRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Id(id) => write!(f, "id {}", gatehouse_token::hex::encode(id)),
            Self::Label(label) => write!(f, "label {label:?}"),
        }
    }
}

/// A place that holds private keys.
pub trait KeyBackend: Send + Sync + Debug {
    /// The kind of backend, as recorded with each key.
    fn kind(&self) -> BackendKind;
    /// Generates a key for `alg`. Blocking.
    fn generate(&self, alg: Algorithm) -> Result<Generated, KeyError>;
    /// Loads a key from what [`KeyBackend::generate`] returned as material. Blocking.
    fn load(&self, alg: Algorithm, material: &str) -> Result<Arc<dyn SigningKey>, KeyError>;
    /// Destroys the key's private part, where the backend can. Blocking.
    fn destroy(&self, material: &str) -> Result<(), KeyError>;
    /// Checks the backend can sign now (for readiness). Blocking.
    fn probe(&self) -> Result<(), KeyError>;
    /// Finds a key provisioned beforehand (HSMs only). Blocking.
    fn find_provisioned(&self, alg: Algorithm, key: &KeyRef) -> Result<Generated, KeyError> {
        let _ = key;
        Err(KeyError::Unsupported {
            backend: self.kind().as_str(),
            alg,
        })
    }
}

/// Keys in process memory, their PKCS#8 kept by the store.
#[derive(Debug, Default, Clone, Copy)]
pub struct SoftwareBackend;

impl KeyBackend for SoftwareBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Software
    }

    fn generate(&self, alg: Algorithm) -> Result<Generated, KeyError> {
        let key = SoftwareKey::generate(alg)?;
        let material = b64::encode(key.pkcs8());
        Ok(Generated {
            key: Arc::new(key),
            material,
        })
    }

    fn load(&self, alg: Algorithm, material: &str) -> Result<Arc<dyn SigningKey>, KeyError> {
        let pkcs8 = b64::decode(material).map_err(|e| KeyError::Rejected(e.to_string()))?;
        Ok(Arc::new(SoftwareKey::from_pkcs8(alg, &pkcs8)?))
    }

    fn destroy(&self, _material: &str) -> Result<(), KeyError> {
        // The material lives in the store; deleting the record is the destruction.
        Ok(())
    }

    fn probe(&self) -> Result<(), KeyError> {
        Ok(())
    }
}
