//! Resource indicators (RFC 8707 §2): absolute URIs without a fragment, kept in one canonical
//! form so that `https://mcp.example.com/` and `https://MCP.example.com` name the same resource.
//!
//! Canonical form: scheme and host lower-cased, default port dropped, and a single trailing `/`
//! of the path removed (MCP clients send both forms; see shared/reference/mcp-auth.md §7.3).
//! Tokens carry the canonical form in `aud`.
//!
//! [`registry`]: the protected resources an operator registered, with their scopes.

pub mod registry;

pub use registry::{ProtectedResource, ResourceDefinition, ResourceRegistry, ScopeDescription};

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use url::Url;

/// A canonical resource indicator.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Resource(String);

/// The most characters a resource indicator may have.
pub const MAX_LEN: usize = 2048;

/// Why a resource indicator is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidResource {
    /// Not an absolute URI.
    #[error("resource must be an absolute URI (RFC 8707 §2)")]
    NotAbsolute,
    /// Carries a fragment.
    #[error("resource must not include a fragment component (RFC 8707 §2)")]
    Fragment,
    /// Not http or https.
    #[error("resource must be an http or https URI")]
    Scheme,
    /// Too long.
    #[error("resource is longer than {MAX_LEN} characters")]
    TooLong,
}

impl Resource {
    /// The canonical text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Resource {
    type Err = InvalidResource;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() > MAX_LEN {
            return Err(InvalidResource::TooLong);
        }
        let url = Url::parse(s).map_err(|_| InvalidResource::NotAbsolute)?;
        if url.fragment().is_some() {
            return Err(InvalidResource::Fragment);
        }
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(InvalidResource::Scheme);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(InvalidResource::NotAbsolute);
        }
        let mut text = String::from(url);
        // `Url` always renders a path; drop one trailing slash of it (before any query).
        let path_end = text.find('?').unwrap_or(text.len());
        if text[..path_end].ends_with('/') {
            text.remove(path_end - 1);
        }
        Ok(Self(text))
    }
}

impl TryFrom<String> for Resource {
    type Error = InvalidResource;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Resource> for String {
    fn from(r: Resource) -> Self {
        r.0
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        s.parse::<Resource>().unwrap().to_string()
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(canon("https://MCP.Example.com/"), "https://mcp.example.com");
        assert_eq!(canon("https://mcp.example.com"), "https://mcp.example.com");
        assert_eq!(
            canon("https://mcp.example.com:443/mcp/"),
            "https://mcp.example.com/mcp"
        );
        assert_eq!(
            canon("http://127.0.0.1:9000/mcp"),
            "http://127.0.0.1:9000/mcp"
        );
        assert_eq!(canon("https://a.example/x/?q=1"), "https://a.example/x?q=1");
    }

    #[test]
    fn refuses_non_resources() {
        assert_eq!(
            "https://a/#f".parse::<Resource>(),
            Err(InvalidResource::Fragment)
        );
        assert_eq!(
            "/relative".parse::<Resource>(),
            Err(InvalidResource::NotAbsolute)
        );
        assert_eq!("urn:x:y".parse::<Resource>(), Err(InvalidResource::Scheme));
        assert!("https://u:p@a.example/".parse::<Resource>().is_err());
        assert_eq!(
            format!("https://a/{}", "x".repeat(MAX_LEN)).parse::<Resource>(),
            Err(InvalidResource::TooLong)
        );
    }
}
