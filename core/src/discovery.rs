//! Authorization server metadata (RFC 8414 §2), also served as the OpenID Connect discovery
//! document (same issuer), built from what is implemented: the grant types, authentication
//! methods and endpoints come from the one list of each, never from a second hand-kept list.

use serde::Serialize;

use crate::authorize::ResponseMode;
use crate::client::GrantType;
use crate::client::auth::AuthMethod;
use crate::id_token;

/// Endpoint paths, relative to the issuer's path: the router serves them, the metadata names
/// them.
pub mod paths {
    /// RFC 6749 §3.1.
    pub const AUTHORIZE: &str = "/authorize";
    /// RFC 6749 §3.2.
    pub const TOKEN: &str = "/token";
    /// RFC 9126 §2.
    pub const PAR: &str = "/par";
    /// RFC 7662 §2.
    pub const INTROSPECT: &str = "/introspect";
    /// RFC 7009 §2.
    pub const REVOKE: &str = "/revoke";
    /// OIDC Core §5.3.
    pub const USERINFO: &str = "/userinfo";
    /// OIDC RP-Initiated Logout 1.0 §2.
    pub const END_SESSION: &str = "/logout";
    /// RFC 7591 §3; RFC 7592 manages a client at `REGISTER/{client_id}`.
    pub const REGISTER: &str = "/register";
    /// RFC 8628 §3.1, published as `device_authorization_endpoint`.
    pub const DEVICE_AUTHORIZATION: &str = "/device_authorization";
    /// RFC 8628 §3.3: the verification page the person opens (`verification_uri`).
    pub const DEVICE: &str = "/device";
    /// RFC 7517 §5, published as `jwks_uri`.
    pub const JWKS: &str = "/jwks";
    /// RFC 8414 §3.
    pub const OAUTH_METADATA: &str = "/.well-known/oauth-authorization-server";
    /// OpenID Connect Discovery 1.0 §4.
    pub const OIDC_METADATA: &str = "/.well-known/openid-configuration";
}

/// PKCE methods (RFC 7636 §4.2): `S256` only, ever (OAuth 2.1 §4.1.1; `plain` is refused).
pub const CODE_CHALLENGE_METHODS: [&str; 1] = [crate::authorize::pkce::METHOD];

/// What this deployment offers beyond what is always there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Offered {
    /// Every client must push its authorization requests (RFC 9126 §5).
    pub require_par: bool,
    /// Dynamic client registration (RFC 7591) is open at `/register`.
    pub registration: bool,
    /// URL-shaped client ids are resolved as client metadata documents.
    pub metadata_documents: bool,
    /// The scopes of the registered resources (listed with the OpenID Connect ones).
    pub resource_scopes: Vec<String>,
    /// The algorithms DPoP proofs may be signed with (RFC 9449 §5.1), from the configuration.
    pub dpop_algorithms: Vec<&'static str>,
    /// Whether certificate-bound access tokens are issued (RFC 8705 §3.3): the server sees
    /// verified client certificates.
    pub certificate_bound_tokens: bool,
    /// The device authorization grant (RFC 8628) is served.
    pub device: bool,
    /// The server-wide security profile (FAPI 2.0 offers only strong client authentication).
    pub profile: crate::profile::SecurityProfile,
    /// The algorithms `private_key_jwt` assertions may use here (`[client_keys] algorithms`);
    /// empty: every one Gatehouse verifies
    /// ([`crate::client::auth::private_key_jwt::SIGNING_ALGS`]).
    pub assertion_algorithms: Vec<gatehouse_token::Algorithm>,
    /// Client certificates reach the server (TLS with client certificates requested, or a
    /// trusted proxy's header): the mutual-TLS methods are offered (RFC 8705 §2).
    pub client_certificates: bool,
    /// The base URL (with the issuer's path) of a separate listener that requests client
    /// certificates, advertised as `mtls_endpoint_aliases` (RFC 8705 §5).
    pub mtls_base: Option<String>,
}

/// RFC 8705 §5: the endpoints a client using mutual TLS must call instead of the main ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MtlsEndpointAliases {
    token_endpoint: String,
    introspection_endpoint: String,
    revocation_endpoint: String,
    pushed_authorization_request_endpoint: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    device_authorization_endpoint: Option<String>,
}

impl MtlsEndpointAliases {
    /// The aliases at `base` (the mTLS listener's URL with the issuer's path); the device
    /// authorization endpoint's when `device` (the grant is served).
    pub fn at(base: &str, device: bool) -> Self {
        Self {
            token_endpoint: format!("{base}{}", paths::TOKEN),
            introspection_endpoint: format!("{base}{}", paths::INTROSPECT),
            revocation_endpoint: format!("{base}{}", paths::REVOKE),
            pushed_authorization_request_endpoint: format!("{base}{}", paths::PAR),
            device_authorization_endpoint: device
                .then(|| format!("{base}{}", paths::DEVICE_AUTHORIZATION)),
        }
    }
}

/// The metadata document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Metadata {
    issuer: String,
    authorization_endpoint: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    registration_endpoint: Option<String>,
    /// draft-ietf-oauth-client-id-metadata-document §5.
    client_id_metadata_document_supported: bool,
    pushed_authorization_request_endpoint: String,
    require_pushed_authorization_requests: bool,
    token_endpoint: String,
    /// RFC 8628 §4.
    #[serde(skip_serializing_if = "Option::is_none")]
    device_authorization_endpoint: Option<String>,
    userinfo_endpoint: String,
    end_session_endpoint: String,
    jwks_uri: String,
    introspection_endpoint: String,
    revocation_endpoint: String,
    grant_types_supported: Vec<&'static str>,
    /// The authorization grant profiles the jwt-bearer grant accepts (MCP EMA §6,
    /// draft-ietf-oauth-identity-assertion-authz-grant §7.2).
    authorization_grant_profiles_supported: Vec<&'static str>,
    response_types_supported: Vec<&'static str>,
    response_modes_supported: Vec<&'static str>,
    prompt_values_supported: Vec<&'static str>,
    authorization_response_iss_parameter_supported: bool,
    request_parameter_supported: bool,
    request_uri_parameter_supported: bool,
    token_endpoint_auth_methods_supported: Vec<&'static str>,
    introspection_endpoint_auth_methods_supported: Vec<&'static str>,
    revocation_endpoint_auth_methods_supported: Vec<&'static str>,
    /// The algorithms `private_key_jwt` assertions may be signed with (RFC 8414 §2).
    token_endpoint_auth_signing_alg_values_supported: Vec<&'static str>,
    /// The same, at introspection (RFC 8414 §2).
    introspection_endpoint_auth_signing_alg_values_supported: Vec<&'static str>,
    /// The same, at revocation (RFC 8414 §2).
    revocation_endpoint_auth_signing_alg_values_supported: Vec<&'static str>,
    introspection_signing_alg_values_supported: Vec<&'static str>,
    code_challenge_methods_supported: Vec<&'static str>,
    scopes_supported: Vec<String>,
    claims_supported: Vec<&'static str>,
    subject_types_supported: Vec<&'static str>,
    id_token_signing_alg_values_supported: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mtls_endpoint_aliases: Option<MtlsEndpointAliases>,
    /// RFC 9449 §5.1: DPoP is supported, with these algorithms.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    dpop_signing_alg_values_supported: Vec<&'static str>,
    /// RFC 8705 §3.3.
    tls_client_certificate_bound_access_tokens: bool,
}

impl Metadata {
    /// The document for `issuer`, whose RFC 9701 introspection answers and ID tokens are
    /// signed with `signing_alg` (the active key's algorithm), offering `offered`.
    pub fn new(issuer: &str, signing_alg: &'static str, offered: &Offered) -> Self {
        // The mutual-TLS methods only where certificates can reach the server.
        let auth_methods: Vec<&str> = AuthMethod::SUPPORTED
            .iter()
            .filter(|m| offered.client_certificates || !m.needs_certificate())
            .filter(|m| offered.profile.allows_auth_method(**m))
            .map(|m| m.as_str())
            .collect();
        // Introspection is for resource servers, which hold a secret (RFC 7662 §2.1).
        let secret_methods: Vec<&str> = auth_methods
            .iter()
            .copied()
            .filter(|m| *m != AuthMethod::None.as_str())
            .collect();
        let all = crate::client::auth::private_key_jwt::SIGNING_ALGS;
        let assertion_algs: Vec<&str> = if offered.assertion_algorithms.is_empty() {
            &all[..]
        } else {
            &offered.assertion_algorithms[..]
        }
        .iter()
        .map(|a| a.as_str())
        .collect();
        Self {
            issuer: issuer.to_owned(),
            authorization_endpoint: format!("{issuer}{}", paths::AUTHORIZE),
            registration_endpoint: offered
                .registration
                .then(|| format!("{issuer}{}", paths::REGISTER)),
            client_id_metadata_document_supported: offered.metadata_documents,
            pushed_authorization_request_endpoint: format!("{issuer}{}", paths::PAR),
            require_pushed_authorization_requests: offered.require_par,
            token_endpoint: format!("{issuer}{}", paths::TOKEN),
            device_authorization_endpoint: offered
                .device
                .then(|| format!("{issuer}{}", paths::DEVICE_AUTHORIZATION)),
            userinfo_endpoint: format!("{issuer}{}", paths::USERINFO),
            end_session_endpoint: format!("{issuer}{}", paths::END_SESSION),
            jwks_uri: format!("{issuer}{}", paths::JWKS),
            introspection_endpoint: format!("{issuer}{}", paths::INTROSPECT),
            revocation_endpoint: format!("{issuer}{}", paths::REVOKE),
            grant_types_supported: GrantType::ALL
                .iter()
                .filter(|g| offered.device || **g != GrantType::DeviceCode)
                .map(|g| g.as_str())
                .collect(),
            authorization_grant_profiles_supported: vec![crate::assertion::ID_JAG_PROFILE],
            response_types_supported: vec!["code"],
            response_modes_supported: ResponseMode::ALL.iter().map(|m| m.as_str()).collect(),
            prompt_values_supported: crate::authorize::PROMPT_VALUES.to_vec(),
            // RFC 9207 §3: `iss` is on every authorization response.
            authorization_response_iss_parameter_supported: true,
            // No request objects (RFC 9101), by value or by reference: a `request_uri` is only
            // ever one of ours, from PAR (OIDC Discovery §3 defaults this to true).
            request_parameter_supported: false,
            request_uri_parameter_supported: false,
            token_endpoint_auth_methods_supported: auth_methods.clone(),
            introspection_endpoint_auth_methods_supported: secret_methods,
            revocation_endpoint_auth_methods_supported: auth_methods,
            token_endpoint_auth_signing_alg_values_supported: assertion_algs.clone(),
            introspection_endpoint_auth_signing_alg_values_supported: assertion_algs.clone(),
            revocation_endpoint_auth_signing_alg_values_supported: assertion_algs,
            introspection_signing_alg_values_supported: vec![signing_alg],
            code_challenge_methods_supported: CODE_CHALLENGE_METHODS.to_vec(),
            // What a generic client may ask for: the sign-in scopes, `offline_access` (refresh
            // tokens, OIDC Core §11; MCP clients add it when listed, SEP-2207), and the scopes
            // of the registered resources.
            scopes_supported: id_token::SCOPES
                .iter()
                .chain(["offline_access"].iter())
                .map(|s| (*s).to_owned())
                .chain(offered.resource_scopes.iter().cloned())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect(),
            claims_supported: id_token::CLAIMS.to_vec(),
            // OIDC Core §8: every client sees a user's same `sub`.
            subject_types_supported: vec!["public"],
            id_token_signing_alg_values_supported: vec![signing_alg],
            mtls_endpoint_aliases: offered
                .mtls_base
                .as_deref()
                .map(|base| MtlsEndpointAliases::at(base, offered.device)),
            dpop_signing_alg_values_supported: offered.dpop_algorithms.clone(),
            tls_client_certificate_bound_access_tokens: offered.certificate_bound_tokens,
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
        let doc = serde_json::to_value(Metadata::new(
            "https://as.example/t",
            "ES256",
            &Offered {
                device: true,
                ..Offered::default()
            },
        ))
        .unwrap();
        assert_eq!(doc["issuer"], "https://as.example/t");
        assert_eq!(doc["token_endpoint"], "https://as.example/t/token");
        assert_eq!(
            doc["authorization_endpoint"],
            "https://as.example/t/authorize"
        );
        assert_eq!(
            doc["pushed_authorization_request_endpoint"],
            "https://as.example/t/par"
        );
        assert_eq!(doc["require_pushed_authorization_requests"], false);
        assert!(doc.get("registration_endpoint").is_none());
        assert_eq!(doc["client_id_metadata_document_supported"], false);
        let offered = Offered {
            registration: true,
            metadata_documents: true,
            resource_scopes: vec!["tools".into()],
            dpop_algorithms: vec!["ES256", "EdDSA"],
            ..Offered::default()
        };
        let full =
            serde_json::to_value(Metadata::new("https://as.example/t", "ES256", &offered)).unwrap();
        assert_eq!(
            full["registration_endpoint"],
            "https://as.example/t/register"
        );
        assert_eq!(full["client_id_metadata_document_supported"], true);
        // RFC 9449 §5.1: DPoP algorithms from the configuration; none configured, none listed.
        assert_eq!(
            full["dpop_signing_alg_values_supported"],
            serde_json::json!(["ES256", "EdDSA"])
        );
        assert!(doc.get("dpop_signing_alg_values_supported").is_none());
        assert_eq!(doc["tls_client_certificate_bound_access_tokens"], false);
        assert_eq!(
            full["scopes_supported"],
            serde_json::json!(["email", "offline_access", "openid", "profile", "tools"])
        );
        assert_eq!(doc["userinfo_endpoint"], "https://as.example/t/userinfo");
        assert_eq!(
            doc["device_authorization_endpoint"],
            "https://as.example/t/device_authorization"
        );
        assert_eq!(
            doc["id_token_signing_alg_values_supported"],
            serde_json::json!(["ES256"])
        );
        assert_eq!(
            doc["grant_types_supported"],
            serde_json::json!([
                "authorization_code",
                "refresh_token",
                "client_credentials",
                "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "urn:ietf:params:oauth:grant-type:token-exchange",
                "urn:ietf:params:oauth:grant-type:device_code"
            ])
        );
        assert_eq!(
            doc["authorization_grant_profiles_supported"],
            serde_json::json!(["urn:ietf:params:oauth:grant-profile:id-jag"])
        );
        assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
        assert_eq!(
            doc["response_modes_supported"],
            serde_json::json!(["query", "form_post"])
        );
        assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
        assert_eq!(
            doc["token_endpoint_auth_methods_supported"],
            serde_json::json!([
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt",
                "none"
            ])
        );
        assert_eq!(
            doc["introspection_endpoint_auth_methods_supported"],
            serde_json::json!([
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt"
            ])
        );
        for endpoint in ["token", "introspection", "revocation"] {
            assert_eq!(
                doc[format!("{endpoint}_endpoint_auth_signing_alg_values_supported")],
                serde_json::json!(["ES256", "ES384", "EdDSA", "PS256", "RS256"])
            );
        }
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
    fn mutual_tls_is_offered_only_where_certificates_arrive() {
        let doc = serde_json::to_value(Metadata::new(
            "https://as.example/t",
            "ES256",
            &Offered::default(),
        ))
        .unwrap();
        assert!(doc.get("mtls_endpoint_aliases").is_none());
        let offered = Offered {
            client_certificates: true,
            mtls_base: Some("https://mtls.as.example:8443/t".into()),
            ..Offered::default()
        };
        let doc =
            serde_json::to_value(Metadata::new("https://as.example/t", "ES256", &offered)).unwrap();
        // RFC 8705 §5: the issuer stays the one; only the aliases point elsewhere.
        assert_eq!(doc["issuer"], "https://as.example/t");
        assert_eq!(doc["token_endpoint"], "https://as.example/t/token");
        assert_eq!(
            doc["mtls_endpoint_aliases"],
            serde_json::json!({
                "token_endpoint": "https://mtls.as.example:8443/t/token",
                "introspection_endpoint": "https://mtls.as.example:8443/t/introspect",
                "revocation_endpoint": "https://mtls.as.example:8443/t/revoke",
                "pushed_authorization_request_endpoint": "https://mtls.as.example:8443/t/par",
            })
        );
        for member in [
            "token_endpoint_auth_methods_supported",
            "introspection_endpoint_auth_methods_supported",
            "revocation_endpoint_auth_methods_supported",
        ] {
            let methods = doc[member].as_array().unwrap();
            assert!(methods.contains(&"tls_client_auth".into()), "{member}");
            assert!(
                methods.contains(&"self_signed_tls_client_auth".into()),
                "{member}"
            );
        }
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
