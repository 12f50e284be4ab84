//! The embedded store: one redb database file, one table per aggregate. Values are JSON, so a
//! record can be read with any tool and evolves by adding optional fields.
//!
//! Every write commits with redb's default durability (fsync) and runs on tokio's blocking pool,
//! never on the async workers. Clients are also held in memory (an `ArcSwap`ed map, replaced on
//! each change), because client authentication at `/introspect` must not cost a disk read; the
//! cache is coherent because this process is the database's only user (redb locks the file).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use async_trait::async_trait;
use gatehouse_core::client::{Client, ClientId};
use gatehouse_core::store::{
    AccessTokenStore, ClientStore, KeyRecord, KeyStore, RevocationStore, StoreError,
    StoredAccessToken,
};
use gatehouse_token::{AccessTokenClaims, TokenDigest, UnixTime};
use redb::{
    Database, MultimapTableDefinition, ReadableMultimapTable, ReadableTable, TableDefinition,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

const CLIENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("clients");
const ACCESS_TOKENS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("access_tokens");
const REVOKED_JTIS: TableDefinition<&str, u64> = TableDefinition::new("revoked_jtis");
const KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("keys");
/// Each client's opaque tokens, as (exp, digest): counted for its quota, dropped with it.
const CLIENT_TOKENS: MultimapTableDefinition<&str, (u64, &[u8; 32])> =
    MultimapTableDefinition::new("client_access_tokens");
/// The revocations each client made of its own tokens, as (exp, jti): counted for its quota.
const CLIENT_REVOCATIONS: MultimapTableDefinition<&str, (u64, &str)> =
    MultimapTableDefinition::new("client_revocations");

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

fn limit_reached(client_id: &str, what: &str, limit: usize) -> StoreError {
    StoreError::LimitReached(format!(
        "client {client_id} already holds {limit} {what} (the limit)"
    ))
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
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
        let txn = db.begin_write().map_err(|e| other(e.to_string()))?;
        {
            let opened = || -> Result<(), redb::TableError> {
                txn.open_table(CLIENTS)?;
                txn.open_table(ACCESS_TOKENS)?;
                txn.open_table(REVOKED_JTIS)?;
                txn.open_table(KEYS)?;
                txn.open_multimap_table(CLIENT_TOKENS)?;
                txn.open_multimap_table(CLIENT_REVOCATIONS)?;
                Ok(())
            };
            opened().map_err(|e| other(e.to_string()))?;
        }
        txn.commit().map_err(|e| other(e.to_string()))?;
        let store = Self {
            db: Arc::new(db),
            clients: Arc::default(),
            client_writes: Arc::default(),
        };
        let clients = store.read_clients().map_err(|e| other(e.to_string()))?;
        store.clients.store(Arc::new(clients));
        Ok(store)
    }

    fn read_clients(&self) -> Result<BTreeMap<ClientId, Arc<Client>>, StoreError> {
        let txn = self.db.begin_read().map_err(unavailable)?;
        let table = txn.open_table(CLIENTS).map_err(unavailable)?;
        let mut out = BTreeMap::new();
        for row in table.iter().map_err(unavailable)? {
            let (_, value) = row.map_err(unavailable)?;
            let client: Client = decode(value.value())?;
            out.insert(client.id.clone(), Arc::new(client));
        }
        Ok(out)
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

    /// Applies a change to the clients table and then to the cache, under the write lock.
    async fn change_clients<T: Send + 'static>(
        &self,
        op: impl FnOnce(&Database) -> Result<T, StoreError> + Send + 'static,
        update: impl FnOnce(&mut BTreeMap<ClientId, Arc<Client>>) + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = self.clone();
        let guard = self.client_writes.clone();
        tokio::task::spawn_blocking(move || {
            let _serial = guard
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let out = op(&store.db)?;
            let mut next = BTreeMap::clone(&store.clients.load());
            update(&mut next);
            store.clients.store(Arc::new(next));
            Ok(out)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("storage task failed: {e}")))?
    }
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

#[async_trait]
impl ClientStore for EmbeddedStore {
    async fn insert(&self, client: Client) -> Result<(), StoreError> {
        let bytes = encode(&client)?;
        let id = client.id.clone();
        let cached = Arc::new(client);
        self.change_clients(
            move |db| {
                write(db, |txn| {
                    let mut table = txn.open_table(CLIENTS).map_err(unavailable)?;
                    if table.get(id.as_str()).map_err(unavailable)?.is_some() {
                        return Err(StoreError::Conflict(format!("client {id}")));
                    }
                    table
                        .insert(id.as_str(), bytes.as_slice())
                        .map_err(unavailable)?;
                    Ok(())
                })
            },
            move |clients| {
                clients.insert(cached.id.clone(), cached);
            },
        )
        .await
    }

    async fn get(&self, id: &ClientId) -> Result<Option<Arc<Client>>, StoreError> {
        Ok(self.clients.load().get(id).cloned())
    }

    async fn list(&self) -> Result<Vec<Arc<Client>>, StoreError> {
        Ok(self.clients.load().values().cloned().collect())
    }

    async fn contains(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.clients.load().contains_key(id))
    }

    async fn delete(&self, id: &ClientId) -> Result<bool, StoreError> {
        let (key, gone) = (id.clone(), id.clone());
        self.change_clients(
            move |db| {
                write(db, |txn| {
                    let mut table = txn.open_table(CLIENTS).map_err(unavailable)?;
                    let existed = table.remove(key.as_str()).map_err(unavailable)?.is_some();
                    Ok(existed)
                })
            },
            move |clients| {
                clients.remove(&gone);
            },
        )
        .await
    }
}

#[async_trait]
impl AccessTokenStore for EmbeddedStore {
    async fn insert(
        &self,
        digest: TokenDigest,
        claims: AccessTokenClaims,
        limit: usize,
    ) -> Result<(), StoreError> {
        let (client_id, exp) = (claims.client_id.clone(), claims.exp.0);
        let bytes = encode(&StoredAccessToken {
            claims,
            revoked: false,
        })?;
        self.blocking(move |db| {
            write(db, |txn| {
                let mut owned = txn
                    .open_multimap_table(CLIENT_TOKENS)
                    .map_err(unavailable)?;
                let held = owned.get(client_id.as_str()).map_err(unavailable)?.len();
                if usize::try_from(held).unwrap_or(usize::MAX) >= limit {
                    return Err(limit_reached(&client_id, "opaque tokens", limit));
                }
                owned
                    .insert(client_id.as_str(), (exp, &digest.0))
                    .map_err(unavailable)?;
                let mut table = txn.open_table(ACCESS_TOKENS).map_err(unavailable)?;
                table
                    .insert(&digest.0, bytes.as_slice())
                    .map_err(unavailable)?;
                Ok(())
            })
        })
        .await
    }

    /// A point read: no fsync, no blocking beyond a page read; run inline.
    async fn get(&self, digest: &TokenDigest) -> Result<Option<StoredAccessToken>, StoreError> {
        let txn = self.db.begin_read().map_err(unavailable)?;
        let table = txn.open_table(ACCESS_TOKENS).map_err(unavailable)?;
        let found = table.get(&digest.0).map_err(unavailable)?;
        found.map(|v| decode(v.value())).transpose()
    }

    async fn revoke(&self, digest: &TokenDigest) -> Result<bool, StoreError> {
        let digest = *digest;
        self.blocking(move |db| {
            write(db, |txn| {
                let mut table = txn.open_table(ACCESS_TOKENS).map_err(unavailable)?;
                let current = table.get(&digest.0).map_err(unavailable)?;
                let Some(mut record) = current
                    .map(|v| decode::<StoredAccessToken>(v.value()))
                    .transpose()?
                else {
                    return Ok(false);
                };
                record.revoked = true;
                let bytes = encode(&record)?;
                table
                    .insert(&digest.0, bytes.as_slice())
                    .map_err(unavailable)?;
                Ok(true)
            })
        })
        .await
    }

    async fn delete_client_tokens(&self, client_id: &str) -> Result<usize, StoreError> {
        let client_id = client_id.to_owned();
        self.blocking(move |db| {
            write(db, |txn| {
                let mut owned = txn
                    .open_multimap_table(CLIENT_TOKENS)
                    .map_err(unavailable)?;
                let mut table = txn.open_table(ACCESS_TOKENS).map_err(unavailable)?;
                let mut deleted = 0;
                for entry in owned.remove_all(client_id.as_str()).map_err(unavailable)? {
                    let entry = entry.map_err(unavailable)?;
                    let (_, digest) = entry.value();
                    deleted += usize::from(table.remove(digest).map_err(unavailable)?.is_some());
                }
                Ok(deleted)
            })
        })
        .await
    }

    async fn count_client_tokens(&self, client_id: &str) -> Result<usize, StoreError> {
        let txn = self.db.begin_read().map_err(unavailable)?;
        let owned = txn
            .open_multimap_table(CLIENT_TOKENS)
            .map_err(unavailable)?;
        let held = owned.get(client_id).map_err(unavailable)?.len();
        Ok(usize::try_from(held).unwrap_or(usize::MAX))
    }

    async fn purge_expired(&self, cutoff: UnixTime) -> Result<usize, StoreError> {
        self.blocking(move |db| {
            write(db, |txn| {
                let mut table = txn.open_table(ACCESS_TOKENS).map_err(unavailable)?;
                let mut purged = 0;
                table
                    .retain(|_, value| {
                        let keep = decode::<StoredAccessToken>(value)
                            .map(|t| t.claims.exp >= cutoff)
                            .unwrap_or(true);
                        purged += usize::from(!keep);
                        keep
                    })
                    .map_err(unavailable)?;
                let mut owned = txn
                    .open_multimap_table(CLIENT_TOKENS)
                    .map_err(unavailable)?;
                purge_index(&mut owned, cutoff, |(exp, _)| exp)?;
                Ok(purged)
            })
        })
        .await
    }
}

/// Removes the entries of a per-client index whose `exp` is before `cutoff`. Values are ordered
/// by `exp` first, so each client's expired entries are a prefix of its values.
fn purge_index<V: redb::Key + 'static>(
    index: &mut redb::MultimapTable<&str, V>,
    cutoff: UnixTime,
    exp_of: impl for<'a> Fn(V::SelfType<'a>) -> u64,
) -> Result<(), StoreError>
where
    for<'a> V::SelfType<'a>: Clone,
{
    let mut expired: Vec<(String, Vec<u8>)> = Vec::new();
    for row in index.iter().map_err(unavailable)? {
        let (client, values) = row.map_err(unavailable)?;
        for value in values {
            let value = value.map_err(unavailable)?;
            if exp_of(value.value()) >= cutoff.0 {
                break;
            }
            expired.push((
                client.value().to_owned(),
                V::as_bytes(&value.value()).as_ref().to_vec(),
            ));
        }
    }
    for (client, value) in &expired {
        index
            .remove(client.as_str(), V::from_bytes(value))
            .map_err(unavailable)?;
    }
    Ok(())
}

#[async_trait]
impl RevocationStore for EmbeddedStore {
    async fn revoke_many(&self, revoked: Vec<(String, UnixTime)>) -> Result<(), StoreError> {
        self.blocking(move |db| {
            write(db, |txn| {
                let mut table = txn.open_table(REVOKED_JTIS).map_err(unavailable)?;
                for (jti, exp) in &revoked {
                    table.insert(jti.as_str(), exp.0).map_err(unavailable)?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn revoke_owned(
        &self,
        client_id: &str,
        jti: &str,
        exp: UnixTime,
        limit: usize,
    ) -> Result<(), StoreError> {
        let (client_id, jti) = (client_id.to_owned(), jti.to_owned());
        self.blocking(move |db| {
            write(db, |txn| {
                let mut owned = txn
                    .open_multimap_table(CLIENT_REVOCATIONS)
                    .map_err(unavailable)?;
                let mut table = txn.open_table(REVOKED_JTIS).map_err(unavailable)?;
                if table.get(jti.as_str()).map_err(unavailable)?.is_some() {
                    return Ok(());
                }
                let held = owned.get(client_id.as_str()).map_err(unavailable)?.len();
                if usize::try_from(held).unwrap_or(usize::MAX) >= limit {
                    return Err(limit_reached(&client_id, "outstanding revocations", limit));
                }
                owned
                    .insert(client_id.as_str(), (exp.0, jti.as_str()))
                    .map_err(unavailable)?;
                table.insert(jti.as_str(), exp.0).map_err(unavailable)?;
                Ok(())
            })
        })
        .await
    }

    async fn live_page(
        &self,
        cutoff: UnixTime,
        after: Option<String>,
        limit: usize,
    ) -> Result<Vec<(String, UnixTime)>, StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(unavailable)?;
            let table = txn.open_table(REVOKED_JTIS).map_err(unavailable)?;
            let rows = match &after {
                Some(after) => table.range::<&str>((
                    std::ops::Bound::Excluded(after.as_str()),
                    std::ops::Bound::Unbounded,
                )),
                None => table.range::<&str>(..),
            }
            .map_err(unavailable)?;
            let mut out = Vec::with_capacity(limit.min(65_536));
            for row in rows {
                if out.len() == limit {
                    break;
                }
                let (jti, exp) = row.map_err(unavailable)?;
                if exp.value() >= cutoff.0 {
                    out.push((jti.value().to_owned(), UnixTime(exp.value())));
                }
            }
            Ok(out)
        })
        .await
    }

    async fn purge_expired(&self, cutoff: UnixTime) -> Result<usize, StoreError> {
        self.blocking(move |db| {
            write(db, |txn| {
                let mut table = txn.open_table(REVOKED_JTIS).map_err(unavailable)?;
                let mut purged = 0;
                table
                    .retain(|_, exp| {
                        let keep = exp >= cutoff.0;
                        purged += usize::from(!keep);
                        keep
                    })
                    .map_err(unavailable)?;
                let mut owned = txn
                    .open_multimap_table(CLIENT_REVOCATIONS)
                    .map_err(unavailable)?;
                purge_index(&mut owned, cutoff, |(exp, _)| exp)?;
                Ok(purged)
            })
        })
        .await
    }
}

#[async_trait]
impl KeyStore for EmbeddedStore {
    async fn put(&self, key: KeyRecord) -> Result<(), StoreError> {
        let bytes = encode(&key)?;
        self.blocking(move |db| {
            write(db, |txn| {
                let mut table = txn.open_table(KEYS).map_err(unavailable)?;
                table
                    .insert(key.kid.as_str(), bytes.as_slice())
                    .map_err(unavailable)?;
                Ok(())
            })
        })
        .await
    }

    async fn list(&self) -> Result<Vec<KeyRecord>, StoreError> {
        self.blocking(|db| {
            let txn = db.begin_read().map_err(unavailable)?;
            let table = txn.open_table(KEYS).map_err(unavailable)?;
            let mut out: Vec<KeyRecord> = Vec::new();
            for row in table.iter().map_err(unavailable)? {
                let (_, value) = row.map_err(unavailable)?;
                out.push(decode(value.value())?);
            }
            out.sort_by_key(|k| k.created_at);
            Ok(out)
        })
        .await
    }

    async fn delete(&self, kid: &str) -> Result<bool, StoreError> {
        let kid = kid.to_owned();
        self.blocking(move |db| {
            write(db, |txn| {
                let mut table = txn.open_table(KEYS).map_err(unavailable)?;
                let existed = table.remove(kid.as_str()).map_err(unavailable)?.is_some();
                Ok(existed)
            })
        })
        .await
    }
}
