//! `[dpop]`: DPoP proofs at the token and PAR endpoints (RFC 9449).
//!
//! ```toml
//! [dpop]
//! signing_algorithms = ["ES256", "PS256", "EdDSA", "RS256"]  # dpop_signing_alg_values_supported
//! max_age = "60s"          # how old a proof's iat may be
//! max_future = "15s"       # how far ahead of our clock a proof's iat may be
//! require_nonce = false    # RFC 9449 §8: proofs must carry a server nonce (use_dpop_nonce)
//! nonce_lifetime = "5m"    # each nonce is valid for this step and the next
//! ```

use gatehouse_token::Algorithm;
use gatehouse_validator::dpop::DpopSettings;
use serde::Deserialize;

use super::{ConfigError, bad, duration_within, seconds};

/// The DPoP settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpopConfig {
    /// How proofs are checked (algorithms, `iat` window, size).
    pub proofs: DpopSettings,
    /// Whether proofs must carry a server nonce (RFC 9449 §8).
    pub require_nonce: bool,
    /// How long one nonce step lasts, seconds; a nonce is accepted in its step and the next.
    pub nonce_lifetime: u64,
}

impl Default for DpopConfig {
    fn default() -> Self {
        Self {
            proofs: DpopSettings::default(),
            require_nonce: false,
            nonce_lifetime: DEFAULT_NONCE_LIFETIME,
        }
    }
}

const DEFAULT_NONCE_LIFETIME: u64 = 300;

/// The section as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDpop {
    signing_algorithms: Option<Vec<String>>,
    #[serde(default, deserialize_with = "seconds")]
    max_age: Option<u64>,
    #[serde(default, deserialize_with = "seconds")]
    max_future: Option<u64>,
    require_nonce: Option<bool>,
    #[serde(default, deserialize_with = "seconds")]
    nonce_lifetime: Option<u64>,
}

impl RawDpop {
    pub(super) fn validate(self) -> Result<DpopConfig, ConfigError> {
        let algorithms = match self.signing_algorithms {
            None => DpopSettings::DEFAULT_ALGORITHMS.to_vec(),
            Some(names) if names.is_empty() => {
                return Err(bad(
                    "dpop.signing_algorithms",
                    "name at least one algorithm (ES256, ES384, EdDSA, PS256, RS256)",
                ));
            }
            Some(names) => {
                let mut out = Vec::new();
                for name in names {
                    let alg: Algorithm = name
                        .parse()
                        .map_err(|e| bad("dpop.signing_algorithms", format!("{e}")))?;
                    if !out.contains(&alg) {
                        out.push(alg);
                    }
                }
                out
            }
        };
        Ok(DpopConfig {
            proofs: DpopSettings {
                algorithms,
                max_age: duration_within(
                    "dpop.max_age",
                    self.max_age,
                    DpopSettings::DEFAULT_MAX_AGE,
                    10..=600,
                )?,
                max_future: duration_within(
                    "dpop.max_future",
                    self.max_future,
                    DpopSettings::DEFAULT_MAX_FUTURE,
                    0..=300,
                )?,
                max_len: DpopSettings::DEFAULT_MAX_LEN,
            },
            require_nonce: self.require_nonce.unwrap_or(false),
            nonce_lifetime: duration_within(
                "dpop.nonce_lifetime",
                self.nonce_lifetime,
                DEFAULT_NONCE_LIFETIME,
                10..=3_600,
            )?,
        })
    }
}
