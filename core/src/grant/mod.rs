//! The grants, one module each, and the token endpoint's one entry point, [`exchange`]: the
//! grant decides what the client gets, [`crate::issue`] mints it. Grants are async and get a
//! [`GrantContext`] (stores, signer, clock, randomness, settings), so that a grant can consume a
//! code, rotate a refresh token or check a replay cache. [`grant`] dispatches on the typed
//! request with an exhaustive match: a new grant type does not compile until it is handled.

pub mod authorization_code;
pub mod client_credentials;
pub mod device_code;
pub mod jwt_bearer;
pub mod refresh_token;
pub mod target;
pub mod token_exchange;

use gatehouse_token::{Actor, SecretDigest, UnixTime};

use crate::assertion::{AssertionSettings, AssertionVerifier};
use crate::binding::Holder;
use crate::client::Client;
use crate::error::TokenError;
use crate::id_token::IdTokenClaims;
use crate::issue::{IssuedToken, IssuerSettings};
use crate::ports::{AccessTokenSigner, Alarms, Clock, Random};
use crate::request::TokenRequest;
use crate::resource::{Resource, ResourceRegistry};
use crate::scope::Scope;
use crate::store::{
    AccessTokenStore, ClientStore, CodeStore, DeviceCodeStore, IssuedForCode, RefreshTokenStore,
    ReplayStore, SessionStore, UserStore,
};

/// What a grant and the issuance after it may use, borrowed for one request.
#[expect(
    missing_debug_implementations,
    reason = "trait objects only have no Debug"
)]
pub struct GrantContext<'a> {
    /// Issuance settings.
    pub settings: &'a IssuerSettings,
    /// Registered clients.
    pub clients: &'a dyn ClientStore,
    /// Opaque access tokens.
    pub tokens: &'a dyn AccessTokenStore,
    /// Authorization codes.
    pub codes: &'a dyn CodeStore,
    /// Refresh tokens.
    pub refresh_tokens: &'a dyn RefreshTokenStore,
    /// Device authorizations (RFC 8628).
    pub devices: &'a dyn DeviceCodeStore,
    /// User accounts (a token for a disabled user is refused).
    pub users: &'a dyn UserStore,
    /// Browser sessions (a code outlives neither its sign-in nor a sign-out).
    pub sessions: &'a dyn SessionStore,
    /// What to do on a replayed code or a reused refresh token.
    pub alarms: &'a dyn Alarms,
    /// The registered resources (what self-registered clients may get, default scopes).
    pub resources: &'a ResourceRegistry,
    /// Signs JWT access tokens.
    pub signer: &'a dyn AccessTokenSigner,
    /// The time.
    pub clock: &'a dyn Clock,
    /// Randomness for `jti`s and opaque tokens.
    pub random: &'a dyn Random,
    /// Verifies the JWTs of jwt-bearer and token exchange.
    pub verifier: &'a dyn AssertionVerifier,
    /// The `jti`s of assertions already used.
    pub replay: &'a dyn ReplayStore,
    /// Assertion lifetimes, leeway and the ID-JAG audiences.
    pub assertions: &'a AssertionSettings,
    /// The keys the presenter proved it holds (a DPoP key, a TLS client certificate), which
    /// the issued tokens are bound to ([`crate::binding`]).
    pub holder: &'a Holder,
}

/// What a grant decided the client gets; [`crate::issue`] turns it into a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Granted {
    /// The subject of the token.
    pub subject: String,
    /// The granted scope.
    pub scope: Scope,
    /// The token's one audience.
    pub resource: Resource,
    /// A refresh token to hand out with the access token.
    pub refresh_token: Option<String>,
    /// The code redeemed, and the refresh-token family started, to record what was issued
    /// for the code (so that a replay can revoke it).
    pub code: Option<(SecretDigest, Option<String>)>,
    /// An ID token to sign with the access token (an OpenID Connect request).
    pub id_token: Option<IdTokenClaims>,
    /// The acting party of a delegation (RFC 8693 §4.1), for an exchanged token.
    pub act: Option<Actor>,
    /// The latest the token may expire: an exchanged token never outlives the tokens it was
    /// exchanged for (so exchanging cannot renew access forever).
    pub not_after: Option<UnixTime>,
}

impl Granted {
    /// An access token alone, for `subject`.
    pub fn access(subject: String, scope: Scope, resource: Resource) -> Self {
        Self {
            subject,
            scope,
            resource,
            refresh_token: None,
            code: None,
            id_token: None,
            act: None,
            not_after: None,
        }
    }
}

/// The token endpoint (RFC 6749 §3.2): applies the grant of `request` for the authenticated
/// `client` and issues the access token.
pub async fn exchange(
    ctx: &GrantContext<'_>,
    client: &Client,
    request: &TokenRequest,
) -> Result<IssuedToken, TokenError> {
    // A token exchange for an ID-JAG issues an assertion, not an access token (MCP EMA §4.2).
    if let TokenRequest::TokenExchange(req) = request {
        if token_exchange::wants_id_jag(req) {
            return token_exchange::issue_id_jag(ctx, client, req).await;
        }
    }
    let mut granted = grant(ctx, client, request).await?;
    let refresh_token = granted.refresh_token.take();
    let code = granted.code.take();
    let id_token = granted.id_token.take();
    let mut issued = crate::issue::issue(ctx, client, granted).await?;
    if let Some(claims) = id_token {
        let signed = ctx
            .signer
            .sign_id_token(claims, &issued.access_token)
            .await?;
        issued.id_token = Some(signed);
    }
    if let Some((digest, refresh_family)) = code {
        let record = IssuedForCode {
            access_jti: issued.jti.clone(),
            access_exp: issued.expires_at,
            access_digest: issued.opaque_digest,
            refresh_family,
        };
        // A replay came while these were being issued: they are revoked at once (RFC 9700
        // §4.5). The answer still goes out, so that of any number of concurrent redemptions
        // exactly one succeeds, with tokens that no longer work.
        if ctx.codes.record_issued(&digest, record.clone()).await? {
            ctx.alarms.code_replayed(&client.id, Some(&record)).await?;
        }
    }
    issued.refresh_token = refresh_token;
    if let TokenRequest::TokenExchange(_) = request {
        issued.issued_token_type = Some(crate::request::token::TokenTypeUri::AccessToken.as_str());
    }
    Ok(issued)
}

/// The binding decisions ([`crate::binding::confirm`]) that need only the client, the holder,
/// the server's security profile and the resource the request names (if it names one), made
/// before a single-use code is taken. Refused for a binding reason, a request must not spend
/// the person's approval: the client can retry with a proof or its certificate (RFC 9449 §5.2,
/// RFC 8705 §3.4; OAuth 2.1 §4.1.3 lets only a failed redemption of the code itself burn it).
/// [`crate::issue`] decides again, with the resource the code was granted for.
fn check_binding_early(
    ctx: &GrantContext<'_>,
    client: &Client,
    resource: Option<&Resource>,
) -> Result<(), TokenError> {
    let registered = resource.and_then(|r| ctx.resources.get(r));
    let requires = binding_required(ctx, client, registered.map(AsRef::as_ref));
    crate::binding::confirm(client, requires, ctx.holder).map(drop)
}

/// Whether a token for `client` at the registered resource `registered` must be
/// sender-constrained: the resource requires it, or the client's security profile does (FAPI
/// 2.0 SP §5.3.2.1 item 5). One rule for issuance and for the checks before a code is taken.
pub(crate) fn binding_required(
    ctx: &GrantContext<'_>,
    client: &Client,
    registered: Option<&crate::resource::ProtectedResource>,
) -> bool {
    registered.is_some_and(|r| r.require_sender_constrained)
        || ctx
            .settings
            .profile
            .strictest(client.security_profile)
            .requires_sender_constraint()
}

/// Applies the grant of `request` for the authenticated `client`.
pub async fn grant(
    ctx: &GrantContext<'_>,
    client: &Client,
    request: &TokenRequest,
) -> Result<Granted, TokenError> {
    match request {
        TokenRequest::AuthorizationCode(req) => authorization_code::grant(ctx, client, req).await,
        TokenRequest::RefreshToken(req) => refresh_token::grant(ctx, client, req).await,
        TokenRequest::ClientCredentials(req) => client_credentials::grant(ctx, client, req).await,
        TokenRequest::JwtBearer(req) => jwt_bearer::grant(ctx, client, req).await,
        TokenRequest::TokenExchange(req) => token_exchange::grant(ctx, client, req).await,
        TokenRequest::DeviceCode(req) => device_code::grant(ctx, client, req).await,
        TokenRequest::Unsupported(name) => Err(TokenError::UnsupportedGrantType(format!(
            "grant_type {name:?} is not supported"
        ))),
    }
}
