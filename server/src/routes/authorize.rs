//! The authorization endpoint (RFC 6749 §3.1) and the pages behind it: `GET /authorize` checks
//! the request and shows the sign-in or consent page (or answers at once when the person is
//! signed in and has consented); `POST /authorize/login` and `POST /authorize/consent` take the
//! forms. Protocol decisions are `core::authorize`'s; this module is the browser's side.
//!
//! The forms carry the original request (its query string) back, and it is checked again in
//! full on every post: nothing about a pending request is stored, and a form cannot change it
//! unnoticed into something the checks would refuse.

use std::net::IpAddr;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_core::authorize::code::{self, Approval};
use gatehouse_core::authorize::consent;
use gatehouse_core::authorize::decide::{self, Step};
use gatehouse_core::authorize::par::{self, Source};
use gatehouse_core::authorize::{
    self, AuthorizationRequest, AuthorizeError, ErrorCode, Reply, ResponseMode,
};
use gatehouse_core::form::Form;
use gatehouse_core::store::Session;
use gatehouse_core::user::{MAX_USERNAME_LEN, PasswordHash, User, Username};
use gatehouse_token::{SecretDigest, b64};

use crate::form::OAuthForm;
use crate::pages::session::{BrowserId, SignedIn};
use crate::pages::{ConsentPage, ErrorPage, FormPostPage, LoginPage, describe_scope};
use crate::routes::paths;
use crate::state::{Part, SignIn};
use crate::throttle::address_key;

/// Where the sign-in form posts, under the issuer's path.
pub const LOGIN_PATH: &str = "/authorize/login";
/// Where the consent form posts.
pub const CONSENT_PATH: &str = "/authorize/consent";
/// How long the pages may carry a pushed request once its `request_uri` is used: the time to
/// sign in and consent, in the browser that used it.
const SEALED_LIFETIME: u64 = 600;
/// How long a sign-in may wait for a password verification to start.
const HASHING_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

fn error_page(app: &SignIn, status: StatusCode, title: &str, message: &str) -> Response {
    ErrorPage {
        look: &app.look,
        status,
        title,
        message,
        retry_after: None,
    }
    .into_response()
}

/// A reply to the client: a 303 to its redirect URI, or a form the browser posts there.
fn send(app: &SignIn, reply: &Reply) -> Response {
    match reply.mode {
        ResponseMode::Query => Redirect::to(&reply.location()).into_response(),
        ResponseMode::FormPost => {
            let params: Vec<(&str, &str)> =
                reply.params.iter().map(|(n, v)| (*n, v.as_str())).collect();
            FormPostPage {
                look: &app.look,
                redirect_uri: &reply.redirect_uri,
                params: &params,
            }
            .into_response()
        }
    }
}

/// A checked request, what the next page must carry, and, for a pushed request, the digest it
/// is stored under (completed once a code is issued or the person says no).
struct Checked {
    req: AuthorizationRequest,
    carry: String,
    pushed: Option<SecretDigest>,
}

/// The text a pushed request is sealed as: the digest it is stored under, `~`, its parameters.
fn pushed_text(stored_as: &SecretDigest, params: &str) -> String {
    format!("{}~{params}", b64::encode(stored_as.0))
}

/// The digest and parameters of [`pushed_text`].
fn split_pushed(text: &str) -> Option<(SecretDigest, &str)> {
    let (digest, params) = text.split_once('~')?;
    let mut bytes = [0u8; 32];
    (b64::decode_into(digest, &mut bytes).ok()? == 32).then_some((SecretDigest(bytes), params))
}

/// The request a page carries, checked, and what the next page must carry: the query of a
/// direct request as it came; a pushed request's parameters (RFC 9126), resolved once and
/// sealed to this browser, so that no post can pass off parameters of its own as pushed ones.
/// A failure is already answered.
async fn check(
    app: &SignIn,
    carried: &str,
    browser: &BrowserId,
    json: bool,
) -> Result<Checked, Response> {
    let broken = || {
        error_page(
            app,
            StatusCode::BAD_REQUEST,
            "This sign-in link is broken",
            "The request could not be read. Go back to the application and start again.",
        )
    };
    let now = app.clock.now();
    let (form, pushed, carry) = match app.cookies.unseal(carried, browser, now) {
        Some(text) => {
            let (stored_as, params) = split_pushed(text).ok_or_else(broken)?;
            let form = Form::parse(params.as_bytes()).map_err(|_| broken())?;
            (form, Some(stored_as), carried.to_owned())
        }
        None => {
            let form = Form::parse(carried.as_bytes()).map_err(|_| broken())?;
            match par::resolve(form, app.pushed.as_ref(), browser.digest(), now).await {
                Ok(Source::Direct(form)) => (form, None, carried.to_owned()),
                Ok(Source::Pushed(form, stored_as)) => {
                    let until = now.plus(SEALED_LIFETIME);
                    let text = pushed_text(&stored_as, &form.encode());
                    let sealed = app.cookies.seal(&text, browser, until);
                    (form, Some(stored_as), sealed)
                }
                Err(e) => return Err(refused(app, e, json)),
            }
        }
    };
    let registry = app.resources.current();
    let checks = authorize::Checks {
        clients: app.clients.as_ref(),
        resources: &registry,
        issuer: &app.issuer,
    };
    let req = authorize::parse(&form, checks)
        .await
        .map_err(|e| refused(app, e, json))?;
    // RFC 9126 §5: where pushing is required, a request sent directly is refused.
    // RFC 9126 §5, §6; FAPI 2.0 SP §5.3.2.2 item 2 for a client held to FAPI 2.0.
    let par_required = app.require_par
        || req.client.require_pushed_authorization_requests
        || req.client.security_profile.requires_par();
    if pushed.is_none() && par_required {
        let reply = req.error(
            &app.issuer,
            ErrorCode::InvalidRequest,
            "this client must push its authorization requests to the PAR endpoint",
        );
        return Err(send(app, &reply));
    }
    Ok(Checked { req, carry, pushed })
}

/// The authorization of a pushed request is complete: its `request_uri` works no more.
async fn complete(app: &SignIn, pushed: Option<&SecretDigest>) {
    if let Some(digest) = pushed {
        if let Err(e) = app.pushed.complete(digest).await {
            tracing::warn!(error = %e, "a completed pushed request could not be removed: it expires on its own");
        }
    }
}

/// A refused request: a page, or the error sent back to the client.
fn refused(app: &SignIn, e: AuthorizeError, json: bool) -> Response {
    match e {
        // mcp-remote asks with `Accept: application/json` before it opens a browser, and
        // registers again on a JSON `invalid_client` (shared/reference/mcp-auth.md §3.4).
        AuthorizeError::Page {
            message,
            unknown_client: true,
        } if json => (
            StatusCode::UNAUTHORIZED,
            axum::Json(crate::error::ErrorBody {
                error: "invalid_client",
                error_description: Some(crate::error::sanitize(&message)),
            }),
        )
            .into_response(),
        AuthorizeError::Page { message, .. } => error_page(
            app,
            StatusCode::BAD_REQUEST,
            "This sign-in link cannot be used",
            &message,
        ),
        AuthorizeError::Redirect(reply) => send(app, &reply),
        AuthorizeError::Unavailable => unavailable(app),
    }
}

/// The live session of `browser`, if it has one for an active user.
pub(crate) async fn session(
    app: &SignIn,
    browser: Option<&BrowserId>,
) -> Result<Option<(SignedIn, User)>, Response> {
    let Some(browser) = browser else {
        return Ok(None);
    };
    let unavailable = |_| unavailable(app);
    let Some(session) = app
        .sessions
        .get(&browser.digest())
        .await
        .map_err(unavailable)?
    else {
        return Ok(None);
    };
    if app.clock.now() >= session.expires_at {
        return Ok(None);
    }
    let Some(user) = app
        .users
        .get_by_id(&session.user)
        .await
        .map_err(unavailable)?
    else {
        return Ok(None);
    };
    if user.disabled {
        return Ok(None);
    }
    let signed_in = SignedIn {
        browser: browser.clone(),
        session,
    };
    Ok(Some((signed_in, user)))
}

pub(crate) fn unavailable(app: &SignIn) -> Response {
    error_page(
        app,
        StatusCode::SERVICE_UNAVAILABLE,
        "Sign-in is unavailable",
        "Something went wrong on our side. Try again in a moment.",
    )
}

/// Where the request stands once the person is known: the consent page, or the code.
async fn after_sign_in(
    app: &SignIn,
    req: &AuthorizationRequest,
    raw: &str,
    who: &SignedIn,
    user: &User,
    consented: bool,
    pushed: Option<&SecretDigest>,
) -> Response {
    let remembered = match app.consents.get(&user.id, &req.client.id).await {
        Ok(c) => c,
        Err(_) => return unavailable(app),
    };
    match decide::consent(req, remembered.as_ref(), consented) {
        Step::Proceed => {}
        Step::Refuse(code) => {
            return send(app, &req.error(&app.issuer, code, "consent is required"));
        }
        Step::Ask => {
            // A registered resource's own words for its scopes, else the standard ones.
            let registry = app.resources.current();
            let resource = registry.get(&req.resource);
            let scopes: Vec<_> = req
                .scope
                .iter()
                .map(|s| match resource.and_then(|r| r.describe(s)) {
                    Some(words) if !words.is_empty() => crate::pages::ScopeLine {
                        name: s.to_owned(),
                        description: words.to_owned(),
                    },
                    _ => describe_scope(s),
                })
                .collect();
            let redirect_host = req
                .client
                .redirect_uri(Some(&req.redirect_uri))
                .map(|r| r.display_host().to_owned())
                .unwrap_or_default();
            let action = format!("{}{CONSENT_PATH}", app.base);
            let csrf = app.cookies.csrf(&who.browser, raw);
            return ConsentPage {
                look: &app.look,
                client_name: &req.client.name,
                client: &req.client,
                redirect_host: &redirect_host,
                scopes: &scopes,
                resource: req.resource.as_str(),
                user: user.username.as_str(),
                action: &action,
                request: raw,
                csrf: &csrf,
                redirect_uri: &req.redirect_uri,
            }
            .into_response();
        }
    }
    let now = app.clock.now();
    if consented {
        let widened = consent::widened(remembered, &req.scope, &req.resource, now);
        if app
            .consents
            .put(&user.id, &req.client.id, widened)
            .await
            .is_err()
        {
            return unavailable(app);
        }
    }
    let approver = Approval {
        user: user.id.clone(),
        auth_time: who.session.auth_time,
        session: who.browser.digest(),
    };
    match code::issue(req, &approver, app.codes.as_ref(), app.random.as_ref(), now).await {
        Ok(code) => {
            complete(app, pushed).await;
            send(app, &req.success(&app.issuer, &code))
        }
        Err(_) => {
            let reply = req.error(
                &app.issuer,
                ErrorCode::TemporarilyUnavailable,
                "try again shortly",
            );
            send(app, &reply)
        }
    }
}

/// The sign-in page, giving the browser a cookie if it has none.
fn login_page(
    app: &SignIn,
    req: &AuthorizationRequest,
    raw: &str,
    browser: &Browser,
    error: Option<&str>,
    username: &str,
    status: StatusCode,
) -> Response {
    let Browser { id: browser, fresh } = browser;
    let action = format!("{}{LOGIN_PATH}", app.base);
    let csrf = app.cookies.csrf(browser, raw);
    let hint = if username.is_empty() {
        req.login_hint.as_deref().unwrap_or("")
    } else {
        username
    };
    let mut response = LoginPage {
        look: &app.look,
        client_name: &req.client.name,
        action: &action,
        request: raw,
        csrf: &csrf,
        redirect_uri: &req.redirect_uri,
        username: hint,
        error,
    }
    .into_response();
    *response.status_mut() = status;
    if *fresh {
        response
            .headers_mut()
            .append(header::SET_COOKIE, app.cookies.set(browser));
    }
    response
}

/// The browser a request came from: its cookie's id, or a fresh one (then set with the page).
struct Browser {
    id: BrowserId,
    fresh: bool,
}

impl Browser {
    fn of(app: &SignIn, headers: &HeaderMap) -> Self {
        match app.cookies.browser(headers) {
            Some(id) => Self { id, fresh: false },
            None => Self {
                id: BrowserId::generate(app.random.as_ref()),
                fresh: true,
            },
        }
    }

    fn known(id: BrowserId) -> Self {
        Self { id, fresh: false }
    }
}

/// A form posted without our cookie — a cross-site post, which carries no `SameSite=Lax`
/// cookie — is sent on as the `GET` form of the same request under `path`, which carries it: a
/// live sign-in is then seen, neither replaced nor forgotten. `None` when the cookie came.
pub(super) fn via_get(
    app: &SignIn,
    headers: &HeaderMap,
    path: &str,
    raw: &str,
) -> Option<Response> {
    app.cookies
        .browser(headers)
        .is_none()
        .then(|| Redirect::to(&format!("{}{path}?{raw}", app.base)).into_response())
}

/// `GET /authorize`.
pub async fn start(
    State(app): State<Part<SignIn>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    begin(&app, &headers, &query.unwrap_or_default()).await
}

/// `POST /authorize`: the same request as a form (OAuth 2.1 §4.1.1, OIDC Core §3.1.2.1).
pub async fn start_post(
    State(app): State<Part<SignIn>>,
    headers: HeaderMap,
    post: OAuthForm,
) -> Response {
    let raw = post.form.encode();
    if let Some(hop) = via_get(&app, &headers, paths::AUTHORIZE, &raw) {
        return hop;
    }
    begin(&app, &headers, &raw).await
}

/// The authorization request `query`, from a browser with `headers`.
/// Whether the caller asks for JSON rather than a page (`Accept` names `application/json` and
/// not `text/html`): a program probing the endpoint, not a browser.
fn wants_json(headers: &HeaderMap) -> bool {
    let accept = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    accept.contains("application/json") && !accept.contains("text/html")
}

async fn begin(app: &SignIn, headers: &HeaderMap, query: &str) -> Response {
    let browser = Browser::of(app, headers);
    let Checked {
        req,
        carry: raw,
        pushed,
    } = match check(app, query, &browser.id, wants_json(headers)).await {
        Ok(checked) => checked,
        Err(answer) => return answer,
    };
    let known = (!browser.fresh).then_some(&browser.id);
    let signed_in = match session(app, known).await {
        Ok(s) => s,
        Err(answer) => return answer,
    };
    let now = app.clock.now();
    let signed_in_at = signed_in.as_ref().map(|(who, _)| who.session.auth_time);
    match (decide::sign_in(&req, signed_in_at, now), signed_in) {
        (Step::Proceed, Some((who, user))) => {
            after_sign_in(app, &req, &raw, &who, &user, false, pushed.as_ref()).await
        }
        (Step::Refuse(code), _) => send(
            app,
            &req.error(&app.issuer, code, "the user is not signed in"),
        ),
        _ => login_page(app, &req, &raw, &browser, None, "", StatusCode::OK),
    }
}

/// What every page posts: the browser (by its cookie) and the original request, which the
/// CSRF token must both be bound to; the request is checked again. A failure already answered.
async fn posted(
    app: &SignIn,
    headers: &HeaderMap,
    form: &Form,
) -> Result<(BrowserId, Checked), Response> {
    let browser = app.cookies.browser(headers).ok_or_else(|| expired(app))?;
    let raw = form
        .single("request")
        .ok()
        .flatten()
        .ok_or_else(|| expired(app))?;
    let csrf = form.single("csrf").ok().flatten().unwrap_or("");
    if !app.cookies.csrf_matches(&browser, raw, csrf) {
        return Err(expired(app));
    }
    let checked = check(app, raw, &browser, false).await?;
    Ok((browser, checked))
}

fn expired(app: &SignIn) -> Response {
    error_page(
        app,
        StatusCode::BAD_REQUEST,
        "This form has expired",
        "Go back to the application and start signing in again.",
    )
}

/// Why a sign-in did not succeed.
pub(crate) enum SignInFailure {
    /// Too many failures for the account or the address: paused for this many seconds.
    Paused(u64),
    /// The store or the password check is unavailable.
    Unavailable,
    /// Wrong username or password, or a disabled account (counted).
    Wrong,
}

/// Checks a username and password posted by `browser` from `address`, under the sign-in
/// limits: on success a fresh session under a fresh cookie (no session fixation; the new
/// session is written first, then the old one, if any, ends), which the caller sets.
pub(crate) async fn sign_in(
    app: &SignIn,
    browser: &BrowserId,
    typed: &str,
    password: String,
    address: Option<IpAddr>,
) -> Result<(SignedIn, User), SignInFailure> {
    let now = app.clock.now();
    let username = Username::new(typed).ok();
    let account = username.as_ref().map(|u| u.as_str().to_owned());
    // Held until the verification is counted: one at a time per account and per address.
    let _attempt = app
        .throttle
        .begin(account.as_deref(), address, now)
        .map_err(SignInFailure::Paused)?;
    let user = match &username {
        Some(name) => app
            .users
            .get(name)
            .await
            .map_err(|_| SignInFailure::Unavailable)?,
        None => None,
    };
    // An unknown user costs the same verification as a wrong password (no enumeration by time).
    let hash = user.as_ref().map(|u| u.password.clone());
    // Each verification takes 19 MiB: a few at a time, whatever the flood of sign-ins. One
    // that cannot start within the wait answers "busy" rather than queue for ever.
    let Ok(Ok(_permit)) =
        tokio::time::timeout(HASHING_WAIT, app.hashing.clone().acquire_owned()).await
    else {
        return Err(SignInFailure::Unavailable);
    };
    let verified = tokio::task::spawn_blocking(move || match hash {
        Some(hash) => hash.verify(&password),
        None => PasswordHash::verify_dummy(&password),
    })
    .await
    .unwrap_or(false);
    let user = match user {
        Some(user) if verified && !user.disabled => user,
        _ => {
            if app.throttle.failed(account.as_deref(), address, now) {
                tracing::warn!(target: "gatehouse::security", peer = ?address, "too many failed sign-ins: the account or the address is paused");
            }
            tracing::info!(target: "gatehouse::security", peer = ?address, "a sign-in failed");
            return Err(SignInFailure::Wrong);
        }
    };
    let fresh = BrowserId::generate(app.random.as_ref());
    let session = Session {
        user: user.id.clone(),
        auth_time: now,
        expires_at: now.plus(app.session_lifetime),
    };
    if app
        .sessions
        .insert(fresh.digest(), session.clone())
        .await
        .is_err()
    {
        return Err(SignInFailure::Unavailable);
    }
    if app.sessions.delete(&browser.digest()).await.is_err() {
        tracing::warn!(
            "the session replaced at sign-in could not be deleted: it expires on its own"
        );
    }
    app.throttle.succeeded(user.username.as_str(), address, now);
    tracing::info!(target: "gatehouse::security", user = %user.id, peer = ?address, "a user signed in");
    let who = SignedIn {
        browser: fresh,
        session,
    };
    Ok((who, user))
}

/// `POST /authorize/login`.
pub async fn login(
    State(app): State<Part<SignIn>>,
    headers: HeaderMap,
    post: OAuthForm,
) -> Response {
    let (browser, Checked { req, carry, pushed }) = match posted(&app, &headers, &post.form).await {
        Ok(posted) => posted,
        Err(answer) => return answer,
    };
    let raw = carry.as_str();
    let typed = post.form.single("username").ok().flatten().unwrap_or("");
    let password = post
        .form
        .single("password")
        .ok()
        .flatten()
        .unwrap_or("")
        .to_owned();
    let now = app.clock.now();
    let address: Option<IpAddr> = post.peer.map(address_key);
    // What the page shows again: no longer than a username can be.
    let shown: String = typed.chars().take(MAX_USERNAME_LEN).collect();
    let (who, user) = match sign_in(&app, &browser, typed, password, address).await {
        Ok(signed_in) => signed_in,
        Err(SignInFailure::Paused(seconds)) => {
            return ErrorPage::too_many_attempts(&app.look, seconds).into_response();
        }
        Err(SignInFailure::Unavailable) => return unavailable(&app),
        Err(SignInFailure::Wrong) => {
            return login_page(
                &app,
                &req,
                raw,
                &Browser::known(browser),
                Some("Wrong username or password."),
                &shown,
                StatusCode::OK,
            );
        }
    };
    let fresh = who.browser.clone();
    // A pushed request sealed for the old cookie is sealed again for the new one.
    let resealed = app
        .cookies
        .unseal(raw, &browser, now)
        .map(|params| app.cookies.seal(params, &fresh, now.plus(SEALED_LIFETIME)));
    let raw = resealed.as_deref().unwrap_or(raw);
    let mut response = after_sign_in(&app, &req, raw, &who, &user, false, pushed.as_ref()).await;
    response
        .headers_mut()
        .append(header::SET_COOKIE, app.cookies.set(&fresh));
    response
}

/// `POST /authorize/consent`.
pub async fn decide(
    State(app): State<Part<SignIn>>,
    headers: HeaderMap,
    post: OAuthForm,
) -> Response {
    let (browser, Checked { req, carry, pushed }) = match posted(&app, &headers, &post.form).await {
        Ok(posted) => posted,
        Err(answer) => return answer,
    };
    let raw = carry.as_str();
    let (who, user) = match session(&app, Some(&browser)).await {
        Ok(Some(found)) => found,
        Ok(None) => {
            return login_page(
                &app,
                &req,
                raw,
                &Browser::known(browser),
                None,
                "",
                StatusCode::OK,
            );
        }
        Err(answer) => return answer,
    };
    match post.form.single("decision").ok().flatten() {
        Some("approve") => after_sign_in(&app, &req, raw, &who, &user, true, pushed.as_ref()).await,
        Some("deny") => {
            complete(&app, pushed.as_ref()).await;
            let reply = req.error(
                &app.issuer,
                ErrorCode::AccessDenied,
                "the user denied the request",
            );
            send(&app, &reply)
        }
        _ => error_page(
            &app,
            StatusCode::BAD_REQUEST,
            "Nothing was decided",
            "Choose Allow or Deny.",
        ),
    }
}
