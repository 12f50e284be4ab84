//! Where clients come from: the stored ones and those identified by a Client ID Metadata
//! Document URL (draft-ietf-oauth-client-id-metadata-document).
//!
//! # Layout
//! - [`mod@directory`]: [`Directory`], the `ClientStore` the endpoints see: URL-shaped ids go to
//!   the documents, every other id to the store.
//! - [`metadata_documents`]: [`MetadataDocuments`], fetching (through `gatehouse-fetch`),
//!   validating (`core::client::metadata_document`) and caching documents.
//! - [`assertion_keys`]: [`AssertionKeys`], checking `private_key_jwt` assertions with the
//!   clients' registered keys (by value, or fetched from their `jwks_uri`).

pub mod assertion_keys;
pub mod directory;
pub mod metadata_documents;

use std::sync::Arc;

use gatehouse_core::ports::Clock;
use gatehouse_core::store::ClientStore;

pub use assertion_keys::AssertionKeys;
pub use directory::Directory;
pub use metadata_documents::{MetadataDocuments, Unusable};

use crate::config::{ConfigError, MetadataDocumentsConfig};

/// The `private_key_jwt` verifier under `settings`, with the real fetcher; warns in the log
/// about the settings that widen what may be fetched.
pub fn assertion_keys_of(
    settings: &crate::config::ClientKeysConfig,
    clock: Arc<dyn Clock>,
) -> Result<AssertionKeys, ConfigError> {
    for prefix in &settings.allowed_prefixes {
        tracing::warn!(%prefix, "client jwks_uris under this prefix may be fetched from internal addresses (client_keys.allowed_prefixes)");
    }
    for file in &settings.extra_ca_files {
        tracing::warn!(file = %file.display(), "client jwks_uris: trusting extra CA certificates (client_keys.extra_ca_files)");
    }
    let fetcher = assertion_keys::fetcher(settings).map_err(|e| ConfigError {
        field: "client_keys.extra_ca_files".to_owned(),
        message: e.to_string(),
    })?;
    Ok(AssertionKeys::new(settings.clone(), fetcher, clock))
}

/// The directory over `store` under `settings`, with the real fetcher; warns in the log about
/// the settings that widen what may be fetched.
pub fn directory(
    store: Arc<dyn ClientStore>,
    settings: &MetadataDocumentsConfig,
    clock: Arc<dyn Clock>,
) -> Result<Directory, ConfigError> {
    if !settings.enabled {
        return Ok(Directory::new(store, None));
    }
    for prefix in &settings.allowed_prefixes {
        tracing::warn!(%prefix, "client metadata documents under this prefix may be fetched from internal addresses (client_metadata_documents.allowed_prefixes)");
    }
    for file in &settings.extra_ca_files {
        tracing::warn!(file = %file.display(), "client metadata documents: trusting extra CA certificates (client_metadata_documents.extra_ca_files)");
    }
    let fetcher = metadata_documents::fetcher(settings).map_err(|e| ConfigError {
        field: "client_metadata_documents.extra_ca_files".to_owned(),
        message: e.to_string(),
    })?;
    let documents = MetadataDocuments::new(settings.clone(), fetcher, clock);
    Ok(Directory::new(store, Some(Arc::new(documents))))
}

#[cfg(test)]
mod tests;
