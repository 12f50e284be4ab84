//! The PKCS#11 backend: keys generated inside an HSM as token objects (`CKA_SENSITIVE`, not
//! `CKA_EXTRACTABLE`), or provisioned there beforehand and found by label or id. Only public
//! parts ever leave the HSM.
//!
//! Every call blocks: callers run them off the async runtime. Calls go through a pool of
//! logged-in sessions that bounds concurrency and refuses excess load at once.

mod key;
mod pool;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use gatehouse_token::Algorithm;
use ring::rand::{SecureRandom, SystemRandom};

pub use key::HsmKey;
use pool::Pool;

pub use crate::backend::KeyRef;
use crate::backend::{Generated, KeyBackend};
use crate::key::{KeyError, SigningKey};

/// How to reach the token.
#[derive(Clone)]
pub struct Pkcs11Settings {
    /// Path of the PKCS#11 module (`libsofthsm2.so`, a vendor library).
    pub module: PathBuf,
    /// Which token: by label, or by slot id.
    pub token: TokenSelector,
    /// The user PIN. Never logged, never written anywhere.
    pub pin: String,
    /// Prefix of the labels of keys Gatehouse generates.
    pub key_label_prefix: String,
    /// Modulus size of generated RSA keys (PS256, RS256): 2048, 3072 or 4096.
    pub rsa_bits: u64,
    /// Sessions in the pool: the most signatures in flight at once.
    pub sessions: usize,
    /// Operations that may wait for a session; beyond, requests are refused at once.
    pub max_waiting: usize,
}

impl std::fmt::Debug for Pkcs11Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Settings")
            .field("module", &self.module)
            .field("token", &self.token)
            .field("pin", &"[redacted]")
            .field("key_label_prefix", &self.key_label_prefix)
            .field("rsa_bits", &self.rsa_bits)
            .field("sessions", &self.sessions)
            .field("max_waiting", &self.max_waiting)
            .finish()
    }
}

/// Which token to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSelector {
    /// The token with this label.
    Label(String),
    /// The token in this slot.
    Slot(u64),
}

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
}

impl HsmError {
    fn from_pkcs11(what: &'static str, e: &Error) -> Self {
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

    fn is_unavailable(&self) -> bool {
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

/// A connection to one token: the module, the slot, the session pool.
#[derive(Debug)]
pub struct Hsm {
    pool: Pool,
    key_label_prefix: String,
    rsa_bits: u64,
    random: SystemRandom,
}

impl Hsm {
    /// Loads the module, finds the token and logs in (one session opened to check the PIN).
    pub fn connect(settings: &Pkcs11Settings) -> Result<Arc<Self>, HsmError> {
        let module_err = |reason: String| HsmError::Module {
            module: settings.module.display().to_string(),
            reason,
        };
        let ctx = context(&settings.module).map_err(module_err)?;
        let slot = find_slot(&ctx, &settings.token)?;
        let pin = AuthPin::from(settings.pin.clone());
        let hsm = Arc::new(Self {
            pool: Pool::new(
                ctx,
                settings.token.clone(),
                slot,
                pin,
                settings.sessions,
                settings.max_waiting,
            ),
            key_label_prefix: settings.key_label_prefix.clone(),
            rsa_bits: settings.rsa_bits,
            random: SystemRandom::new(),
        });
        hsm.probe_session()?;
        Ok(hsm)
    }

    /// The PKCS#11 context (for tools and tests that need their own session).
    pub fn context(&self) -> &Pkcs11 {
        self.pool.context()
    }

    /// The token's slot (it may change if the module is re-initialised after an outage).
    pub fn slot(&self) -> Result<Slot, HsmError> {
        self.pool.slot()
    }

    fn probe_session(&self) -> Result<(), HsmError> {
        self.pool
            .run("check the session", |s, _| s.get_session_info().map(|_| ()))
    }

    /// Generates a key pair for `alg` on the token: the private key sensitive, not extractable,
    /// a token object; returns it with its `CKA_ID`.
    pub fn generate(self: &Arc<Self>, alg: Algorithm) -> Result<HsmKey, HsmError> {
        let mut id = vec![0u8; 16];
        self.random
            .fill(&mut id)
            .map_err(|_| HsmError::PublicKey("random generator failed".into()))?;
        let label = format!("{}{}", self.key_label_prefix, hex(&id));
        let (mechanism, mut public, private_extra) = key::generation_template(alg, self.rsa_bits);
        let common = [
            Attribute::Token(true),
            Attribute::Id(id.clone()),
            Attribute::Label(label.as_bytes().to_vec()),
        ];
        public.extend(common.iter().cloned());
        // A signing key does nothing else: no encryption, wrapping or derivation with either half.
        public.extend([
            Attribute::Verify(true),
            Attribute::Private(false),
            Attribute::Encrypt(false),
            Attribute::Wrap(false),
            Attribute::Derive(false),
        ]);
        let mut private = vec![
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Decrypt(false),
            Attribute::Unwrap(false),
            Attribute::Derive(false),
        ];
        private.extend(common.iter().cloned());
        private.extend(private_extra);
        self.pool.run("generate a key pair", |s, _| {
            s.generate_key_pair(&mechanism, &public, &private)
                .map(|_| ())
        })?;
        HsmKey::find(self.clone(), alg, &KeyRef::Id(id))
    }

    /// Finds a key pair already on the token (generated earlier or provisioned by a security
    /// team), by id or label.
    pub fn find(self: &Arc<Self>, alg: Algorithm, key: &KeyRef) -> Result<HsmKey, HsmError> {
        HsmKey::find(self.clone(), alg, key)
    }

    /// Destroys both halves of the key pair with this `CKA_ID`.
    pub fn destroy(&self, id: &[u8]) -> Result<(), HsmError> {
        self.pool.run("destroy a key", |s, _| {
            for object in s.find_objects(&[Attribute::Id(id.to_vec())])? {
                s.destroy_object(object)?;
            }
            Ok(())
        })
    }

    fn pool(&self) -> &Pool {
        &self.pool
    }
}

/// The process's one context for `module`. PKCS#11 is initialised once per process, and
/// dropping a context finalises the library for everyone, so contexts are shared and kept.
fn context(module: &std::path::Path) -> Result<Pkcs11, String> {
    static CONTEXTS: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    let mut contexts = CONTEXTS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(ctx) = contexts.get(module) {
        return Ok(ctx.clone());
    }
    let ctx = Pkcs11::new(module).map_err(|e| e.to_string())?;
    initialize(&ctx)?;
    contexts.insert(module.to_owned(), ctx.clone());
    Ok(ctx)
}

/// `C_Initialize` with OS locking; "already initialised" is success.
fn initialize(ctx: &Pkcs11) -> Result<(), String> {
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

fn find_slot(ctx: &Pkcs11, token: &TokenSelector) -> Result<Slot, HsmError> {
    let slots = ctx
        .get_slots_with_initialized_token()
        .map_err(|e| HsmError::from_pkcs11("list slots", &e))?;
    for slot in slots {
        let matches = match token {
            TokenSelector::Slot(id) => slot.id() == *id,
            TokenSelector::Label(label) => ctx
                .get_token_info(slot)
                .map(|info| info.label().trim_end() == label)
                .unwrap_or(false),
        };
        if matches {
            return Ok(slot);
        }
    }
    Err(HsmError::NoToken(match token {
        TokenSelector::Label(l) => format!("labelled {l:?}"),
        TokenSelector::Slot(s) => format!("in slot {s}"),
    }))
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses lower- or upper-case hex.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

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
        format!("{ID_MATERIAL}{}", hex(key.id()))
    }

    fn id_of(material: &str) -> Result<Vec<u8>, KeyError> {
        material
            .strip_prefix(ID_MATERIAL)
            .and_then(unhex)
            .ok_or_else(|| KeyError::Rejected(format!("not a PKCS#11 key reference: {material:?}")))
    }
}

impl KeyBackend for Pkcs11Backend {
    fn name(&self) -> &'static str {
        "pkcs11"
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

/// The attribute types read from a private key to check it stays in the HSM.
pub const PROTECTION_ATTRIBUTES: [AttributeType; 2] =
    [AttributeType::Sensitive, AttributeType::Extractable];

/// Object class and key type of a key pair's halves (for templates and searches).
pub(crate) fn class_template(class: ObjectClass, key_type: KeyType) -> [Attribute; 2] {
    [Attribute::Class(class), Attribute::KeyType(key_type)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
        assert_eq!(unhex("00AB10").unwrap(), [0, 0xab, 0x10]);
        assert!(unhex("abc").is_none() && unhex("zz").is_none());
    }
}
