//! Issuing access tokens: RFC 9068 JWTs signed through the [`AccessTokenSigner`] port, or opaque
//! tokens stored by digest in the [`AccessTokenStore`].

use gatehouse_token::{AccessTokenClaims, Audience, OpaqueToken, b64};

use crate::client::{Client, TokenFormat};
use crate::error::TokenError;
use crate::grant::Granted;
use crate::ports::{AccessTokenSigner, Clock, Random, random_bytes};
use crate::scope::Scope;
use crate::store::AccessTokenStore;

/// Server-wide issuance settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerSettings {
    /// The issuer identifier, byte-identical everywhere (RFC 8414 §2).
    pub issuer: String,
    /// Access-token lifetime in seconds for clients that set none.
    pub access_token_lifetime: u64,
    /// The most opaque tokens one client may hold at once (until they expire and are purged).
    pub opaque_tokens_per_client: usize,
}

/// A freshly issued access token (RFC 6749 §5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The token text.
    pub access_token: String,
    /// Seconds until it expires.
    pub expires_in: u64,
    /// The granted scope.
    pub scope: Scope,
}

/// Everything issuance needs, borrowed for one request.
#[allow(missing_debug_implementations)] // holds trait objects only
pub struct TokenIssuer<'a> {
    /// Settings.
    pub settings: &'a IssuerSettings,
    /// Signs JWT access tokens.
    pub signer: &'a dyn AccessTokenSigner,
    /// Stores opaque access tokens.
    pub tokens: &'a dyn AccessTokenStore,
    /// The time.
    pub clock: &'a dyn Clock,
    /// Randomness for `jti` and opaque tokens.
    pub random: &'a dyn Random,
}

impl TokenIssuer<'_> {
    /// Issues an access token for what `client` was granted, in the client's token format.
    pub async fn issue(
        &self,
        client: &Client,
        granted: Granted,
    ) -> Result<IssuedToken, TokenError> {
        let now = self.clock.now();
        let lifetime = client
            .access_token_lifetime
            .unwrap_or(self.settings.access_token_lifetime);
        let claims = AccessTokenClaims {
            iss: self.settings.issuer.clone(),
            sub: granted.subject,
            aud: Audience::One(granted.resource.into()),
            client_id: client.id.as_str().to_owned(),
            scope: (!granted.scope.is_empty()).then(|| granted.scope.to_string()),
            iat: now,
            nbf: None,
            exp: now.plus(lifetime),
            jti: b64::encode(random_bytes::<16>(self.random)),
        };
        let access_token = match client.token_format {
            TokenFormat::Jwt => self.signer.sign(&claims).await?,
            TokenFormat::Opaque => {
                let token = OpaqueToken::from_random(random_bytes::<32>(self.random));
                self.tokens
                    .insert(
                        token.digest(),
                        claims,
                        self.settings.opaque_tokens_per_client,
                    )
                    .await?;
                token.as_str().to_owned()
            }
        };
        Ok(IssuedToken {
            access_token,
            expires_in: lifetime,
            scope: granted.scope,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use gatehouse_token::UnixTime;

    use super::*;
    use crate::client::ClientRegistration;
    use crate::grant::grant;
    use crate::memory::{CountingRandom, MemoryStore};
    use crate::ports::{FixedClock, SignFailure};
    use crate::token_request::{ClientCredentialsRequest, TokenRequest};

    /// Records the claims it is asked to sign and returns their JSON as the "token".
    #[derive(Default)]
    struct RecordingSigner(Mutex<Vec<AccessTokenClaims>>);

    #[async_trait]
    impl AccessTokenSigner for RecordingSigner {
        async fn sign(&self, claims: &AccessTokenClaims) -> Result<String, SignFailure> {
            self.0.lock().unwrap().push(claims.clone());
            Ok(format!("signed:{}", claims.jti))
        }
    }

    struct FailingSigner;

    #[async_trait]
    impl AccessTokenSigner for FailingSigner {
        async fn sign(&self, _: &AccessTokenClaims) -> Result<String, SignFailure> {
            Err(SignFailure::Unavailable("HSM saturated".into()))
        }
    }

    fn client(format: TokenFormat, lifetime: Option<u64>) -> Client {
        ClientRegistration {
            name: "svc".into(),
            grant_types: vec!["client_credentials".into()],
            scope: "read".into(),
            resources: vec!["https://rs.example/".into()],
            access_token_lifetime: lifetime,
            token_format: format,
            introspection: Default::default(),
        }
        .register(&CountingRandom::default(), UnixTime(0))
        .unwrap()
        .0
    }

    fn granted(c: &Client) -> Granted {
        let req = TokenRequest::ClientCredentials(ClientCredentialsRequest {
            scope: None,
            resource: None,
        });
        grant(c, &req).unwrap()
    }

    /// What an issuer borrows, owned by the test.
    struct Parts {
        settings: IssuerSettings,
        store: MemoryStore,
        clock: FixedClock,
        random: CountingRandom,
    }

    impl Parts {
        fn at(now: u64) -> Self {
            Self {
                settings: IssuerSettings {
                    issuer: "https://as.example".into(),
                    access_token_lifetime: 3600,
                    opaque_tokens_per_client: 2,
                },
                store: MemoryStore::default(),
                clock: FixedClock::at(now),
                random: CountingRandom::default(),
            }
        }

        fn issuer<'a>(&'a self, signer: &'a dyn AccessTokenSigner) -> TokenIssuer<'a> {
            TokenIssuer {
                settings: &self.settings,
                signer,
                tokens: &self.store,
                clock: &self.clock,
                random: &self.random,
            }
        }
    }

    #[tokio::test]
    async fn jwt_claims_follow_rfc9068() {
        let (parts, signer) = (Parts::at(1_000), RecordingSigner::default());
        let issuer = parts.issuer(&signer);
        let c = client(TokenFormat::Jwt, Some(300));
        let issued = issuer.issue(&c, granted(&c)).await.unwrap();
        assert_eq!(issued.expires_in, 300);
        let claims = signer.0.lock().unwrap().pop().unwrap();
        assert_eq!(issued.access_token, format!("signed:{}", claims.jti));
        assert_eq!(claims.iss, "https://as.example");
        assert_eq!(claims.sub, c.id.as_str());
        assert_eq!(claims.client_id, c.id.as_str());
        assert_eq!(claims.aud, Audience::One("https://rs.example".into()));
        assert_eq!(claims.scope.as_deref(), Some("read"));
        assert_eq!((claims.iat, claims.exp), (UnixTime(1_000), UnixTime(1_300)));
        assert_eq!(claims.jti.len(), 22);
    }

    #[tokio::test]
    async fn opaque_tokens_are_stored_by_digest_with_default_lifetime() {
        let (parts, signer) = (Parts::at(50), RecordingSigner::default());
        let (issuer, store) = (parts.issuer(&signer), &parts.store);
        let c = client(TokenFormat::Opaque, None);
        let issued = issuer.issue(&c, granted(&c)).await.unwrap();
        let token = OpaqueToken::parse(&issued.access_token).unwrap();
        let stored = store.get(&token.digest()).await.unwrap().unwrap();
        assert_eq!(stored.claims.exp, UnixTime(3_650));
        assert!(!stored.revoked);
        assert!(signer.0.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_client_at_its_opaque_token_quota_is_refused() {
        let (parts, signer) = (Parts::at(50), RecordingSigner::default());
        let (issuer, store) = (parts.issuer(&signer), &parts.store);
        let c = client(TokenFormat::Opaque, None);
        for _ in 0..2 {
            issuer.issue(&c, granted(&c)).await.unwrap();
        }
        assert!(matches!(
            issuer.issue(&c, granted(&c)).await,
            Err(TokenError::TooManyRequests { .. })
        ));
        assert_eq!(store.count_client_tokens(c.id.as_str()).await.unwrap(), 2);
    }

    #[tokio::test]
    async fn signer_saturation_is_temporarily_unavailable() {
        let parts = Parts::at(50);
        let issuer = parts.issuer(&FailingSigner);
        let c = client(TokenFormat::Jwt, None);
        assert!(matches!(
            issuer.issue(&c, granted(&c)).await,
            Err(TokenError::TemporarilyUnavailable(_))
        ));
    }
}
