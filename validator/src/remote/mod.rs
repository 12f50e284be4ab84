//! Validation inside a resource server (feature `remote`): [`RemoteValidator`] discovers an
//! issuer's metadata (RFC 8414) and JWKS through the hardened [`fetch::Fetcher`] (the
//! `gatehouse-fetch` crate: https only, special-use addresses refused, no redirects, size and time
//! limits), refreshes the keys periodically and, at most once per interval, when a token names an
//! unknown `kid`; and [`layer::BearerAuthLayer`] guards a tower service with it.
//!
//! This is the edge where the wall clock enters the crate; everything below takes time as a
//! parameter.

pub mod layer;

/// The hardened fetcher every document is fetched through: the `gatehouse-fetch` crate.
pub use gatehouse_fetch as fetch;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gatehouse_token::{AccessTokenClaims, UnixTime};
use serde::Deserialize;
use url::Url;

use crate::keys::KeySnapshot;
use crate::{Policy, Rejection, Validator};
use fetch::{FetchError, FetchPolicy, Fetcher};

/// How to find and trust the authorization server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteSettings {
    /// The issuer identifier, exactly as the authorization server publishes it.
    pub issuer: String,
    /// This resource server's canonical resource identifier, required in `aud`.
    pub resource: String,
    /// What may be fetched, how much and how fast: https to public addresses only by default;
    /// `fetch.allow_http_loopback` opens loopback (also over plain http) for development.
    pub fetch: FetchPolicy,
    /// How often the JWKS is fetched again in the background.
    pub refresh_every: Duration,
    /// The least time between two fetches caused by unknown `kid`s (a flood of random `kid`s
    /// causes no fetch storm).
    pub unknown_kid_interval: Duration,
    /// Clock skew tolerated, seconds.
    pub leeway: u64,
    /// Slots in the validated-token cache.
    pub cache_size: usize,
}

impl RemoteSettings {
    /// Defaults: https only, refresh every 5 minutes, unknown-`kid` refetch at most every 30 s.
    pub fn new(issuer: impl Into<String>, resource: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            resource: resource.into(),
            fetch: FetchPolicy::default(),
            refresh_every: Duration::from_secs(300),
            unknown_kid_interval: Duration::from_secs(30),
            leeway: Policy::DEFAULT_LEEWAY,
            cache_size: Policy::DEFAULT_CACHE_SIZE,
        }
    }
}

/// Why discovery or a refresh failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemoteError {
    /// A document could not be fetched.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The issuer is not a URL.
    #[error("the issuer {0:?} is not an absolute URL")]
    Issuer(String),
    /// A document is not what it must be.
    #[error("{document}: {reason}")]
    Document {
        /// Which document.
        document: &'static str,
        /// What is wrong.
        reason: String,
    },
}

fn bad(document: &'static str, reason: impl Into<String>) -> RemoteError {
    RemoteError::Document {
        document,
        reason: reason.into(),
    }
}

/// The RFC 8414 §3.1 metadata URL: the well-known segment goes between host and path.
pub fn metadata_url(issuer: &str) -> Result<Url, RemoteError> {
    let mut url = Url::parse(issuer).map_err(|_| RemoteError::Issuer(issuer.to_owned()))?;
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&format!("/.well-known/oauth-authorization-server{path}"));
    Ok(url)
}

#[derive(Deserialize)]
struct Metadata {
    issuer: String,
    jwks_uri: String,
}

/// Validates an authorization server's access tokens inside a resource server.
#[derive(Debug)]
pub struct RemoteValidator {
    settings: RemoteSettings,
    fetcher: Fetcher,
    jwks_uri: Url,
    validator: Validator,
    last_fetch: Mutex<Option<Instant>>,
    fetching: tokio::sync::Mutex<()>,
}

/// The monotonic clock, for rate limits: read only here and in [`now`].
#[expect(
    clippy::disallowed_methods,
    reason = "the one place this crate reads a clock"
)]
fn monotonic() -> Instant {
    Instant::now()
}

/// Now, from the wall clock: the one place this crate reads it.
#[expect(
    clippy::disallowed_methods,
    reason = "the one place this crate reads a clock"
)]
pub(crate) fn now() -> UnixTime {
    UnixTime(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    )
}

impl RemoteValidator {
    /// Fetches the issuer's metadata (its `issuer` must be byte-identical, RFC 8414 §3.3) and
    /// JWKS, and returns a validator for its tokens.
    pub async fn discover(settings: RemoteSettings) -> Result<Arc<Self>, RemoteError> {
        let fetcher = Fetcher::new(settings.fetch.clone())?;
        let body = fetcher.get(&metadata_url(&settings.issuer)?).await?;
        let metadata: Metadata = serde_json::from_slice(&body)
            .map_err(|e| bad("authorization server metadata", e.to_string()))?;
        if metadata.issuer != settings.issuer {
            return Err(bad(
                "authorization server metadata",
                format!(
                    "issuer {:?} is not {:?} (RFC 8414 §3.3)",
                    metadata.issuer, settings.issuer
                ),
            ));
        }
        let jwks_uri = Url::parse(&metadata.jwks_uri)
            .map_err(|e| bad("authorization server metadata", format!("jwks_uri: {e}")))?;
        fetcher.check(&jwks_uri)?;
        let keys = KeySnapshot::parse_jwks(&fetcher.get(&jwks_uri).await?)
            .map_err(|e| bad("JWKS", e.to_string()))?;
        let policy = Policy {
            issuer: settings.issuer.clone(),
            leeway: settings.leeway,
            max_token_len: Policy::DEFAULT_MAX_TOKEN_LEN,
            cache_size: settings.cache_size,
        };
        Ok(Arc::new(Self {
            validator: Validator::new(policy, keys),
            settings,
            fetcher,
            jwks_uri,
            last_fetch: Mutex::new(Some(monotonic())),
            fetching: tokio::sync::Mutex::new(()),
        }))
    }

    /// The settings.
    pub fn settings(&self) -> &RemoteSettings {
        &self.settings
    }

    /// The underlying validator (its revocation set can be fed by events).
    pub fn validator(&self) -> &Validator {
        &self.validator
    }

    /// Fetches the JWKS again and swaps the keys in.
    pub async fn refresh(&self) -> Result<(), RemoteError> {
        let _one_at_a_time = self.fetching.lock().await;
        *self
            .last_fetch
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(monotonic());
        let keys = KeySnapshot::parse_jwks(&self.fetcher.get(&self.jwks_uri).await?)
            .map_err(|e| bad("JWKS", e.to_string()))?;
        self.validator.swap_keys(keys);
        Ok(())
    }

    /// Refreshes the keys every `refresh_every` until the returned task is aborted.
    pub fn spawn_refresh(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(this.settings.refresh_every);
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(e) = this.refresh().await {
                    tracing::warn!(error = %e, "JWKS refresh failed; keeping the current keys");
                }
            }
        })
    }

    /// Validates an access token for this resource: signature, type, issuer, this resource in
    /// `aud`, time, revocation. An unknown `kid` triggers one JWKS fetch, at most once per
    /// `unknown_kid_interval`.
    pub async fn validate(&self, token: &str) -> Result<Arc<AccessTokenClaims>, Rejection> {
        let audience = Some(self.settings.resource.as_str());
        match self.validator.validate_jwt(token, now(), audience) {
            Err(Rejection::UnknownKey) if self.may_refetch() => {
                if let Err(e) = self.refresh().await {
                    tracing::warn!(error = %e, "JWKS fetch for an unknown kid failed");
                }
                self.validator.validate_jwt(token, now(), audience)
            }
            other => other,
        }
    }

    fn may_refetch(&self) -> bool {
        let last = self
            .last_fetch
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        last.is_none_or(|t| monotonic().duration_since(t) >= self.settings.unknown_kid_interval)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_url_inserts_the_well_known_segment() {
        assert_eq!(
            metadata_url("https://as.example").unwrap().as_str(),
            "https://as.example/.well-known/oauth-authorization-server"
        );
        assert_eq!(
            metadata_url("https://as.example/tenant").unwrap().as_str(),
            "https://as.example/.well-known/oauth-authorization-server/tenant"
        );
    }

    /// Refused by the fetcher's rules before any I/O: plain http without the development
    /// exception, and a special-use address.
    #[tokio::test]
    async fn discovery_goes_through_the_hardened_fetcher() {
        let http = RemoteSettings::new("http://127.0.0.1:9/", "https://rs.example");
        let err = RemoteValidator::discover(http).await.unwrap_err();
        assert!(
            matches!(err, RemoteError::Fetch(FetchError::Refused { .. })),
            "{err}"
        );
        let metadata_service = RemoteSettings::new("https://169.254.169.254", "https://rs.example");
        let err = RemoteValidator::discover(metadata_service)
            .await
            .unwrap_err();
        assert!(
            matches!(err, RemoteError::Fetch(FetchError::ForbiddenAddress { .. })),
            "{err}"
        );
        let mut dev = RemoteSettings::new("http://10.0.0.1", "https://rs.example");
        dev.fetch.allow_http_loopback = true;
        let err = RemoteValidator::discover(dev).await.unwrap_err();
        assert!(
            matches!(err, RemoteError::Fetch(FetchError::Refused { .. })),
            "{err}"
        );
    }
}
