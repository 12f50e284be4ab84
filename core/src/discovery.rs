//! Authorization server metadata (RFC 8414 §2), also served as the OpenID Connect discovery
//! document (same issuer), built from what is implemented: the grant types, authentication
//! methods and endpoints come from the one list of each, never from a second hand-kept list.

use serde::Serialize;

use crate::client::GrantType;
use crate::client::auth::AuthMethod;

/// Endpoint paths, relative to the issuer's path: the router serves them, the metadata names
/// them.
pub mod paths {
    /// RFC 6749 §3.2.
    pub const TOKEN: &str = "/token";
    /// RFC 7662 §2.
    pub const INTROSPECT: &str = "/introspect";
    /// RFC 7009 §2.
    pub const REVOKE: &str = "/revoke";
    /// RFC 7517 §5, published as `jwks_uri`.
    pub const JWKS: &str = "/jwks";
    /// RFC 8414 §3.
    pub const OAUTH_METADATA: &str = "/.well-known/oauth-authorization-server";
    /// OpenID Connect Discovery 1.0 §4.
    pub const OIDC_METADATA: &str = "/.well-known/openid-configuration";
}

/// PKCE methods (RFC 7636 §4.2): `S256` only, ever (OAuth 2.1 §4.1.1; `plain` is refused).
/// Advertised even before the code flow exists, as MCP clients look for it.
pub const CODE_CHALLENGE_METHODS: [&str; 1] = ["S256"];

/// The metadata document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Metadata {
    issuer: String,
    token_endpoint: String,
    jwks_uri: String,
    introspection_endpoint: String,
    revocation_endpoint: String,
    grant_types_supported: Vec<&'static str>,
    response_types_supported: Vec<&'static str>,
    token_endpoint_auth_methods_supported: Vec<&'static str>,
    introspection_endpoint_auth_methods_supported: Vec<&'static str>,
    revocation_endpoint_auth_methods_supported: Vec<&'static str>,
    introspection_signing_alg_values_supported: Vec<&'static str>,
    code_challenge_methods_supported: Vec<&'static str>,
}

impl Metadata {
    /// The document for `issuer`, whose RFC 9701 introspection answers are signed with
    /// `signing_alg` (the active key's algorithm).
    pub fn new(issuer: &str, signing_alg: &'static str) -> Self {
        let auth_methods: Vec<&str> = AuthMethod::SUPPORTED.iter().map(|m| m.as_str()).collect();
        Self {
            issuer: issuer.to_owned(),
            token_endpoint: format!("{issuer}{}", paths::TOKEN),
            jwks_uri: format!("{issuer}{}", paths::JWKS),
            introspection_endpoint: format!("{issuer}{}", paths::INTROSPECT),
            revocation_endpoint: format!("{issuer}{}", paths::REVOKE),
            grant_types_supported: GrantType::ALL.iter().map(|g| g.as_str()).collect(),
            // No authorization endpoint yet: no response type.
            response_types_supported: Vec::new(),
            token_endpoint_auth_methods_supported: auth_methods.clone(),
            introspection_endpoint_auth_methods_supported: auth_methods.clone(),
            revocation_endpoint_auth_methods_supported: auth_methods,
            introspection_signing_alg_values_supported: vec![signing_alg],
            code_challenge_methods_supported: CODE_CHALLENGE_METHODS.to_vec(),
        }
    }
}

/// The paths where the document is served for an issuer whose path is `base` ("" or "/x").
/// RFC 8414 §3.1 inserts the well-known segment before the issuer's path; OIDC Discovery §4
/// appends it; MCP clients try both (shared/reference/mcp-auth.md).
pub fn well_known_paths(base: &str) -> Vec<String> {
    let mut out = vec![
        format!("{}{base}", paths::OAUTH_METADATA),
        format!("{}{base}", paths::OIDC_METADATA),
        format!("{base}{}", paths::OAUTH_METADATA),
        format!("{base}{}", paths::OIDC_METADATA),
    ];
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_lists_what_is_implemented() {
        let doc = serde_json::to_value(Metadata::new("https://as.example/t", "ES256")).unwrap();
        assert_eq!(doc["issuer"], "https://as.example/t");
        assert_eq!(doc["token_endpoint"], "https://as.example/t/token");
        assert_eq!(
            doc["grant_types_supported"],
            serde_json::json!(["client_credentials"])
        );
        assert_eq!(
            doc["token_endpoint_auth_methods_supported"],
            serde_json::json!(["client_secret_basic", "client_secret_post"])
        );
        assert_eq!(
            doc["code_challenge_methods_supported"],
            serde_json::json!(["S256"])
        );
        assert_eq!(
            doc["introspection_signing_alg_values_supported"],
            serde_json::json!(["ES256"])
        );
    }

    #[test]
    fn well_known_paths_for_root_and_path_issuers() {
        assert_eq!(
            well_known_paths(""),
            [
                "/.well-known/oauth-authorization-server",
                "/.well-known/openid-configuration"
            ]
        );
        assert_eq!(
            well_known_paths("/tenant"),
            [
                "/.well-known/oauth-authorization-server/tenant",
                "/.well-known/openid-configuration/tenant",
                "/tenant/.well-known/oauth-authorization-server",
                "/tenant/.well-known/openid-configuration",
            ]
        );
    }
}
