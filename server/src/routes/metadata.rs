//! Authorization server metadata (RFC 8414 §2) and the OpenID Connect discovery document, with
//! the same issuer. Only what is implemented is advertised; `code_challenge_methods_supported`
//! is always present so MCP clients see S256 (shared/reference/mcp-auth.md §7.5).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::paths;
use crate::state::AppState;

/// The metadata document for `issuer`, whose introspection JWTs are signed with `alg`.
pub fn document(issuer: &str, alg: &str) -> Value {
    let auth_methods = ["client_secret_basic", "client_secret_post"];
    json!({
        "issuer": issuer,
        "token_endpoint": format!("{issuer}{}", paths::TOKEN),
        "jwks_uri": format!("{issuer}{}", paths::JWKS),
        "introspection_endpoint": format!("{issuer}{}", paths::INTROSPECT),
        "revocation_endpoint": format!("{issuer}{}", paths::REVOKE),
        "grant_types_supported": ["client_credentials"],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "introspection_signing_alg_values_supported": [alg],
        "code_challenge_methods_supported": ["S256"],
    })
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

/// `GET` on any of the well-known paths.
pub async fn handle(State(app): State<AppState>) -> Response {
    let cache = [(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    )];
    let alg = app.keys.ring().active().algorithm();
    (cache, Json(document(&app.config.issuer, alg.as_str()))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

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
