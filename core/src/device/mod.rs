//! The device authorization grant (RFC 8628): a device without a browser (a TV, a CLI) asks
//! for a device code and a user code; the person enters the user code on another device,
//! signs in and approves; the device polls the token endpoint
//! ([`crate::grant::device_code`]) until it gets its tokens.
//!
//! # Layout
//! - [`user_code`]: the code the person types (RFC 8628 §6.1).
//! - [`DeviceCodeText`]: the device code, a bearer secret of 256 random bits with a
//!   recognisable prefix, stored only as its digest (RFC 8628 §5.2).
//! - [`start`]: the device authorization endpoint's decision (RFC 8628 §3.1, §3.2).
//! - the record and its state machine: [`crate::store::DeviceCodeStore`].

pub mod user_code;

use std::fmt;

use gatehouse_token::{SecretDigest, UnixTime, b64};

pub use user_code::UserCode;

use crate::client::{Client, GrantType};
use crate::error::TokenError;
use crate::grant::target;
use crate::ports::{Random, random_bytes};
use crate::request::device::DeviceAuthorizationRequest;
use crate::resource::ResourceRegistry;
use crate::store::{DeviceAuthorization, DeviceCodeStore, DeviceStatus, StoreError};

/// The prefix of every device code, so a leaked one is recognisable (and never mistaken for
/// an access token, a refresh token or a code).
pub const DEVICE_CODE_PREFIX: &str = "gdc_";

/// A device code as handed to the device (RFC 8628 §3.2): never shown to a person.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceCodeText(String);

impl DeviceCodeText {
    /// A code from 32 random bytes (256 bits; RFC 8628 §5.2 wants it unguessable).
    pub fn from_random(random: [u8; 32]) -> Self {
        Self(format!("{DEVICE_CODE_PREFIX}{}", b64::encode(random)))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What it is stored under.
    pub fn digest(&self) -> SecretDigest {
        SecretDigest::of(&self.0)
    }
}

impl fmt::Debug for DeviceCodeText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeviceCodeText(..)")
    }
}

/// The digest a presented device code is looked up by: `None` for text that cannot be one of
/// ours (wrong prefix or length), which is then `invalid_grant` without a lookup.
pub fn presented_digest(text: &str) -> Option<SecretDigest> {
    let rest = text.strip_prefix(DEVICE_CODE_PREFIX)?;
    (rest.len() == 43
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    .then(|| SecretDigest::of(text))
}

/// Lifetimes and intervals of device authorizations (`[device]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceSettings {
    /// How long a device code and its user code live, seconds (RFC 8628 §3.2 `expires_in`).
    pub lifetime: u64,
    /// The minimum seconds between polls (RFC 8628 §3.2 `interval`).
    pub interval: u64,
}

impl Default for DeviceSettings {
    /// 600 s and 5 s (RFC 8628 §3.2: the interval defaults to 5 s).
    fn default() -> Self {
        Self {
            lifetime: 600,
            interval: 5,
        }
    }
}

/// A device authorization just started: what the endpoint answers (RFC 8628 §3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    /// The device code.
    pub device_code: DeviceCodeText,
    /// The user code.
    pub user_code: UserCode,
    /// Seconds until both expire.
    pub expires_in: u64,
    /// Seconds between polls.
    pub interval: u64,
}

/// How many fresh user codes are tried before giving up on a collision with a live one
/// (20^8 codes: a second collision in a row means something is wrong).
const USER_CODE_TRIES: usize = 4;

/// The device authorization endpoint (RFC 8628 §3.1): for the authenticated (or public)
/// `client`, decides the scope and resource as every grant does ([`target::decide`]), and
/// stores a pending authorization under a fresh device code and user code.
pub async fn start(
    client: &Client,
    req: &DeviceAuthorizationRequest,
    registry: &ResourceRegistry,
    store: &dyn DeviceCodeStore,
    random: &dyn Random,
    settings: DeviceSettings,
    now: UnixTime,
) -> Result<Started, TokenError> {
    if !client.grant_types.contains(&GrantType::DeviceCode) {
        return Err(TokenError::UnauthorizedClient(
            "the client may not use the device authorization grant".into(),
        ));
    }
    let target = target::decide(client, registry, req.resource.as_ref(), req.scope.as_ref())?;
    let device_code = DeviceCodeText::from_random(random_bytes::<32>(random));
    for _ in 0..USER_CODE_TRIES {
        let user_code = UserCode::generate(random);
        let record = DeviceAuthorization {
            client_id: client.id.clone(),
            user_code: user_code.clone(),
            scope: target.scope.clone(),
            resource: target.resource.clone(),
            expires_at: now.plus(settings.lifetime),
            interval: settings.interval,
            last_poll: None,
            views: 0,
            status: DeviceStatus::Pending,
        };
        match store.insert(device_code.digest(), record).await {
            Ok(()) => {
                return Ok(Started {
                    device_code,
                    user_code,
                    expires_in: settings.lifetime,
                    interval: settings.interval,
                });
            }
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(TokenError::TemporarilyUnavailable(
        "no free user code; try again".into(),
    ))
}

#[cfg(test)]
mod tests;
