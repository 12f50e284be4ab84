//! Configuration: embedded defaults, then a TOML file (`--config FILE`), then `GATEHOUSE_*`
//! environment variables, each overriding the one before. Validated once at start: a bad value
//! is refused with a message naming the field and the fix, never silently replaced.
//!
//! Environment variables map onto the file's keys: `GATEHOUSE_ISSUER` sets `issuer`,
//! `GATEHOUSE_ADMIN__LISTEN` sets `listen` in `[admin]` (sections are joined by two
//! underscores). Values are read as TOML (`300`, `true`) when they parse, else as strings.
//!
//! # Layout
//! - this module: the typed [`Config`] (one field per TOML section), loading and layering,
//!   [`ConfigError`], durations, and the top-level keys (`issuer`, `listen`, `data_dir`, `log`).
//! - one module per section, each with its raw (file) shape, its typed settings and its
//!   defaults, declared once: [`admin`], [`tokens`], [`signing`], [`keys`], [`http`],
//!   [`validation`], [`limits`], [`pages`], [`authorize`], [`resources`], [`registration`],
//!   [`trust`], [`metadata_documents`], [`device`], [`client_keys`], [`tls`], [`dpop`].

pub mod admin;
pub mod authorize;
pub mod client_keys;
pub mod device;
pub mod dpop;
pub mod http;
pub mod keys;
pub mod limits;
pub mod metadata_documents;
pub mod pages;
pub mod registration;
pub mod resources;
pub mod signing;
pub mod tls;
pub mod tokens;
pub mod trust;
pub mod validation;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use gatehouse_core::profile::SecurityProfile;
use serde::{Deserialize, Deserializer};
use url::Url;

pub use admin::AdminConfig;
pub use authorize::AuthorizeConfig;
pub use client_keys::ClientKeysConfig;
pub use device::DeviceConfig;
pub use dpop::DpopConfig;
pub use http::HttpLimits;
pub use keys::Schedule;
pub use limits::Limits;
pub use metadata_documents::MetadataDocumentsConfig;
pub use pages::PagesConfig;
pub use registration::RegistrationConfig;
pub use resources::ResourcesConfig;
pub use signing::{Backend, PinSource, Pkcs11Config, SigningConfig};
pub use tls::TlsConfig;
pub use tokens::TokensConfig;
pub use trust::TrustConfig;
pub use validation::ValidationConfig;

/// The prefix of configuration environment variables.
pub const ENV_PREFIX: &str = "GATEHOUSE_";
/// Environment variables with the prefix that are not configuration keys.
const ENV_NOT_CONFIG: &[&str] = &["GATEHOUSE_CONFIG", signing::DEFAULT_PIN_ENV];
/// Where the OAuth endpoints listen by default.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Where data lives by default.
pub const DEFAULT_DATA_DIR: &str = "./gatehouse-data";
/// The default `tracing` filter.
pub const DEFAULT_LOG: &str = "info";

/// The validated configuration, shaped like the file: one field per section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The issuer identifier (RFC 8414 §2), byte-identical in metadata and tokens.
    pub issuer: String,
    /// Where the OAuth endpoints listen.
    pub listen: SocketAddr,
    /// Where the database, software keys and the admin token live.
    pub data_dir: PathBuf,
    /// The `tracing` filter (e.g. `info`, `gatehouse=debug`).
    pub log: String,
    /// The security profile every client is held to at least (`oauth2.1`, or `fapi2` for the
    /// FAPI 2.0 Security Profile); a client may be registered with a stricter one.
    pub security_profile: SecurityProfile,
    /// `[admin]`: the admin API.
    pub admin: AdminConfig,
    /// `[tokens]`: lifetimes and the leeway.
    pub tokens: TokensConfig,
    /// `[signing]`: where keys live and their algorithm.
    pub signing: SigningConfig,
    /// `[keys]`: when keys rotate.
    pub keys: Schedule,
    /// `[http]`: body size, timeouts and connection limits.
    pub http: HttpLimits,
    /// `[validation]`: the caches of validated tokens.
    pub validation: ValidationConfig,
    /// `[limits]`: per-client quotas and the credential-guessing limit.
    pub limits: Limits,
    /// `[pages]`: the sign-in pages' look and the browser session's lifetime.
    pub pages: PagesConfig,
    /// `[authorize]`: the authorization endpoint's policy.
    pub authorize: AuthorizeConfig,
    /// `[dpop]`: DPoP proofs and server nonces (RFC 9449).
    pub dpop: DpopConfig,
    /// `[trust]`: trusted external issuers and the servers ID-JAGs are issued for.
    pub trust: TrustConfig,
    /// `[resources]`: protected resources defined in the file, and the default one.
    pub resources: ResourcesConfig,
    /// `[registration]`: dynamic client registration (RFC 7591).
    pub registration: RegistrationConfig,
    /// `[client_metadata_documents]`: clients identified by a metadata document URL.
    pub client_metadata_documents: MetadataDocumentsConfig,
    /// `[device]`: the device authorization grant (RFC 8628).
    pub device: DeviceConfig,
    /// `[client_keys]`: `private_key_jwt` assertions and clients' `jwks_uri` keys.
    pub client_keys: ClientKeysConfig,
    /// `[tls]`: TLS termination and client certificates (RFC 8705).
    pub tls: TlsConfig,
}

/// The file's shape. Every field optional; unknown keys are errors.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    issuer: Option<String>,
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    log: Option<String>,
    security_profile: Option<String>,
    #[serde(default)]
    admin: admin::RawAdmin,
    #[serde(default)]
    tokens: tokens::RawTokens,
    #[serde(default)]
    signing: signing::RawSigning,
    #[serde(default)]
    http: http::RawHttp,
    #[serde(default)]
    keys: keys::RawKeys,
    #[serde(default)]
    validation: validation::RawValidation,
    #[serde(default)]
    limits: limits::RawLimits,
    #[serde(default)]
    pages: pages::RawPages,
    #[serde(default)]
    authorize: authorize::RawAuthorize,
    #[serde(default)]
    dpop: dpop::RawDpop,
    #[serde(default)]
    trust: trust::RawTrust,
    #[serde(default)]
    resources: resources::RawResources,
    #[serde(default)]
    registration: registration::RawRegistration,
    #[serde(default)]
    client_metadata_documents: metadata_documents::RawMetadataDocuments,
    #[serde(default)]
    device: device::RawDevice,
    #[serde(default)]
    client_keys: client_keys::RawClientKeys,
    #[serde(default)]
    tls: tls::RawTls,
}

/// A configuration error: the field, what is wrong, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration error in `{field}`: {message}")]
pub struct ConfigError {
    /// The key, as written in the file (`tokens.access_token_lifetime`).
    pub field: String,
    /// What is wrong and what to do.
    pub message: String,
}

/// A [`ConfigError`] for `field`.
fn bad(field: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// A duration: an integer number of seconds, or text such as `"90s"`, `"5m"`, `"1h"`, `"2d"`.
fn seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Int(u64),
        Text(String),
    }
    Ok(match Raw::deserialize(d)? {
        Raw::Int(n) => Some(n),
        Raw::Text(t) => Some(parse_duration(&t).map_err(serde::de::Error::custom)?),
    })
}

/// Parses `300`, `90s`, `5m`, `1h`, `2d` into seconds.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    if let Ok(n) = text.parse::<u64>() {
        return Ok(n);
    }
    humantime::parse_duration(text)
        .map(|d| d.as_secs())
        .map_err(|_| format!("{text:?} is not a duration; write seconds (300) or 90s, 5m, 1h, 2d"))
}

/// A number of seconds as the configuration writes it: `30s`, `5m`, `1h`, `30d`.
fn show(secs: u64) -> String {
    match secs {
        0 => "0".into(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// A duration setting within `range`, or an error naming the range and the default.
fn duration_within(
    field: &str,
    value: Option<u64>,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, ConfigError> {
    let value = value.unwrap_or(default);
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(bad(
            field,
            format!(
                "{value} s is out of range; give {} to {} (default {})",
                show(*range.start()),
                show(*range.end()),
                show(default)
            ),
        ))
    }
}

impl Config {
    /// Loads the configuration from an optional file and the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(file, std::env::vars())
    }

    /// Loads from an optional file and the given environment (for tests).
    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| bad("--config", format!("cannot read {}: {e}", path.display())))?;
                text.parse::<toml::Table>().map_err(|e| {
                    bad(
                        "--config",
                        format!("{} is not valid TOML: {e}", path.display()),
                    )
                })?
            }
            None => toml::Table::new(),
        };
        for (name, value) in env {
            let Some(key) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            if ENV_NOT_CONFIG.contains(&name.as_str()) {
                continue;
            }
            let path: Vec<String> = key
                .to_ascii_lowercase()
                .split("__")
                .map(str::to_owned)
                .collect();
            set_path(&mut table, &path, env_value(&value)).map_err(|m| bad(&name, m))?;
        }
        let raw: RawConfig =
            serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
                let path = e.path().to_string();
                let field = if path == "." {
                    "config".to_owned()
                } else {
                    path
                };
                ConfigError {
                    field,
                    message: format!(
                        "{} (check the file and any GATEHOUSE_* variables)",
                        e.inner().message()
                    ),
                }
            })?;
        raw.validate()
    }

    /// The issuer's path ("" or "/tenant"), under which every endpoint is served.
    pub fn issuer_path(&self) -> String {
        Url::parse(&self.issuer)
            .map(|u| u.path().trim_end_matches('/').to_owned())
            .unwrap_or_default()
    }
}

/// An environment value as TOML if it parses as a scalar, else as a string.
fn env_value(text: &str) -> toml::Value {
    format!("v = {text}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .filter(|v| !v.is_table())
        .unwrap_or_else(|| toml::Value::String(text.to_owned()))
}

fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    match path {
        [] => Err("empty key".into()),
        [last] => {
            table.insert(last.clone(), value);
            Ok(())
        }
        [head, rest @ ..] => {
            let entry = table
                .entry(head.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match entry {
                toml::Value::Table(t) => set_path(t, rest, value),
                _ => Err(format!("`{head}` is not a section")),
            }
        }
    }
}

impl RawConfig {
    fn validate(self) -> Result<Config, ConfigError> {
        let listen = parse_addr("listen", self.listen.as_deref().unwrap_or(DEFAULT_LISTEN))?;
        let admin = self.admin.validate(listen)?;
        let issuer = match self.issuer {
            Some(issuer) => validate_issuer(&issuer)?,
            None if listen.ip().is_loopback() => {
                let scheme = if self.tls.listen_tls() {
                    "https"
                } else {
                    "http"
                };
                format!("{scheme}://{listen}")
            }
            None => {
                return Err(bad(
                    "issuer",
                    format!(
                        "required when `listen` ({listen}) is not a loopback address: set the public \
                         https URL clients use, e.g. issuer = \"https://auth.example.com\""
                    ),
                ));
            }
        };
        let tokens = self.tokens.validate()?;
        let signing = self.signing.validate()?;
        let security_profile = validate_profile(self.security_profile.as_deref(), &signing)?;
        let mut config = Config {
            security_profile,
            listen,
            data_dir: self
                .data_dir
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            log: self.log.unwrap_or_else(|| DEFAULT_LOG.to_owned()),
            admin,
            signing,
            keys: self.keys.validate(tokens.access_token_lifetime)?,
            tokens,
            http: self.http.validate()?,
            validation: self.validation.validate()?,
            limits: self.limits.validate()?,
            pages: self.pages.validate()?,
            authorize: self.authorize.validate()?,
            dpop: self.dpop.validate()?,
            trust: self.trust.validate(&issuer)?,
            tls: self.tls.validate(&issuer)?,
            issuer,
            resources: self.resources.validate()?,
            registration: self.registration.validate()?,
            client_metadata_documents: self.client_metadata_documents.validate()?,
            device: self.device.validate()?,
            client_keys: self.client_keys.validate()?,
        };
        hold_to_profile(&mut config)?;
        Ok(config)
    }
}

/// What the server-wide profile changes in the other sections. FAPI 2.0 (SP §5.4.1, §5.3.2.1):
/// client assertions and DPoP proofs are ES256 or PS256 (the default lists narrow to them; a
/// list naming another algorithm is refused), and an assertion's `aud` is the issuer alone.
fn hold_to_profile(config: &mut Config) -> Result<(), ConfigError> {
    let profile = config.security_profile;
    let narrow = |field: &str,
                  list: &mut Vec<gatehouse_token::Algorithm>,
                  default: &[gatehouse_token::Algorithm]| {
        if list.iter().all(|a| profile.allows_algorithm(*a)) {
            return Ok(());
        }
        if list.as_slice() == default {
            list.retain(|a| profile.allows_algorithm(*a));
            return Ok(());
        }
        Err(bad(
            field,
            format!("the {profile} security profile allows ES256 and PS256 only"),
        ))
    };
    narrow(
        "client_keys.algorithms",
        &mut config.client_keys.algorithms,
        &ClientKeysConfig::default().algorithms,
    )?;
    narrow(
        "dpop.signing_algorithms",
        &mut config.dpop.proofs.algorithms,
        &DpopConfig::default().proofs.algorithms,
    )?;
    if profile == SecurityProfile::Fapi2 {
        config.client_keys.issuer_only = true;
    }
    Ok(())
}

/// The server-wide security profile; FAPI 2.0 signs with ES256 or PS256 only (FAPI 2.0 SP
/// §5.4.1), so a key of another algorithm is refused here rather than at the first token.
fn validate_profile(
    text: Option<&str>,
    signing: &SigningConfig,
) -> Result<SecurityProfile, ConfigError> {
    let profile = match text {
        None => SecurityProfile::default(),
        Some(text) => SecurityProfile::parse(text).ok_or_else(|| {
            bad(
                "security_profile",
                format!("{text:?} is not a profile; give \"oauth2.1\" (the default) or \"fapi2\""),
            )
        })?,
    };
    if !profile.allows_algorithm(signing.algorithm) {
        return Err(bad(
            "signing.algorithm",
            format!(
                "{} is not allowed by the {profile} security profile; use ES256 or PS256",
                signing.algorithm
            ),
        ));
    }
    Ok(profile)
}

fn parse_addr(field: &str, text: &str) -> Result<SocketAddr, ConfigError> {
    text.parse().map_err(|_| {
        bad(
            field,
            format!("{text:?} is not an IP address and port, e.g. \"127.0.0.1:8080\""),
        )
    })
}

/// RFC 8414 §2: an `https` URL with no query or fragment; `http` only on loopback, for
/// development. A trailing slash is refused because clients compare issuers byte for byte.
fn validate_issuer(issuer: &str) -> Result<String, ConfigError> {
    let url = Url::parse(issuer).map_err(|_| {
        bad(
            "issuer",
            format!("{issuer:?} is not an absolute URL, e.g. \"https://auth.example.com\""),
        )
    })?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad(
            "issuer",
            "must not have a query or fragment (RFC 8414 §2)",
        ));
    }
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => {
            return Err(bad(
                "issuer",
                "must use https (http is allowed only on loopback, for development)",
            ));
        }
    }
    if issuer.ends_with('/') {
        return Err(bad(
            "issuer",
            format!(
                "remove the trailing slash ({:?}); clients compare the issuer byte for byte",
                issuer.trim_end_matches('/')
            ),
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("issuer", "must not contain credentials"));
    }
    // One canonical string, byte-identical everywhere (shared/reference/mcp-auth.md §1.4):
    // lower-case scheme and host, no default port, no dot segments or needless escapes.
    let canonical = url.as_str().trim_end_matches('/');
    if issuer != canonical {
        return Err(bad(
            "issuer",
            format!("write it in canonical form, {canonical:?}: clients compare it byte for byte"),
        ));
    }
    Ok(issuer.to_owned())
}

#[cfg(test)]
mod tests;
