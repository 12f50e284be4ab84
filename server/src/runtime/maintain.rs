//! Periodic work: purging state that no validator can need any more, sweeping the throttles,
//! following the key schedule, and probing readiness.

use std::sync::Arc;
use std::time::Duration;

use gatehouse_core::revocation::purge_cutoff;
use gatehouse_core::store::{
    AccessTokenStore, CodeStore, DeviceCodeStore, ParStore, RefreshTokenStore, ReplayStore,
    RevocationStore, SessionStore,
};
use gatehouse_token::UnixTime;

use super::readiness::PROBE_INTERVAL;
use crate::state::App;

/// How long a used or expired authorization code is kept past its expiry, seconds: a replay
/// within this time is recognised as one and revokes what the code was exchanged for (RFC
/// 9700 §4.5); after it, the code is merely unknown.
pub const CODE_TOMBSTONE: u64 = 600;
/// How long an expired device code is kept: a device still polling gets `expired_token` (RFC
/// 8628 §3.5), not `invalid_grant`, for this long after its expiry.
pub const DEVICE_TOMBSTONE: u64 = 600;

/// How often [`once`] runs, seconds.
pub const INTERVAL: u64 = 60;

/// Runs [`once`] every [`INTERVAL`] seconds, for ever.
pub async fn run(app: Arc<App>) {
    let mut tick = tokio::time::interval(Duration::from_secs(INTERVAL));
    loop {
        tick.tick().await;
        once(&app, app.clock.now()).await;
    }
}

/// Probes readiness every [`PROBE_INTERVAL`] seconds, for ever.
pub async fn probe(app: Arc<App>) {
    let mut tick = tokio::time::interval(Duration::from_secs(PROBE_INTERVAL));
    loop {
        tick.tick().await;
        app.readiness.probe(&app).await;
    }
}

/// One round at `now`: revocations and opaque tokens are purged only once their `exp` plus the
/// leeway has passed ([`purge_cutoff`]), in memory and in the store alike, so a revoked token
/// can never come back to life for a validator that still accepts it; codes
/// [`CODE_TOMBSTONE`] after their expiry, device codes [`DEVICE_TOMBSTONE`] after theirs, sessions and refresh tokens at theirs; then the
/// throttles and the key schedule.
pub async fn once(app: &App, now: UnixTime) {
    let cutoff = purge_cutoff(now, app.config.tokens.leeway);
    app.validator.revocations().purge(cutoff);
    if let Err(e) = AccessTokenStore::purge_expired(app.tokens.as_ref(), cutoff).await {
        tracing::warn!(error = %e, "purging expired opaque tokens failed");
    }
    if let Err(e) = RevocationStore::purge_expired(app.revocations.as_ref(), cutoff).await {
        tracing::warn!(error = %e, "purging expired revocations failed");
    }
    if let Err(e) = CodeStore::purge_expired(app.codes.as_ref(), now.minus(CODE_TOMBSTONE)).await {
        tracing::warn!(error = %e, "purging expired authorization codes failed");
    }
    if let Err(e) = ParStore::purge_expired(app.pushed.as_ref(), now).await {
        tracing::warn!(error = %e, "purging expired pushed requests failed");
    }
    if let Err(e) =
        DeviceCodeStore::purge_expired(app.devices.as_ref(), now.minus(DEVICE_TOMBSTONE)).await
    {
        tracing::warn!(error = %e, "purging expired device codes failed");
    }
    if let Err(e) = SessionStore::purge_expired(app.sessions.as_ref(), now).await {
        tracing::warn!(error = %e, "purging expired sessions failed");
    }
    if let Err(e) = RefreshTokenStore::purge_expired(app.refresh_tokens.as_ref(), now).await {
        tracing::warn!(error = %e, "purging expired refresh tokens failed");
    }
    // Replay entries are kept until the assertion's exp plus the leeway already.
    if let Err(e) = ReplayStore::purge_expired(app.replay.as_ref(), now).await {
        tracing::warn!(error = %e, "purging the replay cache failed");
    }
    expire_registrations(app, now).await;
    app.throttle.sweep(now);
    app.sign_in.throttle.sweep(now);
    app.registration.per_address.sweep(now);
    app.device.per_client.sweep(now);
    app.device.per_address.sweep(now);
    app.device.guesses.sweep(now);
    if let Err(e) = app.changes.follow_key_schedule(now).await {
        tracing::warn!(error = %e, "key schedule failed");
    }
}

/// Deletes dynamically registered clients unused for `registration.idle_expiry` (RFC 7591
/// registrations are cheap to make and MCP clients make many, shared/reference/mcp-auth.md
/// §2.2), with everything they were given.
async fn expire_registrations(app: &App, now: UnixTime) {
    let idle = app.config.registration.idle_expiry;
    let clients = match app.clients.list().await {
        Ok(clients) => clients,
        Err(e) => {
            tracing::warn!(error = %e, "listing clients to expire idle registrations failed");
            return;
        }
    };
    for client in clients.iter().filter(|c| c.origin.expired(idle, now)) {
        match app.changes.delete_client(&client.id).await {
            Ok(_) => {
                tracing::info!(client_id = %client.id, "idle dynamically registered client expired")
            }
            Err(e) => {
                tracing::warn!(client_id = %client.id, error = %e, "expiring an idle client failed")
            }
        }
    }
}
