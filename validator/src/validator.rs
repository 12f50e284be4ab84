//! [`Validator`]: the policy (issuer, leeway, size limit), the current keys and the revocations.

use arc_swap::ArcSwap;
use gatehouse_token::{AccessTokenClaims, UnixTime};
use std::sync::Arc;

use crate::jwt;
use crate::keys::KeySnapshot;
use crate::rejection::Rejection;
use crate::revocation::RevocationSet;

/// What a valid token must satisfy besides its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The exact issuer string (RFC 8725 §3.8: compared byte for byte).
    pub issuer: String,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
    pub leeway: u64,
    /// The longest token accepted, in bytes; longer ones are refused before any parsing.
    pub max_token_len: usize,
}

impl Policy {
    /// The default size limit: 8 KiB, far above any token Gatehouse issues.
    pub const DEFAULT_MAX_TOKEN_LEN: usize = 8 * 1024;
    /// The default leeway: 30 seconds.
    pub const DEFAULT_LEEWAY: u64 = 30;

    /// A policy for `issuer` with the default leeway and size limit.
    pub fn for_issuer(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            leeway: Self::DEFAULT_LEEWAY,
            max_token_len: Self::DEFAULT_MAX_TOKEN_LEN,
        }
    }
}

/// Validates access tokens against a policy, the current keys and the revocations.
#[derive(Debug)]
pub struct Validator {
    policy: Policy,
    keys: ArcSwap<KeySnapshot>,
    revoked: RevocationSet,
}

impl Validator {
    /// A validator for `policy` starting with `keys`.
    pub fn new(policy: Policy, keys: KeySnapshot) -> Self {
        Self {
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

    /// The revocation set, to record revocations in.
    pub fn revocations(&self) -> &RevocationSet {
        &self.revoked
    }

    /// Validates a JWT access token at `now`; with `audience`, also requires it in `aud`.
    pub fn validate_jwt(
        &self,
        token: &str,
        now: UnixTime,
        audience: Option<&str>,
    ) -> Result<AccessTokenClaims, Rejection> {
        let claims = jwt::verify(&self.keys.load(), token, self.policy.max_token_len)?;
        self.check_claims(&claims, now, audience)?;
        if self.revoked.contains(&claims.jti) {
            return Err(Rejection::Revoked);
        }
        Ok(claims)
    }

    /// The claim rules, shared by JWTs and opaque-token records: `iss` exact, `exp`, `nbf` and
    /// `iat` with leeway (RFC 7519 §4.1), `aud` present and, if given, containing `audience`.
    pub fn check_claims(
        &self,
        claims: &AccessTokenClaims,
        now: UnixTime,
        audience: Option<&str>,
    ) -> Result<(), Rejection> {
        if claims.iss != self.policy.issuer {
            return Err(Rejection::WrongIssuer);
        }
        let leeway = self.policy.leeway;
        // RFC 7519 §4.1.4: the current time must be before `exp`.
        if now >= claims.exp.plus(leeway) {
            return Err(Rejection::Expired);
        }
        let not_before = claims.nbf.map_or(claims.iat, |nbf| nbf.max(claims.iat));
        if now.plus(leeway) < not_before {
            return Err(Rejection::NotYetValid);
        }
        if claims.aud.is_empty() || audience.is_some_and(|a| !claims.aud.contains(a)) {
            return Err(Rejection::WrongAudience);
        }
        Ok(())
    }
}
