//! The authorization endpoint (RFC 6749 §3.1, §4.1; OAuth 2.1 §4.1; RFC 9700 §2.1): the request,
//! checked in two stages, and the replies sent back to the client.
//!
//! Stage one checks the client and the redirect URI. Until both are known good nothing may be
//! redirected (RFC 6749 §4.1.2.1, RFC 9700 §4.11.2: no open redirector): a failure there is an
//! [`AuthorizeError::Page`] shown to the person. Every later failure is sent to the client at
//! its redirect URI, with `state` and the RFC 9207 `iss`.
//!
//! # Layout
//! - this module: [`AuthorizationRequest`], [`parse`], [`Reply`] and the error codes.
//! - [`pkce`]: the `S256` challenge and its verification (RFC 7636).
//! - [`consent`]: whether a remembered consent covers a request.
//! - [`decide`]: what happens next for a person: a page, a `prompt=none` refusal, or on.
//! - [`code`]: issuing the authorization code once the person has approved.
//! - [`par`]: pushed authorization requests (RFC 9126).

pub mod code;
pub mod consent;
pub mod decide;
pub mod par;
pub mod pkce;

use std::sync::Arc;

use crate::TokenError;
use crate::client::{Client, ClientId, GrantType};
use crate::form::{Form, FormError};
use crate::request::token::parse_resource;
use crate::resource::{Resource, ResourceRegistry};
use crate::scope::Scope;
use crate::store::ClientStore;

pub use pkce::CodeChallenge;

/// The longest `state`, `nonce` or `login_hint` accepted: they travel in URLs.
pub const MAX_ECHOED_LEN: usize = 1024;

/// How the reply reaches the client (OAuth 2.0 Multiple Response Type Encoding Practices §2.1,
/// OAuth 2.0 Form Post Response Mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMode {
    /// In the query of the redirect URI (the default of `response_type=code`).
    Query,
    /// As a form the browser posts to the redirect URI.
    FormPost,
}

impl ResponseMode {
    /// Every mode implemented, as discovery lists them.
    pub const ALL: [Self; 2] = [Self::Query, Self::FormPost];

    /// The registered name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Query => "query",
            Self::FormPost => "form_post",
        }
    }
}

/// The `prompt` values (OIDC Core §3.1.2.1) Gatehouse implements.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    /// `none`: show nothing; fail with `login_required` or `consent_required` instead.
    pub none: bool,
    /// `login`: ask for the password even with a live session.
    pub login: bool,
    /// `consent`: ask for consent even when it is remembered.
    pub consent: bool,
}

/// An authorization error code (RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6, RFC 8707 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// A missing, repeated or malformed parameter.
    InvalidRequest,
    /// The client may not use the code flow.
    UnauthorizedClient,
    /// The person (or the server) said no.
    AccessDenied,
    /// A `response_type` other than `code`.
    UnsupportedResponseType,
    /// The scope is malformed or exceeds what the client may have.
    InvalidScope,
    /// The resource is malformed or not the client's.
    InvalidTarget,
    /// An internal failure.
    ServerError,
    /// Try again later.
    TemporarilyUnavailable,
    /// `prompt=none` and nobody is signed in.
    LoginRequired,
    /// `prompt=none` and consent would have to be asked.
    ConsentRequired,
    /// A `request` object (RFC 9101) was sent; not supported.
    RequestNotSupported,
}

impl ErrorCode {
    /// The registered error code.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::AccessDenied => "access_denied",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidTarget => "invalid_target",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::RequestNotSupported => "request_not_supported",
        }
    }
}

/// Where a reply goes and what it carries: the client's redirect URI and the parameters, `iss`
/// last (RFC 9207 §2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The redirect URI, exactly as the request gave it (or the one registered).
    pub redirect_uri: String,
    /// How the parameters travel.
    pub mode: ResponseMode,
    /// The parameters: `code` or `error` (+ `error_description`), `state`, `iss`.
    pub params: Vec<(&'static str, String)>,
}

impl Reply {
    /// The URL of a `query` reply: the redirect URI with the parameters appended to its query
    /// (RFC 6749 §3.1.2: any query it has is kept).
    pub fn location(&self) -> String {
        let mut url = self.redirect_uri.clone();
        let mut sep = if url.contains('?') { '&' } else { '?' };
        for (name, value) in &self.params {
            url.push(sep);
            sep = '&';
            url.push_str(name);
            url.push('=');
            url.extend(url::form_urlencoded::byte_serialize(value.as_bytes()));
        }
        url
    }
}

/// Why an authorization request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    /// The client or the redirect URI could not be trusted: tell the person, redirect nowhere.
    Page {
        /// What went wrong, in words for a person.
        message: String,
        /// Whether it is that the client is unknown (a deleted or expired registration, a
        /// client metadata document that cannot be used): a client that asks for JSON is told
        /// `invalid_client`, so it registers again (mcp-remote's preflight, mcp-auth.md §3.4).
        unknown_client: bool,
    },
    /// Everything else: back to the client.
    Redirect(Reply),
    /// A store could not be reached: nothing is known yet, nothing is redirected; try again.
    Unavailable,
}

/// A checked authorization request.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    /// The client.
    pub client: Arc<Client>,
    /// The redirect URI the reply goes to.
    pub redirect_uri: String,
    /// Whether the request named it (the token request must then repeat it, RFC 6749 §4.1.3).
    pub redirect_given: bool,
    /// How replies travel.
    pub response_mode: ResponseMode,
    /// The client's `state`, echoed back.
    pub state: Option<String>,
    /// The PKCE challenge.
    pub code_challenge: CodeChallenge,
    /// The scope asked for (or the client's registered scope).
    pub scope: Scope,
    /// The token's one audience.
    pub resource: Resource,
    /// The OIDC `nonce`.
    pub nonce: Option<String>,
    /// The `prompt` values.
    pub prompt: Prompt,
    /// The OIDC `max_age`, seconds.
    pub max_age: Option<u64>,
    /// The OIDC `login_hint`: a username to prefill.
    pub login_hint: Option<String>,
    /// The DPoP key the code is to be bound to (RFC 9449 §10): the thumbprint of the key the
    /// client will prove at the token endpoint.
    pub dpop_jkt: Option<String>,
}

fn page(message: impl Into<String>) -> AuthorizeError {
    AuthorizeError::Page {
        message: message.into(),
        unknown_client: false,
    }
}

fn unknown_client(message: impl Into<String>) -> AuthorizeError {
    AuthorizeError::Page {
        message: message.into(),
        unknown_client: true,
    }
}

/// What checking an authorization request consults: the clients, the registered resources
/// (audience and scope), and the issuer (`iss` of every reply, RFC 9207).
#[derive(Clone, Copy)]
#[expect(missing_debug_implementations, reason = "trait objects have no Debug")]
pub struct Checks<'a> {
    /// Registered clients.
    pub clients: &'a dyn ClientStore,
    /// The registered resources.
    pub resources: &'a ResourceRegistry,
    /// The issuer.
    pub issuer: &'a str,
}

/// Checks an authorization request (its query, or its form for `POST`).
pub async fn parse(
    form: &Form,
    checks: Checks<'_>,
) -> Result<AuthorizationRequest, AuthorizeError> {
    let Checks {
        clients,
        resources,
        issuer,
    } = checks;
    // Stage one: the client and its redirect URI, or nothing may be redirected.
    let dup = |e: FormError| page(format!("The request is malformed: {e}."));
    let client_id = form
        .single("client_id")
        .map_err(dup)?
        .ok_or_else(|| page("The request names no client (client_id is missing)."))?;
    let unknown = || unknown_client("The application that sent you here is not registered.");
    let id = ClientId::new(client_id).ok_or_else(unknown)?;
    let client = match clients.get(&id).await {
        Ok(Some(client)) => client,
        Ok(None) => {
            return Err(match clients.why_unknown(&id).await {
                Some(reason) => unknown_client(reason),
                None => unknown(),
            });
        }
        Err(_) => return Err(AuthorizeError::Unavailable),
    };
    let requested = form.single("redirect_uri").map_err(dup)?;
    let Some(registered) = client.redirect_uri(requested) else {
        return Err(page(match requested {
            Some(_) => "The application asked to send you to an address it has not registered.",
            None => "The request names no redirect_uri, and this application must name one.",
        }));
    };
    let redirect_uri = requested.unwrap_or(registered.as_str()).to_owned();

    // Stage two: errors go back to the client. Until `state` and the mode are known, a reply
    // carries what is known.
    let mut reply = Reply {
        redirect_uri: redirect_uri.clone(),
        mode: ResponseMode::Query,
        params: Vec::new(),
    };
    let fail = |reply: &Reply, code: ErrorCode, description: String| {
        AuthorizeError::Redirect(error_reply(reply.clone(), issuer, code, &description))
    };
    let invalid =
        |reply: &Reply, e: FormError| fail(reply, ErrorCode::InvalidRequest, e.to_string());
    let state = echoed(form, "state").map_err(|d| fail(&reply, ErrorCode::InvalidRequest, d))?;
    if let Some(state) = &state {
        reply.params.push(("state", state.clone()));
    }
    match form
        .single("response_mode")
        .map_err(|e| invalid(&reply, e))?
    {
        None | Some("query") => {}
        Some("form_post") => reply.mode = ResponseMode::FormPost,
        Some(other) => {
            return Err(fail(
                &reply,
                ErrorCode::InvalidRequest,
                format!("response_mode {other:?} is not supported; use query or form_post"),
            ));
        }
    }
    if form
        .single("request")
        .map_err(|e| invalid(&reply, e))?
        .is_some()
    {
        return Err(fail(
            &reply,
            ErrorCode::RequestNotSupported,
            "request objects are not supported".into(),
        ));
    }
    // A `request_uri` is resolved before (`par::resolve`); one left here is nested in a
    // pushed request or pushed itself.
    if form
        .single("request_uri")
        .map_err(|e| invalid(&reply, e))?
        .is_some()
    {
        return Err(fail(
            &reply,
            ErrorCode::InvalidRequest,
            "request_uri cannot be used here".into(),
        ));
    }
    match form
        .single("response_type")
        .map_err(|e| invalid(&reply, e))?
    {
        Some("code") => {}
        None => {
            return Err(fail(
                &reply,
                ErrorCode::InvalidRequest,
                "missing response_type".into(),
            ));
        }
        Some(_) => {
            return Err(fail(
                &reply,
                ErrorCode::UnsupportedResponseType,
                "only response_type=code is supported".into(),
            ));
        }
    }
    if !client.grant_types.contains(&GrantType::AuthorizationCode) {
        return Err(fail(
            &reply,
            ErrorCode::UnauthorizedClient,
            "the client may not use the authorization code flow".into(),
        ));
    }
    // RFC 9700 §2.1.1, OAuth 2.1 §4.1.1: PKCE on every request, S256 only.
    let challenge = form
        .single("code_challenge")
        .map_err(|e| invalid(&reply, e))?;
    let method = form
        .single("code_challenge_method")
        .map_err(|e| invalid(&reply, e))?;
    let code_challenge = match (challenge, method) {
        (None, _) => {
            return Err(fail(
                &reply,
                ErrorCode::InvalidRequest,
                "code_challenge is required (PKCE with S256)".into(),
            ));
        }
        (Some(_), m) if m != Some(pkce::METHOD) => {
            return Err(fail(
                &reply,
                ErrorCode::InvalidRequest,
                "code_challenge_method must be S256".into(),
            ));
        }
        (Some(text), _) => CodeChallenge::parse(text).ok_or_else(|| {
            fail(
                &reply,
                ErrorCode::InvalidRequest,
                "code_challenge must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~".into(),
            )
        })?,
    };
    let crate::grant::target::Target { resource, scope } = parse_resource(form)
        .and_then(|r| Ok((r, crate::request::token::parse_scope(form)?)))
        .and_then(|(r, scope)| {
            crate::grant::target::decide(&client, resources, r.as_ref(), scope.as_ref())
        })
        .map_err(|e| token_error(&reply, issuer, e))?;
    let prompt = parse_prompt(form.single("prompt").map_err(|e| invalid(&reply, e))?)
        .map_err(|d| fail(&reply, ErrorCode::InvalidRequest, d))?;
    let max_age = match form.single("max_age").map_err(|e| invalid(&reply, e))? {
        None => None,
        Some(text) => Some(
            text.parse::<u64>()
                .ok()
                .filter(|_| text.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| {
                    fail(
                        &reply,
                        ErrorCode::InvalidRequest,
                        "max_age must be a number of seconds".into(),
                    )
                })?,
        ),
    };
    let nonce = echoed(form, "nonce").map_err(|d| fail(&reply, ErrorCode::InvalidRequest, d))?;
    let login_hint =
        echoed(form, "login_hint").map_err(|d| fail(&reply, ErrorCode::InvalidRequest, d))?;
    let dpop_jkt = parse_dpop_jkt(form).map_err(|d| fail(&reply, ErrorCode::InvalidRequest, d))?;
    Ok(AuthorizationRequest {
        client,
        redirect_given: requested.is_some(),
        redirect_uri,
        response_mode: reply.mode,
        state,
        code_challenge,
        scope,
        resource,
        nonce,
        prompt,
        max_age,
        login_hint,
        dpop_jkt,
    })
}

/// `dpop_jkt` (RFC 9449 §10): a JWK SHA-256 thumbprint, 43 characters of base64url.
fn parse_dpop_jkt(form: &Form) -> Result<Option<String>, String> {
    match form.single("dpop_jkt").map_err(|e| e.to_string())? {
        None => Ok(None),
        Some(jkt) if gatehouse_token::b64::decode(jkt).is_ok_and(|d| d.len() == 32) => {
            Ok(Some(jkt.to_owned()))
        }
        Some(_) => Err("dpop_jkt must be a JWK SHA-256 thumbprint (RFC 7638), base64url".into()),
    }
}

/// A parameter echoed or shown back: at most [`MAX_ECHOED_LEN`] bytes, no control characters.
fn echoed(form: &Form, name: &'static str) -> Result<Option<String>, String> {
    match form.single(name).map_err(|e| e.to_string())? {
        None => Ok(None),
        Some(v) if v.len() > MAX_ECHOED_LEN || v.chars().any(char::is_control) => Err(format!(
            "{name} must be at most {MAX_ECHOED_LEN} bytes without control characters"
        )),
        Some(v) => Ok(Some(v.to_owned())),
    }
}

/// The `prompt` values implemented, as discovery lists them.
pub const PROMPT_VALUES: [&str; 3] = ["none", "login", "consent"];

/// `prompt`: space-delimited `none`, `login`, `consent`; `none` alone (OIDC Core §3.1.2.1).
fn parse_prompt(text: Option<&str>) -> Result<Prompt, String> {
    let mut prompt = Prompt::default();
    for value in text.unwrap_or("").split(' ').filter(|v| !v.is_empty()) {
        match value {
            "none" => prompt.none = true,
            "login" => prompt.login = true,
            "consent" => prompt.consent = true,
            other => return Err(format!("prompt {other:?} is not supported")),
        }
    }
    if prompt.none && (prompt.login || prompt.consent) {
        return Err("prompt=none cannot be combined with other values".into());
    }
    Ok(prompt)
}

/// A token-endpoint error met while checking scope or resource, as an authorization error.
fn token_error(reply: &Reply, issuer: &str, e: TokenError) -> AuthorizeError {
    let (code, description) = match e {
        TokenError::InvalidScope(d) => (ErrorCode::InvalidScope, d),
        TokenError::InvalidTarget(d) => (ErrorCode::InvalidTarget, d),
        TokenError::TemporarilyUnavailable(d) => (ErrorCode::TemporarilyUnavailable, d),
        TokenError::InvalidRequest(d) => (ErrorCode::InvalidRequest, d),
        _ => (
            ErrorCode::ServerError,
            "the request could not be handled".into(),
        ),
    };
    AuthorizeError::Redirect(error_reply(reply.clone(), issuer, code, &description))
}

/// `reply` carrying an error (RFC 6749 §4.1.2.1), `state` and `iss` kept in their places.
fn error_reply(mut reply: Reply, issuer: &str, code: ErrorCode, description: &str) -> Reply {
    let state = reply.params.iter().find(|(n, _)| *n == "state").cloned();
    reply.params = vec![("error", code.as_str().to_owned())];
    // RFC 6749 §4.1.2.1: error_description is %x20-21 / %x23-5B / %x5D-7E.
    let described: String = description
        .chars()
        .map(|c| {
            if c == '"' || c == '\\' || !(' '..='~').contains(&c) {
                '\''
            } else {
                c
            }
        })
        .take(256)
        .collect();
    reply.params.push(("error_description", described));
    reply.params.extend(state);
    reply.params.push(("iss", issuer.to_owned()));
    reply
}

impl AuthorizationRequest {
    fn base_reply(&self) -> Reply {
        Reply {
            redirect_uri: self.redirect_uri.clone(),
            mode: self.response_mode,
            params: self.state.iter().map(|s| ("state", s.clone())).collect(),
        }
    }

    /// An error reply to this request.
    pub fn error(&self, issuer: &str, code: ErrorCode, description: &str) -> Reply {
        error_reply(self.base_reply(), issuer, code, description)
    }

    /// The success reply: `code`, `state`, `iss` (RFC 6749 §4.1.2, RFC 9207 §2).
    pub fn success(&self, issuer: &str, code: &str) -> Reply {
        let mut reply = self.base_reply();
        reply.params.insert(0, ("code", code.to_owned()));
        reply.params.push(("iss", issuer.to_owned()));
        reply
    }
}

#[cfg(test)]
mod tests;
