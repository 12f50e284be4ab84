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
