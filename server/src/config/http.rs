//! `[http]`: request body size, connection timeouts and limits (both listeners).

use serde::Deserialize;

use super::{ConfigError, bad, duration_within, seconds};

/// The default largest request body, bytes.
pub const DEFAULT_MAX_BODY: usize = 64 * 1024;
/// The range of the largest request body, bytes.
pub const MAX_BODY_RANGE: std::ops::RangeInclusive<usize> = 1024..=1024 * 1024;

/// Timeouts and limits of each listener, all in seconds but the counts and the body size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// The largest request body accepted, bytes.
    pub max_body: usize,
    /// From the first byte of a request to the end of its headers.
    pub header_timeout: u64,
    /// From the end of the headers to the response: reading the body and handling it.
    pub request_timeout: u64,
    /// How long a connection may wait for its next request (and a fresh one for its first),
    /// or for the client to read a response, with nothing read.
    pub idle_timeout: u64,
    /// Open connections per listener; beyond it new connections wait in the backlog.
    pub max_connections: usize,
    /// Open connections one address (an IPv6 /64) may hold; beyond it its new connections are
    /// closed at once; 0 = no limit (behind a reverse proxy, every connection is the proxy's).
    pub max_connections_per_address: usize,
    /// How long a shutdown waits for requests in flight before closing what is left.
    pub shutdown_timeout: u64,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_body: DEFAULT_MAX_BODY,
            header_timeout: 10,
            request_timeout: 30,
            idle_timeout: 60,
            max_connections: 10_000,
            max_connections_per_address: 1_000,
            shutdown_timeout: 10,
        }
    }
}

/// The section as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHttp {
    max_body: Option<usize>,
    #[serde(default, deserialize_with = "seconds")]
    header_timeout: Option<u64>,
    #[serde(default, deserialize_with = "seconds")]
    request_timeout: Option<u64>,
    #[serde(default, deserialize_with = "seconds")]
    idle_timeout: Option<u64>,
    max_connections: Option<usize>,
    max_connections_per_address: Option<usize>,
    #[serde(default, deserialize_with = "seconds")]
    shutdown_timeout: Option<u64>,
}

impl RawHttp {
    pub(super) fn validate(&self) -> Result<HttpLimits, ConfigError> {
        let d = HttpLimits::default();
        let max_body = self.max_body.unwrap_or(d.max_body);
        if !MAX_BODY_RANGE.contains(&max_body) {
            return Err(bad(
                "http.max_body",
                format!(
                    "give {} to {} bytes (default {})",
                    MAX_BODY_RANGE.start(),
                    MAX_BODY_RANGE.end(),
                    d.max_body
                ),
            ));
        }
        let max_connections = self.max_connections.unwrap_or(d.max_connections);
        if !(1..=1_000_000).contains(&max_connections) {
            return Err(bad(
                "http.max_connections",
                format!("give 1 to 1000000 (default {})", d.max_connections),
            ));
        }
        Ok(HttpLimits {
            max_body,
            header_timeout: duration_within(
                "http.header_timeout",
                self.header_timeout,
                d.header_timeout,
                1..=300,
            )?,
            request_timeout: duration_within(
                "http.request_timeout",
                self.request_timeout,
                d.request_timeout,
                1..=600,
            )?,
            idle_timeout: duration_within(
                "http.idle_timeout",
                self.idle_timeout,
                d.idle_timeout,
                1..=3600,
            )?,
            max_connections,
            max_connections_per_address: self
                .max_connections_per_address
                .unwrap_or(d.max_connections_per_address),
            shutdown_timeout: duration_within(
                "http.shutdown_timeout",
                self.shutdown_timeout,
                d.shutdown_timeout,
                1..=600,
            )?,
        })
    }
}
