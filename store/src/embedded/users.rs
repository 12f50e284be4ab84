//! Users (by username, and an index by id) and their browser sessions (by digest, with an index
//! by user and the time index the purge reads).

use async_trait::async_trait;
use gatehouse_core::store::{Session, SessionStore, StoreError, UserStore};
use gatehouse_core::user::{User, UserChange, UserId, Username};
use gatehouse_token::{SecretDigest, UnixTime};
use redb::ReadableTable;

use super::tables::{SESSION_EXPIRY, SESSIONS, USER_IDS, USER_SESSIONS, USERS};
use super::{EmbeddedStore, decode, decode_found, encode, unavailable, write};

#[async_trait]
impl UserStore for EmbeddedStore {
    async fn insert(&self, user: User) -> Result<(), StoreError> {
        let bytes = encode(&user)?;
        self.blocking(move |db| {
            write(db, |txn| {
                let mut users = txn.open_table(USERS).map_err(unavailable)?;
                let mut ids = txn.open_table(USER_IDS).map_err(unavailable)?;
                let name = user.username.as_str();
                if users.get(name).map_err(unavailable)?.is_some()
                    || ids.get(user.id.as_str()).map_err(unavailable)?.is_some()
                {
                    return Err(StoreError::Conflict(format!("user {name}")));
                }
                users.insert(name, bytes.as_slice()).map_err(unavailable)?;
                ids.insert(user.id.as_str(), name).map_err(unavailable)?;
                Ok(())
            })
        })
        .await
    }

    /// A point read: run inline.
    async fn get(&self, username: &Username) -> Result<Option<User>, StoreError> {
        let txn = self.db.begin_read().map_err(unavailable)?;
        let users = txn.open_table(USERS).map_err(unavailable)?;
        decode_found(users.get(username.as_str()).map_err(unavailable)?)
    }

    /// Two point reads (the id index, then the user): run inline.
    async fn get_by_id(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        let txn = self.db.begin_read().map_err(unavailable)?;
        let ids = txn.open_table(USER_IDS).map_err(unavailable)?;
        let Some(name) = ids.get(id.as_str()).map_err(unavailable)? else {
            return Ok(None);
        };
        let users = txn.open_table(USERS).map_err(unavailable)?;
        let user: Option<User> = decode_found(users.get(name.value()).map_err(unavailable)?)?;
        Ok(user.filter(|u| u.id == *id))
    }

    async fn list(&self) -> Result<Vec<User>, StoreError> {
        self.blocking(|db| {
            let txn = db.begin_read().map_err(unavailable)?;
            let users = txn.open_table(USERS).map_err(unavailable)?;
            let mut out = Vec::new();
            for row in users.iter().map_err(unavailable)? {
                let (_, value) = row.map_err(unavailable)?;
                out.push(decode(value.value())?);
            }
            Ok(out)
        })
        .await
    }

    /// The username and the id must both match the stored user: the same username under
    /// another id is another person, a [`StoreError::Conflict`].
    async fn update(&self, user: User) -> Result<bool, StoreError> {
        let bytes = encode(&user)?;
        self.blocking(move |db| {
            write(db, |txn| {
                let mut users = txn.open_table(USERS).map_err(unavailable)?;
                let name = user.username.as_str();
                let kept: Option<User> = decode_found(users.get(name).map_err(unavailable)?)?;
                match kept {
                    None => Ok(false),
                    Some(kept) if kept.id != user.id => {
                        Err(StoreError::Conflict(format!("user {name} has another id")))
                    }
                    Some(_) => {
                        users.insert(name, bytes.as_slice()).map_err(unavailable)?;
                        Ok(true)
                    }
                }
            })
        })
        .await
    }

    /// Read, changed and written in one write transaction.
    async fn change(
        &self,
        username: &Username,
        change: UserChange,
    ) -> Result<Option<User>, StoreError> {
        let username = username.clone();
        self.blocking(move |db| {
            write(db, |txn| {
                let mut users = txn.open_table(USERS).map_err(unavailable)?;
                let kept: Option<User> =
                    decode_found(users.get(username.as_str()).map_err(unavailable)?)?;
                let Some(mut user) = kept else {
                    return Ok(None);
                };
                change.apply(&mut user);
                let bytes = encode(&user)?;
                users
                    .insert(username.as_str(), bytes.as_slice())
                    .map_err(unavailable)?;
                Ok(Some(user))
            })
        })
        .await
    }

    async fn delete(&self, username: &Username) -> Result<Option<User>, StoreError> {
        let username = username.clone();
        self.blocking(move |db| {
            write(db, |txn| {
                let mut users = txn.open_table(USERS).map_err(unavailable)?;
                let removed: Option<User> =
                    decode_found(users.remove(username.as_str()).map_err(unavailable)?)?;
                if let Some(user) = &removed {
                    txn.open_table(USER_IDS)
                        .map_err(unavailable)?
                        .remove(user.id.as_str())
                        .map_err(unavailable)?;
                }
                Ok(removed)
            })
        })
        .await
    }
}

#[async_trait]
impl SessionStore for EmbeddedStore {
    /// A session stored again under the same digest replaces the first, indexes included.
    async fn insert(&self, digest: SecretDigest, session: Session) -> Result<(), StoreError> {
        let bytes = encode(&session)?;
        self.blocking(move |db| {
            write(db, |txn| {
                let mut sessions = txn.open_table(SESSIONS).map_err(unavailable)?;
                let mut expiry = txn.open_table(SESSION_EXPIRY).map_err(unavailable)?;
                let mut by_user = txn
                    .open_multimap_table(USER_SESSIONS)
                    .map_err(unavailable)?;
                let d = &digest.0;
                let old: Option<Session> = decode_found(sessions.get(d).map_err(unavailable)?)?;
                if let Some(old) = old {
                    let at = old.expires_at.0;
                    expiry.remove((at, d)).map_err(unavailable)?;
                    by_user
                        .remove(old.user.as_str(), (at, d))
                        .map_err(unavailable)?;
                }
                let (at, user) = (session.expires_at.0, session.user.as_str());
                sessions.insert(d, bytes.as_slice()).map_err(unavailable)?;
                expiry.insert((at, d), user).map_err(unavailable)?;
                by_user.insert(user, (at, d)).map_err(unavailable)?;
                Ok(())
            })
        })
        .await
    }

    /// A point read: run inline.
    async fn get(&self, digest: &SecretDigest) -> Result<Option<Session>, StoreError> {
        let txn = self.db.begin_read().map_err(unavailable)?;
        let sessions = txn.open_table(SESSIONS).map_err(unavailable)?;
        decode_found(sessions.get(&digest.0).map_err(unavailable)?)
    }

    async fn delete(&self, digest: &SecretDigest) -> Result<bool, StoreError> {
        let digest = *digest;
        self.blocking(move |db| {
            write(db, |txn| {
                let mut sessions = txn.open_table(SESSIONS).map_err(unavailable)?;
                let d = &digest.0;
                let removed: Option<Session> =
                    decode_found(sessions.remove(d).map_err(unavailable)?)?;
                let Some(session) = removed else {
                    return Ok(false);
                };
                let at = session.expires_at.0;
                txn.open_table(SESSION_EXPIRY)
                    .map_err(unavailable)?
                    .remove((at, d))
                    .map_err(unavailable)?;
                txn.open_multimap_table(USER_SESSIONS)
                    .map_err(unavailable)?
                    .remove(session.user.as_str(), (at, d))
                    .map_err(unavailable)?;
                Ok(true)
            })
        })
        .await
    }

    async fn delete_user_sessions(&self, user: &UserId) -> Result<usize, StoreError> {
        let user = user.clone();
        self.blocking(move |db| {
            write(db, |txn| {
                let mut by_user = txn
                    .open_multimap_table(USER_SESSIONS)
                    .map_err(unavailable)?;
                let mut sessions = txn.open_table(SESSIONS).map_err(unavailable)?;
                let mut expiry = txn.open_table(SESSION_EXPIRY).map_err(unavailable)?;
                let mut deleted = 0;
                for entry in by_user.remove_all(user.as_str()).map_err(unavailable)? {
                    let entry = entry.map_err(unavailable)?;
                    let (at, digest) = entry.value();
                    deleted += usize::from(sessions.remove(digest).map_err(unavailable)?.is_some());
                    expiry.remove((at, digest)).map_err(unavailable)?;
                }
                Ok(deleted)
            })
        })
        .await
    }

    /// Reads the time index up to `cutoff` only: the cost is what expired, not what is stored.
    async fn purge_expired(&self, cutoff: UnixTime) -> Result<usize, StoreError> {
        self.blocking(move |db| {
            write(db, |txn| {
                let mut expiry = txn.open_table(SESSION_EXPIRY).map_err(unavailable)?;
                let mut expired: Vec<(u64, [u8; 32], String)> = Vec::new();
                for row in expiry
                    .range(..(cutoff.0, &[0u8; 32]))
                    .map_err(unavailable)?
                {
                    let (key, user) = row.map_err(unavailable)?;
                    let (at, digest) = key.value();
                    expired.push((at, *digest, user.value().to_owned()));
                }
                let mut sessions = txn.open_table(SESSIONS).map_err(unavailable)?;
                let mut by_user = txn
                    .open_multimap_table(USER_SESSIONS)
                    .map_err(unavailable)?;
                let mut purged = 0;
                for (at, digest, user) in &expired {
                    purged += usize::from(sessions.remove(digest).map_err(unavailable)?.is_some());
                    by_user
                        .remove(user.as_str(), (*at, digest))
                        .map_err(unavailable)?;
                    expiry.remove((*at, digest)).map_err(unavailable)?;
                }
                Ok(purged)
            })
        })
        .await
    }
}
