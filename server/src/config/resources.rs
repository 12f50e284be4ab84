//! `[resources]`: the protected resources registered in the file (more can be registered with
//! `gatehouse resource create` or the admin API), and the server's default resource.
//!
//! ```toml
//! [resources]
//! default = "https://mcp.example.com/mcp"
//!
//! [[resources.registered]]
//! uri = "https://mcp.example.com/mcp"
//! name = "Example MCP server"
//! scopes = [{ name = "tools", description = "Call the server's tools" }]
//! default_scopes = ["tools"]
//! ```

use gatehouse_core::resource::{ProtectedResource, Resource, ResourceDefinition};
use serde::Deserialize;

use super::{ConfigError, bad};

/// The section, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourcesConfig {
    /// The audience of a token whose request and client name none; when unset and exactly one
    /// resource is registered (here or in the store), that one.
    pub default: Option<Resource>,
    /// Resources defined here (read-only through the CLI and admin API).
    pub registered: Vec<ProtectedResource>,
}

/// The section as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawResources {
    default: Option<String>,
    #[serde(default)]
    registered: Vec<ResourceDefinition>,
}

impl RawResources {
    pub(super) fn validate(self) -> Result<ResourcesConfig, ConfigError> {
        let default = match self.default {
            Some(text) => Some(
                text.parse::<Resource>()
                    .map_err(|e| bad("resources.default", e.to_string()))?,
            ),
            None => None,
        };
        let mut registered: Vec<ProtectedResource> = Vec::new();
        for (i, def) in self.registered.into_iter().enumerate() {
            let field = format!("resources.registered[{i}]");
            let r = def
                .validate()
                .map_err(|e| bad(&format!("{field}.{}", e.field), e.message))?;
            if registered.iter().any(|o| o.uri == r.uri) {
                return Err(bad(&field, format!("{} is registered twice", r.uri)));
            }
            registered.push(r);
        }
        Ok(ResourcesConfig {
            default,
            registered,
        })
    }
}
