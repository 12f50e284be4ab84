//! `[keys]`: when signing keys rotate.

use serde::Deserialize;

use super::{ConfigError, bad, seconds, show};

/// How long a key signs by default: 30 days.
pub const DEFAULT_ROTATION_PERIOD: u64 = 30 * 86_400;
/// How long a new key is published before it signs by default: 2 hours (resource servers cache
/// the JWKS for up to an hour).
pub const DEFAULT_PREPUBLISH: u64 = 2 * 3600;

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

/// The section as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawKeys {
    #[serde(default, deserialize_with = "seconds")]
    rotation_period: Option<u64>,
    #[serde(default, deserialize_with = "seconds")]
    prepublish: Option<u64>,
    #[serde(default, deserialize_with = "seconds")]
    retention: Option<u64>,
}

impl RawKeys {
    /// A retired key stays published at least as long as the longest token lifetime
    /// (`access_token_lifetime` unless `retention` says more) plus the leeway.
    pub(super) fn validate(self, access_token_lifetime: u64) -> Result<Schedule, ConfigError> {
        let rotation_period = match self.rotation_period {
            None => Some(DEFAULT_ROTATION_PERIOD),
            Some(0) => None,
            Some(p) => Some(p),
        };
        let prepublish = self.prepublish.unwrap_or(DEFAULT_PREPUBLISH);
        if let Some(period) = rotation_period {
            if period <= prepublish {
                return Err(bad(
                    "keys.rotation_period",
                    format!(
                        "{period} s must be longer than keys.prepublish ({prepublish} s); give e.g. {}, or 0 to rotate only on demand",
                        show(DEFAULT_ROTATION_PERIOD)
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
