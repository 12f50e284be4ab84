//! Device authorizations (RFC 8628): keyed by the digest of the device code, found by their
//! user code, polled by the device, decided once by the person, redeemed once.
//!
//! What a poll or a decision does to a record is decided here, by the pure [`poll_step`] and
//! [`decide_step`]; each store applies them under its one lock or write transaction, so the
//! rules are the same everywhere and every change is atomic.

use async_trait::async_trait;
use gatehouse_token::{SecretDigest, UnixTime};
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::client::ClientId;
use crate::device::UserCode;
use crate::resource::Resource;
use crate::scope::Scope;
use crate::user::UserId;

/// How much the polling interval grows each time a device polls too fast (RFC 8628 §3.5:
/// "the interval MUST be increased by 5 seconds for this and all subsequent requests").
pub const SLOW_DOWN_STEP: u64 = 5;

/// How often the question for one user code may be shown before the code is dead: a code
/// that keeps being looked at is being guessed or phished (RFC 8628 §5.1, §5.4).
pub const MAX_VIEWS: u32 = 5;

/// What the person decided, with who they are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceApproval {
    /// The person who approved.
    pub user: UserId,
    /// When they signed in.
    pub auth_time: UnixTime,
    /// When they approved.
    pub approved_at: UnixTime,
}

/// Where a device authorization stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum DeviceStatus {
    /// Waiting for the person (`authorization_pending`).
    Pending,
    /// Approved; the next poll gets the tokens.
    Approved(DeviceApproval),
    /// Denied, or abandoned after too many views (`access_denied`).
    Denied,
    /// Tokens were issued for it; any later poll is `invalid_grant`.
    Redeemed,
}

/// One device authorization request (RFC 8628 §3.1) and its progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceAuthorization {
    /// The client that asked; only it may poll (Keycloak CVE-2023-2585).
    pub client_id: ClientId,
    /// The code the person types.
    pub user_code: UserCode,
    /// The scope decided for the request.
    pub scope: Scope,
    /// The one audience decided for the request.
    pub resource: Resource,
    /// When the device code and the user code stop working.
    pub expires_at: UnixTime,
    /// The minimum seconds between polls; grows by [`SLOW_DOWN_STEP`] on each `slow_down`.
    pub interval: u64,
    /// When the device last polled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_poll: Option<UnixTime>,
    /// How often the question was shown for it (capped by [`MAX_VIEWS`]).
    #[serde(default)]
    pub views: u32,
    /// Where it stands.
    pub status: DeviceStatus,
}

/// What a poll of the token endpoint finds (RFC 8628 §3.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollOutcome {
    /// `authorization_pending`.
    Pending,
    /// `slow_down`: polled before `interval` elapsed; the interval is now this.
    SlowDown(u64),
    /// `access_denied`.
    Denied,
    /// `expired_token`.
    Expired,
    /// Approved: the record, now redeemed (this poll is the only one that gets it).
    Approved(DeviceAuthorization),
    /// Redeemed before: `invalid_grant`.
    Used,
    /// Another client's device code: `invalid_grant`, and nothing changes.
    OtherClient,
}

/// What a poll by `client` at `now` finds, and the record to write back (`None`: unchanged).
/// RFC 8628 §3.5: a device that polls before its interval has elapsed gets `slow_down` and an
/// interval 5 s longer, for this and every later request.
pub fn poll_step(
    record: &DeviceAuthorization,
    client: &ClientId,
    now: UnixTime,
) -> (PollOutcome, Option<DeviceAuthorization>) {
    if record.client_id != *client {
        return (PollOutcome::OtherClient, None);
    }
    if record.status == DeviceStatus::Redeemed {
        return (PollOutcome::Used, None);
    }
    if now >= record.expires_at {
        return (PollOutcome::Expired, None);
    }
    let mut next = record.clone();
    next.last_poll = Some(now);
    match &record.status {
        DeviceStatus::Approved(_) => {
            next.status = DeviceStatus::Redeemed;
            (PollOutcome::Approved(record.clone()), Some(next))
        }
        DeviceStatus::Denied => (PollOutcome::Denied, None),
        DeviceStatus::Pending | DeviceStatus::Redeemed => {
            let too_soon = record
                .last_poll
                .is_some_and(|last| now < last.plus(record.interval));
            if too_soon {
                next.interval = record.interval.saturating_add(SLOW_DOWN_STEP);
                (PollOutcome::SlowDown(next.interval), Some(next))
            } else {
                (PollOutcome::Pending, Some(next))
            }
        }
    }
}

/// What the person does with a user code on the verification page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceDecision {
    /// The question is shown once more (counted against [`MAX_VIEWS`]).
    View,
    /// Approved by this person.
    Approve(DeviceApproval),
    /// Denied.
    Deny,
}

/// The record after `decision` at `now`, or `None` when the code can no longer be decided (it
/// expired, or was decided already: RFC 8628 §5.4, a code is approved or denied once). A view
/// past [`MAX_VIEWS`] denies the code instead (and answers `None`).
pub fn decide_step(
    record: &DeviceAuthorization,
    decision: &DeviceDecision,
    now: UnixTime,
) -> Option<DeviceAuthorization> {
    if record.status != DeviceStatus::Pending || now >= record.expires_at {
        return None;
    }
    let mut next = record.clone();
    match decision {
        DeviceDecision::View => {
            next.views = record.views.saturating_add(1);
            if next.views > MAX_VIEWS {
                next.status = DeviceStatus::Denied;
            }
        }
        DeviceDecision::Approve(approval) => next.status = DeviceStatus::Approved(approval.clone()),
        DeviceDecision::Deny => next.status = DeviceStatus::Denied,
    }
    Some(next)
}

/// Device authorizations, keyed by the digest of the device code, with the user code as a
/// second, unique key. Their own table: nothing else is ever read as a device code.
#[async_trait]
pub trait DeviceCodeStore: Send + Sync {
    /// Stores a new authorization; [`StoreError::Conflict`] if the digest or the user code is
    /// taken (by a record not yet purged), and nothing is written.
    async fn insert(
        &self,
        digest: SecretDigest,
        record: DeviceAuthorization,
    ) -> Result<(), StoreError>;
    /// The authorization with this user code, until purged.
    async fn find(&self, user_code: &UserCode) -> Result<Option<DeviceAuthorization>, StoreError>;
    /// Applies [`decide_step`] to the authorization with this user code, atomically: the record
    /// as written, or `None` if there is none or it cannot be decided (then nothing changes).
    async fn decide(
        &self,
        user_code: &UserCode,
        decision: DeviceDecision,
        now: UnixTime,
    ) -> Result<Option<DeviceAuthorization>, StoreError>;
    /// Applies [`poll_step`] to the authorization with this digest, atomically: of concurrent
    /// polls after approval exactly one is [`PollOutcome::Approved`]. `None`: no such code.
    async fn poll(
        &self,
        digest: &SecretDigest,
        client: &ClientId,
        now: UnixTime,
    ) -> Result<Option<PollOutcome>, StoreError>;
    /// Deletes authorizations whose `expires_at` is before `cutoff`, and their user codes;
    /// how many.
    async fn purge_expired(&self, cutoff: UnixTime) -> Result<usize, StoreError>;
}
