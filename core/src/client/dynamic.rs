//! Dynamic client registration (RFC 7591) and management (RFC 7592): the metadata a client
//! sends, validated into a [`Client`] held to the self-registered policy (see
//! [`crate::grant::target`]), and the metadata echoed back.
//!
//! What real MCP clients send and need back is in shared/reference/mcp-auth.md §2.2: unknown
//! members are ignored (RFC 7591 §2), `redirect_uris` is echoed as an array, an optional member
//! is omitted rather than `null`, a secret is issued only for a secret-based method, and the
//! scope a client registers with does not pin what it may later ask for.

use gatehouse_token::{SecretDigest, UnixTime, b64};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::auth::AuthMethod;
use super::auth::tls::{TlsClientAuth, TlsSubject};
use super::keys::ClientKeys;
use super::redirect::{ApplicationType, RedirectUri};
use super::{Client, ClientId, ClientKind, ClientOrigin, ClientSecret, GrantType, Introspection};
use crate::ports::{Random, random_bytes};
use crate::scope::Scope;

/// The prefix of registration access tokens (RFC 7592 §1.2), so secret scanners can find them.
pub const REGISTRATION_TOKEN_PREFIX: &str = "gmt_";
/// The longest URI or text member accepted.
const MAX_TEXT: usize = 2048;
/// The most contacts.
const MAX_CONTACTS: usize = 8;

/// What the server allows a registration to ask for (config `[registration]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamicPolicy {
    /// Allowed `token_endpoint_auth_method`s.
    pub auth_methods: Vec<AuthMethod>,
    /// Allowed grant types.
    pub grant_types: Vec<GrantType>,
    /// The most redirect URIs.
    pub max_redirect_uris: usize,
}

/// Client metadata as sent (RFC 7591 §2; OIDC Registration §2 `application_type`). Members this
/// server does not know are ignored; a known member of the wrong JSON type is an error.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ClientMetadata {
    #[serde(default)]
    redirect_uris: Option<Vec<String>>,
    #[serde(default)]
    token_endpoint_auth_method: Option<String>,
    #[serde(default)]
    grant_types: Option<Vec<String>>,
    #[serde(default)]
    response_types: Option<Vec<String>>,
    #[serde(default)]
    client_name: Option<String>,
    #[serde(default)]
    client_uri: Option<String>,
    #[serde(default)]
    logo_uri: Option<String>,
    #[serde(default)]
    tos_uri: Option<String>,
    #[serde(default)]
    policy_uri: Option<String>,
    #[serde(default)]
    contacts: Option<Vec<String>>,
    #[serde(default)]
    software_id: Option<String>,
    #[serde(default)]
    software_version: Option<String>,
    #[serde(default)]
    application_type: Option<String>,
    #[serde(default)]
    post_logout_redirect_uris: Option<Vec<String>>,
    #[serde(default)]
    jwks_uri: Option<Value>,
    #[serde(default)]
    jwks: Option<Value>,
    /// RFC 8705 §2.1.2: a `tls_client_auth` client's subject (one of the five).
    #[serde(default)]
    tls_client_auth_subject_dn: Option<String>,
    #[serde(default)]
    tls_client_auth_san_dns: Option<String>,
    #[serde(default)]
    tls_client_auth_san_uri: Option<String>,
    #[serde(default)]
    tls_client_auth_san_ip: Option<String>,
    #[serde(default)]
    tls_client_auth_san_email: Option<String>,
    /// RFC 9449 §5.2: the client's access tokens are always DPoP-bound.
    #[serde(default)]
    dpop_bound_access_tokens: Option<bool>,
    /// RFC 8705 §3.4: the client's access tokens are bound to its TLS certificate.
    #[serde(default)]
    tls_client_certificate_bound_access_tokens: Option<bool>,
    /// RFC 7592 §2.2: an update names the client it updates.
    #[serde(default)]
    client_id: Option<String>,
    /// RFC 7592 §2.2: an update may repeat the secret; it must then be the current one.
    #[serde(default)]
    client_secret: Option<String>,
    /// RFC 7592 §2.2: never sent back.
    #[serde(default)]
    registration_access_token: Option<Value>,
}

/// What a self-registered client said about itself, kept to echo it back (RFC 7591 §3.2.1) and
/// to show it to the people it asks for consent. Self-asserted: nothing here is verified.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientProfile {
    /// `native` or `web`.
    pub application_type: String,
    /// The method it registered with.
    pub token_endpoint_auth_method: String,
    /// Its home page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    /// Its logo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    /// Its terms of service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tos_uri: Option<String>,
    /// Its privacy policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_uri: Option<String>,
    /// Who is responsible for it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<String>,
    /// The software it is an instance of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_id: Option<String>,
    /// That software's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_version: Option<String>,
}

/// RFC 7591 §3.2.2 error codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistrationRefused {
    /// `invalid_redirect_uri`.
    #[error("{0}")]
    InvalidRedirectUri(String),
    /// `invalid_client_metadata`.
    #[error("{0}")]
    InvalidClientMetadata(String),
}

impl RegistrationRefused {
    /// The `error` code.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::InvalidRedirectUri(_) => "invalid_redirect_uri",
            Self::InvalidClientMetadata(_) => "invalid_client_metadata",
        }
    }
}

fn metadata(message: impl Into<String>) -> RegistrationRefused {
    RegistrationRefused::InvalidClientMetadata(message.into())
}

/// A registration access token in clear, shown once; `Debug` never prints it.
#[derive(Clone)]
pub struct RegistrationToken(String);

impl RegistrationToken {
    /// A fresh token: `gmt_` + 256 random bits.
    pub fn generate(random: &dyn Random) -> Self {
        let mut text = String::from(REGISTRATION_TOKEN_PREFIX);
        b64::encode_into(random_bytes::<32>(random), &mut text);
        Self(text)
    }

    /// The token's text.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for RegistrationToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RegistrationToken([redacted])")
    }
}

/// A client just registered, with the credentials shown once.
#[derive(Debug)]
pub struct Registered {
    /// The client.
    pub client: Client,
    /// Its secret, for a secret-based method.
    pub secret: Option<ClientSecret>,
    /// Its registration access token (RFC 7592).
    pub token: RegistrationToken,
}

/// The checked parts of a registration, shared by registering and updating.
struct Checked {
    name: String,
    public: bool,
    keys: Option<ClientKeys>,
    /// A mutual-TLS client's method and subject (RFC 8705 §2).
    tls: Option<TlsClientAuth>,
    grant_types: Vec<GrantType>,
    redirect_uris: Vec<RedirectUri>,
    post_logout_redirect_uris: Vec<RedirectUri>,
    profile: ClientProfile,
    binding: crate::binding::BindingPolicy,
}

fn text(field: &str, value: Option<String>) -> Result<Option<String>, RegistrationRefused> {
    match value {
        Some(v) if v.len() > MAX_TEXT || v.chars().any(char::is_control) => Err(metadata(format!(
            "{field}: at most {MAX_TEXT} bytes of printable text"
        ))),
        // RFC 7591 §2 allows empty values to be treated as absent.
        Some(v) if v.is_empty() => Ok(None),
        other => Ok(other),
    }
}

fn web_uri(field: &str, value: Option<String>) -> Result<Option<String>, RegistrationRefused> {
    let Some(v) = text(field, value)? else {
        return Ok(None);
    };
    match url::Url::parse(&v) {
        Ok(u) if u.scheme() == "https" || u.scheme() == "http" => Ok(Some(v)),
        _ => Err(metadata(format!("{field}: must be an http or https URL"))),
    }
}

fn redirects(
    field: &'static str,
    list: Option<Vec<String>>,
    max: usize,
) -> Result<Vec<RedirectUri>, RegistrationRefused> {
    let list = list.unwrap_or_default();
    if list.len() > max {
        return Err(RegistrationRefused::InvalidRedirectUri(format!(
            "{field}: at most {max}"
        )));
    }
    let mut out: Vec<RedirectUri> = Vec::new();
    for t in &list {
        let uri = RedirectUri::register(t)
            .map_err(|e| RegistrationRefused::InvalidRedirectUri(format!("{t:?}: {e}")))?;
        if !out.contains(&uri) {
            out.push(uri);
        }
    }
    Ok(out)
}

impl ClientMetadata {
    fn check(self, policy: &DynamicPolicy) -> Result<Checked, RegistrationRefused> {
        let method = match self.token_endpoint_auth_method.as_deref() {
            // RFC 7591 §2: the default is client_secret_basic.
            None => AuthMethod::ClientSecretBasic,
            Some(name) => AuthMethod::parse(name).ok_or_else(|| {
                metadata(format!(
                    "token_endpoint_auth_method {name:?} is not supported"
                ))
            })?,
        };
        if !policy.auth_methods.contains(&method) {
            let allowed: Vec<&str> = policy.auth_methods.iter().map(|m| m.as_str()).collect();
            return Err(metadata(format!(
                "token_endpoint_auth_method {} is not allowed here; use one of {}",
                method.as_str(),
                allowed.join(", ")
            )));
        }
        let public = method == AuthMethod::None;
        // RFC 7591 §2: `jwks` and `jwks_uri` are the keys of a private_key_jwt client, one or
        // the other; sent with another method they would be keys nothing checks.
        let keys = if method == AuthMethod::PrivateKeyJwt {
            let uri = match &self.jwks_uri {
                None => None,
                Some(Value::String(uri)) => Some(uri.as_str()),
                Some(_) => return Err(metadata("jwks_uri must be a string")),
            };
            Some(
                ClientKeys::register(self.jwks.as_ref(), uri)
                    .map_err(|e| metadata(e.to_string()))?,
            )
        } else if self.jwks.is_some() || self.jwks_uri.is_some() {
            return Err(metadata(
                "jwks and jwks_uri are for token_endpoint_auth_method private_key_jwt",
            ));
        } else {
            None
        };
        let m = TlsSubject::MEMBERS;
        let subject = TlsSubject::from_members([
            (m[0], self.tls_client_auth_subject_dn.as_deref()),
            (m[1], self.tls_client_auth_san_dns.as_deref()),
            (m[2], self.tls_client_auth_san_uri.as_deref()),
            (m[3], self.tls_client_auth_san_ip.as_deref()),
            (m[4], self.tls_client_auth_san_email.as_deref()),
        ])
        .map_err(|(member, message)| metadata(format!("{member}: {message}")))?;
        // RFC 8705 §2.1.2: exactly one subject with tls_client_auth, none with another method.
        let tls = match (method, subject) {
            (AuthMethod::TlsClientAuth, Some(subject)) => Some(TlsClientAuth::Pki(subject)),
            (AuthMethod::TlsClientAuth, None) => {
                return Err(metadata(
                    "tls_client_auth needs one of tls_client_auth_subject_dn, tls_client_auth_san_dns, \
                     tls_client_auth_san_uri, tls_client_auth_san_ip, tls_client_auth_san_email",
                ));
            }
            (AuthMethod::SelfSignedTlsClientAuth, _) => {
                return Err(metadata(
                    "self_signed_tls_client_auth needs the client's jwks (RFC 8705 §2.2), which \
                     registration does not take yet",
                ));
            }
            (_, Some(subject)) => {
                return Err(metadata(format!(
                    "{}: only a tls_client_auth client registers a certificate subject",
                    subject.member()
                )));
            }
            (_, None) => None,
        };
        // RFC 7591 §2: the default grant type is authorization_code.
        let names = self
            .grant_types
            .unwrap_or_else(|| vec!["authorization_code".into()]);
        let mut grant_types = Vec::new();
        for name in &names {
            let g = GrantType::parse(name)
                .filter(|g| policy.grant_types.contains(g))
                .ok_or_else(|| {
                    let allowed: Vec<&str> =
                        policy.grant_types.iter().map(|g| g.as_str()).collect();
                    metadata(format!(
                        "grant_types: {name:?} is not allowed here; use {}",
                        allowed.join(", ")
                    ))
                })?;
            if !grant_types.contains(&g) {
                grant_types.push(g);
            }
        }
        if grant_types.is_empty() {
            return Err(metadata("grant_types: name at least one"));
        }
        if public && grant_types.contains(&GrantType::ClientCredentials) {
            return Err(metadata(
                "a public client cannot use client_credentials (OAuth 2.1 §4.2)",
            ));
        }
        if grant_types == [GrantType::RefreshToken] {
            return Err(metadata("refresh_token comes with authorization_code"));
        }
        // RFC 7591 §2.1: response types must agree with the grant types; `code` is the one.
        let code = grant_types.contains(&GrantType::AuthorizationCode);
        match self.response_types.as_deref() {
            None => {}
            Some([]) if !code => {}
            Some([one]) if one == "code" && code => {}
            Some(other) => {
                return Err(metadata(format!(
                    "response_types {other:?} do not match the grant types: use [\"code\"] with \
                     authorization_code"
                )));
            }
        }
        let redirect_uris = redirects(
            "redirect_uris",
            self.redirect_uris,
            policy.max_redirect_uris,
        )?;
        if code && redirect_uris.is_empty() {
            return Err(RegistrationRefused::InvalidRedirectUri(
                "redirect_uris: authorization_code needs at least one".into(),
            ));
        }
        let application_type =
            ApplicationType::of(self.application_type.as_deref(), &redirect_uris)
                .map_err(|e| RegistrationRefused::InvalidRedirectUri(e.to_string()))?;
        let post_logout_redirect_uris = redirects(
            "post_logout_redirect_uris",
            self.post_logout_redirect_uris,
            policy.max_redirect_uris,
        )?;
        let name = match text("client_name", self.client_name)? {
            Some(n) if n.trim().chars().count() > 200 => {
                return Err(metadata("client_name: at most 200 characters"));
            }
            // Bidirectional overrides and zero-width characters would let a name pass for
            // another on the consent page.
            Some(n) if n.chars().any(crate::user::invisible) => {
                return Err(metadata(
                    "client_name: no invisible or bidirectional-control characters",
                ));
            }
            Some(n) if !n.trim().is_empty() => n.trim().to_owned(),
            // A name for the consent page when the client gave none: where it sends people.
            _ => redirect_uris.first().map_or_else(
                || "Unnamed client".to_owned(),
                |u| u.display_host().to_owned(),
            ),
        };
        let contacts = self.contacts.unwrap_or_default();
        if contacts.len() > MAX_CONTACTS {
            return Err(metadata(format!("contacts: at most {MAX_CONTACTS}")));
        }
        let contacts = contacts
            .into_iter()
            .map(|c| text("contacts", Some(c)))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .collect();
        let binding = crate::binding::BindingPolicy {
            dpop_bound_access_tokens: self.dpop_bound_access_tokens.unwrap_or(false),
            tls_client_certificate_bound_access_tokens: self
                .tls_client_certificate_bound_access_tokens
                .unwrap_or(false),
        };
        Ok(Checked {
            binding,
            name,
            public,
            keys,
            tls,
            grant_types,
            redirect_uris,
            post_logout_redirect_uris,
            profile: ClientProfile {
                application_type: application_type.as_str().into(),
                token_endpoint_auth_method: method.as_str().into(),
                client_uri: web_uri("client_uri", self.client_uri)?,
                logo_uri: web_uri("logo_uri", self.logo_uri)?,
                tos_uri: web_uri("tos_uri", self.tos_uri)?,
                policy_uri: web_uri("policy_uri", self.policy_uri)?,
                contacts,
                software_id: text("software_id", self.software_id)?,
                software_version: text("software_version", self.software_version)?,
            },
        })
    }

    /// Registers a new client (RFC 7591 §3.1): a fresh id, a secret for a secret-based method,
    /// a registration access token. `scope` is not kept: what a self-registered client may get
    /// is decided per request from the resource registry.
    pub fn register(
        self,
        policy: &DynamicPolicy,
        random: &dyn Random,
        now: UnixTime,
    ) -> Result<Registered, RegistrationRefused> {
        if self.client_id.is_some() || self.client_secret.is_some() {
            return Err(metadata(
                "client_id and client_secret are issued by the server, not chosen",
            ));
        }
        let checked = self.check(policy)?;
        let secret = (!checked.public && checked.keys.is_none() && checked.tls.is_none())
            .then(|| ClientSecret::generate(random));
        let token = RegistrationToken::generate(random);
        let client = Client {
            id: ClientId::generate(random),
            name: checked.name,
            kind: match (&secret, checked.tls, &checked.keys) {
                (_, Some(tls), _) => ClientKind::Tls(tls),
                (Some(s), None, _) => ClientKind::Confidential {
                    secret_digest: s.digest(),
                },
                (None, None, Some(_)) => ClientKind::PrivateKeyJwt,
                (None, None, None) => ClientKind::Public,
            },
            grant_types: checked.grant_types,
            scope: Scope::empty(),
            resources: Vec::new(),
            redirect_uris: checked.redirect_uris,
            post_logout_redirect_uris: checked.post_logout_redirect_uris,
            require_pushed_authorization_requests: false,
            access_token_lifetime: None,
            token_format: super::TokenFormat::Jwt,
            // Never: introspection is for resource servers an operator trusts.
            introspection: Introspection::None,
            created_at: now,
            binding: checked.binding,
            // Self-registered clients follow the server's profile.
            security_profile: crate::profile::SecurityProfile::default(),
            origin: ClientOrigin::Dynamic {
                registration_token_digest: SecretDigest::of(token.expose()),
                last_used: now,
                profile: Box::new(checked.profile),
            },
            keys: checked.keys,
        };
        Ok(Registered {
            client,
            secret,
            token,
        })
    }

    /// Updates `current` with this metadata (RFC 7592 §2.2): the whole metadata is replaced;
    /// the id, secret, registration token and registration time stay. A client cannot turn
    /// from public to confidential or back (it would need a secret it was never given).
    pub fn update(
        self,
        current: &Client,
        policy: &DynamicPolicy,
    ) -> Result<Client, RegistrationRefused> {
        if self.client_id.as_deref() != Some(current.id.as_str()) {
            return Err(metadata(
                "client_id must be the id of the client being updated",
            ));
        }
        if self.registration_access_token.is_some() {
            return Err(metadata(
                "registration_access_token must not be sent in an update (RFC 7592 §2.2)",
            ));
        }
        if let Some(secret) = &self.client_secret {
            if !current.secret_matches(secret) {
                return Err(metadata("client_secret is not the client's secret"));
            }
        }
        let ClientOrigin::Dynamic {
            registration_token_digest,
            last_used,
            ..
        } = &current.origin
        else {
            return Err(metadata(
                "only dynamically registered clients are managed here",
            ));
        };
        let checked = self.check(policy)?;
        let same_kind = match current.kind {
            ClientKind::Public => checked.public,
            ClientKind::PrivateKeyJwt => checked.keys.is_some(),
            ClientKind::Tls(_) => checked.tls.is_some(),
            ClientKind::Confidential { .. } => {
                !checked.public && checked.keys.is_none() && checked.tls.is_none()
            }
        };
        if !same_kind {
            return Err(metadata(
                "token_endpoint_auth_method cannot change between none, private_key_jwt, mutual \
                 TLS and a secret method; register a new client",
            ));
        }
        let mut client = current.clone();
        // RFC 8705 §2.1.2: a tls_client_auth client may change its registered subject (a new
        // certificate).
        if let Some(tls) = checked.tls {
            client.kind = ClientKind::Tls(tls);
        }
        client.name = checked.name;
        client.grant_types = checked.grant_types;
        client.redirect_uris = checked.redirect_uris;
        client.post_logout_redirect_uris = checked.post_logout_redirect_uris;
        // RFC 7592 §2.2: the keys are metadata like the rest, replaced by an update.
        client.keys = checked.keys;
        client.binding = checked.binding;
        client.origin = ClientOrigin::Dynamic {
            registration_token_digest: *registration_token_digest,
            last_used: *last_used,
            profile: Box::new(checked.profile),
        };
        Ok(client)
    }
}

/// The client information response (RFC 7591 §3.2.1, RFC 7592 §3): the registered metadata,
/// every optional member omitted when unset (never `null`, mcp-auth.md §2.2), the secret and
/// registration access token only when given (at registration).
pub fn describe(
    client: &Client,
    secret: Option<&ClientSecret>,
    token: Option<&RegistrationToken>,
    registration_client_uri: &str,
) -> Value {
    let mut out = Map::new();
    out.insert("client_id".into(), json!(client.id.as_str()));
    out.insert("client_id_issued_at".into(), json!(client.created_at.0));
    if let Some(s) = secret {
        out.insert("client_secret".into(), json!(s.expose()));
        // RFC 7591 §3.2.1: 0 means it does not expire.
        out.insert("client_secret_expires_at".into(), json!(0));
    }
    if let Some(t) = token {
        out.insert("registration_access_token".into(), json!(t.expose()));
    }
    out.insert(
        "registration_client_uri".into(),
        json!(registration_client_uri),
    );
    out.insert("client_name".into(), json!(client.name));
    let uris: Vec<&str> = client
        .redirect_uris
        .iter()
        .map(RedirectUri::as_str)
        .collect();
    out.insert("redirect_uris".into(), json!(uris));
    if !client.post_logout_redirect_uris.is_empty() {
        let uris: Vec<&str> = client
            .post_logout_redirect_uris
            .iter()
            .map(RedirectUri::as_str)
            .collect();
        out.insert("post_logout_redirect_uris".into(), json!(uris));
    }
    let grants: Vec<&str> = client.grant_types.iter().map(|g| g.as_str()).collect();
    out.insert("grant_types".into(), json!(grants));
    if let Value::Object(fields) = json!(client.binding) {
        out.extend(fields);
    }
    let code = client.grant_types.contains(&GrantType::AuthorizationCode);
    out.insert(
        "response_types".into(),
        json!(if code { vec!["code"] } else { vec![] }),
    );
    if let ClientOrigin::Dynamic { profile, .. } = &client.origin {
        if let Value::Object(fields) = json!(profile) {
            out.extend(fields);
        }
    }
    match &client.keys {
        Some(ClientKeys::Jwks(set)) => {
            out.insert("jwks".into(), json!(set));
        }
        Some(ClientKeys::Uri(uri)) => {
            out.insert("jwks_uri".into(), json!(uri));
        }
        None => {}
    }
    if let ClientKind::Tls(TlsClientAuth::Pki(subject)) = &client.kind {
        out.insert(subject.member().into(), json!(subject.value()));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests;
