//! Registered clients (RFC 6749 §2): their ids, their kind (confidential, with a secret, or
//! public), and what each may ask for.
//!
//! # Layout
//! - this module: [`Client`] and the values it is made of.
//! - [`registration`]: what an operator asks for, validated into a new client.
//! - [`redirect`]: which redirect URIs may be registered, and when a requested one matches.
//! - [`auth`]: authenticating a client from what a request presented, one module per method.
//! - [`keys`]: a `private_key_jwt` client's public keys (`jwks` or `jwks_uri`), validated.

use std::borrow::Borrow;
use std::fmt;

use gatehouse_token::{SecretDigest, UnixTime, b64};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::ports::{Random, random_bytes};
use crate::resource::Resource;
use crate::scope::Scope;

/// The shortest and longest access-token lifetime a client or the server may set: one second to
/// thirty days.
pub const LIFETIME_RANGE: std::ops::RangeInclusive<u64> = 1..=30 * 86_400;
/// The longest client id accepted on the wire.
pub const MAX_CLIENT_ID_LEN: usize = 256;
/// The longest scope a client may be registered with, in bytes: with a resource of the longest
/// kind it keeps every access token well inside what validators accept (8 KiB).
pub const MAX_SCOPE_LEN: usize = 2048;
/// The most resources one client may be registered for.
pub const MAX_RESOURCES: usize = 32;
/// The prefix of every client secret Gatehouse generates, so secret scanners can find leaks.
pub const SECRET_PREFIX: &str = "gcs_";

/// A client identifier (RFC 6749 §2.2).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClientId(String);

impl ClientId {
    /// A client id as received on the wire, if it is of an acceptable length and printable.
    pub fn new(text: &str) -> Option<Self> {
        let ok = !text.is_empty()
            && text.len() <= MAX_CLIENT_ID_LEN
            && text.chars().all(|c| !c.is_control());
        ok.then(|| Self(text.to_owned()))
    }

    /// A fresh client id: 128 random bits, base64url.
    pub fn generate(random: &dyn Random) -> Self {
        Self(b64::encode(random_bytes::<16>(random)))
    }

    /// The id's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Lookups by the text of an id (`&str`), without building a `ClientId`: the order and hash of
/// a `ClientId` are those of its text.
impl Borrow<str> for ClientId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A client secret in clear, shown once at creation; `Debug` never prints it.
#[derive(Clone)]
pub struct ClientSecret(String);

impl ClientSecret {
    /// A fresh secret: `gcs_` + 256 random bits, base64url. High entropy, so a SHA-256 digest
    /// is a safe way to store it and checking it costs one hash, not a password hash.
    pub fn generate(random: &dyn Random) -> Self {
        let mut text = String::from(SECRET_PREFIX);
        b64::encode_into(random_bytes::<32>(random), &mut text);
        Self(text)
    }

    /// The secret's text, to show to the operator once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The digest stored in place of the secret.
    pub fn digest(&self) -> SecretDigest {
        SecretDigest::of(&self.0)
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret([redacted])")
    }
}

/// A grant type a client may be allowed to use (RFC 6749 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    /// RFC 6749 §4.1, with PKCE (OAuth 2.1 §4.1).
    AuthorizationCode,
    /// RFC 6749 §6.
    RefreshToken,
    /// RFC 6749 §4.4.
    ClientCredentials,
    /// RFC 7523 §2.1, with the ID-JAG profile (MCP EMA §5): operators only.
    JwtBearer,
    /// RFC 8693: operators only.
    TokenExchange,
    /// RFC 8628 §3.4, `urn:ietf:params:oauth:grant-type:device_code`.
    DeviceCode,
}

impl GrantType {
    /// The registered `grant_type` value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
            Self::JwtBearer => crate::request::token::JWT_BEARER,
            Self::TokenExchange => crate::request::token::TOKEN_EXCHANGE,
            Self::DeviceCode => crate::request::token::DEVICE_CODE,
        }
    }

    /// Every grant type Gatehouse implements.
    pub const ALL: [Self; 6] = [
        Self::AuthorizationCode,
        Self::RefreshToken,
        Self::ClientCredentials,
        Self::JwtBearer,
        Self::TokenExchange,
        Self::DeviceCode,
    ];

    /// Whether only an operator may give a client this grant: one that trusts assertions of
    /// other issuers or turns one token into another (security matrix §4.1.3, §9.1).
    pub const fn operator_only(self) -> bool {
        matches!(self, Self::JwtBearer | Self::TokenExchange)
    }

    /// Parses a registered grant type name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == text)
    }
}

/// The format of the access tokens a client receives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenFormat {
    /// RFC 9068 JWT, verifiable by resource servers from the JWKS.
    #[default]
    Jwt,
    /// A reference token, validated by introspection only.
    Opaque,
}

impl TokenFormat {
    /// The format's name as the CLI and admin API spell it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Jwt => "jwt",
            Self::Opaque => "opaque",
        }
    }
}

/// Whether a client may use the introspection endpoint (RFC 7662 §2.1: the endpoint is for
/// protected resources, and the server decides which callers may learn what about a token).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Introspection {
    /// Not at all (the default: most clients only ever use their own tokens).
    #[default]
    None,
    /// Tokens whose audience is one of the client's own resources: a resource server learns
    /// about the tokens meant for it, and nothing about any other (RFC 7662 §4).
    Resources,
    /// Any token, whatever its audience (a gateway in front of many resources).
    Any,
}

impl Introspection {
    /// The name as the CLI and admin API spell it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Resources => "resources",
            Self::Any => "any",
        }
    }
}

/// Whether a client can keep a secret (RFC 6749 §2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientKind {
    /// Holds a secret; only its SHA-256 digest is kept (`client_secret_basic`,
    /// `client_secret_post`).
    Confidential {
        /// SHA-256 of the secret.
        secret_digest: SecretDigest,
    },
    /// Cannot keep one (a native or browser app): identifies itself by `client_id` alone
    /// (`token_endpoint_auth_method` `none`, RFC 7591 §2), and proves possession by other means
    /// (PKCE on every code flow).
    Public,
    /// Holds a private key and authenticates with a JWT signed by it (`private_key_jwt`, RFC
    /// 7523 §2.2, OIDC Core §9); its public keys are [`Client::keys`]. Confidential, no secret.
    PrivateKeyJwt,
    /// Authenticates with a certificate in the TLS handshake (RFC 8705 §2): `tls_client_auth`
    /// with its registered subject, or `self_signed_tls_client_auth` (its certificates are in
    /// [`Client::keys`]). Holds no secret.
    Tls(auth::tls::TlsClientAuth),
}

/// How a client came to be known, which decides the policy it is held to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ClientOrigin {
    /// Registered by an operator (CLI, admin API): trusted with what it was given.
    #[default]
    Operator,
    /// Registered itself (RFC 7591): may ask for the scopes of any registered resource, never
    /// introspects, and expires when idle.
    Dynamic {
        /// SHA-256 of its registration access token (RFC 7592 §3), which manages it.
        registration_token_digest: SecretDigest,
        /// When a token was last issued to it (updated at most once an hour), from which its
        /// idle expiry runs.
        last_used: UnixTime,
        /// What it said about itself.
        profile: Box<dynamic::ClientProfile>,
    },
    /// Identified by the Client ID Metadata Document at its `client_id` URL
    /// (draft-ietf-oauth-client-id-metadata-document): never stored, held to the same policy
    /// as a dynamically registered client.
    MetadataDocument,
}

impl ClientOrigin {
    /// Whether the client registered or described itself (RFC 7591, CIMD) rather than being
    /// registered by an operator.
    pub fn is_self_registered(&self) -> bool {
        !matches!(self, Self::Operator)
    }
}

impl ClientOrigin {
    /// Whether a dynamically registered client has gone unused for `idle` seconds at `now`
    /// (its registration has expired: it answers `invalid_client`, so SDKs register again).
    pub fn expired(&self, idle: u64, now: UnixTime) -> bool {
        match self {
            Self::Dynamic { last_used, .. } => last_used.plus(idle) <= now,
            _ => false,
        }
    }
}

/// Sets a dynamically registered client's last use to `now`; whether it is one.
pub fn record_use(client: &mut Client, now: UnixTime) -> bool {
    match &mut client.origin {
        ClientOrigin::Dynamic { last_used, .. } => {
            *last_used = now;
            true
        }
        _ => false,
    }
}

/// A registered client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "ClientRecord", into = "ClientRecord")]
pub struct Client {
    /// Its id.
    pub id: ClientId,
    /// A human-readable name.
    pub name: String,
    /// Confidential or public.
    pub kind: ClientKind,
    /// The grants it may use.
    pub grant_types: Vec<GrantType>,
    /// The most it may be granted; also what it gets when it asks for no scope.
    pub scope: Scope,
    /// The resources it may get tokens for; the first is the default (RFC 8707).
    pub resources: Vec<Resource>,
    /// Where authorization responses may be sent (RFC 6749 §3.1.2).
    pub redirect_uris: Vec<RedirectUri>,
    /// Where a person may be sent after signing out at its request (OIDC RP-Initiated Logout
    /// 1.0 §3.1), matched exactly.
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    /// Whether its authorization requests must be pushed first (RFC 9126 §6).
    pub require_pushed_authorization_requests: bool,
    /// Its access-token lifetime in seconds, overriding the server's default.
    pub access_token_lifetime: Option<u64>,
    /// The format of its access tokens.
    pub token_format: TokenFormat,
    /// Whether and for which tokens it may use the introspection endpoint.
    pub introspection: Introspection,
    /// When it was registered.
    pub created_at: UnixTime,
    /// How it came to be known.
    pub origin: ClientOrigin,
    /// Its public keys (`jwks` or `jwks_uri`, RFC 7591 §2), for `private_key_jwt`.
    pub keys: Option<keys::ClientKeys>,
    /// Whether its access tokens are sender-constrained (RFC 9449 §5.2, RFC 8705 §3.4).
    pub binding: crate::binding::BindingPolicy,
    /// The security profile it is held to at least (the server's may be stricter): FAPI 2.0
    /// for a client that must use PAR, strong authentication and sender-constrained tokens.
    pub security_profile: crate::profile::SecurityProfile,
}

impl Client {
    /// The `token_endpoint_auth_method` it registered with (RFC 7591 §2): a confidential
    /// client's default, `client_secret_basic` (it may use `client_secret_post` as well), or
    /// `none`.
    pub fn auth_method(&self) -> auth::AuthMethod {
        match self.kind {
            ClientKind::Confidential { .. } => auth::AuthMethod::ClientSecretBasic,
            ClientKind::Public => auth::AuthMethod::None,
            ClientKind::PrivateKeyJwt => auth::AuthMethod::PrivateKeyJwt,
            ClientKind::Tls(auth::tls::TlsClientAuth::Pki(_)) => auth::AuthMethod::TlsClientAuth,
            ClientKind::Tls(auth::tls::TlsClientAuth::SelfSigned) => {
                auth::AuthMethod::SelfSignedTlsClientAuth
            }
        }
    }

    /// Whether `secret` is this client's secret, compared in constant time; a public client
    /// has none, so never.
    pub fn secret_matches(&self, secret: &str) -> bool {
        match &self.kind {
            ClientKind::Confidential { secret_digest } => {
                SecretDigest::of(secret).0.ct_eq(&secret_digest.0).into()
            }
            ClientKind::Public | ClientKind::PrivateKeyJwt | ClientKind::Tls(_) => false,
        }
    }

    /// The resource a token is for when the request names none.
    pub fn default_resource(&self) -> Option<&Resource> {
        self.resources.first()
    }

    /// Whether the client's identity is assured when it asks for authorization (OAuth 2.1
    /// §7.3.1): a confidential client an operator registered authenticates at the token
    /// endpoint; a public one only when its redirect URI is an https one (a loopback listener
    /// or a private-use scheme can be claimed by any app on the device); a dynamically
    /// registered client never. Only for such clients is a remembered consent honoured without
    /// asking.
    pub fn identity_assured(&self, redirect_uri: &str) -> bool {
        // A client that registered itself proves nothing by its redirect URIs: anyone may
        // register any of them, and change them (RFC 7592). Its consent is asked every time
        // (mcp-auth.md §7.6: the consent screen is the control point).
        if matches!(self.origin, ClientOrigin::Dynamic { .. }) {
            return false;
        }
        match self.kind {
            ClientKind::Confidential { .. } | ClientKind::PrivateKeyJwt | ClientKind::Tls(_) => {
                true
            }
            ClientKind::Public => redirect_uri.starts_with("https://"),
        }
    }

    /// The registered redirect URI that `requested` matches ([`RedirectUri::matches`]); with
    /// none requested, the one registered URI if there is exactly one (OAuth 2.1 §4.1.1).
    pub fn redirect_uri(&self, requested: Option<&str>) -> Option<&RedirectUri> {
        match requested {
            Some(text) => self.redirect_uris.iter().find(|r| r.matches(text)),
            None => match self.redirect_uris.as_slice() {
                [only] if loopback_free(only) => Some(only),
                _ => None,
            },
        }
    }
}

/// Whether a URI can be used without being named in the request: not a loopback one, whose
/// port the app chooses each time (RFC 8252 §7.3).
fn loopback_free(uri: &RedirectUri) -> bool {
    !uri.as_str().starts_with("http:")
}

/// A client as stored: flat JSON, readable by any tool, that grows by optional members. A
/// record without `secret_digest` is a public client, unless it has `jwks` or `jwks_uri` (a
/// `private_key_jwt` client); one without `introspection` (written before it existed) has none.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ClientRecord {
    id: ClientId,
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    secret_digest: Option<SecretDigest>,
    /// Set for the mutual-TLS methods only (RFC 8705 §2): `tls_client_auth` or
    /// `self_signed_tls_client_auth`; the others follow from `secret_digest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token_endpoint_auth_method: Option<String>,
    /// The `tls_client_auth` subject, under its RFC 8705 §2.1.2 member (one of them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tls_client_auth_subject_dn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tls_client_auth_san_dns: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tls_client_auth_san_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tls_client_auth_san_ip: Option<std::net::IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tls_client_auth_san_email: Option<String>,
    grant_types: Vec<GrantType>,
    scope: Scope,
    resources: Vec<Resource>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    redirect_uris: Vec<RedirectUri>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    post_logout_redirect_uris: Vec<RedirectUri>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    require_pushed_authorization_requests: bool,
    access_token_lifetime: Option<u64>,
    token_format: TokenFormat,
    #[serde(default)]
    introspection: Introspection,
    created_at: UnixTime,
    #[serde(default, skip_serializing_if = "is_operator")]
    origin: ClientOrigin,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jwks: Option<gatehouse_token::JwkSet>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jwks_uri: Option<String>,
    #[serde(default, flatten)]
    binding: crate::binding::BindingPolicy,
    #[serde(default, skip_serializing_if = "is_default_profile")]
    security_profile: crate::profile::SecurityProfile,
}

fn is_default_profile(profile: &crate::profile::SecurityProfile) -> bool {
    *profile == crate::profile::SecurityProfile::default()
}

fn is_operator(origin: &ClientOrigin) -> bool {
    *origin == ClientOrigin::Operator
}

impl ClientRecord {
    /// The kind the record describes: a `tls_client_auth` subject or the self-signed method
    /// first, then a secret digest, then keys (`private_key_jwt`), else a public client.
    fn kind(&mut self) -> ClientKind {
        use auth::tls::{TlsClientAuth, TlsSubject};
        let subject = None
            .or(self
                .tls_client_auth_subject_dn
                .take()
                .map(TlsSubject::SubjectDn))
            .or(self.tls_client_auth_san_dns.take().map(TlsSubject::SanDns))
            .or(self.tls_client_auth_san_uri.take().map(TlsSubject::SanUri))
            .or(self.tls_client_auth_san_ip.take().map(TlsSubject::SanIp))
            .or(self
                .tls_client_auth_san_email
                .take()
                .map(TlsSubject::SanEmail));
        let method = self.token_endpoint_auth_method.as_deref();
        let has_keys = self.jwks.is_some() || self.jwks_uri.is_some();
        match (subject, method, self.secret_digest.take()) {
            (Some(subject), _, _) => ClientKind::Tls(TlsClientAuth::Pki(subject)),
            (None, Some("self_signed_tls_client_auth"), _) => {
                ClientKind::Tls(TlsClientAuth::SelfSigned)
            }
            (None, _, Some(secret_digest)) => ClientKind::Confidential { secret_digest },
            (None, _, None) if has_keys => ClientKind::PrivateKeyJwt,
            (None, _, None) => ClientKind::Public,
        }
    }
}

impl From<ClientRecord> for Client {
    fn from(mut r: ClientRecord) -> Self {
        Self {
            kind: r.kind(),
            id: r.id,
            name: r.name,
            grant_types: r.grant_types,
            scope: r.scope,
            resources: r.resources,
            redirect_uris: r.redirect_uris,
            post_logout_redirect_uris: r.post_logout_redirect_uris,
            require_pushed_authorization_requests: r.require_pushed_authorization_requests,
            access_token_lifetime: r.access_token_lifetime,
            token_format: r.token_format,
            introspection: r.introspection,
            created_at: r.created_at,
            origin: r.origin,
            keys: match (r.jwks, r.jwks_uri) {
                (Some(set), _) => Some(keys::ClientKeys::Jwks(set)),
                (None, Some(uri)) => Some(keys::ClientKeys::Uri(uri)),
                (None, None) => None,
            },
            binding: r.binding,
            security_profile: r.security_profile,
        }
    }
}

impl From<Client> for ClientRecord {
    fn from(c: Client) -> Self {
        use auth::tls::{TlsClientAuth, TlsSubject};
        let method = c.auth_method();
        let (secret_digest, subject) = match c.kind {
            ClientKind::Confidential { secret_digest } => (Some(secret_digest), None),
            ClientKind::Public
            | ClientKind::PrivateKeyJwt
            | ClientKind::Tls(TlsClientAuth::SelfSigned) => (None, None),
            ClientKind::Tls(TlsClientAuth::Pki(subject)) => (None, Some(subject)),
        };
        let mut record = Self {
            id: c.id,
            name: c.name,
            secret_digest,
            token_endpoint_auth_method: matches!(
                method,
                auth::AuthMethod::TlsClientAuth | auth::AuthMethod::SelfSignedTlsClientAuth
            )
            .then(|| method.as_str().to_owned()),
            tls_client_auth_subject_dn: None,
            tls_client_auth_san_dns: None,
            tls_client_auth_san_uri: None,
            tls_client_auth_san_ip: None,
            tls_client_auth_san_email: None,
            grant_types: c.grant_types,
            scope: c.scope,
            resources: c.resources,
            redirect_uris: c.redirect_uris,
            post_logout_redirect_uris: c.post_logout_redirect_uris,
            require_pushed_authorization_requests: c.require_pushed_authorization_requests,
            access_token_lifetime: c.access_token_lifetime,
            token_format: c.token_format,
            introspection: c.introspection,
            created_at: c.created_at,
            origin: c.origin,
            jwks: c.keys.as_ref().and_then(|k| k.jwks().cloned()),
            jwks_uri: c.keys.as_ref().and_then(|k| k.uri().map(str::to_owned)),
            binding: c.binding,
            security_profile: c.security_profile,
        };
        match subject {
            Some(TlsSubject::SubjectDn(v)) => record.tls_client_auth_subject_dn = Some(v),
            Some(TlsSubject::SanDns(v)) => record.tls_client_auth_san_dns = Some(v),
            Some(TlsSubject::SanUri(v)) => record.tls_client_auth_san_uri = Some(v),
            Some(TlsSubject::SanIp(v)) => record.tls_client_auth_san_ip = Some(v),
            Some(TlsSubject::SanEmail(v)) => record.tls_client_auth_san_email = Some(v),
            None => {}
        }
        record
    }
}

pub mod auth;
pub mod dynamic;
pub mod keys;
pub mod metadata_document;
pub mod redirect;
pub mod registration;

pub use redirect::{ApplicationType, RedirectUri};
pub use registration::{ClientRegistration, RegistrationError};
