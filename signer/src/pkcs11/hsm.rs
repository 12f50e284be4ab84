//! The handle on one token: connect and log in, generate, find and destroy key pairs, probe.

use std::sync::Arc;

use cryptoki::context::Pkcs11;
use cryptoki::object::Attribute;
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use gatehouse_token::{Algorithm, hex};
use ring::rand::{SecureRandom, SystemRandom};

use super::context::{context, find_slot};
use super::key::{self, HsmKey};
use super::pool::Pool;
use super::{HsmError, KeyRef, Pkcs11Settings};

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

    /// Checks that a logged-in session works (for readiness), without turning an operation away
    /// (see `Pool::check`).
    pub(super) fn probe_session(&self) -> Result<(), HsmError> {
        self.pool
            .check("check the session", |s, _| s.get_session_info().map(|_| ()))
    }

    /// Generates a key pair for `alg` on the token: the private key sensitive, not extractable,
    /// a token object; returns it with its `CKA_ID`.
    pub fn generate(self: &Arc<Self>, alg: Algorithm) -> Result<HsmKey, HsmError> {
        let mut id = vec![0u8; 16];
        self.random.fill(&mut id).map_err(|_| HsmError::Random)?;
        let label = format!("{}{}", self.key_label_prefix, hex::encode(&id));
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

    /// The session pool (for the keys on this token).
    pub(super) fn pool(&self) -> &Pool {
        &self.pool
    }
}
