//! The server's [`ClientKeyVerifier`]: checks `private_key_jwt` client assertions (RFC 7523
//! §2.2) with the client's own public keys, through the validator ([`jwt::verify_with_only_key`],
//! ring): the key named by `kid` (or the only one), under that key's one algorithm; `none`,
//! HMAC, `jwk`, `jku`, `x5u`, `x5c` and `crit` cannot pass (the validator's header rules).
//!
//! Keys registered by value (`jwks`) were checked at registration and are used as stored. Keys
//! at a `jwks_uri` are fetched through the hardened fetcher (https, SSRF rules, size and time
//! limits) and kept per client ([`ClientKeysConfig`]):
//! - for the answer's `Cache-Control: max-age`, bounded by `jwks_min_ttl` and `jwks_max_ttl`;
//! - fetched again before that when an assertion names a `kid` not among them (key rotation),
//!   at most once per `refresh_interval` per client, so a flood of random `kid`s causes no
//!   fetch storm (security matrix §3.32);
//! - past their time, still used for `stale_if_error` while fetching fails (the client's
//!   server is down), never longer;
//! - one fetch at a time per client: callers that waited for another's fetch use its outcome.
//!
//! An assertion signed with a key whose algorithm is not among `client_keys.algorithms` is
//! refused (FAPI 2.0 allows ES256 and PS256 only).
//!
//! A fetched set is checked by the rules of registration ([`keys::parse_jwks_bytes`]): a set
//! that carries a private key is refused whole.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use gatehouse_core::assertion::Refusal;
use gatehouse_core::client::Client;
use gatehouse_core::client::auth::private_key_jwt::{
    ClientAssertionClaims, ClientKeyVerifier, MAX_ASSERTION_LEN,
};
use gatehouse_core::client::keys::{self, ClientKeys};
use gatehouse_core::ports::Clock;
use gatehouse_fetch::{FetchError, FetchPolicy, Fetcher};
use gatehouse_token::UnixTime;
use gatehouse_validator::{KeySnapshot, Rejection, jwt};
use url::Url;

use crate::config::ClientKeysConfig;

/// The `typ` a client assertion may carry: none, `JWT`, or the explicit type of
/// draft-ietf-oauth-rfc7523bis (`client-authentication+jwt`); never another kind of JWT (an
/// access token, a DPoP proof, a request object), RFC 8725 §3.11.
fn is_assertion_typ(typ: Option<&str>) -> bool {
    typ.is_none_or(|typ| {
        gatehouse_validator::jwt::media_type_is(typ, "JWT")
            || gatehouse_validator::jwt::media_type_is(typ, "client-authentication+jwt")
    })
}

/// The refusal for a validator rejection of an assertion.
fn refusal(r: Rejection) -> Refusal {
    crate::trust::refusal(r, "JWT")
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One client's fetched keys.
#[derive(Debug, Default)]
struct Fetched {
    /// The keys, when they were fetched and until when they are fresh.
    keys: Option<(Arc<KeySnapshot>, UnixTime, UnixTime)>,
    /// When a fetch was last tried (callers that waited for it use its outcome).
    tried: Option<UnixTime>,
    /// When an unknown `kid` last caused a fetch (for the refresh limit).
    refreshed: Option<UnixTime>,
}

/// One client's `jwks_uri` and what was fetched from it.
#[derive(Debug)]
struct Entry {
    uri: String,
    state: Mutex<Fetched>,
    /// One fetch at a time.
    fetching: tokio::sync::Mutex<()>,
}

/// Verifies client assertions with the clients' keys.
pub struct AssertionKeys {
    settings: ClientKeysConfig,
    fetcher: Fetcher,
    clock: Arc<dyn Clock>,
    entries: Mutex<HashMap<String, Arc<Entry>>>,
}

impl std::fmt::Debug for AssertionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssertionKeys")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The fetch policy of `settings`: strict, with its limits and allowed prefixes.
pub fn fetch_policy(settings: &ClientKeysConfig) -> FetchPolicy {
    FetchPolicy {
        timeout: std::time::Duration::from_secs(settings.fetch_timeout),
        max_bytes: settings.max_bytes,
        allow_http_loopback: false,
        allowed_prefixes: settings.allowed_prefixes.clone(),
    }
}

/// A fetcher for `settings`: its policy, and the public roots plus its extra CA files.
pub fn fetcher(settings: &ClientKeysConfig) -> Result<Fetcher, FetchError> {
    let fetcher = Fetcher::new(fetch_policy(settings))?;
    if settings.extra_ca_files.is_empty() {
        return Ok(fetcher);
    }
    let mut extra = Vec::new();
    for path in &settings.extra_ca_files {
        extra.extend(gatehouse_fetch::load_pem_certificates(path)?);
    }
    fetcher.with_extra_roots(extra)
}

impl AssertionKeys {
    /// A verifier under `settings`, fetching `jwks_uri`s with `fetcher`, timing its cache by
    /// `clock`.
    pub fn new(settings: ClientKeysConfig, fetcher: Fetcher, clock: Arc<dyn Clock>) -> Self {
        Self {
            settings,
            fetcher,
            clock,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The entry of `client`'s `uri`; a new one when the client has none or changed its URI.
    /// When the map is full, entries whose keys are past any use are dropped first, then (a
    /// flood of clients) the one fetched longest ago: its keys are fetched again on demand,
    /// and every other client keeps its own.
    fn entry(&self, client: &Client, uri: &str) -> Arc<Entry> {
        let mut entries = lock(&self.entries);
        if let Some(e) = entries.get(client.id.as_str()).filter(|e| e.uri == uri) {
            return e.clone();
        }
        if entries.len() >= self.settings.max_entries {
            let now = self.clock.now();
            let stale = self.settings.stale_if_error;
            entries.retain(|_, e| {
                lock(&e.state)
                    .keys
                    .as_ref()
                    .is_some_and(|(_, _, fresh)| fresh.plus(stale) > now)
            });
            if entries.len() >= self.settings.max_entries {
                // Never fetched sorts first (`None`), then the oldest fetch.
                let oldest = entries
                    .iter()
                    .min_by_key(|(_, e)| lock(&e.state).keys.as_ref().map(|(_, _, f)| *f))
                    .map(|(id, _)| id.clone());
                if let Some(id) = oldest {
                    entries.remove(&id);
                }
            }
        }
        let entry = Arc::new(Entry {
            uri: uri.to_owned(),
            state: Mutex::new(Fetched::default()),
            fetching: tokio::sync::Mutex::new(()),
        });
        entries.insert(client.id.to_string(), entry.clone());
        entry
    }

    /// Fetches `entry`'s keys now, unless a fetch (successful or not) started at or after
    /// `since` while this one waited its turn: callers waiting on one down server do not fetch
    /// one after another.
    async fn fetch(&self, entry: &Entry, since: UnixTime) -> Result<(), Refusal> {
        let _one = entry.fetching.lock().await;
        if lock(&entry.state).tried.is_some_and(|t| t > since) {
            return Ok(());
        }
        let now = self.clock.now();
        lock(&entry.state).tried = Some(now);
        let url = Url::parse(&entry.uri)
            .map_err(|_| Refusal::Unavailable("the client's jwks_uri is not a URL".into()))?;
        let fetched =
            self.fetcher.get_json(&url).await.map_err(|e| {
                Refusal::Unavailable(format!("fetching the client's jwks_uri: {e}"))
            })?;
        let set = keys::parse_jwks_bytes(&fetched.body)
            .map_err(|e| Refusal::Unavailable(format!("the client's jwks_uri: {e}")))?;
        let snapshot = KeySnapshot::from_jwks(&set)
            .map_err(|e| Refusal::Unavailable(format!("the client's jwks_uri: {e}")))?;
        let ttl = fetched
            .caching
            .max_age
            .filter(|_| !fetched.caching.no_store)
            .map_or(self.settings.jwks_min_ttl, |d| d.as_secs())
            .clamp(self.settings.jwks_min_ttl, self.settings.jwks_max_ttl);
        lock(&entry.state).keys = Some((Arc::new(snapshot), now, now.plus(ttl)));
        Ok(())
    }

    /// The keys of `entry`: fresh ones from the cache, else fetched; old ones while fetching
    /// fails, up to `stale_if_error` past their time.
    async fn keys(&self, entry: &Entry) -> Result<Arc<KeySnapshot>, Refusal> {
        let now = self.clock.now();
        let current = lock(&entry.state).keys.clone();
        match current {
            Some((keys, _, fresh)) if now < fresh => Ok(keys),
            _ => {
                let fetched = self.fetch(entry, now).await;
                let state = lock(&entry.state);
                match (&state.keys, fetched) {
                    (Some((keys, _, fresh)), _) if now < *fresh => Ok(keys.clone()),
                    (Some((keys, _, fresh)), Err(e))
                        if now < fresh.plus(self.settings.stale_if_error) =>
                    {
                        tracing::warn!(error = %e, "refreshing a client's keys failed; using the ones fetched before");
                        Ok(keys.clone())
                    }
                    (_, Err(e)) => Err(e),
                    (_, Ok(())) => Err(Refusal::Unavailable(
                        "the client's keys could not be fetched".into(),
                    )),
                }
            }
        }
    }

    /// Whether an unknown `kid` may fetch `entry`'s keys again now: not within
    /// `refresh_interval` of the last time one did. Taking the chance is atomic: of many
    /// concurrent assertions with unknown `kid`s, one fetches.
    fn may_refresh(&self, entry: &Entry) -> bool {
        let now = self.clock.now();
        let mut state = lock(&entry.state);
        if state
            .refreshed
            .is_some_and(|t| t.plus(self.settings.refresh_interval) > now)
        {
            return false;
        }
        state.refreshed = Some(now);
        true
    }

    /// Verifies `assertion` against the keys at `uri`, fetching them again (rate-limited) when
    /// it names a `kid` not among them.
    async fn verify_fetched(
        &self,
        client: &Client,
        uri: &str,
        assertion: &str,
    ) -> Result<ClientAssertionClaims, Refusal> {
        let entry = self.entry(client, uri);
        let start = self.clock.now();
        let fetched_at = |e: &Entry| lock(&e.state).keys.as_ref().map(|(_, at, _)| *at);
        let before = fetched_at(&entry);
        let keys = self.keys(&entry).await?;
        // Keys fetched by this very call are as new as they get: no refresh for them.
        let just_fetched = fetched_at(&entry) != before;
        let verified =
            jwt::verify_with_only_key(&keys, assertion, MAX_ASSERTION_LEN, is_assertion_typ);
        match verified {
            Err(Rejection::UnknownKey) if !just_fetched && self.may_refresh(&entry) => {
                tracing::debug!(client_id = %client.id, "an assertion names an unknown kid: fetching the client's keys again");
                self.fetch(&entry, start).await?;
                let keys = self.keys(&entry).await?;
                let verified = jwt::verify_with_only_key(
                    &keys,
                    assertion,
                    MAX_ASSERTION_LEN,
                    is_assertion_typ,
                );
                self.allowed(&keys, verified)
            }
            other => self.allowed(&keys, other),
        }
    }

    /// The claims of a verified assertion, if the key's algorithm is allowed here.
    fn allowed(
        &self,
        keys: &KeySnapshot,
        verified: Result<(ClientAssertionClaims, String), Rejection>,
    ) -> Result<ClientAssertionClaims, Refusal> {
        let (claims, kid) = verified.map_err(refusal)?;
        match keys.get(&kid) {
            Some(key) if self.settings.algorithms.contains(&key.algorithm()) => Ok(claims),
            _ => Err(Refusal::Algorithm),
        }
    }
}

#[async_trait]
impl ClientKeyVerifier for AssertionKeys {
    async fn client_assertion(
        &self,
        client: &Client,
        keys: &ClientKeys,
        assertion: &str,
    ) -> Result<ClientAssertionClaims, Refusal> {
        match keys {
            ClientKeys::Jwks(set) => {
                // Checked at registration; a failure here is a stored record gone bad.
                let keys = KeySnapshot::from_jwks(set)
                    .map_err(|e| Refusal::Unavailable(format!("the client's jwks: {e}")))?;
                let verified = jwt::verify_with_only_key(
                    &keys,
                    assertion,
                    MAX_ASSERTION_LEN,
                    is_assertion_typ,
                );
                self.allowed(&keys, verified)
            }
            ClientKeys::Uri(uri) => self.verify_fetched(client, uri, assertion).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assertion_types() {
        for ok in [
            None,
            Some("JWT"),
            Some("jwt"),
            Some("application/jwt"),
            Some("client-authentication+jwt"),
        ] {
            assert!(is_assertion_typ(ok), "{ok:?}");
        }
        for bad in [
            "at+jwt",
            "dpop+jwt",
            "oauth-authz-req+jwt",
            "",
            "JWT ",
            "logout+jwt",
        ] {
            assert!(!is_assertion_typ(Some(bad)), "{bad}");
        }
    }
}
