//! `[limits]`: what one client, or one address, may cost the server.

use serde::Deserialize;

use super::{ConfigError, bad, duration_within, seconds};

/// The largest quota that may be set.
pub const MAX_QUOTA: usize = 100_000_000;

/// Per-client quotas and the credential-guessing limit.
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

/// The section as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    opaque_tokens_per_client: Option<usize>,
    revocations_per_client: Option<usize>,
    auth_failures_per_client: Option<u32>,
    auth_failures_per_address: Option<u32>,
    #[serde(default, deserialize_with = "seconds")]
    auth_failure_window: Option<u64>,
}

impl RawLimits {
    pub(super) fn validate(&self) -> Result<Limits, ConfigError> {
        let d = Limits::default();
        let quota = |field: &str, value: Option<usize>, default: usize| {
            let value = value.unwrap_or(default);
            if (1..=MAX_QUOTA).contains(&value) {
                Ok(value)
            } else {
                Err(bad(
                    field,
                    format!("give 1 to {MAX_QUOTA} (default {default})"),
                ))
            }
        };
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
            auth_failure_window: duration_within(
                "limits.auth_failure_window",
                self.auth_failure_window,
                d.auth_failure_window,
                1..=86_400,
            )?,
        })
    }
}
