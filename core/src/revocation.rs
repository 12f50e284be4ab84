//! Token revocation (RFC 7009). The server first validates the token (so forged tokens never
//! reach storage), then [`revoke`] applies the rules and records the revocation durably.

use gatehouse_token::{AccessTokenClaims, SecretDigest, UnixTime};

use crate::client::Client;
use crate::error::TokenError;
use crate::store::{AccessTokenStore, RevocationStore};

/// The earliest `exp` that must still be kept at `now`: revocations and opaque-token records
/// whose `exp` is before it may be purged.
///
/// A token is accepted by a resource server until `exp` plus the leeway it allows for clock skew
/// (RFC 7519 §4.1.4), so its revocation must live that long too; dropping it at `exp` would bring
/// a revoked token back to life in that window.
pub const fn purge_cutoff(now: UnixTime, leeway: u64) -> UnixTime {
    now.minus(leeway)
}

/// A validated token to revoke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevokeTarget<'a> {
    /// A JWT access token: revoked by `jti` until its `exp`.
    Jwt(&'a AccessTokenClaims),
    /// An opaque access token: marked revoked in the token store.
    Opaque(SecretDigest, &'a AccessTokenClaims),
}

impl RevokeTarget<'_> {
    fn claims(&self) -> &AccessTokenClaims {
        match self {
            Self::Jwt(c) | Self::Opaque(_, c) => c,
        }
    }
}

/// What [`revoke`] did. Both answer 200 on the wire, so that `/revoke` says nothing about a
/// token the caller does not own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    /// The token is revoked, durably.
    Done,
    /// The token belongs to another client: nothing changed.
    NotOwner,
}

/// Revokes `target` for the authenticated `caller`, holding the caller to `limit` outstanding
/// revocations of JWTs (an opaque token is marked in place and costs nothing).
///
/// RFC 7009 §2.1: the server verifies that the token was issued to the client making the
/// request; §2.2: an invalid token (which includes another client's, for the caller) is answered
/// 200 like a revoked one, so the endpoint is no oracle of which tokens are live. A storage
/// failure is an error, never a success: the caller must not believe a token is dead while it
/// still introspects active (RFC 7009 §2.2.1).
pub async fn revoke(
    caller: &Client,
    target: RevokeTarget<'_>,
    revocations: &dyn RevocationStore,
    tokens: &dyn AccessTokenStore,
    limit: usize,
) -> Result<Revoked, TokenError> {
    if target.claims().client_id != caller.id.as_str() {
        return Ok(Revoked::NotOwner);
    }
    match target {
        RevokeTarget::Jwt(claims) => {
            revocations
                .revoke_owned(caller.id.as_str(), &claims.jti, claims.exp, limit)
                .await?;
        }
        RevokeTarget::Opaque(digest, _) => {
            tokens.revoke(&digest).await?;
        }
    }
    Ok(Revoked::Done)
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;
    use gatehouse_token::Audience;

    use super::*;
    use crate::memory::MemoryStore;
    use crate::store::StoreError;
    use crate::testing::ClientBuilder;

    fn client() -> Client {
        ClientBuilder::new().client()
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
            act: None,
            cnf: None,
        }
    }

    #[tokio::test]
    async fn revokes_own_jwt_by_jti() {
        let (c, store) = (client(), MemoryStore::default());
        let claims = claims(c.id.as_str());
        let done = revoke(&c, RevokeTarget::Jwt(&claims), &store, &store, 10)
            .await
            .unwrap();
        assert_eq!(done, Revoked::Done);
        assert_eq!(
            store.live_page(UnixTime(50), None, 10).await.unwrap(),
            vec![("jti-1".to_owned(), UnixTime(100))]
        );
    }

    #[tokio::test]
    async fn a_revocation_outlives_exp_by_the_leeway() {
        let (c, store) = (client(), MemoryStore::default());
        let claims = claims(c.id.as_str());
        revoke(&c, RevokeTarget::Jwt(&claims), &store, &store, 10)
            .await
            .unwrap();
        // At exp + 29 s a resource server with a 30 s leeway still accepts the token.
        let cutoff = purge_cutoff(claims.exp.plus(29), 30);
        assert_eq!(
            RevocationStore::purge_expired(&store, cutoff)
                .await
                .unwrap(),
            0
        );
        assert_eq!(store.live_page(cutoff, None, 10).await.unwrap().len(), 1);
        let cutoff = purge_cutoff(claims.exp.plus(31), 30);
        assert_eq!(
            RevocationStore::purge_expired(&store, cutoff)
                .await
                .unwrap(),
            1
        );
    }

    #[tokio::test]
    async fn the_quota_of_outstanding_revocations_holds() {
        let (c, store) = (client(), MemoryStore::default());
        let mut claims = claims(c.id.as_str());
        for n in 0..3 {
            claims.jti = format!("jti-{n}");
            revoke(&c, RevokeTarget::Jwt(&claims), &store, &store, 3)
                .await
                .unwrap();
        }
        // The same token again costs nothing; a fourth is refused and not recorded.
        claims.jti = "jti-0".into();
        revoke(&c, RevokeTarget::Jwt(&claims), &store, &store, 3)
            .await
            .unwrap();
        claims.jti = "jti-3".into();
        assert!(matches!(
            revoke(&c, RevokeTarget::Jwt(&claims), &store, &store, 3).await,
            Err(TokenError::TooManyRequests { .. })
        ));
        assert_eq!(
            store.live_page(UnixTime(0), None, 10).await.unwrap().len(),
            3
        );
        // Once purged, the quota is free again.
        RevocationStore::purge_expired(&store, UnixTime(101))
            .await
            .unwrap();
        revoke(&c, RevokeTarget::Jwt(&claims), &store, &store, 3)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn another_clients_token_changes_nothing_and_says_nothing() {
        let (c, store) = (client(), MemoryStore::default());
        let claims = claims("someone-else");
        assert_eq!(
            revoke(&c, RevokeTarget::Jwt(&claims), &store, &store, 10).await,
            Ok(Revoked::NotOwner)
        );
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
        async fn revoke_owned(
            &self,
            _: &str,
            _: &str,
            _: UnixTime,
            _: usize,
        ) -> Result<(), StoreError> {
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
        let result = revoke(&c, RevokeTarget::Jwt(&claims), &BrokenStore, &store, 10).await;
        assert!(matches!(result, Err(TokenError::TemporarilyUnavailable(_))));
    }
}
