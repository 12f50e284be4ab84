//! Resolving a presented token to its claims: the shared first step of introspection and
//! revocation. Opaque tokens are recognised by prefix and checksum before any lookup; JWTs are
//! verified by the validator without touching the store.

use gatehouse_core::TokenError;
use gatehouse_token::{AccessTokenClaims, OpaqueToken, TokenDigest, UnixTime};
use gatehouse_validator::Rejection;

use crate::state::App;

/// What a presented token turned out to be.
#[derive(Debug)]
pub enum Inspected {
    /// A valid JWT access token.
    Jwt(AccessTokenClaims),
    /// A valid opaque access token.
    Opaque(TokenDigest, AccessTokenClaims),
    /// Not a valid token, for this reason (never shown to the caller).
    Inactive(Rejection),
}

/// Inspects `token` at `now`. Only a storage failure is an error: every flaw of the token itself
/// is [`Inspected::Inactive`].
pub async fn inspect(app: &App, token: &str, now: UnixTime) -> Result<Inspected, TokenError> {
    if OpaqueToken::has_prefix(token) {
        let Ok(opaque) = OpaqueToken::parse(token) else {
            return Ok(Inspected::Inactive(Rejection::Malformed));
        };
        let digest = opaque.digest();
        let Some(stored) = app.tokens.get(&digest).await? else {
            return Ok(Inspected::Inactive(Rejection::Unknown));
        };
        if stored.revoked {
            return Ok(Inspected::Inactive(Rejection::Revoked));
        }
        return Ok(
            match app.validator.check_claims(&stored.claims, now, None) {
                Ok(()) => Inspected::Opaque(digest, stored.claims),
                Err(reason) => Inspected::Inactive(reason),
            },
        );
    }
    Ok(match app.validator.validate_jwt(token, now, None) {
        Ok(claims) => Inspected::Jwt(claims),
        Err(reason) => Inspected::Inactive(reason),
    })
}
