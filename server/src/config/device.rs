//! `[device]`: the device authorization grant (RFC 8628): how long codes live, how often a
//! device may poll, which clients may use it, and the limits on asking for codes and on
//! guessing them.

use serde::Deserialize;

use super::{ConfigError, bad, duration_within, seconds};

/// The default lifetime of a device code and its user code: ten minutes.
pub const DEFAULT_LIFETIME: u64 = 600;
/// The default polling interval (RFC 8628 §3.2: 5 s when the server names none).
pub const DEFAULT_INTERVAL: u64 = 5;
/// The default number of device authorizations one client may start per minute.
pub const DEFAULT_PER_CLIENT_PER_MINUTE: u32 = 30;
/// The default number of device authorizations one address may start per minute.
pub const DEFAULT_PER_ADDRESS_PER_MINUTE: u32 = 30;
/// The default number of wrong user codes one address or browser may enter per hour
/// (RFC 8628 §5.1: about 5 for 8 base-20 characters).
pub const DEFAULT_WRONG_CODES_PER_HOUR: u32 = 5;
/// The default number of wrong user codes one signed-in account may enter per hour, from any
/// number of addresses and browsers (RFC 8628 §5.1: the person must be signed in to enter one).
pub const DEFAULT_WRONG_CODES_PER_ACCOUNT_PER_HOUR: u32 = 5;
/// The default number of wrong user codes the whole server accepts per hour before the
/// verification page pauses for everyone: a guesser spread over many addresses.
pub const DEFAULT_WRONG_CODES_PER_HOUR_GLOBAL: u32 = 1_000;

/// The device grant's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceConfig {
    /// Whether `/device_authorization` and the verification page are served.
    pub enabled: bool,
    /// Seconds a device code lives.
    pub lifetime: u64,
    /// Seconds between polls.
    pub interval: u64,
    /// Whether dynamically registered clients may register the device grant (public ones
    /// included); operator-registered clients may always be given it.
    pub dynamic_clients: bool,
    /// Device authorizations per client per minute.
    pub per_client_per_minute: u32,
    /// Device authorizations per address per minute.
    pub per_address_per_minute: u32,
    /// Wrong user codes per address and per browser per hour.
    pub wrong_codes_per_hour: u32,
    /// Wrong user codes per signed-in account per hour.
    pub wrong_codes_per_account_per_hour: u32,
    /// Wrong user codes per hour, all addresses together.
    pub wrong_codes_per_hour_global: u32,
}

/// The section as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDevice {
    enabled: Option<bool>,
    #[serde(default, deserialize_with = "seconds")]
    lifetime: Option<u64>,
    #[serde(default, deserialize_with = "seconds")]
    interval: Option<u64>,
    dynamic_clients: Option<bool>,
    per_client_per_minute: Option<u32>,
    per_address_per_minute: Option<u32>,
    wrong_codes_per_hour: Option<u32>,
    wrong_codes_per_account_per_hour: Option<u32>,
    wrong_codes_per_hour_global: Option<u32>,
}

fn count(field: &str, value: Option<u32>, default: u32) -> Result<u32, ConfigError> {
    match value.unwrap_or(default) {
        0 => Err(bad(field, format!("give at least 1 (default {default})"))),
        n => Ok(n),
    }
}

impl RawDevice {
    pub(super) fn validate(self) -> Result<DeviceConfig, ConfigError> {
        let lifetime = duration_within(
            "device.lifetime",
            self.lifetime,
            DEFAULT_LIFETIME,
            1..=3_600,
        )?;
        let interval = duration_within("device.interval", self.interval, DEFAULT_INTERVAL, 1..=60)?;
        if interval >= lifetime {
            return Err(bad(
                "device.interval",
                "must be shorter than device.lifetime, or no device could poll",
            ));
        }
        Ok(DeviceConfig {
            enabled: self.enabled.unwrap_or(true),
            lifetime,
            interval,
            dynamic_clients: self.dynamic_clients.unwrap_or(false),
            per_client_per_minute: count(
                "device.per_client_per_minute",
                self.per_client_per_minute,
                DEFAULT_PER_CLIENT_PER_MINUTE,
            )?,
            per_address_per_minute: count(
                "device.per_address_per_minute",
                self.per_address_per_minute,
                DEFAULT_PER_ADDRESS_PER_MINUTE,
            )?,
            wrong_codes_per_hour: count(
                "device.wrong_codes_per_hour",
                self.wrong_codes_per_hour,
                DEFAULT_WRONG_CODES_PER_HOUR,
            )?,
            wrong_codes_per_account_per_hour: count(
                "device.wrong_codes_per_account_per_hour",
                self.wrong_codes_per_account_per_hour,
                DEFAULT_WRONG_CODES_PER_ACCOUNT_PER_HOUR,
            )?,
            wrong_codes_per_hour_global: count(
                "device.wrong_codes_per_hour_global",
                self.wrong_codes_per_hour_global,
                DEFAULT_WRONG_CODES_PER_HOUR_GLOBAL,
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<DeviceConfig, ConfigError> {
        toml::from_str::<RawDevice>(text).unwrap().validate()
    }

    #[test]
    fn defaults_and_limits() {
        let d = parse("").unwrap();
        assert_eq!(
            (d.enabled, d.lifetime, d.interval, d.dynamic_clients),
            (true, 600, 5, false)
        );
        assert_eq!(d.wrong_codes_per_hour, 5);
        assert_eq!(d.wrong_codes_per_account_per_hour, 5);
        let short = parse("lifetime = \"3s\"\ninterval = 1\ndynamic_clients = true").unwrap();
        assert_eq!(
            (short.lifetime, short.interval, short.dynamic_clients),
            (3, 1, true)
        );
        assert_eq!(parse("interval = 0").unwrap_err().field, "device.interval");
        assert_eq!(
            parse("lifetime = \"2h\"").unwrap_err().field,
            "device.lifetime"
        );
        assert_eq!(
            parse("lifetime = 5\ninterval = 5").unwrap_err().field,
            "device.interval"
        );
        assert_eq!(
            parse("wrong_codes_per_hour = 0").unwrap_err().field,
            "device.wrong_codes_per_hour"
        );
        assert!(toml::from_str::<RawDevice>("nope = 1").is_err());
    }
}
