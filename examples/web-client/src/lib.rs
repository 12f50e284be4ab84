//! A web application that signs people in with Gatehouse: an OpenID Connect relying party built
//! on the `openidconnect` crate. Run it next to `gatehouse serve` and open it in a browser.
//!
//! ```text
//! gatehouse client create --name "Web client" --public --scope "openid profile email" \
//!     --redirect-uri http://127.0.0.1:3000/callback \
//!     --post-logout-redirect-uri http://127.0.0.1:3000/ --resource https://notes.example/mcp
//! cargo run -p web-client -- --client-id <client_id>   # add --client-secret for a confidential client
//! ```
//!
//! - `GET /`: who is signed in (the verified ID token's claims and the UserInfo answer), or a
//!   "Sign in with Gatehouse" link.
//! - `GET /login`: discovery, then off to the authorization endpoint with PKCE (S256), `state`,
//!   `nonce` and the RFC 8707 `resource`.
//! - `GET /callback`: checks `state` and the RFC 9207 `iss`, redeems the code, verifies the ID
//!   token (signature, `iss`, `aud`, `exp`, `nonce`, `at_hash`), asks UserInfo.
//! - `GET /logout`: forgets the person here, then RP-initiated logout at Gatehouse, which sends
//!   them back to `/` with the `state` it was given.
//!
//! What a browser is waiting for lives in memory, keyed by a random cookie: a sample, not a
//! session store.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreIdTokenClaims, CoreUserInfoClaims,
};
use openidconnect::url::Url;
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndSessionUrl,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, LogoutRequest, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, PostLogoutRedirectUrl,
    ProviderMetadataWithLogout, RedirectUrl, Scope, TokenResponse, reqwest,
};
use serde::Deserialize;

mod page;

/// The cookie that names a browser's entry in [`App::sessions`].
const COOKIE: &str = "web_client_session";
/// Scopes asked for besides `openid` (which the crate adds).
const SCOPES: [&str; 2] = ["profile", "email"];
/// How long a sign-in may take from `/login` to `/callback`.
const SIGN_IN_TIMEOUT: Duration = Duration::from_secs(600);

/// Settings, from flags or the environment.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "web-client",
    about = "A web application that signs people in with Gatehouse."
)]
pub struct Config {
    /// Gatehouse's issuer identifier.
    #[arg(
        long,
        env = "WEB_CLIENT_ISSUER",
        default_value = "http://127.0.0.1:8080",
        value_parser = issuer
    )]
    pub issuer: IssuerUrl,
    /// This application's client_id at Gatehouse.
    #[arg(long, env = "WEB_CLIENT_CLIENT_ID")]
    pub client_id: String,
    /// Its client secret; without one it is a public client (PKCE alone).
    #[arg(
        long,
        env = "WEB_CLIENT_CLIENT_SECRET",
        hide_env_values = true,
        value_parser = secret
    )]
    pub client_secret: Option<ClientSecret>,
    /// Where to listen.
    #[arg(long, env = "WEB_CLIENT_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,
    /// The resource (RFC 8707) the access token is for.
    #[arg(
        long,
        env = "WEB_CLIENT_RESOURCE",
        default_value = "https://notes.example/mcp"
    )]
    pub resource: String,
}

fn issuer(s: &str) -> Result<IssuerUrl, String> {
    IssuerUrl::new(s.to_owned()).map_err(|e| e.to_string())
}

fn secret(s: &str) -> Result<ClientSecret, String> {
    Ok(ClientSecret::new(s.to_owned()))
}

impl Config {
    /// This application's URL: `http://<listen>/`. The redirect URI is its `/callback`, the
    /// post-logout redirect URI the URL itself.
    pub fn url(&self) -> Url {
        Url::parse(&format!("http://{}/", self.listen)).expect("a socket address makes a URL")
    }
}

/// The application: its routes, with `config`.
///
/// # Panics
///
/// If the HTTP client cannot be built (no TLS backend).
pub fn router(config: Config) -> Router {
    let url = config.url();
    let http = reqwest::Client::builder()
        // Following redirects would let a provider point this server anywhere (SSRF).
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client");
    let app = App {
        redirect_uri: RedirectUrl::from_url(url.join("callback").expect("a base URL")),
        post_logout_redirect_uri: PostLogoutRedirectUrl::from_url(url),
        http,
        sessions: Mutex::default(),
        config,
    };
    Router::new()
        .route("/", get(index))
        .route("/login", get(login))
        .route("/callback", get(callback))
        .route("/logout", get(logout))
        .with_state(Arc::new(app))
}

/// The client discovery makes: the token and UserInfo endpoints are as the provider says.
type OidcClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// What discovery found: a client that knows the provider's endpoints and keys, and where to
/// sign out.
struct Provider {
    client: OidcClient,
    end_session: Option<EndSessionUrl>,
}

/// Where a browser is.
enum Session {
    /// Sent to Gatehouse to sign in; what the callback must match and redeem with.
    SigningIn {
        provider: Arc<Provider>,
        state: CsrfToken,
        nonce: Nonce,
        verifier: PkceCodeVerifier,
        since: Instant,
    },
    SignedIn(Box<SignedIn>),
    /// Sent to Gatehouse to sign out; `state` comes back with the browser.
    SigningOut {
        state: CsrfToken,
    },
}

/// A person signed in, as verified.
struct SignedIn {
    provider: Arc<Provider>,
    /// Kept as the `id_token_hint` of the sign-out request.
    id_token: CoreIdToken,
    claims: CoreIdTokenClaims,
    userinfo: CoreUserInfoClaims,
}

struct App {
    config: Config,
    redirect_uri: RedirectUrl,
    post_logout_redirect_uri: PostLogoutRedirectUrl,
    http: reqwest::Client,
    sessions: Mutex<HashMap<String, Session>>,
}

/// Why a sign-in failed; shown to the person (this is a development sample: the detail helps).
#[derive(Debug, thiserror::Error)]
enum Error {
    #[error("no sign-in is in progress in this browser (it expired, or was already used)")]
    NoSignIn,
    #[error("the state in the answer is not the one this browser was sent with")]
    State,
    #[error("the answer's iss is {}, not the issuer (RFC 9207)", .0.as_deref().unwrap_or("missing"))]
    Issuer(Option<String>),
    #[error("Gatehouse answered {error}: {}", .description.as_deref().unwrap_or("(no description)"))]
    Refused {
        error: String,
        description: Option<String>,
    },
    #[error("the answer has no code")]
    NoCode,
    #[error("discovery failed: {0}")]
    Discovery(String),
    #[error("the code could not be redeemed: {0}")]
    Token(String),
    #[error("the ID token is not valid: {0}")]
    IdToken(String),
    #[error("UserInfo failed: {0}")]
    UserInfo(String),
}

/// An error and its sources, on one line.
fn detail(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = match self {
            Self::Discovery(_) | Self::Token(_) | Self::IdToken(_) | Self::UserInfo(_) => {
                StatusCode::BAD_GATEWAY
            }
            _ => StatusCode::BAD_REQUEST,
        };
        (status, page::failed(&self.to_string())).into_response()
    }
}

impl App {
    fn sessions(&self) -> MutexGuard<'_, HashMap<String, Session>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads the provider's metadata and keys (OpenID Connect Discovery 1.0 §4).
    async fn discover(&self) -> Result<Provider, Error> {
        let metadata =
            ProviderMetadataWithLogout::discover_async(self.config.issuer.clone(), &self.http)
                .await
                .map_err(|e| Error::Discovery(detail(&e)))?;
        let end_session = metadata.additional_metadata().end_session_endpoint.clone();
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.config.client_id.clone()),
            self.config.client_secret.clone(),
        )
        .set_redirect_uri(self.redirect_uri.clone());
        Ok(Provider {
            client,
            end_session,
        })
    }

    /// Redeems the code and verifies what comes back (OpenID Connect Core 1.0 §3.1.3).
    async fn redeem(
        &self,
        provider: &Arc<Provider>,
        code: String,
        nonce: &Nonce,
        verifier: PkceCodeVerifier,
    ) -> Result<SignedIn, Error> {
        let client = &provider.client;
        let token = |e: &dyn std::error::Error| Error::Token(detail(e));
        let tokens = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| token(&e))?
            .set_pkce_verifier(verifier)
            .request_async(&self.http)
            .await
            .map_err(|e| token(&e))?;
        let invalid = |e: &dyn std::error::Error| Error::IdToken(detail(e));
        let id_token = tokens
            .id_token()
            .ok_or_else(|| Error::IdToken("the token response has none".into()))?;
        let id_verifier = client.id_token_verifier();
        let claims = id_token
            .claims(&id_verifier, nonce)
            .map_err(|e| invalid(&e))?;
        // The access token must be the one the ID token was issued with (§3.1.3.8).
        if let Some(expected) = claims.access_token_hash() {
            let actual = AccessTokenHash::from_token(
                tokens.access_token(),
                id_token.signing_alg().map_err(|e| invalid(&e))?,
                id_token
                    .signing_key(&id_verifier)
                    .map_err(|e| invalid(&e))?,
            )
            .map_err(|e| invalid(&e))?;
            if actual != *expected {
                return Err(Error::IdToken(
                    "at_hash does not match the access token".into(),
                ));
            }
        }
        let userinfo_failed = |e: &dyn std::error::Error| Error::UserInfo(detail(e));
        let userinfo = client
            .user_info(
                tokens.access_token().clone(),
                Some(claims.subject().clone()),
            )
            .map_err(|e| userinfo_failed(&e))?
            .request_async(&self.http)
            .await
            .map_err(|e| userinfo_failed(&e))?;
        Ok(SignedIn {
            id_token: id_token.clone(),
            claims: claims.clone(),
            userinfo,
            provider: Arc::clone(provider),
        })
    }
}

/// The browser's session key, from its cookie.
fn session_key(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(COOKIE)?.strip_prefix('='))
}

/// A redirect that gives the browser a fresh session key (a new one at each step up, so that a
/// key planted before sign-in is worth nothing after it).
fn redirect_with_session(to: &str, key: &str) -> Response {
    let cookie = format!("{COOKIE}={key}; Path=/; HttpOnly; SameSite=Lax");
    ([(header::SET_COOKIE, cookie)], Redirect::to(to)).into_response()
}

/// What `/` may be sent back with after signing out.
#[derive(Deserialize)]
struct SignedOut {
    state: Option<String>,
}

/// `GET /`.
async fn index(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(back): Query<SignedOut>,
) -> Response {
    let mut sessions = app.sessions();
    let key = session_key(&headers).unwrap_or_default();
    match sessions.get(key) {
        Some(Session::SignedIn(s)) => page::signed_in(&s.claims, &s.userinfo).into_response(),
        Some(Session::SigningOut { state }) if back.state.as_deref() == Some(state.secret()) => {
            sessions.remove(key);
            page::signed_out(true).into_response()
        }
        _ => page::signed_out(false).into_response(),
    }
}

/// `GET /login`.
async fn login(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, Error> {
    // Discovery at each sign-in: the keys are fresh when the ID token comes back.
    let provider = Arc::new(app.discover().await?);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = provider
        .client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scopes(SCOPES.map(|s| Scope::new(s.to_owned())))
        .add_extra_param("resource", app.config.resource.clone())
        .set_pkce_challenge(challenge)
        .url();
    let key = CsrfToken::new_random().into_secret();
    let mut sessions = app.sessions();
    sessions.retain(
        |_, s| !matches!(s, Session::SigningIn { since, .. } if since.elapsed() > SIGN_IN_TIMEOUT),
    );
    if let Some(old) = session_key(&headers) {
        sessions.remove(old);
    }
    let signing_in = Session::SigningIn {
        provider,
        state,
        nonce,
        verifier,
        since: Instant::now(),
    };
    sessions.insert(key.clone(), signing_in);
    Ok(redirect_with_session(url.as_str(), &key))
}

/// The authorization response (RFC 6749 §4.1.2, RFC 9207 §2).
#[derive(Deserialize)]
struct Answer {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /callback`.
async fn callback(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(answer): Query<Answer>,
) -> Result<Response, Error> {
    // Taken out whatever the answer: a sign-in is answered once.
    let taken = session_key(&headers).and_then(|k| app.sessions().remove(k));
    let Some(Session::SigningIn {
        provider,
        state,
        nonce,
        verifier,
        since,
    }) = taken
    else {
        return Err(Error::NoSignIn);
    };
    if since.elapsed() > SIGN_IN_TIMEOUT {
        return Err(Error::NoSignIn);
    }
    if answer.state.as_deref() != Some(state.secret()) {
        return Err(Error::State);
    }
    // The provider says it sends `iss`, so an answer without it, or with another, is refused
    // (RFC 9207 §2.4): it may come from another provider this browser also uses.
    if answer.iss.as_deref() != Some(app.config.issuer.as_str()) {
        return Err(Error::Issuer(answer.iss));
    }
    if let Some(error) = answer.error {
        return Err(Error::Refused {
            error,
            description: answer.error_description,
        });
    }
    let code = answer.code.ok_or(Error::NoCode)?;
    let signed_in = app.redeem(&provider, code, &nonce, verifier).await?;
    let key = CsrfToken::new_random().into_secret();
    app.sessions()
        .insert(key.clone(), Session::SignedIn(Box::new(signed_in)));
    Ok(redirect_with_session("/", &key))
}

/// `GET /logout` (OpenID Connect RP-Initiated Logout 1.0 §2).
async fn logout(State(app): State<Arc<App>>, headers: HeaderMap) -> Redirect {
    let Some(key) = session_key(&headers) else {
        return Redirect::to("/");
    };
    let mut sessions = app.sessions();
    let Some(Session::SignedIn(signed_in)) = sessions.remove(key) else {
        return Redirect::to("/");
    };
    let Some(end_session) = &signed_in.provider.end_session else {
        return Redirect::to("/");
    };
    let state = CsrfToken::new_random();
    let url = LogoutRequest::from(end_session.clone())
        .set_id_token_hint(&signed_in.id_token)
        .set_client_id(ClientId::new(app.config.client_id.clone()))
        .set_post_logout_redirect_uri(app.post_logout_redirect_uri.clone())
        .set_state(state.clone())
        .http_get_url();
    sessions.insert(key.to_owned(), Session::SigningOut { state });
    Redirect::to(url.as_str())
}
