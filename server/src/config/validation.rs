//! `[validation]`: the caches of validated tokens.

use gatehouse_validator::Policy;
use serde::Deserialize;

use super::{ConfigError, bad};

/// The most slots a cache may have.
pub const MAX_CACHE_SIZE: usize = 1 << 24;

/// Validation settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidationConfig {
    /// Slots in each cache of validated tokens (JWT, opaque); 0 disables them.
    pub cache_size: usize,
}

/// The section as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawValidation {
    cache_size: Option<usize>,
}

impl RawValidation {
    pub(super) fn validate(self) -> Result<ValidationConfig, ConfigError> {
        let cache_size = self.cache_size.unwrap_or(Policy::DEFAULT_CACHE_SIZE);
        if cache_size > MAX_CACHE_SIZE {
            return Err(bad(
                "validation.cache_size",
                format!(
                    "give at most {MAX_CACHE_SIZE} slots (default {}; 0 disables the cache)",
                    Policy::DEFAULT_CACHE_SIZE
                ),
            ));
        }
        Ok(ValidationConfig { cache_size })
    }
}
