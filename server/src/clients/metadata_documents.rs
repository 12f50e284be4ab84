//! [`MetadataDocuments`]: the clients named by a Client ID Metadata Document URL, fetched
//! through the hardened fetcher and cached
//! (draft-ietf-oauth-client-id-metadata-document §4, §4.4, §6.5–6.6; security-matrix §5).
//!
//! - The cache is keyed by the URL. A document is kept as long as its answer's caching headers
//!   say, within `[min_ttl, max_ttl]` (`no-store`, and an answer that says nothing, get
//!   `min_ttl`) (CIMD §4.4).
//! - A failure (refused, unreachable, not a valid document) is kept for `failure_ttl`, so that
//!   a bad URL cannot make the server fetch on every request. (The draft says errors SHOULD
//!   NOT be cached, meaning for long: a short, bounded negative cache is the compromise.)
//! - At most `max_entries` entries: the expired go first, then the one expiring soonest.
//! - Single flight: concurrent requests for one URL share one fetch (security-matrix §5
//!   item 12).
//! - Per-domain budget: at most `per_domain_per_minute` fetches per host (item 13); past it a
//!   request fails without fetching, remembered until the budget refills.
//! - Trust policy: `open`, `allow` or `deny` a list of domains (CIMD §6.8), judged before any
//!   fetch.
//!
//! No lock is held across a fetch: the cache and the budget sit behind short `std` mutexes;
//! the single flight is a `tokio::sync::OnceCell` per URL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use gatehouse_core::client::Client;
use gatehouse_core::client::metadata_document::{self, DocumentUrl};
use gatehouse_core::ports::Clock;
use gatehouse_fetch::{FetchError, FetchPolicy, Fetcher};
use gatehouse_token::UnixTime;
use tokio::sync::OnceCell;

use crate::config::MetadataDocumentsConfig;

/// Why a document URL names no usable client, in words for the error page (the detail for
/// the log is logged where it happens, never shown: security-matrix §5 item 15).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unusable(pub Arc<str>);

fn unusable(message: impl Into<String>) -> Unusable {
    Unusable(Arc::from(message.into()))
}

type Outcome = Result<Arc<Client>, Unusable>;

#[derive(Debug, Clone)]
struct Entry {
    outcome: Outcome,
    /// Until when it is used without fetching again.
    until: UnixTime,
    /// Until when a good document may still be used while it cannot be fetched again (its
    /// freshness plus `max_ttl`; a failure's is its `until`).
    stale_until: UnixTime,
}

/// The per-domain fetch budget: fetches in the current minute.
#[derive(Debug, Clone, Copy)]
struct Window {
    started: UnixTime,
    count: u32,
}

/// The resolver of metadata-document clients. Shared (`Arc`) by every endpoint.
pub struct MetadataDocuments {
    settings: MetadataDocumentsConfig,
    fetcher: Fetcher,
    clock: Arc<dyn Clock>,
    cache: Mutex<HashMap<String, Entry>>,
    in_flight: InFlight,
    budget: Mutex<HashMap<String, Window>>,
}

impl std::fmt::Debug for MetadataDocuments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetadataDocuments")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The fetch policy of `settings`: strict, with its limits and allowed prefixes.
pub fn fetch_policy(settings: &MetadataDocumentsConfig) -> FetchPolicy {
    FetchPolicy {
        timeout: Duration::from_secs(settings.fetch_timeout),
        max_bytes: settings.max_bytes,
        allow_http_loopback: false,
        allowed_prefixes: settings.allowed_prefixes.clone(),
    }
}

/// A fetcher for `settings`: its policy, and the public roots plus its extra CA files.
pub fn fetcher(settings: &MetadataDocumentsConfig) -> Result<Fetcher, FetchError> {
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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

type InFlight = Mutex<HashMap<String, Arc<OnceCell<Outcome>>>>;

/// A caller's share in the one fetch of a URL. The last step of every caller, finished or
/// cancelled (a browser that went away), is to take the URL's entry out of the map if it is
/// still this fetch's, so the map holds only fetches under way.
struct Flight<'a> {
    map: &'a InFlight,
    key: &'a str,
    cell: Arc<OnceCell<Outcome>>,
}

impl<'a> Flight<'a> {
    fn join(map: &'a InFlight, key: &'a str) -> Self {
        let cell = Arc::clone(lock(map).entry(key.to_owned()).or_default());
        Self { map, key, cell }
    }
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        let mut map = lock(self.map);
        if map
            .get(self.key)
            .is_some_and(|c| Arc::ptr_eq(c, &self.cell))
        {
            map.remove(self.key);
        }
    }
}

impl MetadataDocuments {
    /// A resolver under `settings`, fetching with `fetcher` (see [`fetcher`]; tests inject
    /// their resolver and connector into it), timing its cache by `clock`.
    pub fn new(settings: MetadataDocumentsConfig, fetcher: Fetcher, clock: Arc<dyn Clock>) -> Self {
        Self {
            settings,
            fetcher,
            clock,
            cache: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(HashMap::new()),
            budget: Mutex::new(HashMap::new()),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &MetadataDocumentsConfig {
        &self.settings
    }

    /// The client at the document URL `client_id`: from the cache while it lasts, else
    /// fetched (once for all concurrent callers), validated and cached.
    pub async fn resolve(&self, client_id: &str) -> Result<Arc<Client>, Unusable> {
        let url = DocumentUrl::parse(client_id).map_err(|e| unusable(e.to_string()))?;
        if !self.settings.trusts(url.host()) {
            return Err(unusable(format!(
                "This server does not accept applications described at {}.",
                url.host()
            )));
        }
        if let Some(outcome) = self.cached(client_id) {
            return outcome;
        }
        let flight = Flight::join(&self.in_flight, client_id);
        flight
            .cell
            .get_or_init(|| self.fetch_and_cache(&url))
            .await
            .clone()
    }

    /// The cached outcome for `client_id` while it lasts.
    fn cached(&self, client_id: &str) -> Option<Outcome> {
        let now = self.clock.now();
        lock(&self.cache)
            .get(client_id)
            .filter(|e| e.until > now)
            .map(|e| e.outcome.clone())
    }

    /// Whether `client_id` is not known to be gone, without fetching (introspection asks for
    /// every token): false only while a failure is cached for it, or for an id that is no
    /// document URL at all. A document evicted from the cache, or not yet fetched since a
    /// restart, still counts (a review found its live tokens turned inactive when the cache was
    /// pushed full): tokens name only ids that were valid documents when they were issued.
    pub fn contains(&self, client_id: &str) -> bool {
        // The cache first: an id held there was parsed when it was fetched, so the usual case
        // costs one map lookup, no URL parsing.
        if let Some(entry) = lock(&self.cache).get(client_id) {
            return entry.outcome.is_ok();
        }
        DocumentUrl::parse(client_id).is_ok()
    }

    /// Forgets `client_id`'s document, as an operator's deletion does: for `max_ttl` the id is
    /// refused (and, at introspection, gone, so its tokens die), then fetched anew when used.
    /// Whether it held a client.
    pub fn forget(&self, client_id: &str) -> bool {
        let tombstone = Entry {
            outcome: Err(unusable(
                "this application was removed by the server's operator",
            )),
            until: self.clock.now().plus(self.settings.max_ttl),
            stale_until: self.clock.now().plus(self.settings.max_ttl),
        };
        lock(&self.cache)
            .insert(client_id.to_owned(), tombstone)
            .is_some_and(|e| e.outcome.is_ok())
    }

    /// The last good client of `client_id` while it may be used stale (never one an operator
    /// removed: that is a failure entry).
    fn stale(&self, client_id: &str) -> Option<Arc<Client>> {
        let now = self.clock.now();
        lock(&self.cache)
            .get(client_id)
            .filter(|e| now < e.stale_until)
            .and_then(|e| e.outcome.as_ref().ok().cloned())
    }

    /// How many fetches are under way (one per URL).
    pub fn fetches_under_way(&self) -> usize {
        lock(&self.in_flight).len()
    }

    /// The reason `client_id` is unusable, if a failure for it is cached (for an error page).
    pub fn failure(&self, client_id: &str) -> Option<Unusable> {
        match self.cached(client_id) {
            Some(Err(reason)) => Some(reason),
            _ => None,
        }
    }

    async fn fetch_and_cache(&self, url: &DocumentUrl) -> Outcome {
        // Another caller may have finished the fetch between our cache check and our turn.
        if let Some(outcome) = self.cached(url.as_str()) {
            return outcome;
        }
        if let Err(refill) = self.take_budget(url.host()) {
            tracing::warn!(client_id = %url, "client metadata document not fetched: the domain's fetch budget is spent");
            // A document that was good stays in use until it can be fetched again: spraying
            // bogus paths on a client's domain must not take the real client down (stale if
            // error, RFC 5861 §4).
            if let Some(client) = self.stale(url.as_str()) {
                self.insert(url.as_str(), Ok(client.clone()), refill);
                return Ok(client);
            }
            let refused = Err(unusable(format!(
                "Too many applications from {} were looked up just now; try again in a minute.",
                url.host()
            )));
            // Remembered until the budget refills: nothing would be fetched before anyway.
            self.insert(url.as_str(), refused.clone(), refill);
            return refused;
        }
        let now = self.clock.now();
        let (outcome, ttl) = match self.fetcher.get_json(url.url()).await {
            Ok(fetched) => match metadata_document::client(url, &fetched.body, now) {
                Ok(client) => {
                    let ttl = self.ttl(&fetched.caching);
                    tracing::info!(client_id = %url, ttl, "client metadata document fetched");
                    (Ok(Arc::new(client)), ttl)
                }
                Err(e) => {
                    tracing::warn!(client_id = %url, error = %e, "client metadata document refused");
                    (Err(unusable(e.to_string())), self.settings.failure_ttl)
                }
            },
            // The host unreachable or answering badly: a document that was good stays in use a
            // little longer (stale if error); a document that is now invalid does not.
            Err(e) if self.stale(url.as_str()).is_some() => {
                tracing::warn!(client_id = %url, error = %e, "client metadata document refetch failed; the last good one stays in use for now");
                let client = self
                    .stale(url.as_str())
                    .map_or_else(|| Err(unusable(fetch_failure(url, &e))), Ok);
                (client, self.settings.failure_ttl)
            }
            Err(e) => {
                tracing::warn!(client_id = %url, error = %e, "client metadata document fetch failed");
                (
                    Err(unusable(fetch_failure(url, &e))),
                    self.settings.failure_ttl,
                )
            }
        };
        self.insert(url.as_str(), outcome.clone(), now.plus(ttl));
        outcome
    }

    /// How long a document is kept: its freshness lifetime within `[min_ttl, max_ttl]`;
    /// `no-store` or no word on caching: `min_ttl`.
    fn ttl(&self, caching: &gatehouse_fetch::Caching) -> u64 {
        let (min, max) = (self.settings.min_ttl, self.settings.max_ttl);
        match caching.max_age {
            _ if caching.no_store => min,
            Some(age) => age.as_secs().clamp(min, max),
            None => min,
        }
    }

    fn insert(&self, client_id: &str, outcome: Outcome, until: UnixTime) {
        let now = self.clock.now();
        let mut cache = lock(&self.cache);
        if cache.len() >= self.settings.max_entries && !cache.contains_key(client_id) {
            cache.retain(|_, e| e.until > now);
            while cache.len() >= self.settings.max_entries {
                let soonest = cache
                    .iter()
                    .min_by_key(|(_, e)| e.until)
                    .map(|(k, _)| k.clone());
                match soonest {
                    Some(key) => cache.remove(&key),
                    None => break,
                };
            }
        }
        // A good document served again while it cannot be refetched keeps its first bound; a
        // freshly fetched one may be used stale for `max_ttl` past its freshness.
        let stale_until = match (&outcome, cache.get(client_id)) {
            (
                Ok(new),
                Some(Entry {
                    outcome: Ok(old),
                    stale_until,
                    ..
                }),
            ) if Arc::ptr_eq(new, old) => *stale_until,
            (Ok(_), _) => until.plus(self.settings.max_ttl),
            (Err(_), _) => until,
        };
        cache.insert(
            client_id.to_owned(),
            Entry {
                outcome,
                until,
                stale_until,
            },
        );
    }

    /// Takes one fetch from `host`'s budget for the current minute, if any is left; else when
    /// the budget refills.
    fn take_budget(&self, host: &str) -> Result<(), UnixTime> {
        let now = self.clock.now();
        let mut budget = lock(&self.budget);
        if budget.len() >= self.settings.max_entries && !budget.contains_key(host) {
            budget.retain(|_, w| now.0 < w.started.0.saturating_add(60));
            if budget.len() >= self.settings.max_entries {
                return Err(now.plus(60));
            }
        }
        let window = budget.entry(host.to_owned()).or_insert(Window {
            started: now,
            count: 0,
        });
        if now.0 >= window.started.0.saturating_add(60) {
            *window = Window {
                started: now,
                count: 0,
            };
        }
        if window.count >= self.settings.per_domain_per_minute {
            return Err(window.started.plus(60));
        }
        window.count += 1;
        Ok(())
    }
}

/// What the error page says about a failed fetch: the host and the kind of failure, never the
/// answer itself (security-matrix §5 item 15).
fn fetch_failure(url: &DocumentUrl, e: &FetchError) -> String {
    let host = url.host();
    let why = match e {
        FetchError::Refused { .. } | FetchError::ForbiddenAddress { .. } => {
            "its address is not one this server fetches from"
        }
        FetchError::Status(s) if (300..400).contains(s) => "it answered with a redirect",
        FetchError::Status(_) => "it did not answer with the document",
        FetchError::TooLarge { .. } => "the document is too large",
        FetchError::Timeout(_) => "it did not answer in time",
        FetchError::ContentType(_) => "the answer is not JSON",
        _ => "it could not be reached",
    };
    format!("The application's metadata document at {host} could not be used: {why}.")
}
