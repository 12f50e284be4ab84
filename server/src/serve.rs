//! `gatehouse serve`: open the store, load the keys, bind both listeners, serve until SIGINT or
//! SIGTERM, and keep expired state purged in the background.

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use gatehouse_core::assertion::AssertionSettings;
use gatehouse_core::client::auth::private_key_jwt::{ClientAssertionRules, ClientKeyVerifier};
use gatehouse_core::events::{Events, InProcessEvents};
use gatehouse_core::issue::{IssuerSettings, RefreshSettings, RotationKey};
use gatehouse_core::ports::{Clock, Random, random_bytes};
use gatehouse_core::store::{
    AccessTokenStore, ClientStore, CodeStore, ConsentStore, DeviceCodeStore, KeyStore, ParStore,
    RefreshTokenStore, ReplayStore, ResourceStore, RevocationStore, SecretStore, SessionStore,
    UserStore,
};
use gatehouse_signer::pkcs11::{Hsm, Pkcs11Backend, Pkcs11Settings};
use gatehouse_signer::{KeyBackend, SoftwareBackend};
use gatehouse_store::EmbeddedStore;
use gatehouse_token::{SecretDigest, b64};
use gatehouse_validator::{KeySnapshot, Policy, Validator};
use tokio::net::TcpListener;

use crate::app;
use crate::changes::Changes;
use crate::config::{Backend, Config, HttpLimits};
use crate::keys::{KeyManager, KeySettings};
use crate::pages::session::Cookies;
use crate::pages::{Assets, Look};
use crate::resources::Resources;
use crate::runtime::readiness::Readiness;
use crate::runtime::{connections, maintain};
use crate::signing::JwtSigner;
use crate::state::{
    App, ClientAuth, Devices, Discovery, Inspection, Issuance, Registration, SignIn,
};
use crate::system::{OsRandom, SystemClock};
use crate::throttle::{AuthThrottle, LoginThrottle};
use gatehouse_core::device::DeviceSettings;

/// The admin credential's file name inside the data directory.
pub const ADMIN_TOKEN_FILE: &str = "admin-token";

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The data directory is unusable.
    #[error("data directory {path}: {reason}")]
    DataDir {
        /// The directory.
        path: String,
        /// What failed.
        reason: String,
    },
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] gatehouse_store::OpenError),
    /// A storage operation failed at start.
    #[error("store: {0}")]
    StoreOp(#[from] gatehouse_core::store::StoreError),
    /// The fetcher of trusted issuers' keys could not be built.
    #[error("trust: {0}")]
    Trust(String),
    /// The keys could not be loaded.
    #[error("resources: {0}")]
    Resources(String),
    #[error("signing keys: {0}")]
    Keys(#[from] crate::keys::KeyManagerError),
    /// A setting is unusable at start (e.g. the HSM PIN cannot be read).
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The HSM could not be reached.
    #[error("HSM: {0}")]
    Hsm(#[from] gatehouse_signer::pkcs11::HsmError),
    /// A listener could not be bound.
    #[error("cannot listen on {addr} (`{field}`): {reason}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The config field to change.
        field: &'static str,
        /// The OS error.
        reason: String,
    },
    /// Serving failed.
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
    /// A TLS file is unusable.
    #[error("TLS: {0}")]
    Tls(#[from] crate::runtime::tls::TlsError),
}

/// The admin token file of a data directory.
pub fn admin_token_path(data_dir: &Path) -> PathBuf {
    data_dir.join(ADMIN_TOKEN_FILE)
}

fn data_dir_error(path: &Path, e: impl std::fmt::Display) -> ServeError {
    ServeError::DataDir {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// Creates the data directory owner-only (0700). An existing directory is left as it is, since
/// Gatehouse may not have created it (`data_dir = "."`): if others can read or enter it, a
/// warning says so; the files Gatehouse keeps in it are owner-only (0600) either way.
fn prepare_data_dir(dir: &Path) -> Result<(), ServeError> {
    use std::os::unix::fs::DirBuilderExt;
    match fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
    {
        Ok(()) => {}
        Err(e) => return Err(data_dir_error(dir, e)),
    }
    let mode = fs::metadata(dir)
        .map_err(|e| data_dir_error(dir, e))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        tracing::warn!(
            path = %dir.display(),
            mode = format!("{:o}", mode & 0o777),
            "the data directory is open to other users; its files are owner-only, but consider `chmod 700` or a directory of its own"
        );
    }
    Ok(())
}

/// Makes a file Gatehouse keeps (the admin token) owner-only again if it is not (an operator's
/// `chmod`, a copy): it grants the whole admin API.
fn owner_only(path: &Path) -> Result<(), ServeError> {
    let mode = fs::metadata(path)
        .map_err(|e| data_dir_error(path, e))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))
            .map_err(|e| data_dir_error(path, e))?;
        tracing::warn!(path = %path.display(), "the admin token was readable by others: made owner-only (0600); consider replacing it");
    }
    Ok(())
}

/// The configured admin token, or the one kept in the data directory, created (mode 0600) on
/// first start.
/// The digest of `[registration] initial_access_token_file`'s token (RFC 7591 §3), if set: read
/// once at start, surrounding whitespace dropped; an empty or unreadable file is an error.
fn initial_access_token(config: &Config) -> Result<Option<SecretDigest>, ServeError> {
    let Some(path) = &config.registration.initial_access_token_file else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        ServeError::Config(crate::config::ConfigError {
            field: "registration.initial_access_token_file".into(),
            message: format!("cannot read {}: {e}", path.display()),
        })
    })?;
    let token = text.trim();
    if token.len() < 16 {
        return Err(ServeError::Config(crate::config::ConfigError {
            field: "registration.initial_access_token_file".into(),
            message: format!(
                "{} must hold a token of at least 16 characters",
                path.display()
            ),
        }));
    }
    Ok(Some(SecretDigest::of(token)))
}

fn admin_token(config: &Config, random: &dyn Random) -> Result<String, ServeError> {
    if let Some(token) = &config.admin.token {
        return Ok(token.clone());
    }
    let path = admin_token_path(&config.data_dir);
    match fs::read_to_string(&path) {
        Ok(text) => {
            owner_only(&path)?;
            return Ok(text.trim().to_owned());
        }
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(data_dir_error(&path, e)),
        Err(_) => {}
    }
    let token = b64::encode(random_bytes::<32>(random));
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| data_dir_error(&path, e))?;
    writeln!(file, "{token}").map_err(|e| data_dir_error(&path, e))?;
    tracing::info!(path = %path.display(), "created the admin token (owner-only)");
    Ok(token)
}

/// The key backend the configuration names, connected.
async fn key_backend(config: &Config) -> Result<(Arc<dyn KeyBackend>, KeySettings), ServeError> {
    let mut settings = KeySettings {
        algorithm: config.signing.algorithm,
        schedule: config.keys,
        provisioned: None,
        destroy_retired: false,
    };
    match &config.signing.backend {
        Backend::Software => {
            tracing::warn!(
                "signing keys are software keys kept in {}: fine for development, use an HSM in production",
                config.data_dir.display()
            );
            Ok((Arc::new(SoftwareBackend), settings))
        }
        Backend::Pkcs11(p) => {
            let hsm_settings = Pkcs11Settings {
                module: p.module.clone(),
                token: p.token.clone(),
                pin: p.pin.read()?,
                key_label_prefix: p.key_label_prefix.clone(),
                rsa_bits: p.rsa_bits,
                sessions: p.sessions,
                max_waiting: p.max_waiting,
            };
            let hsm = tokio::task::spawn_blocking(move || Hsm::connect(&hsm_settings))
                .await
                .map_err(|e| ServeError::Io(std::io::Error::other(e)))??;
            tracing::info!(module = %p.module.display(), token = ?p.token, sessions = p.sessions, "signing with keys in the HSM (PKCS#11)");
            settings.provisioned = p.provisioned.clone();
            settings.destroy_retired = p.destroy_retired;
            Ok((Arc::new(Pkcs11Backend::new(hsm)), settings))
        }
    }
}

async fn bind(addr: std::net::SocketAddr, field: &'static str) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr).await.map_err(|e| ServeError::Bind {
        addr,
        field,
        reason: e.to_string(),
    })
}

/// Password verifications (argon2id, 19 MiB each) that may run at once: sign-in memory stays
/// under ~80 MiB however many people sign in together.
const PASSWORD_CHECKS: usize = 4;

/// Opens the store, connects the key backend, loads keys and revocations: the application state,
/// ready to serve (also used by benchmarks that drive the router in process).
pub async fn build_app(config: Config) -> Result<Arc<App>, ServeError> {
    build_app_with(config, Ports::default()).await
}

/// What the application takes from the world: time, randomness, and where events go. The
/// server passes the real ones; tests pass a fixed clock (and watch the events).
#[expect(missing_debug_implementations, reason = "trait objects have no Debug")]
pub struct Ports {
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Randomness.
    pub random: Arc<dyn Random>,
    /// Where changes every node must see are published.
    pub events: Arc<dyn Events>,
}

impl Default for Ports {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            random: Arc::new(OsRandom::default()),
            events: Arc::new(InProcessEvents::default()),
        }
    }
}

/// [`build_app`] with the given ports (tests move a fixed clock to the edges of token
/// lifetimes).
pub async fn build_app_with(config: Config, ports: Ports) -> Result<Arc<App>, ServeError> {
    let Ports {
        clock,
        random,
        events,
    } = ports;
    prepare_data_dir(&config.data_dir)?;
    let store = Arc::new(EmbeddedStore::open(&config.data_dir)?);
    let admin_token = admin_token(&config, random.as_ref())?;

    // The server's own checks are exact (RFC 7662 §2.2): it is the clock that issued the
    // tokens. `config.tokens.leeway` is what resource servers may allow; it sets how long revocations
    // and retired keys are kept.
    let policy = Policy {
        issuer: config.issuer.clone(),
        leeway: 0,
        max_token_len: Policy::DEFAULT_MAX_TOKEN_LEN,
        cache_size: config.validation.cache_size,
    };
    let validator = Arc::new(Validator::new(policy, KeySnapshot::default()));
    let now = clock.now();
    let cutoff = gatehouse_core::revocation::purge_cutoff(now, config.tokens.leeway);
    let mut after = None;
    loop {
        let page = RevocationStore::live_page(store.as_ref(), cutoff, after.take(), 50_000).await?;
        let Some((last, _)) = page.last() else { break };
        after = Some(last.clone());
        for (jti, exp) in page {
            validator.revocations().insert(jti, exp);
        }
    }
    let retain = crate::state::key_retention(store.as_ref(), &config).await?;
    let key_store: Arc<dyn KeyStore> = store.clone();
    let (backend, settings) = key_backend(&config).await?;
    let keys = Arc::new(
        KeyManager::start(key_store, backend, validator.clone(), settings, now, retain).await?,
    );

    // Stored clients, and those identified by a metadata document URL (CIMD), behind one store.
    let stored: Arc<dyn ClientStore> = store.clone();
    let directory =
        crate::clients::directory(stored, &config.client_metadata_documents, clock.clone())?;
    let (clients, tokens, revocations): (
        Arc<dyn ClientStore>,
        Arc<dyn AccessTokenStore>,
        Arc<dyn RevocationStore>,
    ) = (Arc::new(directory), store.clone(), store.clone());
    let users: Arc<dyn UserStore> = store.clone();
    let sessions: Arc<dyn SessionStore> = store.clone();
    let consents: Arc<dyn ConsentStore> = store.clone();
    let codes: Arc<dyn CodeStore> = store.clone();
    let pushed: Arc<dyn ParStore> = store.clone();
    let refresh_tokens: Arc<dyn RefreshTokenStore> = store.clone();
    let devices: Arc<dyn DeviceCodeStore> = store.clone();
    let replay: Arc<dyn ReplayStore> = store.clone();
    let verifier = Arc::new(
        crate::trust::Verifier::new(
            &config.trust,
            validator.clone(),
            tokens.clone(),
            clients.clone(),
            clock.clone(),
        )
        .map_err(|e| ServeError::Trust(e.to_string()))?,
    );
    let resource_store: Arc<dyn ResourceStore> = store.clone();
    let resources = Arc::new(
        Resources::load(config.resources.clone(), resource_store)
            .await
            .map_err(|e| ServeError::Resources(e.to_string()))?,
    );
    let throttle = Arc::new(AuthThrottle::new(&config.limits));
    let assertion_keys: Arc<dyn ClientKeyVerifier> = Arc::new(crate::clients::assertion_keys_of(
        &config.client_keys,
        clock.clone(),
    )?);
    let assertion_rules = Arc::new(ClientAssertionRules {
        issuer: config.issuer.clone(),
        token_endpoint: format!(
            "{}{}",
            config.issuer,
            gatehouse_core::discovery::paths::TOKEN
        ),
        issuer_only: config.client_keys.issuer_only,
        lifetimes: AssertionSettings {
            max_lifetime: config.client_keys.max_assertion_lifetime,
            leeway: config.tokens.leeway,
            ..AssertionSettings::default()
        },
    });
    let client_cas = config
        .tls
        .client_ca_file
        .as_deref()
        .map(crate::runtime::tls::ChainCheck::load)
        .transpose()?
        .map(Arc::new);
    let auth = || ClientAuth {
        clients: clients.clone(),
        throttle: throttle.clone(),
        clock: clock.clone(),
        dynamic_idle_expiry: config.registration.idle_expiry,
        profile: config.security_profile,
        assertion_keys: assertion_keys.clone(),
        assertion_rules: assertion_rules.clone(),
        replay: replay.clone(),
        issuer: config.issuer.clone(),
        client_cas: client_cas.clone(),
    };
    let changes = Arc::new(Changes {
        clients: clients.clone(),
        tokens: tokens.clone(),
        revocations: revocations.clone(),
        users: users.clone(),
        sessions: sessions.clone(),
        consents: consents.clone(),
        refresh_tokens: refresh_tokens.clone(),
        validator: validator.clone(),
        keys: keys.clone(),
        events: events.clone(),
        clock: clock.clone(),
        config: config.clone(),
    });
    // Keys that must outlive a restart: the refresh-token rotation key and the forms' CSRF key.
    let secrets: &dyn SecretStore = store.as_ref();
    let rotation_key = secrets
        .get_or_create("refresh_rotation", random_bytes::<32>(random.as_ref()))
        .await?;
    let csrf_key = secrets
        .get_or_create("csrf", random_bytes::<32>(random.as_ref()))
        .await?;
    let dpop =
        crate::dpop::DpopCheck::new(&config.dpop, &rotation_key, config.tls.mtls_base.clone());
    let issuance = Arc::new(Issuance {
        auth: auth(),
        settings: IssuerSettings {
            issuer: config.issuer.clone(),
            access_token_lifetime: config.tokens.access_token_lifetime,
            opaque_tokens_per_client: config.limits.opaque_tokens_per_client,
            refresh: RefreshSettings {
                idle_lifetime: config.tokens.refresh_token_idle_lifetime,
                lifetime: config.tokens.refresh_token_lifetime,
                grace: config.tokens.refresh_token_grace,
                rotate_confidential: config.tokens.rotate_confidential_refresh,
                rotation_key: RotationKey(rotation_key),
            },
            profile: config.security_profile,
        },
        tokens: tokens.clone(),
        codes: codes.clone(),
        pushed: pushed.clone(),
        refresh_tokens: refresh_tokens.clone(),
        devices: devices.clone(),
        users: users.clone(),
        changes: changes.clone(),
        signer: JwtSigner(keys.clone()),
        random: random.clone(),
        verifier,
        replay: replay.clone(),
        assertions: AssertionSettings {
            max_lifetime: config.trust.max_assertion_lifetime,
            leeway: config.tokens.leeway,
            id_jag_lifetime: config.trust.id_jag_lifetime,
            downstream: config.trust.downstream.clone(),
        },
        resources: resources.clone(),
        dpop: dpop.clone(),
    });
    let inspection = Arc::new(Inspection {
        auth: auth(),
        validator: validator.clone(),
        tokens: tokens.clone(),
        users: users.clone(),
        changes: changes.clone(),
        signer: JwtSigner(keys.clone()),
        random: random.clone(),
        issuer: config.issuer.clone(),
        dpop: config.dpop.proofs.clone(),
        dpop_replay: gatehouse_validator::dpop::ReplayCache::default(),
        dpop_nonces: dpop.clone(),
    });
    // FAPI 2.0 SP §5.3.2.2 item 2: the profile pushes every authorization request.
    let require_par = config.authorize.require_pushed_authorization_requests
        || config.security_profile.requires_par();
    let discovery = Arc::new(Discovery {
        issuer: config.issuer.clone(),
        keys: keys.clone(),
        require_par,
        registration: config.registration.enabled,
        metadata_documents: config.client_metadata_documents.enabled,
        device: config.device.enabled,
        profile: config.security_profile,
        assertion_algorithms: config.client_keys.algorithms.clone(),
        resources: resources.clone(),
        client_certificates: config.tls.client_certificates(),
        mtls_base: config.tls.mtls_base.clone(),
        dpop_algorithms: dpop.algorithms(),
    });
    let base = config.issuer_path();
    let sign_in = Arc::new(SignIn {
        issuer: config.issuer.clone(),
        base: base.clone(),
        clients: clients.clone(),
        users: users.clone(),
        sessions: sessions.clone(),
        consents: consents.clone(),
        codes: codes.clone(),
        pushed: pushed.clone(),
        resources: resources.clone(),
        require_par,
        cookies: Cookies::new(&config.issuer, config.pages.session_lifetime, csrf_key),
        look: Look::new(&config.pages, &base),
        throttle: LoginThrottle::new(),
        validator: validator.clone(),
        hashing: Arc::new(tokio::sync::Semaphore::new(PASSWORD_CHECKS)),
        session_lifetime: config.pages.session_lifetime,
        clock: clock.clone(),
        random: random.clone(),
    });
    let registration = Arc::new(Registration {
        issuer: config.issuer.clone(),
        clients: clients.clone(),
        changes: changes.clone(),
        policy: gatehouse_core::client::dynamic::DynamicPolicy {
            auth_methods: config.registration.auth_methods.clone(),
            grant_types: dynamic_grant_types(&config),
            max_redirect_uris: config.registration.max_redirect_uris,
        },
        initial_token_digest: initial_access_token(&config)?,
        per_address: crate::throttle::Throttle::new(
            config.registration.per_address_per_hour,
            3_600,
        ),
        registering: tokio::sync::Mutex::new(()),
        config: config.registration.clone(),
        clock: clock.clone(),
        random: random.clone(),
    });
    let device = Arc::new(Devices {
        auth: auth(),
        issuer: config.issuer.clone(),
        store: devices.clone(),
        settings: DeviceSettings {
            lifetime: config.device.lifetime,
            interval: config.device.interval,
        },
        resources: resources.clone(),
        per_client: crate::throttle::DeviceStartThrottle::new(config.device.per_client_per_minute),
        per_address: crate::throttle::Throttle::new(config.device.per_address_per_minute, 60),
        guesses: crate::throttle::GuessThrottle::new(
            config.device.wrong_codes_per_hour,
            config.device.wrong_codes_per_account_per_hour,
            config.device.wrong_codes_per_hour_global,
        ),
        random: random.clone(),
    });
    let assets = Arc::new(Assets::new(&config.pages));
    let app = Arc::new(App {
        sign_in,
        registration,
        device,
        assets,
        throttle,
        readiness: Arc::new(Readiness::default()),
        clients,
        tokens,
        revocations,
        users,
        sessions,
        consents,
        codes,
        pushed,
        refresh_tokens,
        devices,
        replay,
        keys,
        resources,
        validator,
        clock,
        random,
        admin_token_digest: SecretDigest::of(&admin_token),
        changes,
        issuance,
        inspection,
        discovery,
        config,
    });
    app.readiness.probe(&app).await;
    Ok(app)
}

/// The TLS side of the listeners: the acceptor of `listen` (if it speaks TLS) and of the mTLS
/// listener, and the server identity both share (reloaded in the background).
struct Tls {
    public: Option<tokio_rustls::TlsAcceptor>,
    mtls: Option<tokio_rustls::TlsAcceptor>,
    identity: Option<Arc<crate::runtime::tls::ServerIdentity>>,
}

fn tls(config: &crate::config::TlsConfig) -> Result<Tls, ServeError> {
    use crate::runtime::tls::{ServerIdentity, acceptor};
    let (Some(certificate), Some(key)) = (&config.certificate_file, &config.key_file) else {
        return Ok(Tls {
            public: None,
            mtls: None,
            identity: None,
        });
    };
    let identity = ServerIdentity::load(certificate, key)?;
    let public = config
        .listen_tls
        .then(|| acceptor(identity.clone(), config.request_client_certificates))
        .transpose()?;
    let mtls = config
        .mtls_listen
        .map(|_| acceptor(identity.clone(), true))
        .transpose()?;
    Ok(Tls {
        public,
        mtls,
        identity: Some(identity),
    })
}

/// Runs the server until a shutdown signal.
pub async fn run(config: Config, json: bool) -> Result<(), ServeError> {
    let app = build_app(config).await?;
    let tls = tls(&app.config.tls)?;
    let public = bind(app.config.listen, "listen").await?;
    let admin = bind(app.config.admin.listen, "admin.listen").await?;
    let mtls = match app.config.tls.mtls_listen {
        Some(addr) => Some(bind(addr, "tls.mtls_listen").await?),
        None => None,
    };
    let (public_addr, admin_addr) = (public.local_addr()?, admin.local_addr()?);
    let mtls_addr = mtls.as_ref().map(TcpListener::local_addr).transpose()?;
    if !admin_addr.ip().is_loopback() {
        tracing::warn!(%admin_addr, "the admin API listens beyond loopback over plain HTTP (admin.allow_remote): terminate TLS in front of it");
    }
    if app.config.tls.client_certificates() && app.config.tls.client_ca_file.is_none() {
        tracing::warn!(
            "client certificates are accepted but tls.client_ca_file is not set: no tls_client_auth certificate can be trusted (self_signed_tls_client_auth still works)"
        );
    }
    let limits = app.config.http;
    // The admin API serves an operator and their automation, not the world: a few dozen
    // connections are plenty, and its own count keeps it reachable when the public port is full.
    let admin_limits = HttpLimits {
        max_connections: ADMIN_MAX_CONNECTIONS,
        max_connections_per_address: 0,
        ..limits
    };
    let mtls_connections = if mtls.is_some() {
        limits.max_connections
    } else {
        0
    };
    file_descriptor_budget(limits.max_connections + mtls_connections + ADMIN_MAX_CONNECTIONS);
    let scheme = if tls.public.is_some() {
        "https"
    } else {
        "http"
    };
    if json {
        let mut line = serde_json::json!({
            "issuer": app.config.issuer,
            "listen": public_addr.to_string(),
            "admin_listen": admin_addr.to_string(),
            "data_dir": app.config.data_dir.display().to_string(),
        });
        if let Some(addr) = mtls_addr {
            line["mtls_listen"] = serde_json::json!(addr.to_string());
        }
        announce(&line.to_string());
    } else {
        let mtls_note = mtls_addr
            .map(|a| format!(", mutual TLS on https://{a}"))
            .unwrap_or_default();
        announce(&format!(
            "gatehouse listening on {scheme}://{public_addr} (issuer {}){mtls_note}, admin API on http://{admin_addr}",
            app.config.issuer
        ));
    }
    tracing::info!(%public_addr, %admin_addr, ?mtls_addr, issuer = %app.config.issuer, "serving");

    let mut background = vec![
        tokio::spawn(maintain::run(app.clone())),
        tokio::spawn(maintain::probe(app.clone())),
    ];
    if let Some(identity) = tls.identity.clone() {
        let every = std::time::Duration::from_secs(app.config.tls.reload_interval);
        background.push(tokio::spawn(identity.watch(every)));
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
    });
    let mtls_serving = {
        let (app, stop_rx) = (app.clone(), stop_rx.clone());
        async move {
            if let Some(listener) = mtls {
                connections::serve(
                    "mtls",
                    listener,
                    app::router(app),
                    limits,
                    stop_rx,
                    tls.mtls,
                )
                .await;
            }
        }
    };
    tokio::join!(
        connections::serve(
            "public",
            public,
            app::router(app.clone()),
            limits,
            stop_rx.clone(),
            tls.public,
        ),
        connections::serve(
            "admin",
            admin,
            crate::admin::router(app.clone()),
            admin_limits,
            stop_rx,
            None,
        ),
        mtls_serving,
    );
    for task in background {
        task.abort();
    }
    tracing::info!("stopped");
    Ok(())
}

/// The line that says where the server listens, on stdout; a closed stdout is not fatal.
fn announce(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stdout(), "{line}");
}

/// The most connections the admin listener holds at once.
pub const ADMIN_MAX_CONNECTIONS: usize = 64;

/// Raises the soft limit of open files to the hard limit, and warns when even that leaves too
/// few descriptors for `connections` (two each: the socket and its watchdog's handle, see
/// [`crate::runtime::connections`]) plus the database, the HSM and the logs.
fn file_descriptor_budget(connections: usize) {
    let limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the limit of open files");
            return;
        }
    };
    let needed = 2 * connections as u64 + 64;
    if limit < needed {
        tracing::warn!(
            open_files = limit,
            needed,
            "the limit of open files is below what http.max_connections needs: lower it or raise the limit (ulimit -n)"
        );
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
}

/// The grant types a dynamically registered client may ask for: `[registration]`'s, and the
/// device grant where `[device]` lets such clients (public ones included) use it.
fn dynamic_grant_types(config: &Config) -> Vec<gatehouse_core::client::GrantType> {
    use gatehouse_core::client::GrantType;
    let mut grants = config.registration.grant_types.clone();
    if config.device.enabled
        && config.device.dynamic_clients
        && !grants.contains(&GrantType::DeviceCode)
    {
        grants.push(GrantType::DeviceCode);
    }
    grants
}
