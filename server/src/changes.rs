//! The one write path of each change every node must see: a revocation, a deleted client, new
//! signing keys. Each goes the same way: durable write first (a failed write is an error, never
//! a success), then applied on this node at once, then published through the events port so
//! that other nodes apply it too. A publication that fails is logged: the change is durable and
//! local, and other nodes catch up at their next full resync.

use gatehouse_core::TokenError;
use gatehouse_core::client::{Client, ClientId};
use gatehouse_core::events::Event;
use gatehouse_core::revocation::{self, RevokeTarget, Revoked};
use gatehouse_core::store::{KeyRecord, StoreError};
use gatehouse_token::{AccessTokenClaims, UnixTime};
use gatehouse_validator::Valid;

use crate::keys::KeyManagerError;
use crate::state::App;

fn publish(app: &App, event: &Event) {
    if let Err(e) = app.events.publish(event) {
        tracing::warn!(error = %e, ?event, "a change is durable and applied here, but was not published");
    }
}

/// Makes `claims` dead on this node at once, through the caches too (by `jti`), and publishes.
fn revoked(app: &App, claims: &AccessTokenClaims) {
    app.validator
        .revocations()
        .insert(claims.jti.clone(), claims.exp);
    publish(
        app,
        &Event::Revoked {
            jti: claims.jti.clone(),
            exp: claims.exp,
        },
    );
}

/// A client revokes a valid token (RFC 7009); another client's token is left alone
/// ([`Revoked::NotOwner`]).
pub async fn revoke(app: &App, caller: &Client, valid: &Valid) -> Result<Revoked, TokenError> {
    let target = match valid {
        Valid::Jwt(claims) => RevokeTarget::Jwt(claims),
        Valid::Opaque(digest, claims) => RevokeTarget::Opaque(*digest, claims),
    };
    let limit = app.config.limits.revocations_per_client;
    let done = revocation::revoke(
        caller,
        target,
        app.revocations.as_ref(),
        app.tokens.as_ref(),
        limit,
    )
    .await?;
    if done == Revoked::Done {
        revoked(app, valid.claims());
    }
    Ok(done)
}

/// An operator revokes JWTs by id in bulk (no quota): the live ones are written in one
/// transaction, then applied and published; how many were live.
pub async fn import_revocations(
    app: &App,
    list: Vec<(String, UnixTime)>,
) -> Result<usize, StoreError> {
    let cutoff = revocation::purge_cutoff(app.clock.now(), app.config.tokens.leeway);
    let live: Vec<(String, UnixTime)> =
        list.into_iter().filter(|(_, exp)| *exp >= cutoff).collect();
    app.revocations.revoke_many(live.clone()).await?;
    for (jti, exp) in live.iter() {
        app.validator.revocations().insert(jti.clone(), *exp);
        publish(
            app,
            &Event::Revoked {
                jti: jti.clone(),
                exp: *exp,
            },
        );
    }
    Ok(live.len())
}

/// Deletes a client, and with it every token issued to it: the tokens are dead the moment the
/// client is gone (introspection checks the client set), and its stored opaque tokens are
/// dropped. `None` if there was no such client; else how many opaque tokens were dropped.
pub async fn delete_client(app: &App, id: &ClientId) -> Result<Option<usize>, StoreError> {
    if !app.clients.delete(id).await? {
        return Ok(None);
    }
    let dropped = app.tokens.delete_client_tokens(id.as_str()).await?;
    publish(
        app,
        &Event::ClientDeleted {
            client_id: id.clone(),
        },
    );
    Ok(Some(dropped))
}

/// Forces a key rotation now (the keys manager writes the records and swaps the key ring and the
/// validator's keys), then publishes.
pub async fn rotate_keys(app: &App) -> Result<KeyRecord, KeyManagerError> {
    let retain = app.key_retention().await?;
    let record = app.keys.rotate(app.clock.now(), retain).await?;
    publish(app, &Event::KeysChanged);
    Ok(record)
}

/// Follows the key schedule at `now` (publish, promote, retire, remove); publishes when the
/// keys changed.
pub async fn follow_key_schedule(app: &App, now: UnixTime) -> Result<(), KeyManagerError> {
    let retain = app.key_retention().await?;
    if app.keys.tick(now, retain).await? {
        publish(app, &Event::KeysChanged);
    }
    Ok(())
}
