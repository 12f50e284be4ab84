//! The registered protected resources ([`crate::resource::registry`]) an operator created
//! through the CLI or the admin API (those in the configuration file are not stored).

use async_trait::async_trait;

use super::StoreError;
use crate::resource::{ProtectedResource, Resource};

/// Registered protected resources, by canonical URI.
#[async_trait]
pub trait ResourceStore: Send + Sync {
    /// Stores a new resource; [`StoreError::Conflict`] if its URI is taken.
    async fn insert(&self, resource: ProtectedResource) -> Result<(), StoreError>;
    /// Every resource, ordered by URI.
    async fn list(&self) -> Result<Vec<ProtectedResource>, StoreError>;
    /// Removes a resource; whether it existed.
    async fn delete(&self, uri: &Resource) -> Result<bool, StoreError>;
}
