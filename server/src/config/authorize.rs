//! `[authorize]`: the authorization endpoint's server-wide policy.

use serde::Deserialize;

use super::ConfigError;

/// The authorization endpoint's settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuthorizeConfig {
    /// Every client must push its authorization requests first (RFC 9126 §5); a client can
    /// also be registered with `require_pushed_authorization_requests` alone.
    pub require_pushed_authorization_requests: bool,
}

/// The section as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAuthorize {
    require_pushed_authorization_requests: Option<bool>,
}

impl RawAuthorize {
    pub(super) fn validate(self) -> Result<AuthorizeConfig, ConfigError> {
        Ok(AuthorizeConfig {
            require_pushed_authorization_requests: self
                .require_pushed_authorization_requests
                .unwrap_or(false),
        })
    }
}
