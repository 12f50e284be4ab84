//! Token exchange (RFC 8693): a client presents a token and gets another, never wider.
//!
//! - `subject_token_type` `access_token`: one of our access tokens, issued to the caller or
//!   meant for one of the caller's resources (a resource server exchanging the token it
//!   received, on behalf of its user); `id_token`: one of our ID tokens issued to the caller;
//!   `jwt`: a JWT of an external issuer trusted for token exchange, whose `aud` names us or the
//!   caller.
//! - An `actor_token` is verified with the same rules and becomes the token's `act` claim; the
//!   subject token's own `act` nests inside it (RFC 8693 §4.1). A subject token that carries
//!   `may_act` must name the acting party (§4.4).
//! - A subject or actor token bound to a key (`cnf`) is taken only from a request that proves
//!   that key (RFC 9449 §5, RFC 8705 §3; [`crate::binding::check_presented`]): no bearer token,
//!   and no token bound to another key, is made from it.
//! - The result is narrower: its audience is a resource the client may target, its scope within
//!   the subject token's and the client's policy. No refresh token is issued: the subject token
//!   is the credential, and the client exchanges it again.
//! - `requested_token_type` `id-jag` issues an Identity Assertion JWT Authorization Grant for an
//!   ID token of ours, for a configured downstream authorization server (MCP EMA §4, §7.6.1):
//!   here Gatehouse is the enterprise IdP of Cross-App Access.
//!
//! Every refusal is an RFC 8693 §2.2.2 error and issues nothing: `invalid_request` for a token
//! that is invalid or unacceptable, `invalid_target` for an audience or resource Gatehouse will
//! not issue for, `invalid_scope`, and `unauthorized_client` for a client without the grant.

use gatehouse_token::{Actor, Confirmation, UnixTime, b64};

use super::jwt_bearer::{check_time, intersection, permitted, refused};
use super::target::{self, Target};
use super::{GrantContext, Granted};
use crate::assertion::{ExternalUse, IdJagClaims, MayAct};
use crate::client::{Client, GrantType};
use crate::error::TokenError;
use crate::issue::{IssuedToken, TokenType};
use crate::ports::random_bytes;
use crate::request::token::{TokenExchangeRequest, TokenTypeUri};
use crate::resource::Resource;
use crate::scope::Scope;
use crate::user::UserId;

/// The longest delegation chain an `act` claim may hold (each link nests one level deeper in
/// the token's JSON, and validators refuse deep nesting).
pub const MAX_ACTORS: usize = 4;

/// Whether the request asks for an ID-JAG rather than an access token.
pub fn wants_id_jag(req: &TokenExchangeRequest) -> bool {
    req.requested_token_type == Some(TokenTypeUri::IdJag)
}

/// Who a presented token speaks for, once verified and found acceptable for this caller.
#[derive(Debug)]
struct Party {
    /// The subject in our namespace (our user or client id, or an external subject mapped).
    sub: String,
    /// The subject as its issuer wrote it, and that issuer when it is not us.
    raw: (String, Option<String>),
    /// The client the token was issued to, when it is one of our tokens.
    client_id: Option<String>,
    /// The scope the token holds, if it is an access token.
    scope: Option<Scope>,
    /// Its delegation chain.
    act: Option<Actor>,
    /// Who may act for it.
    may_act: Option<MayAct>,
    /// When it expires.
    exp: UnixTime,
    /// The key it is bound to (RFC 7800 §3.1), if it is sender-constrained.
    cnf: Option<Confirmation>,
}

fn unacceptable(what: &str, why: &str) -> TokenError {
    TokenError::InvalidRequest(format!("the {what} {why}"))
}

/// Verifies `token` of `kind` for `client` (RFC 8693 §2.1; security matrix §9.1).
async fn party(
    ctx: &GrantContext<'_>,
    client: &Client,
    what: &str,
    token: &str,
    kind: TokenTypeUri,
) -> Result<Party, TokenError> {
    let invalid = |r| refused(what, r, TokenError::InvalidRequest);
    let party = match kind {
        TokenTypeUri::AccessToken => {
            let claims = ctx.verifier.access_token(token).await.map_err(invalid)?;
            // Keycloak CVE-2022-1245, ZITADEL GHSA-vrh8-c9cm-wh8v: a token neither issued to
            // the caller nor meant for the caller as a resource server is not the caller's to
            // exchange. Being allowed to ask for tokens for a resource does not make a client
            // that resource: only one an operator let introspect it (a resource server) is.
            let resource_server = client.introspection != crate::client::Introspection::None
                && client
                    .resources
                    .iter()
                    .any(|r| claims.aud.contains(r.as_str()));
            let mine = claims.client_id == client.id.as_str() || resource_server;
            if !mine {
                return Err(unacceptable(
                    what,
                    "was issued to another client for a resource that is not this client's",
                ));
            }
            let scope = match claims.scope.as_deref() {
                Some(s) => s
                    .parse()
                    .map_err(|_| unacceptable(what, "has a malformed scope"))?,
                None => Scope::empty(),
            };
            Ok(Party {
                sub: claims.sub.clone(),
                raw: (claims.sub, None),
                client_id: Some(claims.client_id),
                scope: Some(scope),
                act: claims.act,
                may_act: None,
                exp: claims.exp,
                cnf: claims.cnf,
            })
        }
        TokenTypeUri::IdToken => {
            let id = ctx.verifier.id_token(token).await.map_err(invalid)?;
            if ctx.clock.now() >= id.exp {
                return Err(unacceptable(what, "has expired"));
            }
            // MCP EMA §4.1, draft-ietf-oauth-identity-assertion-authz-grant §4.3.3: the ID
            // token's audience is the client making the request.
            if id.aud != client.id.as_str() {
                return Err(unacceptable(what, "was issued to another client"));
            }
            // The account is checked again at every use (security matrix §4.1.20).
            let user = ctx.users.get_by_id(&UserId::from_stored(&id.sub)).await?;
            if user.is_none_or(|u| u.disabled) {
                return Err(unacceptable(
                    what,
                    "is for an account that is disabled or gone",
                ));
            }
            Ok(Party {
                sub: id.sub.clone(),
                raw: (id.sub, None),
                client_id: Some(id.aud),
                scope: None,
                act: None,
                may_act: None,
                exp: id.exp,
                cnf: None,
            })
        }
        TokenTypeUri::Jwt => {
            let jwt = ctx
                .verifier
                .external(token, ExternalUse::ExchangeToken)
                .await
                .map_err(invalid)?;
            let c = jwt.claims;
            if c.sub.is_empty() {
                return Err(unacceptable(what, "has an empty sub"));
            }
            check_time(c.exp, c.iat, c.nbf, ctx.clock.now(), ctx.assertions)
                .map_err(|why| unacceptable(what, why))?;
            // Meant for us, or for the caller (RFC 7519 §4.1.3).
            let for_us = c.aud.contains(&ctx.settings.issuer) || c.aud.contains(client.id.as_str());
            if !for_us {
                return Err(unacceptable(
                    what,
                    "is meant neither for this server nor for this client (aud)",
                ));
            }
            // What the JWT grants, when it says: the exchange never widens it.
            let scope = match c.scope.as_deref() {
                Some(text) => Some(
                    text.parse()
                        .map_err(|_| unacceptable(what, "has a malformed scope"))?,
                ),
                None => None,
            };
            Ok(Party {
                sub: jwt.subjects.subject(&c.iss, &c.sub),
                raw: (c.sub, Some(c.iss)),
                client_id: None,
                scope,
                act: c.act,
                may_act: c.may_act,
                exp: c.exp,
                cnf: c.cnf,
            })
        }
        TokenTypeUri::RefreshToken | TokenTypeUri::IdJag => Err(TokenError::InvalidRequest(
            format!("a {what} of type {} is not accepted", kind.as_str()),
        )),
    }?;
    // RFC 9449 §5, RFC 8705 §3: a sender-constrained token is exchanged only by the holder of
    // its key, proven in this request (RFC 8693 §2.2.2: `invalid_request` otherwise).
    crate::binding::check_presented(what, party.cnf.as_ref(), ctx.holder)?;
    Ok(party)
}

/// Decides the access token an authenticated client gets for a token exchange.
pub async fn grant(
    ctx: &GrantContext<'_>,
    client: &Client,
    req: &TokenExchangeRequest,
) -> Result<Granted, TokenError> {
    permitted(client, GrantType::TokenExchange)?;
    match req.requested_token_type {
        None | Some(TokenTypeUri::AccessToken) => {}
        // An ID-JAG is issued by `issue_id_jag`, before the grants are dispatched.
        Some(other) => {
            return Err(TokenError::InvalidRequest(format!(
                "requested_token_type {} is not issued here",
                other.as_str()
            )));
        }
    }
    // An ID token says who signed in, not what they allowed: turned into an access token it
    // would carry whatever scope the client may have, without the person's consent. It is
    // exchanged only for an ID-JAG (MCP EMA §4); access comes from the code flow.
    if req.subject_token_type == TokenTypeUri::IdToken {
        return Err(TokenError::InvalidRequest(
            "an id_token subject_token is exchanged only for an ID-JAG \
             (requested_token_type urn:ietf:params:oauth:token-type:id-jag)"
                .into(),
        ));
    }
    let subject = party(
        ctx,
        client,
        "subject_token",
        &req.subject_token,
        req.subject_token_type,
    )
    .await?;
    let actor = match &req.actor {
        Some((token, kind)) => Some(party(ctx, client, "actor_token", token, *kind).await?),
        None => None,
    };
    check_may_act(ctx, client, &subject, actor.as_ref())?;
    let actor_exp = actor.as_ref().map(|a| a.exp);
    let act = match actor {
        // RFC 8693 §4.1: the new actor, with the chain so far nested inside it.
        Some(a) => Some(Actor {
            sub: a.raw.0,
            iss: a.raw.1,
            client_id: a.client_id,
            act: subject.act.map(Box::new),
        }),
        None => subject.act,
    };
    if act.as_ref().is_some_and(|a| a.depth() > MAX_ACTORS) {
        return Err(TokenError::InvalidRequest(format!(
            "the delegation chain would be longer than {MAX_ACTORS} actors"
        )));
    }
    let wanted = wanted_resource(req)?;
    let Target { resource, scope } = exchanged_target(
        ctx,
        client,
        wanted.as_ref(),
        subject.scope.as_ref(),
        req.scope.as_ref(),
    )?;
    let mut granted = Granted::access(subject.sub, scope, resource);
    granted.act = act;
    granted.not_after = Some(actor_exp.map_or(subject.exp, |a| a.min(subject.exp)));
    Ok(granted)
}

/// RFC 8693 §4.4: when the subject token says who may act for its subject, the acting party
/// (the actor token's subject, or without one the calling client) must be that party.
fn check_may_act(
    ctx: &GrantContext<'_>,
    client: &Client,
    subject: &Party,
    actor: Option<&Party>,
) -> Result<(), TokenError> {
    let Some(may) = &subject.may_act else {
        return Ok(());
    };
    let named = may.sub.is_some() || may.client_id.is_some();
    let fits = match actor {
        Some(a) => {
            let iss = a.raw.1.as_deref().unwrap_or(&ctx.settings.issuer);
            may.sub.as_deref().is_none_or(|s| s == a.raw.0)
                && may.iss.as_deref().is_none_or(|i| i == iss)
                && may
                    .client_id
                    .as_deref()
                    .is_none_or(|c| a.client_id.as_deref() == Some(c))
        }
        None => {
            may.client_id.as_deref().unwrap_or_default() == client.id.as_str()
                || may.sub.as_deref().unwrap_or_default() == client.id.as_str()
        }
    };
    if named && fits {
        Ok(())
    } else {
        Err(TokenError::InvalidRequest(
            "the subject_token's may_act does not name the acting party (RFC 8693 §4.4)".into(),
        ))
    }
}

/// The target a request names: `resource` and `audience` name the same one when both are given
/// (an `audience` is read as a resource identifier of ours, RFC 8693 §2.1; `invalid_target`
/// otherwise, §2.2.2).
fn wanted_resource(req: &TokenExchangeRequest) -> Result<Option<Resource>, TokenError> {
    let audience = req
        .audience
        .as_deref()
        .map(|a| {
            a.parse::<Resource>().map_err(|_| {
                TokenError::InvalidTarget(format!(
                    "audience {a:?} is not a resource of this server"
                ))
            })
        })
        .transpose()?;
    match (&req.resource, audience) {
        (Some(r), Some(a)) if *r != a => Err(TokenError::InvalidTarget(
            "resource and audience name different targets".into(),
        )),
        (Some(r), _) => Ok(Some(r.clone())),
        (None, a) => Ok(a),
    }
}

/// The audience and scope, never wider: the audience one the client may target, the scope
/// within what the subject token holds (when it is an access token) and what the client may
/// have ([`target::decide`]). A requested scope beyond the subject token's is `invalid_scope`;
/// without one, the token keeps what the subject token holds of the scope the client would get.
fn exchanged_target(
    ctx: &GrantContext<'_>,
    client: &Client,
    resource: Option<&Resource>,
    held: Option<&Scope>,
    requested: Option<&Scope>,
) -> Result<Target, TokenError> {
    let Some(held) = held else {
        return target::decide(client, ctx.resources, resource, requested);
    };
    if let Some(r) = requested {
        if !r.is_subset(held) {
            let excess: Vec<&str> = r.excess(held).collect();
            return Err(TokenError::InvalidScope(format!(
                "scope beyond the subject_token's: {}",
                excess.join(" ")
            )));
        }
        return target::decide(client, ctx.resources, resource, Some(r));
    }
    let mut decided = target::decide(client, ctx.resources, resource, None)?;
    decided.scope = intersection(held, &decided.scope);
    if decided.scope.is_empty() && !held.is_empty() {
        return Err(TokenError::InvalidScope(
            "nothing of the subject_token's scope is allowed for this client".into(),
        ));
    }
    Ok(decided)
}

/// Issues an ID-JAG (MCP EMA §4.2–§4.3): for one of our ID tokens issued to the calling client,
/// for a downstream authorization server configured to trust us, naming one of its resources,
/// to a client allowed to get grants for it (MCP EMA §7.6.1, §7.7).
pub async fn issue_id_jag(
    ctx: &GrantContext<'_>,
    client: &Client,
    req: &TokenExchangeRequest,
) -> Result<IssuedToken, TokenError> {
    permitted(client, GrantType::TokenExchange)?;
    if req.subject_token_type != TokenTypeUri::IdToken {
        return Err(TokenError::InvalidRequest(
            "an ID-JAG is issued for an ID token (subject_token_type id_token)".into(),
        ));
    }
    if req.actor.is_some() {
        return Err(TokenError::InvalidRequest(
            "an ID-JAG request takes no actor_token (MCP EMA §4)".into(),
        ));
    }
    let audience = req.audience.as_deref().ok_or_else(|| {
        TokenError::InvalidRequest(
            "audience is required: the issuer of the authorization server the ID-JAG is for".into(),
        )
    })?;
    let downstream = ctx
        .assertions
        .downstream
        .iter()
        .find(|d| d.issuer == audience)
        .ok_or_else(|| {
            TokenError::InvalidTarget(format!(
                "audience {audience:?} is not an authorization server this server issues ID-JAGs for"
            ))
        })?;
    let their_client_id = downstream
        .clients
        .iter()
        .find(|(ours, _)| ours == client.id.as_str())
        .map(|(_, theirs)| theirs.clone())
        .ok_or_else(|| {
            TokenError::InvalidTarget("this client may not get ID-JAGs for this audience".into())
        })?;
    // MCP EMA §7.6.1: the (audience, resource) pair must be one the configuration allows.
    if let Some(resource) = &req.resource {
        if !downstream.resources.contains(resource) {
            return Err(TokenError::InvalidTarget(
                "the resource is not served by the audience".into(),
            ));
        }
    }
    let subject = party(
        ctx,
        client,
        "subject_token",
        &req.subject_token,
        TokenTypeUri::IdToken,
    )
    .await?;
    let now = ctx.clock.now();
    let lifetime = ctx.assertions.id_jag_lifetime;
    let claims = IdJagClaims {
        iss: ctx.settings.issuer.clone(),
        sub: subject.sub,
        aud: downstream.issuer.clone(),
        client_id: their_client_id,
        jti: b64::encode(random_bytes::<16>(ctx.random)),
        exp: now.plus(lifetime),
        iat: now,
        resource: req.resource.as_ref().map(|r| r.as_str().to_owned()),
        scope: req.scope.as_ref().map(ToString::to_string),
    };
    let token = ctx.signer.sign_id_jag(&claims).await?;
    Ok(IssuedToken {
        access_token: token,
        token_type: TokenType::NotApplicable,
        expires_in: lifetime,
        scope: req.scope.clone().unwrap_or_default(),
        refresh_token: None,
        id_token: None,
        jti: claims.jti,
        expires_at: claims.exp,
        opaque_digest: None,
        issued_token_type: Some(TokenTypeUri::IdJag.as_str()),
    })
}

#[cfg(test)]
mod tests;
