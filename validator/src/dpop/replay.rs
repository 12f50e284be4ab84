//! A bounded in-memory cache of the DPoP proofs a resource server has accepted, so that a
//! proof is used once (RFC 9449 §11.1). Entries are keyed by the key thumbprint and `jti`
//! together (one key's `jti`s cannot collide with another's) and kept until the proof's `iat`
//! leaves the window. When the cache is full of live entries a new proof is refused, never an
//! old entry forgotten: forgetting one would let its proof be replayed.

use std::collections::HashMap;
use std::sync::Mutex;

use gatehouse_token::UnixTime;
use ring::digest;

use super::{Proof, ProofError};

/// The proofs seen, by digest of (`jkt`, `jti`), with the time each may be forgotten.
#[derive(Debug)]
pub struct ReplayCache {
    capacity: usize,
    seen: Mutex<Seen>,
}

/// The entries, and the earliest time any of them may be forgotten: while that is still ahead,
/// a full cache refuses at once instead of sweeping every entry under the lock for nothing.
#[derive(Debug, Default)]
struct Seen {
    entries: HashMap<[u8; 32], UnixTime>,
    earliest: Option<UnixTime>,
}

impl ReplayCache {
    /// The default capacity: 65536 proofs (a few MiB).
    pub const DEFAULT_CAPACITY: usize = 64 * 1024;

    /// A cache for at most `capacity` live proofs.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            seen: Mutex::new(Seen::default()),
        }
    }

    /// Records `proof`, kept until `until`: an error if it was seen before, or if the cache is
    /// full of proofs that must still be remembered at `now`.
    pub fn first_use(
        &self,
        proof: &Proof,
        until: UnixTime,
        now: UnixTime,
    ) -> Result<(), ProofError> {
        let key = digest_of(&proof.jkt, &proof.jti);
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.entries.get(&key).is_some_and(|&kept| kept >= now) {
            return Err(ProofError::Replayed);
        }
        if seen.entries.len() >= self.capacity {
            if seen.earliest.is_some_and(|earliest| earliest >= now) {
                return Err(ProofError::Busy);
            }
            seen.entries.retain(|_, kept| *kept >= now);
            seen.earliest = seen.entries.values().min().copied();
            if seen.entries.len() >= self.capacity {
                return Err(ProofError::Busy);
            }
        }
        seen.entries.insert(key, until);
        seen.earliest = Some(seen.earliest.map_or(until, |e| e.min(until)));
        Ok(())
    }

    /// How many proofs are remembered.
    pub fn len(&self) -> usize {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entries
            .len()
    }

    /// Whether no proof is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for ReplayCache {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY)
    }
}

/// SHA-256 over the thumbprint's length, the thumbprint and the `jti`: no pair reads as another.
fn digest_of(jkt: &str, jti: &str) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(&(jkt.len() as u64).to_be_bytes());
    ctx.update(jkt.as_bytes());
    ctx.update(jti.as_bytes());
    let mut out = [0; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

#[cfg(test)]
mod tests {
    use gatehouse_token::Algorithm;

    use super::*;

    fn proof(jkt: &str, jti: &str) -> Proof {
        Proof {
            jkt: jkt.into(),
            jti: jti.into(),
            iat: UnixTime(100),
            nonce: None,
            alg: Algorithm::ES256,
        }
    }

    #[test]
    fn once_per_key_and_jti_and_bounded() {
        let cache = ReplayCache::new(2);
        let now = UnixTime(100);
        cache
            .first_use(&proof("k", "1"), UnixTime(160), now)
            .unwrap();
        assert_eq!(
            cache.first_use(&proof("k", "1"), UnixTime(160), now),
            Err(ProofError::Replayed)
        );
        cache
            .first_use(&proof("other", "1"), UnixTime(160), now)
            .unwrap();
        assert_eq!(
            cache.first_use(&proof("k", "2"), UnixTime(160), now),
            Err(ProofError::Busy),
            "full of live entries: refused, nothing forgotten"
        );
        // Once the entries are past their window they make room.
        cache
            .first_use(&proof("k", "2"), UnixTime(300), UnixTime(200))
            .unwrap();
        assert_eq!(cache.len(), 1);
    }
}
