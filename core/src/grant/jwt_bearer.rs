//! The JWT bearer grant (RFC 7523 §2.1) with the Identity Assertion JWT Authorization Grant
//! profile (MCP Enterprise-Managed Authorization §5, draft-ietf-oauth-identity-assertion-authz-
//! grant §4.4): a client presents an ID-JAG its enterprise IdP issued, and gets an access token
//! for the user the IdP vouches for, at the resource the IdP named.
//!
//! The verifier port checks the signature with a key of an issuer trusted for ID-JAGs, under an
//! algorithm allowed for that issuer, and `typ: oauth-id-jag+jwt`. This module checks the rest,
//! in the order of RFC 7523 §3, and burns the `jti` only once everything passed: a refused
//! assertion changes nothing, and of two concurrent redemptions of one assertion exactly one
//! succeeds (the replay cache is atomic).
//!
//! Subjects: the token's `sub` is the assertion's `sub` mapped by the issuer's
//! [`crate::assertion::SubjectMapping`] (`<iss>#<sub>` by default), so two IdPs' users, or an
//! IdP's user and one of ours, can never share a subject.

use gatehouse_token::{Audience, UnixTime};

use super::{GrantContext, Granted, target};
use crate::assertion::{AssertionSettings, ExternalUse, Refusal};
use crate::client::{Client, ClientKind, GrantType};
use crate::error::TokenError;
use crate::request::token::JwtBearerRequest;
use crate::resource::Resource;
use crate::scope::Scope;
use crate::store::{ReplayKind, replay_digest};

/// The longest `jti` accepted.
pub const MAX_JTI_LEN: usize = 256;

/// Decides what an authenticated client gets for an ID-JAG.
pub async fn grant(
    ctx: &GrantContext<'_>,
    client: &Client,
    req: &JwtBearerRequest,
) -> Result<Granted, TokenError> {
    permitted(client, GrantType::JwtBearer)?;
    let jwt = ctx
        .verifier
        .external(&req.assertion, ExternalUse::IdJag)
        .await
        .map_err(|r| refused("assertion", r, TokenError::InvalidGrant))?;
    let claims = &jwt.claims;
    let invalid = |why: &str| TokenError::InvalidGrant(format!("the assertion {why}"));
    // RFC 7523 §3 item 2: a subject.
    if claims.sub.is_empty() {
        return Err(invalid("has an empty sub"));
    }
    // RFC 7523 §3 item 3; MCP EMA §7.6.2: `aud` is our issuer identifier, exactly.
    if !is_only(&claims.aud, &ctx.settings.issuer) {
        return Err(invalid("is not for this authorization server (aud)"));
    }
    // RFC 7523 §3 items 4 to 6; the ID-JAG requires `iat` (draft §3.1, MCP EMA §7.4.1).
    let Some(iat) = claims.iat else {
        return Err(invalid("has no iat"));
    };
    check_time(
        claims.exp,
        Some(iat),
        claims.nbf,
        ctx.clock.now(),
        ctx.assertions,
    )
    .map_err(invalid)?;
    // RFC 7523 §3 item 7; MCP EMA §7.4.2: replay protection is required, so a `jti` is too.
    let jti = match claims.jti.as_deref() {
        Some(jti) if !jti.is_empty() && jti.len() <= MAX_JTI_LEN => jti,
        _ => return Err(invalid("has no usable jti")),
    };
    // MCP EMA §5.1: issued to the client that presents it.
    if claims.client_id.as_deref() != Some(client.id.as_str()) {
        return Err(invalid("was issued to another client (client_id)"));
    }
    let (resource, scope) = assertion_target(ctx, client, claims, req)?;
    // Every check passed: now the `jti` is used, kept until no leeway could accept it again.
    let kept_until = claims.exp.plus(ctx.assertions.leeway);
    let digest = replay_digest(&claims.iss, jti);
    if !ctx
        .replay
        .first_use(ReplayKind::GrantAssertion, digest, kept_until)
        .await?
    {
        return Err(invalid("was used before (jti)"));
    }
    Ok(Granted::access(
        jwt.subjects.subject(&claims.iss, &claims.sub),
        scope,
        resource,
    ))
}

/// Whether `client` may use a grant that acts on other issuers' or other tokens' authority:
/// registered for it, by an operator (a self-registered client never is), and able to
/// authenticate (MCP EMA §7.7; RFC 6749 §5.2 `unauthorized_client`).
pub(crate) fn permitted(client: &Client, grant: GrantType) -> Result<(), TokenError> {
    let name = grant.as_str();
    if client.origin.is_self_registered() {
        return Err(TokenError::UnauthorizedClient(format!(
            "only clients registered by an operator may use the {name} grant"
        )));
    }
    if client.kind == ClientKind::Public {
        return Err(TokenError::UnauthorizedClient(format!(
            "a public client may not use the {name} grant"
        )));
    }
    if !client.grant_types.contains(&grant) {
        return Err(TokenError::UnauthorizedClient(format!(
            "the client may not use the {name} grant"
        )));
    }
    Ok(())
}

/// A refusal of the verifier as the error of the request: `what` names the token; `code` is the
/// error for an invalid one (`invalid_grant` for an assertion, RFC 7521 §4.1.1; `invalid_request`
/// for an exchanged token, RFC 8693 §2.2.2). Keys that cannot be had now are the server's
/// problem, not the token's.
pub(crate) fn refused(what: &str, refusal: Refusal, code: fn(String) -> TokenError) -> TokenError {
    match refusal {
        Refusal::Unavailable(m) => TokenError::TemporarilyUnavailable(m),
        other => code(format!("the {what} is invalid: {other}")),
    }
}

/// Whether `aud` names `issuer` and nothing else: an assertion meant for several parties could
/// be presented at each, and each keeps its own replay cache (security matrix §3.26).
pub(crate) fn is_only(aud: &Audience, issuer: &str) -> bool {
    match aud {
        Audience::One(one) => one == issuer,
        Audience::Many(many) => matches!(many.as_slice(), [one] if one == issuer),
    }
}

/// The time rules of RFC 7519 §4.1.4–§4.1.6 and RFC 7523 §3 items 4–6, with the leeway:
/// not expired, not before `nbf`, not issued in the future, valid at some moment, and not living
/// longer than the longest lifetime allowed (an unreasonably far `exp`).
pub(crate) fn check_time(
    exp: UnixTime,
    iat: Option<UnixTime>,
    nbf: Option<UnixTime>,
    now: UnixTime,
    settings: &AssertionSettings,
) -> Result<(), &'static str> {
    let leeway = settings.leeway;
    if now >= exp.plus(leeway) {
        return Err("has expired (exp)");
    }
    if iat.is_some_and(|iat| iat > exp) || nbf.is_some_and(|nbf| nbf > exp) {
        return Err("is valid at no time (iat or nbf after exp)");
    }
    if nbf.is_some_and(|nbf| nbf > now.plus(leeway)) {
        return Err("is not valid yet (nbf)");
    }
    if iat.is_some_and(|iat| iat > now.plus(leeway)) {
        return Err("was issued in the future (iat)");
    }
    let too_long = iat.is_some_and(|iat| exp.0.saturating_sub(iat.0) > settings.max_lifetime);
    if too_long || exp > now.plus(settings.max_lifetime.saturating_add(leeway)) {
        return Err("lives longer than this server accepts (exp)");
    }
    Ok(())
}

/// The audience and scope of the token (MCP EMA §5.1, §7.2.1, §7.6.2):
/// - the assertion's `resource`, which a `resource` parameter must name too (RFC 8707 §2:
///   `invalid_target`); without one in the assertion, the request's or the default;
/// - the intersection of the requested scope and the assertion's, or the assertion's when none
///   is requested; without one in the assertion, the request's or the default;
/// - then the one target decision of every grant ([`target::decide`]): what the assertion
///   names must be allowed for this client here, else `invalid_grant` (the assertion is what
///   is wrong).
fn assertion_target(
    ctx: &GrantContext<'_>,
    client: &Client,
    claims: &crate::assertion::ExternalClaims,
    req: &JwtBearerRequest,
) -> Result<(Resource, Scope), TokenError> {
    let named: Option<Resource> = claims
        .resource
        .as_deref()
        .map(|text| {
            text.parse().map_err(|_| {
                TokenError::InvalidGrant(
                    "the assertion's resource is not a resource identifier".into(),
                )
            })
        })
        .transpose()?;
    if let (Some(named), Some(asked)) = (&named, &req.resource) {
        if named != asked {
            return Err(TokenError::InvalidTarget(
                "the resource parameter is not the assertion's resource".into(),
            ));
        }
    }
    let vouched: Option<Scope> = claims
        .scope
        .as_deref()
        .map(|text| {
            text.parse()
                .map_err(|_| TokenError::InvalidGrant("the assertion's scope is malformed".into()))
        })
        .transpose()?;
    let wanted = match (&vouched, &req.scope) {
        (Some(v), Some(r)) => {
            let both = intersection(r, v);
            if both.is_empty() && !r.is_empty() {
                return Err(TokenError::InvalidScope(
                    "none of the requested scope is granted by the assertion".into(),
                ));
            }
            Some(both)
        }
        (Some(v), None) => Some(v.clone()),
        (None, r) => r.clone(),
    };
    let resource = named.as_ref().or(req.resource.as_ref());
    let decided = target::decide(client, ctx.resources, resource, wanted.as_ref());
    let target = decided.map_err(|e| match e {
        TokenError::InvalidTarget(m) if named.is_some() => {
            TokenError::InvalidGrant(format!("the assertion's resource is not allowed: {m}"))
        }
        TokenError::InvalidScope(m) if vouched.is_some() => {
            TokenError::InvalidGrant(format!("the assertion's scope is not allowed: {m}"))
        }
        other => other,
    })?;
    Ok((target.resource, target.scope))
}

/// The tokens of `a` that are also in `b`.
pub(crate) fn intersection(a: &Scope, b: &Scope) -> Scope {
    let common: Vec<&str> = a.iter().filter(|t| b.contains(t)).collect();
    // Tokens of a valid scope joined by spaces are a valid scope.
    common.join(" ").parse().unwrap_or_default()
}

#[cfg(test)]
mod tests;
