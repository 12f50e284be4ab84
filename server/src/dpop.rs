//! DPoP at the authorization server (RFC 9449): the proof of a token or PAR request, checked
//! by the one verifier of `gatehouse_validator::dpop`, then the server nonce (§8) and the
//! `jti` replay cache of the store (§11.1, [`ReplayKind::DpopProof`], so that it holds across
//! nodes), keyed by the key's thumbprint and the `jti`, kept while the proof's `iat` is in the
//! window. The holder's key goes on to `core` as a [`Holder`].

use gatehouse_core::TokenError;
use gatehouse_core::binding::Holder;
use gatehouse_core::profile::SecurityProfile;
use gatehouse_core::store::{ReplayKind, ReplayStore, replay_digest};
use gatehouse_token::UnixTime;
use gatehouse_validator::dpop::{self, DpopSettings, Expected, NonceKey, Proof};
use ring::hmac;

use crate::config::DpopConfig;

/// How proofs are checked at this server, and its nonces.
#[derive(Debug, Clone)]
pub struct DpopCheck {
    settings: DpopSettings,
    nonces: NonceKey,
    require_nonce: bool,
    /// The mTLS listener's base URL (`mtls_endpoint_aliases`, RFC 8705 §5), under which the
    /// same endpoints are also served.
    alias_base: Option<String>,
}

impl DpopCheck {
    /// The checks of `config`, with nonces keyed from `secret` (a server secret every node
    /// shares, so a nonce from one node is good at another).
    pub fn new(config: &DpopConfig, secret: &[u8; 32], alias_base: Option<String>) -> Self {
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
        let tag = hmac::sign(&key, b"gatehouse dpop nonce key");
        let mut derived = [0u8; 32];
        derived.copy_from_slice(tag.as_ref());
        Self {
            settings: config.proofs.clone(),
            nonces: NonceKey::new(&derived, config.nonce_lifetime),
            require_nonce: config.require_nonce,
            alias_base,
        }
    }

    /// The algorithms proofs may be signed with (`dpop_signing_alg_values_supported`).
    pub fn algorithms(&self) -> Vec<&'static str> {
        self.settings
            .algorithms
            .iter()
            .map(|a| a.as_str())
            .collect()
    }

    /// Whether `proof`'s algorithm is one `profile` allows: a client held to FAPI 2.0 proves
    /// with ES256 or PS256 only (SP §5.4.1), whatever the server-wide list allows others.
    pub fn allowed_for(proof: Option<&Proof>, profile: SecurityProfile) -> Result<(), TokenError> {
        match proof {
            Some(p) if !profile.allows_algorithm(p.alg) => {
                Err(TokenError::InvalidDpopProof(format!(
                    "the {profile} security profile allows ES256 and PS256 proofs, not {}",
                    p.alg
                )))
            }
            _ => Ok(()),
        }
    }

    /// RFC 9449 §9: at a protected resource of this server (UserInfo), a DPoP presentation's
    /// proof carries a current server nonce when nonces are required; `Err` holds a fresh one
    /// to send in the `use_dpop_nonce` challenge. `proof` has been verified already: only its
    /// `nonce` claim is read here.
    pub fn resource_nonce(&self, proof: Option<&str>, now: UnixTime) -> Result<(), String> {
        if !self.require_nonce {
            return Ok(());
        }
        let nonce = proof.and_then(claimed_nonce);
        if nonce.is_some_and(|n| self.nonces.accepts(&n, now)) {
            Ok(())
        } else {
            Err(self.nonces.current(now))
        }
    }

    /// RFC 9449 §8.2: a fresh nonce on every answer of the token endpoint and PAR when nonces
    /// are required, so a client need not fail to get one.
    pub fn offer_nonce(&self, headers: &mut axum::http::HeaderMap, now: UnixTime) {
        if let Some(nonce) = self.nonce(now) {
            set_nonce(headers, &nonce);
        }
    }

    /// The nonce to send in a `DPoP-Nonce` header at `now`, when nonces are required.
    pub fn nonce(&self, now: UnixTime) -> Option<String> {
        self.require_nonce.then(|| self.nonces.current(now))
    }

    /// Checks the request's proof (`None`: no `DPoP` header) for `POST url` at `now`: the key
    /// the presenter proved, or the holder of no key. A proof that fails is an error, never
    /// ignored (RFC 9449 §4.3). `url` is the endpoint under the issuer; the same endpoint at
    /// the mTLS listener (`path` under its alias base) is the request's URL for a client that
    /// calls the `mtls_endpoint_aliases` (RFC 8705 §5), so its `htu` is accepted too.
    pub async fn holder(
        &self,
        proof: Option<&str>,
        url: &str,
        path: &str,
        now: UnixTime,
        replay: &dyn ReplayStore,
    ) -> Result<(Holder, Option<Proof>), TokenError> {
        let Some(text) = proof else {
            return Ok((Holder::default(), None));
        };
        let verify = |url: &str| {
            let expected = Expected {
                method: "POST",
                url,
                now,
                access_token: None,
            };
            dpop::verify(&self.settings, text, &expected)
        };
        let proof = match (verify(url), &self.alias_base) {
            (Err(dpop::ProofError::Url), Some(base)) => verify(&format!("{base}{path}")),
            (result, _) => result,
        }
        .map_err(|e| TokenError::InvalidDpopProof(e.to_string()))?;
        // RFC 9449 §8: a missing or stale nonce is answered with a fresh one.
        if self.require_nonce
            && !proof
                .nonce
                .as_deref()
                .is_some_and(|n| self.nonces.accepts(n, now))
        {
            return Err(TokenError::UseDpopNonce {
                nonce: self.nonces.current(now),
            });
        }
        // Replay last: a proof refused for its signature, claims or nonce leaves no entry.
        let id = replay_digest(&proof.jkt, &proof.jti);
        let until = self.settings.replay_until(proof.iat);
        if !replay.first_use(ReplayKind::DpopProof, id, until).await? {
            return Err(TokenError::InvalidDpopProof(
                "the DPoP proof was already used (jti replay)".into(),
            ));
        }
        Ok((Holder::dpop(proof.jkt.clone()), Some(proof)))
    }
}

/// Puts `nonce` in the `DPoP-Nonce` header (RFC 9449 §8, §9); a nonce is base64url, so it is
/// always a valid header value.
pub fn set_nonce(headers: &mut axum::http::HeaderMap, nonce: &str) {
    if let Ok(value) = axum::http::HeaderValue::from_str(nonce) {
        headers.insert(dpop::NONCE_HEADER, value);
    }
}

/// The `nonce` claim of a proof already verified, if it has a string one.
fn claimed_nonce(proof: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Claims {
        nonce: Option<String>,
    }
    let payload = proof.split('.').nth(1)?;
    let bytes = gatehouse_token::b64::decode(payload).ok()?;
    serde_json::from_slice::<Claims>(&bytes).ok()?.nonce
}
