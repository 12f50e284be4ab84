//! `[tokens]`: access-token lifetimes and the clock-skew leeway.

use gatehouse_core::client::LIFETIME_RANGE;
use gatehouse_validator::Policy;
use serde::Deserialize;

use super::{ConfigError, duration_within, seconds};

/// The default access-token lifetime: one hour.
pub const DEFAULT_ACCESS_TOKEN_LIFETIME: u64 = 3600;
/// The most leeway allowed: five minutes.
pub const MAX_LEEWAY: u64 = 300;

/// Token settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokensConfig {
    /// Default access-token lifetime, seconds (clients may override).
    pub access_token_lifetime: u64,
    /// Clock skew resource servers may tolerate when validating tokens, seconds. The server's
    /// own checks (introspection) are exact; revocations, opaque-token records and retired keys
    /// are kept this much past the expiry of the tokens they concern.
    pub leeway: u64,
}

/// The section as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTokens {
    #[serde(default, deserialize_with = "seconds")]
    access_token_lifetime: Option<u64>,
    #[serde(default, deserialize_with = "seconds")]
    leeway: Option<u64>,
}

impl RawTokens {
    pub(super) fn validate(self) -> Result<TokensConfig, ConfigError> {
        Ok(TokensConfig {
            access_token_lifetime: duration_within(
                "tokens.access_token_lifetime",
                self.access_token_lifetime,
                DEFAULT_ACCESS_TOKEN_LIFETIME,
                LIFETIME_RANGE,
            )?,
            leeway: duration_within(
                "tokens.leeway",
                self.leeway,
                Policy::DEFAULT_LEEWAY,
                0..=MAX_LEEWAY,
            )?,
        })
    }
}
