//! Test support, for this crate's tests and (with the `test-util` feature) for other crates'
//! tests: a fixed clock, predictable randomness, a builder of clients, and the behavioural
//! test suite every storage backend runs ([`suite`]). Never use these outside tests: the clock
//! stands still and the randomness is predictable.

// Test support fails by panicking, as a test does: the crate's no-panic rule is for code that
// serves requests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod suite;

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use gatehouse_token::{AccessTokenClaims, UnixTime};

use crate::client::{
    Client, ClientKind, ClientRegistration, ClientSecret, Introspection, TokenFormat,
};
use crate::grant::GrantContext;
use crate::issue::IssuerSettings;
use crate::memory::MemoryStore;
use crate::ports::{AccessTokenSigner, Clock, Random, SignFailure};

/// A clock stopped where the test puts it.
#[derive(Debug)]
pub struct FixedClock(pub AtomicU64);

impl FixedClock {
    /// A clock stopped at `secs`.
    pub fn at(secs: u64) -> Self {
        Self(AtomicU64::new(secs))
    }

    /// Moves the clock forward by `secs`.
    pub fn advance(&self, secs: u64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> UnixTime {
        UnixTime(self.0.load(Ordering::SeqCst))
    }
}

/// Predictable randomness: each call fills with a new counter value.
#[derive(Debug, Default)]
pub struct CountingRandom(AtomicU64);

impl Random for CountingRandom {
    fn fill(&self, out: &mut [u8]) {
        let n = self.0.fetch_add(1, Ordering::Relaxed).to_le_bytes();
        for (i, b) in out.iter_mut().enumerate() {
            *b = n[i % 8] ^ (i as u8);
        }
    }
}

/// One counter for every built client, so that two clients of one test never share an id.
static BUILT: CountingRandom = CountingRandom(AtomicU64::new(1 << 32));

/// Builds a registered client: `client_credentials`, scope `read`, resource
/// `https://rs.example`, JWT tokens, no introspection, registered at time 0, unless told
/// otherwise.
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    registration: ClientRegistration,
    public: bool,
    created_at: UnixTime,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            registration: ClientRegistration {
                name: "test".into(),
                grant_types: vec!["client_credentials".into()],
                scope: "read".into(),
                resources: vec!["https://rs.example".into()],
                access_token_lifetime: None,
                token_format: TokenFormat::Jwt,
                introspection: Introspection::None,
            },
            public: false,
            created_at: UnixTime(0),
        }
    }
}

impl ClientBuilder {
    /// The defaults above.
    pub fn new() -> Self {
        Self::default()
    }

    /// The client's name.
    pub fn name(mut self, name: &str) -> Self {
        self.registration.name = name.into();
        self
    }

    /// Its scope, space-delimited.
    pub fn scope(mut self, scope: &str) -> Self {
        self.registration.scope = scope.into();
        self
    }

    /// Its resources; the first is the default.
    pub fn resources(mut self, resources: &[&str]) -> Self {
        self.registration.resources = resources.iter().map(|r| r.to_string()).collect();
        self
    }

    /// Its access-token lifetime, seconds.
    pub fn lifetime(mut self, secs: u64) -> Self {
        self.registration.access_token_lifetime = Some(secs);
        self
    }

    /// Its token format.
    pub fn format(mut self, format: TokenFormat) -> Self {
        self.registration.token_format = format;
        self
    }

    /// Its introspection permission.
    pub fn introspection(mut self, introspection: Introspection) -> Self {
        self.registration.introspection = introspection;
        self
    }

    /// A public client (no secret).
    pub fn public(mut self) -> Self {
        self.public = true;
        self
    }

    /// When it was registered.
    pub fn created_at(mut self, at: UnixTime) -> Self {
        self.created_at = at;
        self
    }

    /// The client, and its secret unless it is public. Panics if the registration is invalid
    /// (a test's mistake).
    pub fn build(self) -> (Client, Option<ClientSecret>) {
        let (mut client, secret) = self
            .registration
            .register(&BUILT, self.created_at)
            .unwrap_or_else(|e| panic!("an invalid test client: {e}"));
        if self.public {
            client.kind = ClientKind::Public;
            return (client, None);
        }
        (client, Some(secret))
    }

    /// The client, for tests that need no secret.
    pub fn client(self) -> Client {
        self.build().0
    }
}

/// A signer that records the claims it is asked to sign and returns `signed:<jti>`.
#[derive(Debug, Default)]
pub struct RecordingSigner(Mutex<Vec<AccessTokenClaims>>);

impl RecordingSigner {
    /// The claims signed so far, oldest first.
    pub fn signed(&self) -> Vec<AccessTokenClaims> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

#[async_trait]
impl AccessTokenSigner for RecordingSigner {
    async fn sign(&self, claims: &AccessTokenClaims) -> Result<String, SignFailure> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(claims.clone());
        Ok(format!("signed:{}", claims.jti))
    }
}

/// Everything a grant needs, in memory: issuer `https://as.example`, a one-hour default
/// lifetime, a small opaque-token quota (2, so quota tests need few tokens), a recording
/// signer, a fixed clock and counting randomness.
#[derive(Debug)]
pub struct Harness {
    /// Issuance settings.
    pub settings: IssuerSettings,
    /// Every store.
    pub store: MemoryStore,
    /// The signer.
    pub signer: RecordingSigner,
    /// The clock.
    pub clock: FixedClock,
    /// The randomness.
    pub random: CountingRandom,
}

impl Harness {
    /// A harness whose clock stands at `now`.
    pub fn at(now: u64) -> Self {
        Self {
            settings: IssuerSettings {
                issuer: "https://as.example".into(),
                access_token_lifetime: 3600,
                opaque_tokens_per_client: 2,
            },
            store: MemoryStore::default(),
            signer: RecordingSigner::default(),
            clock: FixedClock::at(now),
            random: CountingRandom::default(),
        }
    }

    /// A grant context borrowing this harness.
    pub fn context(&self) -> GrantContext<'_> {
        GrantContext {
            settings: &self.settings,
            clients: &self.store,
            tokens: &self.store,
            signer: &self.signer,
            clock: &self.clock,
            random: &self.random,
        }
    }
}
