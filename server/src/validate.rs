//! Validating a presented token: the shared step of introspection and revocation. The validator does the work: opaque tokens are recognised by prefix and checksum
//! before any lookup; JWTs are verified without touching the store. Then the token's client
//! must still exist: deleting a client ends every token issued to it, at once and for good
//! (the check is against the client set in memory, which a restart reloads from the store).

use std::sync::Arc;

use async_trait::async_trait;
use gatehouse_core::TokenError;
use gatehouse_core::client::Client;
use gatehouse_core::request::TokenReference;
use gatehouse_core::store::AccessTokenStore;
use gatehouse_token::{SecretDigest, UnixTime};
use gatehouse_validator::{Invalid, LookupError, OpaqueRecord, OpaqueTokens, Rejection, Valid};

use crate::form::OAuthForm;
use crate::state::{ClientAuth, Inspection};

/// The common start of introspection (RFC 7662 §2.1) and revocation (RFC 7009 §2.1): the caller
/// authenticates as a client and names one token.
pub async fn authenticated_token(
    auth: &ClientAuth,
    req: &OAuthForm,
    endpoint: &str,
) -> Result<(Arc<Client>, TokenReference), TokenError> {
    let client = crate::authenticate::client(auth, req, endpoint).await?;
    Ok((client, TokenReference::parse(&req.form)?))
}

/// The store's opaque tokens, as the validator's lookup port sees them.
#[expect(
    missing_debug_implementations,
    reason = "a borrowed trait object have no Debug"
)]
#[derive(Clone, Copy)]
pub struct StoredOpaque<'a>(pub &'a dyn AccessTokenStore);

#[async_trait]
impl OpaqueTokens for StoredOpaque<'_> {
    async fn lookup(&self, digest: &SecretDigest) -> Result<Option<OpaqueRecord>, LookupError> {
        let stored = self
            .0
            .get(digest)
            .await
            .map_err(|e| LookupError(e.to_string()))?;
        Ok(stored.map(|t| OpaqueRecord {
            claims: t.claims,
            revoked: t.revoked,
        }))
    }
}

/// Why a presented token is inactive (for the log; the caller only ever learns "inactive").
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Inactive {
    /// The token itself is not valid.
    #[error(transparent)]
    Token(#[from] Rejection),
    /// The client it was issued to was deleted.
    #[error("its client was deleted")]
    ClientDeleted,
}

/// Validates `token` at `now` (JWTs locally, opaque tokens through the store) and checks that
/// its client still exists. Only a storage failure is an error; every reason for the token to
/// be inactive is an `Err(Inactive)` inside.
pub async fn token(
    app: &Inspection,
    token: &str,
    now: UnixTime,
) -> Result<Result<Valid, Inactive>, TokenError> {
    let valid = match app
        .validator
        .validate(token, now, None, &StoredOpaque(app.tokens.as_ref()))
        .await
    {
        Ok(valid) => valid,
        Err(Invalid::Rejected(reason)) => return Ok(Err(reason.into())),
        Err(Invalid::Lookup(e)) => return Err(TokenError::TemporarilyUnavailable(e.to_string())),
    };
    if !app.auth.clients.contains(&valid.claims().client_id).await? {
        return Ok(Err(Inactive::ClientDeleted));
    }
    Ok(Ok(valid))
}
