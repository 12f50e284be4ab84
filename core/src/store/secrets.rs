//! Server secrets that must outlive a restart (and later be shared by every node): the key of
//! the browser forms' CSRF tokens, the key that derives a refresh token's successor.

use async_trait::async_trait;

use super::StoreError;

/// Named 256-bit secrets, created once.
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// The secret named `name`; if there is none yet, `fresh` is stored and returned. Of two
    /// concurrent first calls, both get the same secret.
    async fn get_or_create(&self, name: &str, fresh: [u8; 32]) -> Result<[u8; 32], StoreError>;
}
