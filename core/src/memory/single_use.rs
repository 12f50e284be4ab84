//! Authorization codes and refresh tokens in memory: each decision under one lock, so it is
//! atomic as the traits require.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use gatehouse_token::{SecretDigest, UnixTime};

use super::{MemoryStore, lock};
use crate::client::ClientId;
use crate::store::{
    AuthorizationCode, CodeStore, IssuedForCode, ParStore, PushedRequest, Redemption, RefreshToken,
    RefreshTokenStore, Rotation, RotationStep, StoreError, rotation_step,
};
use crate::user::UserId;

#[derive(Debug)]
struct StoredCode {
    code: AuthorizationCode,
    used: bool,
    issued: Option<IssuedForCode>,
    replayed: bool,
}

#[derive(Debug)]
struct StoredRefresh {
    token: RefreshToken,
    /// When it was rotated, and into which successor.
    rotated: Option<(UnixTime, SecretDigest)>,
}

#[derive(Debug, Default)]
pub(super) struct SingleUse {
    codes: HashMap<SecretDigest, StoredCode>,
    refresh: HashMap<SecretDigest, StoredRefresh>,
    revoked_families: BTreeSet<String>,
    pushed: HashMap<SecretDigest, PushedRequest>,
}

#[async_trait]
impl CodeStore for MemoryStore {
    async fn insert(
        &self,
        digest: SecretDigest,
        code: AuthorizationCode,
    ) -> Result<(), StoreError> {
        let mut all = lock(&self.single_use);
        if all.codes.contains_key(&digest) {
            return Err(StoreError::Conflict("authorization code".into()));
        }
        let stored = StoredCode {
            code,
            used: false,
            issued: None,
            replayed: false,
        };
        all.codes.insert(digest, stored);
        Ok(())
    }

    async fn redeem(&self, digest: &SecretDigest) -> Result<Redemption, StoreError> {
        let mut all = lock(&self.single_use);
        Ok(match all.codes.get_mut(digest) {
            None => Redemption::Unknown,
            Some(stored) if stored.used => {
                Redemption::Replayed(stored.code.clone(), stored.issued.clone())
            }
            Some(stored) => {
                stored.used = true;
                Redemption::Fresh(stored.code.clone())
            }
        })
    }

    async fn record_issued(
        &self,
        digest: &SecretDigest,
        issued: IssuedForCode,
    ) -> Result<bool, StoreError> {
        Ok(match lock(&self.single_use).codes.get_mut(digest) {
            Some(stored) => {
                stored.issued = Some(issued);
                stored.replayed
            }
            None => false,
        })
    }

    async fn mark_replayed(
        &self,
        digest: &SecretDigest,
    ) -> Result<Option<IssuedForCode>, StoreError> {
        Ok(match lock(&self.single_use).codes.get_mut(digest) {
            Some(stored) => {
                stored.replayed = true;
                stored.issued.clone()
            }
            None => None,
        })
    }

    async fn purge_expired(&self, cutoff: UnixTime) -> Result<usize, StoreError> {
        let mut all = lock(&self.single_use);
        let before = all.codes.len();
        all.codes.retain(|_, c| c.code.expires_at >= cutoff);
        Ok(before - all.codes.len())
    }
}

#[async_trait]
impl RefreshTokenStore for MemoryStore {
    async fn insert(&self, digest: SecretDigest, token: RefreshToken) -> Result<(), StoreError> {
        let mut all = lock(&self.single_use);
        if all.refresh.contains_key(&digest) {
            return Err(StoreError::Conflict("refresh token".into()));
        }
        let stored = StoredRefresh {
            token,
            rotated: None,
        };
        all.refresh.insert(digest, stored);
        Ok(())
    }

    async fn get(&self, digest: &SecretDigest) -> Result<Option<(RefreshToken, bool)>, StoreError> {
        let all = lock(&self.single_use);
        Ok(all.refresh.get(digest).map(|s| {
            let revoked = all.revoked_families.contains(&s.token.family);
            (s.token.clone(), revoked)
        }))
    }

    async fn rotate(
        &self,
        old: &SecretDigest,
        successor: SecretDigest,
        mut next: RefreshToken,
        now: UnixTime,
        grace: u64,
    ) -> Result<Rotation, StoreError> {
        let mut all = lock(&self.single_use);
        let Some(stored) = all.refresh.get(old) else {
            return Ok(Rotation::Unknown);
        };
        let token = stored.token.clone();
        let revoked = all.revoked_families.contains(&token.family);
        match rotation_step(&token, revoked, stored.rotated, &successor, now, grace) {
            RotationStep::Revoked => Ok(Rotation::Revoked),
            RotationStep::Expired => Ok(Rotation::Expired),
            RotationStep::Rotate => {
                if all.refresh.contains_key(&successor) {
                    return Err(StoreError::Conflict("refresh token successor".into()));
                }
                if let Some(stored) = all.refresh.get_mut(old) {
                    stored.rotated = Some((now, successor));
                }
                // The successor is of the old token's family, whatever `next` says: a reuse
                // must revoke it along with the rest.
                next.family = token.family.clone();
                let next = StoredRefresh {
                    token: next,
                    rotated: None,
                };
                all.refresh.insert(successor, next);
                Ok(Rotation::Rotated(token))
            }
            RotationStep::Grace => Ok(Rotation::Grace(token)),
            RotationStep::RevokeFamily => {
                all.revoked_families.insert(token.family.clone());
                Ok(Rotation::Reused(token))
            }
        }
    }

    async fn touch(
        &self,
        digest: &SecretDigest,
        idle_expires_at: UnixTime,
    ) -> Result<bool, StoreError> {
        let mut all = lock(&self.single_use);
        let SingleUse {
            refresh,
            revoked_families,
            ..
        } = &mut *all;
        Ok(match refresh.get_mut(digest) {
            Some(s) if !revoked_families.contains(&s.token.family) && s.rotated.is_none() => {
                s.token.idle_expires_at = idle_expires_at.min(s.token.expires_at);
                true
            }
            _ => false,
        })
    }

    async fn revoke_family(&self, family: &str) -> Result<bool, StoreError> {
        let mut all = lock(&self.single_use);
        let exists = all.refresh.values().any(|s| s.token.family == family);
        Ok(exists && all.revoked_families.insert(family.to_owned()))
    }

    async fn revoke_client(&self, client: &ClientId) -> Result<usize, StoreError> {
        Ok(revoke_where(&mut lock(&self.single_use), |t| {
            t.client_id == *client
        }))
    }

    async fn revoke_user(&self, user: &UserId) -> Result<usize, StoreError> {
        Ok(revoke_where(&mut lock(&self.single_use), |t| {
            t.user == *user
        }))
    }

    async fn revoke_grant(&self, user: &UserId, client: &ClientId) -> Result<usize, StoreError> {
        Ok(revoke_where(&mut lock(&self.single_use), |t| {
            t.user == *user && t.client_id == *client
        }))
    }

    async fn purge_expired(&self, cutoff: UnixTime) -> Result<usize, StoreError> {
        let mut all = lock(&self.single_use);
        let before = all.refresh.len();
        all.refresh.retain(|_, s| s.token.expires_at >= cutoff);
        let SingleUse {
            refresh,
            revoked_families,
            ..
        } = &mut *all;
        revoked_families.retain(|f| refresh.values().any(|s| s.token.family == *f));
        Ok(before - refresh.len())
    }
}

/// Revokes the families of the tokens that match; how many families were newly revoked.
fn revoke_where(all: &mut SingleUse, matches: impl Fn(&RefreshToken) -> bool) -> usize {
    let families: BTreeSet<String> = all
        .refresh
        .values()
        .filter(|s| matches(&s.token))
        .map(|s| s.token.family.clone())
        .collect();
    families
        .into_iter()
        .filter(|f| all.revoked_families.insert(f.clone()))
        .count()
}

#[async_trait]
impl ParStore for MemoryStore {
    async fn insert(&self, digest: SecretDigest, request: PushedRequest) -> Result<(), StoreError> {
        let mut all = lock(&self.single_use);
        if all.pushed.contains_key(&digest) {
            return Err(StoreError::Conflict("pushed request".into()));
        }
        all.pushed.insert(digest, request);
        Ok(())
    }

    async fn complete(&self, digest: &SecretDigest) -> Result<bool, StoreError> {
        Ok(lock(&self.single_use).pushed.remove(digest).is_some())
    }

    async fn claim(
        &self,
        digest: &SecretDigest,
        browser: SecretDigest,
    ) -> Result<Option<PushedRequest>, StoreError> {
        let mut all = lock(&self.single_use);
        Ok(match all.pushed.get_mut(digest) {
            Some(request) if request.claimed_by.is_none_or(|b| b == browser) => {
                request.claimed_by = Some(browser);
                Some(request.clone())
            }
            _ => None,
        })
    }

    async fn purge_expired(&self, cutoff: UnixTime) -> Result<usize, StoreError> {
        let mut all = lock(&self.single_use);
        let before = all.pushed.len();
        all.pushed.retain(|_, r| r.expires_at >= cutoff);
        Ok(before - all.pushed.len())
    }
}
