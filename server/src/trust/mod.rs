//! The server's [`AssertionVerifier`]: our own tokens through the validator (our keys, every
//! claim rule, revocation, the client still registered), and JWTs of the trusted external
//! issuers of `[trust]` with their keys, fetched from each issuer's `jwks_uri` through the
//! hardened fetcher, cached for `trust.jwks_max_age`, fetched again at most once per
//! [`UNKNOWN_KID_INTERVAL`] when a JWT names a `kid` not among them.
//!
//! Each external key is bound to one algorithm the issuer is allowed (a key that states none
//! gets the one allowed algorithm its type fits, or is left out); `none` and HMAC cannot be
//! represented at all. The signature, header and duplicate-member rules are the validator's
//! ([`gatehouse_validator::jwt::verify_with`]), written once.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use gatehouse_core::assertion::{
    AssertionVerifier, ExternalClaims, ExternalJwt, ExternalUse, ID_JAG_TYP, OwnIdToken, Refusal,
};
use gatehouse_core::ports::Clock;
use gatehouse_core::store::{AccessTokenStore, ClientStore};
use gatehouse_fetch::{FetchPolicy, Fetcher};
use gatehouse_token::{AccessTokenClaims, Algorithm, b64};
use gatehouse_validator::{Invalid, KeySnapshot, Rejection, Validator, jwt};
use serde::Deserialize;

use crate::config::TrustConfig;
use crate::config::trust::TrustedIssuer;
use crate::validate::StoredOpaque;

/// The least time between two fetches of one issuer's keys caused by unknown `kid`s: a flood of
/// random `kid`s causes no fetch storm (security matrix §3.32).
pub const UNKNOWN_KID_INTERVAL: Duration = Duration::from_secs(30);

/// The monotonic clock, for key ages and the refetch limit (not protocol time).
fn monotonic() -> Instant {
    Instant::now()
}

/// One trusted issuer and its keys.
#[derive(Debug)]
struct Issuer {
    trust: TrustedIssuer,
    /// The keys and when they were fetched.
    keys: Mutex<Option<(Arc<KeySnapshot>, Instant)>>,
    /// When a fetch was last tried.
    tried: Mutex<Option<Instant>>,
    /// One fetch at a time.
    fetching: tokio::sync::Mutex<()>,
}

/// Verifies the JWTs the jwt-bearer grant and token exchange are given.
#[expect(missing_debug_implementations, reason = "trait objects have no Debug")]
pub struct Verifier {
    validator: Arc<Validator>,
    tokens: Arc<dyn AccessTokenStore>,
    clients: Arc<dyn ClientStore>,
    clock: Arc<dyn Clock>,
    issuers: Vec<Issuer>,
    fetcher: Fetcher,
    max_age: Duration,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// An ID-JAG says what it is (MCP EMA §5.1, RFC 8725 §3.11).
fn is_id_jag(typ: Option<&str>) -> bool {
    typ.is_some_and(|t| jwt::media_type_is(t, ID_JAG_TYP))
}

/// A generic JWT for token exchange: no `typ`, or `JWT`; never a token that says it is another
/// kind (an access token, an ID-JAG, a logout token...).
fn is_plain_jwt(typ: Option<&str>) -> bool {
    typ.is_none_or(|t| jwt::media_type_is(t, "JWT"))
}

/// The refusal for a validator rejection.
pub(crate) fn refusal(r: Rejection, typ: &'static str) -> Refusal {
    match r {
        Rejection::TooLarge => Refusal::TooLarge,
        Rejection::Malformed => {
            Refusal::Malformed("not a compact JWS of JSON objects, or a claim of the wrong type")
        }
        Rejection::Header => Refusal::Malformed("a forbidden or missing header member"),
        Rejection::WrongType => Refusal::WrongType(typ),
        Rejection::UnknownKey => Refusal::UnknownKey,
        Rejection::AlgorithmMismatch => Refusal::Algorithm,
        Rejection::BadSignature => Refusal::BadSignature,
        Rejection::WrongIssuer => Refusal::Inactive("issued by another server"),
        Rejection::WrongAudience => Refusal::Inactive("wrong audience"),
        Rejection::Expired => Refusal::Inactive("expired"),
        Rejection::NotYetValid => Refusal::Inactive("not yet valid"),
        Rejection::NeverValid => Refusal::Inactive("valid at no time"),
        Rejection::Revoked => Refusal::Inactive("revoked"),
        _ => Refusal::Inactive("unknown"),
    }
}

/// The `iss` of a JWT, read before its signature is checked, only to choose whose keys check
/// it; it is compared again after.
fn unverified_issuer(token: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Iss {
        iss: String,
    }
    let payload = token.split('.').nth(1)?;
    let json = b64::decode(payload).ok()?;
    serde_json::from_slice::<Iss>(&json).ok().map(|i| i.iss)
}

/// The issuer's JWKS with each key bound to one allowed algorithm: a key stating an algorithm
/// not allowed is left out; a key stating none gets the one allowed algorithm its type fits
/// (none or several: left out). The validator's strict parse runs on the original document too,
/// so a key carrying private members still refuses the whole set.
fn bind_keys(body: &[u8], allowed: &[Algorithm]) -> Result<KeySnapshot, String> {
    KeySnapshot::parse_jwks(body).map_err(|e| e.to_string())?;
    let mut doc: serde_json::Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let Some(keys) = doc.get_mut("keys").and_then(|k| k.as_array_mut()) else {
        return Err("no keys array".into());
    };
    keys.retain_mut(|key| {
        let stated = key.get("alg").and_then(|a| a.as_str()).map(str::to_owned);
        let alg = match stated {
            Some(name) => allowed.iter().find(|a| a.as_str() == name).copied(),
            None => {
                let kty = key.get("kty").and_then(|k| k.as_str()).unwrap_or_default();
                let crv = key.get("crv").and_then(|k| k.as_str()).unwrap_or_default();
                let fits: Vec<Algorithm> = allowed
                    .iter()
                    .copied()
                    .filter(|a| match a {
                        Algorithm::ES256 => kty == "EC" && crv == "P-256",
                        Algorithm::ES384 => kty == "EC" && crv == "P-384",
                        Algorithm::EdDSA => kty == "OKP" && crv == "Ed25519",
                        Algorithm::RS256 | Algorithm::PS256 => kty == "RSA",
                    })
                    .collect();
                match fits.as_slice() {
                    [one] => Some(*one),
                    _ => None,
                }
            }
        };
        match (alg, key.as_object_mut()) {
            (Some(alg), Some(object)) => {
                object.insert("alg".into(), alg.as_str().into());
                true
            }
            _ => false,
        }
    });
    let body = serde_json::to_vec(&doc).map_err(|e| e.to_string())?;
    KeySnapshot::parse_jwks(&body).map_err(|e| e.to_string())
}

impl Verifier {
    /// A verifier over the validator (our tokens) and the trusted issuers of `trust`.
    pub fn new(
        trust: &TrustConfig,
        validator: Arc<Validator>,
        tokens: Arc<dyn AccessTokenStore>,
        clients: Arc<dyn ClientStore>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, gatehouse_fetch::FetchError> {
        let policy = FetchPolicy {
            allow_http_loopback: trust.allow_http_loopback,
            ..FetchPolicy::default()
        };
        if trust.allow_http_loopback {
            tracing::warn!(
                "trust.allow_http_loopback is set: trusted issuers' keys may be fetched from loopback over plain http (development only)"
            );
        }
        let issuers = trust
            .issuers
            .iter()
            .map(|t| Issuer {
                trust: t.clone(),
                keys: Mutex::new(None),
                tried: Mutex::new(None),
                fetching: tokio::sync::Mutex::new(()),
            })
            .collect();
        Ok(Self {
            validator,
            tokens,
            clients,
            clock,
            issuers,
            fetcher: Fetcher::new(policy)?,
            max_age: Duration::from_secs(trust.jwks_max_age),
        })
    }

    /// Fetches `issuer`'s keys now (one fetch at a time; a fetch that another caller started
    /// after `since`, whether it succeeded or failed, counts: waiting callers never fetch again
    /// one after another while the issuer is down).
    async fn fetch(&self, issuer: &Issuer, since: Option<Instant>) -> Result<(), Refusal> {
        let _one = issuer.fetching.lock().await;
        let fetched_at = lock(&issuer.keys).as_ref().map(|(_, at)| *at);
        let tried = *lock(&issuer.tried);
        if since
            .is_some_and(|s| fetched_at.is_some_and(|at| at > s) || tried.is_some_and(|t| t > s))
        {
            return Ok(());
        }
        *lock(&issuer.tried) = Some(monotonic());
        let body = self
            .fetcher
            .get(&issuer.trust.jwks_uri)
            .await
            .map_err(|e| Refusal::Unavailable(format!("JWKS of {}: {e}", issuer.trust.issuer)))?;
        let keys = bind_keys(&body, &issuer.trust.algorithms)
            .map_err(|e| Refusal::Unavailable(format!("JWKS of {}: {e}", issuer.trust.issuer)))?;
        *lock(&issuer.keys) = Some((Arc::new(keys), monotonic()));
        Ok(())
    }

    /// The issuer's keys, fetched when there are none or they are older than the max age (a
    /// failed refresh keeps the old keys).
    async fn keys(&self, issuer: &Issuer) -> Result<Arc<KeySnapshot>, Refusal> {
        let now = monotonic();
        let current = lock(&issuer.keys).clone();
        match current {
            Some((keys, at)) if now.duration_since(at) < self.max_age => Ok(keys),
            Some((keys, _)) => {
                if let Err(e) = self.fetch(issuer, Some(now)).await {
                    tracing::warn!(error = %e, "refreshing a trusted issuer's keys failed; keeping the old ones");
                }
                Ok(lock(&issuer.keys).as_ref().map_or(keys, |(k, _)| k.clone()))
            }
            None => {
                self.fetch(issuer, Some(now)).await?;
                lock(&issuer.keys)
                    .as_ref()
                    .map(|(k, _)| k.clone())
                    .ok_or_else(|| Refusal::Unavailable("no keys".into()))
            }
        }
    }

    fn may_refetch(issuer: &Issuer) -> bool {
        lock(&issuer.tried).is_none_or(|t| monotonic().duration_since(t) >= UNKNOWN_KID_INTERVAL)
    }
}

#[async_trait]
impl AssertionVerifier for Verifier {
    async fn access_token(&self, token: &str) -> Result<AccessTokenClaims, Refusal> {
        let now = self.clock.now();
        let valid = match self
            .validator
            .validate(token, now, None, &StoredOpaque(self.tokens.as_ref()))
            .await
        {
            Ok(valid) => valid,
            Err(Invalid::Rejected(r)) => return Err(refusal(r, "at+jwt")),
            Err(Invalid::Lookup(e)) => return Err(Refusal::Unavailable(e.to_string())),
        };
        let claims = valid.claims();
        // Deleting a client ends its tokens (as at introspection).
        if !self
            .clients
            .contains(&claims.client_id)
            .await
            .map_err(|e| Refusal::Unavailable(e.to_string()))?
        {
            return Err(Refusal::Inactive("its client was deleted"));
        }
        Ok(claims.as_ref().clone())
    }

    async fn id_token(&self, token: &str) -> Result<OwnIdToken, Refusal> {
        let max = self.validator.policy().max_token_len;
        let keys = self.validator.keys();
        let (claims, _): (OwnIdToken, _) =
            jwt::verify_with(&keys, token, max, jwt::is_id_token_typ)
                .map_err(|r| refusal(r, "JWT"))?;
        if claims.iss != self.validator.policy().issuer {
            return Err(Refusal::Inactive("issued by another server"));
        }
        Ok(claims)
    }

    async fn external(&self, token: &str, usage: ExternalUse) -> Result<ExternalJwt, Refusal> {
        let max = self.validator.policy().max_token_len;
        if token.len() > max {
            return Err(Refusal::TooLarge);
        }
        let iss = unverified_issuer(token).ok_or(Refusal::Malformed("no readable iss"))?;
        let issuer = self
            .issuers
            .iter()
            .find(|i| i.trust.issuer == iss)
            .filter(|i| match usage {
                ExternalUse::IdJag => i.trust.id_jag,
                ExternalUse::ExchangeToken => i.trust.subject_token,
            })
            .ok_or(Refusal::UntrustedIssuer)?;
        let (typ_ok, typ): (fn(Option<&str>) -> bool, _) = match usage {
            ExternalUse::IdJag => (is_id_jag, ID_JAG_TYP),
            ExternalUse::ExchangeToken => (is_plain_jwt, "JWT"),
        };
        let start = monotonic();
        let keys = self.keys(issuer).await?;
        let verified = match jwt::verify_with::<ExternalClaims>(&keys, token, max, typ_ok) {
            Err(Rejection::UnknownKey) if Self::may_refetch(issuer) => {
                self.fetch(issuer, Some(start)).await?;
                let keys = self.keys(issuer).await?;
                jwt::verify_with::<ExternalClaims>(&keys, token, max, typ_ok)
            }
            other => other,
        };
        let (claims, _) = verified.map_err(|r| refusal(r, typ))?;
        if claims.iss != issuer.trust.issuer {
            return Err(Refusal::UntrustedIssuer);
        }
        Ok(ExternalJwt {
            claims,
            subjects: issuer.trust.subjects,
        })
    }
}

#[cfg(test)]
mod tests;
