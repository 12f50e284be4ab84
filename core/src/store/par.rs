//! Pushed authorization requests (RFC 9126): single use, short-lived, bound to their client.

use async_trait::async_trait;
use gatehouse_token::{SecretDigest, UnixTime};
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::client::ClientId;

/// A pushed authorization request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushedRequest {
    /// The client that pushed it (RFC 9126 §2.1: authenticated).
    pub client_id: ClientId,
    /// Its parameters, form-encoded, as checked when pushed.
    pub params: String,
    /// When its `request_uri` stops working.
    pub expires_at: UnixTime,
}

/// Pushed requests, keyed by the digest of their `request_uri`.
#[async_trait]
pub trait ParStore: Send + Sync {
    /// Stores a pushed request.
    async fn insert(&self, digest: SecretDigest, request: PushedRequest) -> Result<(), StoreError>;
    /// Takes a pushed request out, atomically: of two concurrent takes, one gets it.
    async fn take(&self, digest: &SecretDigest) -> Result<Option<PushedRequest>, StoreError>;
    /// Deletes requests whose `expires_at` is before `cutoff`; how many.
    async fn purge_expired(&self, cutoff: UnixTime) -> Result<usize, StoreError>;
}
