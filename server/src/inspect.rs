//! Resolving a presented token to its claims: the shared first step of introspection and
//! revocation. Opaque tokens are recognised by prefix and checksum before any lookup; JWTs are
//! verified by the validator without touching the store.

use std::sync::Arc;

use gatehouse_core::client::Client;
use gatehouse_core::{TokenError, client_auth};
use gatehouse_token::{AccessTokenClaims, OpaqueToken, TokenDigest, UnixTime};
use gatehouse_validator::Rejection;

use crate::form::OAuthForm;
use crate::state::App;

/// The common start of introspection (RFC 7662 §2.1) and revocation (RFC 7009 §2.1): the caller
/// authenticates as a client and names one `token`; `token_type_hint` may be ignored but must
/// not repeat.
pub async fn authenticated_token<'r>(
    app: &App,
    req: &'r OAuthForm,
) -> Result<(Arc<Client>, &'r str), TokenError> {
    let presented = client_auth::extract(req.authorization.as_deref(), &req.form)?;
    let client = client_auth::authenticate(&presented, app.clients.as_ref()).await?;
    let token = req
        .form
        .single("token")?
        .ok_or_else(|| TokenError::InvalidRequest("missing token".into()))?;
    req.form.single("token_type_hint")?;
    Ok((client, token))
}

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
