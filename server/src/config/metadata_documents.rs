//! `[client_metadata_documents]`: clients identified by a Client ID Metadata Document URL
//! (draft-ietf-oauth-client-id-metadata-document): whether they are accepted, from which
//! domains, how long documents are cached, and the limits of fetching them.

use std::path::PathBuf;

use gatehouse_fetch::AllowedPrefix;
use serde::Deserialize;

use super::{ConfigError, bad, duration_within, seconds};

/// The default shortest time a document is cached: five minutes.
pub const DEFAULT_MIN_TTL: u64 = 300;
/// The default longest time: a day (SEP-991 suggests at most 24 h).
pub const DEFAULT_MAX_TTL: u64 = 86_400;
/// The default time a failure (fetch or validation) is remembered.
pub const DEFAULT_FAILURE_TTL: u64 = 30;
/// The default number of documents (and failures) kept.
pub const DEFAULT_MAX_ENTRIES: usize = 10_000;
/// The default deadline of one fetch, seconds.
pub const DEFAULT_FETCH_TIMEOUT: u64 = 5;
/// The default size cap: 5 KB (CIMD §6.6).
pub const DEFAULT_MAX_BYTES: usize = 5 * 1024;
/// The default number of fetches per domain and minute.
pub const DEFAULT_PER_DOMAIN_PER_MINUTE: u32 = 30;

/// Which domains documents are accepted from (CIMD §6.8: trust policies).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TrustPolicy {
    /// Any domain (the default; MCP clients are not known in advance).
    #[default]
    Open,
    /// Only `domains` and their subdomains.
    Allow,
    /// Any domain but `domains` and their subdomains.
    Deny,
}

/// The section's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataDocumentsConfig {
    /// Whether `client_id` URLs are accepted at all.
    pub enabled: bool,
    /// Which domains are trusted.
    pub policy: TrustPolicy,
    /// The domains of the policy, lowercase, without a trailing dot.
    pub domains: Vec<String>,
    /// The shortest time a document is cached, seconds (also for `no-store` and for answers
    /// that say nothing about caching).
    pub min_ttl: u64,
    /// The longest, seconds.
    pub max_ttl: u64,
    /// How long a failure is remembered, seconds: the URL is not fetched again meanwhile.
    pub failure_ttl: u64,
    /// The most documents and failures kept.
    pub max_entries: usize,
    /// The deadline of one fetch, seconds.
    pub fetch_timeout: u64,
    /// The largest document, bytes.
    pub max_bytes: usize,
    /// Fetches per domain (the document URL's host) and minute.
    pub per_domain_per_minute: u32,
    /// PEM files of CA certificates trusted beside the public roots (an internal CA).
    pub extra_ca_files: Vec<PathBuf>,
    /// URL prefixes whose documents may be served from internal addresses (and, to loopback,
    /// over plain http): internal deployments and tests. Never the whole Internet.
    pub allowed_prefixes: Vec<AllowedPrefix>,
}

impl Default for MetadataDocumentsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            policy: TrustPolicy::Open,
            domains: Vec::new(),
            min_ttl: DEFAULT_MIN_TTL,
            max_ttl: DEFAULT_MAX_TTL,
            failure_ttl: DEFAULT_FAILURE_TTL,
            max_entries: DEFAULT_MAX_ENTRIES,
            fetch_timeout: DEFAULT_FETCH_TIMEOUT,
            max_bytes: DEFAULT_MAX_BYTES,
            per_domain_per_minute: DEFAULT_PER_DOMAIN_PER_MINUTE,
            extra_ca_files: Vec::new(),
            allowed_prefixes: Vec::new(),
        }
    }
}

impl MetadataDocumentsConfig {
    /// Whether the policy trusts documents from `host`: a domain matches itself and its
    /// subdomains, on label boundaries (`example.com` matches `a.example.com`, never
    /// `badexample.com`).
    pub fn trusts(&self, host: &str) -> bool {
        let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
        let listed = self.domains.iter().any(|d| {
            host == *d
                || host
                    .strip_suffix(d.as_str())
                    .is_some_and(|rest| rest.ends_with('.'))
        });
        match self.policy {
            TrustPolicy::Open => true,
            TrustPolicy::Allow => listed,
            TrustPolicy::Deny => !listed,
        }
    }
}

/// The section as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMetadataDocuments {
    enabled: Option<bool>,
    policy: Option<String>,
    domains: Option<Vec<String>>,
    #[serde(default, deserialize_with = "seconds")]
    min_ttl: Option<u64>,
    #[serde(default, deserialize_with = "seconds")]
    max_ttl: Option<u64>,
    #[serde(default, deserialize_with = "seconds")]
    failure_ttl: Option<u64>,
    max_entries: Option<usize>,
    #[serde(default, deserialize_with = "seconds")]
    fetch_timeout: Option<u64>,
    max_bytes: Option<usize>,
    per_domain_per_minute: Option<u32>,
    extra_ca_files: Option<Vec<PathBuf>>,
    allowed_prefixes: Option<Vec<String>>,
}

const SECTION: &str = "client_metadata_documents";

fn field(name: &str) -> String {
    format!("{SECTION}.{name}")
}

/// A domain name as the policy lists it: lowercase letters, digits, hyphens and dots.
fn domain(text: &str) -> Option<String> {
    let d = text.strip_suffix('.').unwrap_or(text).to_ascii_lowercase();
    let ok = !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    ok.then_some(d)
}

impl RawMetadataDocuments {
    pub(super) fn validate(self) -> Result<MetadataDocumentsConfig, ConfigError> {
        let d = MetadataDocumentsConfig::default();
        let policy = match self.policy.as_deref() {
            None | Some("open") => TrustPolicy::Open,
            Some("allow") => TrustPolicy::Allow,
            Some("deny") => TrustPolicy::Deny,
            Some(other) => {
                return Err(bad(
                    &field("policy"),
                    format!("{other:?} is not a policy; give \"open\", \"allow\" or \"deny\""),
                ));
            }
        };
        let domains = self
            .domains
            .unwrap_or_default()
            .iter()
            .map(|text| {
                domain(text).ok_or_else(|| {
                    bad(
                        &field("domains"),
                        format!(
                            "{text:?} is not a domain name; write host names only, e.g. \
                             \"claude.ai\" (subdomains match too)"
                        ),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if policy == TrustPolicy::Allow && domains.is_empty() {
            return Err(bad(
                &field("domains"),
                "the \"allow\" policy needs at least one domain (set enabled = false to accept \
                 no metadata documents)",
            ));
        }
        let min_ttl = duration_within(&field("min_ttl"), self.min_ttl, d.min_ttl, 0..=86_400)?;
        let max_ttl = duration_within(&field("max_ttl"), self.max_ttl, d.max_ttl, 60..=7 * 86_400)?;
        if min_ttl > max_ttl {
            return Err(bad(
                &field("min_ttl"),
                format!("{min_ttl} s is more than max_ttl ({max_ttl} s)"),
            ));
        }
        let max_entries = self.max_entries.unwrap_or(d.max_entries);
        if !(1..=1_000_000).contains(&max_entries) {
            return Err(bad(&field("max_entries"), "give 1 to 1000000"));
        }
        let max_bytes = self.max_bytes.unwrap_or(d.max_bytes);
        if !(512..=gatehouse_core::client::metadata_document::MAX_DOCUMENT_BYTES)
            .contains(&max_bytes)
        {
            return Err(bad(
                &field("max_bytes"),
                "give 512 to 65536 (the draft recommends 5120)",
            ));
        }
        let per_domain_per_minute = self
            .per_domain_per_minute
            .unwrap_or(d.per_domain_per_minute);
        if !(1..=10_000).contains(&per_domain_per_minute) {
            return Err(bad(&field("per_domain_per_minute"), "give 1 to 10000"));
        }
        let extra_ca_files = self.extra_ca_files.unwrap_or_default();
        if extra_ca_files.iter().any(|p| p.as_os_str().is_empty()) {
            return Err(bad(&field("extra_ca_files"), "a file name is empty"));
        }
        let allowed_prefixes = self
            .allowed_prefixes
            .unwrap_or_default()
            .iter()
            .map(|p| p.parse().map_err(|e| bad(&field("allowed_prefixes"), e)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(MetadataDocumentsConfig {
            enabled: self.enabled.unwrap_or(d.enabled),
            policy,
            domains,
            min_ttl,
            max_ttl,
            failure_ttl: duration_within(
                &field("failure_ttl"),
                self.failure_ttl,
                d.failure_ttl,
                1..=3_600,
            )?,
            max_entries,
            fetch_timeout: duration_within(
                &field("fetch_timeout"),
                self.fetch_timeout,
                d.fetch_timeout,
                1..=30,
            )?,
            max_bytes,
            per_domain_per_minute,
            extra_ca_files,
            allowed_prefixes,
        })
    }
}
