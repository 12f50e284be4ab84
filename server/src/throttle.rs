//! The credential-guessing limit (OAuth 2.1 §2.4.1; shared/reference/security-matrix.md §1.5,
//! item 39): failed client authentications are counted per presented client id and per address
//! in fixed windows; once a key reaches its limit, every authentication for it is refused with
//! 429 until the window ends, the right secret included, so guessing cannot go on at full speed.
//!
//! A client id is public (it is in every token the client holds), so anyone could lock a
//! client out by failing on purpose. To blunt that, an address that authenticated as a client
//! while that client was being guessed at is remembered for the window, and keeps being served
//! for that client id (its own address count still applies).
//!
//! Lock-free on the hot path (one map read per key per request, a write only while a client id
//! has failures); bounded in memory: at most [`MAX_KEYS`] keys are tracked per map, expired
//! windows are swept by the maintenance loop and whenever a map is full.

use std::borrow::Borrow;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};

use gatehouse_token::UnixTime;

/// The most keys one throttle tracks; beyond it, new keys are not counted until a sweep.
pub const MAX_KEYS: usize = 100_000;

/// One key's current window.
#[derive(Debug)]
struct Window {
    start: UnixTime,
    failures: AtomicU32,
}

/// Failure counts per key in fixed windows.
#[derive(Debug)]
pub struct Throttle<K: Hash + Eq> {
    limit: u32,
    window: u64,
    map: papaya::HashMap<K, Window>,
}

impl<K: Hash + Eq + Send + Sync> Throttle<K> {
    /// At most `limit` failures per key per `window` seconds; a `limit` of 0 turns it off.
    pub fn new(limit: u32, window: u64) -> Self {
        Self {
            limit,
            window,
            map: papaya::HashMap::new(),
        }
    }

    /// `Err(seconds to wait)` when `key` has used up its failures in the current window.
    pub fn check<Q>(&self, key: &Q, now: UnixTime) -> Result<(), u64>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if self.limit == 0 {
            return Ok(());
        }
        let map = self.map.pin();
        match map.get(key) {
            Some(w)
                if now < w.start.plus(self.window)
                    && w.failures.load(Ordering::Relaxed) >= self.limit =>
            {
                Err(w.start.plus(self.window).0 - now.0)
            }
            _ => Ok(()),
        }
    }

    /// Counts a failed authentication of `key`.
    pub fn fail<Q>(&self, key: &Q, now: UnixTime)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        if self.limit == 0 {
            return;
        }
        let map = self.map.pin();
        if let Some(w) = map.get(key) {
            if now < w.start.plus(self.window) {
                w.failures.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        if map.len() >= MAX_KEYS {
            self.sweep(now);
            if map.len() >= MAX_KEYS {
                return;
            }
        }
        map.insert(
            key.to_owned(),
            Window {
                start: now,
                failures: AtomicU32::new(1),
            },
        );
    }

    /// Whether `key` has failures in the current window.
    pub fn has_failures<Q>(&self, key: &Q, now: UnixTime) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.limit != 0
            && self
                .map
                .pin()
                .get(key)
                .is_some_and(|w| now < w.start.plus(self.window))
    }

    /// Forgets windows that have ended.
    pub fn sweep(&self, now: UnixTime) {
        let window = self.window;
        self.map.pin().retain(|_, w| now < w.start.plus(window));
    }

    /// How many keys are tracked.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// An address as the throttle counts it: IPv4 whole, IPv6 by its /64 (one host usually holds
/// a whole /64, so counting single addresses would let it rotate through billions).
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
    }
}

/// The throttles of client authentication.
#[derive(Debug)]
pub struct AuthThrottle {
    /// By the client id the request presented (known or not).
    pub clients: Throttle<String>,
    /// By the peer address.
    pub addresses: Throttle<IpAddr>,
    /// (client id, address) pairs that authenticated while the id had failures, with when.
    vouched: papaya::HashMap<(String, IpAddr), UnixTime>,
    window: u64,
}

impl AuthThrottle {
    /// From the configured limits.
    pub fn new(limits: &crate::config::Limits) -> Self {
        Self {
            clients: Throttle::new(limits.auth_failures_per_client, limits.auth_failure_window),
            addresses: Throttle::new(limits.auth_failures_per_address, limits.auth_failure_window),
            vouched: papaya::HashMap::new(),
            window: limits.auth_failure_window,
        }
    }

    /// Records that `address` authenticated as `client_id` at `now`, if the id is being
    /// guessed at (otherwise there is nothing to remember, and the hot path writes nothing).
    pub fn succeeded(&self, client_id: &str, address: IpAddr, now: UnixTime) {
        if !self.clients.has_failures(client_id, now) {
            return;
        }
        let vouched = self.vouched.pin();
        if vouched.len() >= MAX_KEYS {
            return;
        }
        vouched.insert((client_id.to_owned(), address), now);
    }

    /// Whether `address` authenticated as `client_id` in the current window.
    pub fn vouched(&self, client_id: &str, address: IpAddr, now: UnixTime) -> bool {
        self.vouched
            .pin()
            .get(&(client_id.to_owned(), address))
            .is_some_and(|at| now < at.plus(self.window))
    }

    /// Sweeps every map.
    pub fn sweep(&self, now: UnixTime) {
        self.clients.sweep(now);
        self.addresses.sweep(now);
        let window = self.window;
        self.vouched.pin().retain(|_, at| now < at.plus(window));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_after_the_limit_until_the_window_ends() {
        let t: Throttle<String> = Throttle::new(3, 60);
        let key = "client";
        for _ in 0..3 {
            assert_eq!(t.check(key, UnixTime(100)), Ok(()));
            t.fail(key, UnixTime(100));
        }
        assert_eq!(t.check(key, UnixTime(100)), Err(60));
        assert_eq!(t.check(key, UnixTime(159)), Err(1));
        assert_eq!(t.check("other", UnixTime(100)), Ok(()));
        assert_eq!(t.check(key, UnixTime(160)), Ok(()), "a new window");
        t.fail(key, UnixTime(160));
        assert_eq!(t.check(key, UnixTime(160)), Ok(()), "counting starts again");
        t.sweep(UnixTime(1000));
        assert!(t.is_empty());
    }

    #[test]
    fn zero_turns_it_off() {
        let t = Throttle::new(0, 60);
        for _ in 0..100 {
            t.fail(&1u8, UnixTime(0));
        }
        assert_eq!(t.check(&1u8, UnixTime(0)), Ok(()));
        assert!(t.is_empty());
    }

    #[test]
    fn memory_is_bounded() {
        let t = Throttle::new(1, 60);
        for i in 0..(MAX_KEYS as u32 + 10) {
            t.fail(&i, UnixTime(0));
        }
        assert_eq!(t.len(), MAX_KEYS);
        // Once windows end, new keys are tracked again.
        t.fail(&u32::MAX, UnixTime(61));
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn an_address_that_authenticated_during_an_attack_is_still_served() {
        let limits = crate::config::Limits {
            auth_failures_per_client: 2,
            ..Default::default()
        };
        let t = AuthThrottle::new(&limits);
        let (legit, attacker): (IpAddr, IpAddr) = (
            "192.0.2.1".parse().unwrap(),
            "198.51.100.7".parse().unwrap(),
        );
        t.succeeded("rs", legit, UnixTime(10));
        assert!(
            !t.vouched("rs", legit, UnixTime(10)),
            "no attack: nothing kept"
        );
        t.clients.fail("rs", UnixTime(11));
        t.succeeded("rs", legit, UnixTime(12));
        t.clients.fail("rs", UnixTime(13));
        assert!(
            t.clients.check("rs", UnixTime(14)).is_err(),
            "the id is locked"
        );
        assert!(t.vouched("rs", legit, UnixTime(14)));
        assert!(!t.vouched("rs", attacker, UnixTime(14)));
        t.sweep(UnixTime(12 + 60));
        assert!(!t.vouched("rs", legit, UnixTime(12 + 60)));
    }

    #[test]
    fn ipv6_counts_by_prefix() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(address_key(mapped), "192.0.2.1".parse::<IpAddr>().unwrap());
    }
}
