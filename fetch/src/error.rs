//! [`FetchError`]: precise for logs, never carrying what was fetched.
//!
//! Callers facing a client map every variant to one coarse answer (`invalid_client`,
//! `invalid_client_metadata`) and log the variant: fetched bodies, status codes and timing are
//! never reflected to whoever supplied the URL (security-matrix §5 item 15). No variant holds any
//! part of a response body, so neither `Display` nor `Debug` can leak one.

use std::net::IpAddr;
use std::time::Duration;

/// Why a fetch was refused or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The URL is not one this fetcher will use; nothing was resolved or sent.
    #[error("refusing to fetch {url}: {reason}")]
    Refused {
        /// The URL.
        url: String,
        /// Why.
        reason: &'static str,
    },
    /// The host is, or resolved only to, addresses the fetcher may not connect to
    /// (security-matrix §5 items 3 and 4). Nothing was sent to `addr`.
    #[error("refusing to connect to {host} at {addr}: {reason}")]
    ForbiddenAddress {
        /// The host of the URL.
        host: String,
        /// The (first) address refused.
        addr: IpAddr,
        /// Why: the special-use block, or plain http to a non-loopback address.
        reason: String,
    },
    /// The answer's status was not 200; redirects (3xx) are never followed (security-matrix §5
    /// items 5 and 6).
    #[error("{}", status_message(*.0))]
    Status(u16),
    /// The document is larger than the policy allows, as declared by `Content-Length` or found
    /// while reading (security-matrix §5 item 7).
    #[error("the document is larger than {max_bytes} bytes")]
    TooLarge {
        /// The limit.
        max_bytes: usize,
    },
    /// The deadline covering resolution, connection, TLS and the whole answer passed
    /// (security-matrix §5 item 8).
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The answer is not of the media type asked for (JSON); holds the type it gave, cut short.
    #[error("answered with content type {0:?}, not JSON")]
    ContentType(String),
    /// Resolution, connection, TLS or HTTP failed.
    #[error("{0}")]
    Failed(String),
}

fn status_message(status: u16) -> String {
    if (300..400).contains(&status) {
        format!("answered with status {status}: redirects are not followed")
    } else {
        format!("answered with status {status}, not 200")
    }
}

impl FetchError {
    /// Whether the fetch was refused by the rules (the URL or the addresses it resolved to),
    /// rather than failing on the way.
    pub fn is_refused(&self) -> bool {
        matches!(self, Self::Refused { .. } | Self::ForbiddenAddress { .. })
    }
}
