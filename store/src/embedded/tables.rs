//! Every table of the database, and what each holds. Tables of things that expire have a time
//! index, keyed by expiry first, so a purge reads only what expired, never every row; each
//! index entry names what else must go with the row (its client's quota entry).

use redb::{
    MultimapTableDefinition, ReadableMultimapTable, ReadableTable, ReadableTableMetadata,
    TableDefinition, WriteTransaction,
};

use gatehouse_core::store::{StoreError, StoredAccessToken};

use super::{decode, unavailable};

/// Client id → the client (JSON).
pub(super) const CLIENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("clients");

/// Opaque token digest → the stored token (JSON).
pub(super) const ACCESS_TOKENS: TableDefinition<&[u8; 32], &[u8]> =
    TableDefinition::new("access_tokens");
/// (exp, digest) → the token's client id: the time index of [`ACCESS_TOKENS`].
pub(super) const ACCESS_TOKEN_EXPIRY: TableDefinition<(u64, &[u8; 32]), &str> =
    TableDefinition::new("access_token_expiry");
/// Each client's opaque tokens, as (exp, digest): counted for its quota, dropped with it.
pub(super) const CLIENT_TOKENS: MultimapTableDefinition<&str, (u64, &[u8; 32])> =
    MultimapTableDefinition::new("client_access_tokens");

/// Revoked `jti` → the token's exp.
pub(super) const REVOKED_JTIS: TableDefinition<&str, u64> = TableDefinition::new("revoked_jtis");
/// (exp, jti) → the client that revoked it ("" for an operator's import): the time index of
/// [`REVOKED_JTIS`].
pub(super) const REVOCATION_EXPIRY: TableDefinition<(u64, &str), &str> =
    TableDefinition::new("revocation_expiry");
/// The revocations each client made of its own tokens, as (exp, jti): counted for its quota.
pub(super) const CLIENT_REVOCATIONS: MultimapTableDefinition<&str, (u64, &str)> =
    MultimapTableDefinition::new("client_revocations");

/// Key id → the key record (JSON).
pub(super) const KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("keys");

/// Creates every table, and builds the time indexes of a database written before they existed.
pub(super) fn create(txn: &WriteTransaction) -> Result<(), StoreError> {
    txn.open_table(CLIENTS).map_err(unavailable)?;
    txn.open_table(KEYS).map_err(unavailable)?;
    txn.open_multimap_table(CLIENT_TOKENS)
        .map_err(unavailable)?;
    let tokens = txn.open_table(ACCESS_TOKENS).map_err(unavailable)?;
    let mut token_expiry = txn.open_table(ACCESS_TOKEN_EXPIRY).map_err(unavailable)?;
    if token_expiry.len().map_err(unavailable)? == 0 {
        for row in tokens.iter().map_err(unavailable)? {
            let (digest, value) = row.map_err(unavailable)?;
            let stored: StoredAccessToken = decode(value.value())?;
            token_expiry
                .insert(
                    (stored.claims.exp.0, digest.value()),
                    stored.claims.client_id.as_str(),
                )
                .map_err(unavailable)?;
        }
    }
    let revoked = txn.open_table(REVOKED_JTIS).map_err(unavailable)?;
    let owners = txn
        .open_multimap_table(CLIENT_REVOCATIONS)
        .map_err(unavailable)?;
    let mut revocation_expiry = txn.open_table(REVOCATION_EXPIRY).map_err(unavailable)?;
    if revocation_expiry.len().map_err(unavailable)? == 0 {
        for row in revoked.iter().map_err(unavailable)? {
            let (jti, exp) = row.map_err(unavailable)?;
            revocation_expiry
                .insert((exp.value(), jti.value()), "")
                .map_err(unavailable)?;
        }
        for row in owners.iter().map_err(unavailable)? {
            let (client, values) = row.map_err(unavailable)?;
            for value in values {
                let value = value.map_err(unavailable)?;
                let (exp, jti) = value.value();
                revocation_expiry
                    .insert((exp, jti), client.value())
                    .map_err(unavailable)?;
            }
        }
    }
    Ok(())
}
