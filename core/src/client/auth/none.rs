//! `none` (RFC 7591 §2): a public client names itself by `client_id` and presents nothing
//! else; what it may then do is limited by its kind (no client credentials grant, PKCE on every
//! code flow). A confidential client can never authenticate this way.

use std::sync::Arc;

use crate::client::{Client, ClientId, ClientKind};
use crate::error::TokenError;
use crate::store::ClientStore;

/// The public client `id`.
pub(super) async fn public(id: &str, clients: &dyn ClientStore) -> Result<Arc<Client>, TokenError> {
    let Some(id) = ClientId::new(id) else {
        return Err(TokenError::InvalidClient);
    };
    match clients.get(&id).await? {
        Some(client) if client.kind == ClientKind::Public => Ok(client),
        _ => Err(TokenError::InvalidClient),
    }
}
