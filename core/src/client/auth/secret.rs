//! `client_secret_basic` and `client_secret_post` (RFC 6749 §2.3.1): a confidential client
//! proves itself with its secret, compared by digest in constant time.

use std::borrow::Cow;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::client::{Client, ClientId};
use crate::error::TokenError;
use crate::form;
use crate::store::ClientStore;

/// Splits `Basic base64(id:secret)`; the scheme name is case-insensitive (RFC 7235 §2.1).
pub(super) fn parse_basic(header: &str) -> Option<(String, String)> {
    let (scheme, rest) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(rest.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// The forms a Basic credential may mean: as sent, as many clients send it, and form-decoded,
/// as RFC 6749 §2.3.1 requires, when that differs. Generated ids and secrets read the same
/// either way, and then nothing is copied.
pub(super) fn candidates(raw: &str) -> impl Iterator<Item = Cow<'_, str>> {
    let decoded = match form::decode_str(raw) {
        Ok(Cow::Owned(decoded)) if decoded != raw => Some(Cow::Owned(decoded)),
        _ => None,
    };
    std::iter::once(Cow::Borrowed(raw)).chain(decoded)
}

/// `client_secret_basic`: the id and secret from the header, each as sent or form-decoded.
pub(super) async fn basic(
    id: &str,
    secret: &str,
    clients: &dyn ClientStore,
) -> Result<Arc<Client>, TokenError> {
    for id in candidates(id) {
        if let Some(client) = confidential(&id, candidates(secret), clients).await? {
            return Ok(client);
        }
    }
    Err(TokenError::InvalidClient)
}

/// `client_secret_post`: the id and secret from the body (already form-decoded).
pub(super) async fn post(
    id: &str,
    secret: &str,
    clients: &dyn ClientStore,
) -> Result<Arc<Client>, TokenError> {
    confidential(id, [Cow::Borrowed(secret)], clients)
        .await?
        .ok_or(TokenError::InvalidClient)
}

/// The client `id` if it is confidential and one of `secrets` is its secret.
async fn confidential<'s>(
    id: &str,
    secrets: impl IntoIterator<Item = Cow<'s, str>>,
    clients: &dyn ClientStore,
) -> Result<Option<Arc<Client>>, TokenError> {
    let Some(id) = ClientId::new(id) else {
        return Ok(None);
    };
    Ok(clients
        .get(&id)
        .await?
        .filter(|client| secrets.into_iter().any(|s| client.secret_matches(&s))))
}
