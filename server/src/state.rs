//! The application's state: the composition root ([`App`]) and the state of each endpoint
//! group, built once at start from the same parts.

use std::sync::Arc;

use axum::extract::FromRef;
use gatehouse_core::assertion::{AssertionSettings, AssertionVerifier};
use gatehouse_core::client::auth::private_key_jwt::{ClientAssertionRules, ClientKeyVerifier};
use gatehouse_core::grant::GrantContext;
use gatehouse_core::issue::IssuerSettings;
use gatehouse_core::ports::{Clock, Random};
use gatehouse_core::resource::ResourceRegistry;
use gatehouse_core::store::{
    AccessTokenStore, ClientStore, CodeStore, ConsentStore, DeviceCodeStore, ParStore,
    RefreshTokenStore, ReplayStore, RevocationStore, SessionStore, UserStore,
};
use gatehouse_validator::Validator;

use crate::changes::Changes;
use crate::config::Config;
use crate::form::BodyLimit;
use crate::keys::KeyManager;
use crate::resources::Resources;
use crate::runtime::readiness::Readiness;
use crate::signing::JwtSigner;
use crate::throttle::AuthThrottle;

/// Authenticating clients, which every form endpoint does first.
#[expect(missing_debug_implementations, reason = "trait objects have no Debug")]
pub struct ClientAuth {
    /// Registered clients.
    pub clients: Arc<dyn ClientStore>,
    /// The credential-guessing limit.
    pub throttle: Arc<AuthThrottle>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// How long a dynamically registered client may go unused before it expires, seconds.
    pub dynamic_idle_expiry: u64,
    /// The security profile every client is held to at least (which authentication methods
    /// are allowed).
    pub profile: gatehouse_core::profile::SecurityProfile,
    /// `private_key_jwt`: checks assertions' signatures with the clients' keys.
    pub assertion_keys: Arc<dyn ClientKeyVerifier>,
    /// `private_key_jwt`: what an assertion must say.
    pub assertion_rules: Arc<ClientAssertionRules>,
    /// `private_key_jwt`: assertion `jti`s already used.
    pub replay: Arc<dyn ReplayStore>,
    /// The issuer, which endpoint URLs (an assertion's accepted audiences) start with.
    pub issuer: String,
    /// The CAs of `tls_client_auth` certificates (RFC 8705 §2.1), if configured.
    pub client_cas: Option<Arc<crate::runtime::tls::ChainCheck>>,
}

/// The token endpoint's state: what issuing a token may touch.
#[expect(missing_debug_implementations, reason = "trait objects have no Debug")]
pub struct Issuance {
    /// Client authentication.
    pub auth: ClientAuth,
    /// Issuance settings.
    pub settings: IssuerSettings,
    /// Opaque access tokens.
    pub tokens: Arc<dyn AccessTokenStore>,
    /// Authorization codes.
    pub codes: Arc<dyn CodeStore>,
    /// Pushed authorization requests.
    pub pushed: Arc<dyn ParStore>,
    /// Refresh tokens.
    pub refresh_tokens: Arc<dyn RefreshTokenStore>,
    /// Device authorizations (RFC 8628).
    pub devices: Arc<dyn DeviceCodeStore>,
    /// User accounts.
    pub users: Arc<dyn UserStore>,
    /// What a replayed code or a reused refresh token sets off.
    pub changes: Arc<Changes>,
    /// The signer.
    pub signer: JwtSigner,
    /// Randomness.
    pub random: Arc<dyn Random>,
    /// Verifies assertions and exchanged tokens.
    pub verifier: Arc<dyn AssertionVerifier>,
    /// Assertion `jti`s already used.
    pub replay: Arc<dyn ReplayStore>,
    /// Assertion lifetimes, leeway and ID-JAG audiences.
    pub assertions: AssertionSettings,
    /// The registered protected resources.
    pub resources: Arc<Resources>,
    /// DPoP proofs and nonces (RFC 9449).
    pub dpop: crate::dpop::DpopCheck,
}

impl Issuance {
    /// The context of a grant, borrowing this state and a snapshot of the resource registry.
    pub fn grant_context<'a>(&'a self, resources: &'a ResourceRegistry) -> GrantContext<'a> {
        GrantContext {
            settings: &self.settings,
            clients: self.auth.clients.as_ref(),
            tokens: self.tokens.as_ref(),
            codes: self.codes.as_ref(),
            refresh_tokens: self.refresh_tokens.as_ref(),
            devices: self.devices.as_ref(),
            users: self.users.as_ref(),
            sessions: self.changes.sessions.as_ref(),
            alarms: self.changes.as_ref(),
            resources,
            signer: &self.signer,
            clock: self.auth.clock.as_ref(),
            random: self.random.as_ref(),
            verifier: self.verifier.as_ref(),
            replay: self.replay.as_ref(),
            assertions: &self.assertions,
            holder: &gatehouse_core::binding::NO_HOLDER,
        }
    }
}

/// The state of introspection and revocation: validating presented tokens, answering about
/// them, revoking them.
#[expect(missing_debug_implementations, reason = "trait objects have no Debug")]
pub struct Inspection {
    /// Client authentication.
    pub auth: ClientAuth,
    /// The validator.
    pub validator: Arc<Validator>,
    /// Opaque access tokens.
    pub tokens: Arc<dyn AccessTokenStore>,
    /// User accounts (UserInfo).
    pub users: Arc<dyn UserStore>,
    /// Revocations go through here.
    pub changes: Arc<Changes>,
    /// Signs RFC 9701 answers.
    pub signer: JwtSigner,
    /// Randomness (`jti` of RFC 9701 answers).
    pub random: Arc<dyn Random>,
    /// The issuer (`iss` of RFC 9701 answers).
    pub issuer: String,
    /// How DPoP proofs are checked at UserInfo (RFC 9449 §7).
    pub dpop: gatehouse_validator::dpop::DpopSettings,
    /// The DPoP proofs UserInfo has accepted (per node, bounded).
    pub dpop_replay: gatehouse_validator::dpop::ReplayCache,
    /// The server's DPoP nonces, required at UserInfo too when `[dpop] require_nonce` is set.
    pub dpop_nonces: crate::dpop::DpopCheck,
}

/// The state of the sign-in flow: the authorization endpoint and its pages.
#[expect(missing_debug_implementations, reason = "trait objects have no Debug")]
pub struct SignIn {
    /// The issuer (`iss` of every authorization response).
    pub issuer: String,
    /// The issuer's path, which the pages' form actions start with.
    pub base: String,
    /// Registered clients.
    pub clients: Arc<dyn ClientStore>,
    /// User accounts.
    pub users: Arc<dyn UserStore>,
    /// Browser sessions.
    pub sessions: Arc<dyn SessionStore>,
    /// Remembered consents.
    pub consents: Arc<dyn ConsentStore>,
    /// Authorization codes.
    pub codes: Arc<dyn CodeStore>,
    /// Pushed authorization requests.
    pub pushed: Arc<dyn ParStore>,
    /// The registered protected resources (audiences, scopes and what they mean).
    pub resources: Arc<Resources>,
    /// Whether every client must push its authorization requests.
    pub require_par: bool,
    /// The session cookie and CSRF tokens.
    pub cookies: crate::pages::session::Cookies,
    /// What the pages look like.
    pub look: crate::pages::Look,
    /// Failed sign-ins per account and per address.
    pub throttle: crate::throttle::LoginThrottle,
    /// Verifies `id_token_hint`s at sign-out.
    pub validator: Arc<Validator>,
    /// Password verifications that may run at once (each takes 19 MiB of memory).
    pub hashing: Arc<tokio::sync::Semaphore>,
    /// How long a sign-in lasts, seconds.
    pub session_lifetime: u64,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Randomness.
    pub random: Arc<dyn Random>,
}

/// The state of the device authorization grant (RFC 8628): the device authorization endpoint
/// and the verification page (which also takes [`SignIn`] for the session and the look).
#[expect(missing_debug_implementations, reason = "trait objects have no Debug")]
pub struct Devices {
    /// Client authentication at `/device_authorization`, as at the token endpoint.
    pub auth: ClientAuth,
    /// The issuer (`verification_uri` is under it).
    pub issuer: String,
    /// Device authorizations.
    pub store: Arc<dyn DeviceCodeStore>,
    /// Lifetimes and the polling interval.
    pub settings: gatehouse_core::device::DeviceSettings,
    /// The registered protected resources (the target decision, the scopes in words).
    pub resources: Arc<Resources>,
    /// Device authorizations started per client (per client and address for a public one).
    pub per_client: crate::throttle::DeviceStartThrottle,
    /// Device authorizations started per address.
    pub per_address: crate::throttle::Throttle<std::net::IpAddr>,
    /// Wrong user codes per address, per browser and overall (RFC 8628 §5.1).
    pub guesses: crate::throttle::GuessThrottle,
    /// Randomness.
    pub random: Arc<dyn Random>,
}

/// The state of dynamic client registration (RFC 7591, RFC 7592).
#[expect(missing_debug_implementations, reason = "trait objects have no Debug")]
pub struct Registration {
    /// The issuer (registration client URIs are under it).
    pub issuer: String,
    /// Registered clients.
    pub clients: Arc<dyn ClientStore>,
    /// Deleting a client goes through here.
    pub changes: Arc<Changes>,
    /// `[registration]`.
    pub config: crate::config::RegistrationConfig,
    /// What a registration may ask for.
    pub policy: gatehouse_core::client::dynamic::DynamicPolicy,
    /// SHA-256 of the initial access token every registration must present, if one is set.
    pub initial_token_digest: Option<gatehouse_token::SecretDigest>,
    /// Registrations per address.
    pub per_address: crate::throttle::Throttle<std::net::IpAddr>,
    /// Held from the count of registered clients to the insert, so the cap holds.
    pub registering: tokio::sync::Mutex<()>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Randomness (ids, secrets, registration access tokens).
    pub random: Arc<dyn Random>,
}

impl Registration {
    /// The registration client URI of `id` (RFC 7592 §1).
    pub fn client_uri(&self, id: &gatehouse_core::client::ClientId) -> String {
        format!(
            "{}{}/{id}",
            self.issuer,
            gatehouse_core::discovery::paths::REGISTER
        )
    }
}

/// The state of discovery and the JWKS.
#[expect(missing_debug_implementations, reason = "trait objects have no Debug")]
pub struct Discovery {
    /// The issuer.
    pub issuer: String,
    /// The signing keys (the JWKS, the active algorithm).
    pub keys: Arc<KeyManager>,
    /// Whether every client must push its authorization requests (RFC 9126 §5).
    pub require_par: bool,
    /// Whether dynamic client registration is open.
    pub registration: bool,
    /// Whether client metadata documents are resolved.
    pub metadata_documents: bool,
    /// Whether the device authorization grant is served.
    pub device: bool,
    /// The server-wide security profile (which authentication methods are offered).
    pub profile: gatehouse_core::profile::SecurityProfile,
    /// The algorithms `private_key_jwt` assertions may use.
    pub assertion_algorithms: Vec<gatehouse_token::Algorithm>,
    /// The registered resources (their scopes are listed).
    pub resources: Arc<Resources>,
    /// Whether client certificates reach the server (the mutual-TLS methods are offered).
    pub client_certificates: bool,
    /// The mTLS listener's base URL, for `mtls_endpoint_aliases` (RFC 8705 §5).
    pub mtls_base: Option<String>,
    /// The algorithms DPoP proofs may use (`dpop_signing_alg_values_supported`).
    pub dpop_algorithms: Vec<&'static str>,
}

/// The application: the composition root, built once at start. Each endpoint group takes only
/// its own state ([`Issuance`], [`Inspection`], [`Discovery`], the readiness), through
/// `FromRef`, so that a node can later serve a subset of the groups; the admin API and the
/// maintenance loop take the whole.
#[expect(missing_debug_implementations, reason = "trait objects have no Debug")]
pub struct App {
    /// The configuration.
    pub config: Config,
    /// Registered clients.
    pub clients: Arc<dyn ClientStore>,
    /// Opaque access tokens.
    pub tokens: Arc<dyn AccessTokenStore>,
    /// Revoked JWT ids.
    pub revocations: Arc<dyn RevocationStore>,
    /// User accounts.
    pub users: Arc<dyn UserStore>,
    /// Browser sessions.
    pub sessions: Arc<dyn SessionStore>,
    /// Remembered consents.
    pub consents: Arc<dyn ConsentStore>,
    /// Authorization codes.
    pub codes: Arc<dyn CodeStore>,
    /// Pushed authorization requests.
    pub pushed: Arc<dyn ParStore>,
    /// Refresh tokens.
    pub refresh_tokens: Arc<dyn RefreshTokenStore>,
    /// Device authorizations (RFC 8628).
    pub devices: Arc<dyn DeviceCodeStore>,
    /// The replay cache of assertion `jti`s.
    pub replay: Arc<dyn ReplayStore>,
    /// The signing keys.
    pub keys: Arc<KeyManager>,
    /// The registered protected resources.
    pub resources: Arc<Resources>,
    /// The validator.
    pub validator: Arc<Validator>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Randomness.
    pub random: Arc<dyn Random>,
    /// SHA-256 of the admin credential.
    pub admin_token_digest: gatehouse_token::SecretDigest,
    /// The credential-guessing limit.
    pub throttle: Arc<AuthThrottle>,
    /// The last readiness probe.
    pub readiness: Arc<Readiness>,
    /// The one write path of each change ([`crate::changes`]).
    pub changes: Arc<Changes>,
    /// The token endpoint's state.
    pub issuance: Arc<Issuance>,
    /// Introspection's and revocation's state.
    pub inspection: Arc<Inspection>,
    /// Discovery's and the JWKS's state.
    pub discovery: Arc<Discovery>,
    /// The sign-in flow's state.
    pub sign_in: Arc<SignIn>,
    /// Dynamic client registration's state.
    pub registration: Arc<Registration>,
    /// The device grant's state.
    pub device: Arc<Devices>,
    /// The pages' stylesheet and script.
    pub assets: Arc<crate::pages::Assets>,
}

/// The state of the routers.
pub type AppState = Arc<App>;

/// One endpoint group's state as its handlers extract it (`State<Part<Issuance>>`): a shared
/// handle, cloned per request as cheaply as the whole state would be.
#[derive(Debug)]
pub struct Part<T>(pub Arc<T>);

impl<T> Clone for Part<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T> std::ops::Deref for Part<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

macro_rules! part_of_app {
    ($($field:ident: $group:ty),* $(,)?) => {$(
        impl FromRef<AppState> for Part<$group> {
            fn from_ref(app: &AppState) -> Self {
                Part(app.$field.clone())
            }
        }
    )*};
}

part_of_app!(
    issuance: Issuance,
    inspection: Inspection,
    discovery: Discovery,
    readiness: Readiness,
    sign_in: SignIn,
    registration: Registration,
    device: Devices,
);

impl FromRef<AppState> for BodyLimit {
    fn from_ref(app: &AppState) -> Self {
        Self(app.config.http.max_body)
    }
}

/// How long a retired key must stay published: the longest lifetime any token may have now (the
/// server default or any client's) plus the validation leeway, and at least `keys.retention`.
pub async fn key_retention(
    clients: &dyn ClientStore,
    config: &Config,
) -> Result<u64, gatehouse_core::store::StoreError> {
    let longest_client = clients
        .list()
        .await?
        .iter()
        .filter_map(|c| c.access_token_lifetime)
        .max()
        .unwrap_or(0);
    Ok(
        (longest_client.max(config.tokens.access_token_lifetime) + config.tokens.leeway)
            .max(config.keys.retention),
    )
}
