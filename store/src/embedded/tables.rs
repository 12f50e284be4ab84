//! Every table of the database, and what each holds. Tables of things that expire have a time
//! index, keyed by expiry first, so a purge reads only what expired, never every row; each
//! index entry names what else must go with the row (its client's quota entry, its user's
//! session entry, its refresh-token family).

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

/// Username → the user (JSON).
pub(super) const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users");
/// User id → username: finds a user by id, and keeps ids unique.
pub(super) const USER_IDS: TableDefinition<&str, &str> = TableDefinition::new("user_ids");

/// Session digest → the session (JSON).
pub(super) const SESSIONS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("sessions");
/// (expires_at, digest) → the session's user id: the time index of [`SESSIONS`].
pub(super) const SESSION_EXPIRY: TableDefinition<(u64, &[u8; 32]), &str> =
    TableDefinition::new("session_expiry");
/// Each user's sessions, as (expires_at, digest): ended together.
pub(super) const USER_SESSIONS: MultimapTableDefinition<&str, (u64, &[u8; 32])> =
    MultimapTableDefinition::new("user_sessions");

/// (user id, client id) → the consent (JSON): a user's consents are one key range, in client-id
/// order.
pub(super) const CONSENTS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("consents");
/// Each client's consents, as the ids of the users who gave them: forgotten with the client.
pub(super) const CLIENT_CONSENTS: MultimapTableDefinition<&str, &str> =
    MultimapTableDefinition::new("client_consents");

/// Authorization-code digest → the code, whether it was used, and what was issued for it
/// (JSON). Codes have this table to themselves: no other kind of item is ever read from it.
pub(super) const CODES: TableDefinition<&[u8; 32], &[u8]> =
    TableDefinition::new("authorization_codes");
/// (expires_at, digest): the time index of [`CODES`].
pub(super) const CODE_EXPIRY: TableDefinition<(u64, &[u8; 32]), ()> =
    TableDefinition::new("authorization_code_expiry");

/// Refresh-token digest → the token, and when and into which successor it was rotated (JSON).
pub(super) const REFRESH_TOKENS: TableDefinition<&[u8; 32], &[u8]> =
    TableDefinition::new("refresh_tokens");
/// (absolute expires_at, digest) → the token's family: the time index of [`REFRESH_TOKENS`].
pub(super) const REFRESH_EXPIRY: TableDefinition<(u64, &[u8; 32]), &str> =
    TableDefinition::new("refresh_token_expiry");
/// Family → its client, user, whether it is revoked, and how many of its tokens are stored
/// (JSON); deleted with its last token.
pub(super) const REFRESH_FAMILIES: TableDefinition<&str, &[u8]> =
    TableDefinition::new("refresh_families");
/// Each client's refresh-token families: revoked with the client.
pub(super) const CLIENT_FAMILIES: MultimapTableDefinition<&str, &str> =
    MultimapTableDefinition::new("client_refresh_families");
/// Each user's refresh-token families: revoked with the user.
pub(super) const USER_FAMILIES: MultimapTableDefinition<&str, &str> =
    MultimapTableDefinition::new("user_refresh_families");

/// Pushed-request digest → the pushed authorization request (JSON). Pushed requests have this
/// table to themselves: no other kind of item is ever read from it.
pub(super) const PUSHED_REQUESTS: TableDefinition<&[u8; 32], &[u8]> =
    TableDefinition::new("pushed_authorization_requests");
/// (expires_at, digest): the time index of [`PUSHED_REQUESTS`].
pub(super) const PAR_EXPIRY: TableDefinition<(u64, &[u8; 32]), ()> =
    TableDefinition::new("pushed_authorization_request_expiry");

/// Device-code digest → the device authorization (JSON, RFC 8628). Device codes have this
/// table to themselves: no other kind of item is ever read from it, nor one of them elsewhere.
pub(super) const DEVICE_CODES: TableDefinition<&[u8; 32], &[u8]> =
    TableDefinition::new("device_codes");
/// Normalised user code → the device-code digest: unique while the record lives.
pub(super) const DEVICE_USER_CODES: TableDefinition<&str, &[u8; 32]> =
    TableDefinition::new("device_user_codes");
/// (expires_at, digest): the time index of [`DEVICE_CODES`].
pub(super) const DEVICE_EXPIRY: TableDefinition<(u64, &[u8; 32]), ()> =
    TableDefinition::new("device_code_expiry");

/// (kind, digest of issuer and `jti`) → when the entry may be forgotten: the replay cache. Every
/// key starts with its kind, so kinds are separate namespaces.
pub(super) const REPLAY: TableDefinition<(&str, &[u8; 32]), u64> = TableDefinition::new("replay");
/// (expires_at, kind, digest): the time index of [`REPLAY`].
pub(super) const REPLAY_EXPIRY: TableDefinition<(u64, &str, &[u8; 32]), ()> =
    TableDefinition::new("replay_expiry");

/// Secret name → the secret's 32 bytes.
pub(super) const SECRETS: TableDefinition<&str, &[u8; 32]> = TableDefinition::new("secrets");

/// Canonical resource URI → the registered resource (JSON).
pub(super) const RESOURCES: TableDefinition<&str, &[u8]> = TableDefinition::new("resources");

/// Creates every table, and builds the time indexes of a database written before they existed.
pub(super) fn create(txn: &WriteTransaction) -> Result<(), StoreError> {
    txn.open_table(CLIENTS).map_err(unavailable)?;
    txn.open_table(KEYS).map_err(unavailable)?;
    // Tables that came with their indexes: nothing to build.
    txn.open_table(USERS).map_err(unavailable)?;
    txn.open_table(USER_IDS).map_err(unavailable)?;
    txn.open_table(SESSIONS).map_err(unavailable)?;
    txn.open_table(SESSION_EXPIRY).map_err(unavailable)?;
    txn.open_multimap_table(USER_SESSIONS)
        .map_err(unavailable)?;
    txn.open_table(CONSENTS).map_err(unavailable)?;
    txn.open_multimap_table(CLIENT_CONSENTS)
        .map_err(unavailable)?;
    txn.open_table(CODES).map_err(unavailable)?;
    txn.open_table(CODE_EXPIRY).map_err(unavailable)?;
    txn.open_table(REFRESH_TOKENS).map_err(unavailable)?;
    txn.open_table(REFRESH_EXPIRY).map_err(unavailable)?;
    txn.open_table(REFRESH_FAMILIES).map_err(unavailable)?;
    txn.open_multimap_table(CLIENT_FAMILIES)
        .map_err(unavailable)?;
    txn.open_multimap_table(USER_FAMILIES)
        .map_err(unavailable)?;
    txn.open_table(PUSHED_REQUESTS).map_err(unavailable)?;
    txn.open_table(PAR_EXPIRY).map_err(unavailable)?;
    txn.open_table(DEVICE_CODES).map_err(unavailable)?;
    txn.open_table(DEVICE_USER_CODES).map_err(unavailable)?;
    txn.open_table(DEVICE_EXPIRY).map_err(unavailable)?;
    txn.open_table(SECRETS).map_err(unavailable)?;
    txn.open_table(REPLAY).map_err(unavailable)?;
    txn.open_table(REPLAY_EXPIRY).map_err(unavailable)?;
    txn.open_table(RESOURCES).map_err(unavailable)?;
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

/// Deletes, in `txn`, the rows of `table` whose entry in its time index `expiry` (keyed by
/// (expires_at, digest)) is before `cutoff`, and those entries; how many rows. Reads the index up
/// to `cutoff` only: the cost is what expired, not what is stored.
pub(super) fn purge_by_expiry(
    txn: &WriteTransaction,
    table: TableDefinition<&[u8; 32], &[u8]>,
    expiry: TableDefinition<(u64, &[u8; 32]), ()>,
    cutoff: u64,
) -> Result<usize, StoreError> {
    let mut index = txn.open_table(expiry).map_err(unavailable)?;
    let mut expired: Vec<(u64, [u8; 32])> = Vec::new();
    for row in index.range(..(cutoff, &[0u8; 32])).map_err(unavailable)? {
        let (key, _) = row.map_err(unavailable)?;
        let (at, digest) = key.value();
        expired.push((at, *digest));
    }
    let mut rows = txn.open_table(table).map_err(unavailable)?;
    let mut purged = 0;
    for (at, digest) in &expired {
        purged += usize::from(rows.remove(digest).map_err(unavailable)?.is_some());
        index.remove((*at, digest)).map_err(unavailable)?;
    }
    Ok(purged)
}
