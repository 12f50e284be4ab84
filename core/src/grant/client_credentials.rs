//! The client-credentials grant (RFC 6749 §4.4, OAuth 2.1 §4.2): a confidential client gets a
//! token for itself. The subject is the client (RFC 9068 §2.2).

use super::{GrantContext, Granted, target};
use crate::client::{Client, ClientKind, GrantType};
use crate::error::TokenError;
use crate::request::token::ClientCredentialsRequest;

/// Decides what an authenticated client gets for a client-credentials request.
pub async fn grant(
    ctx: &GrantContext<'_>,
    client: &Client,
    req: &ClientCredentialsRequest,
) -> Result<Granted, TokenError> {
    // OAuth 2.1 §4.2: only confidential clients; a public client proved nothing about itself.
    if client.kind == ClientKind::Public {
        return Err(TokenError::UnauthorizedClient(
            "a public client may not use the client_credentials grant".into(),
        ));
    }
    // RFC 6749 §5.2: a client not allowed this grant type is `unauthorized_client`.
    if !client.grant_types.contains(&GrantType::ClientCredentials) {
        return Err(TokenError::UnauthorizedClient(
            "the client may not use the client_credentials grant".into(),
        ));
    }
    let target = target::decide(
        client,
        ctx.resources,
        req.resource.as_ref(),
        req.scope.as_ref(),
    )?;
    Ok(target.grant(client.id.as_str().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ClientBuilder, Harness};

    fn client() -> Client {
        ClientBuilder::new()
            .scope("read write")
            .resources(&["https://a.example", "https://b.example/mcp"])
            .client()
    }

    fn req(scope: Option<&str>, resource: Option<&str>) -> ClientCredentialsRequest {
        ClientCredentialsRequest {
            scope: scope.map(|s| s.parse().unwrap()),
            resource: resource.map(|r| r.parse().unwrap()),
        }
    }

    #[tokio::test]
    async fn defaults_to_registered_scope_and_first_resource() {
        let h = Harness::at(0);
        let c = client();
        let g = grant(&h.context(), &c, &req(None, None)).await.unwrap();
        assert_eq!(g.scope.to_string(), "read write");
        assert_eq!(g.resource.as_str(), "https://a.example");
        assert_eq!(g.subject, c.id.as_str());
    }

    #[tokio::test]
    async fn narrower_scope_and_other_registered_resource() {
        let h = Harness::at(0);
        let c = client();
        let g = grant(
            &h.context(),
            &c,
            &req(Some("read"), Some("https://B.example/mcp/")),
        )
        .await
        .unwrap();
        assert_eq!(g.scope.to_string(), "read");
        assert_eq!(g.resource.as_str(), "https://b.example/mcp");
    }

    #[tokio::test]
    async fn refuses_excess_scope_and_unknown_resource() {
        let h = Harness::at(0);
        let c = client();
        assert_eq!(
            grant(&h.context(), &c, &req(Some("read admin"), None)).await,
            Err(TokenError::InvalidScope(
                "scope not allowed for this client: admin".into()
            ))
        );
        assert!(matches!(
            grant(&h.context(), &c, &req(None, Some("https://c.example"))).await,
            Err(TokenError::InvalidTarget(_))
        ));
    }

    #[tokio::test]
    async fn refuses_a_client_without_the_grant_or_a_public_client() {
        let h = Harness::at(0);
        let mut c = client();
        c.grant_types.clear();
        assert!(matches!(
            grant(&h.context(), &c, &req(None, None)).await,
            Err(TokenError::UnauthorizedClient(_))
        ));
        let public = ClientBuilder::new().public().client();
        assert!(matches!(
            grant(&h.context(), &public, &req(None, None)).await,
            Err(TokenError::UnauthorizedClient(_))
        ));
    }
}
