//! Refresh tokens and their families: tokens by digest (each remembering its rotation), with the
//! time index the purge reads; families by name (client, user, revoked, how many tokens), with
//! an index by client and one by user so that revoking either reads only its families.

use async_trait::async_trait;
use gatehouse_core::client::ClientId;
use gatehouse_core::store::{
    RefreshToken, RefreshTokenStore, Rotation, RotationStep, StoreError, rotation_step,
};
use gatehouse_core::user::UserId;
use gatehouse_token::{SecretDigest, UnixTime};
use redb::{MultimapTableDefinition, ReadableMultimapTable, ReadableTable, Table};
use serde::{Deserialize, Serialize};

use super::tables::{
    CLIENT_FAMILIES, REFRESH_EXPIRY, REFRESH_FAMILIES, REFRESH_TOKENS, USER_FAMILIES,
};
use super::{EmbeddedStore, decode_found, encode, unavailable, write};

/// A token as stored.
#[derive(Serialize, Deserialize)]
struct StoredRefresh {
    token: RefreshToken,
    /// When it was rotated, and into which successor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rotated: Option<Rotated>,
}

/// A rotation: when, and the successor's digest.
#[derive(Serialize, Deserialize)]
struct Rotated {
    at: UnixTime,
    successor: SecretDigest,
}

/// A family as stored.
#[derive(Serialize, Deserialize)]
struct Family {
    /// The client of its first token.
    client_id: ClientId,
    /// The user of its first token.
    user: UserId,
    /// Whether it was revoked.
    revoked: bool,
    /// How many of its tokens are stored: the family goes with the last.
    tokens: u64,
}

type Families<'txn> = Table<'txn, &'static str, &'static [u8]>;
type Tokens<'txn> = Table<'txn, &'static [u8; 32], &'static [u8]>;

/// The family named `name`; a token whose family is missing is a corrupt record.
fn family(families: &Families<'_>, name: &str) -> Result<Family, StoreError> {
    decode_found(families.get(name).map_err(unavailable)?)?
        .ok_or_else(|| StoreError::Corrupt(format!("refresh token of a missing family {name}")))
}

fn put_family(families: &mut Families<'_>, name: &str, family: &Family) -> Result<(), StoreError> {
    let bytes = encode(family)?;
    families
        .insert(name, bytes.as_slice())
        .map_err(unavailable)?;
    Ok(())
}

fn put_token(
    tokens: &mut Tokens<'_>,
    digest: &SecretDigest,
    stored: &StoredRefresh,
) -> Result<(), StoreError> {
    let bytes = encode(stored)?;
    tokens
        .insert(&digest.0, bytes.as_slice())
        .map_err(unavailable)?;
    Ok(())
}

/// Revokes the families listed under `key` in `index` (by client or by user); how many were
/// newly revoked.
fn revoke_indexed(
    txn: &redb::WriteTransaction,
    index: MultimapTableDefinition<'static, &'static str, &'static str>,
    key: &str,
    only: impl Fn(&Family) -> bool,
) -> Result<usize, StoreError> {
    let names: Vec<String> = {
        let index = txn.open_multimap_table(index).map_err(unavailable)?;
        let mut names = Vec::new();
        for name in index.get(key).map_err(unavailable)? {
            names.push(name.map_err(unavailable)?.value().to_owned());
        }
        names
    };
    let mut families = txn.open_table(REFRESH_FAMILIES).map_err(unavailable)?;
    let mut revoked = 0;
    for name in &names {
        let mut found = family(&families, name)?;
        if !found.revoked && only(&found) {
            found.revoked = true;
            put_family(&mut families, name, &found)?;
            revoked += 1;
        }
    }
    Ok(revoked)
}

#[async_trait]
impl RefreshTokenStore for EmbeddedStore {
    /// A digest stored already is a [`StoreError::Conflict`]. The family is created with its
    /// first token (from whose client and user it is indexed).
    async fn insert(&self, digest: SecretDigest, token: RefreshToken) -> Result<(), StoreError> {
        self.blocking(move |db| {
            write(db, |txn| {
                let mut tokens = txn.open_table(REFRESH_TOKENS).map_err(unavailable)?;
                if tokens.get(&digest.0).map_err(unavailable)?.is_some() {
                    return Err(StoreError::Conflict("refresh token".into()));
                }
                let mut families = txn.open_table(REFRESH_FAMILIES).map_err(unavailable)?;
                let name = token.family.as_str();
                let existing: Option<Family> =
                    decode_found(families.get(name).map_err(unavailable)?)?;
                let mut record = match existing {
                    Some(record) => record,
                    None => {
                        let (client, user) = (token.client_id.as_str(), token.user.as_str());
                        txn.open_multimap_table(CLIENT_FAMILIES)
                            .map_err(unavailable)?
                            .insert(client, name)
                            .map_err(unavailable)?;
                        txn.open_multimap_table(USER_FAMILIES)
                            .map_err(unavailable)?
                            .insert(user, name)
                            .map_err(unavailable)?;
                        Family {
                            client_id: token.client_id.clone(),
                            user: token.user.clone(),
                            revoked: false,
                            tokens: 0,
                        }
                    }
                };
                record.tokens += 1;
                put_family(&mut families, name, &record)?;
                txn.open_table(REFRESH_EXPIRY)
                    .map_err(unavailable)?
                    .insert((token.expires_at.0, &digest.0), name)
                    .map_err(unavailable)?;
                let stored = StoredRefresh {
                    token,
                    rotated: None,
                };
                put_token(&mut tokens, &digest, &stored)
            })
        })
        .await
    }

    /// Two point reads (the token, its family): run inline.
    async fn get(&self, digest: &SecretDigest) -> Result<Option<(RefreshToken, bool)>, StoreError> {
        let txn = self.db.begin_read().map_err(unavailable)?;
        let tokens = txn.open_table(REFRESH_TOKENS).map_err(unavailable)?;
        let found: Option<StoredRefresh> =
            decode_found(tokens.get(&digest.0).map_err(unavailable)?)?;
        let Some(stored) = found else {
            return Ok(None);
        };
        let families = txn.open_table(REFRESH_FAMILIES).map_err(unavailable)?;
        let name = stored.token.family.as_str();
        let revoked: Option<Family> = decode_found(families.get(name).map_err(unavailable)?)?;
        let revoked = revoked
            .ok_or_else(|| {
                StoreError::Corrupt(format!("refresh token of a missing family {name}"))
            })?
            .revoked;
        Ok(Some((stored.token, revoked)))
    }

    /// The whole decision in one write transaction: redb runs one at a time, so of two
    /// rotations of one token the second sees the first's. The successor joins the old token's
    /// family, whatever `next.family` says.
    async fn rotate(
        &self,
        old: &SecretDigest,
        successor: SecretDigest,
        mut next: RefreshToken,
        now: UnixTime,
        grace: u64,
    ) -> Result<Rotation, StoreError> {
        let old = *old;
        self.blocking(move |db| {
            write(db, |txn| {
                let mut tokens = txn.open_table(REFRESH_TOKENS).map_err(unavailable)?;
                let found: Option<StoredRefresh> =
                    decode_found(tokens.get(&old.0).map_err(unavailable)?)?;
                let Some(mut stored) = found else {
                    return Ok(Rotation::Unknown);
                };
                let mut families = txn.open_table(REFRESH_FAMILIES).map_err(unavailable)?;
                let name = stored.token.family.clone();
                let mut record = family(&families, &name)?;
                let token = stored.token.clone();
                let rotated = stored.rotated.as_ref().map(|r| (r.at, r.successor));
                match rotation_step(&token, record.revoked, rotated, &successor, now, grace) {
                    RotationStep::Revoked => Ok(Rotation::Revoked),
                    RotationStep::Expired => Ok(Rotation::Expired),
                    RotationStep::Rotate => {
                        if tokens.get(&successor.0).map_err(unavailable)?.is_some() {
                            return Err(StoreError::Conflict("refresh token successor".into()));
                        }
                        stored.rotated = Some(Rotated { at: now, successor });
                        put_token(&mut tokens, &old, &stored)?;
                        next.family = name.clone();
                        txn.open_table(REFRESH_EXPIRY)
                            .map_err(unavailable)?
                            .insert((next.expires_at.0, &successor.0), name.as_str())
                            .map_err(unavailable)?;
                        let next = StoredRefresh {
                            token: next,
                            rotated: None,
                        };
                        put_token(&mut tokens, &successor, &next)?;
                        record.tokens += 1;
                        put_family(&mut families, &name, &record)?;
                        Ok(Rotation::Rotated(token))
                    }
                    RotationStep::Grace => Ok(Rotation::Grace(token)),
                    RotationStep::RevokeFamily => {
                        record.revoked = true;
                        put_family(&mut families, &name, &record)?;
                        Ok(Rotation::Reused(token))
                    }
                }
            })
        })
        .await
    }

    /// Live: stored, not rotated, its family not revoked. The idle lifetime never passes the
    /// absolute one.
    async fn touch(
        &self,
        digest: &SecretDigest,
        idle_expires_at: UnixTime,
    ) -> Result<bool, StoreError> {
        let digest = *digest;
        self.blocking(move |db| {
            write(db, |txn| {
                let mut tokens = txn.open_table(REFRESH_TOKENS).map_err(unavailable)?;
                let found: Option<StoredRefresh> =
                    decode_found(tokens.get(&digest.0).map_err(unavailable)?)?;
                let Some(mut stored) = found else {
                    return Ok(false);
                };
                let families = txn.open_table(REFRESH_FAMILIES).map_err(unavailable)?;
                if stored.rotated.is_some() || family(&families, &stored.token.family)?.revoked {
                    return Ok(false);
                }
                stored.token.idle_expires_at = idle_expires_at.min(stored.token.expires_at);
                put_token(&mut tokens, &digest, &stored)?;
                Ok(true)
            })
        })
        .await
    }

    async fn revoke_family(&self, family_name: &str) -> Result<bool, StoreError> {
        let name = family_name.to_owned();
        self.blocking(move |db| {
            write(db, |txn| {
                let mut families = txn.open_table(REFRESH_FAMILIES).map_err(unavailable)?;
                let found: Option<Family> =
                    decode_found(families.get(name.as_str()).map_err(unavailable)?)?;
                match found {
                    Some(mut record) if !record.revoked => {
                        record.revoked = true;
                        put_family(&mut families, &name, &record)?;
                        Ok(true)
                    }
                    _ => Ok(false),
                }
            })
        })
        .await
    }

    async fn revoke_client(&self, client: &ClientId) -> Result<usize, StoreError> {
        let client = client.clone();
        self.blocking(move |db| {
            write(db, |txn| {
                revoke_indexed(txn, CLIENT_FAMILIES, client.as_str(), |_| true)
            })
        })
        .await
    }

    async fn revoke_user(&self, user: &UserId) -> Result<usize, StoreError> {
        let user = user.clone();
        self.blocking(move |db| {
            write(db, |txn| {
                revoke_indexed(txn, USER_FAMILIES, user.as_str(), |_| true)
            })
        })
        .await
    }

    async fn revoke_grant(&self, user: &UserId, client: &ClientId) -> Result<usize, StoreError> {
        let (user, client) = (user.clone(), client.clone());
        self.blocking(move |db| {
            write(db, |txn| {
                revoke_indexed(txn, USER_FAMILIES, user.as_str(), |f| f.client_id == client)
            })
        })
        .await
    }

    /// Reads the time index up to `cutoff` only: the cost is what expired, not what is stored.
    /// A family goes with its last token, and leaves the client and user indexes.
    async fn purge_expired(&self, cutoff: UnixTime) -> Result<usize, StoreError> {
        self.blocking(move |db| {
            write(db, |txn| {
                let mut expiry = txn.open_table(REFRESH_EXPIRY).map_err(unavailable)?;
                let mut expired: Vec<(u64, [u8; 32], String)> = Vec::new();
                for row in expiry
                    .range(..(cutoff.0, &[0u8; 32]))
                    .map_err(unavailable)?
                {
                    let (key, name) = row.map_err(unavailable)?;
                    let (at, digest) = key.value();
                    expired.push((at, *digest, name.value().to_owned()));
                }
                let mut tokens = txn.open_table(REFRESH_TOKENS).map_err(unavailable)?;
                let mut families = txn.open_table(REFRESH_FAMILIES).map_err(unavailable)?;
                let mut by_client = txn
                    .open_multimap_table(CLIENT_FAMILIES)
                    .map_err(unavailable)?;
                let mut by_user = txn
                    .open_multimap_table(USER_FAMILIES)
                    .map_err(unavailable)?;
                let mut purged = 0;
                for (at, digest, name) in &expired {
                    expiry.remove((*at, digest)).map_err(unavailable)?;
                    if tokens.remove(digest).map_err(unavailable)?.is_none() {
                        continue;
                    }
                    purged += 1;
                    let found: Option<Family> =
                        decode_found(families.get(name.as_str()).map_err(unavailable)?)?;
                    let Some(mut record) = found else {
                        continue;
                    };
                    record.tokens = record.tokens.saturating_sub(1);
                    if record.tokens > 0 {
                        put_family(&mut families, name, &record)?;
                        continue;
                    }
                    families.remove(name.as_str()).map_err(unavailable)?;
                    by_client
                        .remove(record.client_id.as_str(), name.as_str())
                        .map_err(unavailable)?;
                    by_user
                        .remove(record.user.as_str(), name.as_str())
                        .map_err(unavailable)?;
                }
                Ok(purged)
            })
        })
        .await
    }
}
