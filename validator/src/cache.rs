//! A bounded, lock-free cache of validated tokens.
//!
//! A fixed array of slots (a power of two), each an `ArcSwapOption`: a lookup hashes the key
//! (the whole token, or an opaque token's digest) with a per-process random seed, loads one slot
//! (wait-free) and compares the stored key byte for byte, so a hit is only ever the exact same
//! token. An insert replaces whatever the slot held. The cache never holds more than its slots,
//! whatever stream of distinct tokens arrives; what it holds is re-checked for expiry and
//! revocation on every hit by the caller.

use std::hash::BuildHasher;
use std::sync::Arc;

use arc_swap::ArcSwapOption;

/// One cached token.
#[derive(Debug)]
struct Entry<V> {
    key: Box<[u8]>,
    value: V,
}

/// A direct-mapped cache of token → `V` (what validation established).
#[derive(Debug)]
pub struct TokenCache<V> {
    slots: Box<[ArcSwapOption<Entry<V>>]>,
    mask: usize,
    hasher: foldhash::fast::RandomState,
}

impl<V: Clone> TokenCache<V> {
    /// A cache with at least `capacity` slots (rounded up to a power of two); 0 disables it.
    pub fn new(capacity: usize) -> Self {
        let slots = if capacity == 0 {
            0
        } else {
            capacity.next_power_of_two()
        };
        Self {
            slots: (0..slots).map(|_| ArcSwapOption::empty()).collect(),
            mask: slots.saturating_sub(1),
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    /// How many slots there are: the most entries it can hold.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    fn slot(&self, key: &[u8]) -> Option<&ArcSwapOption<Entry<V>>> {
        if self.slots.is_empty() {
            return None;
        }
        let index = (self.hasher.hash_one(key) as usize) & self.mask;
        self.slots.get(index)
    }

    /// The value cached for exactly `key`.
    pub fn get(&self, key: &[u8]) -> Option<V> {
        let guard = self.slot(key)?.load();
        let entry = guard.as_ref()?;
        (*entry.key == *key).then(|| entry.value.clone())
    }

    /// Caches `value` for `key`, replacing whatever shared its slot.
    pub fn insert(&self, key: &[u8], value: V) {
        if let Some(slot) = self.slot(key) {
            slot.store(Some(Arc::new(Entry {
                key: key.into(),
                value,
            })));
        }
    }

    /// How many slots hold an entry (a scan: for tests and metrics, not the hot path).
    pub fn len(&self) -> usize {
        self.slots.iter().filter(|s| s.load().is_some()).count()
    }

    /// Whether no slot holds an entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(jti: &str) -> Arc<str> {
        Arc::from(jti)
    }

    #[test]
    fn hits_only_the_exact_key() {
        let cache = TokenCache::new(8);
        cache.insert(b"token-a", claims("a"));
        assert_eq!(&*cache.get(b"token-a").unwrap(), "a");
        assert!(cache.get(b"token-b").is_none());
        assert!(cache.get(b"token-a ").is_none());
        assert!(cache.get(b"token-").is_none());
    }

    #[test]
    fn never_grows_past_its_slots() {
        let cache = TokenCache::new(100);
        assert_eq!(cache.capacity(), 128);
        for i in 0..100_000 {
            cache.insert(format!("token-{i}").as_bytes(), claims("x"));
        }
        assert!(cache.len() <= 128);
        assert!(cache.len() > 64, "slots are used");
    }

    #[test]
    fn capacity_zero_disables_it() {
        let cache = TokenCache::new(0);
        cache.insert(b"t", claims("t"));
        assert!(cache.get(b"t").is_none());
        assert_eq!(cache.len(), 0);
    }
}
