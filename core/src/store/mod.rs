//! The storage traits, one per aggregate. `store` implements them (embedded redb, later Redis);
//! [`crate::memory`] is the in-memory reference implementation.
//!
//! Rules every implementation keeps:
//! - A write returns only once it is durable; a failed write is an error, never a silent success.
//! - Lookups return `Ok(None)` for "not found": absence is not an error.
//! - Secrets are never stored: clients keep a secret digest, opaque tokens, refresh tokens,
//!   codes and sessions are keyed by digest.
//! - Single-use items are consumed atomically: of two concurrent uses, exactly one wins.

mod codes;
mod consents;
mod device_codes;
mod par;
mod refresh_tokens;
mod replay;
mod resources;
mod secrets;
mod users;

use std::sync::Arc;

use async_trait::async_trait;
use gatehouse_token::{AccessTokenClaims, Algorithm, BackendKind, SecretDigest, UnixTime};
use serde::{Deserialize, Serialize};

use crate::client::{Client, ClientId};

pub use codes::{AuthorizationCode, CodeStore, IssuedForCode, Redemption};
pub use consents::{Consent, ConsentStore};
pub use device_codes::{
    DeviceApproval, DeviceAuthorization, DeviceCodeStore, DeviceDecision, DeviceStatus, MAX_VIEWS,
    PollOutcome, SLOW_DOWN_STEP, decide_step, poll_step,
};
pub use par::{ParStore, PushedRequest};
pub use refresh_tokens::{RefreshToken, RefreshTokenStore, Rotation, RotationStep, rotation_step};
pub use replay::{ReplayKind, ReplayStore, replay_digest};
pub use resources::ResourceStore;
pub use secrets::SecretStore;
pub use users::{Session, SessionStore, UserStore};

/// A storage failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached or is busy; the operation may succeed later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The item already exists.
    #[error("already exists: {0}")]
    Conflict(String),
    /// Stored data could not be read back.
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// The write would take a client past its quota (outstanding opaque tokens or
    /// revocations); nothing was written.
    #[error("limit reached: {0}")]
    LimitReached(String),
}

impl StoreError {
    /// [`StoreError::LimitReached`]: `client_id` holds `limit` of `what` already.
    pub fn limit_reached(client_id: &str, what: &str, limit: usize) -> Self {
        Self::LimitReached(format!(
            "client {client_id} already holds {limit} {what} (the limit)"
        ))
    }
}

/// Registered clients.
#[async_trait]
pub trait ClientStore: Send + Sync {
    /// Stores a new client; [`StoreError::Conflict`] if the id is taken.
    async fn insert(&self, client: Client) -> Result<(), StoreError>;
    /// The client with this id.
    async fn get(&self, id: &ClientId) -> Result<Option<Arc<Client>>, StoreError>;
    /// Every client, ordered by id.
    async fn list(&self) -> Result<Vec<Arc<Client>>, StoreError>;
    /// Replaces a stored client with `client` (same id): whether it existed (if not, nothing
    /// is written).
    async fn update(&self, client: Client) -> Result<bool, StoreError>;
    /// Records that the dynamically registered client `id` was used at `now` (its idle expiry
    /// runs from the last use), changing nothing else, atomically: a use never undoes a
    /// concurrent RFC 7592 update. Whether such a client exists.
    async fn record_use(&self, id: &ClientId, now: UnixTime) -> Result<bool, StoreError>;
    /// Removes a client; whether it existed.
    async fn delete(&self, id: &ClientId) -> Result<bool, StoreError>;
    /// Whether a client with this id exists: asked for every token introspected (the tokens of
    /// a deleted client are dead), so implementations answer from memory.
    async fn contains(&self, id: &str) -> Result<bool, StoreError> {
        match ClientId::new(id) {
            Some(id) => Ok(self.get(&id).await?.is_some()),
            None => Ok(false),
        }
    }
    /// Why `id` names no client, in words for the person on the error page, when the store
    /// knows more than "no such client": a client metadata document that could not be fetched
    /// or is not valid (CIMD §4: the authorization is aborted, and the page says why). Asked
    /// only after [`get`](Self::get) answered `Ok(None)`; never fetches. `None` by default.
    async fn why_unknown(&self, _id: &ClientId) -> Option<String> {
        None
    }
}

/// A stored opaque access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAccessToken {
    /// What the token grants.
    pub claims: AccessTokenClaims,
    /// Whether it was revoked.
    pub revoked: bool,
}

/// Opaque access tokens, keyed by the digest of the token text, and indexed by client so that a
/// client's tokens can be counted (a quota) and dropped with it.
#[async_trait]
pub trait AccessTokenStore: Send + Sync {
    /// Stores a newly issued token, unless its client (`claims.client_id`) already holds `limit`
    /// tokens not yet purged: then [`StoreError::LimitReached`] and nothing is written.
    async fn insert(
        &self,
        digest: SecretDigest,
        claims: AccessTokenClaims,
        limit: usize,
    ) -> Result<(), StoreError>;
    /// The token with this digest, revoked or not, until it is purged after expiry.
    async fn get(&self, digest: &SecretDigest) -> Result<Option<StoredAccessToken>, StoreError>;
    /// Marks the token revoked; whether it was found.
    async fn revoke(&self, digest: &SecretDigest) -> Result<bool, StoreError>;
    /// Deletes every token of `client_id` (the client was deleted); how many.
    async fn delete_client_tokens(&self, client_id: &str) -> Result<usize, StoreError>;
    /// How many tokens `client_id` holds (not yet purged).
    async fn count_client_tokens(&self, client_id: &str) -> Result<usize, StoreError>;
    /// Deletes tokens whose `exp` is before `cutoff`; how many. Callers pass
    /// [`crate::revocation::purge_cutoff`], never the bare current time.
    async fn purge_expired(&self, cutoff: UnixTime) -> Result<usize, StoreError>;
}

/// Revoked JWT access tokens, by `jti`, kept until no validator could still accept the token.
/// Revocations a client made of its own tokens are also indexed by client, for its quota.
#[async_trait]
pub trait RevocationStore: Send + Sync {
    /// Records many revocations at once, all or none (an operator's bulk import: no quota).
    async fn revoke_many(&self, revoked: Vec<(String, UnixTime)>) -> Result<(), StoreError>;
    /// Records that `client_id` revoked its token `jti`, expiring at `exp`, unless the client
    /// already has `limit` revocations outstanding: then [`StoreError::LimitReached`] and
    /// nothing is written. Revoking the same `jti` again changes nothing and costs no quota.
    async fn revoke_owned(
        &self,
        client_id: &str,
        jti: &str,
        exp: UnixTime,
        limit: usize,
    ) -> Result<(), StoreError>;
    /// Revocations whose `exp` is not before `cutoff`, in `jti` order, starting after `after`,
    /// at most `limit` of them: loaded page by page, so a million revocations never sit in
    /// memory twice.
    async fn live_page(
        &self,
        cutoff: UnixTime,
        after: Option<String>,
        limit: usize,
    ) -> Result<Vec<(String, UnixTime)>, StoreError>;
    /// Deletes revocations whose `exp` is before `cutoff`; how many. Callers pass
    /// [`crate::revocation::purge_cutoff`], never the bare current time.
    async fn purge_expired(&self, cutoff: UnixTime) -> Result<usize, StoreError>;
}

/// The state of a signing key in the key ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    /// Published in the JWKS ahead of time; signs once promoted.
    Next,
    /// Signs new tokens, published in the JWKS.
    Active,
    /// No longer signs; published until every token it signed has expired.
    Retired,
}

/// A signing key's metadata and, for software keys, its private material.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// Key id (RFC 7638 thumbprint).
    pub kid: String,
    /// The key's one algorithm.
    pub alg: Algorithm,
    /// Which backend holds the key.
    pub backend: BackendKind,
    /// Backend-specific material: base64url PKCS#8 for software keys, `id:<hex>` for HSM keys.
    pub material: String,
    /// Its state.
    pub state: KeyState,
    /// When it was created.
    pub created_at: UnixTime,
    /// When it started signing.
    pub activated_at: Option<UnixTime>,
    /// When it stopped signing.
    pub retired_at: Option<UnixTime>,
    /// When it leaves the JWKS: retirement plus the longest token lifetime.
    pub publish_until: Option<UnixTime>,
}

impl std::fmt::Debug for KeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRecord")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("backend", &self.backend)
            .field("state", &self.state)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

/// Signing-key records.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Inserts or replaces the record with this `kid`.
    async fn put(&self, key: KeyRecord) -> Result<(), StoreError>;
    /// Every key record, ordered by creation time.
    async fn list(&self) -> Result<Vec<KeyRecord>, StoreError>;
    /// Removes a key record; whether it existed.
    async fn delete(&self, kid: &str) -> Result<bool, StoreError>;
}
