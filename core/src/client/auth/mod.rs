//! Client authentication (RFC 6749 §2.3, OAuth 2.1 §2.4) at every endpoint that authenticates
//! clients (token, introspection, revocation). The edge fills [`Credentials`] with what the
//! request carried; this module picks the one method used and judges it, one module per method:
//! - [`secret`]: `client_secret_basic` and `client_secret_post` (RFC 6749 §2.3.1);
//! - [`none`]: public clients, identified by `client_id` alone (RFC 7591 §2);
//! - [`tls`]: `tls_client_auth` and `self_signed_tls_client_auth` (RFC 8705 §2), the TLS
//!   client certificate.
//!
//! Methods still to come each get their module here and a field in [`Credentials`]:
//! `private_key_jwt` (RFC 7523 §2.2, a client assertion in the body).

pub mod none;
pub mod secret;
pub mod tls;

use std::borrow::Cow;
use std::sync::Arc;

use gatehouse_token::UnixTime;

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
            Self::TlsClientAuth => "tls_client_auth",
            Self::SelfSignedTlsClientAuth => "self_signed_tls_client_auth",
        }
    }

    /// The methods a registered client can use, as discovery advertises them (the mutual-TLS
    /// ones only where the server receives client certificates, [`Self::needs_certificate`]).
    pub const SUPPORTED: [Self; 5] = [
        Self::ClientSecretBasic,
        Self::ClientSecretPost,
        Self::None,
        Self::TlsClientAuth,
        Self::SelfSignedTlsClientAuth,
    ];

    /// Whether the method needs a TLS client certificate (RFC 8705 §2).
    pub const fn needs_certificate(self) -> bool {
        matches!(self, Self::TlsClientAuth | Self::SelfSignedTlsClientAuth)
    }

    /// Parses a registered method name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::SUPPORTED.into_iter().find(|m| m.as_str() == text)
    }
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
            certificate: None,
        })
    }

    /// The one method used. Two at once is `invalid_request` (OAuth 2.1 §2.4: a client must
    /// not use more than one); nothing at all, a secret without an id, malformed Basic
    /// credentials or a `client_id` contradicting them are `invalid_client`.
    pub fn presented(&self) -> Result<Presented<'_>, TokenError> {
        let body_id = self.client_id.as_deref();
        let body_secret = self.client_secret.as_deref();
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
        }
    }
}

/// Authenticates the client of `credentials` against the registered clients at `now` (a
/// certificate's validity period is checked against it).
///
/// Every failure is [`TokenError::InvalidClient`]: an unknown client, a wrong secret and the
/// wrong kind of client look the same to the caller (RFC 6749 §5.2); but two methods in one
/// request (Basic and `client_secret`, or a secret with the certificate of a client that
/// authenticates by certificate) are `invalid_request` (OAuth 2.1 §2.4).
pub async fn authenticate(
    credentials: &Credentials,
    clients: &dyn ClientStore,
    now: UnixTime,
) -> Result<Arc<Client>, TokenError> {
    let by_secret = match credentials.presented()? {
        Presented::SecretBasic { id, secret } => secret::basic(id, secret, clients).await,
        Presented::SecretPost { id, secret } => secret::post(id, secret, clients).await,
        // A `client_id` alone: a public client, or a mutual-TLS client whose certificate is
        // the credential (RFC 8705 §2: `client_id` is in the request, the certificate in TLS).
        Presented::None { id } => {
            return match &credentials.certificate {
                Some(certificate) => tls::mutual_tls_or_public(id, certificate, clients, now).await,
                None => none::public(id, clients).await,
            };
        }
    };
    // A secret and the certificate of a client that authenticates with its certificate: two
    // methods in one request (OAuth 2.1 §2.4), not a wrong secret.
    if matches!(by_secret, Err(TokenError::InvalidClient)) && credentials.certificate.is_some() {
        if let Some(id) = credentials.client_id().and_then(|id| ClientId::new(&id)) {
            if clients
                .get(&id)
                .await?
                .is_some_and(|c| matches!(c.kind, ClientKind::Tls(_)))
            {
                return Err(TokenError::InvalidRequest(
                    "use one client authentication method: this client authenticates with its TLS certificate, not a secret".into(),
                ));
            }
        }
    }
    by_secret
}

#[cfg(test)]
mod tests;
