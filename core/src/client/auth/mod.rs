//! Client authentication (RFC 6749 §2.3, OAuth 2.1 §2.4) at every endpoint that authenticates
//! clients (token, introspection, revocation, PAR). The edge fills [`Credentials`] with what the
//! request carried; this module picks the one method used and judges it, one module per method:
//! - [`secret`]: `client_secret_basic` and `client_secret_post` (RFC 6749 §2.3.1);
//! - [`none`]: public clients, identified by `client_id` alone (RFC 7591 §2);
//! - [`private_key_jwt`]: a JWT signed with the client's private key (RFC 7523 §2.2);
//! - [`tls`]: `tls_client_auth` and `self_signed_tls_client_auth` (RFC 8705 §2), the TLS
//!   client certificate.

pub mod none;
pub mod private_key_jwt;
pub mod secret;
pub mod tls;

use std::borrow::Cow;
use std::sync::Arc;

pub use private_key_jwt::{AssertionContext, JWT_BEARER_ASSERTION};

use super::{Client, ClientId, ClientKind};
use crate::error::TokenError;
use crate::form::{self, Form};
use crate::store::ClientStore;

/// `token_endpoint_auth_method` values (RFC 7591 §2), as registered and advertised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    /// A public client: no client authentication.
    None,
    /// The secret in `Authorization: Basic`.
    ClientSecretBasic,
    /// The secret in the body.
    ClientSecretPost,
    /// A JWT signed with the client's private key (RFC 7523 §2.2, OIDC Core §9).
    PrivateKeyJwt,
    /// A certificate chaining to a trusted CA with the registered subject (RFC 8705 §2.1).
    TlsClientAuth,
    /// A self-signed certificate from the client's JWK set (RFC 8705 §2.2).
    SelfSignedTlsClientAuth,
}

impl AuthMethod {
    /// The registered name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::TlsClientAuth => "tls_client_auth",
            Self::SelfSignedTlsClientAuth => "self_signed_tls_client_auth",
        }
    }

    /// The methods a registered client can use, as discovery advertises them (the mutual-TLS
    /// ones only where the server receives client certificates, [`Self::needs_certificate`]).
    pub const SUPPORTED: [Self; 6] = [
        Self::ClientSecretBasic,
        Self::ClientSecretPost,
        Self::PrivateKeyJwt,
        Self::None,
        Self::TlsClientAuth,
        Self::SelfSignedTlsClientAuth,
    ];

    /// Whether the method needs a TLS client certificate (RFC 8705 §2).
    pub const fn needs_certificate(self) -> bool {
        matches!(self, Self::TlsClientAuth | Self::SelfSignedTlsClientAuth)
    }

    /// Parses a registered method name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::SUPPORTED.into_iter().find(|m| m.as_str() == name)
    }
}

/// A client assertion as the body carried it (RFC 7521 §4.2): either parameter may be missing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssertionCredential {
    /// `client_assertion_type`.
    pub assertion_type: Option<String>,
    /// `client_assertion`.
    pub assertion: Option<String>,
}

/// The credentials a request carried, as the edge found them, not yet judged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// `Authorization: Basic`: id and secret as sent (still form-encoded, RFC 6749 §2.3.1).
    /// `Err(())` when the header is there but not well-formed Basic credentials.
    pub basic: Option<Result<(String, String), ()>>,
    /// `client_id` in the body.
    pub client_id: Option<String>,
    /// `client_secret` in the body.
    pub client_secret: Option<String>,
    /// `client_assertion_type` and `client_assertion` in the body, when either is there.
    pub assertion: Option<AssertionCredential>,
    /// The TLS client certificate of the connection (or from a trusted proxy), with the
    /// edge's verdict on its chain. Not a method by itself: a client of any method may present
    /// one (RFC 8705 §3); it authenticates only a client registered for a mutual-TLS method.
    pub certificate: Option<tls::PresentedCertificate>,
}

/// The one method a request used, with what it presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented<'a> {
    /// `client_secret_basic`.
    SecretBasic {
        /// The user-id part, as sent.
        id: &'a str,
        /// The password part, as sent.
        secret: &'a str,
    },
    /// `client_secret_post`.
    SecretPost {
        /// `client_id`.
        id: &'a str,
        /// `client_secret`.
        secret: &'a str,
    },
    /// `none`: a `client_id` and nothing else (a public client).
    None {
        /// `client_id`.
        id: &'a str,
    },
    /// `private_key_jwt`: a JWT client assertion, and perhaps a `client_id`.
    Assertion {
        /// `client_id`, when sent (RFC 7521 §4.2: optional).
        id: Option<&'a str>,
        /// `client_assertion`.
        assertion: &'a str,
    },
}

/// Why a client was not authenticated: the error the client is told, and, for the log only,
/// why (never a credential).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The error answered.
    pub error: TokenError,
    /// Why, for a debug log line.
    pub reason: String,
}

impl Failure {
    /// `invalid_client`, for `reason`.
    pub fn client(reason: impl Into<String>) -> Self {
        Self {
            error: TokenError::InvalidClient,
            reason: reason.into(),
        }
    }
}

impl From<TokenError> for Failure {
    fn from(error: TokenError) -> Self {
        Self {
            reason: error.to_string(),
            error,
        }
    }
}

impl From<Failure> for TokenError {
    fn from(f: Failure) -> Self {
        f.error
    }
}

/// What authenticating a client may consult besides the client store.
#[expect(missing_debug_implementations, reason = "trait objects have no Debug")]
pub struct AuthContext<'a> {
    /// Registered clients.
    pub clients: &'a dyn ClientStore,
    /// `private_key_jwt`: keys, rules, replay cache, the endpoint, now.
    pub assertions: AssertionContext<'a>,
}

impl Credentials {
    /// What a request carried: its `Authorization` header (anything but well-formed Basic
    /// credentials, another scheme included, ends as `invalid_client`) and its form body. A
    /// repeated `client_id` or `client_secret` is `invalid_request` (RFC 6749 §3.2).
    pub fn from_request(authorization: Option<&str>, form: &Form) -> Result<Self, TokenError> {
        Ok(Self {
            basic: authorization.map(|h| secret::parse_basic(h).ok_or(())),
            client_id: form.single("client_id")?.map(str::to_owned),
            client_secret: form.single("client_secret")?.map(str::to_owned),
            assertion: match (
                form.single("client_assertion_type")?,
                form.single("client_assertion")?,
            ) {
                (None, None) => None,
                (assertion_type, assertion) => Some(AssertionCredential {
                    assertion_type: assertion_type.map(str::to_owned),
                    assertion: assertion.map(str::to_owned),
                }),
            },
            certificate: None,
        })
    }

    /// The one method used. Two at once is `invalid_request` (OAuth 2.1 §2.4: a client must
    /// not use more than one); nothing at all, a secret without an id, malformed Basic
    /// credentials or a `client_id` contradicting them are `invalid_client`.
    ///
    /// A client assertion (RFC 7521 §4.2) needs both of its parameters (one alone is
    /// `invalid_request`, a parameter missing); an assertion type other than the JWT one is
    /// `invalid_client` (RFC 7521 §4.2.1: any problem with the client assertion is).
    pub fn presented(&self) -> Result<Presented<'_>, TokenError> {
        let body_id = self.client_id.as_deref();
        let body_secret = self.client_secret.as_deref();
        if let Some(assertion) = &self.assertion {
            if self.basic.is_some() || body_secret.is_some() {
                return Err(TokenError::InvalidRequest(
                    "use one client authentication method, not a client assertion and a secret"
                        .into(),
                ));
            }
            let (Some(kind), Some(jwt)) = (&assertion.assertion_type, &assertion.assertion) else {
                return Err(TokenError::InvalidRequest(
                    "client_assertion_type and client_assertion go together (RFC 7521 §4.2)".into(),
                ));
            };
            if kind != JWT_BEARER_ASSERTION {
                return Err(TokenError::InvalidClient);
            }
            return Ok(Presented::Assertion {
                id: body_id,
                assertion: jwt,
            });
        }
        match &self.basic {
            Some(_) if body_secret.is_some() => Err(TokenError::InvalidRequest(
                "use one client authentication method, not both Basic and client_secret".into(),
            )),
            Some(Err(())) => Err(TokenError::InvalidClient),
            Some(Ok((id, secret))) => {
                if body_id.is_some_and(|b| !secret::candidates(id).any(|c| c == b)) {
                    return Err(TokenError::InvalidClient);
                }
                Ok(Presented::SecretBasic { id, secret })
            }
            None => match (body_id, body_secret) {
                (Some(id), Some(secret)) => Ok(Presented::SecretPost { id, secret }),
                (Some(id), None) => Ok(Presented::None { id }),
                (None, _) => Err(TokenError::InvalidClient),
            },
        }
    }

    /// The client id presented (not authenticated), as [`authenticate`] reads it: a Basic id
    /// form-decoded when it decodes, so that one id spelt in different encodings is one id
    /// (for the credential-guessing limit).
    pub fn client_id(&self) -> Option<Cow<'_, str>> {
        match self.presented().ok()? {
            Presented::SecretBasic { id, .. } => {
                Some(form::decode_str(id).unwrap_or(Cow::Borrowed(id)))
            }
            Presented::SecretPost { id, .. } | Presented::None { id } => Some(Cow::Borrowed(id)),
            Presented::Assertion { id: Some(id), .. } => Some(Cow::Borrowed(id)),
            Presented::Assertion {
                id: None,
                assertion,
            } => private_key_jwt::claimed_subject(assertion).map(Cow::Owned),
        }
    }
}

/// Authenticates the client of `credentials` against the registered clients at `now` (a
/// certificate's validity period is checked against it).
///
/// Every failure is [`TokenError::InvalidClient`]: an unknown client, a wrong secret or
/// assertion and the wrong kind of client look the same to the caller (RFC 6749 §5.2); the
/// [`Failure`] says why, for the log. Two methods in one request (Basic and `client_secret`,
/// an assertion and a secret, or a secret with the certificate of a client that authenticates
/// by certificate) are `invalid_request` (OAuth 2.1 §2.4).
pub async fn authenticate(
    credentials: &Credentials,
    ctx: &AuthContext<'_>,
) -> Result<Arc<Client>, Failure> {
    let clients = ctx.clients;
    let refused = |e: TokenError| Failure {
        reason: match &e {
            TokenError::InvalidClient => "unknown client or wrong credentials".into(),
            other => other.to_string(),
        },
        error: e,
    };
    let by_secret = match credentials.presented().map_err(Failure::from)? {
        Presented::SecretBasic { id, secret } => secret::basic(id, secret, clients).await,
        Presented::SecretPost { id, secret } => secret::post(id, secret, clients).await,
        // A `client_id` alone: a public client, or a mutual-TLS client whose certificate is
        // the credential (RFC 8705 §2: `client_id` is in the request, the certificate in TLS).
        Presented::None { id } => {
            let result = match &credentials.certificate {
                Some(certificate) => {
                    tls::mutual_tls_or_public(id, certificate, clients, ctx.assertions.now).await
                }
                None => none::public(id, clients).await,
            };
            return result.map_err(refused);
        }
        Presented::Assertion { id, assertion } => {
            return private_key_jwt::authenticate(id, assertion, clients, &ctx.assertions).await;
        }
    };
    // A secret and the certificate of a client that authenticates with its certificate: two
    // methods in one request (OAuth 2.1 §2.4), not a wrong secret.
    if matches!(by_secret, Err(TokenError::InvalidClient)) && credentials.certificate.is_some() {
        if let Some(id) = credentials.client_id().and_then(|id| ClientId::new(&id)) {
            if clients
                .get(&id)
                .await
                .map_err(|e| refused(e.into()))?
                .is_some_and(|c| matches!(c.kind, ClientKind::Tls(_)))
            {
                return Err(Failure::from(TokenError::InvalidRequest(
                    "use one client authentication method: this client authenticates with its TLS certificate, not a secret".into(),
                )));
            }
        }
    }
    by_secret.map_err(refused)
}

#[cfg(test)]
mod tests;
