//! RP-initiated logout (OIDC RP-Initiated Logout 1.0): `GET`/`POST /logout` ends the browser's
//! session and sends the person to a registered `post_logout_redirect_uri` (with `state`), or
//! shows "signed out".
//!
//! Nothing is redirected unless the URI is registered, exactly, for the client the request
//! names (`client_id`, or the `aud` of the `id_token_hint`): no open redirector (RFC 9700
//! §4.11.2). A request that cannot prove it comes from the person's client (no valid
//! `id_token_hint` for the signed-in user) is confirmed on a page first (§2, §6), so that no
//! other site can sign a person out behind their back.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_core::client::{Client, ClientId};
use gatehouse_core::form::Form;
use gatehouse_validator::Rejection;
use gatehouse_validator::jwt::IdTokenHint;

use crate::form::OAuthForm;
use crate::pages::session::BrowserId;
use crate::pages::{ErrorPage, LoggedOutPage, LogoutPage};
use crate::routes::paths;
use crate::state::{Part, SignIn};

/// Where the confirmation form posts.
pub const CONFIRM_PATH: &str = "/logout/confirm";

/// A checked sign-out request.
struct Logout {
    hint: Option<IdTokenHint>,
    client: Option<Arc<Client>>,
    target: Option<String>,
    state: Option<String>,
}

fn refuse(app: &SignIn, message: &str) -> Response {
    ErrorPage {
        look: &app.look,
        status: StatusCode::BAD_REQUEST,
        title: "This sign-out link cannot be used",
        message,
        retry_after: None,
    }
    .into_response()
}

async fn check(app: &SignIn, raw: &str) -> Result<Logout, Response> {
    let malformed = |_| refuse(app, "The request could not be read.");
    let form = Form::parse(raw.as_bytes()).map_err(malformed)?;
    let hint = match form.single("id_token_hint").map_err(malformed)? {
        None => None,
        Some(token) => match app.validator.verify_id_token_hint(token) {
            Ok(hint) => Some(hint),
            // Signed by a key retired since (sessions outlive keys): not proof, but not forged
            // either; the person confirms instead.
            Err(Rejection::UnknownKey) => None,
            Err(_) => {
                return Err(refuse(
                    app,
                    "The sign-out request carries an ID token that is not ours.",
                ));
            }
        },
    };
    let named = form.single("client_id").map_err(malformed)?;
    if let (Some(hint), Some(named)) = (&hint, named) {
        if hint.aud != named {
            return Err(refuse(app, "The client and the ID token do not match."));
        }
    }
    let client_id = named.or(hint.as_ref().map(|h| h.aud.as_str()));
    let client = match client_id {
        None => None,
        Some(id) => {
            let unknown = || refuse(app, "The application that sent you here is not registered.");
            let id = ClientId::new(id).ok_or_else(unknown)?;
            let found = app.clients.get(&id).await.map_err(|_| unavailable(app))?;
            Some(found.ok_or_else(unknown)?)
        }
    };
    let target = match form.single("post_logout_redirect_uri").map_err(malformed)? {
        None => None,
        Some(uri) => {
            let registered = client.as_ref().is_some_and(|c| {
                c.post_logout_redirect_uris
                    .iter()
                    .any(|r| r.as_str() == uri)
            });
            if !registered {
                return Err(refuse(
                    app,
                    "The application asked to send you to an address it has not registered.",
                ));
            }
            Some(uri.to_owned())
        }
    };
    let state = form.single("state").map_err(malformed)?;
    if state.is_some_and(|s| s.len() > 1024 || s.chars().any(char::is_control)) {
        return Err(refuse(app, "The request's state is malformed."));
    }
    Ok(Logout {
        hint,
        client,
        target,
        state: state.map(str::to_owned),
    })
}

fn unavailable(app: &SignIn) -> Response {
    ErrorPage {
        look: &app.look,
        status: StatusCode::SERVICE_UNAVAILABLE,
        title: "Signing out is unavailable",
        message: "Something went wrong on our side. Try again in a moment.",
        retry_after: None,
    }
    .into_response()
}

/// Ends the browser's session, clears its cookie, and goes where the request said.
async fn finish(app: &SignIn, browser: Option<&BrowserId>, logout: &Logout) -> Response {
    if let Some(browser) = browser {
        if app.sessions.delete(&browser.digest()).await.is_err() {
            return unavailable(app);
        }
    }
    let mut response = match &logout.target {
        Some(target) => {
            let mut url = target.clone();
            if let Some(state) = &logout.state {
                url.push(if url.contains('?') { '&' } else { '?' });
                url.push_str("state=");
                url.extend(url::form_urlencoded::byte_serialize(state.as_bytes()));
            }
            Redirect::to(&url).into_response()
        }
        None => LoggedOutPage { look: &app.look }.into_response(),
    };
    // Only a cookie the request carried is removed.
    if browser.is_some() {
        response
            .headers_mut()
            .append(header::SET_COOKIE, app.cookies.clear());
    }
    response
}

/// `GET /logout`.
pub async fn start(
    State(app): State<Part<SignIn>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    begin(&app, &headers, &query.unwrap_or_default()).await
}

/// `POST /logout`. A cross-site form post carries no `SameSite=Lax` cookie: without one, the
/// browser is sent to the `GET` form of the same request, which carries it, so that the
/// session is seen (and the person asked) rather than silently forgotten.
pub async fn start_post(
    State(app): State<Part<SignIn>>,
    headers: HeaderMap,
    post: OAuthForm,
) -> Response {
    let raw = post.form.encode();
    if let Some(hop) = super::authorize::via_get(&app, &headers, paths::END_SESSION, &raw) {
        return hop;
    }
    begin(&app, &headers, &raw).await
}

async fn begin(app: &SignIn, headers: &HeaderMap, raw: &str) -> Response {
    let logout = match check(app, raw).await {
        Ok(l) => l,
        Err(answer) => return answer,
    };
    let browser = app.cookies.browser(headers);
    let session = match &browser {
        Some(b) => match app.sessions.get(&b.digest()).await {
            Ok(s) => s,
            Err(_) => return unavailable(app),
        },
        None => None,
    };
    let proven = match (&logout.hint, &session) {
        (_, None) => true,
        (Some(hint), Some(session)) => hint.sub == session.user.as_str(),
        (None, Some(_)) => false,
    };
    if proven {
        return finish(app, browser.as_ref(), &logout).await;
    }
    let Some(browser) = browser else {
        return finish(app, None, &logout).await;
    };
    let action = format!("{}{CONFIRM_PATH}", app.base);
    let csrf = app.cookies.csrf(&browser, raw);
    LogoutPage {
        look: &app.look,
        client_name: logout.client.as_ref().map_or("", |c| c.name.as_str()),
        action: &action,
        request: raw,
        csrf: &csrf,
        redirect_uri: logout.target.as_deref(),
    }
    .into_response()
}

/// `POST /logout/confirm`: the person confirmed.
pub async fn confirm(
    State(app): State<Part<SignIn>>,
    headers: HeaderMap,
    post: OAuthForm,
) -> Response {
    let browser = app.cookies.browser(&headers);
    let csrf = post.form.single("csrf").ok().flatten().unwrap_or("");
    let raw = post.form.single("request").ok().flatten().unwrap_or("");
    let Some(browser) = browser.filter(|b| app.cookies.csrf_matches(b, raw, csrf)) else {
        return refuse(
            &app,
            "This form has expired. Sign out again from the application.",
        );
    };
    match check(&app, raw).await {
        Ok(logout) => finish(&app, Some(&browser), &logout).await,
        Err(answer) => answer,
    }
}
