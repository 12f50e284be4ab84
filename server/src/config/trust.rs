//! `[trust]`: the issuers whose JWTs Gatehouse accepts (ID-JAGs at the jwt-bearer grant, RFC
//! 7523 and MCP EMA §5; `subject_token`s of type `jwt` at token exchange, RFC 8693), and the
//! authorization servers Gatehouse issues ID-JAGs for (MCP EMA §4, §7.6.1).
//!
//! ```toml
//! [trust]
//! max_assertion_lifetime = "10m"   # the longest exp − iat accepted (RFC 7523 §3 item 4)
//! id_jag_lifetime = "5m"           # the lifetime of the ID-JAGs Gatehouse issues
//! jwks_max_age = "10m"             # trusted issuers' keys are fetched again after this
//!
//! [[trust.issuers]]
//! issuer = "https://acme.idp.example"          # compared byte for byte with `iss`
//! jwks_uri = "https://acme.idp.example/jwks"   # fetched through the hardened fetcher
//! algorithms = ["RS256"]                       # never none, never HMAC
//! accept = ["id_jag"]                          # and/or "subject_token"
//! subject = "issuer_qualified"                 # or "as_is": the token's sub
//!
//! [[trust.downstream]]
//! issuer = "https://auth.chat.example"         # the ID-JAG's aud
//! resources = ["https://mcp.chat.example"]     # the resources it may name
//! clients = { "our-client-id" = "its-client-id-there" }
//! ```

use std::collections::BTreeMap;

use gatehouse_core::assertion::{Downstream, SubjectMapping};
use gatehouse_core::resource::Resource;
use gatehouse_token::Algorithm;
use serde::Deserialize;
use url::Url;

use super::{ConfigError, bad, duration_within, seconds};

/// The default longest assertion lifetime: ten minutes.
pub const DEFAULT_MAX_ASSERTION_LIFETIME: u64 = 600;
/// The default lifetime of issued ID-JAGs: five minutes (MCP EMA §4.2 shows 300 s).
pub const DEFAULT_ID_JAG_LIFETIME: u64 = 300;
/// How long trusted issuers' keys are used before they are fetched again: ten minutes.
pub const DEFAULT_JWKS_MAX_AGE: u64 = 600;

/// A trusted external issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedIssuer {
    /// Its issuer identifier, exactly as its JWTs' `iss`.
    pub issuer: String,
    /// Where its keys are.
    pub jwks_uri: Url,
    /// The algorithms its keys may use (each key is bound to one).
    pub algorithms: Vec<Algorithm>,
    /// Its ID-JAGs are accepted at the jwt-bearer grant.
    pub id_jag: bool,
    /// Its JWTs are accepted as token-exchange subject or actor tokens.
    pub subject_token: bool,
    /// How its subjects become ours.
    pub subjects: SubjectMapping,
}

/// The trust settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustConfig {
    /// The longest lifetime an assertion may have, seconds.
    pub max_assertion_lifetime: u64,
    /// The lifetime of the ID-JAGs Gatehouse issues, seconds.
    pub id_jag_lifetime: u64,
    /// How long fetched keys are used before they are fetched again, seconds.
    pub jwks_max_age: u64,
    /// Development only: `jwks_uri`s on loopback, over plain http too.
    pub allow_http_loopback: bool,
    /// The trusted issuers.
    pub issuers: Vec<TrustedIssuer>,
    /// The servers Gatehouse issues ID-JAGs for.
    pub downstream: Vec<Downstream>,
}

/// The section as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTrust {
    #[serde(default, deserialize_with = "seconds")]
    max_assertion_lifetime: Option<u64>,
    #[serde(default, deserialize_with = "seconds")]
    id_jag_lifetime: Option<u64>,
    #[serde(default, deserialize_with = "seconds")]
    jwks_max_age: Option<u64>,
    allow_http_loopback: Option<bool>,
    #[serde(default)]
    issuers: Vec<RawIssuer>,
    #[serde(default)]
    downstream: Vec<RawDownstream>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIssuer {
    issuer: String,
    jwks_uri: String,
    algorithms: Vec<String>,
    accept: Vec<String>,
    subject: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDownstream {
    issuer: String,
    resources: Vec<String>,
    clients: BTreeMap<String, String>,
}

/// An issuer identifier: an absolute URL without query or fragment (so `<iss>#<sub>` is
/// unambiguous), compared byte for byte.
fn issuer_url(field: &str, text: &str) -> Result<(), ConfigError> {
    match Url::parse(text) {
        Ok(u) if u.query().is_none() && u.fragment().is_none() && !text.contains('#') => Ok(()),
        _ => Err(bad(
            field,
            format!("{text:?} is not an issuer identifier (an absolute URL, no query or fragment)"),
        )),
    }
}

impl RawTrust {
    pub(super) fn validate(self, own_issuer: &str) -> Result<TrustConfig, ConfigError> {
        let allow_http_loopback = self.allow_http_loopback.unwrap_or(false);
        let mut issuers: Vec<TrustedIssuer> = Vec::with_capacity(self.issuers.len());
        for (i, raw) in self.issuers.into_iter().enumerate() {
            let at = |key: &str| format!("trust.issuers[{i}].{key}");
            issuer_url(&at("issuer"), &raw.issuer)?;
            if raw.issuer == own_issuer {
                return Err(bad(
                    &at("issuer"),
                    "this server's own issuer is trusted already, with its own keys",
                ));
            }
            if issuers.iter().any(|t| t.issuer == raw.issuer) {
                return Err(bad(&at("issuer"), "listed twice"));
            }
            let jwks_uri = Url::parse(&raw.jwks_uri)
                .ok()
                .filter(|u| u.scheme() == "https" || (allow_http_loopback && u.scheme() == "http"))
                .ok_or_else(|| {
                    bad(
                        &at("jwks_uri"),
                        format!("{:?} is not an https URL", raw.jwks_uri),
                    )
                })?;
            if raw.algorithms.is_empty() {
                return Err(bad(
                    &at("algorithms"),
                    "name at least one, e.g. [\"RS256\"]",
                ));
            }
            let algorithms = raw
                .algorithms
                .iter()
                .map(|a| a.parse::<Algorithm>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| bad(&at("algorithms"), e.to_string()))?;
            let (mut id_jag, mut subject_token) = (false, false);
            for use_ in &raw.accept {
                match use_.as_str() {
                    "id_jag" => id_jag = true,
                    "subject_token" => subject_token = true,
                    other => {
                        return Err(bad(
                            &at("accept"),
                            format!("{other:?} is not a use; write id_jag and/or subject_token"),
                        ));
                    }
                }
            }
            if !id_jag && !subject_token {
                return Err(bad(&at("accept"), "name id_jag and/or subject_token"));
            }
            let subjects = match raw.subject.as_deref() {
                None | Some("issuer_qualified") => SubjectMapping::IssuerQualified,
                Some("as_is") => SubjectMapping::AsIs,
                Some(other) => {
                    return Err(bad(
                        &at("subject"),
                        format!("{other:?}: write issuer_qualified (the default) or as_is"),
                    ));
                }
            };
            issuers.push(TrustedIssuer {
                issuer: raw.issuer,
                jwks_uri,
                algorithms,
                id_jag,
                subject_token,
                subjects,
            });
        }
        let mut downstream: Vec<Downstream> = Vec::with_capacity(self.downstream.len());
        for (i, raw) in self.downstream.into_iter().enumerate() {
            let at = |key: &str| format!("trust.downstream[{i}].{key}");
            issuer_url(&at("issuer"), &raw.issuer)?;
            // An ID-JAG for ourselves would be redeemed here by the jwt-bearer grant: a loop
            // that turns a sign-in into tokens without consent.
            if raw.issuer == own_issuer {
                return Err(bad(
                    &at("issuer"),
                    "this server's own issuer cannot be a downstream authorization server",
                ));
            }
            if downstream.iter().any(|d| d.issuer == raw.issuer) {
                return Err(bad(&at("issuer"), "listed twice"));
            }
            if raw.resources.is_empty() {
                return Err(bad(&at("resources"), "name the resources it serves"));
            }
            let resources = raw
                .resources
                .iter()
                .map(|r| r.parse::<Resource>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| bad(&at("resources"), e.to_string()))?;
            if raw.clients.is_empty() {
                return Err(bad(
                    &at("clients"),
                    "name the clients that may get ID-JAGs for it: { \"our-id\" = \"its-id-there\" }",
                ));
            }
            downstream.push(Downstream {
                issuer: raw.issuer,
                resources,
                clients: raw.clients.into_iter().collect(),
            });
        }
        Ok(TrustConfig {
            max_assertion_lifetime: duration_within(
                "trust.max_assertion_lifetime",
                self.max_assertion_lifetime,
                DEFAULT_MAX_ASSERTION_LIFETIME,
                10..=3600,
            )?,
            id_jag_lifetime: duration_within(
                "trust.id_jag_lifetime",
                self.id_jag_lifetime,
                DEFAULT_ID_JAG_LIFETIME,
                10..=3600,
            )?,
            jwks_max_age: duration_within(
                "trust.jwks_max_age",
                self.jwks_max_age,
                DEFAULT_JWKS_MAX_AGE,
                60..=86_400,
            )?,
            allow_http_loopback,
            issuers,
            downstream,
        })
    }
}
