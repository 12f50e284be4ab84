//! Resolving a presented token to its claims: the shared first step of introspection and
//! revocation. The validator does the work: opaque tokens are recognised by prefix and checksum
//! before any lookup; JWTs are verified without touching the store.

use std::sync::Arc;

use async_trait::async_trait;
use gatehouse_core::client::Client;
use gatehouse_core::store::AccessTokenStore;
use gatehouse_core::{TokenError, client_auth};
use gatehouse_token::{TokenDigest, UnixTime};
use gatehouse_validator::{Invalid, LookupError, OpaqueRecord, OpaqueTokens, Rejection, Valid};

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

/// The store's opaque tokens, as the validator's lookup port sees them.
#[allow(missing_debug_implementations)] // a borrowed trait object
#[derive(Clone, Copy)]
pub struct StoredOpaque<'a>(pub &'a dyn AccessTokenStore);

#[async_trait]
impl OpaqueTokens for StoredOpaque<'_> {
    async fn lookup(&self, digest: &TokenDigest) -> Result<Option<OpaqueRecord>, LookupError> {
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

/// Validates `token` at `now` (JWTs locally, opaque tokens through the store). Only a storage
/// failure is an error; every flaw of the token itself is an `Err(Rejection)` inside.
pub async fn inspect(
    app: &App,
    token: &str,
    now: UnixTime,
) -> Result<Result<Valid, Rejection>, TokenError> {
    match app
        .validator
        .validate(token, now, None, &StoredOpaque(app.tokens.as_ref()))
        .await
    {
        Ok(valid) => Ok(Ok(valid)),
        Err(Invalid::Rejected(reason)) => Ok(Err(reason)),
        Err(Invalid::Lookup(e)) => Err(TokenError::TemporarilyUnavailable(e.to_string())),
    }
}
