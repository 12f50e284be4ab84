//! Test support, for this crate's tests and (with the `test-util` feature) for other crates'
//! tests: a fixed clock, predictable randomness, a builder of clients, and the behavioural
//! test suite every storage backend runs ([`suite`]). Never use these outside tests: the clock
//! stands still and the randomness is predictable.

// Test support fails by panicking, as a test does: the crate's no-panic rule is for code that
// serves requests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod suite;

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use gatehouse_token::{AccessTokenClaims, UnixTime};

use crate::assertion::{
    AssertionSettings, AssertionVerifier, ExternalJwt, ExternalUse, IdJagClaims, OwnIdToken,
    Refusal,
};
use crate::client::ClientId;
use crate::client::{
    Client, ClientKind, ClientRegistration, ClientSecret, Introspection, TokenFormat,
};
use crate::grant::GrantContext;
use crate::id_token::IdTokenClaims;
use crate::issue::{IssuerSettings, RefreshSettings, RotationKey};
use crate::memory::MemoryStore;
use crate::ports::{AccessTokenSigner, Alarms, Clock, Random, SignFailure};
use crate::store::IssuedForCode;

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

/// The redirect URI of [`ClientBuilder::code_flow`] clients.
pub const REDIRECT_URI: &str = "https://app.example/cb";

/// One counter for every built client, so that two clients of one test never share an id.
static BUILT: CountingRandom = CountingRandom(AtomicU64::new(1 << 32));

/// Builds a registered client: `client_credentials`, scope `read`, resource
/// `https://rs.example`, JWT tokens, no introspection, registered at time 0, unless told
/// otherwise.
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    registration: ClientRegistration,
    public: bool,
    keys: Option<crate::client::keys::ClientKeys>,
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
                token_endpoint_auth_method: None,
                jwks: None,
                jwks_uri: None,
                redirect_uris: vec![],
                post_logout_redirect_uris: vec![],
                require_pushed_authorization_requests: false,
                tls_client_auth_subject_dn: None,
                tls_client_auth_san_dns: None,
                tls_client_auth_san_uri: None,
                tls_client_auth_san_ip: None,
                tls_client_auth_san_email: None,
                dpop_bound_access_tokens: false,
                security_profile: crate::profile::SecurityProfile::default(),
                tls_client_certificate_bound_access_tokens: false,
            },
            public: false,
            keys: None,
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

    /// A client of the code flow: `authorization_code` and `refresh_token`, redirect URI
    /// [`REDIRECT_URI`].
    pub fn code_flow(mut self) -> Self {
        self.registration.grant_types = vec!["authorization_code".into(), "refresh_token".into()];
        self.registration.redirect_uris = vec![REDIRECT_URI.into()];
        self
    }

    /// Its grant types.
    pub fn grants(mut self, grants: &[&str]) -> Self {
        self.registration.grant_types = grants.iter().map(|g| g.to_string()).collect();
        self
    }

    /// Its redirect URIs.
    pub fn redirect_uris(mut self, uris: &[&str]) -> Self {
        self.registration.redirect_uris = uris.iter().map(|u| u.to_string()).collect();
        self
    }

    /// A public client (no secret).
    pub fn public(mut self) -> Self {
        self.public = true;
        self
    }

    /// A `private_key_jwt` client with these keys (no secret).
    pub fn keys(mut self, keys: crate::client::keys::ClientKeys) -> Self {
        self.keys = Some(keys);
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
        if let Some(keys) = self.keys {
            client.kind = ClientKind::PrivateKeyJwt;
            client.keys = Some(keys);
            return (client, None);
        }
        (client, secret)
    }

    /// The client, for tests that need no secret.
    pub fn client(self) -> Client {
        self.build().0
    }
}

/// A signer that records the claims it is asked to sign and returns `signed:<jti>` (ID
/// tokens: `id:<sub>`, recorded with `at_hash` set as for ES256; ID-JAGs: `id-jag:<jti>`).
#[derive(Debug, Default)]
pub struct RecordingSigner(
    Mutex<Vec<AccessTokenClaims>>,
    Mutex<Vec<IdTokenClaims>>,
    Mutex<Vec<IdJagClaims>>,
);

impl RecordingSigner {
    /// The ID-JAG claims signed so far, oldest first.
    pub fn id_jags(&self) -> Vec<IdJagClaims> {
        self.2
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The ID token claims signed so far, oldest first.
    pub fn id_tokens(&self) -> Vec<IdTokenClaims> {
        self.1
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

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

    async fn sign_id_token(
        &self,
        mut claims: IdTokenClaims,
        access_token: &str,
    ) -> Result<String, SignFailure> {
        claims.at_hash = Some(crate::id_token::at_hash(
            gatehouse_token::Algorithm::ES256,
            access_token,
        ));
        let sub = claims.sub.clone();
        self.1
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(claims);
        Ok(format!("id:{sub}"))
    }

    async fn sign_id_jag(&self, claims: &IdJagClaims) -> Result<String, SignFailure> {
        self.2
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(claims.clone());
        Ok(format!("id-jag:{}", claims.jti))
    }
}

/// A verifier that knows the tokens a test tells it about, and refuses any other as a bad
/// signature; an external token presented for another use than its own is untrusted.
#[derive(Debug, Default)]
pub struct TestVerifier {
    access: Mutex<HashMap<String, AccessTokenClaims>>,
    id: Mutex<HashMap<String, OwnIdToken>>,
    external: Mutex<HashMap<String, (ExternalUse, ExternalJwt)>>,
}

impl TestVerifier {
    /// `token` is one of our access tokens, valid, with `claims`.
    pub fn knows_access_token(&self, token: &str, claims: AccessTokenClaims) {
        self.access.lock().unwrap().insert(token.into(), claims);
    }

    /// `token` is one of our ID tokens with `claims`.
    pub fn knows_id_token(&self, token: &str, claims: OwnIdToken) {
        self.id.lock().unwrap().insert(token.into(), claims);
    }

    /// `token` is a trusted issuer's JWT for `usage`.
    pub fn knows_external(&self, token: &str, usage: ExternalUse, jwt: ExternalJwt) {
        self.external
            .lock()
            .unwrap()
            .insert(token.into(), (usage, jwt));
    }
}

#[async_trait]
impl AssertionVerifier for TestVerifier {
    async fn access_token(&self, token: &str) -> Result<AccessTokenClaims, Refusal> {
        let known = self.access.lock().unwrap().get(token).cloned();
        known.ok_or(Refusal::BadSignature)
    }

    async fn id_token(&self, token: &str) -> Result<OwnIdToken, Refusal> {
        let known = self.id.lock().unwrap().get(token).cloned();
        known.ok_or(Refusal::BadSignature)
    }

    async fn external(&self, token: &str, usage: ExternalUse) -> Result<ExternalJwt, Refusal> {
        match self.external.lock().unwrap().get(token) {
            Some((u, jwt)) if *u == usage => Ok(jwt.clone()),
            Some(_) => Err(Refusal::UntrustedIssuer),
            None => Err(Refusal::BadSignature),
        }
    }
}

/// What the alarms heard: replayed codes (with what was issued for them) and reused refresh
/// families.
#[derive(Debug, Default)]
pub struct RecordingAlarms {
    /// Replayed codes: the client and what was issued.
    pub replayed: Mutex<Vec<(ClientId, Option<IssuedForCode>)>>,
    /// Reused refresh tokens: the client and the family.
    pub reused: Mutex<Vec<(ClientId, String)>>,
}

#[async_trait]
impl Alarms for RecordingAlarms {
    async fn code_replayed(
        &self,
        client: &ClientId,
        issued: Option<&IssuedForCode>,
    ) -> Result<(), crate::TokenError> {
        self.replayed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((client.clone(), issued.cloned()));
        Ok(())
    }

    async fn refresh_reused(&self, client: &ClientId, family: &str) {
        self.reused
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((client.clone(), family.to_owned()));
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
    /// The alarms.
    pub alarms: RecordingAlarms,
    /// The assertion verifier.
    pub verifier: TestVerifier,
    /// Assertion settings: 600 s longest lifetime, 30 s leeway, 300 s ID-JAGs, no downstream
    /// server.
    pub assertions: AssertionSettings,
    /// The registered resources (none unless a test adds some).
    pub resources: crate::resource::ResourceRegistry,
}

impl Harness {
    /// A harness whose clock stands at `now`.
    pub fn at(now: u64) -> Self {
        Self {
            settings: IssuerSettings {
                issuer: "https://as.example".into(),
                access_token_lifetime: 3600,
                opaque_tokens_per_client: 2,
                refresh: RefreshSettings {
                    idle_lifetime: 1_000,
                    lifetime: 10_000,
                    grace: 30,
                    rotate_confidential: true,
                    rotation_key: RotationKey([9; 32]),
                },
                profile: crate::profile::SecurityProfile::default(),
            },
            store: MemoryStore::default(),
            signer: RecordingSigner::default(),
            clock: FixedClock::at(now),
            random: CountingRandom::default(),
            alarms: RecordingAlarms::default(),
            verifier: TestVerifier::default(),
            assertions: AssertionSettings {
                max_lifetime: 600,
                leeway: 30,
                id_jag_lifetime: 300,
                downstream: Vec::new(),
            },
            resources: crate::resource::ResourceRegistry::default(),
        }
    }

    /// A grant context borrowing this harness.
    pub fn context(&self) -> GrantContext<'_> {
        GrantContext {
            settings: &self.settings,
            clients: &self.store,
            tokens: &self.store,
            codes: &self.store,
            refresh_tokens: &self.store,
            devices: &self.store,
            users: &self.store,
            sessions: &self.store,
            alarms: &self.alarms,
            resources: &self.resources,
            signer: &self.signer,
            clock: &self.clock,
            random: &self.random,
            verifier: &self.verifier,
            replay: &self.store,
            assertions: &self.assertions,
            holder: &crate::binding::NO_HOLDER,
        }
    }
}

/// A user named `name` (id `id-<name>`, created at time 0, enabled), whose password is
/// `correct horse`. The argon2 hash is computed once per process and shared: hashing costs
/// 19 MiB and tens of milliseconds.
pub fn user(name: &str) -> crate::user::User {
    use crate::user::{PasswordHash, User, UserId, Username};
    static HASH: std::sync::OnceLock<PasswordHash> = std::sync::OnceLock::new();
    let password = HASH
        .get_or_init(|| PasswordHash::new("correct horse", &CountingRandom::default()).unwrap())
        .clone();
    User {
        id: UserId::from_stored(format!("id-{name}")),
        username: Username::new(name).unwrap(),
        password,
        name: None,
        email: None,
        email_verified: false,
        disabled: false,
        created_at: UnixTime(0),
    }
}
