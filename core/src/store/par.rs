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
    /// The browser that used its `request_uri` first (a digest of its cookie): only that
    /// browser may use it again (a reload of the sign-in page, RFC 9126 §4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_by: Option<SecretDigest>,
}

/// Pushed requests, keyed by the digest of their `request_uri`.
#[async_trait]
pub trait ParStore: Send + Sync {
    /// Stores a pushed request.
    async fn insert(&self, digest: SecretDigest, request: PushedRequest) -> Result<(), StoreError>;
    /// Claims a pushed request for `browser`, atomically: the first browser to claim it gets it
    /// (and is recorded), the same browser gets it again, any other gets `None`; of two
    /// concurrent first claims by two browsers, one wins.
    async fn claim(
        &self,
        digest: &SecretDigest,
        browser: SecretDigest,
    ) -> Result<Option<PushedRequest>, StoreError>;
    /// Removes a request whose authorization is complete (a code was issued, or the person
    /// said no): its `request_uri` works no more, for anyone. Whether it was there.
    async fn complete(&self, digest: &SecretDigest) -> Result<bool, StoreError>;
    /// Deletes requests whose `expires_at` is before `cutoff`; how many.
    async fn purge_expired(&self, cutoff: UnixTime) -> Result<usize, StoreError>;
}
