//! The embedded store: one redb database file, tables per aggregate. Values are JSON, so a
//! record can be read with any tool and evolves by adding optional fields.
//!
//! Every write commits with redb's default durability (fsync) and runs on tokio's blocking pool,
//! never on the async workers. Clients are also held in memory (an `ArcSwap`ed map, replaced on
//! each change), because client authentication and the client check of every introspection must
//! not cost a disk read; the cache is coherent because this process is the database's only user
//! (redb locks the file).
//!
//! # Layout
//! - this module: opening the file (owner-only), the helpers every aggregate uses.
//! - `tables`: every table, with what it holds; the time indexes that let a purge read only
//!   what expired.
//! - one module per aggregate: `clients`, `access_tokens`, `revocations`, `keys`, `users` (users
//!   and their sessions), `consents`, `codes` (authorization codes), `refresh_tokens` (tokens and
//!   their families), `par` (pushed authorization requests, RFC 9126), `devices` (device authorizations, RFC 8628), `replay` (the replay cache of
//!   one-time credentials), `secrets`, `resources` (the registered protected resources). A decision
//!   that must be atomic (redeeming a code, rotating a refresh token, taking a pushed request, a
//!   conflict check before an insert, creating a secret once) reads and writes in one write
//!   transaction: redb runs one at a time, so no other write comes between.

mod access_tokens;
mod clients;
mod codes;
mod consents;
mod devices;
mod keys;
mod par;
mod refresh_tokens;
mod replay;
mod resources;
mod revocations;
mod secrets;
mod tables;
mod users;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use gatehouse_core::client::{Client, ClientId};
use gatehouse_core::store::StoreError;
use redb::Database;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The most memory redb's page cache may use.
pub const CACHE_BYTES: usize = 16 * 1024 * 1024;

/// The file name of the database inside the data directory.
pub const FILE_NAME: &str = "gatehouse.redb";

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Another process has the database open.
    #[error("the data directory {0} is in use by another gatehouse process")]
    InUse(String),
    /// Any other failure.
    #[error("cannot open the database {path}: {reason}")]
    Other {
        /// The database file.
        path: String,
        /// What went wrong.
        reason: String,
    },
}

/// The embedded store.
#[derive(Debug, Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
    clients: Arc<ArcSwap<BTreeMap<ClientId, Arc<Client>>>>,
    /// Serialises cache updates so two client writes never lose each other's change.
    client_writes: Arc<Mutex<()>>,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn encode(value: &impl Serialize) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Decodes the JSON value a table lookup found, if it found one.
fn decode_found<T: DeserializeOwned>(
    found: Option<redb::AccessGuard<'_, &'static [u8]>>,
) -> Result<Option<T>, StoreError> {
    found.map(|v| decode(v.value())).transpose()
}

/// A count from redb as a `usize`.
fn count(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

impl EmbeddedStore {
    /// Opens (creating if needed) the database in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self, OpenError> {
        let path = data_dir.join(FILE_NAME);
        let other = |reason: String| OpenError::Other {
            path: path.display().to_string(),
            reason,
        };
        // The file holds software private keys and secret digests: owner-only from its first
        // byte (created 0600 here, before redb opens it; redb initialises an empty file), and
        // tightened if an older version left it readable by others.
        create_owner_only(&path).map_err(|e| other(e.to_string()))?;
        // A bounded page cache: the working set (clients, keys, revocations at start) is small
        // and RSS must stay predictable (redb's default bound is 1 GiB).
        let db = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(&path)
            .map_err(|e| match e {
                redb::DatabaseError::DatabaseAlreadyOpen => {
                    OpenError::InUse(data_dir.display().to_string())
                }
                e => other(e.to_string()),
            })?;
        write(&db, tables::create).map_err(|e| other(e.to_string()))?;
        let store = Self {
            db: Arc::new(db),
            clients: Arc::default(),
            client_writes: Arc::default(),
        };
        let clients = store.read_clients().map_err(|e| other(e.to_string()))?;
        store.clients.store(Arc::new(clients));
        Ok(store)
    }

    /// Runs a blocking database operation off the async workers.
    async fn blocking<T: Send + 'static>(
        &self,
        op: impl FnOnce(&Database) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || op(&db))
            .await
            .map_err(|e| StoreError::Unavailable(format!("storage task failed: {e}")))?
    }
}

/// Opens a write transaction, runs `op` on it and commits (fsync).
fn write<T>(
    db: &Database,
    op: impl FnOnce(&redb::WriteTransaction) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let txn = db.begin_write().map_err(unavailable)?;
    let out = op(&txn)?;
    txn.commit().map_err(unavailable)?;
    Ok(out)
}

/// Creates `path` empty with mode 0600 if it does not exist; makes it 0600 if it does.
fn create_owner_only(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let mode = std::fs::metadata(path)?.permissions().mode();
            if mode & 0o077 != 0 {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
            }
            Ok(())
        }
        Err(e) => Err(e),
    }
}
