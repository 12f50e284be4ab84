//! Readiness, probed on a schedule and served from memory: `/ready` is unauthenticated, so it
//! must cost nothing (a flood of it must never take HSM sessions from `/token`) and say nothing
//! beyond ready or not. The detail (which check failed and why) goes to the log and to the
//! admin API.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use gatehouse_token::{SecretDigest, UnixTime};
use serde::Serialize;
use tokio::task::JoinHandle;

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

/// How long a probe waits for its checks before calling the node unready.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// What a probe checks: `None` when all is well, else what failed.
type Checks = JoinHandle<Option<String>>;

/// The last probe's outcome, read without waiting, and the checks of a probe that got no
/// answer in time: they are waited for again, never started anew beside them (a hung HSM or
/// disk must not pile up a blocked thread every probe).
#[derive(Debug)]
pub struct Readiness {
    status: ArcSwap<Status>,
    unanswered: Mutex<Option<Checks>>,
}

impl Default for Readiness {
    fn default() -> Self {
        Self {
            status: ArcSwap::from_pointee(Status {
                ready: false,
                reason: Some("not probed yet".into()),
                checked_at: UnixTime(0),
            }),
            unanswered: Mutex::new(None),
        }
    }
}

impl Readiness {
    /// The last outcome.
    pub fn status(&self) -> Arc<Status> {
        self.status.load_full()
    }

    /// Probes the store and the signing backend once (within [`PROBE_TIMEOUT`]) and records
    /// the outcome; a change is logged (with its reason) once, not on every probe.
    pub async fn probe(&self, app: &App) {
        let (tokens, keys) = (app.tokens.clone(), app.keys.clone());
        let reason = self
            .check(PROBE_TIMEOUT, || {
                tokio::spawn(async move {
                    // A point read of a digest that cannot exist proves the database is readable.
                    let store = tokens.get(&SecretDigest([0; 32])).await.err();
                    let store = store.map(|e| format!("store: {e}"));
                    let signer = keys
                        .probe()
                        .await
                        .err()
                        .map(|e| format!("signing backend ({}): {e}", keys.backend_kind()));
                    store.or(signer)
                })
            })
            .await;
        self.record(reason, app.clock.now());
    }

    /// Waits up to `limit` for the checks left unanswered by the last probe, or for new ones
    /// started by `start`; what failed, if anything.
    async fn check(&self, limit: Duration, start: impl FnOnce() -> Checks) -> Option<String> {
        let left = self.unanswered().take();
        let mut checks = left.unwrap_or_else(start);
        match tokio::time::timeout(limit, &mut checks).await {
            Ok(Ok(reason)) => reason,
            Ok(Err(e)) => Some(format!("the readiness checks failed: {e}")),
            Err(_) => {
                *self.unanswered() = Some(checks);
                Some(format!(
                    "the store or the signing backend gave no answer within {} s",
                    limit.as_secs_f32()
                ))
            }
        }
    }

    fn unanswered(&self) -> std::sync::MutexGuard<'_, Option<Checks>> {
        self.unanswered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn record(&self, reason: Option<String>, now: UnixTime) {
        let status = Status {
            ready: reason.is_none(),
            reason,
            checked_at: now,
        };
        let before = self.status.swap(Arc::new(status.clone()));
        if before.ready != status.ready || before.reason != status.reason {
            match &status.reason {
                None => tracing::info!("ready"),
                Some(reason) => tracing::warn!(%reason, "not ready"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Checks that hang make the node unready, and are waited for again rather than started
    /// anew; once they answer, the next probe starts fresh ones (a review found no timeout).
    #[tokio::test]
    async fn hung_checks_make_the_node_unready_and_are_not_piled_up() {
        let readiness = Readiness::default();
        let started = AtomicUsize::new(0);
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let limit = Duration::from_millis(50);
        let reason = readiness
            .check(limit, || {
                started.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(async move {
                    let _ = released.await;
                    None
                })
            })
            .await;
        assert!(reason.unwrap().contains("no answer within"));
        let start_again = || -> Checks {
            started.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(async { Some("fresh".into()) })
        };
        let reason = readiness.check(limit, start_again).await;
        assert!(reason.unwrap().contains("no answer within"));
        assert_eq!(started.load(Ordering::Relaxed), 1, "not started anew");
        release.send(()).unwrap();
        assert_eq!(
            readiness.check(limit, start_again).await,
            None,
            "the hung checks answered"
        );
        assert_eq!(
            readiness.check(limit, start_again).await.as_deref(),
            Some("fresh")
        );
        assert_eq!(started.load(Ordering::Relaxed), 2);
    }
}
