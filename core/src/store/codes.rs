//! Authorization codes (RFC 6749 §4.1.2, OAuth 2.1 §4.1.2): single use, short-lived, bound to
//! everything the authorization request decided.

use async_trait::async_trait;
use gatehouse_token::{SecretDigest, UnixTime};
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::client::ClientId;
use crate::resource::Resource;
use crate::scope::Scope;
use crate::user::UserId;

/// What an authorization code stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationCode {
    /// The client it was issued to.
    pub client_id: ClientId,
    /// The `redirect_uri` of the authorization request, if it had one (RFC 6749 §4.1.3: the
    /// token request must then repeat it, identically).
    pub redirect_uri: Option<String>,
    /// The PKCE `code_challenge` (S256, RFC 7636 §4.2).
    pub code_challenge: String,
    /// The user who approved.
    pub user: UserId,
    /// When the user authenticated.
    pub auth_time: UnixTime,
    /// The granted scope.
    pub scope: Scope,
    /// The granted resource (the tokens' one audience).
    pub resource: Resource,
    /// The OIDC `nonce`, echoed into the ID token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// The digest of the browser session it came from.
    pub session: SecretDigest,
    /// When it stops being redeemable.
    pub expires_at: UnixTime,
    /// The DPoP key the code is bound to (`dpop_jkt`, or the key of a proof at PAR, RFC 9449
    /// §10): it is redeemed only with a proof by that key (§10.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
}

/// What was issued for a redeemed code, so that a replay can revoke it (RFC 9700 §4.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedForCode {
    /// The access token's `jti` and `exp` (a JWT is revoked by `jti`).
    pub access_jti: String,
    /// Its expiry.
    pub access_exp: UnixTime,
    /// The digest of an opaque access token, if it was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_digest: Option<SecretDigest>,
    /// The refresh-token family started, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_family: Option<String>,
}

/// The outcome of redeeming a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redemption {
    /// First use: the code, now marked used.
    Fresh(AuthorizationCode),
    /// The code was used before; what was issued then, if recorded yet.
    Replayed(AuthorizationCode, Option<IssuedForCode>),
    /// No such code (never issued, or purged).
    Unknown,
}

/// Authorization codes, keyed by the digest of the code.
#[async_trait]
pub trait CodeStore: Send + Sync {
    /// Stores a new code.
    async fn insert(&self, digest: SecretDigest, code: AuthorizationCode)
    -> Result<(), StoreError>;
    /// Redeems a code atomically: of two concurrent redemptions exactly one is
    /// [`Redemption::Fresh`]. A used code is kept (as used) until purged, so a replay is known.
    async fn redeem(&self, digest: &SecretDigest) -> Result<Redemption, StoreError>;
    /// Records what was issued for a redeemed code; `true` if a replay was reported meanwhile
    /// ([`CodeStore::mark_replayed`]): what was issued must then be revoked at once.
    async fn record_issued(
        &self,
        digest: &SecretDigest,
        issued: IssuedForCode,
    ) -> Result<bool, StoreError>;
    /// Reports a replay of a redeemed code, atomically with [`CodeStore::record_issued`]: what
    /// was issued for it if recorded already (to revoke now), else `None`, and the code is
    /// marked so that the recording reports the replay.
    async fn mark_replayed(
        &self,
        digest: &SecretDigest,
    ) -> Result<Option<IssuedForCode>, StoreError>;
    /// Deletes codes whose `expires_at` is before `cutoff`, used or not; how many.
    async fn purge_expired(&self, cutoff: UnixTime) -> Result<usize, StoreError>;
}
