//! The device access token request (RFC 8628 §3.4, §3.5): the device polls with its device
//! code until the person has decided.
//!
//! The store applies one atomic step per poll ([`crate::store::poll_step`]): another client's
//! code is `invalid_grant` and changes nothing (Keycloak CVE-2023-2585); a poll before the
//! interval is `slow_down` and the interval grows by 5 s; an approved code is redeemed by
//! exactly one poll, every later one is `invalid_grant`. The approving person must still be
//! active when the tokens are issued (security matrix §7 item 10).

use super::refresh_token::{FamilyStart, start_family};
use super::{GrantContext, Granted};
use crate::client::{Client, GrantType};
use crate::device::presented_digest;
use crate::error::TokenError;
use crate::request::token::DeviceCodeRequest;
use crate::store::{DeviceStatus, PollOutcome};

fn invalid_grant(description: &str) -> TokenError {
    TokenError::InvalidGrant(description.into())
}

/// Polls for the tokens of a device authorization.
pub async fn grant(
    ctx: &GrantContext<'_>,
    client: &Client,
    req: &DeviceCodeRequest,
) -> Result<Granted, TokenError> {
    if !client.grant_types.contains(&GrantType::DeviceCode) {
        return Err(TokenError::UnauthorizedClient(
            "the client may not use the device authorization grant".into(),
        ));
    }
    // Binding refusals that need nothing of the device authorization come before the poll
    // step, which would spend an approved code (RFC 9449 §5.2, RFC 8705 §3.4).
    super::check_binding_early(ctx, client, None)?;
    let unknown = || invalid_grant("the device code is invalid");
    let digest = presented_digest(&req.device_code).ok_or_else(unknown)?;
    let now = ctx.clock.now();
    let record = match ctx.devices.poll(&digest, &client.id, now).await? {
        None | Some(PollOutcome::OtherClient) => return Err(unknown()),
        Some(PollOutcome::Pending) => return Err(TokenError::AuthorizationPending),
        Some(PollOutcome::SlowDown(interval)) => return Err(TokenError::SlowDown(interval)),
        Some(PollOutcome::Denied) => {
            return Err(TokenError::AccessDenied(
                "the user denied the request".into(),
            ));
        }
        Some(PollOutcome::Expired) => {
            return Err(TokenError::ExpiredToken(
                "the device code expired; start again".into(),
            ));
        }
        Some(PollOutcome::Used) => {
            return Err(invalid_grant("the device code was used already"));
        }
        Some(PollOutcome::Approved(record)) => record,
    };
    let DeviceStatus::Approved(approval) = record.status else {
        return Err(TokenError::Server(
            "an approved device code without its approval".into(),
        ));
    };
    // Disabled (or deleted) between approval and this poll: nothing is issued, and the code is
    // spent (Keycloak CVE-2026-88770, security matrix §7 item 10).
    match ctx.users.get_by_id(&approval.user).await? {
        Some(user) if !user.disabled => {}
        _ => return Err(invalid_grant("the user's account is not active")),
    }
    // The refresh rules of the other grants: a client given the refresh grant gets one.
    let refresh_token = if client.grant_types.contains(&GrantType::RefreshToken) {
        let start = FamilyStart {
            user: &approval.user,
            scope: &record.scope,
            resource: &record.resource,
            auth_time: approval.auth_time,
            sid: None,
            now,
        };
        Some(start_family(ctx, client, start).await?.0)
    } else {
        None
    };
    let mut granted = Granted::access(
        approval.user.as_str().to_owned(),
        record.scope,
        record.resource,
    );
    granted.refresh_token = refresh_token;
    Ok(granted)
}

#[cfg(test)]
mod tests;
