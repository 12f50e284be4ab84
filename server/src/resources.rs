//! The registry of protected resources as the server holds it: the resources of the
//! configuration file and those registered through the CLI or admin API (stored), merged into
//! one immutable [`ResourceRegistry`] snapshot that requests read without a lock and that is
//! swapped whenever a resource is created or deleted.

use std::sync::Arc;

use arc_swap::ArcSwap;
use gatehouse_core::resource::{ProtectedResource, Resource, ResourceDefinition, ResourceRegistry};
use gatehouse_core::store::{ResourceStore, StoreError};

use crate::config::ResourcesConfig;

/// Why a change to the registry was refused.
#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    /// The definition is invalid.
    #[error("{0}")]
    Invalid(String),
    /// A resource with this URI exists.
    #[error("resource {0} is already registered")]
    Conflict(String),
    /// The resource is defined in the configuration file: change it there.
    #[error("resource {0} is defined in the configuration file; change it there")]
    Configured(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The registry: configured resources, stored ones, and the current snapshot.
#[expect(missing_debug_implementations, reason = "trait objects have no Debug")]
pub struct Resources {
    config: ResourcesConfig,
    store: Arc<dyn ResourceStore>,
    current: ArcSwap<ResourceRegistry>,
    /// Serialises changes, so that two concurrent changes never publish a stale snapshot.
    changing: tokio::sync::Mutex<()>,
}

impl Resources {
    /// Loads the stored resources and builds the first snapshot.
    pub async fn load(
        config: ResourcesConfig,
        store: Arc<dyn ResourceStore>,
    ) -> Result<Self, ResourceError> {
        let this = Self {
            config,
            store,
            current: ArcSwap::from_pointee(ResourceRegistry::default()),
            changing: tokio::sync::Mutex::new(()),
        };
        this.rebuild().await?;
        Ok(this)
    }

    /// The current snapshot.
    pub fn current(&self) -> Arc<ResourceRegistry> {
        self.current.load_full()
    }

    /// Whether `uri` is defined in the configuration file (read-only through the CLI and the
    /// admin API).
    pub fn configured(&self, uri: &Resource) -> bool {
        self.config.registered.iter().any(|r| &r.uri == uri)
    }

    /// Registers a resource.
    pub async fn create(
        &self,
        definition: ResourceDefinition,
    ) -> Result<ProtectedResource, ResourceError> {
        let resource = definition
            .validate()
            .map_err(|e| ResourceError::Invalid(e.to_string()))?;
        let _one = self.changing.lock().await;
        if self.configured(&resource.uri) {
            return Err(ResourceError::Configured(resource.uri.to_string()));
        }
        match self.store.insert(resource.clone()).await {
            Err(StoreError::Conflict(_)) => {
                return Err(ResourceError::Conflict(resource.uri.to_string()));
            }
            other => other?,
        }
        self.rebuild().await?;
        Ok(resource)
    }

    /// Deletes a stored resource; whether it existed. Tokens already issued for it stay valid
    /// until they expire (revoke them by client or subject if they must not).
    pub async fn delete(&self, uri: &Resource) -> Result<bool, ResourceError> {
        let _one = self.changing.lock().await;
        if self.configured(uri) {
            return Err(ResourceError::Configured(uri.to_string()));
        }
        let existed = self.store.delete(uri).await?;
        self.rebuild().await?;
        Ok(existed)
    }

    /// Reads the store and publishes a new snapshot. The default is the configured one, else
    /// the only resource when there is exactly one.
    async fn rebuild(&self) -> Result<(), ResourceError> {
        let mut all: Vec<ProtectedResource> = self.config.registered.clone();
        for stored in self.store.list().await? {
            if !all.iter().any(|r| r.uri == stored.uri) {
                all.push(stored);
            }
        }
        let default = match (&self.config.default, all.as_slice()) {
            (Some(d), _) => Some(d.clone()),
            (None, [only]) => Some(only.uri.clone()),
            (None, []) => None,
            (None, _) => {
                tracing::warn!(
                    resources = all.len(),
                    "several resources are registered and none is the default (resources.default): \
                     a request that names no resource, from a client with none of its own, gets \
                     invalid_target"
                );
                None
            }
        };
        let registry = ResourceRegistry::new(all, default)
            .map_err(|e| ResourceError::Invalid(format!("resources.{e}")))?;
        self.current.store(Arc::new(registry));
        Ok(())
    }
}
