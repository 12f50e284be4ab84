//! The device authorization endpoint (RFC 8628 §3.1, §3.2): authenticate the client as at the
//! token endpoint (or take a public client by its `client_id`), hold it to the per-address and
//! per-client limits ([`crate::throttle::DeviceStartThrottle`]: per client and address for a
//! public client) (RFC 8628 §5.1: the user-code space must not be exhausted), let `core`
//! decide and store, answer the codes and where the person goes.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use gatehouse_core::TokenError;
use gatehouse_core::device;
use gatehouse_core::request::device::DeviceAuthorizationRequest;
use serde::Serialize;

use crate::error::{OAuthError, no_store};
use crate::form::OAuthForm;
use crate::routes::paths;
use crate::state::{Devices, Part};
use crate::throttle::address_key;

/// RFC 8628 §3.2.
#[derive(Debug, Serialize)]
struct Answer {
    device_code: String,
    user_code: String,
    verification_uri: String,
    verification_uri_complete: String,
    expires_in: u64,
    interval: u64,
}

fn too_many(retry_after: u64) -> TokenError {
    TokenError::TooManyRequests {
        detail: format!("too many device authorizations; retry in {retry_after} s"),
        retry_after,
    }
}

/// `POST /device_authorization`.
pub async fn handle(
    State(app): State<Part<Devices>>,
    req: OAuthForm,
) -> Result<Response, OAuthError> {
    let now = app.auth.clock.now();
    if let Some(peer) = req.peer {
        app.per_address
            .take(&address_key(peer), now)
            .map_err(too_many)?;
    }
    let client = crate::authenticate::client(
        &app.auth,
        &req,
        gatehouse_core::discovery::paths::DEVICE_AUTHORIZATION,
    )
    .await?;
    // A public client's id is anyone's to use: counted per (client, address) under a higher
    // ceiling, so strangers cannot use up its genuine devices' budget.
    let public = matches!(client.kind, gatehouse_core::client::ClientKind::Public);
    app.per_client
        .take(client.id.as_str(), public, req.peer.map(address_key), now)
        .map_err(too_many)?;
    let request = DeviceAuthorizationRequest::parse(&req.form)?;
    let registry = app.resources.current();
    let started = device::start(
        &client,
        &request,
        &registry,
        app.store.as_ref(),
        app.random.as_ref(),
        app.settings,
        now,
    )
    .await?;
    let verification_uri = format!("{}{}", app.issuer, paths::DEVICE);
    let body = Answer {
        device_code: started.device_code.as_str().to_owned(),
        user_code: started.user_code.display(),
        // RFC 8628 §3.3.1: the code in the URI; the page still asks the person to confirm it.
        verification_uri_complete: format!(
            "{verification_uri}?user_code={}",
            started.user_code.display()
        ),
        verification_uri,
        expires_in: started.expires_in,
        interval: started.interval,
    };
    Ok((no_store(), Json(body)).into_response())
}
