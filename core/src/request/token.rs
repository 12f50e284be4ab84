//! The token request (RFC 6749 §3.2), typed: one variant per grant type, and a catch-all for
//! grant types Gatehouse does not implement, so they answer `unsupported_grant_type`.

use crate::error::TokenError;
use crate::form::Form;
use crate::resource::Resource;
use crate::scope::Scope;

/// A parsed token request; client authentication is separate ([`crate::client::auth`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRequest {
    /// `grant_type=authorization_code` (RFC 6749 §4.1.3, RFC 7636 §4.5).
    AuthorizationCode(AuthorizationCodeRequest),
    /// `grant_type=refresh_token` (RFC 6749 §6).
    RefreshToken(RefreshTokenRequest),
    /// `grant_type=client_credentials` (RFC 6749 §4.4.2).
    ClientCredentials(ClientCredentialsRequest),
    /// `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` (RFC 7523 §2.1).
    JwtBearer(JwtBearerRequest),
    /// `grant_type=urn:ietf:params:oauth:grant-type:token-exchange` (RFC 8693 §2.1).
    TokenExchange(TokenExchangeRequest),
    /// `grant_type=urn:ietf:params:oauth:grant-type:device_code` (RFC 8628 §3.4).
    DeviceCode(DeviceCodeRequest),
    /// Any other grant type, by name.
    Unsupported(String),
}

/// The parameters of a client-credentials request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCredentialsRequest {
    /// The requested scope; `None` asks for the client's registered scope (RFC 6749 §3.3).
    pub scope: Option<Scope>,
    /// The requested resource; `None` asks for the client's default resource (RFC 8707 §2).
    pub resource: Option<Resource>,
}

/// The `grant_type` of the JWT bearer grant (RFC 7523 §2.1).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The `grant_type` of token exchange (RFC 8693 §2.1).
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The `grant_type` of the device authorization grant (RFC 8628 §3.4).
pub const DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The parameters of a device access token request (RFC 8628 §3.4).
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceCodeRequest {
    /// The device code from the device authorization response.
    pub device_code: String,
}

impl std::fmt::Debug for DeviceCodeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceCodeRequest").finish_non_exhaustive()
    }
}

/// The parameters of a jwt-bearer request (RFC 7523 §2.1).
#[derive(Clone, PartialEq, Eq)]
pub struct JwtBearerRequest {
    /// The assertion: one JWT (RFC 7523 §2.1), an ID-JAG here.
    pub assertion: String,
    /// A narrower scope (RFC 7521 §4.1).
    pub scope: Option<Scope>,
    /// The resource, which must agree with the assertion's (RFC 8707 §2).
    pub resource: Option<Resource>,
}

impl std::fmt::Debug for JwtBearerRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtBearerRequest")
            .field("scope", &self.scope)
            .field("resource", &self.resource)
            .finish_non_exhaustive()
    }
}

/// A token type identifier (RFC 8693 §3), of those Gatehouse knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenTypeUri {
    /// `urn:ietf:params:oauth:token-type:access_token`.
    AccessToken,
    /// `urn:ietf:params:oauth:token-type:refresh_token`.
    RefreshToken,
    /// `urn:ietf:params:oauth:token-type:id_token`.
    IdToken,
    /// `urn:ietf:params:oauth:token-type:jwt`.
    Jwt,
    /// `urn:ietf:params:oauth:token-type:id-jag` (MCP EMA §4).
    IdJag,
}

impl TokenTypeUri {
    const ALL: [Self; 5] = [
        Self::AccessToken,
        Self::RefreshToken,
        Self::IdToken,
        Self::Jwt,
        Self::IdJag,
    ];

    /// The registered URI.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AccessToken => "urn:ietf:params:oauth:token-type:access_token",
            Self::RefreshToken => "urn:ietf:params:oauth:token-type:refresh_token",
            Self::IdToken => "urn:ietf:params:oauth:token-type:id_token",
            Self::Jwt => "urn:ietf:params:oauth:token-type:jwt",
            Self::IdJag => "urn:ietf:params:oauth:token-type:id-jag",
        }
    }

    /// The type with this URI, compared exactly.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

/// The parameters of a token-exchange request (RFC 8693 §2.1).
#[derive(Clone, PartialEq, Eq)]
pub struct TokenExchangeRequest {
    /// The token that represents the party on whose behalf the request is made.
    pub subject_token: String,
    /// Its type.
    pub subject_token_type: TokenTypeUri,
    /// The token that represents the acting party, with its type.
    pub actor: Option<(String, TokenTypeUri)>,
    /// The type of token wanted; `None` is an access token.
    pub requested_token_type: Option<TokenTypeUri>,
    /// The resource the token is for (RFC 8707 §2, RFC 8693 §2.1).
    pub resource: Option<Resource>,
    /// The logical name of the target (RFC 8693 §2.1): a resource of ours, or, for an ID-JAG,
    /// the issuer of a downstream authorization server.
    pub audience: Option<String>,
    /// The scope wanted.
    pub scope: Option<Scope>,
}

impl std::fmt::Debug for TokenExchangeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenExchangeRequest")
            .field("subject_token_type", &self.subject_token_type)
            .field("actor_token_type", &self.actor.as_ref().map(|a| a.1))
            .field("requested_token_type", &self.requested_token_type)
            .field("resource", &self.resource)
            .field("audience", &self.audience)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// A token type parameter: absent, or one Gatehouse knows (else `invalid_request`, RFC 8693
/// §2.2.2).
fn token_type(form: &Form, name: &'static str) -> Result<Option<TokenTypeUri>, TokenError> {
    form.single(name)?
        .map(|text| {
            TokenTypeUri::parse(text)
                .ok_or_else(|| TokenError::InvalidRequest(format!("unsupported {name} {text:?}")))
        })
        .transpose()
}

impl TokenExchangeRequest {
    /// RFC 8693 §2.1: `subject_token` and `subject_token_type` are required; `actor_token_type`
    /// is required with an `actor_token` and forbidden without one.
    fn parse(form: &Form) -> Result<Self, TokenError> {
        let subject_token = required(form, "subject_token")?;
        let subject_token_type = token_type(form, "subject_token_type")?
            .ok_or_else(|| TokenError::InvalidRequest("missing subject_token_type".into()))?;
        let actor = match (
            form.single("actor_token")?,
            token_type(form, "actor_token_type")?,
        ) {
            (Some(token), Some(kind)) => Some((token.to_owned(), kind)),
            (None, None) => None,
            (Some(_), None) => {
                return Err(TokenError::InvalidRequest(
                    "actor_token_type is required with an actor_token (RFC 8693 §2.1)".into(),
                ));
            }
            (None, Some(_)) => {
                return Err(TokenError::InvalidRequest(
                    "actor_token_type without an actor_token (RFC 8693 §2.1)".into(),
                ));
            }
        };
        // Gatehouse binds each token to one audience: several distinct ones are `invalid_target`.
        let mut audience: Option<&str> = None;
        for text in form.all("audience") {
            match audience {
                Some(first) if first != text => {
                    return Err(TokenError::InvalidTarget(
                        "request one audience per token; each token has exactly one audience"
                            .into(),
                    ));
                }
                _ => audience = Some(text),
            }
        }
        Ok(Self {
            subject_token,
            subject_token_type,
            actor,
            requested_token_type: token_type(form, "requested_token_type")?,
            resource: parse_resource(form)?,
            audience: audience.map(str::to_owned),
            scope: parse_scope(form)?,
        })
    }
}

/// The parameters of an authorization-code request.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthorizationCodeRequest {
    /// The code.
    pub code: String,
    /// The redirect URI, repeated from the authorization request.
    pub redirect_uri: Option<String>,
    /// The PKCE verifier (RFC 7636 §4.5); a missing one fails as a wrong one does
    /// (`invalid_grant`, RFC 7636 §4.6), burning the code.
    pub code_verifier: Option<String>,
    /// A resource to narrow the token to (RFC 8707 §2.2).
    pub resource: Option<Resource>,
}

impl std::fmt::Debug for AuthorizationCodeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizationCodeRequest")
            .field("redirect_uri", &self.redirect_uri)
            .field("resource", &self.resource)
            .finish_non_exhaustive()
    }
}

/// The parameters of a refresh request.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshTokenRequest {
    /// The refresh token.
    pub refresh_token: String,
    /// A narrower scope (RFC 6749 §6).
    pub scope: Option<Scope>,
    /// A resource among those granted (RFC 8707 §2.2).
    pub resource: Option<Resource>,
}

impl std::fmt::Debug for RefreshTokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshTokenRequest")
            .field("scope", &self.scope)
            .field("resource", &self.resource)
            .finish_non_exhaustive()
    }
}

/// A required parameter.
fn required(form: &Form, name: &'static str) -> Result<String, TokenError> {
    form.single(name)?
        .map(str::to_owned)
        .ok_or_else(|| TokenError::InvalidRequest(format!("missing {name}")))
}

impl TokenRequest {
    /// Parses the grant-specific parameters of a token request.
    pub fn parse(form: &Form) -> Result<Self, TokenError> {
        let grant_type = form
            .single("grant_type")?
            .ok_or_else(|| TokenError::InvalidRequest("missing grant_type".into()))?;
        Ok(match grant_type {
            "authorization_code" => Self::AuthorizationCode(AuthorizationCodeRequest {
                code: required(form, "code")?,
                redirect_uri: form.single("redirect_uri")?.map(str::to_owned),
                code_verifier: form.single("code_verifier")?.map(str::to_owned),
                resource: parse_resource(form)?,
            }),
            "refresh_token" => Self::RefreshToken(RefreshTokenRequest {
                refresh_token: required(form, "refresh_token")?,
                scope: parse_scope(form)?,
                resource: parse_resource(form)?,
            }),
            "client_credentials" => Self::ClientCredentials(ClientCredentialsRequest {
                scope: parse_scope(form)?,
                resource: parse_resource(form)?,
            }),
            JWT_BEARER => Self::JwtBearer(JwtBearerRequest {
                assertion: required(form, "assertion")?,
                scope: parse_scope(form)?,
                resource: parse_resource(form)?,
            }),
            TOKEN_EXCHANGE => Self::TokenExchange(TokenExchangeRequest::parse(form)?),
            DEVICE_CODE => Self::DeviceCode(DeviceCodeRequest {
                device_code: required(form, "device_code")?,
            }),
            other => Self::Unsupported(other.to_owned()),
        })
    }
}

/// The `scope` parameter (RFC 6749 §3.3).
pub fn parse_scope(form: &Form) -> Result<Option<Scope>, TokenError> {
    form.single("scope")?
        .map(|s| {
            s.parse()
                .map_err(|e| TokenError::InvalidScope(format!("{e}")))
        })
        .transpose()
}

/// The `resource` parameter (RFC 8707 §2). It may legally repeat, but Gatehouse binds each token
/// to exactly one audience, so more than one distinct resource is `invalid_target`.
pub fn parse_resource(form: &Form) -> Result<Option<Resource>, TokenError> {
    let mut found: Option<Resource> = None;
    for text in form.all("resource") {
        let resource: Resource = text
            .parse()
            .map_err(|e| TokenError::InvalidTarget(format!("{e}")))?;
        match &found {
            Some(first) if *first != resource => {
                return Err(TokenError::InvalidTarget(
                    "request one resource per token; each token has exactly one audience".into(),
                ));
            }
            _ => found = Some(resource),
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<TokenRequest, TokenError> {
        TokenRequest::parse(&Form::parse(body.as_bytes()).unwrap())
    }

    #[test]
    fn client_credentials_with_scope_and_resource() {
        let req =
            parse("grant_type=client_credentials&scope=b+a&resource=https%3A%2F%2Frs.example%2F")
                .unwrap();
        let TokenRequest::ClientCredentials(cc) = req else {
            panic!("{req:?}")
        };
        assert_eq!(cc.scope.unwrap().to_string(), "a b");
        assert_eq!(cc.resource.unwrap().as_str(), "https://rs.example");
    }

    #[test]
    fn code_and_refresh_requests_need_their_parameters() {
        let code =
            parse("grant_type=authorization_code&code=c&code_verifier=v&redirect_uri=x").unwrap();
        let TokenRequest::AuthorizationCode(code) = code else {
            panic!("{code:?}")
        };
        assert_eq!(
            (code.code.as_str(), code.code_verifier.as_deref()),
            ("c", Some("v"))
        );
        assert_eq!(code.redirect_uri.as_deref(), Some("x"));
        assert!(
            !format!("{code:?}").contains("\"c\""),
            "Debug hides the code"
        );
        for bad in [
            "grant_type=authorization_code&code_verifier=v",
            "grant_type=authorization_code&code=c&code=d&code_verifier=v",
            "grant_type=refresh_token",
        ] {
            assert!(
                matches!(parse(bad), Err(TokenError::InvalidRequest(_))),
                "{bad}"
            );
        }
        // No verifier is the grant's `invalid_grant`, not a malformed request.
        let bare = parse("grant_type=authorization_code&code=c").unwrap();
        let TokenRequest::AuthorizationCode(bare) = bare else {
            panic!("{bare:?}")
        };
        assert_eq!(bare.code_verifier, None);
        let refresh = parse("grant_type=refresh_token&refresh_token=r&scope=a").unwrap();
        let TokenRequest::RefreshToken(refresh) = refresh else {
            panic!("{refresh:?}")
        };
        assert_eq!(refresh.scope.unwrap().to_string(), "a");
    }

    #[test]
    fn grant_type_errors() {
        assert!(matches!(
            parse("scope=a"),
            Err(TokenError::InvalidRequest(_))
        ));
        assert!(matches!(
            parse("grant_type=client_credentials&grant_type=password"),
            Err(TokenError::InvalidRequest(_))
        ));
        assert_eq!(
            parse("grant_type=password").unwrap(),
            TokenRequest::Unsupported("password".into())
        );
    }

    #[test]
    fn jwt_bearer_needs_one_assertion() {
        let req = parse(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=a.b.c&scope=x",
        )
        .unwrap();
        let TokenRequest::JwtBearer(req) = req else {
            panic!("{req:?}")
        };
        assert_eq!(req.assertion, "a.b.c");
        assert!(
            !format!("{req:?}").contains("a.b.c"),
            "Debug hides the assertion"
        );
        for bad in [
            "grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer",
            "grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=a&assertion=b",
        ] {
            assert!(
                matches!(parse(bad), Err(TokenError::InvalidRequest(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn token_exchange_parameters() {
        let te = "grant_type=urn:ietf:params:oauth:grant-type:token-exchange";
        let at = "urn:ietf:params:oauth:token-type:access_token";
        let req = parse(&format!(
            "{te}&subject_token=s&subject_token_type={at}&actor_token=a&actor_token_type=urn:ietf:params:oauth:token-type:jwt&audience=https://x&audience=https://x&requested_token_type=urn:ietf:params:oauth:token-type:id-jag"
        ))
        .unwrap();
        let TokenRequest::TokenExchange(req) = req else {
            panic!("{req:?}")
        };
        assert_eq!(req.subject_token_type, TokenTypeUri::AccessToken);
        assert_eq!(req.actor, Some(("a".into(), TokenTypeUri::Jwt)));
        assert_eq!(req.audience.as_deref(), Some("https://x"));
        assert_eq!(req.requested_token_type, Some(TokenTypeUri::IdJag));
        assert!(
            !format!("{req:?}").contains("\"s\""),
            "Debug hides the tokens"
        );
        for bad in [
            format!("{te}&subject_token_type={at}"),
            format!("{te}&subject_token=s"),
            format!("{te}&subject_token=s&subject_token_type=urn:x"),
            format!("{te}&subject_token=s&subject_token_type={at}&actor_token=a"),
            format!("{te}&subject_token=s&subject_token_type={at}&actor_token_type={at}"),
            format!("{te}&subject_token=s&subject_token_type={at}&requested_token_type=urn:x"),
        ] {
            assert!(
                matches!(parse(&bad), Err(TokenError::InvalidRequest(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            parse(&format!(
                "{te}&subject_token=s&subject_token_type={at}&audience=a&audience=b"
            )),
            Err(TokenError::InvalidTarget(_))
        ));
    }

    #[test]
    fn scope_and_resource_errors() {
        assert!(matches!(
            parse("grant_type=client_credentials&scope=a%22b"),
            Err(TokenError::InvalidScope(_))
        ));
        assert!(matches!(
            parse("grant_type=client_credentials&scope=a&scope=b"),
            Err(TokenError::InvalidRequest(_))
        ));
        assert!(matches!(
            parse("grant_type=client_credentials&resource=relative"),
            Err(TokenError::InvalidTarget(_))
        ));
        assert!(matches!(
            parse("grant_type=client_credentials&resource=https://a&resource=https://b"),
            Err(TokenError::InvalidTarget(_))
        ));
        // The same resource twice (after canonicalisation) is one audience.
        assert!(
            parse("grant_type=client_credentials&resource=https://a&resource=https://a/").is_ok()
        );
    }
}
