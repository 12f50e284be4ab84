//! Users, sessions and consents in memory.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use gatehouse_token::{SecretDigest, UnixTime};

use super::{MemoryStore, lock};
use crate::client::ClientId;
use crate::store::{
    Consent, ConsentStore, SecretStore, Session, SessionStore, StoreError, UserStore,
};
use crate::user::{User, UserChange, UserId, Username};

#[derive(Debug, Default)]
pub(super) struct People {
    users: BTreeMap<Username, User>,
    sessions: HashMap<SecretDigest, Session>,
    consents: BTreeMap<(UserId, ClientId), Consent>,
}

#[async_trait]
impl UserStore for MemoryStore {
    async fn insert(&self, user: User) -> Result<(), StoreError> {
        let mut people = lock(&self.people);
        if people.users.contains_key(&user.username)
            || people.users.values().any(|u| u.id == user.id)
        {
            return Err(StoreError::Conflict(format!("user {}", user.username)));
        }
        people.users.insert(user.username.clone(), user);
        Ok(())
    }

    async fn get(&self, username: &Username) -> Result<Option<User>, StoreError> {
        Ok(lock(&self.people).users.get(username).cloned())
    }

    async fn get_by_id(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        Ok(lock(&self.people)
            .users
            .values()
            .find(|u| u.id == *id)
            .cloned())
    }

    async fn list(&self) -> Result<Vec<User>, StoreError> {
        Ok(lock(&self.people).users.values().cloned().collect())
    }

    async fn update(&self, user: User) -> Result<bool, StoreError> {
        let mut people = lock(&self.people);
        match people.users.get_mut(&user.username) {
            Some(kept) if kept.id == user.id => {
                *kept = user;
                Ok(true)
            }
            Some(_) => Err(StoreError::Conflict(format!(
                "user {} has another id",
                user.username
            ))),
            None => Ok(false),
        }
    }

    async fn change(
        &self,
        username: &Username,
        change: UserChange,
    ) -> Result<Option<User>, StoreError> {
        let mut people = lock(&self.people);
        Ok(people.users.get_mut(username).map(|user| {
            change.apply(user);
            user.clone()
        }))
    }

    async fn delete(&self, username: &Username) -> Result<Option<User>, StoreError> {
        Ok(lock(&self.people).users.remove(username))
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn insert(&self, digest: SecretDigest, session: Session) -> Result<(), StoreError> {
        lock(&self.people).sessions.insert(digest, session);
        Ok(())
    }

    async fn get(&self, digest: &SecretDigest) -> Result<Option<Session>, StoreError> {
        Ok(lock(&self.people).sessions.get(digest).cloned())
    }

    async fn delete(&self, digest: &SecretDigest) -> Result<bool, StoreError> {
        Ok(lock(&self.people).sessions.remove(digest).is_some())
    }

    async fn delete_user_sessions(&self, user: &UserId) -> Result<usize, StoreError> {
        let mut people = lock(&self.people);
        let before = people.sessions.len();
        people.sessions.retain(|_, s| s.user != *user);
        Ok(before - people.sessions.len())
    }

    async fn purge_expired(&self, cutoff: UnixTime) -> Result<usize, StoreError> {
        let mut people = lock(&self.people);
        let before = people.sessions.len();
        people.sessions.retain(|_, s| s.expires_at >= cutoff);
        Ok(before - people.sessions.len())
    }
}

#[async_trait]
impl ConsentStore for MemoryStore {
    async fn get(&self, user: &UserId, client: &ClientId) -> Result<Option<Consent>, StoreError> {
        Ok(lock(&self.people)
            .consents
            .get(&(user.clone(), client.clone()))
            .cloned())
    }

    async fn put(
        &self,
        user: &UserId,
        client: &ClientId,
        consent: Consent,
    ) -> Result<(), StoreError> {
        lock(&self.people)
            .consents
            .insert((user.clone(), client.clone()), consent);
        Ok(())
    }

    async fn revoke(&self, user: &UserId, client: &ClientId) -> Result<bool, StoreError> {
        Ok(lock(&self.people)
            .consents
            .remove(&(user.clone(), client.clone()))
            .is_some())
    }

    async fn list_user(&self, user: &UserId) -> Result<Vec<(ClientId, Consent)>, StoreError> {
        Ok(lock(&self.people)
            .consents
            .iter()
            .filter(|((u, _), _)| u == user)
            .map(|((_, c), consent)| (c.clone(), consent.clone()))
            .collect())
    }

    async fn delete_user(&self, user: &UserId) -> Result<usize, StoreError> {
        let mut people = lock(&self.people);
        let before = people.consents.len();
        people.consents.retain(|(u, _), _| u != user);
        Ok(before - people.consents.len())
    }

    async fn delete_client(&self, client: &ClientId) -> Result<usize, StoreError> {
        let mut people = lock(&self.people);
        let before = people.consents.len();
        people.consents.retain(|(_, c), _| c != client);
        Ok(before - people.consents.len())
    }
}

#[async_trait]
impl SecretStore for MemoryStore {
    async fn get_or_create(&self, name: &str, fresh: [u8; 32]) -> Result<[u8; 32], StoreError> {
        Ok(*lock(&self.secrets).entry(name.to_owned()).or_insert(fresh))
    }
}
