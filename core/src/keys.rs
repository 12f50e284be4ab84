//! The signing keys' rotation plan: a pure function of the stored key records, the time and the
//! schedule. The server's key manager carries the plan out (generating keys in a backend,
//! writing records, swapping the key ring); everything it decides is here, tested without I/O.
//!
//! A key is `next` (published in the JWKS, not yet signing), then `active` (signing), then
//! `retired` (published until every token it signed has expired), then removed.

use gatehouse_token::UnixTime;

use crate::store::{KeyRecord, KeyState};

/// When keys rotate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// How long a key signs before the next one takes over; `None`: only on demand.
    pub period: Option<u64>,
    /// How long a new key is published before it signs.
    pub prepublish: u64,
}

/// One thing the schedule asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Generate a key and publish it as `next`: the active key's period ends within
    /// `prepublish`, and resource servers must see the next key before it signs.
    PublishNext,
    /// Make the `next` key with this `kid` active: the active key's period is over and the next
    /// key has been published for `prepublish`.
    Promote(String),
    /// Remove the retired key with this `kid`: every token it signed has expired.
    Remove(String),
}

/// The newest record in `state`.
pub fn newest(records: &[KeyRecord], state: KeyState) -> Option<&KeyRecord> {
    records
        .iter()
        .filter(|r| r.state == state)
        .max_by_key(|r| r.created_at)
}

/// What `rotation` asks for at `now`, given the stored `records`.
pub fn plan(records: &[KeyRecord], now: UnixTime, rotation: &Rotation) -> Vec<Step> {
    let mut steps = Vec::new();
    let since = newest(records, KeyState::Active).and_then(|r| r.activated_at);
    if let (Some(period), Some(since)) = (rotation.period, since) {
        match newest(records, KeyState::Next) {
            None if now >= since.plus(period.saturating_sub(rotation.prepublish)) => {
                steps.push(Step::PublishNext);
            }
            Some(next)
                if now >= since.plus(period)
                    && now >= next.created_at.plus(rotation.prepublish) =>
            {
                steps.push(Step::Promote(next.kid.clone()));
            }
            _ => {}
        }
    }
    steps.extend(
        records
            .iter()
            .filter(|r| r.state == KeyState::Retired && r.publish_until.is_some_and(|t| t < now))
            .map(|r| Step::Remove(r.kid.clone())),
    );
    steps
}

/// Retires `record` at `now`: it stops signing and stays published for `retain` seconds (the
/// longest token lifetime in force plus the leeway).
fn retire(record: &mut KeyRecord, now: UnixTime, retain: u64) {
    record.state = KeyState::Retired;
    record.retired_at = Some(now);
    record.publish_until = Some(now.plus(retain));
}

/// The records to write to promote `next` at `now`: `next` as active first (so that a crash
/// between the writes leaves two active keys, which [`settle`] resolves, never none), then every
/// other active key retired.
pub fn promote(
    records: &[KeyRecord],
    next: &KeyRecord,
    now: UnixTime,
    retain: u64,
) -> Vec<KeyRecord> {
    let mut promoted = next.clone();
    promoted.state = KeyState::Active;
    promoted.activated_at = Some(now);
    let mut writes = vec![promoted];
    writes.extend(settle(records, &next.kid, now, retain));
    writes
}

/// The records to write so that `keep` is the only active key (after an interrupted rotation,
/// or when a key of another backend takes over): every other active key retired.
pub fn settle(records: &[KeyRecord], keep: &str, now: UnixTime, retain: u64) -> Vec<KeyRecord> {
    records
        .iter()
        .filter(|r| r.state == KeyState::Active && r.kid != keep)
        .map(|r| {
            let mut old = r.clone();
            retire(&mut old, now, retain);
            old
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use gatehouse_token::Algorithm;

    use super::*;

    const DAY: u64 = 86_400;
    const ROTATION: Rotation = Rotation {
        period: Some(30 * DAY),
        prepublish: 3600,
    };

    fn record(kid: &str, state: KeyState, created_at: u64) -> KeyRecord {
        KeyRecord {
            kid: kid.into(),
            alg: Algorithm::ES256,
            backend: gatehouse_token::BackendKind::Software,
            material: String::new(),
            state,
            created_at: UnixTime(created_at),
            activated_at: (state == KeyState::Active).then_some(UnixTime(created_at)),
            retired_at: None,
            publish_until: None,
        }
    }

    #[test]
    fn the_next_key_is_published_prepublish_before_the_period_ends() {
        let records = [record("a", KeyState::Active, 0)];
        let just_before = 30 * DAY - 3600 - 1;
        assert!(plan(&records, UnixTime(just_before), &ROTATION).is_empty());
        assert_eq!(
            plan(&records, UnixTime(just_before + 1), &ROTATION),
            [Step::PublishNext]
        );
    }

    #[test]
    fn the_next_key_signs_when_the_period_is_over_and_it_was_published_long_enough() {
        let early_next = [
            record("a", KeyState::Active, 0),
            record("b", KeyState::Next, 30 * DAY - 3600),
        ];
        assert!(plan(&early_next, UnixTime(30 * DAY - 1), &ROTATION).is_empty());
        assert_eq!(
            plan(&early_next, UnixTime(30 * DAY), &ROTATION),
            [Step::Promote("b".into())]
        );
        // A next key published late (the server was down) waits its full prepublication.
        let late_next = [
            record("a", KeyState::Active, 0),
            record("b", KeyState::Next, 31 * DAY),
        ];
        assert!(plan(&late_next, UnixTime(31 * DAY + 3599), &ROTATION).is_empty());
        assert_eq!(
            plan(&late_next, UnixTime(31 * DAY + 3600), &ROTATION),
            [Step::Promote("b".into())]
        );
    }

    #[test]
    fn rotation_on_demand_only_plans_removals() {
        let manual = Rotation {
            period: None,
            prepublish: 3600,
        };
        let mut old = record("old", KeyState::Retired, 0);
        old.publish_until = Some(UnixTime(100));
        let records = [record("a", KeyState::Active, 0), old];
        assert!(
            plan(&records, UnixTime(100), &manual).is_empty(),
            "publish_until is inclusive"
        );
        assert_eq!(
            plan(&records, UnixTime(101), &manual),
            [Step::Remove("old".into())]
        );
    }

    #[test]
    fn promotion_writes_the_new_key_first_and_retires_every_other_active_one() {
        let records = [
            record("a", KeyState::Active, 0),
            record("stray", KeyState::Active, 5),
            record("b", KeyState::Next, 10),
        ];
        let writes = promote(&records, &records[2], UnixTime(50), 100);
        assert_eq!(writes[0].kid, "b");
        assert_eq!(
            (writes[0].state, writes[0].activated_at),
            (KeyState::Active, Some(UnixTime(50)))
        );
        let retired: Vec<(&str, Option<UnixTime>)> = writes[1..]
            .iter()
            .map(|r| (r.kid.as_str(), r.publish_until))
            .collect();
        assert_eq!(
            retired,
            [("a", Some(UnixTime(150))), ("stray", Some(UnixTime(150)))]
        );
        assert!(writes[1..].iter().all(|r| r.state == KeyState::Retired));
    }

    #[test]
    fn settling_keeps_one_active_key() {
        let records = [
            record("a", KeyState::Active, 0),
            record("b", KeyState::Active, 10),
        ];
        let writes = settle(&records, "b", UnixTime(20), 60);
        assert_eq!(writes.len(), 1);
        assert_eq!(
            (writes[0].kid.as_str(), writes[0].state),
            ("a", KeyState::Retired)
        );
        assert_eq!(newest(&records, KeyState::Active).unwrap().kid, "b");
    }
}
