//! Readiness, probed on a schedule and served from memory: `/ready` is unauthenticated, so it
//! must cost nothing (a flood of it must never take HSM sessions from `/token`) and say nothing
//! beyond ready or not. The detail (which check failed and why) goes to the log and to the
//! admin API.

use std::sync::Arc;

use arc_swap::ArcSwap;
use gatehouse_token::{SecretDigest, UnixTime};
use serde::Serialize;

use crate::state::App;

/// How often the store and the signing backend are probed, seconds.
pub const PROBE_INTERVAL: u64 = 2;

/// The outcome of the last probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    /// Whether the store answers and the signing backend can sign.
    pub ready: bool,
    /// What failed, when something did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When the probe ran.
    pub checked_at: UnixTime,
}

/// The last probe's outcome, read without waiting.
#[derive(Debug)]
pub struct Readiness(ArcSwap<Status>);

impl Default for Readiness {
    fn default() -> Self {
        Self(ArcSwap::from_pointee(Status {
            ready: false,
            reason: Some("not probed yet".into()),
            checked_at: UnixTime(0),
        }))
    }
}

impl Readiness {
    /// The last outcome.
    pub fn status(&self) -> Arc<Status> {
        self.0.load_full()
    }

    /// Probes the store and the signing backend once and records the outcome; a change is
    /// logged (with its reason) once, not on every probe.
    pub async fn probe(&self, app: &App) {
        // A point read of a digest that cannot exist proves the database is readable.
        let store = app
            .tokens
            .get(&SecretDigest([0; 32]))
            .await
            .err()
            .map(|e| format!("store: {e}"));
        let signer = app
            .keys
            .probe()
            .await
            .err()
            .map(|e| format!("signing backend ({}): {e}", app.keys.backend_kind()));
        let reason = store.or(signer);
        let status = Status {
            ready: reason.is_none(),
            reason,
            checked_at: app.clock.now(),
        };
        let before = self.0.swap(Arc::new(status.clone()));
        if before.ready != status.ready || before.reason != status.reason {
            match &status.reason {
                None => tracing::info!("ready"),
                Some(reason) => tracing::warn!(%reason, "not ready"),
            }
        }
    }
}
