//! The node-local set of revoked JWT ids. Lock-free reads; bounded because an entry leaves once
//! the token it names would have expired anyway ([`RevocationSet::purge`]).

use gatehouse_token::UnixTime;

/// Revoked `jti`s with the expiry of their tokens.
#[derive(Debug, Default)]
pub struct RevocationSet {
    map: papaya::HashMap<String, UnixTime>,
}

impl RevocationSet {
    /// Records a revocation.
    pub fn insert(&self, jti: String, exp: UnixTime) {
        self.map.pin().insert(jti, exp);
    }

    /// Whether `jti` is revoked.
    pub fn contains(&self, jti: &str) -> bool {
        self.map.pin().contains_key(jti)
    }

    /// Drops entries whose token's `exp` is before `cutoff`. Pass `now` minus the leeway any
    /// validator still allows (see [`crate::Validator::purge_revocations`]), never `now` itself.
    pub fn purge(&self, cutoff: UnixTime) {
        self.map.pin().retain(|_, exp| *exp >= cutoff);
    }

    /// How many revocations are held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_leave_after_expiry() {
        let set = RevocationSet::default();
        set.insert("a".into(), UnixTime(10));
        set.insert("b".into(), UnixTime(20));
        assert!(set.contains("a") && set.contains("b") && !set.contains("c"));
        set.purge(UnixTime(15));
        assert!(!set.contains("a") && set.contains("b"));
        assert_eq!(set.len(), 1);
    }
}
