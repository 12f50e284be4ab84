//! DPoP proofs (RFC 9449): the one implementation of the proof checks, used by Gatehouse at its
//! token and PAR endpoints and by resource servers through the tower layer.
//!
//! A proof is checked in the order of RFC 9449 §4.3, cheap and structural checks before the
//! signature, and the claims only after it, so a forged proof is always reported as a bad
//! signature: one header value, a compact JWS within the size limit, `typ: dpop+jwt`, an
//! asymmetric `alg` from the allowed list, a public `jwk` (no private member) that fits `alg`,
//! the signature by that key, then `jti`, `htm`, `htu`, `iat` within the window, `nbf`/`exp`
//! when present, and `ath` for a resource request. Replay (`jti`) and server nonces are the
//! caller's next steps: [`ReplayCache`] for a resource server, the store's replay cache at the
//! authorization server; [`NonceKey`] for stateless rotating nonces.
//!
//! # Layout
//! - this module: [`DpopSettings`], [`Expected`], [`Proof`], [`ProofError`], [`verify`] and
//!   [`verify_for_resource`].
//! - [`htu`]: the URL normalisation `htu` is compared after (RFC 9449 §4.3 item 9).
//! - [`replay`]: [`ReplayCache`], a bounded in-memory `jti` cache for resource servers.
//! - [`nonce`]: [`NonceKey`], stateless nonces rotating with time (RFC 9449 §8, §9).
//! - [`presentation`]: a resource's check of how a token was presented against its `cnf`
//!   (`Bearer` or `DPoP` scheme, proof, client certificate) and its DPoP challenges.

pub mod htu;
pub mod nonce;
pub mod presentation;
pub mod replay;

use gatehouse_token::{Algorithm, Confirmation, Jwk, KeyParams, UnixTime, b64};
use ring::digest;
use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::json::{MAX_DEPTH, has_unique_members, within_depth};
use crate::keys::{PRIVATE_MEMBERS, VerifyingKey};

pub use nonce::NonceKey;
pub use replay::ReplayCache;

/// The `typ` of a DPoP proof (RFC 9449 §4.2).
pub const PROOF_TYP: &str = "dpop+jwt";
/// The HTTP header carrying a proof (RFC 9449 §4.1).
pub const HEADER: &str = "DPoP";
/// The HTTP header carrying a server nonce (RFC 9449 §8.1).
pub const NONCE_HEADER: &str = "DPoP-Nonce";

/// How proofs are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpopSettings {
    /// The algorithms a proof may be signed with (`dpop_signing_alg_values_supported`, RFC 9449
    /// §5.1); all asymmetric, since [`Algorithm`] has no other kind.
    pub algorithms: Vec<Algorithm>,
    /// How old a proof's `iat` may be, in seconds (RFC 9449 §11.1: a short window).
    pub max_age: u64,
    /// How far in the future a proof's `iat` may be, in seconds (clock skew of the client).
    pub max_future: u64,
    /// The longest proof accepted, in bytes; longer ones are refused before any parsing.
    pub max_len: usize,
}

impl DpopSettings {
    /// The default age window: 60 seconds.
    pub const DEFAULT_MAX_AGE: u64 = 60;
    /// The default future window: 15 seconds (FAPI 2.0 tests 10 seconds of skew).
    pub const DEFAULT_MAX_FUTURE: u64 = 15;
    /// The default size limit: 8 KiB, room for a proof with a 4096-bit RSA key.
    pub const DEFAULT_MAX_LEN: usize = 8 * 1024;
    /// The default algorithms: ES256, PS256, EdDSA and RS256.
    pub const DEFAULT_ALGORITHMS: [Algorithm; 4] = [
        Algorithm::ES256,
        Algorithm::PS256,
        Algorithm::EdDSA,
        Algorithm::RS256,
    ];

    /// Until when a proof issued at `iat` must be remembered: after that its `iat` is outside
    /// the window and it is refused anyway (RFC 9449 §11.1).
    pub fn replay_until(&self, iat: UnixTime) -> UnixTime {
        iat.plus(self.max_age).plus(1)
    }
}

impl Default for DpopSettings {
    fn default() -> Self {
        Self {
            algorithms: Self::DEFAULT_ALGORITHMS.to_vec(),
            max_age: Self::DEFAULT_MAX_AGE,
            max_future: Self::DEFAULT_MAX_FUTURE,
            max_len: Self::DEFAULT_MAX_LEN,
        }
    }
}

/// What the request a proof comes with looks like.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The request's HTTP method, compared exactly with `htm` (RFC 9449 §4.3 item 8).
    pub method: &'a str,
    /// The request's URL (the endpoint URL the server advertises), compared with `htu` after
    /// normalisation, without query and fragment (RFC 9449 §4.3 item 9).
    pub url: &'a str,
    /// The time.
    pub now: UnixTime,
    /// The access token presented with the proof, at a resource: `ath` must be its hash
    /// (RFC 9449 §4.3 item 12). `None` at the authorization server.
    pub access_token: Option<&'a str>,
}

/// A proof that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// The RFC 7638 thumbprint of the proof's key: what a bound token's `cnf.jkt` holds.
    pub jkt: String,
    /// The proof's unique id.
    pub jti: String,
    /// When the client made the proof.
    pub iat: UnixTime,
    /// The server nonce the proof carries, for the caller to check (RFC 9449 §8).
    pub nonce: Option<String>,
    /// The algorithm the proof was signed with.
    pub alg: Algorithm,
}

impl Proof {
    /// The confirmation that binds a token to this proof's key (RFC 9449 §6.1).
    pub fn confirmation(&self) -> Confirmation {
        Confirmation::dpop(self.jkt.clone())
    }
}

/// Why a proof was refused. Every variant is answered as `invalid_dpop_proof` (RFC 9449 §5,
/// §7.1); the message is safe to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// Two `DPoP` headers, or a value that is not text (RFC 9449 §4.3 item 1).
    #[error("exactly one DPoP header is allowed")]
    Multiple,
    /// Longer than the limit.
    #[error("the DPoP proof is too large")]
    TooLarge,
    /// Not a compact JWS of canonical base64url parts with JSON objects inside (§4.3 item 2).
    #[error("the DPoP proof is not a well-formed JWT")]
    Malformed,
    /// The header lacks `typ`, `alg` or `jwk`, or carries `crit` (§4.3 item 4).
    #[error("the DPoP proof header lacks typ, alg or jwk, or carries crit")]
    Header,
    /// `typ` is not `dpop+jwt` (§4.3 item 4).
    #[error("the DPoP proof typ is not dpop+jwt")]
    WrongType,
    /// `alg` is `none`, symmetric, unknown or not allowed (§4.3 item 5).
    #[error("the DPoP proof alg is not one of dpop_signing_alg_values_supported")]
    Algorithm,
    /// `jwk` carries a private or symmetric member (§4.3 item 7).
    #[error("the DPoP proof jwk contains a private key")]
    PrivateKey,
    /// `jwk` is not a public key that fits `alg` (§4.3 item 7).
    #[error("the DPoP proof jwk is not a usable public key for its alg")]
    Key,
    /// The signature does not verify with `jwk` (§4.3 item 6).
    #[error("the DPoP proof signature does not verify")]
    Signature,
    /// A required claim is missing or of the wrong type (§4.3 item 3, §4.2).
    #[error("the DPoP proof lacks jti, htm, htu or iat")]
    Claims,
    /// `htm` is not the request's method (§4.3 item 8).
    #[error("the DPoP proof htm does not match the request method")]
    Method,
    /// `htu` is not the request's URL (§4.3 item 9).
    #[error("the DPoP proof htu does not match the request URL")]
    Url,
    /// `iat` is outside the window, or `nbf`/`exp` say the proof is not valid now (§4.3
    /// item 11, §11.1).
    #[error("the DPoP proof iat is outside the acceptable window")]
    Time,
    /// `ath` is missing or is not the hash of the access token (§4.3 item 12).
    #[error("the DPoP proof ath does not match the access token")]
    AccessTokenHash,
    /// The proof's key is not the key the token is bound to (§4.3 item 12).
    #[error("the DPoP proof key does not match the token's binding")]
    KeyMismatch,
    /// The `jti` was seen before within the window (§11.1).
    #[error("the DPoP proof was already used (jti replay)")]
    Replayed,
    /// The replay cache is full: the proof cannot be remembered, so it is refused.
    #[error("too many DPoP proofs at once; retry")]
    Busy,
}

/// The one `DPoP` header of a request: `Ok(None)` when there is none, an error when there are
/// two or the value is not visible ASCII (RFC 9449 §4.3 item 1).
pub fn single_header<'a, I>(values: I) -> Result<Option<&'a str>, ProofError>
where
    I: IntoIterator<Item = &'a [u8]>,
{
    let mut values = values.into_iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ProofError::Multiple);
    }
    let text = std::str::from_utf8(first).map_err(|_| ProofError::Malformed)?;
    Ok(Some(text))
}

/// The `ath` of an access token: base64url of its SHA-256 (RFC 9449 §4.2).
pub fn access_token_hash(token: &str) -> String {
    b64::encode(digest::digest(&digest::SHA256, token.as_bytes()))
}

/// The proof's header. Unknown members are ignored (RFC 7515 §4), except `crit`, which names
/// extensions this implementation does not understand (RFC 7515 §4.1.11).
#[derive(Deserialize)]
struct Header {
    typ: Option<String>,
    alg: Option<String>,
    jwk: Option<serde_json::Map<String, serde_json::Value>>,
    crit: Option<IgnoredAny>,
}

/// The proof's claims (RFC 9449 §4.2); unknown ones are ignored.
#[derive(Deserialize)]
struct Claims {
    jti: Option<String>,
    htm: Option<String>,
    htu: Option<String>,
    iat: Option<UnixTime>,
    ath: Option<String>,
    nonce: Option<String>,
    nbf: Option<UnixTime>,
    exp: Option<UnixTime>,
}

/// The longest `jti` accepted: far more than the 96 bits of randomness RFC 9449 §4.2 asks for.
const MAX_JTI: usize = 256;

/// Verifies `proof` for the request described by `expected` (RFC 9449 §4.3, items 1-12 but
/// the nonce and replay, which the caller checks next). The proof's key and claims are returned.
pub fn verify(
    settings: &DpopSettings,
    proof: &str,
    expected: &Expected<'_>,
) -> Result<Proof, ProofError> {
    if proof.len() > settings.max_len {
        return Err(ProofError::TooLarge);
    }
    let mut parts = proof.splitn(4, '.');
    let (Some(header_b64), Some(payload_b64), Some(sig_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ProofError::Malformed);
    };
    let header_json = b64::decode(header_b64).map_err(|_| ProofError::Malformed)?;
    if !within_depth(&header_json, MAX_DEPTH) || !has_unique_members(&header_json) {
        return Err(ProofError::Malformed);
    }
    let header: Header = serde_json::from_slice(&header_json).map_err(|_| ProofError::Header)?;
    let (Some(typ), Some(alg), Some(jwk), None) = (header.typ, header.alg, header.jwk, header.crit)
    else {
        return Err(ProofError::Header);
    };
    if !typ.eq_ignore_ascii_case(PROOF_TYP) {
        return Err(ProofError::WrongType);
    }
    let alg: Algorithm = alg.parse().map_err(|_| ProofError::Algorithm)?;
    if !settings.algorithms.contains(&alg) {
        return Err(ProofError::Algorithm);
    }
    let (key, params) = public_key(jwk, alg)?;
    let signature = b64::decode(sig_b64).map_err(|_| ProofError::Malformed)?;
    let signed = &proof[..header_b64.len() + 1 + payload_b64.len()];
    if !key.verify(signed.as_bytes(), &signature) {
        return Err(ProofError::Signature);
    }
    let payload = b64::decode(payload_b64).map_err(|_| ProofError::Malformed)?;
    if !has_unique_members(&payload) {
        return Err(ProofError::Malformed);
    }
    let claims: Claims = serde_json::from_slice(&payload).map_err(|_| ProofError::Claims)?;
    let (Some(jti), Some(htm), Some(htu), Some(iat)) =
        (claims.jti, claims.htm, claims.htu, claims.iat)
    else {
        return Err(ProofError::Claims);
    };
    if jti.is_empty() || jti.len() > MAX_JTI {
        return Err(ProofError::Claims);
    }
    // RFC 9110 §9.1: methods are case-sensitive.
    if htm != expected.method {
        return Err(ProofError::Method);
    }
    if !htu::same(&htu, expected.url) {
        return Err(ProofError::Url);
    }
    let now = expected.now;
    if iat < now.minus(settings.max_age) || iat > now.plus(settings.max_future) {
        return Err(ProofError::Time);
    }
    // Not required by RFC 9449, but a proof that says it is not valid now is not accepted.
    if claims.exp.is_some_and(|exp| exp <= now) || claims.nbf.is_some_and(|nbf| nbf > now) {
        return Err(ProofError::Time);
    }
    if let Some(token) = expected.access_token {
        if claims.ath.as_deref() != Some(access_token_hash(token).as_str()) {
            return Err(ProofError::AccessTokenHash);
        }
    }
    Ok(Proof {
        jkt: params.thumbprint(),
        jti,
        iat,
        nonce: claims.nonce,
        alg,
    })
}

/// The verifier for the `jwk` header member: a public key of a type and curve that fit `alg`
/// (RFC 9449 §4.3 item 7); a private or symmetric member refuses it, and so does an `alg`
/// member naming another algorithm.
fn public_key(
    jwk: serde_json::Map<String, serde_json::Value>,
    alg: Algorithm,
) -> Result<(VerifyingKey, KeyParams), ProofError> {
    if PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
        return Err(ProofError::PrivateKey);
    }
    if jwk
        .get("alg")
        .is_some_and(|a| a.as_str() != Some(alg.as_str()))
    {
        return Err(ProofError::Key);
    }
    let params: KeyParams =
        serde_json::from_value(serde_json::Value::Object(jwk)).map_err(|_| ProofError::Key)?;
    let jwk = Jwk {
        kid: String::new(),
        alg,
        use_: None,
        params,
        x5c: Vec::new(),
    };
    let key = VerifyingKey::from_jwk(&jwk).map_err(|_| ProofError::Key)?;
    Ok((key, jwk.params))
}

/// Verifies the proof of a request to a resource carrying the DPoP-bound `token` whose `cnf`
/// is `cnf` (RFC 9449 §7.1): every check of [`verify`] with `ath`, the proof's key equal to
/// the binding (`cnf.jkt`), and its `jti` not seen before in `replay`.
pub fn verify_for_resource(
    settings: &DpopSettings,
    replay: &ReplayCache,
    proof: &str,
    expected: &Expected<'_>,
    cnf: Option<&Confirmation>,
) -> Result<Proof, ProofError> {
    let proof = verify(settings, proof, expected)?;
    if cnf.and_then(|c| c.jkt.as_deref()) != Some(proof.jkt.as_str()) {
        return Err(ProofError::KeyMismatch);
    }
    replay.first_use(&proof, settings.replay_until(proof.iat), expected.now)?;
    Ok(proof)
}

#[cfg(test)]
mod tests;
