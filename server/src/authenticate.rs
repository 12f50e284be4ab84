//! Client authentication at the token, introspection, revocation, PAR and device authorization
//! endpoints: `core` judges the credentials (a `private_key_jwt` assertion's signature through
//! [`crate::clients::AssertionKeys`]; a client certificate's chain is judged here first, against
//! `tls.client_ca_file`); this module holds every attempt to the credential-guessing limit first
//! ([`crate::throttle`]), counts the failures and logs why each failed (at debug level; never a
//! credential).

use std::sync::Arc;

use gatehouse_core::TokenError;
use gatehouse_core::client::auth::tls::PresentedCertificate;
use gatehouse_core::client::auth::{self, AssertionContext, AuthContext, Credentials};
use gatehouse_core::client::{Client, ClientOrigin, MAX_CLIENT_ID_LEN};
use gatehouse_token::UnixTime;

use crate::form::OAuthForm;
use crate::state::ClientAuth;
use crate::throttle::address_key;

fn too_many(retry_after: u64) -> TokenError {
    TokenError::TooManyRequests {
        detail: format!("too many failed client authentications; retry in {retry_after} s"),
        retry_after,
    }
}

/// How stale a dynamically registered client's `last_used` may get before a use rewrites it:
/// an hour, or a quarter of the idle expiry when that is shorter, so a client in use never
/// expires.
pub const TOUCH_EVERY: u64 = 3_600;

/// Records that a dynamically registered client was used (at most one write per
/// [`TOUCH_EVERY`]); a failed write is logged, never the request's failure.
async fn touch(app: &ClientAuth, client: &Client, now: UnixTime) {
    let ClientOrigin::Dynamic { last_used, .. } = &client.origin else {
        return;
    };
    if last_used.plus(TOUCH_EVERY.min(app.dynamic_idle_expiry / 4)) > now {
        return;
    }
    if let Err(e) = app.clients.record_use(&client.id, now).await {
        tracing::warn!(client_id = %client.id, error = %e, "recording a client's use failed");
    }
}

/// Authenticates the client of `req` at the endpoint whose path (under the issuer) is
/// `endpoint` (one of [`gatehouse_core::discovery::paths`]: its URL is an audience a client
/// assertion may name), or refuses it: 429 while its address, or its client id (unless this
/// address is one the client authenticated from lately), is over the limit of failed attempts,
/// the right secret included; 401 `invalid_client` for bad credentials (counted against both,
/// and against the pair).
pub async fn client(
    app: &ClientAuth,
    req: &OAuthForm,
    endpoint: &str,
) -> Result<Arc<Client>, TokenError> {
    let now = app.clock.now();
    let address = req.peer.map(address_key);
    if let Some(address) = &address {
        app.throttle
            .addresses
            .check(address, now)
            .map_err(too_many)?;
    }
    let credentials =
        Credentials::from_request(req.authorization.as_deref(), &req.form).map(|mut c| {
            // RFC 8705 §2.1: the chain is judged here, where the CAs and the clock are; only
            // when the certificate may be the credential (no secret was sent), as checking it
            // costs a signature verification.
            let by_certificate = matches!(c.presented(), Ok(auth::Presented::None { .. }));
            c.certificate = req.client_certificate.clone().map(|certificate| {
                let chain_trusted = by_certificate
                    && app
                        .client_cas
                        .as_ref()
                        .is_some_and(|cas| cas.trusted(&certificate, now.0));
                PresentedCertificate {
                    certificate,
                    chain_trusted,
                }
            });
            c
        });
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
    let endpoint_url = format!("{}{endpoint}", app.issuer);
    let ctx = AuthContext {
        clients: app.clients.as_ref(),
        assertions: AssertionContext {
            verifier: app.assertion_keys.as_ref(),
            replay: app.replay.as_ref(),
            rules: &app.assertion_rules,
            endpoint: &endpoint_url,
            now,
        },
    };
    let result = match &credentials {
        Ok(c) => auth::authenticate(c, &ctx).await.map_err(|f| {
            if f.error == TokenError::InvalidClient {
                let shown = id.map(|i| i.chars().take(64).collect::<String>());
                tracing::debug!(client_id = ?shown, reason = %f.reason, "client authentication refused");
            }
            f.error
        }),
        Err(e) => Err(e.clone()),
    };
    let result = match result {
        // A registration left unused has expired, whether or not the purge has run yet: the
        // client is told `invalid_client`, so SDKs register again (mcp-auth.md §4.6).
        Ok(client) if client.origin.expired(app.dynamic_idle_expiry, now) => {
            Err(TokenError::InvalidClient)
        }
        // FAPI 2.0 SP §5.3.2.1 item 4: only private_key_jwt and mutual TLS; a client
        // registered before the server's profile was raised is refused, not let through.
        Ok(client)
            if !app
                .profile
                .strictest(client.security_profile)
                .allows_auth_method(client.auth_method()) =>
        {
            tracing::debug!(client_id = %client.id, method = client.auth_method().as_str(), "client authentication refused: the security profile does not allow its method");
            Err(TokenError::InvalidClient)
        }
        Ok(client) => {
            touch(app, &client, now).await;
            Ok(client)
        }
        Err(e) => Err(e),
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
