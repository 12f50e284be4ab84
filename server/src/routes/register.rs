//! Dynamic client registration (RFC 7591 §3) at `POST /register`, and its management (RFC 7592)
//! at `GET`, `PUT` and `DELETE /register/{client_id}` with the registration access token.
//!
//! Open by default for what MCP clients need (they cannot present an initial access token,
//! shared/reference/mcp-auth.md §2.2) and bounded instead: registrations per address per hour,
//! a cap on dynamically registered clients, idle ones expiring (see `runtime::maintain`).
//! Errors are RFC 7591 §3.2.2's (`invalid_redirect_uri`, `invalid_client_metadata`) as JSON; a
//! bad registration access token or an unknown client is 401 `invalid_token` (RFC 7592 §2.1,
//! RFC 6750 §3.1), alike, so the answer says nothing about which clients exist.

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_core::client::dynamic::{self, ClientMetadata, RegistrationRefused};
use gatehouse_core::client::{ClientId, ClientOrigin};
use gatehouse_core::store::StoreError;
use gatehouse_token::SecretDigest;
use subtle::ConstantTimeEq;

use crate::error::{ErrorBody, no_store, sanitize};
use crate::form::BodyLimit;
use crate::state::{Part, Registration};
use crate::throttle::address_key;

/// A registration endpoint's answer: an error of RFC 7591 §3.2.2 or of RFC 6750.
#[derive(Debug)]
pub enum RegisterError {
    /// 400 with an RFC 7591 code.
    Refused(RegistrationRefused),
    /// 400 `invalid_request`: not a JSON object, or not JSON.
    BadBody(String),
    /// 401 `invalid_token`: no, or not the right, registration access token (or initial access
    /// token).
    InvalidToken,
    /// 429: too many registrations from this address.
    TooMany(u64),
    /// 503: the store failed, or the cap on registered clients is reached.
    Unavailable(String),
}

impl From<StoreError> for RegisterError {
    fn from(e: StoreError) -> Self {
        tracing::warn!(error = %e, "client registration: store failed");
        Self::Unavailable("the client store cannot be reached; retry later".into())
    }
}

impl IntoResponse for RegisterError {
    fn into_response(self) -> Response {
        let (status, error, description) = match self {
            Self::Refused(e) => (StatusCode::BAD_REQUEST, e.code(), e.to_string()),
            Self::BadBody(d) => (StatusCode::BAD_REQUEST, "invalid_request", d),
            Self::InvalidToken => {
                let challenge = HeaderValue::from_static("Bearer error=\"invalid_token\"");
                return (
                    StatusCode::UNAUTHORIZED,
                    [(header::WWW_AUTHENTICATE, challenge)],
                    no_store(),
                    Json(ErrorBody {
                        error: "invalid_token",
                        error_description: Some(
                            "the registration access token is missing, wrong, or its client is gone"
                                .into(),
                        ),
                    }),
                )
                    .into_response();
            }
            Self::TooMany(retry_after) => {
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(header::RETRY_AFTER, HeaderValue::from(retry_after))],
                    no_store(),
                    Json(ErrorBody {
                        error: "temporarily_unavailable",
                        error_description: Some(format!(
                            "too many registrations from this address; retry in {retry_after} s"
                        )),
                    }),
                )
                    .into_response();
            }
            Self::Unavailable(d) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                d,
            ),
        };
        (
            status,
            no_store(),
            Json(ErrorBody {
                error,
                error_description: Some(sanitize(&description)),
            }),
        )
            .into_response()
    }
}

/// Reads a JSON object body (RFC 7591 §3.1: `application/json`) under the body limit.
async fn metadata(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<ClientMetadata, RegisterError> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(RegisterError::BadBody(
            "the body must be application/json (RFC 7591 §3.1)".into(),
        ));
    }
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| RegisterError::BadBody(format!("the body is larger than {limit} bytes")))?;
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| RegisterError::BadBody(format!("the body is not JSON: {e}")))?;
    if !value.is_object() {
        return Err(RegisterError::BadBody(
            "the body must be a JSON object".into(),
        ));
    }
    // A member named twice means whatever the reader picks (RFC 8259 §4: names SHOULD be
    // unique); a proxy reading the first and us the last would see two registrations.
    let keys: MemberNames = serde_json::from_slice(&bytes)
        .map_err(|e| RegisterError::BadBody(format!("the body is not JSON: {e}")))?;
    if let Some(twice) = keys.repeated() {
        return Err(RegisterError::BadBody(format!(
            "the member {twice:?} is sent more than once"
        )));
    }
    serde_json::from_value(value).map_err(|e| {
        RegisterError::Refused(RegistrationRefused::InvalidClientMetadata(format!(
            "a member has the wrong type: {e}"
        )))
    })
}

/// The member names of a JSON object, in order, values skipped.
struct MemberNames(Vec<String>);

impl MemberNames {
    /// A name that appears more than once.
    fn repeated(&self) -> Option<&str> {
        let mut seen = std::collections::BTreeSet::new();
        self.0
            .iter()
            .find(|n| !seen.insert(n.as_str()))
            .map(String::as_str)
    }
}

impl<'de> serde::Deserialize<'de> for MemberNames {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Names;
        impl<'de> serde::de::Visitor<'de> for Names {
            type Value = MemberNames;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<MemberNames, A::Error> {
                let mut names = Vec::new();
                while let Some(name) = map.next_key::<String>()? {
                    map.next_value::<serde::de::IgnoredAny>()?;
                    names.push(name);
                }
                Ok(MemberNames(names))
            }
        }
        d.deserialize_map(Names)
    }
}

/// The bearer token of `Authorization`, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    crate::admin::bearer(headers.get(header::AUTHORIZATION)?.to_str().ok()?)
}

fn matches(presented: Option<&str>, digest: &SecretDigest) -> bool {
    presented.is_some_and(|t| SecretDigest::of(t).0.ct_eq(&digest.0).into())
}

/// `POST /register`.
pub async fn register(
    State(app): State<Part<Registration>>,
    State(BodyLimit(limit)): State<BodyLimit>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, RegisterError> {
    let now = app.clock.now();
    if let Some(required) = &app.initial_token_digest {
        if !matches(bearer(&headers), required) {
            return Err(RegisterError::InvalidToken);
        }
    }
    let address = crate::runtime::connections::peer().map(|a| address_key(a.ip()));
    // Every attempt takes one of the address's registrations, before its body is read: a check
    // now and a count later would let any number of slow or concurrent requests through.
    if let Some(address) = &address {
        app.per_address
            .take(address, now)
            .map_err(RegisterError::TooMany)?;
    }
    let meta = metadata(&headers, body, limit).await?;
    let registered = meta
        .register(&app.policy, app.random.as_ref(), now)
        .map_err(RegisterError::Refused)?;
    // One registration at a time past this point, so that the count and the insert cannot
    // interleave and the cap holds under any concurrency.
    let _one = app.registering.lock().await;
    let count = app
        .clients
        .list()
        .await?
        .iter()
        .filter(|c| matches!(c.origin, ClientOrigin::Dynamic { .. }))
        .count();
    if count >= app.config.max_clients {
        tracing::warn!(
            limit = app.config.max_clients,
            "dynamic client registration refused: registration.max_clients reached (idle clients expire after registration.idle_expiry)"
        );
        return Err(RegisterError::Unavailable(
            "this server holds as many registered clients as it allows; retry later".into(),
        ));
    }
    let uri = app.client_uri(&registered.client.id);
    let answer = dynamic::describe(
        &registered.client,
        registered.secret.as_ref(),
        Some(&registered.token),
        &uri,
    );
    let id = registered.client.id.clone();
    app.clients.insert(registered.client).await?;
    tracing::info!(client_id = %id, peer = ?address, "client registered itself (RFC 7591)");
    Ok((StatusCode::CREATED, no_store(), Json(answer)).into_response())
}

/// The client a registration access token manages (RFC 7592 §2): only a dynamically
/// registered client, only with its own token.
async fn managed(
    app: &Registration,
    id: Result<Path<String>, PathRejection>,
    headers: &HeaderMap,
) -> Result<std::sync::Arc<gatehouse_core::client::Client>, RegisterError> {
    // An id that is not even text (`%ff`) names no client: the same 401 as any other.
    let Ok(Path(id)) = id else {
        return Err(RegisterError::InvalidToken);
    };
    // A metadata-document client is never registered here: no lookup (which would fetch its
    // document for an unauthenticated caller).
    if gatehouse_core::client::metadata_document::DocumentUrl::is_url_shaped(&id) {
        return Err(RegisterError::InvalidToken);
    }
    let id = ClientId::new(&id).ok_or(RegisterError::InvalidToken)?;
    let client = app
        .clients
        .get(&id)
        .await?
        .ok_or(RegisterError::InvalidToken)?;
    match &client.origin {
        ClientOrigin::Dynamic {
            registration_token_digest,
            ..
        } if matches(bearer(headers), registration_token_digest)
            && !client
                .origin
                .expired(app.config.idle_expiry, app.clock.now()) =>
        {
            Ok(client)
        }
        _ => Err(RegisterError::InvalidToken),
    }
}

/// `GET /register/{client_id}` (RFC 7592 §2.1).
pub async fn read(
    State(app): State<Part<Registration>>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, RegisterError> {
    let client = managed(&app, id, &headers).await?;
    let answer = dynamic::describe(&client, None, None, &app.client_uri(&client.id));
    Ok((no_store(), Json(answer)).into_response())
}

/// `PUT /register/{client_id}` (RFC 7592 §2.2).
pub async fn update(
    State(app): State<Part<Registration>>,
    State(BodyLimit(limit)): State<BodyLimit>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, RegisterError> {
    let client = managed(&app, id, &headers).await?;
    let meta = metadata(&headers, body, limit).await?;
    let updated = meta
        .update(&client, &app.policy)
        .map_err(RegisterError::Refused)?;
    if !app.clients.update(updated.clone()).await? {
        return Err(RegisterError::InvalidToken);
    }
    let answer = dynamic::describe(&updated, None, None, &app.client_uri(&updated.id));
    Ok((no_store(), Json(answer)).into_response())
}

/// `DELETE /register/{client_id}` (RFC 7592 §2.3): the client and everything it was given.
pub async fn delete(
    State(app): State<Part<Registration>>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, RegisterError> {
    let client = managed(&app, id, &headers).await?;
    app.changes.delete_client(&client.id).await?;
    tracing::info!(client_id = %client.id, "client deleted its registration (RFC 7592)");
    Ok((StatusCode::NO_CONTENT, no_store()).into_response())
}
