//! The device authorization request (RFC 8628 §3.1): a `scope` and a `resource` (RFC 8707),
//! from a client authenticated as at the token endpoint, or a public client by `client_id`.

use crate::error::TokenError;
use crate::form::Form;
use crate::request::token::{parse_resource, parse_scope};
use crate::resource::Resource;
use crate::scope::Scope;

/// A parsed device authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceAuthorizationRequest {
    /// The requested scope; `None` asks for the default (RFC 6749 §3.3).
    pub scope: Option<Scope>,
    /// The requested resource; `None` asks for the client's default (RFC 8707 §2).
    pub resource: Option<Resource>,
}

impl DeviceAuthorizationRequest {
    /// Parses the request: `scope` at most once (`invalid_scope` if malformed), `resource`
    /// one audience (`invalid_target`).
    pub fn parse(form: &Form) -> Result<Self, TokenError> {
        Ok(Self {
            scope: parse_scope(form)?,
            resource: parse_resource(form)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<DeviceAuthorizationRequest, TokenError> {
        DeviceAuthorizationRequest::parse(&Form::parse(body.as_bytes()).unwrap())
    }

    #[test]
    fn scope_and_resource() {
        let req = parse("client_id=c&scope=b+a&resource=https%3A%2F%2Frs.example%2F").unwrap();
        assert_eq!(req.scope.unwrap().to_string(), "a b");
        assert_eq!(req.resource.unwrap().as_str(), "https://rs.example");
        assert_eq!(parse("client_id=c").unwrap().scope, None);
        assert!(matches!(
            parse("scope=a&scope=b"),
            Err(TokenError::InvalidRequest(_))
        ));
        assert!(matches!(
            parse("scope=a%22"),
            Err(TokenError::InvalidScope(_))
        ));
        assert!(matches!(
            parse("resource=https://a&resource=https://b"),
            Err(TokenError::InvalidTarget(_))
        ));
    }
}
