//! The refresh-token grant (RFC 6749 §6, OAuth 2.1 §4.3) with rotation (RFC 9700 §4.14.2).
//!
//! A public client's token is rotated on every use (a confidential client's too, unless the
//! operator says otherwise). The successor is derived from the token with a server key, so a
//! repeat within the grace window (two tabs, two agent processes refreshing at once) gets the
//! same successor without it ever being stored; a repeat after the window revokes the family.

use gatehouse_token::{RefreshTokenText, SecretDigest};
use ring::hmac;

use super::{GrantContext, Granted};
use crate::client::{Client, ClientKind, GrantType};
use crate::error::TokenError;
use crate::grant::authorization_code::ID_TOKEN_LIFETIME;
use crate::id_token::{IdTokenClaims, OPENID, Subject};
use crate::issue::RotationKey;
use crate::request::token::RefreshTokenRequest;
use crate::store::{RefreshToken, Rotation};

fn invalid_grant(description: &str) -> TokenError {
    TokenError::InvalidGrant(description.into())
}

/// The successor of `token`: HMAC-SHA256 under the rotation key, as a refresh token.
pub fn successor(key: &RotationKey, token: &RefreshTokenText) -> RefreshTokenText {
    let key = hmac::Key::new(hmac::HMAC_SHA256, &key.0);
    let tag = hmac::sign(&key, token.as_str().as_bytes());
    let mut bytes = [0u8; 32];
    bytes.copy_from_slice(tag.as_ref());
    RefreshTokenText::from_random(bytes)
}

/// Refreshes: a new access token, and the successor refresh token when it rotates.
pub async fn grant(
    ctx: &GrantContext<'_>,
    client: &Client,
    req: &RefreshTokenRequest,
) -> Result<Granted, TokenError> {
    if !client.grant_types.contains(&GrantType::RefreshToken) {
        return Err(TokenError::UnauthorizedClient(
            "the client may not use the refresh_token grant".into(),
        ));
    }
    let text = RefreshTokenText::parse(&req.refresh_token)
        .map_err(|_| invalid_grant("the refresh token is invalid"))?;
    let digest = text.digest();
    let Some((token, revoked)) = ctx.refresh_tokens.get(&digest).await? else {
        return Err(invalid_grant("the refresh token is invalid"));
    };
    // Another client's token is refused and left untouched (RFC 6749 §6).
    if token.client_id != client.id {
        return Err(invalid_grant(
            "the refresh token was issued to another client",
        ));
    }
    if revoked {
        return Err(invalid_grant("the refresh token was revoked"));
    }
    // RFC 6749 §6: a narrower scope may be asked for, never a wider one.
    let scope = match &req.scope {
        Some(asked) if !asked.is_subset(&token.scope) => {
            return Err(TokenError::InvalidScope(
                "the scope exceeds what the refresh token grants".into(),
            ));
        }
        Some(asked) => asked.clone(),
        None => token.scope.clone(),
    };
    let resource = match &req.resource {
        Some(asked) if !token.resources.contains(asked) => {
            return Err(TokenError::InvalidTarget(
                "the resource was not granted with this refresh token".into(),
            ));
        }
        Some(asked) => asked.clone(),
        None => token
            .resources
            .first()
            .cloned()
            .ok_or_else(|| invalid_grant("the refresh token grants no resource"))?,
    };
    crate::binding::check_refresh(token.cnf.as_ref(), ctx.holder)?;
    let user = match ctx.users.get_by_id(&token.user).await? {
        Some(user) if !user.disabled => user,
        _ => return Err(invalid_grant("the user's account is not active")),
    };
    let refresh_token = rotate(ctx, client, &text, &digest, &token).await?;
    // OIDC Core §12.2: a refresh may return a new ID token (no nonce: there is no request), of
    // the same sign-in (`sid`).
    let now = ctx.clock.now();
    let id_token = scope.contains(OPENID).then(|| {
        let subject = Subject {
            issuer: &ctx.settings.issuer,
            user: &user,
            client: client.id.as_str(),
            scope: &scope,
            auth_time: token.auth_time,
        };
        IdTokenClaims::new(subject, now, ID_TOKEN_LIFETIME, None, token.sid.clone())
    });
    Ok(Granted {
        subject: token.user.as_str().to_owned(),
        scope,
        resource,
        refresh_token,
        code: None,
        id_token,
        act: None,
        not_after: None,
    })
}

/// Rotates the token (or extends its idle life when it does not rotate); the successor's text.
async fn rotate(
    ctx: &GrantContext<'_>,
    client: &Client,
    text: &RefreshTokenText,
    digest: &SecretDigest,
    token: &RefreshToken,
) -> Result<Option<String>, TokenError> {
    let settings = &ctx.settings.refresh;
    let now = ctx.clock.now();
    let idle_expires_at = now.plus(settings.idle_lifetime).min(token.expires_at);
    let rotates = client.kind == ClientKind::Public || settings.rotate_confidential;
    if !rotates {
        if token.expired(now) || !ctx.refresh_tokens.touch(digest, idle_expires_at).await? {
            return Err(invalid_grant("the refresh token is invalid or expired"));
        }
        return Ok(None);
    }
    let next_text = successor(&settings.rotation_key, text);
    let next = RefreshToken {
        issued_at: now,
        idle_expires_at,
        ..token.clone()
    };
    match ctx
        .refresh_tokens
        .rotate(digest, next_text.digest(), next, now, settings.grace)
        .await?
    {
        Rotation::Rotated(_) | Rotation::Grace(_) => Ok(Some(next_text.as_str().to_owned())),
        Rotation::Reused(old) => {
            ctx.alarms.refresh_reused(&old.client_id, &old.family).await;
            Err(invalid_grant("the refresh token was used already"))
        }
        Rotation::Revoked => Err(invalid_grant("the refresh token was revoked")),
        Rotation::Expired | Rotation::Unknown => {
            Err(invalid_grant("the refresh token is invalid or expired"))
        }
    }
}

/// What a new refresh-token family is for: the sign-in it continues.
pub(crate) struct FamilyStart<'a> {
    /// The signed-in user.
    pub user: &'a crate::user::UserId,
    /// The granted scope.
    pub scope: &'a crate::scope::Scope,
    /// The one resource.
    pub resource: &'a crate::resource::Resource,
    /// When the user signed in.
    pub auth_time: gatehouse_token::UnixTime,
    /// The browser session, if the sign-in had one (a logout ends the family).
    pub sid: Option<String>,
    /// The time of the request that starts it.
    pub now: gatehouse_token::UnixTime,
}

/// Starts a refresh-token family for `client` (RFC 6749 §6; lifetimes of RFC 9700 §4.14.2),
/// bound like the access token where the client is public (RFC 9449 §5): the token's text and
/// the family. Only its digest is stored.
pub(crate) async fn start_family(
    ctx: &GrantContext<'_>,
    client: &Client,
    start: FamilyStart<'_>,
) -> Result<(String, String), TokenError> {
    use crate::ports::random_bytes;
    let now = start.now;
    let text = RefreshTokenText::from_random(random_bytes::<32>(ctx.random));
    let family = gatehouse_token::b64::encode(random_bytes::<16>(ctx.random));
    let settings = &ctx.settings.refresh;
    let expires_at = now.plus(settings.lifetime);
    let record = RefreshToken {
        family: family.clone(),
        client_id: client.id.clone(),
        user: start.user.clone(),
        scope: start.scope.clone(),
        resources: vec![start.resource.clone()],
        auth_time: start.auth_time,
        issued_at: now,
        idle_expires_at: now.plus(settings.idle_lifetime).min(expires_at),
        expires_at,
        sid: start.sid,
        cnf: crate::binding::refresh_binding(client, ctx.holder),
    };
    ctx.refresh_tokens.insert(text.digest(), record).await?;
    Ok((text.as_str().to_owned(), family))
}

#[cfg(test)]
mod tests;
