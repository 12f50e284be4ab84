//! The device verification page (RFC 8628 §3.3): `GET /device` (with `?user_code=` from
//! `verification_uri_complete`), `POST /device` (a code entered or confirmed),
//! `POST /device/decide` (approve or deny), `POST /device/login` (sign in first).
//!
//! Every post carries a CSRF token bound to the browser's cookie and to what the form is about;
//! the person must be signed in (the existing session); a code that came in the link is shown
//! for the person to confirm against the device's screen, never acted on directly (RFC 8628
//! §5.4). Wrong codes are limited per signed-in account, per address, per browser and overall (RFC 8628 §5.1,
//! [`crate::throttle::GuessThrottle`]); the question for one code may be shown only a few
//! times ([`gatehouse_core::store::MAX_VIEWS`]); a code approved or denied once is dead.

use std::net::IpAddr;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_core::device::UserCode;
use gatehouse_core::form::Form;
use gatehouse_core::store::{DeviceApproval, DeviceAuthorization, DeviceDecision, DeviceStatus};
use gatehouse_core::user::{MAX_USERNAME_LEN, User};

use super::authorize::{SignInFailure, session, sign_in, unavailable};
use crate::form::OAuthForm;
use crate::pages::session::{BrowserId, SignedIn};
use crate::pages::{
    DeviceCodePage, DeviceConsentPage, DeviceDonePage, ErrorPage, LoginPage, ScopeLine,
    describe_scope,
};
use crate::routes::paths;
use crate::state::{Devices, Part, SignIn};
use crate::throttle::address_key;

/// Where the sign-in form of the device page posts, under the issuer's path.
pub const LOGIN_PATH: &str = "/device/login";
/// Where the question posts.
pub const DECIDE_PATH: &str = "/device/decide";

/// What the CSRF token of each form is bound to, beside the browser.
fn code_form() -> &'static str {
    "device-code"
}

fn login_form(prefill: &str) -> String {
    format!("device-login\n{prefill}")
}

fn decide_form(code: &UserCode) -> String {
    format!("device-decide\n{}", code.as_str())
}

/// A code as the page shows it again: grouped if it is one, else what was typed, cut short.
fn shown(typed: &str) -> String {
    match UserCode::parse(typed) {
        Some(code) => code.display(),
        None => typed
            .chars()
            .take(gatehouse_core::device::user_code::MAX_INPUT)
            .collect(),
    }
}

fn message(app: &SignIn, status: StatusCode, title: &str, text: &str) -> Response {
    ErrorPage {
        look: &app.look,
        status,
        title,
        message: text,
        retry_after: None,
    }
    .into_response()
}

fn expired(app: &SignIn) -> Response {
    message(
        app,
        StatusCode::BAD_REQUEST,
        "This form has expired",
        "Open the page again and enter the code shown on your device.",
    )
}

fn dead(app: &SignIn) -> Response {
    message(
        app,
        StatusCode::BAD_REQUEST,
        "This code can no longer be used",
        "It expired or was already used. Start signing in again on your device for a new code.",
    )
}

/// The sign-in form, carrying the code to prefill afterwards.
fn login_page(
    app: &SignIn,
    browser: &BrowserId,
    fresh: bool,
    prefill: &str,
    error: Option<&str>,
    username: &str,
) -> Response {
    let action = format!("{}{LOGIN_PATH}", app.base);
    let csrf = app.cookies.csrf(browser, &login_form(prefill));
    let mut response = LoginPage {
        look: &app.look,
        client_name: "your device",
        action: &action,
        request: prefill,
        csrf: &csrf,
        redirect_uri: "",
        username,
        error,
    }
    .into_response();
    if fresh {
        response
            .headers_mut()
            .append(header::SET_COOKIE, app.cookies.set(browser));
    }
    response
}

/// The code entry, for a signed-in person.
fn code_page(
    app: &SignIn,
    who: &SignedIn,
    user: &User,
    prefill: &str,
    confirm: bool,
    error: Option<&str>,
) -> Response {
    let action = format!("{}{}", app.base, paths::DEVICE);
    let csrf = app.cookies.csrf(&who.browser, code_form());
    DeviceCodePage {
        look: &app.look,
        user: user.username.as_str(),
        action: &action,
        csrf: &csrf,
        user_code: prefill,
        confirm,
        error,
    }
    .into_response()
}

/// `GET /device`: the sign-in form, or the code entry (the code from the link prefilled, to be
/// confirmed).
pub async fn show(
    State(app): State<Part<SignIn>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    // `?user_code=` of `verification_uri_complete`; a query that is not one (repeated, not
    // form-encoded) prefills nothing.
    let form = Form::parse(query.unwrap_or_default().as_bytes()).ok();
    let prefill = form
        .as_ref()
        .and_then(|f| f.single("user_code").ok().flatten())
        .map(shown)
        .unwrap_or_default();
    let (browser, fresh) = match app.cookies.browser(&headers) {
        Some(id) => (id, false),
        None => (BrowserId::generate(app.random.as_ref()), true),
    };
    let known = (!fresh).then_some(&browser);
    match session(&app, known).await {
        Ok(Some((who, user))) => code_page(&app, &who, &user, &prefill, !prefill.is_empty(), None),
        Ok(None) => login_page(&app, &browser, fresh, &prefill, None, ""),
        Err(answer) => answer,
    }
}

/// `POST /device/login`.
pub async fn login(
    State(app): State<Part<SignIn>>,
    headers: HeaderMap,
    post: OAuthForm,
) -> Response {
    let Some(browser) = app.cookies.browser(&headers) else {
        return expired(&app);
    };
    let field = |name| post.form.single(name).ok().flatten().unwrap_or("");
    let prefill = shown(field("request"));
    if !app
        .cookies
        .csrf_matches(&browser, &login_form(field("request")), field("csrf"))
    {
        return expired(&app);
    }
    let typed = field("username");
    let address: Option<IpAddr> = post.peer.map(address_key);
    match sign_in(&app, &browser, typed, field("password").to_owned(), address).await {
        Ok((who, user)) => {
            let confirm = !prefill.is_empty();
            let mut response = code_page(&app, &who, &user, &prefill, confirm, None);
            response
                .headers_mut()
                .append(header::SET_COOKIE, app.cookies.set(&who.browser));
            response
        }
        Err(SignInFailure::Paused(seconds)) => {
            ErrorPage::too_many_attempts(&app.look, seconds).into_response()
        }
        Err(SignInFailure::Unavailable) => unavailable(&app),
        Err(SignInFailure::Wrong) => {
            let shown_name: String = typed.chars().take(MAX_USERNAME_LEN).collect();
            login_page(
                &app,
                &browser,
                false,
                &prefill,
                Some("Wrong username or password."),
                &shown_name,
            )
        }
    }
}

/// The signed-in person behind a posted form whose CSRF token is bound to `bound_to`: the
/// browser, and who is signed in there (`None`: not signed in). A failure already answered.
async fn posted(
    app: &SignIn,
    headers: &HeaderMap,
    post: &OAuthForm,
    bound_to: &str,
) -> Result<(BrowserId, Option<(SignedIn, User)>), Response> {
    let browser = app.cookies.browser(headers).ok_or_else(|| expired(app))?;
    let csrf = post.form.single("csrf").ok().flatten().unwrap_or("");
    if !app.cookies.csrf_matches(&browser, bound_to, csrf) {
        return Err(expired(app));
    }
    let signed_in = session(app, Some(&browser)).await?;
    Ok((browser, signed_in))
}

/// Whether `record` can still be decided at `now`.
fn live(record: &DeviceAuthorization, now: gatehouse_token::UnixTime) -> bool {
    record.status == DeviceStatus::Pending && now < record.expires_at
}

/// `POST /device`: a code entered (or confirmed). A wrong one counts against the guessing
/// limit; a right one shows the question (and counts as one view of it).
pub async fn enter(
    State(app): State<Part<SignIn>>,
    State(devices): State<Part<Devices>>,
    headers: HeaderMap,
    post: OAuthForm,
) -> Response {
    let (browser, signed_in) = match posted(&app, &headers, &post, code_form()).await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let typed = post.form.single("user_code").ok().flatten().unwrap_or("");
    let Some((who, user)) = signed_in else {
        return login_page(&app, &browser, false, &shown(typed), None, "");
    };
    let now = app.clock.now();
    let address = post.peer.map(address_key);
    let key = browser.digest().0;
    if let Err(seconds) = devices.guesses.take(user.id.as_str(), address, &key, now) {
        tracing::warn!(target: "gatehouse::security", peer = ?address, user = %user.id, "too many wrong device codes: paused");
        return ErrorPage {
            look: &app.look,
            status: StatusCode::TOO_MANY_REQUESTS,
            title: "Too many wrong codes",
            message: "To keep accounts safe, entering device codes is paused for a while.",
            retry_after: Some(seconds),
        }
        .into_response();
    }
    let found = match UserCode::parse(typed) {
        Some(code) => match devices.store.find(&code).await {
            Ok(found) => found.filter(|r| live(r, now)).map(|r| (code, r)),
            Err(_) => return unavailable(&app),
        },
        None => None,
    };
    let Some((code, _)) = found else {
        tracing::info!(target: "gatehouse::security", peer = ?address, "a wrong device code was entered");
        let error = "That code is not valid. Check the code shown on your device and try again.";
        return code_page(&app, &who, &user, &shown(typed), false, Some(error));
    };
    devices.guesses.refund(user.id.as_str(), address, &key, now);
    // Each showing of the question counts: a code looked at again and again is dead.
    let record = match devices.store.decide(&code, DeviceDecision::View, now).await {
        Ok(Some(record)) if record.status == DeviceStatus::Pending => record,
        Ok(_) => return dead(&app),
        Err(_) => return unavailable(&app),
    };
    let client = match app.clients.get(&record.client_id).await {
        Ok(Some(client)) => client,
        Ok(None) => return dead(&app),
        Err(_) => return unavailable(&app),
    };
    // A registered resource's own words for its scopes, else the standard ones.
    let registry = devices.resources.current();
    let resource = registry.get(&record.resource);
    let scopes: Vec<ScopeLine> = record
        .scope
        .iter()
        .map(|s| match resource.and_then(|r| r.describe(s)) {
            Some(words) if !words.is_empty() => ScopeLine {
                name: s.to_owned(),
                description: words.to_owned(),
            },
            _ => describe_scope(s),
        })
        .collect();
    let action = format!("{}{DECIDE_PATH}", app.base);
    let csrf = app.cookies.csrf(&who.browser, &decide_form(&code));
    DeviceConsentPage {
        look: &app.look,
        client_name: &client.name,
        self_registered: client.origin.is_self_registered(),
        user_code: &code.display(),
        scopes: &scopes,
        resource: record.resource.as_str(),
        user: user.username.as_str(),
        action: &action,
        csrf: &csrf,
    }
    .into_response()
}

/// `POST /device/decide`: approve or deny, once.
pub async fn decide(
    State(app): State<Part<SignIn>>,
    State(devices): State<Part<Devices>>,
    headers: HeaderMap,
    post: OAuthForm,
) -> Response {
    let typed = post.form.single("user_code").ok().flatten().unwrap_or("");
    let Some(code) = UserCode::parse(typed) else {
        return expired(&app);
    };
    let (_, signed_in) = match posted(&app, &headers, &post, &decide_form(&code)).await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let Some((who, user)) = signed_in else {
        // Signed out meanwhile: the form is no longer this person's.
        return expired(&app);
    };
    let now = app.clock.now();
    let (decision, title, text) = match post.form.single("decision").ok().flatten() {
        Some("approve") => (
            DeviceDecision::Approve(DeviceApproval {
                user: user.id.clone(),
                auth_time: who.session.auth_time,
                approved_at: now,
            }),
            "Device connected",
            "You can close this page and return to your device.",
        ),
        Some("deny") => (
            DeviceDecision::Deny,
            "Request denied",
            "The device was not given access. You can close this page.",
        ),
        _ => {
            return message(
                &app,
                StatusCode::BAD_REQUEST,
                "Nothing was decided",
                "Choose Allow or Deny.",
            );
        }
    };
    let approved = matches!(decision, DeviceDecision::Approve(_));
    match devices.store.decide(&code, decision, now).await {
        Ok(Some(_)) => {
            tracing::info!(target: "gatehouse::security", user = %user.id, approved, "a device authorization was decided");
            DeviceDonePage {
                look: &app.look,
                title,
                message: text,
            }
            .into_response()
        }
        Ok(None) => dead(&app),
        Err(_) => unavailable(&app),
    }
}
