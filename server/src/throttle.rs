//! The credential-guessing limit (OAuth 2.1 §2.4.1; shared/reference/security-matrix.md §1.5,
//! item 39): failed client authentications are counted per presented client id and per address
//! in fixed windows; once a key reaches its limit, every authentication for it is refused with
//! 429 until the window ends, the right secret included, so guessing cannot go on at full speed.
//!
//! A client id is public (it is in every token the client holds), so anyone could lock a
//! client out by failing on purpose. To blunt that, the addresses each client authenticated from
//! in the last [`KNOWN_FOR`] are remembered, and keep being served for that client id while it
//! is locked: the attacker's address and new ones are refused, the client's usual hosts are not.
//! A known address is not a free pass, though: its failures for that client are counted too,
//! per (client, address), under the same limit, so an attacker sharing the owner's address (a
//! NAT, a reverse proxy where every request has the proxy's address) is still stopped, at the
//! cost of the owner behind that same address.
//!
//! Lock-free on the hot path (one map read per key per request; a write per failure, and per
//! success only when an address is new or last seen over [`REFRESH`] ago); bounded in memory: at
//! most [`MAX_KEYS`] keys per map, swept by the maintenance loop and, when a map is full, at most
//! once a second (so filling it costs an attacker more than it costs the server). The log gets
//! one line when a key is locked, not one per failure.

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use gatehouse_token::UnixTime;

/// The most keys one map tracks; beyond it, new keys are not tracked until a sweep.
pub const MAX_KEYS: usize = 100_000;
/// How long an address that authenticated as a client is remembered for it.
pub const KNOWN_FOR: u64 = 86_400;
/// How old a remembered address may get before a success from it is written again.
pub const REFRESH: u64 = 3_600;

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
    /// When the map was last swept because it was full.
    swept: AtomicU64,
}

impl<K: Hash + Eq + Send + Sync> Throttle<K> {
    /// At most `limit` failures per key per `window` seconds; a `limit` of 0 turns it off.
    pub fn new(limit: u32, window: u64) -> Self {
        Self {
            limit,
            window,
            map: papaya::HashMap::new(),
            swept: AtomicU64::new(0),
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

    /// Counts a failed authentication of `key`; whether this failure locked it.
    pub fn fail<Q>(&self, key: &Q, now: UnixTime) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        if self.limit == 0 {
            return false;
        }
        let map = self.map.pin();
        if let Some(w) = map.get(key) {
            if now < w.start.plus(self.window) {
                return w.failures.fetch_add(1, Ordering::Relaxed) + 1 == self.limit;
            }
        }
        if map.len() >= MAX_KEYS {
            // Sweep at most once a second: a flood of new keys must not make every failure
            // scan the whole map.
            if self.swept.swap(now.0, Ordering::Relaxed) != now.0 {
                self.sweep(now);
            }
            if map.len() >= MAX_KEYS {
                return false;
            }
        }
        map.insert(
            key.to_owned(),
            Window {
                start: now,
                failures: AtomicU32::new(1),
            },
        );
        self.limit == 1
    }

    /// Takes one of `key`'s `limit` uses of the current window, atomically: of any number of
    /// concurrent callers, at most `limit` per window get `Ok`; the others get `Err(seconds to
    /// wait)`. For a budget of attempts that must hold under concurrency (registrations), where
    /// [`Self::check`] then [`Self::fail`] would let a burst through. When the map is full of
    /// other keys, a new key is refused until a sweep makes room.
    pub fn take<Q>(&self, key: &Q, now: UnixTime) -> Result<(), u64>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        if self.limit == 0 {
            return Ok(());
        }
        let map = self.map.pin();
        if map.get(key).is_none() && map.len() >= MAX_KEYS {
            if self.swept.swap(now.0, Ordering::Relaxed) != now.0 {
                self.sweep(now);
            }
            if map.len() >= MAX_KEYS {
                return Err(self.window);
            }
        }
        let mut window = map.get_or_insert_with(key.to_owned(), || Window {
            start: now,
            failures: AtomicU32::new(0),
        });
        if now >= window.start.plus(self.window) {
            // The window ended: a fresh one (two callers racing here each start one; the
            // second replaces the first, which costs at most one extra use).
            map.insert(
                key.to_owned(),
                Window {
                    start: now,
                    failures: AtomicU32::new(0),
                },
            );
            window = map.get(key).unwrap_or(window);
        }
        let used = window.failures.fetch_add(1, Ordering::Relaxed) + 1;
        if used > self.limit {
            Err(window
                .start
                .plus(self.window)
                .0
                .saturating_sub(now.0)
                .max(1))
        } else {
            Ok(())
        }
    }

    /// Gives back one use [`Self::take`] took from `key` in the current window (the attempt
    /// turned out not to count, e.g. a right user code).
    pub fn refund<Q>(&self, key: &Q, now: UnixTime)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Some(w) = self.map.pin().get(key) {
            if now < w.start.plus(self.window) {
                let _ = w
                    .failures
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
            }
        }
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
    /// When each (client, address) pair last authenticated, the client by a keyed hash of its
    /// id (a lookup allocates nothing; the per-process key keeps collisions out of reach).
    known: papaya::HashMap<(u64, IpAddr), UnixTime>,
    /// Failures per (client, address) pair: what still limits a known address.
    pairs: Throttle<(u64, IpAddr)>,
    hasher: foldhash::fast::RandomState,
}

impl AuthThrottle {
    /// From the configured limits.
    pub fn new(limits: &crate::config::Limits) -> Self {
        Self {
            clients: Throttle::new(limits.auth_failures_per_client, limits.auth_failure_window),
            addresses: Throttle::new(limits.auth_failures_per_address, limits.auth_failure_window),
            known: papaya::HashMap::new(),
            pairs: Throttle::new(limits.auth_failures_per_client, limits.auth_failure_window),
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    fn pair(&self, client_id: &str, address: IpAddr) -> (u64, IpAddr) {
        (self.hasher.hash_one(client_id), address)
    }

    /// Remembers that `address` authenticated as `client_id` at `now` (written only when the
    /// pair is new or was last written over [`REFRESH`] ago).
    pub fn succeeded(&self, client_id: &str, address: IpAddr, now: UnixTime) {
        let pair = self.pair(client_id, address);
        let known = self.known.pin();
        if known.get(&pair).is_some_and(|at| now < at.plus(REFRESH)) || known.len() >= MAX_KEYS {
            return;
        }
        known.insert(pair, now);
    }

    /// Whether `address` keeps service for `client_id` while the id is locked: it
    /// authenticated as the client in the last [`KNOWN_FOR`], and its own failures for the
    /// client have not reached the limit.
    pub fn exempt(&self, client_id: &str, address: IpAddr, now: UnixTime) -> bool {
        let pair = self.pair(client_id, address);
        self.known
            .pin()
            .get(&pair)
            .is_some_and(|at| now < at.plus(KNOWN_FOR))
            && self.pairs.check(&pair, now).is_ok()
    }

    /// Counts a failed authentication as `client_id` from `address` against the pair, when the
    /// address is one the client is known at (only those can be exempt, see [`Self::exempt`];
    /// the id's and the address's own counts are [`Self::clients`] and [`Self::addresses`]).
    pub fn failed_from(&self, client_id: &str, address: IpAddr, now: UnixTime) {
        let pair = self.pair(client_id, address);
        if self.known.pin().contains_key(&pair) {
            self.pairs.fail(&pair, now);
        }
    }

    /// Sweeps every map.
    pub fn sweep(&self, now: UnixTime) {
        self.clients.sweep(now);
        self.addresses.sweep(now);
        self.pairs.sweep(now);
        self.known.pin().retain(|_, at| now < at.plus(KNOWN_FOR));
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
    fn the_addresses_a_client_authenticated_from_are_known_for_a_day() {
        let t = AuthThrottle::new(&crate::config::Limits::default());
        let (usual, other): (IpAddr, IpAddr) = (
            "192.0.2.1".parse().unwrap(),
            "198.51.100.7".parse().unwrap(),
        );
        t.succeeded("rs", usual, UnixTime(10));
        assert!(t.exempt("rs", usual, UnixTime(10 + KNOWN_FOR - 1)));
        assert!(!t.exempt("rs", other, UnixTime(11)));
        assert!(!t.exempt("other-client", usual, UnixTime(11)));
        // A success within REFRESH writes nothing; after it, the pair is refreshed.
        t.succeeded("rs", usual, UnixTime(10 + REFRESH - 1));
        assert!(!t.exempt("rs", usual, UnixTime(10 + KNOWN_FOR)));
        t.succeeded("rs", usual, UnixTime(10 + REFRESH));
        assert!(t.exempt("rs", usual, UnixTime(10 + KNOWN_FOR)));
        t.sweep(UnixTime(10 + REFRESH + KNOWN_FOR));
        assert!(!t.exempt("rs", usual, UnixTime(10)));
    }

    /// A probe found that behind a proxy (every request from one known address) guessing went
    /// on for ever once the owner had authenticated through it.
    #[test]
    fn a_known_address_that_keeps_failing_loses_its_exemption() {
        let limits = crate::config::Limits {
            auth_failures_per_client: 3,
            ..Default::default()
        };
        let t = AuthThrottle::new(&limits);
        let proxy: IpAddr = "192.0.2.1".parse().unwrap();
        t.succeeded("rs", proxy, UnixTime(10));
        for _ in 0..2 {
            t.failed_from("rs", proxy, UnixTime(11));
        }
        assert!(t.exempt("rs", proxy, UnixTime(11)));
        t.failed_from("rs", proxy, UnixTime(11));
        assert!(!t.exempt("rs", proxy, UnixTime(11)));
        // Only for that client, and only for the window.
        t.succeeded("other", proxy, UnixTime(11));
        assert!(t.exempt("other", proxy, UnixTime(11)));
        assert!(t.exempt("rs", proxy, UnixTime(11 + 60)));
    }

    #[test]
    fn a_full_map_is_swept_at_most_once_a_second() {
        let t = Throttle::new(1, 60);
        for i in 0..MAX_KEYS as u32 {
            t.fail(&i, UnixTime(0));
        }
        // Full of live windows: new keys are not tracked, and the sweep that found nothing to
        // drop is not repeated within the same second.
        assert!(!t.fail(&u32::MAX, UnixTime(5)));
        assert_eq!(t.swept.load(Ordering::Relaxed), 5);
        assert_eq!(t.len(), MAX_KEYS);
    }

    #[test]
    fn fail_says_when_it_locks() {
        let t: Throttle<String> = Throttle::new(2, 60);
        assert!(!t.fail("a", UnixTime(0)));
        assert!(t.fail("a", UnixTime(0)), "the second failure locks");
        assert!(!t.fail("a", UnixTime(0)), "said once");
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

/// The user-code guessing limit of the device verification page (RFC 8628 §5.1): each code
/// entered takes one attempt from its signed-in account, its address, its browser and the whole
/// server, atomically (so a burst of parallel guesses cannot all pass a check before the first
/// is counted); a right code gives its attempt back, so only wrong codes count. With 8 base-20
/// characters and 5 wrong codes per hour, a guesser's chance stays near 2^-32 per code
/// lifetime.
///
/// The account is taken first and, when a later key refuses, the keys already taken are given
/// back: an account over its limit spends nothing of the addresses', browsers' or the server's
/// budget. A probe found that, counted only per address and browser, one account entering 5
/// wrong codes from each of 200 addresses used up the whole server's budget, and a right code
/// from anyone was then refused for an hour. The server-wide budget stays, for a guesser spread
/// over many accounts, at the cost that such a guesser can still pause entry for everyone.
#[derive(Debug)]
pub struct GuessThrottle {
    accounts: Throttle<String>,
    addresses: Throttle<IpAddr>,
    browsers: Throttle<[u8; 32]>,
    everyone: Throttle<()>,
}

/// The window of [`GuessThrottle`]: an hour.
pub const GUESS_WINDOW: u64 = 3_600;

impl GuessThrottle {
    /// At most `per_key` wrong codes per address and per browser, `per_account` per signed-in
    /// account and `global` in all, per hour.
    pub fn new(per_key: u32, per_account: u32, global: u32) -> Self {
        Self {
            accounts: Throttle::new(per_account, GUESS_WINDOW),
            addresses: Throttle::new(per_key, GUESS_WINDOW),
            browsers: Throttle::new(per_key, GUESS_WINDOW),
            everyone: Throttle::new(global, GUESS_WINDOW),
        }
    }

    /// Takes an attempt for a code entered by `account` from `address` with `browser`:
    /// `Err(seconds to wait)` when any of them is out of attempts (then nothing is taken).
    pub fn take(
        &self,
        account: &str,
        address: Option<IpAddr>,
        browser: &[u8; 32],
        now: UnixTime,
    ) -> Result<(), u64> {
        self.accounts.take(account, now)?;
        if let Some(address) = &address {
            if let Err(wait) = self.addresses.take(address, now) {
                self.accounts.refund(account, now);
                return Err(wait);
            }
        }
        let rest =
            self.browsers
                .take(browser, now)
                .and_then(|()| match self.everyone.take(&(), now) {
                    Ok(()) => Ok(()),
                    Err(wait) => {
                        self.browsers.refund(browser, now);
                        Err(wait)
                    }
                });
        if rest.is_err() {
            self.accounts.refund(account, now);
            if let Some(address) = &address {
                self.addresses.refund(address, now);
            }
        }
        rest
    }

    /// The code was right: the attempt does not count.
    pub fn refund(
        &self,
        account: &str,
        address: Option<IpAddr>,
        browser: &[u8; 32],
        now: UnixTime,
    ) {
        self.accounts.refund(account, now);
        if let Some(address) = &address {
            self.addresses.refund(address, now);
        }
        self.browsers.refund(browser, now);
        self.everyone.refund(&(), now);
    }

    /// Forgets windows that have ended.
    pub fn sweep(&self, now: UnixTime) {
        self.accounts.sweep(now);
        self.addresses.sweep(now);
        self.browsers.sweep(now);
        self.everyone.sweep(now);
    }
}

/// How many times a public client's ceiling at `/device_authorization` is its per-address
/// budget ([`DeviceStartThrottle`]).
pub const PUBLIC_CLIENT_CEILING: u32 = 10;

/// The limits on starting device authorizations (RFC 8628 §5.1: the user-code space must not be
/// exhausted, and one requester must not flood the store).
///
/// A confidential client is counted by its id: only its holder can authenticate as it. A public
/// client's id is public, so anyone can ask in its name: a probe used up its budget from one
/// address and every genuine device of that client was refused. A public client is therefore
/// counted per (client, address) under the same limit, and by its id only under a ceiling
/// [`PUBLIC_CLIENT_CEILING`] times higher: a stranger spends their own share, and blocking
/// everyone takes many addresses (each also held to the per-address limit).
#[derive(Debug)]
pub struct DeviceStartThrottle {
    clients: Throttle<String>,
    public_clients: Throttle<String>,
    public_pairs: Throttle<(String, IpAddr)>,
}

impl DeviceStartThrottle {
    /// At most `per_client` starts per minute per confidential client and per (public client,
    /// address); [`PUBLIC_CLIENT_CEILING`] times that per public client.
    pub fn new(per_client: u32) -> Self {
        Self {
            clients: Throttle::new(per_client, 60),
            public_clients: Throttle::new(per_client.saturating_mul(PUBLIC_CLIENT_CEILING), 60),
            public_pairs: Throttle::new(per_client, 60),
        }
    }

    /// Takes one start for `client_id` (`public`: a public client) from `address`:
    /// `Err(seconds to wait)` when over a limit (then nothing is taken).
    pub fn take(
        &self,
        client_id: &str,
        public: bool,
        address: Option<IpAddr>,
        now: UnixTime,
    ) -> Result<(), u64> {
        if !public {
            return self.clients.take(client_id, now);
        }
        let pair = address.map(|a| (client_id.to_owned(), a));
        if let Some(pair) = &pair {
            self.public_pairs.take(pair, now)?;
        }
        self.public_clients.take(client_id, now).inspect_err(|_| {
            if let Some(pair) = &pair {
                self.public_pairs.refund(pair, now);
            }
        })
    }

    /// Forgets windows that have ended.
    pub fn sweep(&self, now: UnixTime) {
        self.clients.sweep(now);
        self.public_clients.sweep(now);
        self.public_pairs.sweep(now);
    }
}

#[cfg(test)]
mod device_start_tests {
    use super::*;

    /// F6: strangers asking in a public client's name from one address used up the client's
    /// budget, and its genuine devices elsewhere were refused.
    #[test]
    fn strangers_cannot_use_up_a_public_clients_budget() {
        let t = DeviceStartThrottle::new(30);
        let now = UnixTime(0);
        let stranger = Some(IpAddr::from([203, 0, 113, 9]));
        for _ in 0..30 {
            t.take("tv", true, stranger, now).unwrap();
        }
        assert!(
            t.take("tv", true, stranger, now).is_err(),
            "the stranger's share"
        );
        let home = Some(IpAddr::from([192, 0, 2, 1]));
        assert_eq!(t.take("tv", true, home, now), Ok(()), "a genuine device");
        // The ceiling: 300 a minute in all, from however many addresses.
        for n in 0..10u8 {
            for _ in 0..30 {
                let _ = t.take("tv", true, Some(IpAddr::from([10, 0, 1, n])), now);
            }
        }
        assert!(
            t.take("tv", true, Some(IpAddr::from([10, 0, 2, 1])), now)
                .is_err()
        );
        assert_eq!(
            t.take("tv", true, home, UnixTime(60)),
            Ok(()),
            "a new minute"
        );
    }

    #[test]
    fn a_confidential_client_is_counted_by_its_id() {
        let t = DeviceStartThrottle::new(3);
        let now = UnixTime(0);
        for n in 0..3u8 {
            t.take("agent", false, Some(IpAddr::from([10, 0, 0, n])), now)
                .unwrap();
        }
        assert!(
            t.take("agent", false, Some(IpAddr::from([10, 0, 0, 9])), now)
                .is_err()
        );
        assert_eq!(t.take("other", false, None, now), Ok(()));
    }
}

/// The limits on failed sign-ins (a person's password), the machinery of [`AuthThrottle`] with
/// the account in place of the client: per account, so one account cannot be guessed from many
/// addresses; per address, so one address cannot try many accounts; and an address the account
/// signed in from lately keeps its way in while the account is locked (so a stranger's failures
/// cannot lock its owner out), within the limit of its own failures.
///
/// One verification at a time per account, two per address ([`LoginThrottle::begin`]): the
/// limits are checked before, and counted after, a verification that takes a while, so without
/// this a burst of parallel attempts would all pass the check before the first was counted (and
/// one address could fill the queue of verifications everyone shares).
#[derive(Debug)]
pub struct LoginThrottle {
    counts: AuthThrottle,
    in_flight: std::sync::Mutex<std::collections::HashMap<InFlightKey, u32>>,
}

/// What a verification in flight holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum InFlightKey {
    Account(String),
    Address(IpAddr),
}

/// A verification in flight: its account and address are free again when it is dropped.
#[derive(Debug)]
pub struct InFlight<'a> {
    throttle: &'a LoginThrottle,
    keys: Vec<InFlightKey>,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut held = self.throttle.held();
        for key in &self.keys {
            if let Some(n) = held.get_mut(key) {
                *n -= 1;
                if *n == 0 {
                    held.remove(key);
                }
            }
        }
    }
}

impl LoginThrottle {
    /// At most 5 failures per account and 20 per address in 5 minutes.
    pub fn new() -> Self {
        let limits = crate::config::Limits {
            auth_failures_per_client: 5,
            auth_failures_per_address: 20,
            auth_failure_window: 300,
            ..crate::config::Limits::default()
        };
        Self {
            counts: AuthThrottle::new(&limits),
            in_flight: std::sync::Mutex::default(),
        }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<InFlightKey, u32>> {
        self.in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts an attempt at `account` from `address` at `now`: `Err(seconds to wait)` while the
    /// address or the account is over its limit (the account unless the address is one it
    /// signed in from lately), or while another attempt on the account, or two from the
    /// address, are being verified (1 s).
    pub fn begin(
        &self,
        account: Option<&str>,
        address: Option<IpAddr>,
        now: UnixTime,
    ) -> Result<InFlight<'_>, u64> {
        if let Some(address) = address {
            self.counts.addresses.check(&address, now)?;
        }
        if let Some(account) = account {
            if let Err(wait) = self.counts.clients.check(account, now) {
                if !address.is_some_and(|a| self.counts.exempt(account, a, now)) {
                    return Err(wait);
                }
            }
        }
        let keys: Vec<InFlightKey> = account
            .map(|a| InFlightKey::Account(a.to_owned()))
            .into_iter()
            .chain(address.map(InFlightKey::Address))
            .collect();
        let mut held = self.held();
        let full = |k: &InFlightKey| {
            let cap = match k {
                InFlightKey::Account(_) => 1,
                InFlightKey::Address(_) => 2,
            };
            held.get(k).is_some_and(|n| *n >= cap)
        };
        if keys.iter().any(full) {
            return Err(1);
        }
        for key in &keys {
            *held.entry(key.clone()).or_insert(0) += 1;
        }
        Ok(InFlight {
            throttle: self,
            keys,
        })
    }

    /// Counts a failed attempt; whether the account or the address is now locked.
    pub fn failed(&self, account: Option<&str>, address: Option<IpAddr>, now: UnixTime) -> bool {
        let mut locked = false;
        if let Some(address) = address {
            locked |= self.counts.addresses.fail(&address, now);
        }
        if let Some(account) = account {
            if let Some(address) = address {
                self.counts.failed_from(account, address, now);
            }
            locked |= self.counts.clients.fail(account, now);
        }
        locked
    }

    /// Remembers that `account` signed in from `address`.
    pub fn succeeded(&self, account: &str, address: Option<IpAddr>, now: UnixTime) {
        if let Some(address) = address {
            self.counts.succeeded(account, address, now);
        }
    }

    /// Forgets windows that have ended.
    pub fn sweep(&self, now: UnixTime) {
        self.counts.sweep(now);
    }
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod login_tests {
    use super::*;

    fn ip(last: u8) -> Option<IpAddr> {
        Some(IpAddr::from([10, 0, 0, last]))
    }

    #[test]
    fn a_strangers_failures_do_not_lock_the_owner_out() {
        let t = LoginThrottle::new();
        let now = UnixTime(1_000);
        drop(t.begin(Some("alice"), ip(1), now).unwrap());
        t.succeeded("alice", ip(1), now);
        for _ in 0..5 {
            drop(t.begin(Some("alice"), ip(2), now).unwrap());
            t.failed(Some("alice"), ip(2), now);
        }
        assert!(
            t.begin(Some("alice"), ip(2), now).is_err(),
            "the stranger is locked"
        );
        assert!(
            t.begin(Some("alice"), ip(3), now).is_err(),
            "so is any new address"
        );
        assert!(
            t.begin(Some("alice"), ip(1), now).is_ok(),
            "the owner's address is not"
        );
        assert!(t.begin(Some("alice"), ip(1), now.plus(301)).is_ok());
    }

    #[test]
    fn one_verification_at_a_time_per_account_two_per_address() {
        let t = LoginThrottle::new();
        let now = UnixTime(0);
        let first = t.begin(Some("bob"), ip(1), now).unwrap();
        assert_eq!(
            t.begin(Some("bob"), ip(2), now).err(),
            Some(1),
            "same account"
        );
        let second = t.begin(Some("carol"), ip(1), now).unwrap();
        assert_eq!(
            t.begin(Some("dan"), ip(1), now).err(),
            Some(1),
            "a third from the address"
        );
        assert!(t.begin(Some("dan"), ip(2), now).is_ok());
        drop(first);
        assert!(
            t.begin(Some("bob"), ip(2), now).is_ok(),
            "free again once dropped"
        );
        drop(second);
        let a = t.begin(Some("x"), ip(1), now).unwrap();
        let b = t.begin(Some("y"), ip(1), now).unwrap();
        drop((a, b));
        assert!(t.held().is_empty(), "nothing left held");
    }

    #[test]
    fn the_limits_hold_exactly() {
        let t = LoginThrottle::new();
        let now = UnixTime(0);
        for i in 0..5 {
            assert!(t.begin(Some("dave"), ip(9), now).is_ok(), "attempt {i}");
            t.failed(Some("dave"), ip(9), now);
        }
        assert!(t.begin(Some("dave"), ip(9), now).is_err());
        for n in 0..15u8 {
            drop(t.begin(Some(&format!("u{n}")), ip(9), now).unwrap());
            t.failed(Some(&format!("u{n}")), ip(9), now);
        }
        assert!(
            t.begin(Some("eve"), ip(9), now).is_err(),
            "20 failures from the address"
        );
    }

    #[test]
    fn take_lets_exactly_the_limit_through_under_concurrency() {
        let t = std::sync::Arc::new(Throttle::<u32>::new(5, 60));
        let granted = std::sync::Arc::new(AtomicU32::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (t, granted) = (t.clone(), granted.clone());
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        if t.take(&7, UnixTime(100)).is_ok() {
                            granted.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        for th in threads {
            th.join().unwrap();
        }
        assert_eq!(granted.load(Ordering::Relaxed), 5);
        assert_eq!(t.take(&7, UnixTime(130)), Err(30));
        assert_eq!(t.take(&7, UnixTime(160)), Ok(()), "a new window");
    }
}

#[cfg(test)]
mod guess_tests {
    use super::*;

    #[test]
    fn only_wrong_codes_count_per_address_browser_and_overall() {
        let t = GuessThrottle::new(5, 100, 11);
        let now = UnixTime(1_000);
        let (a, b) = (
            Some(IpAddr::from([10, 0, 0, 1])),
            Some(IpAddr::from([10, 0, 0, 2])),
        );
        // Right codes are refunded: any number of them.
        for _ in 0..20 {
            t.take("u", a, &[1; 32], now).unwrap();
            t.refund("u", a, &[1; 32], now);
        }
        for _ in 0..5 {
            t.take("u", a, &[1; 32], now).unwrap();
        }
        assert!(
            t.take("u", a, &[1; 32], now).is_err(),
            "the 6th wrong code from one address"
        );
        assert!(
            t.take("u", a, &[2; 32], now).is_err(),
            "another browser, same address"
        );
        t.take("u", b, &[2; 32], now).unwrap();
        // Another browser on another address, but the same browser: its own limit.
        for _ in 0..4 {
            t.take("u", b, &[3; 32], now).unwrap();
        }
        assert!(
            t.take("u", Some(IpAddr::from([10, 0, 0, 9])), &[3; 32], now)
                .is_ok(),
            "browser 3 has 1 left"
        );
        assert!(
            t.take("u", Some(IpAddr::from([10, 0, 0, 9])), &[3; 32], now)
                .is_err()
        );
        // The whole server's budget (11) is spent by now, from any address.
        assert!(
            t.take("u", Some(IpAddr::from([10, 0, 0, 77])), &[77; 32], now)
                .is_err()
        );
        // An hour later, all fresh.
        assert!(t.take("u", a, &[1; 32], now.plus(GUESS_WINDOW)).is_ok());
    }

    /// F5: one account entering wrong codes from many addresses used up the server-wide
    /// budget, and the right code of someone else was then refused for an hour.
    #[test]
    fn one_account_cannot_spend_the_whole_servers_budget() {
        let t = GuessThrottle::new(5, 5, 10);
        let now = UnixTime(1_000);
        let mut refused = 0;
        for n in 0..200u32 {
            let address = Some(IpAddr::from(n.to_be_bytes()));
            for _ in 0..5 {
                if t.take("mallory", address, &[n as u8; 32], now).is_err() {
                    refused += 1;
                }
            }
        }
        assert_eq!(refused, 200 * 5 - 5, "only 5 wrong codes for the account");
        assert!(
            t.take("mallory", Some(IpAddr::from([192, 0, 2, 1])), &[9; 32], now)
                .is_err(),
            "the account is over its limit from anywhere"
        );
        // Someone else, from a fresh address, enters their right code.
        let fresh = Some(IpAddr::from([203, 0, 113, 5]));
        assert_eq!(t.take("alice", fresh, &[42; 32], now), Ok(()));
        t.refund("alice", fresh, &[42; 32], now);
        // The refused attempts took nothing of the server's budget: 5 of 10 are left.
        for n in 0..5u8 {
            let other = Some(IpAddr::from([198, 51, 100, n]));
            assert_eq!(
                t.take(&format!("user{n}"), other, &[100 + n; 32], now),
                Ok(())
            );
        }
        let last = Some(IpAddr::from([198, 51, 100, 99]));
        assert!(
            t.take("bob", last, &[99; 32], now).is_err(),
            "spent by many accounts: the server-wide limit still holds"
        );
    }
}
