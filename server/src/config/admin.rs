//! `[admin]`: where the admin API listens and its credential.

use std::net::SocketAddr;

use serde::Deserialize;

use super::{ConfigError, bad, parse_addr};

/// Where the admin API listens by default.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8081";
/// The shortest admin token accepted from the configuration.
pub const MIN_TOKEN_LEN: usize = 32;

/// The admin API's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminConfig {
    /// Where it listens (loopback by default).
    pub listen: SocketAddr,
    /// The admin credential, if configured; otherwise one is kept in `<data_dir>/admin-token`.
    pub token: Option<String>,
    /// Whether `listen` may be a non-loopback address (plain HTTP with a bearer token).
    pub allow_remote: bool,
}

/// The section as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAdmin {
    listen: Option<String>,
    token: Option<String>,
    #[serde(default)]
    allow_remote: bool,
}

impl RawAdmin {
    /// Validates the section; `public` is the OAuth listener, which the admin API must not share.
    pub(super) fn validate(self, public: SocketAddr) -> Result<AdminConfig, ConfigError> {
        let listen = parse_addr(
            "admin.listen",
            self.listen.as_deref().unwrap_or(DEFAULT_LISTEN),
        )?;
        if listen == public {
            return Err(bad(
                "admin.listen",
                format!("must differ from `listen`; the default is {DEFAULT_LISTEN}"),
            ));
        }
        // The admin API speaks plain HTTP with a bearer token: off loopback, anyone on the path
        // reads the token. Gatehouse has no TLS for it yet, so only an explicit opt-in (behind
        // a TLS-terminating proxy or a private network) allows it.
        if !listen.ip().is_loopback() && !self.allow_remote {
            return Err(bad(
                "admin.listen",
                format!(
                    "{listen} is not a loopback address: the admin API is plain HTTP with a bearer token; \
                     keep it on loopback (default {DEFAULT_LISTEN}), or set admin.allow_remote = true if TLS is \
                     terminated in front of it"
                ),
            ));
        }
        if self.token.as_ref().is_some_and(|t| t.len() < MIN_TOKEN_LEN) {
            return Err(bad(
                "admin.token",
                format!(
                    "must be at least {MIN_TOKEN_LEN} characters of random text (e.g. `openssl rand -base64 32`), \
                     or leave it unset to have one generated in the data directory"
                ),
            ));
        }
        Ok(AdminConfig {
            listen,
            token: self.token,
            allow_remote: self.allow_remote,
        })
    }
}
