//! `[registration]`: dynamic client registration (RFC 7591, RFC 7592) — open by default for
//! public clients, because MCP clients cannot present an initial access token
//! (shared/reference/mcp-auth.md §2.2), and bounded instead: rate-limited per address, capped in
//! total, idle clients expiring.

use std::path::PathBuf;

use gatehouse_core::client::GrantType;
use gatehouse_core::client::auth::AuthMethod;
use serde::Deserialize;

use super::{ConfigError, bad, duration_within, seconds};

/// The section, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationConfig {
    /// Whether `/register` is served (and advertised).
    pub enabled: bool,
    /// A file holding the initial access token (RFC 7591 §3) every registration must present
    /// as a bearer token; none: open registration.
    pub initial_access_token_file: Option<PathBuf>,
    /// The `token_endpoint_auth_method`s a registration may ask for.
    pub auth_methods: Vec<AuthMethod>,
    /// The grant types a registration may ask for.
    pub grant_types: Vec<GrantType>,
    /// The most redirect URIs one registration may carry.
    pub max_redirect_uris: usize,
    /// A dynamically registered client not used this long is deleted, seconds.
    pub idle_expiry: u64,
    /// The most dynamically registered clients at once.
    pub max_clients: usize,
    /// The most registrations one address may make per hour.
    pub per_address_per_hour: u32,
}

/// Defaults.
pub const DEFAULT_IDLE_EXPIRY: u64 = 30 * 86_400;
/// Default cap on dynamically registered clients.
pub const DEFAULT_MAX_CLIENTS: usize = 10_000;
/// Default registrations per address per hour.
pub const DEFAULT_PER_ADDRESS_PER_HOUR: u32 = 30;
/// Default redirect URIs per registration.
pub const DEFAULT_MAX_REDIRECT_URIS: usize = 8;

/// The section as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRegistration {
    enabled: Option<bool>,
    initial_access_token_file: Option<PathBuf>,
    auth_methods: Option<Vec<String>>,
    grant_types: Option<Vec<String>>,
    max_redirect_uris: Option<usize>,
    #[serde(default, deserialize_with = "seconds")]
    idle_expiry: Option<u64>,
    max_clients: Option<usize>,
    per_address_per_hour: Option<u32>,
}

impl RawRegistration {
    pub(super) fn validate(self) -> Result<RegistrationConfig, ConfigError> {
        let auth_methods = match self.auth_methods {
            None => vec![
                AuthMethod::None,
                AuthMethod::ClientSecretBasic,
                AuthMethod::ClientSecretPost,
                AuthMethod::PrivateKeyJwt,
            ],
            Some(names) => names
                .iter()
                .map(|n| {
                    AuthMethod::SUPPORTED
                        .iter()
                        .copied()
                        .find(|m| m.as_str() == n)
                        .ok_or_else(|| {
                            bad(
                                "registration.auth_methods",
                                format!(
                                    "{n:?} is not supported; use none, client_secret_basic, client_secret_post, private_key_jwt or tls_client_auth"
                                ),
                            )
                        })
                })
                .collect::<Result<_, _>>()?,
        };
        let grant_types = match self.grant_types {
            None => vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            Some(names) => names
                .iter()
                .map(|n| {
                    GrantType::parse(n).ok_or_else(|| {
                        bad(
                            "registration.grant_types",
                            format!("{n:?} is not a grant type this server implements"),
                        )
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        let max_redirect_uris = self.max_redirect_uris.unwrap_or(DEFAULT_MAX_REDIRECT_URIS);
        let limit = gatehouse_core::client::redirect::MAX_REDIRECT_URIS;
        if !(1..=limit).contains(&max_redirect_uris) {
            return Err(bad(
                "registration.max_redirect_uris",
                format!("give 1 to {limit}"),
            ));
        }
        let max_clients = self.max_clients.unwrap_or(DEFAULT_MAX_CLIENTS);
        if !(1..=10_000_000).contains(&max_clients) {
            return Err(bad("registration.max_clients", "give 1 to 10000000"));
        }
        let per_address_per_hour = self
            .per_address_per_hour
            .unwrap_or(DEFAULT_PER_ADDRESS_PER_HOUR);
        if per_address_per_hour == 0 {
            return Err(bad(
                "registration.per_address_per_hour",
                "give at least 1 (set enabled = false to close registration)",
            ));
        }
        Ok(RegistrationConfig {
            enabled: self.enabled.unwrap_or(true),
            initial_access_token_file: self.initial_access_token_file,
            auth_methods,
            grant_types,
            max_redirect_uris,
            idle_expiry: duration_within(
                "registration.idle_expiry",
                self.idle_expiry,
                DEFAULT_IDLE_EXPIRY,
                3_600..=3_650 * 86_400,
            )?,
            max_clients,
            per_address_per_hour,
        })
    }
}
