//! The store of the `opaque` fuzz target, shared with `validator/tests/fuzz_corpus.rs` (which
//! replays the corpus through the same calls): one token, `OpaqueToken::from_random([7; 32])`,
//! also a seed, valid from 1 000 to 2 000.

use gatehouse_token::{AccessTokenClaims, Audience, OpaqueToken, SecretDigest, UnixTime};
use gatehouse_validator::{LookupError, OpaqueRecord, OpaqueTokens};

/// The store holding the one token.
pub(crate) struct OneToken(SecretDigest);

impl Default for OneToken {
    fn default() -> Self {
        Self(OpaqueToken::from_random([7; 32]).digest())
    }
}

#[async_trait::async_trait]
impl OpaqueTokens for OneToken {
    async fn lookup(&self, digest: &SecretDigest) -> Result<Option<OpaqueRecord>, LookupError> {
        Ok((*digest == self.0).then(|| OpaqueRecord {
            claims: AccessTokenClaims {
                iss: "https://as.example".into(),
                sub: "c".into(),
                aud: Audience::One("https://rs.example".into()),
                client_id: "c".into(),
                scope: None,
                iat: UnixTime(1_000),
                nbf: None,
                exp: UnixTime(2_000),
                jti: "j".into(),
                act: None,
                cnf: None,
            },
            revoked: false,
        }))
    }
}
