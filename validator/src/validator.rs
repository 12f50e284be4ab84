//! [`Validator`]: the policy (issuer, leeway, size limit), the current keys, the revocations and
//! the caches.
//!
//! A token validated once is cached (by its whole bytes for a JWT, by digest for an opaque
//! token); a cache hit is re-checked for expiry, audience, revocation and, for a JWT, that its
//! key is still published, so the cache never outlives what it vouches for.

use std::sync::Arc;

use arc_swap::ArcSwap;
use gatehouse_token::{AccessTokenClaims, OpaqueToken, SecretDigest, UnixTime};

use crate::cache::TokenCache;
use crate::jwt;
use crate::keys::KeySnapshot;
use crate::opaque::{LookupError, OpaqueTokens};
use crate::rejection::Rejection;
use crate::revocation::RevocationSet;

/// What a valid token must satisfy besides its signature, and how much to cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The exact issuer string (RFC 8725 §3.8: compared byte for byte).
    pub issuer: String,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds: for a resource server, whose
    /// clock is not the issuer's. The authorization server itself validates with 0: it is the
    /// clock that issued the token, and "active" at introspection means valid now (RFC 7662
    /// §2.2).
    pub leeway: u64,
    /// The longest token accepted, in bytes; longer ones are refused before any parsing.
    pub max_token_len: usize,
    /// Slots of each validated-token cache (JWT and opaque); 0 disables caching.
    pub cache_size: usize,
}

impl Policy {
    /// The default size limit: 8 KiB, far above any token Gatehouse issues.
    pub const DEFAULT_MAX_TOKEN_LEN: usize = 8 * 1024;
    /// The default leeway: 30 seconds.
    pub const DEFAULT_LEEWAY: u64 = 30;
    /// The default cache size: 16384 slots per cache (at most a few MiB each).
    pub const DEFAULT_CACHE_SIZE: usize = 16 * 1024;

    /// A policy for `issuer` with the default leeway, size limit and cache size.
    pub fn for_issuer(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            leeway: Self::DEFAULT_LEEWAY,
            max_token_len: Self::DEFAULT_MAX_TOKEN_LEN,
            cache_size: Self::DEFAULT_CACHE_SIZE,
        }
    }
}

/// A JWT validated once: its claims and the key that signed it.
#[derive(Debug, Clone)]
struct ValidJwt {
    claims: Arc<AccessTokenClaims>,
    kid: Arc<str>,
}

/// A valid token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Valid {
    /// A JWT access token.
    Jwt(Arc<AccessTokenClaims>),
    /// An opaque access token, with the digest it is stored under.
    Opaque(SecretDigest, Arc<AccessTokenClaims>),
}

impl Valid {
    /// The token's claims.
    pub fn claims(&self) -> &Arc<AccessTokenClaims> {
        match self {
            Self::Jwt(c) | Self::Opaque(_, c) => c,
        }
    }
}

/// Why [`Validator::validate`] gave no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    /// The token is not valid.
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// The opaque-token store could not be asked; validity is unknown.
    #[error(transparent)]
    Lookup(#[from] LookupError),
}

/// Validates access tokens against a policy, the current keys and the revocations.
#[derive(Debug)]
pub struct Validator {
    policy: Policy,
    keys: ArcSwap<KeySnapshot>,
    revoked: RevocationSet,
    jwts: TokenCache<ValidJwt>,
    opaque: TokenCache<Arc<AccessTokenClaims>>,
}

impl Validator {
    /// A validator for `policy` starting with `keys`.
    pub fn new(policy: Policy, keys: KeySnapshot) -> Self {
        Self {
            jwts: TokenCache::new(policy.cache_size),
            opaque: TokenCache::new(policy.cache_size),
            policy,
            keys: ArcSwap::from_pointee(keys),
            revoked: RevocationSet::default(),
        }
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Replaces the keys atomically; validations in flight finish with the keys they started with.
    pub fn swap_keys(&self, keys: KeySnapshot) {
        self.keys.store(Arc::new(keys));
    }

    /// The current keys.
    pub fn keys(&self) -> Arc<KeySnapshot> {
        self.keys.load_full()
    }

    /// The revocation set, to record revocations in (JWT and opaque alike, by `jti`).
    pub fn revocations(&self) -> &RevocationSet {
        &self.revoked
    }

    /// Drops the revocations this validator can no longer need at `now`: those of tokens past
    /// `exp` plus the leeway. Dropping one earlier would let a cached revoked token validate
    /// again between its `exp` and `exp` + leeway.
    pub fn purge_revocations(&self, now: UnixTime) {
        self.revoked.purge(now.minus(self.policy.leeway));
    }

    /// Verifies an ID token of this issuer presented as an `id_token_hint` (its expiry is not
    /// checked, OIDC RP-Initiated Logout 1.0 §2); an access token never passes (`typ`).
    pub fn verify_id_token_hint(&self, token: &str) -> Result<jwt::IdTokenHint, Rejection> {
        let hint = jwt::verify_id_token_hint(&self.keys.load(), token, self.policy.max_token_len)?;
        if hint.iss != self.policy.issuer {
            return Err(Rejection::WrongIssuer);
        }
        Ok(hint)
    }

    /// Validates a JWT access token at `now`; with `audience`, also requires it in `aud`.
    pub fn validate_jwt(
        &self,
        token: &str,
        now: UnixTime,
        audience: Option<&str>,
    ) -> Result<Arc<AccessTokenClaims>, Rejection> {
        if token.len() > self.policy.max_token_len {
            return Err(Rejection::TooLarge);
        }
        if let Some(hit) = self.jwts.get(token.as_bytes()) {
            if self.keys.load().get(&hit.kid).is_none() {
                return Err(Rejection::UnknownKey);
            }
            self.recheck(&hit.claims, now, audience)?;
            return Ok(hit.claims);
        }
        let (claims, kid) = jwt::verify(&self.keys.load(), token, self.policy.max_token_len)?;
        self.check_claims(&claims, now, audience)?;
        if self.revoked.contains(&claims.jti) {
            return Err(Rejection::Revoked);
        }
        let claims = Arc::new(claims);
        let entry = ValidJwt {
            claims: claims.clone(),
            kid: kid.into(),
        };
        self.jwts.insert(token.as_bytes(), entry);
        Ok(claims)
    }

    /// Validates any access token: opaque ones (by prefix) through `store`, JWTs locally.
    pub async fn validate(
        &self,
        token: &str,
        now: UnixTime,
        audience: Option<&str>,
        store: &dyn OpaqueTokens,
    ) -> Result<Valid, Invalid> {
        if !OpaqueToken::has_prefix(token) {
            return Ok(Valid::Jwt(self.validate_jwt(token, now, audience)?));
        }
        // The checksum is verified before any lookup: garbage never reaches the store.
        let digest = OpaqueToken::parse(token)
            .map_err(|_| Rejection::Malformed)?
            .digest();
        if let Some(claims) = self.opaque.get(&digest.0) {
            self.recheck(&claims, now, audience)?;
            return Ok(Valid::Opaque(digest, claims));
        }
        let record = store.lookup(&digest).await?.ok_or(Rejection::Unknown)?;
        if record.revoked || self.revoked.contains(&record.claims.jti) {
            return Err(Rejection::Revoked.into());
        }
        self.check_claims(&record.claims, now, audience)?;
        let claims = Arc::new(record.claims);
        self.opaque.insert(&digest.0, claims.clone());
        Ok(Valid::Opaque(digest, claims))
    }

    /// What a cached token must still satisfy: time, audience, not revoked.
    fn recheck(
        &self,
        claims: &AccessTokenClaims,
        now: UnixTime,
        audience: Option<&str>,
    ) -> Result<(), Rejection> {
        self.check_time(claims, now)?;
        if audience.is_some_and(|a| !claims.aud.contains(a)) {
            return Err(Rejection::WrongAudience);
        }
        if self.revoked.contains(&claims.jti) {
            return Err(Rejection::Revoked);
        }
        Ok(())
    }

    fn check_time(&self, claims: &AccessTokenClaims, now: UnixTime) -> Result<(), Rejection> {
        let leeway = self.policy.leeway;
        // RFC 7519 §4.1.4: the current time must be before `exp`.
        if now >= claims.exp.plus(leeway) {
            return Err(Rejection::Expired);
        }
        // A token issued, or valid from, after its own expiry is valid at no moment (a leeway
        // must not make it valid for a while).
        if claims.iat > claims.exp || claims.nbf.is_some_and(|nbf| nbf > claims.exp) {
            return Err(Rejection::NeverValid);
        }
        let not_before = claims.nbf.map_or(claims.iat, |nbf| nbf.max(claims.iat));
        if now.plus(leeway) < not_before {
            return Err(Rejection::NotYetValid);
        }
        Ok(())
    }

    /// The claim rules: `iss` exact, `exp`, `nbf` and `iat` with leeway (RFC 7519 §4.1), `aud`
    /// present and, if given, containing `audience`.
    pub fn check_claims(
        &self,
        claims: &AccessTokenClaims,
        now: UnixTime,
        audience: Option<&str>,
    ) -> Result<(), Rejection> {
        if claims.iss != self.policy.issuer {
            return Err(Rejection::WrongIssuer);
        }
        self.check_time(claims, now)?;
        if claims.aud.is_empty() || audience.is_some_and(|a| !claims.aud.contains(a)) {
            return Err(Rejection::WrongAudience);
        }
        Ok(())
    }
}
