//! `private_key_jwt` (RFC 7523 §2.2 and §3, RFC 7521 §4.2, OIDC Core §9): the client
//! authenticates with a JWT it signed with one of its registered private keys, sent as
//! `client_assertion` with `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`.
//!
//! The signature is checked by the [`ClientKeyVerifier`] port (the server, with the client's
//! `jwks` or the keys at its `jwks_uri`, each bound to one algorithm: `core` does no crypto);
//! the claim rules are here, all of them, every failure `invalid_client` (RFC 7521 §4.2.1):
//! - `iss` and `sub` are both the client id (RFC 7523 §3 items 1 and 2), and the `client_id`
//!   parameter, when sent, names the same client (RFC 7521 §4.2);
//! - `aud` names this server (item 3): by default its issuer identifier, its token endpoint
//!   URL or the URL of the endpoint being called (RFC 9126 §2 lists exactly these three for
//!   PAR), as a string or in an array; with [`ClientAssertionRules::issuer_only`] (FAPI 2.0
//!   Security Profile §5.3.2.1), the issuer identifier as a single string and nothing else;
//! - `exp` is required and not further ahead than the longest lifetime
//!   ([`ClientAssertionRules::lifetimes`]; item 4: the server may refuse an unreasonably far
//!   `exp`); `nbf` and `iat` not in the future (items 5, 6), all with the leeway;
//! - `jti` is required and used once (item 7): it is recorded in the replay store
//!   ([`ReplayKind::ClientAssertion`], keyed by client id and `jti`) until the assertion could
//!   no longer be accepted, `exp` + leeway (security matrix §1.5.43, §3.25).
//!
//! The client is found by the assertion's `sub` before the signature is checked (it names whose
//! keys check it); the signature is checked before any claim rule, so a forged assertion is
//! always refused as forged (security matrix §3.31).

use std::sync::Arc;

use async_trait::async_trait;
use gatehouse_token::{Audience, UnixTime, b64};
use serde::Deserialize;

use super::Failure;
use crate::assertion::{AssertionSettings, Refusal};
use crate::client::keys::ClientKeys;
use crate::client::{Client, ClientId, ClientKind};
use crate::grant::jwt_bearer::{MAX_JTI_LEN, check_time};
use crate::store::{ClientStore, ReplayKind, ReplayStore, replay_digest};

/// The `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The longest `client_assertion` accepted, bytes: refused above it, never treated as absent
/// (security matrix §3.11). An RS256 assertion with a 4096-bit key is under 1.5 KiB.
pub const MAX_ASSERTION_LEN: usize = 8 * 1024;
/// The default longest lifetime of an assertion, `exp` − now, seconds: five minutes. RFC 7523
/// §3 item 4 lets the server refuse a far `exp`; a client makes a fresh assertion per request,
/// so five minutes is room for clock drift and a slow network, and bounds how long each `jti`
/// is kept.
pub const DEFAULT_MAX_LIFETIME: u64 = 300;

/// The algorithms a client's keys, and so its assertions, may use (advertised as
/// `token_endpoint_auth_signing_alg_values_supported`, RFC 8414 §2): every asymmetric algorithm
/// the validator verifies; never `none`, never HMAC (RFC 8725 §3.1).
pub const SIGNING_ALGS: [gatehouse_token::Algorithm; 5] = gatehouse_token::Algorithm::ALL;

/// The claims of a client assertion (RFC 7523 §3), typed: a claim of the wrong JSON type is an
/// error, never an absent claim (security matrix §3.23).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ClientAssertionClaims {
    /// The client.
    pub iss: String,
    /// The client again.
    pub sub: String,
    /// This server.
    pub aud: Audience,
    /// Expiry: required.
    pub exp: UnixTime,
    /// Not before.
    #[serde(default)]
    pub nbf: Option<UnixTime>,
    /// Issued at.
    #[serde(default)]
    pub iat: Option<UnixTime>,
    /// The assertion's unique id: required here, for replay protection.
    #[serde(default)]
    pub jti: Option<String>,
}

/// Verifies client assertions' signatures for `core`: implemented by the server with the
/// validator (ring), over the client's registered keys.
#[async_trait]
pub trait ClientKeyVerifier: Send + Sync {
    /// `assertion` signed with one of `client`'s `keys`: the key named by the header's `kid`
    /// (or the only key, when there is one and no `kid`), under that key's own algorithm (never
    /// `none`, never HMAC, never chosen by the header), with no header member that brings its
    /// own key or extension (`jwk`, `jku`, `x5u`, `x5c`, `crit`). Its claims are parsed, not
    /// checked.
    async fn client_assertion(
        &self,
        client: &Client,
        keys: &ClientKeys,
        assertion: &str,
    ) -> Result<ClientAssertionClaims, Refusal>;
}

/// What a client assertion must say to be accepted here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAssertionRules {
    /// Our issuer identifier.
    pub issuer: String,
    /// Our token endpoint URL (an audience OIDC Core §9 names).
    pub token_endpoint: String,
    /// FAPI 2.0 Security Profile §5.3.2.1: `aud` must be the issuer identifier, as a single
    /// string (an array, even of it alone, or an endpoint URL is refused).
    pub issuer_only: bool,
    /// The longest lifetime (`exp` − now, and `exp` − `iat`) and the clock leeway, seconds.
    pub lifetimes: AssertionSettings,
}

/// The `sub` an assertion claims, read without verifying it, only to find whose keys check
/// it; it is compared again once verified. `None` for anything that is not a JWS whose payload
/// is a JSON object with a string `sub`.
pub fn claimed_subject(assertion: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Sub {
        sub: String,
    }
    if assertion.len() > MAX_ASSERTION_LEN {
        return None;
    }
    let payload = assertion.split('.').nth(1)?;
    let json = b64::decode(payload).ok()?;
    serde_json::from_slice::<Sub>(&json).ok().map(|s| s.sub)
}

/// Whether `aud` names this server, by the rules of the module documentation; `issuer_only`
/// for the server's rules or a client held to FAPI 2.0 (SP §5.3.2.1 item 8: the issuer alone).
fn for_us(aud: &Audience, rules: &ClientAssertionRules, endpoint: &str, issuer_only: bool) -> bool {
    if issuer_only {
        return matches!(aud, Audience::One(one) if *one == rules.issuer);
    }
    let ours = |a: &String| *a == rules.issuer || *a == rules.token_endpoint || *a == endpoint;
    match aud {
        Audience::One(one) => ours(one),
        Audience::Many(many) => many.iter().any(ours),
    }
}

fn refused(why: impl Into<String>) -> Failure {
    Failure::client(why)
}

/// What authenticating by `private_key_jwt` needs besides the credentials ([`super::authenticate`]).
#[expect(missing_debug_implementations, reason = "trait objects have no Debug")]
pub struct AssertionContext<'a> {
    /// Verifies signatures with the client's keys.
    pub verifier: &'a dyn ClientKeyVerifier,
    /// The replay cache of `jti`s.
    pub replay: &'a dyn ReplayStore,
    /// The claim rules.
    pub rules: &'a ClientAssertionRules,
    /// The URL of the endpoint being called (an accepted audience).
    pub endpoint: &'a str,
    /// Now.
    pub now: UnixTime,
}

/// Authenticates the client whose assertion this is; `client_id`, when the request sent one,
/// must name the same client.
pub(super) async fn authenticate(
    client_id: Option<&str>,
    assertion: &str,
    clients: &dyn ClientStore,
    ctx: &AssertionContext<'_>,
) -> Result<Arc<Client>, Failure> {
    if assertion.len() > MAX_ASSERTION_LEN {
        return Err(refused("the assertion is too large"));
    }
    let Some(sub) = claimed_subject(assertion) else {
        return Err(refused(
            "the assertion is not a JWT whose payload names its client (sub)",
        ));
    };
    // RFC 7521 §4.2: a client_id, when sent, identifies the same client as the assertion.
    if client_id.is_some_and(|id| id != sub) {
        return Err(refused("client_id is not the assertion's sub"));
    }
    let Some(id) = ClientId::new(&sub) else {
        return Err(refused("the assertion's sub is not a client id"));
    };
    let client = match clients.get(&id).await {
        Ok(Some(client)) => client,
        Ok(None) => return Err(refused("no such client")),
        Err(e) => return Err(Failure::from(crate::error::TokenError::from(e))),
    };
    let keys = match (&client.kind, &client.keys) {
        (ClientKind::PrivateKeyJwt, Some(keys)) => keys,
        _ => {
            return Err(refused(
                "the client does not authenticate with private_key_jwt",
            ));
        }
    };
    let claims = ctx
        .verifier
        .client_assertion(&client, keys, assertion)
        .await
        .map_err(|r| match r {
            Refusal::Unavailable(m) => Failure {
                error: crate::error::TokenError::InvalidClient,
                reason: format!("the client's keys are unavailable: {m}"),
            },
            other => refused(format!("the assertion is refused: {other}")),
        })?;
    check(&claims, &client, ctx)?;
    let jti = claims.jti.as_deref().unwrap_or_default();
    // Every check passed: the `jti` is used now, kept while any leeway could accept it.
    let kept_until = claims.exp.plus(ctx.rules.lifetimes.leeway);
    let first = ctx
        .replay
        .first_use(
            ReplayKind::ClientAssertion,
            replay_digest(client.id.as_str(), jti),
            kept_until,
        )
        .await
        .map_err(|e| Failure::from(crate::error::TokenError::from(e)))?;
    if !first {
        return Err(refused("the assertion was used before (jti)"));
    }
    Ok(client)
}

/// The claim rules of RFC 7523 §3 on a verified assertion of `client`.
pub fn check(
    claims: &ClientAssertionClaims,
    client: &Client,
    ctx: &AssertionContext<'_>,
) -> Result<(), Failure> {
    let id = client.id.as_str();
    // RFC 7523 §3 items 1 and 2 (and OIDC Core §9): iss and sub are the client id, exactly.
    if claims.sub != id || claims.iss != id {
        return Err(refused("iss and sub must both be the client id"));
    }
    let issuer_only =
        ctx.rules.issuer_only || client.security_profile == crate::profile::SecurityProfile::Fapi2;
    if !for_us(&claims.aud, ctx.rules, ctx.endpoint, issuer_only) {
        return Err(refused(if issuer_only {
            "aud must be the issuer identifier, as a single string"
        } else {
            "aud does not name this server (its issuer or the endpoint URL)"
        }));
    }
    check_time(
        claims.exp,
        claims.iat,
        claims.nbf,
        ctx.now,
        &ctx.rules.lifetimes,
    )
    .map_err(|why| refused(format!("the assertion {why}")))?;
    match claims.jti.as_deref() {
        Some(jti) if !jti.is_empty() && jti.len() <= MAX_JTI_LEN => Ok(()),
        _ => Err(refused("the assertion has no usable jti")),
    }
}

#[cfg(test)]
pub(crate) mod tests;
