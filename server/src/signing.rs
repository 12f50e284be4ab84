//! Signing JWTs with the key ring's active key: `core`'s access-token signer port, and the
//! RFC 9701 introspection responses. Software keys sign inline (about 12 µs of CPU); keys that may
//! block (an HSM) sign on the blocking pool, never on the async workers.

use std::sync::Arc;

use async_trait::async_trait;
use gatehouse_core::assertion::{ID_JAG_TYP, IdJagClaims};
use gatehouse_core::id_token::{self, ID_TOKEN_TYP, IdTokenClaims};
use gatehouse_core::ports::{AccessTokenSigner, SignFailure};
use gatehouse_signer::{SignError, SigningKey, jws};
use gatehouse_token::AccessTokenClaims;
use gatehouse_token::header::ACCESS_TOKEN_TYP;
use serde::Serialize;

use crate::keys::KeyManager;

/// Signs JWTs with the active key.
#[derive(Debug, Clone)]
pub struct JwtSigner(pub Arc<KeyManager>);

fn failure(e: SignError) -> SignFailure {
    match e {
        SignError::Unavailable(m) => SignFailure::Unavailable(m),
        other => SignFailure::Failed(other.to_string()),
    }
}

impl JwtSigner {
    /// Signs `claims` as a compact JWS with header `typ`.
    pub async fn sign_jwt<C: Serialize + Clone + Send + 'static>(
        &self,
        typ: &'static str,
        claims: &C,
    ) -> Result<String, SignFailure> {
        let key = self.0.ring().active().clone();
        Self::sign_with(key, typ, claims).await
    }

    /// Signs `claims` with `key`, on the blocking pool when the key's backend may block.
    async fn sign_with<C: Serialize + Clone + Send + 'static>(
        key: Arc<dyn SigningKey>,
        typ: &'static str,
        claims: &C,
    ) -> Result<String, SignFailure> {
        if !key.backend().blocks() {
            return jws::sign_compact(key.as_ref(), typ, claims).map_err(failure);
        }
        let claims = claims.clone();
        tokio::task::spawn_blocking(move || jws::sign_compact(key.as_ref(), typ, &claims))
            .await
            .map_err(|e| SignFailure::Failed(format!("signing task failed: {e}")))?
            .map_err(failure)
    }
}

#[async_trait]
impl AccessTokenSigner for JwtSigner {
    async fn sign(&self, claims: &AccessTokenClaims) -> Result<String, SignFailure> {
        self.sign_jwt(ACCESS_TOKEN_TYP, claims).await
    }

    async fn sign_id_token(
        &self,
        mut claims: IdTokenClaims,
        access_token: &str,
    ) -> Result<String, SignFailure> {
        // One key for both: `at_hash` uses the hash of the algorithm that signs.
        let key = self.0.ring().active().clone();
        claims.at_hash = Some(id_token::at_hash(key.algorithm(), access_token));
        Self::sign_with(key, ID_TOKEN_TYP, &claims).await
    }

    async fn sign_id_jag(&self, claims: &IdJagClaims) -> Result<String, SignFailure> {
        self.sign_jwt(ID_JAG_TYP, claims).await
    }
}
