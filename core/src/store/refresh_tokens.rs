//! Refresh tokens: opaque, stored by digest, in families. Each use rotates the token (a
//! successor in the same family); using a rotated token again within the grace window gets the
//! same successor, after it revokes the whole family (RFC 9700 §4.14.2).

use async_trait::async_trait;
use gatehouse_token::{SecretDigest, UnixTime};
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::client::ClientId;
use crate::resource::Resource;
use crate::scope::Scope;
use crate::user::UserId;

/// What a refresh token grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshToken {
    /// Its family: every token rotated from one authorization.
    pub family: String,
    /// The client it was issued to.
    pub client_id: ClientId,
    /// The user it acts for.
    pub user: UserId,
    /// The most it can be refreshed into.
    pub scope: Scope,
    /// The resources it can be refreshed into (the first is the default).
    pub resources: Vec<Resource>,
    /// When the user authenticated.
    pub auth_time: UnixTime,
    /// When it was issued.
    pub issued_at: UnixTime,
    /// It expires if unused until then (the idle lifetime).
    pub idle_expires_at: UnixTime,
    /// The family's absolute end, whatever the use.
    pub expires_at: UnixTime,
    /// The `sid` of the sign-in the family came from (OIDC), for the ID tokens of refreshes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// The key the token is bound to: a public client's DPoP key (RFC 9449 §5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<gatehouse_token::Confirmation>,
}

impl RefreshToken {
    /// Whether it is past its idle or absolute lifetime at `now`.
    pub fn expired(&self, now: UnixTime) -> bool {
        now >= self.idle_expires_at || now >= self.expires_at
    }
}

/// The outcome of rotating a refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// First use: the old token's record; the successor is stored.
    Rotated(RefreshToken),
    /// Used again within the grace window (less than `grace` seconds after the rotation: a
    /// grace of 0 is none), with the same successor: the old token's record;
    /// nothing changed.
    Grace(RefreshToken),
    /// Used again after the grace window (or with another successor): the whole family is now
    /// revoked. The old token's record.
    Reused(RefreshToken),
    /// Its family was revoked.
    Revoked,
    /// Past its idle or absolute lifetime; nothing changed.
    Expired,
    /// No such token.
    Unknown,
}

/// What a rotation does, decided from what the store holds about the old token: the one rule
/// every backend applies inside its atomic step ([`rotation_step`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationStep {
    /// First use: store the successor, mark the old token rotated.
    Rotate,
    /// A repeat within the grace window, with the same successor: change nothing.
    Grace,
    /// A repeat after the window, or with another successor: revoke the family.
    RevokeFamily,
    /// The family was revoked: change nothing.
    Revoked,
    /// Past its idle or absolute lifetime: change nothing.
    Expired,
}

/// The rotation rule (RFC 9700 §4.14.2): `token`, whose family is `family_revoked` or not, was
/// `rotated` at some time into some successor, or not yet; now `successor` is asked for at
/// `now`, with a grace window of `grace` seconds (`[rotation, rotation + grace)`: 0 is none).
pub fn rotation_step(
    token: &RefreshToken,
    family_revoked: bool,
    rotated: Option<(UnixTime, SecretDigest)>,
    successor: &SecretDigest,
    now: UnixTime,
    grace: u64,
) -> RotationStep {
    if family_revoked {
        return RotationStep::Revoked;
    }
    if token.expired(now) {
        return RotationStep::Expired;
    }
    match rotated {
        None => RotationStep::Rotate,
        Some((at, kept)) if kept == *successor && now < at.plus(grace) => RotationStep::Grace,
        Some(_) => RotationStep::RevokeFamily,
    }
}

/// Refresh tokens by digest, and their families.
#[async_trait]
pub trait RefreshTokenStore: Send + Sync {
    /// Stores the first token of a new family.
    async fn insert(&self, digest: SecretDigest, token: RefreshToken) -> Result<(), StoreError>;
    /// The token with this digest and whether its family is revoked.
    async fn get(&self, digest: &SecretDigest) -> Result<Option<(RefreshToken, bool)>, StoreError>;
    /// Rotates `old` to `successor` (stored as `next`) at `now`, atomically: see [`Rotation`].
    /// Two concurrent rotations of one token with the same successor are one `Rotated` and one
    /// `Grace`.
    async fn rotate(
        &self,
        old: &SecretDigest,
        successor: SecretDigest,
        next: RefreshToken,
        now: UnixTime,
        grace: u64,
    ) -> Result<Rotation, StoreError>;
    /// Extends the idle lifetime of a token used without rotation; whether it was found live.
    async fn touch(
        &self,
        digest: &SecretDigest,
        idle_expires_at: UnixTime,
    ) -> Result<bool, StoreError>;
    /// Revokes a family; whether it existed (and was not revoked already).
    async fn revoke_family(&self, family: &str) -> Result<bool, StoreError>;
    /// Revokes every family of a client; how many.
    async fn revoke_client(&self, client: &ClientId) -> Result<usize, StoreError>;
    /// Revokes every family of a user; how many.
    async fn revoke_user(&self, user: &UserId) -> Result<usize, StoreError>;
    /// Revokes every family a user gave a client (their consent was revoked); how many.
    async fn revoke_grant(&self, user: &UserId, client: &ClientId) -> Result<usize, StoreError>;
    /// Deletes tokens (and families) whose absolute `expires_at` is before `cutoff`; how many
    /// tokens.
    async fn purge_expired(&self, cutoff: UnixTime) -> Result<usize, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> RefreshToken {
        RefreshToken {
            family: "f".into(),
            client_id: ClientId::new("c").unwrap(),
            user: UserId::from_stored("u"),
            scope: Scope::empty(),
            resources: vec![],
            auth_time: UnixTime(0),
            issued_at: UnixTime(0),
            idle_expires_at: UnixTime(100),
            expires_at: UnixTime(1_000),
            sid: None,
            cnf: None,
        }
    }

    #[test]
    fn the_rotation_rule() {
        let (a, b) = (SecretDigest([1; 32]), SecretDigest([2; 32]));
        let t = token();
        let step = |revoked, rotated, next: &SecretDigest, now, grace| {
            rotation_step(&t, revoked, rotated, next, UnixTime(now), grace)
        };
        assert_eq!(step(false, None, &a, 10, 30), RotationStep::Rotate);
        assert_eq!(step(true, None, &a, 10, 30), RotationStep::Revoked);
        assert_eq!(
            step(false, None, &a, 100, 30),
            RotationStep::Expired,
            "idle"
        );
        let rotated = Some((UnixTime(10), a));
        assert_eq!(step(false, rotated, &a, 39, 30), RotationStep::Grace);
        assert_eq!(
            step(false, rotated, &a, 40, 30),
            RotationStep::RevokeFamily,
            "window ends"
        );
        assert_eq!(
            step(false, rotated, &b, 11, 30),
            RotationStep::RevokeFamily,
            "other successor"
        );
        assert_eq!(
            step(false, rotated, &a, 10, 0),
            RotationStep::RevokeFamily,
            "no grace"
        );
        assert_eq!(step(true, rotated, &a, 11, 30), RotationStep::Revoked);
    }
}
