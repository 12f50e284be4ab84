//! Token revocation (RFC 7009). The server first validates the token (so forged tokens never
//! reach storage), then [`revoke`] applies the rules and records the revocation durably.

use gatehouse_token::{AccessTokenClaims, TokenDigest};

use crate::client::Client;
use crate::error::TokenError;
use crate::store::{AccessTokenStore, RevocationStore};

/// A validated token to revoke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevokeTarget<'a> {
    /// A JWT access token: revoked by `jti` until its `exp`.
    Jwt(&'a AccessTokenClaims),
    /// An opaque access token: marked revoked in the token store.
    Opaque(TokenDigest, &'a AccessTokenClaims),
}

impl RevokeTarget<'_> {
    fn claims(&self) -> &AccessTokenClaims {
        match self {
            Self::Jwt(c) | Self::Opaque(_, c) => c,
        }
    }
}

/// Revokes `target` for the authenticated `caller`.
///
/// RFC 7009 §2.1: the server verifies that the token was issued to the client making the request
/// and refuses otherwise. A storage failure is an error, never a success: the caller must not
/// believe a token is dead while it still introspects active.
pub async fn revoke(
    caller: &Client,
    target: RevokeTarget<'_>,
    revocations: &dyn RevocationStore,
    tokens: &dyn AccessTokenStore,
) -> Result<(), TokenError> {
    if target.claims().client_id != caller.id.as_str() {
        return Err(TokenError::UnauthorizedClient(
            "the token was not issued to this client".into(),
        ));
    }
    match target {
        RevokeTarget::Jwt(claims) => revocations.revoke(&claims.jti, claims.exp).await?,
        RevokeTarget::Opaque(digest, _) => {
            tokens.revoke(&digest).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;
    use gatehouse_token::{Audience, UnixTime};

    use super::*;
    use crate::client::ClientRegistration;
    use crate::memory::{CountingRandom, MemoryStore};
    use crate::store::StoreError;

    fn client() -> Client {
        ClientRegistration {
            name: "svc".into(),
            grant_types: vec!["client_credentials".into()],
            scope: String::new(),
            resources: vec!["https://rs".into()],
            access_token_lifetime: None,
            token_format: Default::default(),
        }
        .register(&CountingRandom::default(), UnixTime(0))
        .unwrap()
        .0
    }

    fn claims(client_id: &str) -> AccessTokenClaims {
        AccessTokenClaims {
            iss: "https://as".into(),
            sub: client_id.into(),
            aud: Audience::One("https://rs".into()),
            client_id: client_id.into(),
            scope: None,
            iat: UnixTime(0),
            nbf: None,
            exp: UnixTime(100),
            jti: "jti-1".into(),
        }
    }

    #[tokio::test]
    async fn revokes_own_jwt_by_jti() {
        let (c, store) = (client(), MemoryStore::default());
        let claims = claims(c.id.as_str());
        revoke(&c, RevokeTarget::Jwt(&claims), &store, &store)
            .await
            .unwrap();
        assert_eq!(
            store.live_page(UnixTime(50), None, 10).await.unwrap(),
            vec![("jti-1".to_owned(), UnixTime(100))]
        );
    }

    #[tokio::test]
    async fn refuses_another_clients_token_and_changes_nothing() {
        let (c, store) = (client(), MemoryStore::default());
        let claims = claims("someone-else");
        assert!(matches!(
            revoke(&c, RevokeTarget::Jwt(&claims), &store, &store).await,
            Err(TokenError::UnauthorizedClient(_))
        ));
        assert!(
            store
                .live_page(UnixTime(0), None, 10)
                .await
                .unwrap()
                .is_empty()
        );
    }

    struct BrokenStore;

    #[async_trait]
    impl RevocationStore for BrokenStore {
        async fn revoke_many(&self, _: Vec<(String, UnixTime)>) -> Result<(), StoreError> {
            Err(StoreError::Unavailable("disk full".into()))
        }
        async fn live_page(
            &self,
            _: UnixTime,
            _: Option<String>,
            _: usize,
        ) -> Result<Vec<(String, UnixTime)>, StoreError> {
            Ok(vec![])
        }
        async fn purge_expired(&self, _: UnixTime) -> Result<usize, StoreError> {
            Ok(0)
        }
    }

    #[tokio::test]
    async fn a_failed_write_is_an_error() {
        let (c, store) = (client(), MemoryStore::default());
        let claims = claims(c.id.as_str());
        let result = revoke(&c, RevokeTarget::Jwt(&claims), &BrokenStore, &store).await;
        assert!(matches!(result, Err(TokenError::TemporarilyUnavailable(_))));
    }
}
