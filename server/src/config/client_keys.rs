//! `[client_keys]`: client authentication with `private_key_jwt` (RFC 7523 §2.2, OIDC Core
//! §9): what a client assertion may say, and how the keys of clients registered with a
//! `jwks_uri` are fetched (through the hardened fetcher) and cached.
//!
//! ```toml
//! [client_keys]
//! max_assertion_lifetime = "5m"  # exp − now (and exp − iat) at most (RFC 7523 §3 item 4)
//! audience = "issuer_or_endpoint" # or "issuer_only": aud must be the issuer, a single string (FAPI 2.0)
//! algorithms = ["ES256", "ES384", "EdDSA", "PS256", "RS256"]  # keys of other algorithms are refused (FAPI 2.0: ES256, PS256)
//! jwks_min_ttl = "5m"            # a jwks_uri's keys are kept at least this long (below: Cache-Control ignored)
//! jwks_max_ttl = "1h"            # and at most this long, whatever the answer's Cache-Control says
//! refresh_interval = "30s"       # an unknown kid fetches the keys again at most once per this, per client
//! stale_if_error = "1h"          # past jwks_max_ttl, old keys still verify while fetching fails, this long
//! max_entries = 10000            # clients whose fetched keys are kept
//! fetch_timeout = "5s"
//! max_bytes = 65536
//! extra_ca_files = []            # PEM CA files trusted beside the public roots (an internal CA)
//! allowed_prefixes = []          # jwks_uri prefixes that may resolve to internal addresses
//! ```
//!
//! The clock leeway is `tokens.leeway`, the one skew of every validator (security matrix §3.25).

use std::path::PathBuf;

use gatehouse_core::client::auth::private_key_jwt::SIGNING_ALGS;
use gatehouse_fetch::AllowedPrefix;
use gatehouse_token::Algorithm;
use serde::Deserialize;

use super::{ConfigError, bad, duration_within, seconds};

/// The default longest assertion lifetime: [`gatehouse_core::client::auth::private_key_jwt::DEFAULT_MAX_LIFETIME`].
pub const DEFAULT_MAX_ASSERTION_LIFETIME: u64 =
    gatehouse_core::client::auth::private_key_jwt::DEFAULT_MAX_LIFETIME;
/// The default shortest time fetched keys are kept: five minutes.
pub const DEFAULT_JWKS_MIN_TTL: u64 = 300;
/// The default longest: an hour.
pub const DEFAULT_JWKS_MAX_TTL: u64 = 3_600;
/// The default least time between two fetches of one client's keys for unknown `kid`s.
pub const DEFAULT_REFRESH_INTERVAL: u64 = 30;
/// The default time old keys keep verifying past `jwks_max_ttl` while fetching fails.
pub const DEFAULT_STALE_IF_ERROR: u64 = 3_600;
/// The default number of clients whose fetched keys are kept.
pub const DEFAULT_MAX_ENTRIES: usize = 10_000;
/// The default deadline of one fetch, seconds.
pub const DEFAULT_FETCH_TIMEOUT: u64 = 5;
/// The default largest JWK set, bytes.
pub const DEFAULT_MAX_BYTES: usize = 64 * 1024;

/// The section's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientKeysConfig {
    /// The longest lifetime of a client assertion, seconds.
    pub max_assertion_lifetime: u64,
    /// `aud` must be the issuer identifier alone, as a string (FAPI 2.0 Security Profile
    /// §5.3.2.1); otherwise the issuer, the token endpoint or the called endpoint's URL.
    pub issuer_only: bool,
    /// The algorithms an assertion may be signed with (each key has one); advertised as
    /// `token_endpoint_auth_signing_alg_values_supported`.
    pub algorithms: Vec<Algorithm>,
    /// The shortest time fetched keys are kept, seconds.
    pub jwks_min_ttl: u64,
    /// The longest, seconds.
    pub jwks_max_ttl: u64,
    /// The least time between two fetches of one client's keys caused by unknown `kid`s.
    pub refresh_interval: u64,
    /// How long past `jwks_max_ttl` old keys still verify while fetching fails, seconds.
    pub stale_if_error: u64,
    /// The most clients whose fetched keys are kept.
    pub max_entries: usize,
    /// The deadline of one fetch, seconds.
    pub fetch_timeout: u64,
    /// The largest JWK set, bytes.
    pub max_bytes: usize,
    /// PEM files of CA certificates trusted beside the public roots.
    pub extra_ca_files: Vec<PathBuf>,
    /// `jwks_uri` prefixes that may resolve to internal addresses (and, to loopback, be plain
    /// http): internal deployments and tests.
    pub allowed_prefixes: Vec<AllowedPrefix>,
}

impl Default for ClientKeysConfig {
    fn default() -> Self {
        Self {
            max_assertion_lifetime: DEFAULT_MAX_ASSERTION_LIFETIME,
            issuer_only: false,
            algorithms: SIGNING_ALGS.to_vec(),
            jwks_min_ttl: DEFAULT_JWKS_MIN_TTL,
            jwks_max_ttl: DEFAULT_JWKS_MAX_TTL,
            refresh_interval: DEFAULT_REFRESH_INTERVAL,
            stale_if_error: DEFAULT_STALE_IF_ERROR,
            max_entries: DEFAULT_MAX_ENTRIES,
            fetch_timeout: DEFAULT_FETCH_TIMEOUT,
            max_bytes: DEFAULT_MAX_BYTES,
            extra_ca_files: Vec::new(),
            allowed_prefixes: Vec::new(),
        }
    }
}

/// The section as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawClientKeys {
    #[serde(default, deserialize_with = "seconds")]
    max_assertion_lifetime: Option<u64>,
    audience: Option<String>,
    algorithms: Option<Vec<String>>,
    #[serde(default, deserialize_with = "seconds")]
    jwks_min_ttl: Option<u64>,
    #[serde(default, deserialize_with = "seconds")]
    jwks_max_ttl: Option<u64>,
    #[serde(default, deserialize_with = "seconds")]
    refresh_interval: Option<u64>,
    #[serde(default, deserialize_with = "seconds")]
    stale_if_error: Option<u64>,
    max_entries: Option<usize>,
    #[serde(default, deserialize_with = "seconds")]
    fetch_timeout: Option<u64>,
    max_bytes: Option<usize>,
    extra_ca_files: Option<Vec<PathBuf>>,
    allowed_prefixes: Option<Vec<String>>,
}

const SECTION: &str = "client_keys";

fn field(name: &str) -> String {
    format!("{SECTION}.{name}")
}

impl RawClientKeys {
    pub(super) fn validate(self) -> Result<ClientKeysConfig, ConfigError> {
        let d = ClientKeysConfig::default();
        let issuer_only = match self.audience.as_deref() {
            None | Some("issuer_or_endpoint") => false,
            Some("issuer_only") => true,
            Some(other) => {
                return Err(bad(
                    &field("audience"),
                    format!("{other:?}: give \"issuer_or_endpoint\" or \"issuer_only\""),
                ));
            }
        };
        let algorithms = match self.algorithms {
            None => d.algorithms.clone(),
            Some(names) if names.is_empty() => {
                return Err(bad(&field("algorithms"), "name at least one algorithm"));
            }
            Some(names) => names
                .iter()
                .map(|n| {
                    n.parse::<Algorithm>().map_err(|_| {
                        bad(
                            &field("algorithms"),
                            format!(
                                "{n:?} is not supported; use ES256, ES384, EdDSA, PS256 or RS256 (never none or HMAC)"
                            ),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        let jwks_min_ttl = duration_within(
            &field("jwks_min_ttl"),
            self.jwks_min_ttl,
            d.jwks_min_ttl,
            0..=86_400,
        )?;
        let jwks_max_ttl = duration_within(
            &field("jwks_max_ttl"),
            self.jwks_max_ttl,
            d.jwks_max_ttl,
            1..=7 * 86_400,
        )?;
        if jwks_min_ttl > jwks_max_ttl {
            return Err(bad(
                &field("jwks_min_ttl"),
                format!("{jwks_min_ttl} s is more than jwks_max_ttl ({jwks_max_ttl} s)"),
            ));
        }
        let max_entries = self.max_entries.unwrap_or(d.max_entries);
        if !(1..=1_000_000).contains(&max_entries) {
            return Err(bad(&field("max_entries"), "give 1 to 1000000"));
        }
        let max_bytes = self.max_bytes.unwrap_or(d.max_bytes);
        if !(512..=1024 * 1024).contains(&max_bytes) {
            return Err(bad(&field("max_bytes"), "give 512 to 1048576"));
        }
        let extra_ca_files = self.extra_ca_files.unwrap_or_default();
        if extra_ca_files.iter().any(|p| p.as_os_str().is_empty()) {
            return Err(bad(&field("extra_ca_files"), "a file name is empty"));
        }
        let allowed_prefixes = self
            .allowed_prefixes
            .unwrap_or_default()
            .iter()
            .map(|p| p.parse().map_err(|e| bad(&field("allowed_prefixes"), e)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ClientKeysConfig {
            max_assertion_lifetime: duration_within(
                &field("max_assertion_lifetime"),
                self.max_assertion_lifetime,
                d.max_assertion_lifetime,
                10..=3_600,
            )?,
            issuer_only,
            algorithms,
            jwks_min_ttl,
            jwks_max_ttl,
            refresh_interval: duration_within(
                &field("refresh_interval"),
                self.refresh_interval,
                d.refresh_interval,
                1..=3_600,
            )?,
            stale_if_error: duration_within(
                &field("stale_if_error"),
                self.stale_if_error,
                d.stale_if_error,
                0..=7 * 86_400,
            )?,
            max_entries,
            fetch_timeout: duration_within(
                &field("fetch_timeout"),
                self.fetch_timeout,
                d.fetch_timeout,
                1..=30,
            )?,
            max_bytes,
            extra_ca_files,
            allowed_prefixes,
        })
    }
}
