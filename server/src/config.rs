//! Configuration: embedded defaults, then a TOML file (`--config FILE`), then `GATEHOUSE_*`
//! environment variables, each overriding the one before. Validated once at start: a bad value
//! is refused with a message naming the field and the fix, never silently replaced.
//!
//! Environment variables map onto the file's keys: `GATEHOUSE_ISSUER` sets `issuer`,
//! `GATEHOUSE_ADMIN__LISTEN` sets `listen` in `[admin]` (sections are joined by two
//! underscores). Values are read as TOML (`300`, `true`) when they parse, else as strings.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use gatehouse_core::client::LIFETIME_RANGE;
use gatehouse_token::Algorithm;
use serde::{Deserialize, Deserializer};
use url::Url;

/// The prefix of configuration environment variables.
pub const ENV_PREFIX: &str = "GATEHOUSE_";
/// The default environment variable holding the HSM user PIN.
pub const DEFAULT_PIN_ENV: &str = "GATEHOUSE_PKCS11_PIN";
/// Environment variables with the prefix that are not configuration keys.
const ENV_NOT_CONFIG: &[&str] = &["GATEHOUSE_CONFIG", DEFAULT_PIN_ENV];

/// The validated configuration.
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
    /// Where the admin API listens (loopback by default).
    pub admin_listen: SocketAddr,
    /// The admin credential, if configured; otherwise one is kept in `<data_dir>/admin-token`.
    pub admin_token: Option<String>,
    /// Whether `admin_listen` may be a non-loopback address (plain HTTP with a bearer token).
    pub admin_allow_remote: bool,
    /// Default access-token lifetime, seconds.
    pub access_token_lifetime: u64,
    /// Clock skew resource servers may tolerate when validating tokens, seconds. The server's
    /// own checks (introspection) are exact; revocations, opaque-token records and retired keys
    /// are kept this much past the expiry of the tokens they concern.
    pub leeway: u64,
    /// The algorithm of newly generated signing keys.
    pub algorithm: Algorithm,
    /// Where signing keys live.
    pub backend: Backend,
    /// When keys rotate.
    pub schedule: Schedule,
    /// The largest request body accepted, bytes.
    pub max_body: usize,
    /// Connection timeouts and limits of both listeners.
    pub http: HttpLimits,
    /// Per-client quotas and the credential-guessing limits.
    pub limits: Limits,
    /// Slots in each cache of validated tokens (JWT, opaque); 0 disables them.
    pub cache_size: usize,
}

/// Timeouts and limits of each listener (public and admin), all in seconds but the count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// From the first byte of a request to the end of its headers.
    pub header_timeout: u64,
    /// From the end of the headers to the response: reading the body and handling it.
    pub request_timeout: u64,
    /// How long a connection may wait for its next request (and a fresh one for its first),
    /// or for the client to read a response, with nothing moving.
    pub idle_timeout: u64,
    /// Open connections per listener; beyond it new connections wait in the backlog.
    pub max_connections: usize,
    /// Open connections one address (an IPv6 /64) may hold; beyond it its new connections are
    /// closed at once; 0 = no limit (behind a reverse proxy, every connection is the proxy's).
    pub max_connections_per_address: usize,
    /// How long a shutdown waits for requests in flight before closing what is left.
    pub shutdown_timeout: u64,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            header_timeout: 10,
            request_timeout: 30,
            idle_timeout: 60,
            max_connections: 10_000,
            max_connections_per_address: 1_000,
            shutdown_timeout: 10,
        }
    }
}

/// What one client, or one address, may cost the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Opaque access tokens one client may hold at once (they are stored until expiry).
    pub opaque_tokens_per_client: usize,
    /// Revocations of JWTs one client may have outstanding (each is kept until the token's
    /// expiry plus the leeway, in memory and on disk).
    pub revocations_per_client: usize,
    /// Failed client authentications per client id per window before it is refused; 0 = off.
    pub auth_failures_per_client: u32,
    /// Failed client authentications per address per window before it is refused; 0 = off.
    pub auth_failures_per_address: u32,
    /// The window of the two counts above, seconds.
    pub auth_failure_window: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            opaque_tokens_per_client: 100_000,
            revocations_per_client: 10_000,
            auth_failures_per_client: 30,
            auth_failures_per_address: 30,
            auth_failure_window: 60,
        }
    }
}

/// The file's shape. Every field optional; unknown keys are errors.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    issuer: Option<String>,
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    log: Option<String>,
    #[serde(default)]
    admin: RawAdmin,
    #[serde(default)]
    tokens: RawTokens,
    #[serde(default)]
    signing: RawSigning,
    #[serde(default)]
    http: RawHttp,
    #[serde(default)]
    keys: RawKeys,
    #[serde(default)]
    validation: RawValidation,
    #[serde(default)]
    limits: RawLimits,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    opaque_tokens_per_client: Option<usize>,
    revocations_per_client: Option<usize>,
    auth_failures_per_client: Option<u32>,
    auth_failures_per_address: Option<u32>,
    #[serde(default, deserialize_with = "seconds")]
    auth_failure_window: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawValidation {
    cache_size: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdmin {
    listen: Option<String>,
    token: Option<String>,
    #[serde(default)]
    allow_remote: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTokens {
    #[serde(default, deserialize_with = "seconds")]
    access_token_lifetime: Option<u64>,
    #[serde(default, deserialize_with = "seconds")]
    leeway: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSigning {
    backend: Option<String>,
    algorithm: Option<String>,
    pkcs11: Option<RawPkcs11>,
}

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

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKeys {
    #[serde(default, deserialize_with = "seconds")]
    rotation_period: Option<u64>,
    #[serde(default, deserialize_with = "seconds")]
    prepublish: Option<u64>,
    #[serde(default, deserialize_with = "seconds")]
    retention: Option<u64>,
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
    pub token: gatehouse_signer::pkcs11::TokenSelector,
    /// Where the user PIN comes from.
    pub pin: PinSource,
    /// Label prefix of generated keys.
    pub key_label_prefix: String,
    /// A key provisioned beforehand (by label or id), used instead of generated keys.
    pub provisioned: Option<gatehouse_signer::KeyRef>,
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

/// When keys rotate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// How long a key signs before the next one takes over; `None`: only on demand.
    pub rotation_period: Option<u64>,
    /// How long a new key is published before it signs.
    pub prepublish: u64,
    /// The least time a retired key stays published (it stays longer if tokens it signed live
    /// longer).
    pub retention: u64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    max_body: Option<usize>,
    #[serde(default, deserialize_with = "seconds")]
    header_timeout: Option<u64>,
    #[serde(default, deserialize_with = "seconds")]
    request_timeout: Option<u64>,
    #[serde(default, deserialize_with = "seconds")]
    idle_timeout: Option<u64>,
    max_connections: Option<usize>,
    max_connections_per_address: Option<usize>,
    #[serde(default, deserialize_with = "seconds")]
    shutdown_timeout: Option<u64>,
}

impl RawHttp {
    fn validate(&self) -> Result<HttpLimits, ConfigError> {
        let d = HttpLimits::default();
        let within = |field: &str, value: Option<u64>, default: u64, max: u64| {
            let value = value.unwrap_or(default);
            if (1..=max).contains(&value) {
                Ok(value)
            } else {
                Err(bad(
                    field,
                    format!("{value} s is out of range; give 1s to {max}s (default {default}s)"),
                ))
            }
        };
        let max_connections = self.max_connections.unwrap_or(d.max_connections);
        if !(1..=1_000_000).contains(&max_connections) {
            return Err(bad(
                "http.max_connections",
                "give 1 to 1000000 (default 10000)",
            ));
        }
        Ok(HttpLimits {
            header_timeout: within(
                "http.header_timeout",
                self.header_timeout,
                d.header_timeout,
                300,
            )?,
            request_timeout: within(
                "http.request_timeout",
                self.request_timeout,
                d.request_timeout,
                600,
            )?,
            idle_timeout: within("http.idle_timeout", self.idle_timeout, d.idle_timeout, 3600)?,
            max_connections,
            max_connections_per_address: self
                .max_connections_per_address
                .unwrap_or(d.max_connections_per_address),
            shutdown_timeout: within(
                "http.shutdown_timeout",
                self.shutdown_timeout,
                d.shutdown_timeout,
                600,
            )?,
        })
    }
}

impl RawLimits {
    fn validate(&self) -> Result<Limits, ConfigError> {
        let d = Limits::default();
        let quota = |field: &str, value: Option<usize>, default: usize| {
            let value = value.unwrap_or(default);
            if (1..=100_000_000).contains(&value) {
                Ok(value)
            } else {
                Err(bad(
                    field,
                    format!("give 1 to 100000000 (default {default})"),
                ))
            }
        };
        let window = self.auth_failure_window.unwrap_or(d.auth_failure_window);
        if !(1..=86_400).contains(&window) {
            return Err(bad(
                "limits.auth_failure_window",
                "give 1s to 1d (default 60s)",
            ));
        }
        Ok(Limits {
            opaque_tokens_per_client: quota(
                "limits.opaque_tokens_per_client",
                self.opaque_tokens_per_client,
                d.opaque_tokens_per_client,
            )?,
            revocations_per_client: quota(
                "limits.revocations_per_client",
                self.revocations_per_client,
                d.revocations_per_client,
            )?,
            auth_failures_per_client: self
                .auth_failures_per_client
                .unwrap_or(d.auth_failures_per_client),
            auth_failures_per_address: self
                .auth_failures_per_address
                .unwrap_or(d.auth_failures_per_address),
            auth_failure_window: window,
        })
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

/// A configuration error: the field, what is wrong, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration error in `{field}`: {message}")]
pub struct ConfigError {
    /// The key, as written in the file (`tokens.access_token_lifetime`).
    pub field: String,
    /// What is wrong and what to do.
    pub message: String,
}

fn bad(field: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        field: field.to_owned(),
        message: message.into(),
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
        let listen = parse_addr("listen", self.listen.as_deref().unwrap_or("127.0.0.1:8080"))?;
        let admin_listen = parse_addr(
            "admin.listen",
            self.admin.listen.as_deref().unwrap_or("127.0.0.1:8081"),
        )?;
        if admin_listen == listen {
            return Err(bad(
                "admin.listen",
                "must differ from `listen`; the default is 127.0.0.1:8081",
            ));
        }
        // The admin API speaks plain HTTP with a bearer token: off loopback, anyone on the path
        // reads the token. Gatehouse has no TLS for it yet, so only an explicit opt-in (behind
        // a TLS-terminating proxy or a private network) allows it.
        if !admin_listen.ip().is_loopback() && !self.admin.allow_remote {
            return Err(bad(
                "admin.listen",
                format!(
                    "{admin_listen} is not a loopback address: the admin API is plain HTTP with a bearer token; \
                     keep it on loopback (default 127.0.0.1:8081), or set admin.allow_remote = true if TLS is \
                     terminated in front of it"
                ),
            ));
        }
        let issuer = match self.issuer {
            Some(issuer) => validate_issuer(&issuer)?,
            None if listen.ip().is_loopback() => format!("http://{listen}"),
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
        if let Some(token) = &self.admin.token {
            if token.len() < 32 {
                return Err(bad(
                    "admin.token",
                    "must be at least 32 characters of random text (e.g. `openssl rand -base64 32`), \
                     or leave it unset to have one generated in the data directory",
                ));
            }
        }
        let access_token_lifetime = self.tokens.access_token_lifetime.unwrap_or(3600);
        if !LIFETIME_RANGE.contains(&access_token_lifetime) {
            return Err(bad(
                "tokens.access_token_lifetime",
                format!("{access_token_lifetime} s is out of range; give 1s to 30d (default 1h)"),
            ));
        }
        let leeway = self.tokens.leeway.unwrap_or(30);
        if leeway > 300 {
            return Err(bad(
                "tokens.leeway",
                format!("{leeway} s is too lax; give at most 5m (default 30s)"),
            ));
        }
        let backend = match self.signing.backend.as_deref() {
            None | Some("software") => {
                if self.signing.pkcs11.is_some() {
                    return Err(bad(
                        "signing.pkcs11",
                        "is set but signing.backend is not \"pkcs11\"; set backend = \"pkcs11\" to use the HSM",
                    ));
                }
                Backend::Software
            }
            Some("pkcs11") => Backend::Pkcs11(self.signing.pkcs11.unwrap_or_default().validate()?),
            Some(other) => {
                return Err(bad(
                    "signing.backend",
                    format!("{other:?} is not a backend; use \"software\" or \"pkcs11\""),
                ));
            }
        };
        let algorithm = match self.signing.algorithm.as_deref() {
            None => Algorithm::ES256,
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
        let schedule = self.keys.validate(access_token_lifetime)?;
        let max_body = self.http.max_body.unwrap_or(64 * 1024);
        if !(1024..=1024 * 1024).contains(&max_body) {
            return Err(bad(
                "http.max_body",
                "give 1024 to 1048576 bytes (default 65536)",
            ));
        }
        let cache_size = self.validation.cache_size.unwrap_or(16 * 1024);
        if cache_size > 1 << 24 {
            return Err(bad(
                "validation.cache_size",
                "give at most 16777216 slots (default 16384; 0 disables the cache)",
            ));
        }
        let http = self.http.validate()?;
        let limits = self.limits.validate()?;
        Ok(Config {
            http,
            limits,
            admin_allow_remote: self.admin.allow_remote,
            cache_size,
            issuer,
            listen,
            data_dir: self
                .data_dir
                .unwrap_or_else(|| PathBuf::from("./gatehouse-data")),
            log: self.log.unwrap_or_else(|| "info".to_owned()),
            admin_listen,
            admin_token: self.admin.token,
            access_token_lifetime,
            leeway,
            algorithm,
            backend,
            schedule,
            max_body,
        })
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
            (Some(label), None) => gatehouse_signer::pkcs11::TokenSelector::Label(label),
            (None, Some(slot)) => gatehouse_signer::pkcs11::TokenSelector::Slot(slot),
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
            (Some(label), None) => Some(gatehouse_signer::KeyRef::Label(label)),
            (None, Some(hex)) => Some(gatehouse_signer::KeyRef::Id(
                gatehouse_signer::pkcs11::unhex(&hex)
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
        let rsa_bits = self.rsa_bits.unwrap_or(2048);
        if ![2048, 3072, 4096].contains(&rsa_bits) {
            return Err(bad(
                &format!("{F}.rsa_bits"),
                "give 2048, 3072 or 4096 (default 2048)",
            ));
        }
        let sessions = self.sessions.unwrap_or(4);
        if !(1..=256).contains(&sessions) {
            return Err(bad(&format!("{F}.sessions"), "give 1 to 256 (default 4)"));
        }
        let max_waiting = self.max_waiting.unwrap_or(64);
        if max_waiting > 100_000 {
            return Err(bad(
                &format!("{F}.max_waiting"),
                "give at most 100000 (default 64)",
            ));
        }
        Ok(Pkcs11Config {
            module,
            token,
            pin,
            key_label_prefix: self
                .key_label_prefix
                .unwrap_or_else(|| "gatehouse-".to_owned()),
            provisioned,
            rsa_bits,
            sessions,
            max_waiting,
            destroy_retired: self.destroy_retired,
        })
    }
}

impl RawKeys {
    /// Defaults for a one-hour token lifetime: a key signs for 30 days; its successor is
    /// published 2 hours before (resource servers cache JWKS for up to an hour); a retired key
    /// stays published at least as long as the longest token lifetime plus leeway.
    fn validate(self, access_token_lifetime: u64) -> Result<Schedule, ConfigError> {
        let rotation_period = match self.rotation_period {
            None => Some(30 * 86_400),
            Some(0) => None,
            Some(p) => Some(p),
        };
        let prepublish = self.prepublish.unwrap_or(2 * 3600);
        if let Some(period) = rotation_period {
            if period <= prepublish {
                return Err(bad(
                    "keys.rotation_period",
                    format!(
                        "{period} s must be longer than keys.prepublish ({prepublish} s); give e.g. 30d, or 0 to rotate only on demand"
                    ),
                ));
            }
        }
        Ok(Schedule {
            rotation_period,
            prepublish,
            retention: self.retention.unwrap_or(access_token_lifetime),
        })
    }
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
    Ok(issuer.to_owned())
}

impl Config {
    /// The issuer's path ("" or "/tenant"), under which every endpoint is served.
    pub fn issuer_path(&self) -> String {
        Url::parse(&self.issuer)
            .map(|u| u.path().trim_end_matches('/').to_owned())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(toml: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gatehouse.toml");
        std::fs::write(&file, toml).unwrap();
        Config::load_from(
            Some(&file),
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    #[test]
    fn embedded_defaults() {
        let c = Config::load_from(None, Vec::new()).unwrap();
        assert_eq!(c.issuer, "http://127.0.0.1:8080");
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.admin_listen.to_string(), "127.0.0.1:8081");
        assert_eq!(c.data_dir, PathBuf::from("./gatehouse-data"));
        assert_eq!(
            (c.access_token_lifetime, c.leeway, c.algorithm),
            (3600, 30, Algorithm::ES256)
        );
        assert_eq!(c.issuer_path(), "");
    }

    #[test]
    fn file_then_environment() {
        let c = load(
            "listen = \"127.0.0.1:9000\"\n[tokens]\naccess_token_lifetime = \"5m\"\n",
            &[
                ("GATEHOUSE_TOKENS__ACCESS_TOKEN_LIFETIME", "600"),
                ("GATEHOUSE_ADMIN__LISTEN", "127.0.0.1:9001"),
                ("PATH", "/bin"),
            ],
        )
        .unwrap();
        assert_eq!(c.issuer, "http://127.0.0.1:9000");
        assert_eq!(c.access_token_lifetime, 600);
        assert_eq!(c.admin_listen.to_string(), "127.0.0.1:9001");
        let c = load(
            "issuer = \"https://auth.example.com/tenant\"\n[tokens]\nleeway = 10",
            &[],
        )
        .unwrap();
        assert_eq!((c.issuer_path().as_str(), c.leeway), ("/tenant", 10));
    }

    #[test]
    fn pkcs11_backend_and_schedule() {
        let c = load(
            "[signing]\nbackend = \"pkcs11\"\nalgorithm = \"PS256\"\n[signing.pkcs11]\nmodule = \"/usr/lib/softhsm/libsofthsm2.so\"\ntoken_label = \"gatehouse\"\npin_file = \"/run/pin\"\n[keys]\nrotation_period = \"7d\"\nprepublish = \"1h\"",
            &[("GATEHOUSE_PKCS11_PIN", "1234")],
        )
        .unwrap();
        assert_eq!(c.algorithm, Algorithm::PS256);
        let Backend::Pkcs11(p) = c.backend else {
            panic!("{:?}", c.backend)
        };
        assert_eq!(p.pin, PinSource::File("/run/pin".into()));
        assert_eq!((p.rsa_bits, p.provisioned), (2048, None));
        assert_eq!(
            (p.sessions, p.max_waiting, p.key_label_prefix.as_str()),
            (4, 64, "gatehouse-")
        );
        assert_eq!(c.schedule.rotation_period, Some(7 * 86_400));
        assert_eq!(c.schedule.prepublish, 3600);
        let d = Config::load_from(None, Vec::new()).unwrap();
        assert_eq!(d.backend, Backend::Software);
        assert_eq!(
            (d.schedule.rotation_period, d.schedule.prepublish),
            (Some(30 * 86_400), 7200)
        );
        let never = load("[keys]\nrotation_period = 0", &[]).unwrap();
        assert_eq!(never.schedule.rotation_period, None);
    }

    #[test]
    fn bad_values_name_their_field() {
        let cases = [
            ("issuer = \"https://a.example/\"", "issuer"),
            ("issuer = \"http://a.example\"", "issuer"),
            ("issuer = \"https://a.example?x=1\"", "issuer"),
            ("listen = \"localhost\"", "listen"),
            ("listen = \"0.0.0.0:8080\"", "issuer"),
            (
                "[tokens]\naccess_token_lifetime = 0",
                "tokens.access_token_lifetime",
            ),
            (
                "[tokens]\naccess_token_lifetime = \"forever\"",
                "tokens.access_token_lifetime",
            ),
            ("[signing]\nalgorithm = \"HS256\"", "signing.algorithm"),
            ("[signing]\nbackend = \"cloudkms\"", "signing.backend"),
            ("[signing]\nbackend = \"pkcs11\"", "signing.pkcs11.module"),
            ("[signing]\nalgorithm = \"RS256\"", "signing.algorithm"),
            (
                "[signing.pkcs11]\nmodule = \"/m.so\"\ntoken_label = \"t\"",
                "signing.pkcs11",
            ),
            (
                "[signing]\nbackend = \"pkcs11\"\n[signing.pkcs11]\nmodule = \"/m.so\"\ntoken_label = \"t\"\npin = \"1234\"",
                "signing.pkcs11.pin",
            ),
            (
                "[signing]\nbackend = \"pkcs11\"\n[signing.pkcs11]\nmodule = \"/m.so\"\ntoken_label = \"t\"\nslot = 0",
                "signing.pkcs11.token_label",
            ),
            (
                "[signing]\nbackend = \"pkcs11\"\n[signing.pkcs11]\nmodule = \"/m.so\"\nslot = 0\nkey_id = \"xyz\"",
                "signing.pkcs11.key_id",
            ),
            (
                "[signing]\nbackend = \"pkcs11\"\n[signing.pkcs11]\nmodule = \"/m.so\"\nslot = 0\nrsa_bits = 1024",
                "signing.pkcs11.rsa_bits",
            ),
            (
                "[keys]\nrotation_period = \"1h\"\nprepublish = \"2h\"",
                "keys.rotation_period",
            ),
            ("[admin]\ntoken = \"short\"", "admin.token"),
            ("[admin]\nlisten = \"0.0.0.0:8081\"", "admin.listen"),
            ("[admin]\nlisten = \"10.0.0.5:8081\"", "admin.listen"),
            ("[http]\nheader_timeout = 0", "http.header_timeout"),
            ("[http]\nidle_timeout = \"2h\"", "http.idle_timeout"),
            ("[http]\nmax_connections = 0", "http.max_connections"),
            (
                "[limits]\nrevocations_per_client = 0",
                "limits.revocations_per_client",
            ),
            (
                "[limits]\nauth_failure_window = 0",
                "limits.auth_failure_window",
            ),
            ("[limits]\nper_client = 1", "limits.per_client"),
            ("[admin]\nlisten = \"127.0.0.1:8080\"", "admin.listen"),
            ("typo = 1", "typo"),
            ("[tokens]\nlifetime = 1", "tokens.lifetime"),
        ];
        for (toml, field) in cases {
            let err = load(toml, &[]).unwrap_err();
            assert_eq!(err.field, field, "{toml}: {err}");
        }
        let err = load("", &[("GATEHOUSE_NOPE", "1")]).unwrap_err();
        assert!(err.message.contains("nope"), "{err}");
        let err = load("[tokens]\naccess_token_lifetime = \"forever\"", &[]).unwrap_err();
        assert!(err.message.contains("5m"), "{err}");
    }

    #[test]
    fn a_remote_admin_api_needs_an_explicit_opt_in() {
        let c = load(
            "[admin]\nlisten = \"0.0.0.0:8081\"\nallow_remote = true",
            &[],
        )
        .unwrap();
        assert!(c.admin_allow_remote);
        assert!(
            !Config::load_from(None, Vec::new())
                .unwrap()
                .admin_allow_remote
        );
    }

    #[test]
    fn http_limits_and_quotas() {
        let d = Config::load_from(None, Vec::new()).unwrap();
        assert_eq!(d.http, HttpLimits::default());
        assert_eq!(d.limits, Limits::default());
        let c = load(
            "[http]\nheader_timeout = \"5s\"\nidle_timeout = \"2m\"\nmax_connections = 100\n[limits]\nauth_failures_per_address = 0",
            &[("GATEHOUSE_LIMITS__REVOCATIONS_PER_CLIENT", "50")],
        )
        .unwrap();
        assert_eq!(
            (
                c.http.header_timeout,
                c.http.idle_timeout,
                c.http.max_connections
            ),
            (5, 120, 100)
        );
        assert_eq!(
            (
                c.limits.revocations_per_client,
                c.limits.auth_failures_per_address
            ),
            (50, 0)
        );
    }
}
