//! The registry of protected resources: what an operator registered about each resource server
//! a token may be for (its canonical URI, its scopes with what they allow in words a person
//! understands, the scopes a request without `scope` gets, its token format and lifetime, and
//! whether its tokens must be sender-constrained).
//!
//! Self-registered clients (RFC 7591, client metadata documents) are not configured one by one:
//! what they may get is what the registry says (shared/reference/mcp-auth.md §3.2–3.3).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::Resource;
use crate::client::{LIFETIME_RANGE, TokenFormat};
use crate::scope::Scope;

/// The most scopes one resource may declare.
pub const MAX_SCOPES: usize = 64;
/// The longest scope description, in characters.
pub const MAX_DESCRIPTION: usize = 200;

/// One scope of a resource, with what it allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeDescription {
    /// The scope token (RFC 6749 §3.3).
    pub name: String,
    /// What it allows, shown on the consent page.
    #[serde(default)]
    pub description: String,
}

/// A registered protected resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtectedResource {
    /// Its canonical resource indicator: the one `aud` of its tokens.
    pub uri: Resource,
    /// A human-readable name.
    pub name: String,
    /// The scopes it understands.
    pub scopes: Vec<ScopeDescription>,
    /// What a request that names no scope gets.
    pub default_scope: Scope,
    /// The format of its tokens, overriding the client's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_format: Option<TokenFormat>,
    /// The longest lifetime of its access tokens, seconds (a client's shorter one wins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_lifetime: Option<u64>,
    /// Whether its tokens must be sender-constrained (DPoP, RFC 9449, or mTLS, RFC 8705):
    /// bearer tokens are never issued for it.
    #[serde(default)]
    pub require_sender_constrained: bool,
}

impl ProtectedResource {
    /// Every scope it declares.
    pub fn scope(&self) -> Scope {
        self.scopes
            .iter()
            .filter_map(|s| s.name.parse::<Scope>().ok())
            .fold(Scope::empty(), |all, s| all.union(&s))
    }

    /// What `name` allows, if the resource declares it.
    pub fn describe(&self, name: &str) -> Option<&str> {
        self.scopes
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.description.as_str())
    }
}

/// What an operator asks for when registering a resource (config, CLI, admin API). An unknown
/// member is an error naming it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceDefinition {
    /// The resource indicator; normalised to its canonical form.
    pub uri: String,
    /// A human-readable name (default: the URI).
    #[serde(default)]
    pub name: Option<String>,
    /// Its scopes.
    #[serde(default)]
    pub scopes: Vec<ScopeDescription>,
    /// Scopes a request without `scope` gets; each must be one of `scopes`.
    #[serde(default)]
    pub default_scopes: Vec<String>,
    /// `jwt` or `opaque`.
    #[serde(default)]
    pub token_format: Option<TokenFormat>,
    /// The longest access-token lifetime, seconds.
    #[serde(default)]
    pub access_token_lifetime: Option<u64>,
    /// Whether tokens must be sender-constrained.
    #[serde(default)]
    pub require_sender_constrained: bool,
}

/// Why a resource definition was refused; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidDefinition {
    /// The offending field.
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

fn refuse(field: &'static str, message: impl Into<String>) -> InvalidDefinition {
    InvalidDefinition {
        field,
        message: message.into(),
    }
}

impl ResourceDefinition {
    /// Validates the definition into a resource.
    pub fn validate(self) -> Result<ProtectedResource, InvalidDefinition> {
        let uri: Resource = self
            .uri
            .parse()
            .map_err(|e| refuse("uri", format!("{e}")))?;
        let name = match self.name {
            Some(n) if n.trim().is_empty() || n.chars().count() > 200 => {
                return Err(refuse("name", "give 1 to 200 characters"));
            }
            Some(n) if n.chars().any(char::is_control) => {
                return Err(refuse("name", "no control characters"));
            }
            Some(n) => n.trim().to_owned(),
            None => uri.to_string(),
        };
        if self.scopes.len() > MAX_SCOPES {
            return Err(refuse("scopes", format!("at most {MAX_SCOPES}")));
        }
        let mut declared = Scope::empty();
        for s in &self.scopes {
            let one: Scope = s
                .name
                .parse()
                .map_err(|e| refuse("scopes", format!("{:?}: {e}", s.name)))?;
            if one.iter().count() != 1 {
                return Err(refuse(
                    "scopes",
                    format!("{:?} is not one scope token", s.name),
                ));
            }
            if declared.contains(&s.name) {
                return Err(refuse("scopes", format!("{:?} is listed twice", s.name)));
            }
            if s.description.chars().count() > MAX_DESCRIPTION
                || s.description.chars().any(char::is_control)
            {
                return Err(refuse(
                    "scopes",
                    format!(
                        "the description of {:?} must be at most {MAX_DESCRIPTION} printable characters",
                        s.name
                    ),
                ));
            }
            declared = declared.union(&one);
        }
        let default_scope: Scope = self
            .default_scopes
            .join(" ")
            .parse()
            .map_err(|e| refuse("default_scopes", format!("{e}")))?;
        if let Some(unknown) = default_scope.excess(&declared).next() {
            return Err(refuse(
                "default_scopes",
                format!("{unknown:?} is not one of the resource's scopes"),
            ));
        }
        if let Some(l) = self.access_token_lifetime {
            if !LIFETIME_RANGE.contains(&l) {
                return Err(refuse(
                    "access_token_lifetime",
                    format!(
                        "give {} to {} seconds",
                        LIFETIME_RANGE.start(),
                        LIFETIME_RANGE.end()
                    ),
                ));
            }
        }
        Ok(ProtectedResource {
            uri,
            name,
            scopes: self.scopes,
            default_scope,
            token_format: self.token_format,
            access_token_lifetime: self.access_token_lifetime,
            require_sender_constrained: self.require_sender_constrained,
        })
    }
}

/// An immutable snapshot of the registered resources, and the server's default one (the
/// audience of a token whose request and client name none). The server swaps in a new snapshot
/// when the registry changes.
#[derive(Debug, Clone, Default)]
pub struct ResourceRegistry {
    by_uri: BTreeMap<Resource, Arc<ProtectedResource>>,
    default: Option<Resource>,
}

impl ResourceRegistry {
    /// No resources, no default.
    pub const EMPTY: Self = Self {
        by_uri: BTreeMap::new(),
        default: None,
    };

    /// A registry of `resources` whose default is `default` (which must be one of them, or
    /// none).
    pub fn new(
        resources: impl IntoIterator<Item = ProtectedResource>,
        default: Option<Resource>,
    ) -> Result<Self, InvalidDefinition> {
        let by_uri: BTreeMap<_, _> = resources
            .into_iter()
            .map(|r| (r.uri.clone(), Arc::new(r)))
            .collect();
        if let Some(d) = &default {
            if !by_uri.contains_key(d) {
                return Err(refuse(
                    "default",
                    format!("{d} is not a registered resource"),
                ));
            }
        }
        Ok(Self { by_uri, default })
    }

    /// The registered resource `uri`.
    pub fn get(&self, uri: &Resource) -> Option<&Arc<ProtectedResource>> {
        self.by_uri.get(uri)
    }

    /// The default resource.
    pub fn default_resource(&self) -> Option<&Arc<ProtectedResource>> {
        self.default.as_ref().and_then(|d| self.by_uri.get(d))
    }

    /// Every registered resource, by URI.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<ProtectedResource>> {
        self.by_uri.values()
    }

    /// Every scope of every registered resource (what self-registered clients may ask for).
    pub fn all_scopes(&self) -> Scope {
        self.by_uri
            .values()
            .fold(Scope::empty(), |all, r| all.union(&r.scope()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(uri: &str) -> ResourceDefinition {
        ResourceDefinition {
            uri: uri.into(),
            name: None,
            scopes: vec![
                ScopeDescription {
                    name: "tools".into(),
                    description: "Call the tools".into(),
                },
                ScopeDescription {
                    name: "admin".into(),
                    description: "Change settings".into(),
                },
            ],
            default_scopes: vec!["tools".into()],
            token_format: None,
            access_token_lifetime: None,
            require_sender_constrained: false,
        }
    }

    #[test]
    fn a_definition_is_normalised_and_checked() {
        let r = def("https://MCP.example.com/mcp/").validate().unwrap();
        assert_eq!(r.uri.as_str(), "https://mcp.example.com/mcp");
        assert_eq!(r.name, "https://mcp.example.com/mcp");
        assert_eq!(r.default_scope.to_string(), "tools");
        assert_eq!(r.scope().to_string(), "admin tools");
        assert_eq!(r.describe("admin"), Some("Change settings"));

        let mut d = def("https://a.example");
        d.default_scopes = vec!["other".into()];
        assert_eq!(d.validate().unwrap_err().field, "default_scopes");
        let mut d = def("https://a.example");
        d.scopes[1].name = "tools".into();
        assert_eq!(d.validate().unwrap_err().field, "scopes");
        let mut d = def("https://a.example");
        d.scopes[0].name = "two words".into();
        assert_eq!(d.validate().unwrap_err().field, "scopes");
        assert_eq!(def("urn:x").validate().unwrap_err().field, "uri");
        let mut d = def("https://a.example");
        d.access_token_lifetime = Some(0);
        assert_eq!(d.validate().unwrap_err().field, "access_token_lifetime");
    }

    #[test]
    fn the_default_must_be_registered() {
        let r = def("https://a.example").validate().unwrap();
        let other: Resource = "https://b.example".parse().unwrap();
        assert!(ResourceRegistry::new([r.clone()], Some(other)).is_err());
        let reg = ResourceRegistry::new([r.clone()], Some(r.uri.clone())).unwrap();
        assert_eq!(reg.default_resource().unwrap().uri, r.uri);
        assert_eq!(reg.all_scopes().to_string(), "admin tools");
    }
}
