//! The authorization-code grant (RFC 6749 §4.1.3, OAuth 2.1 §4.1.3) with PKCE (RFC 7636 §4.6).
//!
//! The code is redeemed atomically (RFC 9700 §4.2.1: take, not get-then-delete); every check
//! after that burns it, so a stolen code cannot be tried twice. Only the binding checks that
//! need nothing of the code come before (a client without the DPoP proof or certificate it
//! must send keeps the person's approval, RFC 9449 §5.2, RFC 8705 §3.4). A code that comes back
//! after use revokes what it was exchanged for (RFC 9700 §4.5, RFC 6749 §4.1.2).

use gatehouse_token::SecretDigest;

use super::refresh_token::{FamilyStart, start_family};
use super::{GrantContext, Granted};
use crate::authorize::CodeChallenge;
use crate::client::{Client, GrantType};
use crate::error::TokenError;
use crate::id_token::{IdTokenClaims, OPENID, Subject, session_id};
use crate::request::token::AuthorizationCodeRequest;
use crate::store::{AuthorizationCode, Redemption};

/// How long an ID token is valid, seconds: it is read once, by the client, at sign-in.
pub const ID_TOKEN_LIFETIME: u64 = 300;

fn invalid_grant(description: &str) -> TokenError {
    TokenError::InvalidGrant(description.into())
}

/// Exchanges a code for tokens.
pub async fn grant(
    ctx: &GrantContext<'_>,
    client: &Client,
    req: &AuthorizationCodeRequest,
) -> Result<Granted, TokenError> {
    if !client.grant_types.contains(&GrantType::AuthorizationCode) {
        return Err(TokenError::UnauthorizedClient(
            "the client may not use the authorization_code grant".into(),
        ));
    }
    // Binding refusals that need nothing of the code come before it is taken, so that they
    // leave it redeemable (RFC 9449 §5.2, RFC 8705 §3.4); a replay refused here is not reported,
    // but it could not have been issued anything either.
    super::check_binding_early(ctx, client, req.resource.as_ref())?;
    let digest = SecretDigest::of(&req.code);
    let code = match ctx.codes.redeem(&digest).await? {
        Redemption::Fresh(code) => code,
        Redemption::Unknown => return Err(invalid_grant("the code is invalid or expired")),
        Redemption::Replayed(code, issued) => {
            // RFC 9700 §4.5: revoke what the code gave, but only when the replay comes from
            // its own client with its verifier, so that a leaked used code is no lever to
            // revoke someone else's tokens (OAuth 2.1 §7.5.2).
            let verified = req
                .code_verifier
                .as_deref()
                .is_some_and(|v| CodeChallenge::from_stored(code.code_challenge.clone()).verify(v));
            if code.client_id == client.id && verified {
                // Issued already: revoke it now; still being issued (a race with the first
                // redemption): the code is marked, and that redemption revokes its own tokens.
                let issued = match issued {
                    Some(issued) => Some(issued),
                    None => ctx.codes.mark_replayed(&digest).await?,
                };
                ctx.alarms
                    .code_replayed(&code.client_id, issued.as_ref())
                    .await?;
            }
            return Err(invalid_grant("the code was used already"));
        }
    };
    check(ctx, client, req, &code)?;
    crate::binding::check_code(code.dpop_jkt.as_deref(), ctx.holder)?;
    let user = match ctx.users.get_by_id(&code.user).await? {
        Some(user) if !user.disabled => user,
        _ => return Err(invalid_grant("the user's account is not active")),
    };
    let now = ctx.clock.now();
    // The code is bound to the sign-in it came from: signed out (or the password changed, or
    // the account disabled) since, and it is dead.
    match ctx.sessions.get(&code.session).await? {
        Some(session) if session.user == code.user && now < session.expires_at => {}
        _ => return Err(invalid_grant("the sign-in this code came from has ended")),
    }
    // OIDC Core §3.1.3.3: an `openid` request gets an ID token.
    let id_token = code.scope.contains(OPENID).then(|| {
        let subject = Subject {
            issuer: &ctx.settings.issuer,
            user: &user,
            client: client.id.as_str(),
            scope: &code.scope,
            auth_time: code.auth_time,
        };
        let sid = Some(session_id(&code.session));
        IdTokenClaims::new(subject, now, ID_TOKEN_LIFETIME, code.nonce.clone(), sid)
    });
    let (refresh_token, family) = if client.grant_types.contains(&GrantType::RefreshToken) {
        let start = FamilyStart {
            user: &code.user,
            scope: &code.scope,
            resource: &code.resource,
            auth_time: code.auth_time,
            sid: Some(session_id(&code.session)),
            now,
        };
        let (text, family) = start_family(ctx, client, start).await?;
        (Some(text), Some(family))
    } else {
        (None, None)
    };
    Ok(Granted {
        subject: code.user.as_str().to_owned(),
        scope: code.scope,
        resource: code.resource,
        refresh_token,
        code: Some((digest, family)),
        id_token,
        act: None,
        not_after: None,
    })
}

/// The checks of RFC 6749 §4.1.3 and RFC 7636 §4.6 on a code just redeemed.
fn check(
    ctx: &GrantContext<'_>,
    client: &Client,
    req: &AuthorizationCodeRequest,
    code: &AuthorizationCode,
) -> Result<(), TokenError> {
    // Issued to another client: this one may not use it (RFC 6749 §4.1.3).
    if code.client_id != client.id {
        return Err(invalid_grant("the code was issued to another client"));
    }
    if ctx.clock.now() >= code.expires_at {
        return Err(invalid_grant("the code is invalid or expired"));
    }
    // The redirect URI is repeated, identically, when the authorization request had one.
    match (&code.redirect_uri, &req.redirect_uri) {
        (Some(expected), Some(given)) if expected == given => {}
        (Some(_), _) => {
            return Err(invalid_grant(
                "redirect_uri must be the one of the authorization request",
            ));
        }
        (None, Some(given)) if client.redirect_uri(Some(given)).is_none() => {
            return Err(invalid_grant("redirect_uri is not registered"));
        }
        (None, _) => {}
    }
    // RFC 7636 §4.6; a missing verifier is the same failure (and burns the code too).
    let verified = req
        .code_verifier
        .as_deref()
        .is_some_and(|v| CodeChallenge::from_stored(code.code_challenge.clone()).verify(v));
    if !verified {
        return Err(invalid_grant(
            "the code_verifier does not match the code_challenge",
        ));
    }
    // RFC 8707 §2.2: the token may be narrowed to the granted resource, never widened.
    if req.resource.as_ref().is_some_and(|r| *r != code.resource) {
        return Err(TokenError::InvalidTarget(
            "the resource was not granted with this code".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
