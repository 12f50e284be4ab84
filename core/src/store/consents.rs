//! What each user let each client have, remembered until revoked.

use async_trait::async_trait;
use gatehouse_token::UnixTime;
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::client::ClientId;
use crate::resource::Resource;
use crate::scope::Scope;
use crate::user::UserId;

/// A remembered consent: the scopes and resources a user granted a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    /// The scopes granted.
    pub scope: Scope,
    /// The resources granted.
    pub resources: Vec<Resource>,
    /// When it was last granted.
    pub granted_at: UnixTime,
}

/// Consents, keyed by (user, client).
#[async_trait]
pub trait ConsentStore: Send + Sync {
    /// The consent `user` gave `client`.
    async fn get(&self, user: &UserId, client: &ClientId) -> Result<Option<Consent>, StoreError>;
    /// Records (replacing) the consent `user` gives `client`.
    async fn put(
        &self,
        user: &UserId,
        client: &ClientId,
        consent: Consent,
    ) -> Result<(), StoreError>;
    /// Forgets one consent; whether it existed.
    async fn revoke(&self, user: &UserId, client: &ClientId) -> Result<bool, StoreError>;
    /// Every consent of a user, ordered by client id.
    async fn list_user(&self, user: &UserId) -> Result<Vec<(ClientId, Consent)>, StoreError>;
    /// Forgets every consent of a user (deleted); how many.
    async fn delete_user(&self, user: &UserId) -> Result<usize, StoreError>;
    /// Forgets every consent given to a client (deleted); how many.
    async fn delete_client(&self, client: &ClientId) -> Result<usize, StoreError>;
}
