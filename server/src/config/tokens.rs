//! `[tokens]`: access- and refresh-token lifetimes, refresh rotation, and the clock-skew
//! leeway.

use gatehouse_core::client::LIFETIME_RANGE;
use gatehouse_validator::Policy;
use serde::Deserialize;

use super::{ConfigError, duration_within, seconds};

/// The default access-token lifetime: one hour.
pub const DEFAULT_ACCESS_TOKEN_LIFETIME: u64 = 3600;
/// The most leeway allowed: five minutes.
pub const MAX_LEEWAY: u64 = 300;
/// The default idle lifetime of a refresh token: fourteen days unused.
pub const DEFAULT_REFRESH_IDLE: u64 = 14 * 86_400;
/// The default absolute lifetime of a refresh-token family: ninety days.
pub const DEFAULT_REFRESH_LIFETIME: u64 = 90 * 86_400;
/// The default grace window of a rotated refresh token: thirty seconds.
pub const DEFAULT_REFRESH_GRACE: u64 = 30;

/// Token settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokensConfig {
    /// Default access-token lifetime, seconds (clients may override).
    pub access_token_lifetime: u64,
    /// Clock skew resource servers may tolerate when validating tokens, seconds. The server's
    /// own checks (introspection) are exact; revocations, opaque-token records and retired keys
    /// are kept this much past the expiry of the tokens they concern.
    pub leeway: u64,
    /// A refresh token unused this long expires, seconds.
    pub refresh_token_idle_lifetime: u64,
    /// A refresh-token family ends this long after the sign-in, whatever the use, seconds.
    pub refresh_token_lifetime: u64,
    /// A rotated refresh token used again within this many seconds gets the same successor
    /// (two tabs refreshing at once); after it, the reuse revokes the family.
    pub refresh_token_grace: u64,
    /// Whether confidential clients' refresh tokens rotate on use too (public clients' always
    /// do).
    pub rotate_confidential_refresh: bool,
}

/// The section as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTokens {
    #[serde(default, deserialize_with = "seconds")]
    access_token_lifetime: Option<u64>,
    #[serde(default, deserialize_with = "seconds")]
    leeway: Option<u64>,
    #[serde(default, deserialize_with = "seconds")]
    refresh_token_idle_lifetime: Option<u64>,
    #[serde(default, deserialize_with = "seconds")]
    refresh_token_lifetime: Option<u64>,
    #[serde(default, deserialize_with = "seconds")]
    refresh_token_grace: Option<u64>,
    rotate_confidential_refresh: Option<bool>,
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
            refresh_token_idle_lifetime: duration_within(
                "tokens.refresh_token_idle_lifetime",
                self.refresh_token_idle_lifetime,
                DEFAULT_REFRESH_IDLE,
                60..=365 * 86_400,
            )?,
            refresh_token_lifetime: duration_within(
                "tokens.refresh_token_lifetime",
                self.refresh_token_lifetime,
                DEFAULT_REFRESH_LIFETIME,
                60..=365 * 86_400,
            )?,
            refresh_token_grace: duration_within(
                "tokens.refresh_token_grace",
                self.refresh_token_grace,
                DEFAULT_REFRESH_GRACE,
                0..=300,
            )?,
            rotate_confidential_refresh: self.rotate_confidential_refresh.unwrap_or(true),
        })
    }
}
