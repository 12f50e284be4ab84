//! `[signing]` and `[signing.pkcs11]`: where signing keys live and their algorithm.

use std::path::PathBuf;

use gatehouse_signer::KeyRef;
use gatehouse_signer::pkcs11::TokenSelector;
use gatehouse_token::Algorithm;
use serde::Deserialize;

use super::{ConfigError, bad};

/// The default environment variable holding the HSM user PIN.
pub const DEFAULT_PIN_ENV: &str = "GATEHOUSE_PKCS11_PIN";
/// The algorithm of new keys by default.
pub const DEFAULT_ALGORITHM: Algorithm = Algorithm::ES256;
/// Modulus sizes of generated RSA keys.
pub const RSA_BITS: [u64; 3] = [2048, 3072, 4096];
/// The default modulus size.
pub const DEFAULT_RSA_BITS: u64 = 2048;
/// Logged-in sessions in the pool by default.
pub const DEFAULT_SESSIONS: usize = 4;
/// The most sessions.
pub const MAX_SESSIONS: usize = 256;
/// Signatures that may wait for a session by default.
pub const DEFAULT_MAX_WAITING: usize = 64;
/// The most that may wait.
pub const MAX_WAITING: usize = 100_000;
/// The label prefix of generated keys by default.
pub const DEFAULT_KEY_LABEL_PREFIX: &str = "gatehouse-";

/// Signing settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningConfig {
    /// Where signing keys live.
    pub backend: Backend,
    /// The algorithm of newly generated signing keys.
    pub algorithm: Algorithm,
}

/// Where signing keys live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// In process memory, PKCS#8 in the data directory. Development only.
    Software,
    /// In an HSM, through PKCS#11.
    Pkcs11(Pkcs11Config),
}

/// How to reach the HSM. The PIN itself is read at start from `pin`, never stored here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pkcs11Config {
    /// The PKCS#11 module.
    pub module: PathBuf,
    /// The token, by label or slot.
    pub token: TokenSelector,
    /// Where the user PIN comes from.
    pub pin: PinSource,
    /// Label prefix of generated keys.
    pub key_label_prefix: String,
    /// A key provisioned beforehand (by label or id), used instead of generated keys.
    pub provisioned: Option<KeyRef>,
    /// Modulus size of generated RSA keys.
    pub rsa_bits: u64,
    /// Sessions in the pool.
    pub sessions: usize,
    /// Signatures that may wait for a session before requests are refused.
    pub max_waiting: usize,
    /// Whether retired keys are destroyed in the HSM once removed from the JWKS.
    pub destroy_retired: bool,
}

/// Where the HSM user PIN comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinSource {
    /// An environment variable.
    Env(String),
    /// A file (its first line).
    File(PathBuf),
}

impl PinSource {
    /// Reads the PIN, or says which setting to fix.
    pub fn read(&self) -> Result<String, ConfigError> {
        match self {
            Self::Env(name) => std::env::var(name).map_err(|_| {
                bad(
                    "signing.pkcs11.pin_env",
                    format!("the environment variable {name} (the HSM user PIN) is not set; set it, or use pin_file"),
                )
            }),
            Self::File(path) => std::fs::read_to_string(path)
                .map(|text| text.lines().next().unwrap_or_default().trim().to_owned())
                .map_err(|e| bad("signing.pkcs11.pin_file", format!("cannot read {}: {e}", path.display()))),
        }
    }
}

/// `[signing]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSigning {
    backend: Option<String>,
    algorithm: Option<String>,
    pkcs11: Option<RawPkcs11>,
}

/// `[signing.pkcs11]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPkcs11 {
    module: Option<PathBuf>,
    token_label: Option<String>,
    slot: Option<u64>,
    /// Present only to refuse it with a clear message: the PIN never sits in the file.
    pin: Option<toml::Value>,
    pin_env: Option<String>,
    pin_file: Option<PathBuf>,
    key_label_prefix: Option<String>,
    key_label: Option<String>,
    key_id: Option<String>,
    rsa_bits: Option<u64>,
    sessions: Option<usize>,
    max_waiting: Option<usize>,
    #[serde(default)]
    destroy_retired: bool,
}

impl RawSigning {
    pub(super) fn validate(self) -> Result<SigningConfig, ConfigError> {
        let backend = match self.backend.as_deref() {
            None | Some("software") => {
                if self.pkcs11.is_some() {
                    return Err(bad(
                        "signing.pkcs11",
                        "is set but signing.backend is not \"pkcs11\"; set backend = \"pkcs11\" to use the HSM",
                    ));
                }
                Backend::Software
            }
            Some("pkcs11") => Backend::Pkcs11(self.pkcs11.unwrap_or_default().validate()?),
            Some(other) => {
                return Err(bad(
                    "signing.backend",
                    format!("{other:?} is not a backend; use \"software\" or \"pkcs11\""),
                ));
            }
        };
        let algorithm = match self.algorithm.as_deref() {
            None => DEFAULT_ALGORITHM,
            Some(text) => {
                let alg: Algorithm = text
                    .parse()
                    .map_err(|e| bad("signing.algorithm", format!("{e}")))?;
                if backend == Backend::Software
                    && !matches!(alg, Algorithm::ES256 | Algorithm::ES384 | Algorithm::EdDSA)
                {
                    return Err(bad(
                        "signing.algorithm",
                        format!(
                            "the software backend generates ES256, ES384 or EdDSA keys, not {alg}; use the pkcs11 backend for {alg}"
                        ),
                    ));
                }
                alg
            }
        };
        Ok(SigningConfig { backend, algorithm })
    }
}

impl RawPkcs11 {
    fn validate(self) -> Result<Pkcs11Config, ConfigError> {
        const F: &str = "signing.pkcs11";
        if self.pin.is_some() {
            return Err(bad(
                "signing.pkcs11.pin",
                format!(
                    "the PIN must not be written in the configuration: put it in the environment variable {DEFAULT_PIN_ENV} (or name another with pin_env), or in a file named by pin_file"
                ),
            ));
        }
        let module = self.module.ok_or_else(|| {
            bad(
                &format!("{F}.module"),
                "set the path of the PKCS#11 module, e.g. \"/usr/lib/softhsm/libsofthsm2.so\"",
            )
        })?;
        let token = match (self.token_label, self.slot) {
            (Some(label), None) => TokenSelector::Label(label),
            (None, Some(slot)) => TokenSelector::Slot(slot),
            _ => {
                return Err(bad(
                    &format!("{F}.token_label"),
                    "set exactly one of token_label or slot",
                ));
            }
        };
        let pin = match (self.pin_env, self.pin_file) {
            (Some(_), Some(_)) => {
                return Err(bad(
                    &format!("{F}.pin_file"),
                    "set pin_env or pin_file, not both",
                ));
            }
            (None, Some(file)) => PinSource::File(file),
            (env, None) => PinSource::Env(env.unwrap_or_else(|| DEFAULT_PIN_ENV.to_owned())),
        };
        let provisioned = match (self.key_label, self.key_id) {
            (Some(_), Some(_)) => {
                return Err(bad(
                    &format!("{F}.key_id"),
                    "set key_label or key_id, not both",
                ));
            }
            (Some(label), None) => Some(KeyRef::Label(label)),
            (None, Some(hex)) => Some(KeyRef::Id(
                gatehouse_token::hex::decode(&hex)
                    .ok()
                    .filter(|id| !id.is_empty())
                    .ok_or_else(|| {
                        bad(
                            &format!("{F}.key_id"),
                            format!("{hex:?} is not hex; give the CKA_ID as hex, e.g. \"0a0b0c\""),
                        )
                    })?,
            )),
            (None, None) => None,
        };
        let rsa_bits = self.rsa_bits.unwrap_or(DEFAULT_RSA_BITS);
        if !RSA_BITS.contains(&rsa_bits) {
            return Err(bad(
                &format!("{F}.rsa_bits"),
                format!("give 2048, 3072 or 4096 (default {DEFAULT_RSA_BITS})"),
            ));
        }
        let sessions = self.sessions.unwrap_or(DEFAULT_SESSIONS);
        if !(1..=MAX_SESSIONS).contains(&sessions) {
            return Err(bad(
                &format!("{F}.sessions"),
                format!("give 1 to {MAX_SESSIONS} (default {DEFAULT_SESSIONS})"),
            ));
        }
        let max_waiting = self.max_waiting.unwrap_or(DEFAULT_MAX_WAITING);
        if max_waiting > MAX_WAITING {
            return Err(bad(
                &format!("{F}.max_waiting"),
                format!("give at most {MAX_WAITING} (default {DEFAULT_MAX_WAITING})"),
            ));
        }
        Ok(Pkcs11Config {
            module,
            token,
            pin,
            key_label_prefix: self
                .key_label_prefix
                .unwrap_or_else(|| DEFAULT_KEY_LABEL_PREFIX.to_owned()),
            provisioned,
            rsa_bits,
            sessions,
            max_waiting,
            destroy_retired: self.destroy_retired,
        })
    }
}
