//! Issuing access tokens: RFC 9068 JWTs signed through the signer port, or opaque tokens
//! stored by digest in the access-token store.

use std::fmt;

use gatehouse_token::{
    AccessTokenClaims, Audience, Confirmation, OpaqueToken, SecretDigest, UnixTime, b64,
};

use crate::client::{Client, TokenFormat};
use crate::error::TokenError;
use crate::grant::{GrantContext, Granted};
use crate::ports::random_bytes;
use crate::scope::Scope;

/// Server-wide issuance settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerSettings {
    /// The issuer identifier, byte-identical everywhere (RFC 8414 §2).
    pub issuer: String,
    /// Access-token lifetime in seconds for clients that set none.
    pub access_token_lifetime: u64,
    /// The most opaque tokens one client may hold at once (until they expire and are purged).
    pub opaque_tokens_per_client: usize,
    /// Refresh-token lifetimes and rotation.
    pub refresh: RefreshSettings,
    /// The security profile every client is held to at least (FAPI 2.0 wants every access
    /// token sender-constrained).
    pub profile: crate::profile::SecurityProfile,
}

/// Refresh-token lifetimes and rotation (RFC 9700 §4.14.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshSettings {
    /// A token unused this long expires, seconds.
    pub idle_lifetime: u64,
    /// A family ends this long after the sign-in, seconds.
    pub lifetime: u64,
    /// A rotated token used again within this many seconds gets the same successor.
    pub grace: u64,
    /// Whether confidential clients' tokens rotate too (public clients' always do).
    pub rotate_confidential: bool,
    /// The key that derives a token's successor from the token (so a repeat within the grace
    /// window gets the same successor without the successor ever being stored).
    pub rotation_key: RotationKey,
}

/// A 256-bit HMAC key; `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct RotationKey(pub [u8; 32]);

impl fmt::Debug for RotationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RotationKey([redacted])")
    }
}

/// The type of an issued access token (RFC 6749 §7.1): how a resource server must check it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenType {
    /// A bearer token (RFC 6750): whoever holds it may use it.
    Bearer,
    /// A DPoP-bound token (RFC 9449 §5, §7.1): presented with `Authorization: DPoP` and a proof
    /// of the key it is bound to.
    DPoP,
    /// Not an access token at all (RFC 8693 §2.2.1): an ID-JAG issued by a token exchange
    /// (MCP EMA §4.2), to be presented as an authorization grant, never to a resource server.
    NotApplicable,
}

impl TokenType {
    /// The `token_type` value (case-insensitive on the wire, RFC 6749 §5.1; written as
    /// registered).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Bearer => "Bearer",
            Self::DPoP => "DPoP",
            Self::NotApplicable => "N_A",
        }
    }

    /// The type of an access token bound by `cnf`: `DPoP` when bound to a DPoP key (RFC 9449
    /// §5), else `Bearer` (a certificate-bound token is presented as a bearer token over the
    /// mutual-TLS connection, RFC 8705 §3).
    pub fn of(cnf: Option<&Confirmation>) -> Self {
        if cnf.is_some_and(|c| c.jkt.is_some()) {
            Self::DPoP
        } else {
            Self::Bearer
        }
    }
}

/// A freshly issued access token (RFC 6749 §5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The token text.
    pub access_token: String,
    /// Its type.
    pub token_type: TokenType,
    /// Seconds until it expires.
    pub expires_in: u64,
    /// The granted scope.
    pub scope: Scope,
    /// A refresh token, when the grant gives one.
    pub refresh_token: Option<String>,
    /// An ID token, for an OpenID Connect request.
    pub id_token: Option<String>,
    /// The access token's `jti`.
    pub jti: String,
    /// When the access token expires.
    pub expires_at: UnixTime,
    /// The digest of an opaque access token.
    pub opaque_digest: Option<SecretDigest>,
    /// The type of the token issued, answered by a token exchange (RFC 8693 §2.2.1).
    pub issued_token_type: Option<&'static str>,
}

/// Issues an access token for what `client` was granted, in the resource's or else the
/// client's token format: an RFC 9068 JWT through the signer port, or an opaque token stored by
/// digest (within the client's quota).
pub async fn issue(
    ctx: &GrantContext<'_>,
    client: &Client,
    granted: Granted,
) -> Result<IssuedToken, TokenError> {
    let now = ctx.clock.now();
    // A registered resource may shorten the lifetime (the shorter of its and the client's wins)
    // and choose the format of its tokens.
    let registered = ctx.resources.get(&granted.resource);
    let lifetime = [
        client.access_token_lifetime,
        registered.and_then(|r| r.access_token_lifetime),
    ]
    .into_iter()
    .flatten()
    .min()
    .unwrap_or(ctx.settings.access_token_lifetime);
    // An exchanged token ends when the tokens it came from end (RFC 8693 §2.2.1 leaves the
    // lifetime to the server; anything longer would turn an exchange into a renewal).
    let lifetime = match granted.not_after {
        Some(end) if end.0 <= now.0 => {
            return Err(TokenError::InvalidGrant(
                "the presented token has expired".into(),
            ));
        }
        Some(end) => lifetime.min(end.0.saturating_sub(now.0)),
        None => lifetime,
    };
    let requires = crate::grant::binding_required(ctx, client, registered.map(AsRef::as_ref));
    let cnf = crate::binding::confirm(client, requires, ctx.holder)?;
    let format = registered
        .and_then(|r| r.token_format)
        .unwrap_or(client.token_format);
    let claims = AccessTokenClaims {
        iss: ctx.settings.issuer.clone(),
        sub: granted.subject,
        aud: Audience::One(granted.resource.into()),
        client_id: client.id.as_str().to_owned(),
        scope: (!granted.scope.is_empty()).then(|| granted.scope.to_string()),
        iat: now,
        nbf: None,
        exp: now.plus(lifetime),
        jti: b64::encode(random_bytes::<16>(ctx.random)),
        act: granted.act,
        cnf,
    };
    let (jti, expires_at) = (claims.jti.clone(), claims.exp);
    let claims_cnf = claims.cnf.clone();
    let (access_token, opaque_digest) = match format {
        TokenFormat::Jwt => (ctx.signer.sign(&claims).await?, None),
        TokenFormat::Opaque => {
            let token = OpaqueToken::from_random(random_bytes::<32>(ctx.random));
            ctx.tokens
                .insert(
                    token.digest(),
                    claims,
                    ctx.settings.opaque_tokens_per_client,
                )
                .await?;
            (token.as_str().to_owned(), Some(token.digest()))
        }
    };
    Ok(IssuedToken {
        access_token,
        token_type: TokenType::of(claims_cnf.as_ref()),
        expires_in: lifetime,
        scope: granted.scope,
        refresh_token: None,
        id_token: None,
        jti,
        expires_at,
        opaque_digest,
        issued_token_type: None,
    })
}

#[cfg(test)]
mod tests {
    use gatehouse_token::UnixTime;

    use super::*;
    use crate::ports::{AccessTokenSigner, SignFailure};
    use crate::request::token::{ClientCredentialsRequest, TokenRequest};
    use crate::store::AccessTokenStore;
    use crate::testing::{ClientBuilder, Harness};

    struct FailingSigner;

    #[async_trait::async_trait]
    impl AccessTokenSigner for FailingSigner {
        async fn sign(&self, _: &AccessTokenClaims) -> Result<String, SignFailure> {
            Err(SignFailure::Unavailable("HSM saturated".into()))
        }

        async fn sign_id_token(
            &self,
            _: crate::id_token::IdTokenClaims,
            _: &str,
        ) -> Result<String, SignFailure> {
            Err(SignFailure::Unavailable("HSM saturated".into()))
        }

        async fn sign_id_jag(
            &self,
            _: &crate::assertion::IdJagClaims,
        ) -> Result<String, SignFailure> {
            Err(SignFailure::Unavailable("HSM saturated".into()))
        }
    }

    fn client(format: TokenFormat, lifetime: Option<u64>) -> Client {
        let builder = ClientBuilder::new()
            .resources(&["https://rs.example/"])
            .format(format);
        match lifetime {
            Some(l) => builder.lifetime(l),
            None => builder,
        }
        .client()
    }

    const REQUEST: TokenRequest = TokenRequest::ClientCredentials(ClientCredentialsRequest {
        scope: None,
        resource: None,
    });

    #[tokio::test]
    async fn jwt_claims_follow_rfc9068() {
        let h = Harness::at(1_000);
        let c = client(TokenFormat::Jwt, Some(300));
        let issued = crate::grant::exchange(&h.context(), &c, &REQUEST)
            .await
            .unwrap();
        assert_eq!(
            (issued.expires_in, issued.token_type),
            (300, TokenType::Bearer)
        );
        let claims = h.signer.signed().pop().unwrap();
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
        let h = Harness::at(50);
        let c = client(TokenFormat::Opaque, None);
        let issued = crate::grant::exchange(&h.context(), &c, &REQUEST)
            .await
            .unwrap();
        let token = OpaqueToken::parse(&issued.access_token).unwrap();
        let stored = h.store.get(&token.digest()).await.unwrap().unwrap();
        assert_eq!(stored.claims.exp, UnixTime(3_650));
        assert!(!stored.revoked);
        assert!(h.signer.signed().is_empty());
    }

    #[tokio::test]
    async fn a_client_at_its_opaque_token_quota_is_refused() {
        let h = Harness::at(50);
        let c = client(TokenFormat::Opaque, None);
        for _ in 0..2 {
            crate::grant::exchange(&h.context(), &c, &REQUEST)
                .await
                .unwrap();
        }
        assert!(matches!(
            crate::grant::exchange(&h.context(), &c, &REQUEST).await,
            Err(TokenError::TooManyRequests { .. })
        ));
        assert_eq!(h.store.count_client_tokens(c.id.as_str()).await.unwrap(), 2);
    }

    #[tokio::test]
    async fn signer_saturation_is_temporarily_unavailable() {
        let h = Harness::at(50);
        let mut ctx = h.context();
        ctx.signer = &FailingSigner;
        let c = client(TokenFormat::Jwt, None);
        assert!(matches!(
            crate::grant::exchange(&ctx, &c, &REQUEST).await,
            Err(TokenError::TemporarilyUnavailable(_))
        ));
    }

    /// A registered resource shortens the lifetime (the shorter of its and the client's wins)
    /// and chooses the format of its tokens.
    #[tokio::test]
    async fn a_registered_resource_sets_format_and_caps_lifetime() {
        let mut h = Harness::at(0);
        let rs = crate::resource::ResourceDefinition {
            uri: "https://rs.example".into(),
            name: None,
            scopes: vec![crate::resource::ScopeDescription {
                name: "read".into(),
                description: String::new(),
            }],
            default_scopes: vec![],
            token_format: Some(TokenFormat::Opaque),
            access_token_lifetime: Some(120),
            require_sender_constrained: false,
        }
        .validate()
        .unwrap();
        h.resources = crate::resource::ResourceRegistry::new([rs], None).unwrap();
        for (client_lifetime, expected) in [(None, 120), (Some(300), 120), (Some(60), 60)] {
            let c = client(TokenFormat::Jwt, client_lifetime);
            let issued = crate::grant::exchange(&h.context(), &c, &REQUEST)
                .await
                .unwrap();
            assert_eq!(issued.expires_in, expected, "{client_lifetime:?}");
            assert!(OpaqueToken::parse(&issued.access_token).is_ok(), "opaque");
        }
        assert!(h.signer.signed().is_empty());
    }

    /// RFC 9449 §5, §6.1: a proof binds the token (`cnf.jkt`, `token_type: DPoP`), JWT and
    /// opaque alike; a resource requiring sender-constrained tokens refuses a bearer token,
    /// and a DPoP client (`dpop_bound_access_tokens`) refuses a request without a proof.
    #[tokio::test]
    async fn dpop_proofs_bind_tokens_and_requirements_refuse_bearer_ones() {
        use crate::binding::{BindingPolicy, Holder};
        let mut h = Harness::at(0);
        let rs = crate::resource::ResourceDefinition {
            uri: "https://rs.example".into(),
            name: None,
            scopes: vec![crate::resource::ScopeDescription {
                name: "read".into(),
                description: String::new(),
            }],
            default_scopes: vec![],
            token_format: None,
            access_token_lifetime: None,
            require_sender_constrained: true,
        }
        .validate()
        .unwrap();
        h.resources = crate::resource::ResourceRegistry::new([rs], None).unwrap();
        let c = client(TokenFormat::Jwt, None);
        assert!(matches!(
            crate::grant::exchange(&h.context(), &c, &REQUEST).await,
            Err(TokenError::InvalidRequest(_))
        ));
        let holder = Holder::dpop("k");
        let mut ctx = h.context();
        ctx.holder = &holder;
        let issued = crate::grant::exchange(&ctx, &c, &REQUEST).await.unwrap();
        assert_eq!(issued.token_type, TokenType::DPoP);
        let claims = h.signer.signed().pop().unwrap();
        assert_eq!(claims.cnf, Some(Confirmation::dpop("k")));
        let opaque = client(TokenFormat::Opaque, None);
        let issued = crate::grant::exchange(&ctx, &opaque, &REQUEST)
            .await
            .unwrap();
        let stored = h
            .store
            .get(&issued.opaque_digest.unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.claims.cnf, Some(Confirmation::dpop("k")));
        let mut dpop_client = client(TokenFormat::Jwt, None);
        dpop_client.binding = BindingPolicy {
            dpop_bound_access_tokens: true,
            ..BindingPolicy::default()
        };
        h.resources = crate::testing::Harness::at(0).resources;
        assert!(matches!(
            crate::grant::exchange(&h.context(), &dpop_client, &REQUEST).await,
            Err(TokenError::InvalidDpopProof(_))
        ));
    }
}
