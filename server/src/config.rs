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
/// Environment variables with the prefix that are not configuration keys.
const ENV_NOT_CONFIG: &[&str] = &["GATEHOUSE_CONFIG"];

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
    /// Default access-token lifetime, seconds.
    pub access_token_lifetime: u64,
    /// Clock skew tolerated when validating tokens, seconds.
    pub leeway: u64,
    /// The algorithm of newly generated signing keys.
    pub algorithm: Algorithm,
    /// The largest request body accepted, bytes.
    pub max_body: usize,
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
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdmin {
    listen: Option<String>,
    token: Option<String>,
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
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    max_body: Option<usize>,
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
        match self.signing.backend.as_deref() {
            None | Some("software") => {}
            Some(other) => {
                return Err(bad(
                    "signing.backend",
                    format!("{other:?} is not available; use \"software\""),
                ));
            }
        }
        let algorithm = match self.signing.algorithm.as_deref() {
            None => Algorithm::ES256,
            Some(text) => {
                let alg: Algorithm = text
                    .parse()
                    .map_err(|e| bad("signing.algorithm", format!("{e}")))?;
                if !matches!(alg, Algorithm::ES256 | Algorithm::ES384 | Algorithm::EdDSA) {
                    return Err(bad(
                        "signing.algorithm",
                        format!(
                            "the software backend generates ES256, ES384 or EdDSA keys, not {alg}"
                        ),
                    ));
                }
                alg
            }
        };
        let max_body = self.http.max_body.unwrap_or(64 * 1024);
        if !(1024..=1024 * 1024).contains(&max_body) {
            return Err(bad(
                "http.max_body",
                "give 1024 to 1048576 bytes (default 65536)",
            ));
        }
        Ok(Config {
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
            max_body,
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
            ("[signing]\nbackend = \"pkcs11\"", "signing.backend"),
            ("[admin]\ntoken = \"short\"", "admin.token"),
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
}
