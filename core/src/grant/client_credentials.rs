//! The client-credentials grant (RFC 6749 §4.4, OAuth 2.1 §4.2): a confidential client gets a
//! token for itself. The subject is the client (RFC 9068 §2.2).

use super::{Granted, granted_resource, granted_scope};
use crate::client::{Client, GrantType};
use crate::error::TokenError;
use crate::token_request::ClientCredentialsRequest;

/// Decides what an authenticated client gets for a client-credentials request.
pub fn grant(client: &Client, req: &ClientCredentialsRequest) -> Result<Granted, TokenError> {
    // RFC 6749 §5.2: a client not allowed this grant type is `unauthorized_client`.
    if !client.grant_types.contains(&GrantType::ClientCredentials) {
        return Err(TokenError::UnauthorizedClient(
            "the client may not use the client_credentials grant".into(),
        ));
    }
    Ok(Granted {
        subject: client.id.as_str().to_owned(),
        scope: granted_scope(client, req.scope.as_ref())?,
        resource: granted_resource(client, req.resource.as_ref())?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ClientRegistration;
    use crate::memory::CountingRandom;
    use gatehouse_token::UnixTime;

    fn client(grants: &[&str]) -> Client {
        ClientRegistration {
            name: "svc".into(),
            grant_types: grants.iter().map(|g| g.to_string()).collect(),
            scope: "read write".into(),
            resources: vec!["https://a.example".into(), "https://b.example/mcp".into()],
            access_token_lifetime: None,
            token_format: Default::default(),
            introspection: Default::default(),
        }
        .register(&CountingRandom::default(), UnixTime(0))
        .unwrap()
        .0
    }

    fn req(scope: Option<&str>, resource: Option<&str>) -> ClientCredentialsRequest {
        ClientCredentialsRequest {
            scope: scope.map(|s| s.parse().unwrap()),
            resource: resource.map(|r| r.parse().unwrap()),
        }
    }

    #[test]
    fn defaults_to_registered_scope_and_first_resource() {
        let c = client(&["client_credentials"]);
        let g = grant(&c, &req(None, None)).unwrap();
        assert_eq!(g.scope.to_string(), "read write");
        assert_eq!(g.resource.as_str(), "https://a.example");
        assert_eq!(g.subject, c.id.as_str());
    }

    #[test]
    fn narrower_scope_and_other_registered_resource() {
        let c = client(&["client_credentials"]);
        let g = grant(&c, &req(Some("read"), Some("https://B.example/mcp/"))).unwrap();
        assert_eq!(g.scope.to_string(), "read");
        assert_eq!(g.resource.as_str(), "https://b.example/mcp");
    }

    #[test]
    fn refuses_excess_scope_and_unknown_resource() {
        let c = client(&["client_credentials"]);
        assert_eq!(
            grant(&c, &req(Some("read admin"), None)),
            Err(TokenError::InvalidScope(
                "scope not allowed for this client: admin".into()
            ))
        );
        assert!(matches!(
            grant(&c, &req(None, Some("https://c.example"))),
            Err(TokenError::InvalidTarget(_))
        ));
    }

    #[test]
    fn refuses_a_client_without_the_grant() {
        let mut c = client(&["client_credentials"]);
        c.grant_types.clear();
        assert!(matches!(
            grant(&c, &req(None, None)),
            Err(TokenError::UnauthorizedClient(_))
        ));
    }
}
