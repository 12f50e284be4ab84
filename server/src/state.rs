//! The state every handler shares: configuration, the stores behind `core`'s traits, the keys
//! and the validator. Built once at start; handlers borrow what they need.

use std::sync::Arc;

use axum::extract::FromRef;
use gatehouse_core::events::Events;
use gatehouse_core::grant::GrantContext;
use gatehouse_core::issue::IssuerSettings;
use gatehouse_core::ports::{Clock, Random};
use gatehouse_core::store::{AccessTokenStore, ClientStore, RevocationStore};
use gatehouse_validator::Validator;

use crate::config::Config;
use crate::form::BodyLimit;
use crate::keys::KeyManager;
use crate::runtime::readiness::Readiness;
use crate::signing::JwtSigner;
use crate::throttle::AuthThrottle;

/// Shared application state.
#[allow(missing_debug_implementations)] // trait objects
pub struct App {
    /// The configuration.
    pub config: Config,
    /// Issuance settings for `core`.
    pub settings: IssuerSettings,
    /// Registered clients.
    pub clients: Arc<dyn ClientStore>,
    /// Opaque access tokens.
    pub tokens: Arc<dyn AccessTokenStore>,
    /// Revoked JWT ids.
    pub revocations: Arc<dyn RevocationStore>,
    /// The signing keys.
    pub keys: Arc<KeyManager>,
    /// The access-token signer.
    pub signer: JwtSigner,
    /// The validator.
    pub validator: Arc<Validator>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Randomness.
    pub random: Arc<dyn Random>,
    /// Where changes every node must see are published ([`crate::changes`]).
    pub events: Arc<dyn Events>,
    /// SHA-256 of the admin credential.
    pub admin_token_digest: gatehouse_token::TokenDigest,
    /// The credential-guessing limit.
    pub throttle: AuthThrottle,
    /// The last readiness probe.
    pub readiness: Readiness,
}

/// The state handlers receive.
pub type AppState = Arc<App>;

impl App {
    /// The context of a grant, borrowing this state's ports.
    pub fn grant_context(&self) -> GrantContext<'_> {
        GrantContext {
            settings: &self.settings,
            clients: self.clients.as_ref(),
            tokens: self.tokens.as_ref(),
            signer: &self.signer,
            clock: self.clock.as_ref(),
            random: self.random.as_ref(),
        }
    }

    /// How long a retired key must stay published (see [`key_retention`]).
    pub async fn key_retention(&self) -> Result<u64, gatehouse_core::store::StoreError> {
        key_retention(self.clients.as_ref(), &self.config).await
    }
}

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
