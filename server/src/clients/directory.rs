//! [`Directory`]: the one [`ClientStore`] every endpoint sees. A `client_id` that is a
//! metadata document URL (CIMD §3) is answered by [`MetadataDocuments`]; every other id by the
//! inner store (operator-registered and dynamically registered clients).
//!
//! How a failed document reaches the person: `get` answers `Ok(None)` ("no such client"), so
//! `/authorize` shows its error page (400, no redirect: an unverified client's redirect URI is
//! never used) and `/token` answers `invalid_client`; the reason stays in the resolver's
//! negative cache, where `ClientStore::why_unknown` finds it for the page. `Err` is kept for
//! the store being unavailable (a 503 "try again"), which a bad document is not.

use std::sync::Arc;

use async_trait::async_trait;
use gatehouse_core::client::metadata_document::DocumentUrl;
use gatehouse_core::client::{Client, ClientId};
use gatehouse_core::store::{ClientStore, StoreError};
use gatehouse_token::UnixTime;

use super::metadata_documents::{MetadataDocuments, Unusable};

/// The clients: stored ones, and those described by metadata documents.
pub struct Directory {
    inner: Arc<dyn ClientStore>,
    documents: Option<Arc<MetadataDocuments>>,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory")
            .field("documents", &self.documents)
            .finish_non_exhaustive()
    }
}

impl Directory {
    /// Stored clients from `inner`; document clients from `documents` (`None`: not accepted).
    pub fn new(inner: Arc<dyn ClientStore>, documents: Option<Arc<MetadataDocuments>>) -> Self {
        Self { inner, documents }
    }

    /// The resolver of document clients, if they are accepted.
    pub fn documents(&self) -> Option<&Arc<MetadataDocuments>> {
        self.documents.as_ref()
    }

    /// Why the document client `client_id` is unusable, if it is and it was just looked up.
    pub fn failure(&self, client_id: &str) -> Option<Unusable> {
        self.documents.as_ref()?.failure(client_id)
    }
}

#[async_trait]
impl ClientStore for Directory {
    /// A URL-shaped id is never stored (CIMD §6.9: it would shadow the document's owner);
    /// ids Gatehouse generates never are.
    async fn insert(&self, client: Client) -> Result<(), StoreError> {
        if DocumentUrl::is_url_shaped(client.id.as_str()) {
            return Err(StoreError::Conflict(format!(
                "{} is a client metadata document URL; such clients describe themselves and \
                 are not registered",
                client.id
            )));
        }
        self.inner.insert(client).await
    }

    async fn get(&self, id: &ClientId) -> Result<Option<Arc<Client>>, StoreError> {
        if !DocumentUrl::is_url_shaped(id.as_str()) {
            return self.inner.get(id).await;
        }
        match &self.documents {
            Some(documents) => Ok(documents.resolve(id.as_str()).await.ok()),
            None => Ok(None),
        }
    }

    async fn list(&self) -> Result<Vec<Arc<Client>>, StoreError> {
        self.inner.list().await
    }

    /// A document client is never stored, so never updated here: its document is the record.
    async fn update(&self, client: Client) -> Result<bool, StoreError> {
        if DocumentUrl::is_url_shaped(client.id.as_str()) {
            return Ok(false);
        }
        self.inner.update(client).await
    }

    /// A document client is not stored: nothing to record.
    async fn record_use(&self, id: &ClientId, now: UnixTime) -> Result<bool, StoreError> {
        if DocumentUrl::is_url_shaped(id.as_str()) {
            return Ok(false);
        }
        self.inner.record_use(id, now).await
    }

    /// A document client is dropped from the cache (it comes back at its next request, from a
    /// fresh fetch).
    async fn delete(&self, id: &ClientId) -> Result<bool, StoreError> {
        if DocumentUrl::is_url_shaped(id.as_str()) {
            return Ok(self
                .documents
                .as_ref()
                .is_some_and(|d| d.forget(id.as_str())));
        }
        self.inner.delete(id).await
    }

    /// The reason a document client is unusable, from the negative cache (never fetching).
    async fn why_unknown(&self, id: &ClientId) -> Option<String> {
        if !DocumentUrl::is_url_shaped(id.as_str()) {
            return self.inner.why_unknown(id).await;
        }
        match &self.documents {
            Some(documents) => documents.failure(id.as_str()).map(|u| u.to_string()),
            None => Some(
                "This server does not accept applications identified by a URL (client \
                 metadata documents are turned off)."
                    .to_owned(),
            ),
        }
    }

    /// A document client from the cache only, never fetching.
    async fn contains(&self, id: &str) -> Result<bool, StoreError> {
        if DocumentUrl::is_url_shaped(id) {
            return Ok(self.documents.as_ref().is_some_and(|d| d.contains(id)));
        }
        self.inner.contains(id).await
    }
}
