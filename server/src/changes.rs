//! The one write path of each change every node must see: a revocation, a deleted client, new
//! signing keys, a user disabled, deleted or given a new password. Each goes the same way:
//! durable write first (a failed write is an error, never a success), then applied on this node
//! at once, then published through the events port so that other nodes apply it too. A
//! publication that fails is logged: the change is durable and local, and other nodes catch up
//! at their next full resync. (A user's changes end sessions and refresh tokens, which live in
//! the store that every node reads: there is nothing node-local to apply, nor to publish.)

use std::sync::Arc;

use gatehouse_core::TokenError;
use gatehouse_core::client::{Client, ClientId};
use gatehouse_core::events::{Event, Events};
use gatehouse_core::ports::Clock;
use gatehouse_core::revocation::{self, RevokeTarget, Revoked};
use gatehouse_core::store::{
    AccessTokenStore, ClientStore, ConsentStore, KeyRecord, RefreshTokenStore, RevocationStore,
    SessionStore, StoreError, UserStore,
};
use gatehouse_core::user::{PasswordHash, User, UserChange, UserId, Username};
use gatehouse_token::{AccessTokenClaims, UnixTime};
use gatehouse_validator::{Valid, Validator};

use crate::config::Config;
use crate::keys::{KeyManager, KeyManagerError};

/// What the changes write to, apply on and publish through.
#[expect(missing_debug_implementations, reason = "trait objects have no Debug")]
pub struct Changes {
    /// Registered clients.
    pub clients: Arc<dyn ClientStore>,
    /// Opaque access tokens.
    pub tokens: Arc<dyn AccessTokenStore>,
    /// Revoked JWT ids.
    pub revocations: Arc<dyn RevocationStore>,
    /// User accounts.
    pub users: Arc<dyn UserStore>,
    /// Browser sessions (ended when their user is disabled or deleted).
    pub sessions: Arc<dyn SessionStore>,
    /// Remembered consents (forgotten with their user or client).
    pub consents: Arc<dyn ConsentStore>,
    /// Refresh tokens (revoked with their user or client).
    pub refresh_tokens: Arc<dyn RefreshTokenStore>,
    /// This node's validator (its revocation set).
    pub validator: Arc<Validator>,
    /// The signing keys.
    pub keys: Arc<KeyManager>,
    /// Where changes are published.
    pub events: Arc<dyn Events>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The configuration (leeway, quotas, lifetimes).
    pub config: Config,
}

/// What ending a user's grants ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ended {
    /// Browser sessions ended.
    pub sessions: usize,
    /// Refresh-token families revoked.
    pub refresh_token_families: usize,
}

impl Changes {
    fn publish(&self, event: &Event) {
        if let Err(e) = self.events.publish(event) {
            tracing::warn!(error = %e, ?event, "a change is durable and applied here, but was not published");
        }
    }

    /// How long a retired key must stay published (see [`crate::state::key_retention`]).
    async fn key_retention(&self) -> Result<u64, StoreError> {
        crate::state::key_retention(self.clients.as_ref(), &self.config).await
    }

    /// Makes `claims` dead on this node at once, through the caches too (by `jti`), and
    /// publishes.
    fn revoked(&self, claims: &AccessTokenClaims) {
        self.validator
            .revocations()
            .insert(claims.jti.clone(), claims.exp);
        self.publish(&Event::Revoked {
            jti: claims.jti.clone(),
            exp: claims.exp,
        });
    }

    /// A client revokes a valid token (RFC 7009); another client's token is left alone
    /// ([`Revoked::NotOwner`]).
    pub async fn revoke(&self, caller: &Client, valid: &Valid) -> Result<Revoked, TokenError> {
        let target = match valid {
            Valid::Jwt(claims) => RevokeTarget::Jwt(claims),
            Valid::Opaque(digest, claims) => RevokeTarget::Opaque(*digest, claims),
        };
        let limit = self.config.limits.revocations_per_client;
        let done = revocation::revoke(
            caller,
            target,
            self.revocations.as_ref(),
            self.tokens.as_ref(),
            limit,
        )
        .await?;
        if done == Revoked::Done {
            self.revoked(valid.claims());
        }
        Ok(done)
    }

    /// An operator revokes JWTs by id in bulk (no quota): the live ones are written in one
    /// transaction, then applied and published; how many were live.
    pub async fn import_revocations(
        &self,
        list: Vec<(String, UnixTime)>,
    ) -> Result<usize, StoreError> {
        let cutoff = revocation::purge_cutoff(self.clock.now(), self.config.tokens.leeway);
        let live: Vec<(String, UnixTime)> =
            list.into_iter().filter(|(_, exp)| *exp >= cutoff).collect();
        self.revocations.revoke_many(live.clone()).await?;
        for (jti, exp) in live.iter() {
            self.validator.revocations().insert(jti.clone(), *exp);
            self.publish(&Event::Revoked {
                jti: jti.clone(),
                exp: *exp,
            });
        }
        Ok(live.len())
    }

    /// Deletes a client, and with it every token issued to it: the tokens are dead the moment the
    /// client is gone (introspection checks the client set), its stored opaque tokens are
    /// dropped, its refresh-token families revoked and the consents given to it forgotten.
    /// `None` if there was no such client; else how many opaque tokens were dropped.
    ///
    /// The client goes first, so that nothing new can be issued to it while the rest is swept;
    /// the sweep runs even when the client was gone already, so that a retry after a failed
    /// sweep finishes it.
    pub async fn delete_client(&self, id: &ClientId) -> Result<Option<usize>, StoreError> {
        let existed = self.clients.delete(id).await?;
        let dropped = self.tokens.delete_client_tokens(id.as_str()).await?;
        let families = self.refresh_tokens.revoke_client(id).await?;
        let consents = self.consents.delete_client(id).await?;
        if !existed {
            if dropped + families + consents > 0 {
                tracing::info!(client_id = %id, opaque_tokens_deleted = dropped, refresh_token_families_revoked = families, consents_forgotten = consents, "swept what a deleted client left");
            }
            return Ok(None);
        }
        tracing::info!(client_id = %id, refresh_token_families_revoked = families, consents_forgotten = consents, "client's grants ended");
        self.publish(&Event::ClientDeleted {
            client_id: id.clone(),
        });
        Ok(Some(dropped))
    }

    /// Ends what a user is signed in with: every browser session and every refresh-token
    /// family (the access tokens already issued live out their short lifetimes).
    async fn end_user_grants(&self, user: &UserId) -> Result<Ended, StoreError> {
        let sessions = self.sessions.delete_user_sessions(user).await?;
        let refresh_token_families = self.refresh_tokens.revoke_user(user).await?;
        Ok(Ended {
            sessions,
            refresh_token_families,
        })
    }

    /// Applies `change` to the user named `username`, atomically in the store; the user as
    /// written, or `None` if there is no such user.
    async fn update_user(
        &self,
        username: &Username,
        change: UserChange,
    ) -> Result<Option<User>, StoreError> {
        self.users.change(username, change).await
    }

    /// Replaces a user's password with `hash` (already computed, off the async workers), then
    /// ends their sessions and refresh tokens: whoever knew the old password is signed out.
    /// `None` if there is no such user.
    pub async fn set_password(
        &self,
        username: &Username,
        hash: PasswordHash,
    ) -> Result<Option<(User, Ended)>, StoreError> {
        let Some(user) = self
            .update_user(username, UserChange::Password(hash))
            .await?
        else {
            return Ok(None);
        };
        let ended = self.end_user_grants(&user.id).await?;
        Ok(Some((user, ended)))
    }

    /// Disables a user (they can no longer sign in: durable first), then ends their sessions
    /// and refresh tokens. Disabling a disabled user ends whatever is left again. `None` if
    /// there is no such user.
    pub async fn disable_user(
        &self,
        username: &Username,
    ) -> Result<Option<(User, Ended)>, StoreError> {
        let Some(user) = self
            .update_user(username, UserChange::Disabled(true))
            .await?
        else {
            return Ok(None);
        };
        let ended = self.end_user_grants(&user.id).await?;
        Ok(Some((user, ended)))
    }

    /// Lets a disabled user sign in again (nothing of theirs was kept to come back). `None` if
    /// there is no such user.
    pub async fn enable_user(&self, username: &Username) -> Result<Option<User>, StoreError> {
        self.update_user(username, UserChange::Disabled(false))
            .await
    }

    /// Deletes a user: disabled first (durable, so nothing new is granted to them while the
    /// rest goes), then their sessions and refresh tokens are ended and their consents
    /// forgotten, and only then the account removed, so that a failure on the way leaves a
    /// disabled account that a retry deletes. `None` if there is no such user.
    pub async fn delete_user(
        &self,
        username: &Username,
    ) -> Result<Option<(User, Ended, usize)>, StoreError> {
        let Some(user) = self
            .update_user(username, UserChange::Disabled(true))
            .await?
        else {
            return Ok(None);
        };
        let ended = self.end_user_grants(&user.id).await?;
        let consents = self.consents.delete_user(&user.id).await?;
        // Gone meanwhile (a concurrent delete): it is deleted all the same.
        let user = self.users.delete(username).await?.unwrap_or(user);
        Ok(Some((user, ended, consents)))
    }

    /// Forces a key rotation now (the keys manager writes the records and swaps the key ring and the
    /// validator's keys), then publishes.
    pub async fn rotate_keys(&self) -> Result<KeyRecord, KeyManagerError> {
        let retain = self.key_retention().await?;
        let record = self.keys.rotate(self.clock.now(), retain).await?;
        self.publish(&Event::KeysChanged);
        Ok(record)
    }

    /// What a replayed authorization code was exchanged for is revoked (RFC 9700 §4.5): the
    /// access token by `jti` in every validator (its record too when opaque), and the
    /// refresh-token family. Durable first; an error if any of it could not be written.
    pub async fn revoke_issued(
        &self,
        issued: &gatehouse_core::store::IssuedForCode,
    ) -> Result<(), StoreError> {
        let (jti, exp) = (issued.access_jti.clone(), issued.access_exp);
        match issued.access_digest {
            Some(digest) => {
                self.tokens.revoke(&digest).await?;
                self.validator.revocations().insert(jti.clone(), exp);
                self.publish(&Event::Revoked { jti, exp });
            }
            None => {
                self.import_revocations(vec![(jti, exp)]).await?;
            }
        }
        if let Some(family) = &issued.refresh_family {
            self.refresh_tokens.revoke_family(family).await?;
        }
        Ok(())
    }

    /// A user's consent to a client is forgotten (the client must ask again) and the refresh
    /// tokens the user gave it are revoked, in that order; whether there was a consent.
    pub async fn revoke_consent(
        &self,
        user: &gatehouse_core::user::UserId,
        client: &ClientId,
    ) -> Result<bool, StoreError> {
        if !self.consents.revoke(user, client).await? {
            return Ok(false);
        }
        self.refresh_tokens.revoke_grant(user, client).await?;
        Ok(true)
    }

    /// Follows the key schedule at `now` (publish, promote, retire, remove); publishes when the
    /// keys changed.
    pub async fn follow_key_schedule(&self, now: UnixTime) -> Result<(), KeyManagerError> {
        let retain = self.key_retention().await?;
        if self.keys.tick(now, retain).await? {
            self.publish(&Event::KeysChanged);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
