//! Registering a client: what an operator asks for, validated field by field into a new
//! [`Client`] with a fresh id and secret.

use crate::profile::SecurityProfile;
use gatehouse_token::UnixTime;
use serde::{Deserialize, Serialize};

use super::auth::AuthMethod;
use super::auth::tls::{TlsClientAuth, TlsSubject};
use super::keys::ClientKeys;
use super::redirect::{MAX_REDIRECT_URIS, RedirectUri};
use super::{
    Client, ClientId, ClientKind, ClientSecret, GrantType, Introspection, LIFETIME_RANGE,
    MAX_RESOURCES, MAX_SCOPE_LEN, TokenFormat,
};
use crate::ports::Random;
use crate::resource::Resource;
use crate::scope::Scope;

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
    /// `client_secret_basic` (default: a confidential client with a secret), `none` (a
    /// public client: no secret, PKCE on every code flow) or `private_key_jwt` (a client that
    /// signs assertions with its private key; give `jwks` or `jwks_uri`).
    #[serde(default)]
    pub token_endpoint_auth_method: Option<String>,
    /// `private_key_jwt`: the client's public keys, a JWK set (RFC 7591 §2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<serde_json::Value>,
    /// `private_key_jwt`: where the client publishes its public keys, https (RFC 7591 §2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// Where authorization responses may be sent (required with `authorization_code`).
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Where a person may be sent after signing out at its request (OIDC RP-Initiated Logout
    /// 1.0 §3.1); the same rules as redirect URIs.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Whether its authorization requests must be pushed first (RFC 9126 §6).
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
    /// Whether its access tokens must be DPoP-bound (RFC 9449 §5.2).
    #[serde(default)]
    pub dpop_bound_access_tokens: bool,
    /// The security profile it is held to (`oauth2.1`, the default, or `fapi2`).
    #[serde(default)]
    pub security_profile: SecurityProfile,
    /// Whether its access tokens are bound to its TLS client certificate (RFC 8705 §3.4).
    #[serde(default)]
    pub tls_client_certificate_bound_access_tokens: bool,
    /// `tls_client_auth`: the expected subject DN (RFC 8705 §2.1.2, an RFC 4514 string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_subject_dn: Option<String>,
    /// `tls_client_auth`: an expected dNSName SAN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_dns: Option<String>,
    /// `tls_client_auth`: an expected URI SAN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_uri: Option<String>,
    /// `tls_client_auth`: an expected iPAddress SAN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_ip: Option<String>,
    /// `tls_client_auth`: an expected rfc822Name SAN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_email: Option<String>,
}

impl ClientRegistration {
    /// The `tls_client_auth` subject members as given, in RFC 8705 §2.1.2 order.
    fn tls_subject_members(&self) -> [(&'static str, Option<&str>); 5] {
        let m = TlsSubject::MEMBERS;
        [
            (m[0], self.tls_client_auth_subject_dn.as_deref()),
            (m[1], self.tls_client_auth_san_dns.as_deref()),
            (m[2], self.tls_client_auth_san_uri.as_deref()),
            (m[3], self.tls_client_auth_san_ip.as_deref()),
            (m[4], self.tls_client_auth_san_email.as_deref()),
        ]
    }
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
    /// Validates the registration and creates the client with a fresh id and, for a
    /// confidential client, a fresh secret.
    pub fn register(
        self,
        random: &dyn Random,
        now: UnixTime,
    ) -> Result<(Client, Option<ClientSecret>), RegistrationError> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
            return Err(refuse("name", "give 1 to 200 printable characters"));
        }
        if self.grant_types.is_empty() {
            return Err(refuse(
                "grant_types",
                "name at least one grant type (authorization_code, refresh_token, client_credentials, urn:ietf:params:oauth:grant-type:jwt-bearer, urn:ietf:params:oauth:grant-type:token-exchange)",
            ));
        }
        let method = match self.token_endpoint_auth_method.as_deref() {
            None => AuthMethod::ClientSecretBasic,
            Some(name) => AuthMethod::parse(name).ok_or_else(|| {
                refuse(
                    "token_endpoint_auth_method",
                    format!(
                        "{name:?} is not supported; use client_secret_basic, private_key_jwt, none, tls_client_auth or self_signed_tls_client_auth"
                    ),
                )
            })?,
        };
        let public = method == AuthMethod::None;
        // RFC 7591 §2: the keys of a private_key_jwt client; RFC 8705 §2.2: the certificates of a
        // self-signed one, in its JWK set (`x5c`).
        let keys = if matches!(
            method,
            AuthMethod::PrivateKeyJwt | AuthMethod::SelfSignedTlsClientAuth
        ) {
            let field = if self.jwks.is_none() && self.jwks_uri.is_some() {
                "jwks_uri"
            } else {
                "jwks"
            };
            let keys = ClientKeys::register(self.jwks.as_ref(), self.jwks_uri.as_deref()).map_err(
                |e| {
                    let message = e.0.strip_prefix("jwks: ").unwrap_or(&e.0).to_owned();
                    refuse(field, message)
                },
            )?;
            if method == AuthMethod::SelfSignedTlsClientAuth && keys.certificates().is_empty() {
                return Err(refuse(
                    "jwks",
                    "self_signed_tls_client_auth needs jwks (by value) whose keys carry the client's certificates in x5c (RFC 8705 §2.2)",
                ));
            }
            Some(keys)
        } else {
            if self.jwks.is_some() || self.jwks_uri.is_some() {
                return Err(refuse(
                    "jwks",
                    "jwks and jwks_uri are for token_endpoint_auth_method private_key_jwt or self_signed_tls_client_auth",
                ));
            }
            None
        };
        let subject = TlsSubject::from_members(self.tls_subject_members())
            .map_err(|(member, message)| refuse(member, message))?;
        // RFC 8705 §2.1.2: `tls_client_auth` needs exactly one subject, the other methods none.
        let tls = match (method, subject) {
            (AuthMethod::TlsClientAuth, Some(subject)) => Some(TlsClientAuth::Pki(subject)),
            (AuthMethod::TlsClientAuth, None) => {
                return Err(refuse(
                    "tls_client_auth_subject_dn",
                    "tls_client_auth needs the certificate's subject: one of tls_client_auth_subject_dn, tls_client_auth_san_dns, tls_client_auth_san_uri, tls_client_auth_san_ip, tls_client_auth_san_email (RFC 8705 §2.1.2)",
                ));
            }
            (AuthMethod::SelfSignedTlsClientAuth, None) => Some(TlsClientAuth::SelfSigned),
            (_, Some(subject)) => {
                return Err(refuse(
                    subject.member(),
                    "only a tls_client_auth client registers a certificate subject",
                ));
            }
            (_, None) => None,
        };
        let mut grant_types = Vec::new();
        for g in &self.grant_types {
            let grant = GrantType::parse(g).ok_or_else(|| {
                refuse(
                    "grant_types",
                    format!(
                        "{g:?} is not supported; use one of {}",
                        GrantType::ALL.map(GrantType::as_str).join(", ")
                    ),
                )
            })?;
            if !grant_types.contains(&grant) {
                grant_types.push(grant);
            }
        }
        if public && grant_types.contains(&GrantType::ClientCredentials) {
            return Err(refuse(
                "grant_types",
                "a public client cannot use client_credentials (OAuth 2.1 §4.2): it has no secret",
            ));
        }
        if let Some(g) = grant_types.iter().find(|g| public && g.operator_only()) {
            return Err(refuse(
                "grant_types",
                format!(
                    "a public client cannot use {}: the grant must be bound to an authenticated client (MCP EMA §7.7)",
                    g.as_str()
                ),
            ));
        }
        if grant_types == [GrantType::RefreshToken] {
            return Err(refuse(
                "grant_types",
                "refresh_token comes with authorization_code: add it",
            ));
        }
        if self.redirect_uris.len() > MAX_REDIRECT_URIS {
            return Err(refuse(
                "redirect_uris",
                format!("at most {MAX_REDIRECT_URIS}"),
            ));
        }
        let mut redirect_uris: Vec<RedirectUri> = Vec::new();
        for text in &self.redirect_uris {
            let uri = RedirectUri::register(text)
                .map_err(|e| refuse("redirect_uris", format!("{text:?}: {e}")))?;
            if !redirect_uris.contains(&uri) {
                redirect_uris.push(uri);
            }
        }
        if self.post_logout_redirect_uris.len() > MAX_REDIRECT_URIS {
            return Err(refuse(
                "post_logout_redirect_uris",
                format!("at most {MAX_REDIRECT_URIS}"),
            ));
        }
        let mut post_logout_redirect_uris: Vec<RedirectUri> = Vec::new();
        for text in &self.post_logout_redirect_uris {
            let uri = RedirectUri::register(text)
                .map_err(|e| refuse("post_logout_redirect_uris", format!("{text:?}: {e}")))?;
            if !post_logout_redirect_uris.contains(&uri) {
                post_logout_redirect_uris.push(uri);
            }
        }
        if grant_types.contains(&GrantType::AuthorizationCode) && redirect_uris.is_empty() {
            return Err(refuse(
                "redirect_uris",
                "authorization_code needs at least one redirect URI",
            ));
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
        // FAPI 2.0 SP §5.3.2.1 item 4 and §5.4.1: strong client authentication only, with
        // ES256 or PS256 keys; refused here rather than at every request.
        let profile = self.security_profile;
        if !profile.allows_auth_method(method) {
            return Err(refuse(
                "token_endpoint_auth_method",
                format!(
                    "the {profile} security profile allows private_key_jwt, tls_client_auth or \
                     self_signed_tls_client_auth only, not {}",
                    method.as_str()
                ),
            ));
        }
        if let Some(set) = keys.as_ref().and_then(super::keys::ClientKeys::jwks) {
            if let Some(key) = set.keys.iter().find(|k| !profile.allows_algorithm(k.alg)) {
                return Err(refuse(
                    "jwks",
                    format!(
                        "key {:?} is {}: the {profile} security profile allows ES256 and PS256 keys only",
                        key.kid, key.alg
                    ),
                ));
            }
        }
        let secret =
            (!public && keys.is_none() && tls.is_none()).then(|| ClientSecret::generate(random));
        let client = Client {
            id: ClientId::generate(random),
            name: name.to_owned(),
            kind: match (&secret, tls, &keys) {
                (_, Some(tls), _) => ClientKind::Tls(tls),
                (Some(secret), None, _) => ClientKind::Confidential {
                    secret_digest: secret.digest(),
                },
                (None, None, Some(_)) => ClientKind::PrivateKeyJwt,
                (None, None, None) => ClientKind::Public,
            },
            grant_types,
            scope,
            resources,
            redirect_uris,
            post_logout_redirect_uris,
            require_pushed_authorization_requests: self.require_pushed_authorization_requests,
            access_token_lifetime: self.access_token_lifetime,
            token_format: self.token_format,
            introspection: self.introspection,
            created_at: now,
            origin: super::ClientOrigin::Operator,
            keys,
            binding: crate::binding::BindingPolicy {
                dpop_bound_access_tokens: self.dpop_bound_access_tokens,
                tls_client_certificate_bound_access_tokens: self
                    .tls_client_certificate_bound_access_tokens,
            },
            security_profile: profile,
        };
        Ok((client, secret))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::CountingRandom;

    fn registration() -> ClientRegistration {
        ClientRegistration {
            name: "billing".into(),
            grant_types: vec!["client_credentials".into()],
            scope: "read write".into(),
            resources: vec!["https://api.example.com/".into()],
            access_token_lifetime: Some(300),
            token_format: TokenFormat::Jwt,
            introspection: Introspection::None,
            token_endpoint_auth_method: None,
            jwks: None,
            jwks_uri: None,
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
            require_pushed_authorization_requests: false,
            tls_client_auth_subject_dn: None,
            tls_client_auth_san_dns: None,
            tls_client_auth_san_uri: None,
            tls_client_auth_san_ip: None,
            tls_client_auth_san_email: None,
            dpop_bound_access_tokens: false,
            security_profile: SecurityProfile::default(),
            tls_client_certificate_bound_access_tokens: false,
        }
    }

    /// FAPI 2.0 SP §5.3.2.1 item 4, §5.4.1: a FAPI client authenticates by key or
    /// certificate, with ES256 or PS256 keys; it is stored with its profile.
    #[test]
    fn fapi2_clients_need_strong_authentication_and_allowed_keys() {
        let random = CountingRandom::default();
        let key = |crv: &str, len: usize| {
            serde_json::json!({"keys": [{"kty": "EC", "crv": crv, "kid": "k",
                "x": gatehouse_token::b64::encode(vec![1u8; len]),
                "y": gatehouse_token::b64::encode(vec![2u8; len])}]})
        };
        let fapi = |method: Option<&str>| {
            let mut reg = registration();
            reg.security_profile = SecurityProfile::Fapi2;
            reg.token_endpoint_auth_method = method.map(str::to_owned);
            reg.grant_types = vec!["authorization_code".into()];
            reg.redirect_uris = vec!["https://app.example/cb".into()];
            reg
        };
        for method in [
            None,
            Some("client_secret_basic"),
            Some("client_secret_post"),
            Some("none"),
        ] {
            let err = fapi(method).register(&random, UnixTime(0)).unwrap_err();
            assert_eq!(err.field, "token_endpoint_auth_method", "{method:?}");
            assert!(err.message.contains("fapi2"), "{err:?}");
        }
        let mut es384 = fapi(Some("private_key_jwt"));
        es384.jwks = Some(key("P-384", 48));
        let err = es384.register(&random, UnixTime(0)).unwrap_err();
        assert_eq!(err.field, "jwks", "{err:?}");
        let mut es256 = fapi(Some("private_key_jwt"));
        es256.jwks = Some(key("P-256", 32));
        let (client, secret) = es256.register(&random, UnixTime(0)).unwrap();
        assert!(secret.is_none());
        assert_eq!(client.security_profile, SecurityProfile::Fapi2);
        // Stored and read back with its profile; an OAuth 2.1 client's record has none.
        let json = serde_json::to_value(&client).unwrap();
        assert_eq!(json["security_profile"], "fapi2");
        let back: Client = serde_json::from_value(json).unwrap();
        assert_eq!(back.security_profile, SecurityProfile::Fapi2);
        let (plain, _) = registration().register(&random, UnixTime(0)).unwrap();
        assert!(
            serde_json::to_value(&plain)
                .unwrap()
                .get("security_profile")
                .is_none()
        );
        let mut mtls = fapi(Some("tls_client_auth"));
        mtls.tls_client_auth_san_dns = Some("svc.example".into());
        assert!(mtls.register(&random, UnixTime(0)).is_ok());
    }

    #[test]
    fn private_key_jwt_clients_have_keys_and_no_secret() {
        let random = CountingRandom::default();
        let mut reg = registration();
        reg.token_endpoint_auth_method = Some("private_key_jwt".into());
        reg.jwks_uri = Some("https://c.example/jwks".into());
        let (client, secret) = reg.register(&random, UnixTime(0)).unwrap();
        assert!(secret.is_none());
        assert_eq!(client.kind, ClientKind::PrivateKeyJwt);
        assert_eq!(
            client.auth_method(),
            crate::client::auth::AuthMethod::PrivateKeyJwt
        );
        assert!(!client.secret_matches(""));
        let json = serde_json::to_value(&client).unwrap();
        assert_eq!(json["jwks_uri"], "https://c.example/jwks");
        assert!(json.get("secret_digest").is_none());
        assert_eq!(serde_json::from_value::<Client>(json).unwrap(), client);
    }

    #[test]
    fn public_clients_have_no_secret_and_need_redirect_uris_for_the_code_flow() {
        let random = CountingRandom::default();
        let mut reg = registration();
        reg.token_endpoint_auth_method = Some("none".into());
        reg.grant_types = vec!["authorization_code".into(), "refresh_token".into()];
        assert_eq!(
            reg.clone()
                .register(&random, UnixTime(0))
                .unwrap_err()
                .field,
            "redirect_uris"
        );
        reg.redirect_uris = vec!["http://127.0.0.1/cb".into(), "http://127.0.0.1/cb".into()];
        let (client, secret) = reg.clone().register(&random, UnixTime(0)).unwrap();
        assert!(secret.is_none());
        assert_eq!(client.kind, ClientKind::Public);
        assert_eq!(client.redirect_uris.len(), 1, "duplicates collapse");
        assert!(!client.secret_matches(""));
        let json = serde_json::to_value(&client).unwrap();
        assert!(json.get("secret_digest").is_none());
        assert_eq!(serde_json::from_value::<Client>(json).unwrap(), client);
        reg.grant_types.push("client_credentials".into());
        assert_eq!(
            reg.register(&random, UnixTime(0)).unwrap_err().field,
            "grant_types"
        );
    }

    #[test]
    fn registers_with_fresh_id_and_secret() {
        let (client, secret) = registration()
            .register(&CountingRandom::default(), UnixTime(5))
            .unwrap();
        let secret = secret.unwrap();
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
        let cases: [(Mutation, &str); 19] = [
            (
                |r| r.post_logout_redirect_uris = vec!["javascript:alert(1)".into()],
                "post_logout_redirect_uris",
            ),
            (
                |r| r.redirect_uris = vec!["javascript:alert(1)".into()],
                "redirect_uris",
            ),
            (
                |r| r.token_endpoint_auth_method = Some("client_secret_jwt".into()),
                "token_endpoint_auth_method",
            ),
            (
                |r| r.token_endpoint_auth_method = Some("private_key_jwt".into()),
                "jwks",
            ),
            (
                |r| r.jwks_uri = Some("https://c.example/jwks".into()),
                "jwks",
            ),
            (
                |r| {
                    r.token_endpoint_auth_method = Some("private_key_jwt".into());
                    r.jwks_uri = Some("http://c.example/jwks".into());
                },
                "jwks_uri",
            ),
            (
                |r| {
                    r.token_endpoint_auth_method = Some("private_key_jwt".into());
                    r.jwks = Some(serde_json::json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}));
                },
                "jwks",
            ),
            (
                |r| r.grant_types = vec!["refresh_token".into()],
                "grant_types",
            ),
            (
                |r| r.redirect_uris = (0..17).map(|i| format!("https://a.example/{i}")).collect(),
                "redirect_uris",
            ),
            (|r| r.scope = "s ".repeat(1100).trim_end().into(), "scope"),
            (
                |r| r.resources = (0..33).map(|i| format!("https://r{i}.example")).collect(),
                "resources",
            ),
            (|r| r.name = " ".into(), "name"),
            (|r| r.grant_types = vec!["password".into()], "grant_types"),
            (
                |r| {
                    r.token_endpoint_auth_method = Some("none".into());
                    r.grant_types = vec!["urn:ietf:params:oauth:grant-type:token-exchange".into()];
                },
                "grant_types",
            ),
            (
                |r| {
                    r.token_endpoint_auth_method = Some("none".into());
                    r.grant_types = vec!["urn:ietf:params:oauth:grant-type:jwt-bearer".into()];
                },
                "grant_types",
            ),
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
