//! JWTs that `core` must trust but cannot verify itself (it holds no keys and does no crypto):
//! the [`AssertionVerifier`] port, what it returns, and the ID-JAG that Gatehouse issues.
//!
//! The port verifies signatures and who may sign what: our own access and ID tokens with our
//! keys (and, for access tokens, every claim rule and revocation), and a trusted external
//! issuer's JWTs with that issuer's keys, bound to its allowed algorithms, for the uses it is
//! trusted for. The protocol rules on the claims (RFC 7523 §3, the ID-JAG profile, RFC 8693)
//! stay in `core`: [`crate::grant::jwt_bearer`], [`crate::grant::token_exchange`].

use async_trait::async_trait;
use gatehouse_token::{AccessTokenClaims, Actor, Audience, Confirmation, UnixTime};
use serde::{Deserialize, Serialize};

/// The `typ` of an Identity Assertion JWT Authorization Grant
/// (draft-ietf-oauth-identity-assertion-authz-grant §3.1; MCP EMA §4.3).
pub const ID_JAG_TYP: &str = "oauth-id-jag+jwt";

/// The grant profile advertised in `authorization_grant_profiles_supported` (MCP EMA §6).
pub const ID_JAG_PROFILE: &str = "urn:ietf:params:oauth:grant-profile:id-jag";

/// What an external issuer may be trusted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExternalUse {
    /// ID-JAGs presented with the jwt-bearer grant (`typ: oauth-id-jag+jwt`, MCP EMA §5).
    IdJag,
    /// `subject_token`s or `actor_token`s of type `urn:ietf:params:oauth:token-type:jwt` in a
    /// token exchange (RFC 8693 §3).
    ExchangeToken,
}

/// How the subject of an external issuer's JWT becomes the subject of our token.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SubjectMapping {
    /// `<iss>#<sub>`: unique across issuers (an issuer identifier has no fragment, so the `#`
    /// is unambiguous), and never equal to one of our own users' or clients' ids. The default.
    #[default]
    IssuerQualified,
    /// `sub` as the issuer wrote it: for a deployment whose one trusted IdP is also where its
    /// resource servers' user ids come from.
    AsIs,
}

impl SubjectMapping {
    /// The subject of our token for `sub` from `iss`.
    pub fn subject(self, iss: &str, sub: &str) -> String {
        match self {
            Self::IssuerQualified => format!("{iss}#{sub}"),
            Self::AsIs => sub.to_owned(),
        }
    }
}

/// The `may_act` claim (RFC 8693 §4.4): who may act for the subject.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MayAct {
    /// The party's subject.
    #[serde(default)]
    pub sub: Option<String>,
    /// The issuer that names it.
    #[serde(default)]
    pub iss: Option<String>,
    /// The party's client.
    #[serde(default)]
    pub client_id: Option<String>,
}

/// The claims of an external issuer's JWT that Gatehouse reads, typed: a claim of the wrong JSON
/// type is an error, never an absent claim. `iss`, `sub`, `aud` and `exp` are required (RFC 7523
/// §3); the rest depend on the use.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ExternalClaims {
    /// The issuer.
    pub iss: String,
    /// The subject.
    pub sub: String,
    /// The audience.
    pub aud: Audience,
    /// Expiry.
    pub exp: UnixTime,
    /// Issued at.
    #[serde(default)]
    pub iat: Option<UnixTime>,
    /// Not before.
    #[serde(default)]
    pub nbf: Option<UnixTime>,
    /// The JWT's unique id.
    #[serde(default)]
    pub jti: Option<String>,
    /// The client the JWT was issued to (ID-JAG: required, RFC 8693 §4.3).
    #[serde(default)]
    pub client_id: Option<String>,
    /// The resource (ID-JAG §3.1, RFC 9728 §1.2).
    #[serde(default)]
    pub resource: Option<String>,
    /// The scope, space-delimited.
    #[serde(default)]
    pub scope: Option<String>,
    /// A delegation chain (RFC 8693 §4.1).
    #[serde(default)]
    pub act: Option<Actor>,
    /// Who may act for the subject (RFC 8693 §4.4).
    #[serde(default)]
    pub may_act: Option<MayAct>,
    /// The key the JWT is bound to (RFC 7800 §3.1): a token exchange takes it only from a
    /// presenter that proves that key (RFC 9449 §5, RFC 8705 §3). A `cnf` of another method
    /// (`jwk`, `kid`, ...) reads as an empty [`Confirmation`], which no presenter matches.
    #[serde(default)]
    pub cnf: Option<Confirmation>,
}

/// A JWT of a trusted external issuer, verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalJwt {
    /// Its claims; `iss` is the trusted issuer whose key verified the signature.
    pub claims: ExternalClaims,
    /// How the issuer's subjects map to ours.
    pub subjects: SubjectMapping,
}

/// The claims of one of our own ID tokens that a token exchange reads (OIDC Core §2).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OwnIdToken {
    /// Our issuer.
    pub iss: String,
    /// The user.
    pub sub: String,
    /// The client it was issued to.
    pub aud: String,
    /// Expiry.
    pub exp: UnixTime,
    /// Issued at.
    pub iat: UnixTime,
}

/// Why a presented JWT was refused. The text is safe to show to the client (it says what is
/// wrong with the token, nothing about our keys or configuration beyond that).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Longer than the limit: an error, never a token treated as absent (security matrix
    /// §3.11).
    #[error("the token is too large")]
    TooLarge,
    /// Not a compact JWS with JSON objects inside, a forbidden header member, or a claim of the
    /// wrong type.
    #[error("the token is malformed: {0}")]
    Malformed(&'static str),
    /// The `typ` header is not the expected one (RFC 8725 §3.11).
    #[error("the token's typ is not {0}")]
    WrongType(&'static str),
    /// The issuer is not one we trust, or not for this use.
    #[error("the issuer is not trusted for this use")]
    UntrustedIssuer,
    /// No key of the issuer has the `kid`.
    #[error("no key of the issuer has this kid")]
    UnknownKey,
    /// The `alg` header is not the key's algorithm, or not allowed for the issuer.
    #[error("the algorithm is not allowed for this key")]
    Algorithm,
    /// The signature does not verify.
    #[error("the signature does not verify")]
    BadSignature,
    /// One of our own tokens that is not valid now (expired, revoked, another issuer, ...).
    #[error("the token is not active: {0}")]
    Inactive(&'static str),
    /// The issuer's keys cannot be had now; the client may retry.
    #[error("the issuer's keys are unavailable: {0}")]
    Unavailable(String),
}

/// Verifies JWTs for `core`: implemented by the server with the validator and the configured
/// trusted issuers.
#[async_trait]
pub trait AssertionVerifier: Send + Sync {
    /// One of our own access tokens (JWT or opaque), valid now: signature and `typ: at+jwt`,
    /// issuer, time, revocation.
    async fn access_token(&self, token: &str) -> Result<AccessTokenClaims, Refusal>;
    /// One of our own ID tokens (`typ: JWT`, our key, our issuer); its time is checked by the
    /// caller.
    async fn id_token(&self, token: &str) -> Result<OwnIdToken, Refusal>;
    /// A JWT of an external issuer trusted for `usage`, signed with one of its keys under an
    /// algorithm allowed for it, of the `typ` the use requires (ID-JAG: `oauth-id-jag+jwt`); its
    /// claims are checked by the caller.
    async fn external(&self, token: &str, usage: ExternalUse) -> Result<ExternalJwt, Refusal>;
}

/// The claims of an ID-JAG Gatehouse issues for a downstream authorization server (MCP EMA §4.3,
/// draft-ietf-oauth-identity-assertion-authz-grant §3.1), signed with `typ: oauth-id-jag+jwt`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdJagClaims {
    /// Our issuer.
    pub iss: String,
    /// The user.
    pub sub: String,
    /// The downstream authorization server's issuer.
    pub aud: String,
    /// The client the grant is for, as registered at the downstream authorization server.
    pub client_id: String,
    /// A unique id (the downstream server refuses a replay).
    pub jti: String,
    /// Expiry.
    pub exp: UnixTime,
    /// Issued at.
    pub iat: UnixTime,
    /// The downstream resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The scope at the downstream resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// The settings of the grants that consume or produce assertions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssertionSettings {
    /// The longest lifetime (`exp` − `iat`, and `exp` − now) an assertion may have, seconds
    /// (RFC 7523 §3 item 4: the server may reject a JWT with an unreasonably far `exp`).
    pub max_lifetime: u64,
    /// Clock skew tolerated on `exp`, `nbf` and `iat` of external JWTs, seconds.
    pub leeway: u64,
    /// The lifetime of the ID-JAGs Gatehouse issues, seconds.
    pub id_jag_lifetime: u64,
    /// The authorization servers Gatehouse may issue ID-JAGs for (MCP EMA §7.6.1).
    pub downstream: Vec<Downstream>,
}

/// An authorization server that trusts Gatehouse as its IdP: the `(audience, resource)` pairs
/// Gatehouse may put in an ID-JAG (MCP EMA §7.6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downstream {
    /// Its issuer identifier: the ID-JAG's `aud`, and the `audience` a client asks for.
    pub issuer: String,
    /// The resources it serves (the ID-JAG's `resource`), compared canonically.
    pub resources: Vec<crate::resource::Resource>,
    /// The clients of ours that may get ID-JAGs for it; their `client_id` there, when it is
    /// not the same as here.
    pub clients: Vec<(String, String)>,
}
