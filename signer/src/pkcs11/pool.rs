//! A pool of logged-in PKCS#11 sessions.
//!
//! A session serves one thread at a time (PKCS#11 sessions are not thread-safe; cryptoki's
//! `Session` is `Send` but not `Sync`). At most `size` sessions exist; at most `size +
//! max_waiting` operations are admitted at once, and the rest are refused at once with
//! [`HsmError::Saturated`] instead of queueing without bound. A session that breaks (closed,
//! logged out, device removed) is discarded with every idle one (they are likely broken too), and
//! the operation is retried once on a freshly opened, freshly logged-in session.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use cryptoki::context::Pkcs11;
use cryptoki::error::{Error, RvError};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;

use super::context::{find_slot, initialize};
use super::{HsmError, TokenSelector};

/// How long an admitted operation waits for a session before giving up.
const TAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// The least time between two re-initialisations of the module.
const REINIT_INTERVAL: Duration = Duration::from_secs(1);

pub(super) struct Pool {
    ctx: Pkcs11,
    token: TokenSelector,
    /// The token's slot id; it may change when the module is re-initialised.
    slot: AtomicU64,
    last_reinit: Mutex<Option<Instant>>,
    pin: AuthPin,
    size: usize,
    max_waiting: usize,
    idle: Mutex<Vec<Session>>,
    freed: Condvar,
    /// Sessions that exist (idle or in use).
    open: AtomicUsize,
    /// Operations admitted and not yet finished.
    admitted: AtomicUsize,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("slot", &self.slot.load(Ordering::Relaxed))
            .field("size", &self.size)
            .field("open", &self.open.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Whether an error means the module or device (not just one session) is in trouble, so that
/// only re-initialising the library may bring it back.
fn is_device_fault(e: &Error) -> bool {
    matches!(
        e,
        Error::Pkcs11(
            RvError::GeneralError
                | RvError::DeviceError
                | RvError::DeviceRemoved
                | RvError::TokenNotPresent
                | RvError::CryptokiNotInitialized
                | RvError::SlotIdInvalid,
            _
        )
    )
}

/// Whether an error means the session (not the request) is broken.
pub(super) fn is_session_fault(e: &Error) -> bool {
    matches!(
        e,
        Error::Pkcs11(
            RvError::SessionHandleInvalid
                | RvError::SessionClosed
                | RvError::UserNotLoggedIn
                | RvError::DeviceRemoved
                | RvError::DeviceError
                | RvError::TokenNotPresent
                | RvError::GeneralError
                | RvError::CryptokiNotInitialized
                | RvError::ObjectHandleInvalid
                | RvError::KeyHandleInvalid,
            _
        )
    )
}

struct Admission<'a>(&'a AtomicUsize);

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Pool {
    pub(super) fn new(
        ctx: Pkcs11,
        token: TokenSelector,
        slot: Slot,
        pin: AuthPin,
        size: usize,
        max_waiting: usize,
    ) -> Self {
        Self {
            ctx,
            token,
            slot: AtomicU64::new(slot.id()),
            last_reinit: Mutex::new(None),
            pin,
            size: size.max(1),
            max_waiting,
            idle: Mutex::new(Vec::new()),
            freed: Condvar::new(),
            open: AtomicUsize::new(0),
            admitted: AtomicUsize::new(0),
        }
    }

    pub(super) fn slot(&self) -> Result<Slot, HsmError> {
        Slot::try_from(self.slot.load(Ordering::Acquire))
            .map_err(|e| HsmError::from_pkcs11("select the slot", &e))
    }

    pub(super) fn context(&self) -> &Pkcs11 {
        &self.ctx
    }

    fn idle(&self) -> MutexGuard<'_, Vec<Session>> {
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Opens a read-write session and logs the user in (a login covers every session of the
    /// application, so "already logged in" is success). If the device itself fails, the module
    /// is re-initialised once (at most once a second) and the session opened again: that is how
    /// the pool recovers when an HSM comes back after an outage.
    fn open_session(&self) -> Result<Session, HsmError> {
        match self.try_open() {
            Err((_, e)) if is_device_fault(&e) && self.reinitialize()? => self
                .try_open()
                .map_err(|(what, e)| HsmError::from_pkcs11(what, &e)),
            other => other.map_err(|(what, e)| HsmError::from_pkcs11(what, &e)),
        }
    }

    fn try_open(&self) -> Result<Session, (&'static str, Error)> {
        let slot = Slot::try_from(self.slot.load(Ordering::Acquire))
            .map_err(|e| ("select the slot", e))?;
        let session = self
            .ctx
            .open_rw_session(slot)
            .map_err(|e| ("open a session", e))?;
        match session.login(UserType::User, Some(&self.pin)) {
            Ok(()) | Err(Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(session),
            Err(e) => Err(("log in", e)),
        }
    }

    /// Finalises and initialises the module again and finds the token anew. Returns whether it
    /// did (it declines when the last attempt was under a second ago).
    fn reinitialize(&self) -> Result<bool, HsmError> {
        {
            let mut last = self
                .last_reinit
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if last.is_some_and(|t| t.elapsed() < REINIT_INTERVAL) {
                return Ok(false);
            }
            *last = Some(Instant::now());
        }
        tracing::warn!("the HSM failed as a device; re-initialising the PKCS#11 module");
        let stale: Vec<Session> = std::mem::take(&mut *self.idle());
        let count = stale.len();
        drop(stale);
        self.open.fetch_sub(count, Ordering::AcqRel);
        // C_Finalize through one clone of the context; the others stay valid and work again
        // after C_Initialize.
        let _ = self.ctx.clone().finalize();
        initialize(&self.ctx).map_err(|reason| HsmError::Module {
            module: "(re-initialisation)".into(),
            reason,
        })?;
        let slot = find_slot(&self.ctx, &self.token)?;
        self.slot.store(slot.id(), Ordering::Release);
        Ok(true)
    }

    /// An idle session, a new one if fewer than `size` exist, or the next one freed.
    fn take(&self) -> Result<Session, HsmError> {
        let mut idle = self.idle();
        loop {
            if let Some(session) = idle.pop() {
                return Ok(session);
            }
            if self.open.load(Ordering::Acquire) < self.size {
                self.open.fetch_add(1, Ordering::AcqRel);
                drop(idle);
                return self.open_session().inspect_err(|_| self.forget_one());
            }
            let (guard, timeout) = self
                .freed
                .wait_timeout(idle, TAKE_TIMEOUT)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            idle = guard;
            if timeout.timed_out() && idle.is_empty() {
                return Err(HsmError::Saturated);
            }
        }
    }

    /// Opens a brand-new session in place of a broken one.
    fn replace(&self) -> Result<Session, HsmError> {
        self.open.fetch_add(1, Ordering::AcqRel);
        self.open_session().inspect_err(|_| self.forget_one())
    }

    fn give_back(&self, session: Session) {
        self.idle().push(session);
        self.freed.notify_one();
    }

    fn forget_one(&self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
        self.freed.notify_one();
    }

    /// Drops a broken session and every idle one.
    fn discard(&self, broken: Session) {
        let stale: Vec<Session> = std::mem::take(&mut *self.idle());
        let count = stale.len() + 1;
        drop(broken);
        drop(stale);
        self.open.fetch_sub(count, Ordering::AcqRel);
        self.freed.notify_all();
    }

    /// Runs `op` on a pooled session, with admission control and one retry on a fresh session
    /// if the first one turns out to be broken. `op` is told whether it is the retry, so it can
    /// drop cached object handles.
    pub(super) fn run<T>(
        &self,
        what: &'static str,
        op: impl FnMut(&Session, bool) -> Result<T, Error>,
    ) -> Result<T, HsmError> {
        if self.admitted.fetch_add(1, Ordering::AcqRel) >= self.size + self.max_waiting {
            self.admitted.fetch_sub(1, Ordering::AcqRel);
            return Err(HsmError::Saturated);
        }
        let _admitted = Admission(&self.admitted);
        self.run_admitted(what, op)
    }

    /// Runs a health check of a session without taking an operation's place: a check counted
    /// against `size + max_waiting` could turn a signature away (with one session and no
    /// waiting room, every probe would). When every session exists and none is idle, they are
    /// all in use, which is proof enough that the token answers: nothing is run.
    pub(super) fn check(
        &self,
        what: &'static str,
        op: impl FnMut(&Session, bool) -> Result<(), Error>,
    ) -> Result<(), HsmError> {
        if self.idle().is_empty() && self.open.load(Ordering::Acquire) >= self.size {
            return Ok(());
        }
        self.run_admitted(what, op)
    }

    /// [`Self::run`] once admitted.
    fn run_admitted<T>(
        &self,
        what: &'static str,
        mut op: impl FnMut(&Session, bool) -> Result<T, Error>,
    ) -> Result<T, HsmError> {
        let session = self.take()?;
        let first = match op(&session, false) {
            Ok(value) => {
                self.give_back(session);
                return Ok(value);
            }
            Err(e) if is_session_fault(&e) => e,
            Err(e) => {
                self.give_back(session);
                return Err(HsmError::from_pkcs11(what, &e));
            }
        };
        tracing_warn(what, &first);
        self.discard(session);
        let fresh = self.replace()?;
        match op(&fresh, true) {
            Ok(value) => {
                self.give_back(fresh);
                Ok(value)
            }
            Err(e) => {
                if is_session_fault(&e) {
                    self.discard(fresh);
                } else {
                    self.give_back(fresh);
                }
                Err(HsmError::from_pkcs11(what, &e))
            }
        }
    }
}

fn tracing_warn(what: &str, e: &Error) {
    tracing::warn!(operation = what, error = %e, "PKCS#11 session lost; reopening, logging in and retrying once");
}
