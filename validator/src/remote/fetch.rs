//! The one way this crate fetches anything (authorization server metadata, JWKS): https only
//! (plain http only to loopback, and only when explicitly allowed for development), no
//! redirects, a time limit, and a size limit enforced while reading, not after.

use std::time::Duration;

use url::{Host, Url};

/// Why a fetch was refused or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The URL is not one this fetcher will use.
    #[error("refusing to fetch {url}: {reason}")]
    Refused {
        /// The URL.
        url: String,
        /// Why.
        reason: &'static str,
    },
    /// The request failed or the answer was not usable.
    #[error("fetching {url} failed: {reason}")]
    Failed {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
}

/// Limits of the fetcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchLimits {
    /// The whole request, connection included.
    pub timeout: Duration,
    /// The largest document accepted.
    pub max_bytes: usize,
    /// Whether `http://` is allowed to loopback addresses (development only).
    pub allow_http_loopback: bool,
}

impl Default for FetchLimits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            max_bytes: 64 * 1024,
            allow_http_loopback: false,
        }
    }
}

/// A hardened HTTP client for small JSON documents.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    limits: FetchLimits,
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

impl Fetcher {
    /// A fetcher with `limits`.
    pub fn new(limits: FetchLimits) -> Result<Self, FetchError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(limits.timeout)
            .connect_timeout(limits.timeout)
            .build()
            .map_err(|e| FetchError::Failed {
                url: String::new(),
                reason: e.to_string(),
            })?;
        Ok(Self { client, limits })
    }

    /// Whether this fetcher may fetch `url` at all.
    pub fn check(&self, url: &Url) -> Result<(), FetchError> {
        let refuse = |reason| FetchError::Refused {
            url: url.to_string(),
            reason,
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(refuse("credentials in the URL"));
        }
        match url.scheme() {
            "https" => Ok(()),
            "http" if self.limits.allow_http_loopback && is_loopback(url) => Ok(()),
            "http" => Err(refuse(
                "plain http (allowed only to loopback, in development)",
            )),
            _ => Err(refuse("not an https URL")),
        }
    }

    /// GETs `url` and returns its body, at most `max_bytes` of it, from a 200 answer.
    pub async fn get(&self, url: &Url) -> Result<Vec<u8>, FetchError> {
        self.check(url)?;
        let failed = |reason: String| FetchError::Failed {
            url: url.to_string(),
            reason,
        };
        let timeout = self.limits.timeout;
        let http_error = |e: reqwest::Error| {
            if e.is_timeout() {
                failed(format!("timed out after {timeout:?}"))
            } else {
                failed(e.to_string())
            }
        };
        let mut response = self
            .client
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(http_error)?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(failed(format!("status {}", response.status())));
        }
        if response
            .content_length()
            .is_some_and(|n| n > self.limits.max_bytes as u64)
        {
            return Err(failed(format!(
                "larger than {} bytes",
                self.limits.max_bytes
            )));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(http_error)? {
            if body.len() + chunk.len() > self.limits.max_bytes {
                return Err(failed(format!(
                    "larger than {} bytes",
                    self.limits.max_bytes
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_allowed_loopback_http() {
        let strict = Fetcher::new(FetchLimits::default()).unwrap();
        let dev = Fetcher::new(FetchLimits {
            allow_http_loopback: true,
            ..FetchLimits::default()
        })
        .unwrap();
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(strict.check(&u("https://as.example/jwks")).is_ok());
        assert!(strict.check(&u("http://127.0.0.1:8080/jwks")).is_err());
        assert!(dev.check(&u("http://127.0.0.1:8080/jwks")).is_ok());
        assert!(dev.check(&u("http://[::1]:8080/jwks")).is_ok());
        assert!(dev.check(&u("http://localhost:8080/jwks")).is_ok());
        assert!(
            dev.check(&u("http://10.0.0.1/jwks")).is_err(),
            "private but not loopback"
        );
        assert!(dev.check(&u("http://as.example/jwks")).is_err());
        assert!(dev.check(&u("file:///etc/passwd")).is_err());
        assert!(strict.check(&u("https://user:pw@as.example/jwks")).is_err());
    }
}
