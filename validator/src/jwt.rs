//! Strict parsing and verification of compact JWS access tokens.
//!
//! Order matters: size first (before any work), then shape, header rules, key lookup, algorithm
//! binding, signature, and only then the claims, so a forged token is always reported as a bad
//! signature and never as, say, expired (golang-jwt CVE-2024-51744).

use gatehouse_token::{AccessTokenClaims, b64};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::json::{MAX_DEPTH, has_unique_members, within_depth};
use crate::keys::KeySnapshot;
use crate::rejection::Rejection;

/// The protected header of an access token. Exactly these members are allowed: anything else
/// (`jku`, `jwk`, `x5u`, `x5c`, `crit`, `b64`, `zip`, `enc`, `cty`, ...) is refused, as is a
/// member given twice (RFC 7515 §4, RFC 8725 §3.10).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    alg: String,
    kid: Option<String>,
    typ: Option<String>,
}

/// RFC 9068 §4: `typ` must be `at+jwt` or `application/at+jwt` (media types compare
/// case-insensitively, RFC 7515 §4.1.9), so an ID token can never pass as an access token.
fn is_access_token_typ(typ: &str) -> bool {
    media_type_is(typ, "at+jwt")
}

/// Whether a JOSE `typ` names the media type `name`, compared as RFC 7515 §4.1.9 says:
/// case-insensitively, with the `application/` prefix optional.
pub fn media_type_is(typ: &str, name: &str) -> bool {
    let bare = typ
        .get(..12)
        .filter(|p| p.eq_ignore_ascii_case("application/"))
        .map_or(typ, |_| typ.get(12..).unwrap_or_default());
    bare.eq_ignore_ascii_case(name)
}

/// Verifies the signature of `token` against `keys` and returns its claims (not yet checked
/// against the policy) and the `kid` of the key that signed it.
pub fn verify(
    keys: &KeySnapshot,
    token: &str,
    max_len: usize,
) -> Result<(AccessTokenClaims, String), Rejection> {
    verify_with(keys, token, max_len, |typ| {
        typ.is_some_and(is_access_token_typ)
    })
}

/// OIDC Core §2: Gatehouse writes `typ: JWT` on its ID tokens.
pub fn is_id_token_typ(typ: Option<&str>) -> bool {
    typ == Some("JWT")
}

/// The claims of an ID token that an `id_token_hint` is read for (OIDC RP-Initiated Logout
/// 1.0 §2): who, for which client, in which session.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IdTokenHint {
    /// The issuer.
    pub iss: String,
    /// The user.
    pub sub: String,
    /// The client.
    pub aud: String,
    /// The session, if the token named one.
    #[serde(default)]
    pub sid: Option<String>,
}

/// Verifies an ID token of ours, as an `id_token_hint`: signature, key and algorithm binding as
/// for access tokens, `typ: JWT`; its expiry is not checked (a hint may have expired, OIDC
/// RP-Initiated Logout 1.0 §2).
pub fn verify_id_token_hint(
    keys: &KeySnapshot,
    token: &str,
    max_len: usize,
) -> Result<IdTokenHint, Rejection> {
    verify_with(keys, token, max_len, is_id_token_typ).map(|(claims, _)| claims)
}

/// [`verify`] for a token whose `typ` header (absent: `None`) passes `typ_ok`, with claims of
/// type `C`: the same size, shape, header, key, algorithm-binding, signature and duplicate-member
/// rules, for any kind of JWT (an ID token of ours, an external issuer's assertion). The claims
/// are only parsed, not checked: that is the caller's business.
pub fn verify_with<C: DeserializeOwned>(
    keys: &KeySnapshot,
    token: &str,
    max_len: usize,
    typ_ok: fn(Option<&str>) -> bool,
) -> Result<(C, String), Rejection> {
    verify_inner(keys, token, max_len, typ_ok, false)
}

/// [`verify_with`] for a JWT signed by a party with a small key set of its own, such as a
/// client assertion (RFC 7523 §2.2): when the header names no `kid` and the set holds exactly
/// one key, that key is the one (RFC 7515 §4.1.4 makes `kid` optional); with several keys a
/// `kid` is required. Every other rule is [`verify_with`]'s: the key's own algorithm, never the
/// header's choice; no `jwk`, `jku`, `x5u`, `x5c` or `crit`.
pub fn verify_with_only_key<C: DeserializeOwned>(
    keys: &KeySnapshot,
    token: &str,
    max_len: usize,
    typ_ok: fn(Option<&str>) -> bool,
) -> Result<(C, String), Rejection> {
    verify_inner(keys, token, max_len, typ_ok, true)
}

fn verify_inner<C: DeserializeOwned>(
    keys: &KeySnapshot,
    token: &str,
    max_len: usize,
    typ_ok: fn(Option<&str>) -> bool,
    only_key: bool,
) -> Result<(C, String), Rejection> {
    if token.len() > max_len {
        return Err(Rejection::TooLarge);
    }
    let mut parts = token.splitn(4, '.');
    let (Some(header_b64), Some(payload_b64), Some(sig_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Rejection::Malformed);
    };
    let header_json = b64::decode(header_b64).map_err(|_| Rejection::Malformed)?;
    if !within_depth(&header_json, MAX_DEPTH) {
        return Err(Rejection::Header);
    }
    let header: Header = serde_json::from_slice(&header_json).map_err(|_| Rejection::Header)?;
    if !typ_ok(header.typ.as_deref()) {
        return Err(Rejection::WrongType);
    }
    let (kid, key) = match header.kid {
        Some(kid) => {
            let key = keys.get(&kid).ok_or(Rejection::UnknownKey)?;
            (kid, key)
        }
        None if only_key => {
            let (kid, key) = keys.only().ok_or(Rejection::Header)?;
            (kid.to_owned(), key)
        }
        None => return Err(Rejection::Header),
    };
    if key.algorithm().as_str() != header.alg {
        return Err(Rejection::AlgorithmMismatch);
    }
    let signature = b64::decode(sig_b64).map_err(|_| Rejection::Malformed)?;
    let signed = &token[..header_b64.len() + 1 + payload_b64.len()];
    if !key.verify(signed.as_bytes(), &signature) {
        return Err(Rejection::BadSignature);
    }
    let payload = b64::decode(payload_b64).map_err(|_| Rejection::Malformed)?;
    if !has_unique_members(&payload) {
        return Err(Rejection::Malformed);
    }
    let claims = serde_json::from_slice(&payload).map_err(|_| Rejection::Malformed)?;
    Ok((claims, kid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typ_values() {
        for ok in [
            "at+jwt",
            "AT+JWT",
            "application/at+jwt",
            "Application/At+Jwt",
        ] {
            assert!(is_access_token_typ(ok), "{ok}");
        }
        for bad in [
            "JWT",
            "jwt",
            "",
            "application/jwt",
            "at+jwt ",
            "xapplication/at+jwt",
            "id_token+jwt",
        ] {
            assert!(!is_access_token_typ(bad), "{bad}");
        }
    }
}
