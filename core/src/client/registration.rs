//! Registering a client: what an operator asks for, validated field by field into a new
//! [`Client`] with a fresh id and secret.

use gatehouse_token::UnixTime;
use serde::{Deserialize, Serialize};

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
            kind: ClientKind::Confidential {
                secret_digest: secret.digest(),
            },
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
