//! Client authentication at the token, introspection and revocation endpoints: `core` judges
//! the credentials; this module holds every attempt to the credential-guessing limit first
//! ([`crate::throttle`]) and counts the failures.

use std::sync::Arc;

use gatehouse_core::TokenError;
use gatehouse_core::client::auth::{self, Credentials};
use gatehouse_core::client::{Client, MAX_CLIENT_ID_LEN};

use crate::form::OAuthForm;
use crate::state::ClientAuth;
use crate::throttle::address_key;

fn too_many(retry_after: u64) -> TokenError {
    TokenError::TooManyRequests {
        detail: format!("too many failed client authentications; retry in {retry_after} s"),
        retry_after,
    }
}

/// Authenticates the client of `req`, or refuses it: 429 while its address, or its client id
/// (unless this address is one the client authenticated from lately), is over the limit of
/// failed attempts, the right secret included; 401 `invalid_client` for bad credentials
/// (counted against both, and against the pair).
pub async fn client(app: &ClientAuth, req: &OAuthForm) -> Result<Arc<Client>, TokenError> {
    let now = app.clock.now();
    let address = req.peer.map(address_key);
    if let Some(address) = &address {
        app.throttle
            .addresses
            .check(address, now)
            .map_err(too_many)?;
    }
    let credentials = Credentials::from_request(req.authorization.as_deref(), &req.form);
    // Ids longer than any real one are not tracked by id (the address still is).
    let id = credentials
        .as_ref()
        .ok()
        .and_then(|c| c.client_id())
        .filter(|id| id.len() <= MAX_CLIENT_ID_LEN);
    let id = id.as_deref();
    if let Some(id) = id {
        if let Err(retry_after) = app.throttle.clients.check(id, now) {
            let exempt = address.is_some_and(|a| app.throttle.exempt(id, a, now));
            if !exempt {
                return Err(too_many(retry_after));
            }
        }
    }
    let result = match &credentials {
        Ok(c) => auth::authenticate(c, app.clients.as_ref()).await,
        Err(e) => Err(e.clone()),
    };
    if let (Ok(client), Some(address)) = (&result, address) {
        app.throttle.succeeded(client.id.as_str(), address, now);
    }
    if matches!(result, Err(TokenError::InvalidClient)) {
        let shown = id.map(|i| i.chars().take(64).collect::<String>());
        // One line per failure would let a flood of failures fill the disk: failures are
        // debug, a lock is one warning.
        tracing::debug!(client_id = ?shown, peer = ?address, "client authentication failed");
        if address.is_some_and(|a| app.throttle.addresses.fail(&a, now)) {
            tracing::warn!(peer = ?address, "too many failed client authentications from this address: refused until the window ends");
        }
        if let (Some(id), Some(address)) = (id, address) {
            app.throttle.failed_from(id, address, now);
        }
        if id.is_some_and(|id| app.throttle.clients.fail(id, now)) {
            tracing::warn!(client_id = ?shown, "too many failed authentications as this client: refused (but from its known addresses) until the window ends");
        }
    }
    result
}
