//! Registered clients (RFC 6749 §2): their ids, secrets and what each may ask for.

use std::borrow::Borrow;
use std::fmt;

use gatehouse_token::{TokenDigest, UnixTime, b64};
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
    pub fn digest(&self) -> TokenDigest {
        TokenDigest::of(&self.0)
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
    /// RFC 6749 §4.4.
    ClientCredentials,
}

impl GrantType {
    /// The registered `grant_type` value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ClientCredentials => "client_credentials",
        }
    }

    /// Every grant type Gatehouse implements.
    pub const ALL: [Self; 1] = [Self::ClientCredentials];

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

/// A registered client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    /// Its id.
    pub id: ClientId,
    /// A human-readable name.
    pub name: String,
    /// SHA-256 of its secret.
    pub secret_digest: TokenDigest,
    /// The grants it may use.
    pub grant_types: Vec<GrantType>,
    /// The most it may be granted; also what it gets when it asks for no scope.
    pub scope: Scope,
    /// The resources it may get tokens for; the first is the default (RFC 8707).
    pub resources: Vec<Resource>,
    /// Its access-token lifetime in seconds, overriding the server's default.
    pub access_token_lifetime: Option<u64>,
    /// The format of its access tokens.
    pub token_format: TokenFormat,
    /// Whether and for which tokens it may use the introspection endpoint. Records written
    /// before this field existed read as [`Introspection::None`].
    #[serde(default)]
    pub introspection: Introspection,
    /// When it was registered.
    pub created_at: UnixTime,
}

impl Client {
    /// Whether `secret` is this client's secret, compared in constant time.
    pub fn secret_matches(&self, secret: &str) -> bool {
        TokenDigest::of(secret)
            .0
            .ct_eq(&self.secret_digest.0)
            .into()
    }

    /// The resource a token is for when the request names none.
    pub fn default_resource(&self) -> Option<&Resource> {
        self.resources.first()
    }
}

/// What an operator asks for when registering a client. An unknown member is an error naming
/// it, never silently ignored (a misspelt `acess_token_lifetime` must not yield the default).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientRegistration {
    /// A human-readable name.
    pub name: String,
    /// Grant type names.
    pub grant_types: Vec<String>,
    /// Space-delimited scope.
    #[serde(default)]
    pub scope: String,
    /// Resource URIs; the first is the default.
    #[serde(default)]
    pub resources: Vec<String>,
    /// Access-token lifetime in seconds.
    #[serde(default)]
    pub access_token_lifetime: Option<u64>,
    /// `jwt` (default) or `opaque`.
    #[serde(default)]
    pub token_format: TokenFormat,
    /// `none` (default), `resources` or `any`.
    #[serde(default)]
    pub introspection: Introspection,
}

/// Why a registration was refused; each message names the field and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RegistrationError {
    /// The offending field.
    pub field: &'static str,
    /// What is wrong and how to fix it.
    pub message: String,
}

fn refuse(field: &'static str, message: impl Into<String>) -> RegistrationError {
    RegistrationError {
        field,
        message: message.into(),
    }
}

impl ClientRegistration {
    /// Validates the registration and creates the client with a fresh id and secret.
    pub fn register(
        self,
        random: &dyn Random,
        now: UnixTime,
    ) -> Result<(Client, ClientSecret), RegistrationError> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
            return Err(refuse("name", "give 1 to 200 printable characters"));
        }
        if self.grant_types.is_empty() {
            return Err(refuse(
                "grant_types",
                "name at least one grant type (client_credentials)",
            ));
        }
        let mut grant_types = Vec::new();
        for g in &self.grant_types {
            let grant = GrantType::parse(g).ok_or_else(|| {
                refuse(
                    "grant_types",
                    format!("{g:?} is not supported; use client_credentials"),
                )
            })?;
            if !grant_types.contains(&grant) {
                grant_types.push(grant);
            }
        }
        if self.scope.len() > MAX_SCOPE_LEN {
            return Err(refuse(
                "scope",
                format!(
                    "at most {MAX_SCOPE_LEN} characters, or its tokens grow past what validators accept"
                ),
            ));
        }
        if self.resources.len() > MAX_RESOURCES {
            return Err(refuse(
                "resources",
                format!("at most {MAX_RESOURCES}; register another client for more"),
            ));
        }
        let scope: Scope = self
            .scope
            .parse()
            .map_err(|e: crate::scope::InvalidScope| refuse("scope", e.to_string()))?;
        let mut resources: Vec<Resource> = Vec::new();
        for r in &self.resources {
            let resource: Resource = r.parse().map_err(|e: crate::resource::InvalidResource| {
                refuse("resources", format!("{r:?}: {e}"))
            })?;
            if !resources.contains(&resource) {
                resources.push(resource);
            }
        }
        if resources.is_empty() {
            return Err(refuse(
                "resources",
                "name at least one resource URI (the first is the default audience of tokens)",
            ));
        }
        if let Some(lifetime) = self.access_token_lifetime {
            if !LIFETIME_RANGE.contains(&lifetime) {
                return Err(refuse(
                    "access_token_lifetime",
                    format!("{lifetime} s is out of range; give 1 s to 30 days"),
                ));
            }
        }
        let secret = ClientSecret::generate(random);
        let client = Client {
            id: ClientId::generate(random),
            name: name.to_owned(),
            secret_digest: secret.digest(),
            grant_types,
            scope,
            resources,
            access_token_lifetime: self.access_token_lifetime,
            token_format: self.token_format,
            introspection: self.introspection,
            created_at: now,
        };
        Ok((client, secret))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::CountingRandom;

    fn registration() -> ClientRegistration {
        ClientRegistration {
            name: "billing".into(),
            grant_types: vec!["client_credentials".into()],
            scope: "read write".into(),
            resources: vec!["https://api.example.com/".into()],
            access_token_lifetime: Some(300),
            token_format: TokenFormat::Jwt,
            introspection: Introspection::None,
        }
    }

    #[test]
    fn registers_with_fresh_id_and_secret() {
        let (client, secret) = registration()
            .register(&CountingRandom::default(), UnixTime(5))
            .unwrap();
        assert!(secret.expose().starts_with("gcs_"));
        assert_eq!(secret.expose().len(), 4 + 43);
        assert!(client.secret_matches(secret.expose()));
        assert!(!client.secret_matches("gcs_wrong"));
        assert_eq!(
            client.default_resource().unwrap().as_str(),
            "https://api.example.com"
        );
        assert_eq!(format!("{secret:?}"), "ClientSecret([redacted])");
    }

    #[test]
    fn unknown_registration_members_are_refused_by_name() {
        let text = r#"{"name":"a","grant_types":["client_credentials"],"resources":["https://rs"],"acess_token_lifetime":60}"#;
        let err = serde_json::from_str::<ClientRegistration>(text).unwrap_err();
        assert!(err.to_string().contains("acess_token_lifetime"), "{err}");
    }

    #[test]
    fn records_without_introspection_read_as_none() {
        let (client, _) = registration()
            .register(&CountingRandom::default(), UnixTime(5))
            .unwrap();
        let mut json = serde_json::to_value(&client).unwrap();
        json.as_object_mut().unwrap().remove("introspection");
        let old: Client = serde_json::from_value(json).unwrap();
        assert_eq!(old.introspection, Introspection::None);
    }

    #[test]
    fn refuses_bad_fields_by_name() {
        let random = CountingRandom::default();
        type Mutation = fn(&mut ClientRegistration);
        let cases: [(Mutation, &str); 8] = [
            (|r| r.scope = "s ".repeat(1100).trim_end().into(), "scope"),
            (
                |r| r.resources = (0..33).map(|i| format!("https://r{i}.example")).collect(),
                "resources",
            ),
            (|r| r.name = " ".into(), "name"),
            (|r| r.grant_types = vec!["password".into()], "grant_types"),
            (|r| r.scope = "a  b".into(), "scope"),
            (|r| r.resources = vec![], "resources"),
            (
                |r| r.resources = vec!["https://x/#frag".into()],
                "resources",
            ),
            (
                |r| r.access_token_lifetime = Some(0),
                "access_token_lifetime",
            ),
        ];
        for (mutate, field) in cases {
            let mut reg = registration();
            mutate(&mut reg);
            assert_eq!(reg.register(&random, UnixTime(0)).unwrap_err().field, field);
        }
    }
}
