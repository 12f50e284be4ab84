//! User accounts and their browser sessions.

use async_trait::async_trait;
use gatehouse_token::{SecretDigest, UnixTime};
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::user::{User, UserChange, UserId, Username};

/// User accounts, keyed by username, also found by id.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Stores a new user; [`StoreError::Conflict`] if the username (or id) is taken.
    async fn insert(&self, user: User) -> Result<(), StoreError>;
    /// The user with this username.
    async fn get(&self, username: &Username) -> Result<Option<User>, StoreError>;
    /// The user with this id.
    async fn get_by_id(&self, id: &UserId) -> Result<Option<User>, StoreError>;
    /// Every user, ordered by username.
    async fn list(&self) -> Result<Vec<User>, StoreError>;
    /// Replaces the user with the same username (and id); whether it existed.
    async fn update(&self, user: User) -> Result<bool, StoreError>;
    /// Applies `change` to the user named `username` atomically (read and write in one step);
    /// the user as written, or `None` if there is no such user.
    async fn change(
        &self,
        username: &Username,
        change: UserChange,
    ) -> Result<Option<User>, StoreError>;
    /// Removes a user; the removed record.
    async fn delete(&self, username: &Username) -> Result<Option<User>, StoreError>;
}

/// A signed-in browser session. The cookie carries 256 random bits; the store keeps their
/// digest only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Who signed in.
    pub user: UserId,
    /// When they entered their password (OIDC `auth_time`).
    pub auth_time: UnixTime,
    /// When the session ends, whatever happens.
    pub expires_at: UnixTime,
}

/// Browser sessions, keyed by the digest of the cookie's value.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a new session.
    async fn insert(&self, digest: SecretDigest, session: Session) -> Result<(), StoreError>;
    /// The session with this digest, until it is purged (callers check `expires_at`).
    async fn get(&self, digest: &SecretDigest) -> Result<Option<Session>, StoreError>;
    /// Ends one session; whether it existed.
    async fn delete(&self, digest: &SecretDigest) -> Result<bool, StoreError>;
    /// Ends every session of a user (disabled, deleted, password changed); how many.
    async fn delete_user_sessions(&self, user: &UserId) -> Result<usize, StoreError>;
    /// Deletes sessions whose `expires_at` is before `cutoff`; how many.
    async fn purge_expired(&self, cutoff: UnixTime) -> Result<usize, StoreError>;
}
