//! The one write path of each change every node must see: a revocation, a deleted client, new
//! signing keys. Each goes the same way: durable write first (a failed write is an error, never
//! a success), then applied on this node at once, then published through the events port so
//! that other nodes apply it too. A publication that fails is logged: the change is durable and
//! local, and other nodes catch up at their next full resync.

use std::sync::Arc;

use gatehouse_core::TokenError;
use gatehouse_core::client::{Client, ClientId};
use gatehouse_core::events::{Event, Events};
use gatehouse_core::ports::Clock;
use gatehouse_core::revocation::{self, RevokeTarget, Revoked};
use gatehouse_core::store::{
    AccessTokenStore, ClientStore, KeyRecord, RevocationStore, StoreError,
};
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
    /// client is gone (introspection checks the client set), and its stored opaque tokens are
    /// dropped. `None` if there was no such client; else how many opaque tokens were dropped.
    pub async fn delete_client(&self, id: &ClientId) -> Result<Option<usize>, StoreError> {
        if !self.clients.delete(id).await? {
            return Ok(None);
        }
        let dropped = self.tokens.delete_client_tokens(id.as_str()).await?;
        self.publish(&Event::ClientDeleted {
            client_id: id.clone(),
        });
        Ok(Some(dropped))
    }

    /// Forces a key rotation now (the keys manager writes the records and swaps the key ring and the
    /// validator's keys), then publishes.
    pub async fn rotate_keys(&self) -> Result<KeyRecord, KeyManagerError> {
        let retain = self.key_retention().await?;
        let record = self.keys.rotate(self.clock.now(), retain).await?;
        self.publish(&Event::KeysChanged);
        Ok(record)
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
