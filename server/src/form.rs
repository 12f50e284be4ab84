//! The request extractor of the form-posting endpoints (token, introspection, revocation).
//!
//! It enforces what the RFCs ask of the request as a whole, before any parameter is read:
//! `Content-Type: application/x-www-form-urlencoded` (RFC 6749 §3.2, RFC 7662 §2.1, RFC 7009
//! §2.1), a body size limit, a strictly parsed body, and no client secret in the URL
//! (OAuth 2.1 §2.4.1). Every refusal is an RFC-shaped `invalid_request`. It also takes the
//! client certificate of the request (RFC 8705), from TLS or a trusted proxy
//! ([`crate::client_certificate`]).

use axum::body::Body;
use axum::extract::{FromRef, FromRequest, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_core::TokenError;
use gatehouse_core::client::auth::tls::ClientCertificate;
use gatehouse_core::form::Form;

use crate::client_certificate::CertificateSource;
use crate::error::OAuthError;

/// The largest body a form endpoint accepts, from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// A parsed form request, its `Authorization` header and the peer's address.
#[derive(Debug)]
pub struct OAuthForm {
    /// The parsed body.
    pub form: Form,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// The address of the TCP peer (absent when the router runs without a listener, as in
    /// benchmarks).
    pub peer: Option<std::net::IpAddr>,
    /// The client certificate: of the connection's TLS handshake, or forwarded by a trusted
    /// proxy (RFC 8705). Possession of its key is proven by the handshake; its chain is not
    /// judged yet.
    pub client_certificate: Option<ClientCertificate>,
    /// The one `DPoP` header, a proof of possession (RFC 9449 §4.1), not yet checked.
    pub dpop: Option<String>,
}

/// Whether a query string carries `client_secret`, however it is written. Each parameter
/// (split at `;` as well as `&`, as some frameworks read them) is percent-decoded, `+` as a
/// space, up to three times (so `%2563lient_secret` counts), then its name (up to the first
/// `=`, which may itself have been encoded: `client_secret%3Ds`) is compared with its ASCII
/// letters and digits only, in lowercase: `CLIENT_SECRET`, `client-secret`, `client secret`,
/// `client_secret[]`, `client_secret%00` all count, and a bare name without `=` does too.
fn query_has_client_secret(query: &str) -> bool {
    query.split(['&', ';']).any(|pair| {
        let mut text = std::borrow::Cow::Borrowed(pair);
        for _ in 0..3 {
            let plus_as_space = text.replace('+', " ");
            let decoded = percent_encoding::percent_decode_str(&plus_as_space)
                .decode_utf8_lossy()
                .into_owned();
            if decoded == text {
                break;
            }
            text = std::borrow::Cow::Owned(decoded);
        }
        let name = text.split('=').next().unwrap_or("");
        let mut letters = name
            .bytes()
            .filter(u8::is_ascii_alphanumeric)
            .map(|b| b.to_ascii_lowercase());
        letters.by_ref().take(12).eq(*b"clientsecret") && letters.next().is_none()
    })
}

/// Why a form request was refused before its parameters were read.
#[derive(Debug)]
pub struct FormRejection(StatusCode, OAuthError);

impl IntoResponse for FormRejection {
    fn into_response(self) -> Response {
        let mut response = self.1.into_response();
        *response.status_mut() = self.0;
        response
    }
}

fn invalid(status: StatusCode, text: &str) -> FormRejection {
    FormRejection(
        status,
        OAuthError(TokenError::InvalidRequest(text.to_owned())),
    )
}

fn too_large(limit: usize) -> FormRejection {
    invalid(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("the request body is larger than {limit} bytes"),
    )
}

fn is_form_content_type(value: &str) -> bool {
    let media_type = value.split(';').next().unwrap_or("").trim();
    media_type.eq_ignore_ascii_case("application/x-www-form-urlencoded")
}

impl<S> FromRequest<S> for OAuthForm
where
    S: Send + Sync,
    BodyLimit: FromRef<S>,
    CertificateSource: FromRef<S>,
{
    type Rejection = FormRejection;

    async fn from_request(req: Request<Body>, state: &S) -> Result<Self, Self::Rejection> {
        let BodyLimit(limit) = BodyLimit::from_ref(state);
        // Both are single-valued (RFC 9110 §8.3, §11.6.2): two of either is ambiguous, and a
        // server that reads the first while a proxy read the last is a bypass waiting to happen.
        for name in [header::CONTENT_TYPE, header::AUTHORIZATION] {
            if req.headers().get_all(&name).iter().nth(1).is_some() {
                return Err(invalid(
                    StatusCode::BAD_REQUEST,
                    &format!("the {name} header is sent more than once"),
                ));
            }
        }
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        if !content_type.is_some_and(is_form_content_type) {
            return Err(invalid(
                StatusCode::BAD_REQUEST,
                "the body must be application/x-www-form-urlencoded",
            ));
        }
        // OAuth 2.1 §2.4.1: a client secret in the URL ends up in logs and histories.
        if req.uri().query().is_some_and(query_has_client_secret) {
            return Err(invalid(
                StatusCode::BAD_REQUEST,
                "client_secret must not be sent in the URL",
            ));
        }
        let peer = crate::runtime::connections::peer().map(|addr| addr.ip());
        let client_certificate = crate::client_certificate::of_request(
            req.headers(),
            peer,
            &CertificateSource::from_ref(state),
        )
        .map_err(|e| invalid(StatusCode::BAD_REQUEST, &e))?;
        // RFC 9449 §4.3 item 1: exactly one DPoP header; two, or one that is not text, is an
        // invalid proof.
        let dpop = gatehouse_validator::dpop::single_header(
            req.headers()
                .get_all(gatehouse_validator::dpop::HEADER)
                .iter()
                .map(|v| v.as_bytes()),
        )
        .map_err(|e| {
            FormRejection(
                StatusCode::BAD_REQUEST,
                OAuthError(TokenError::InvalidDpopProof(e.to_string())),
            )
        })?
        .map(str::to_owned);
        let authorization = req
            .headers()
            .get(header::AUTHORIZATION)
            .map(|v| v.to_str().map(str::to_owned))
            .transpose()
            .map_err(|_| {
                invalid(
                    StatusCode::BAD_REQUEST,
                    "the Authorization header is not ASCII",
                )
            })?;
        // A body declared larger than the limit is refused at once (RFC 9110 §15.5.14), not
        // after its bytes arrive or the request timeout ends: the connection is not held.
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|length| length > limit as u64) {
            return Err(too_large(limit));
        }
        let body = axum::body::to_bytes(req.into_body(), limit)
            .await
            .map_err(|_| too_large(limit))?;
        let form = Form::parse(&body)
            .map_err(|e| FormRejection(StatusCode::BAD_REQUEST, OAuthError::from(e)))?;
        Ok(Self {
            form,
            authorization,
            peer,
            client_certificate,
            dpop,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_secret_in_the_query_in_any_encoding() {
        for query in [
            "client_secret=s",
            "a=1&client_secret=s",
            "client%5Fsecret=s",
            "client%5fsecret=s",
            "client_secret",
            "a=1&client_secret",
            "client_secret=",
            "%63lient_secret=s",
            "a=1;client_secret=s",
            "CLIENT_SECRET=s",
            "Client_Secret=s",
            "client_secret%20=s",
            "+client_secret=s",
            "client_secret%00=s",
            "client_secret%3Ds",
            "client-secret=s",
            "client+secret=s",
            "client_secret[]=s",
            "%2563lient_secret=s",
            "%252563lient_secret=s",
        ] {
            assert!(query_has_client_secret(query), "{query}");
        }
        for query in [
            "",
            "client_secrets=s",
            "x=client_secret",
            "client_id=a",
            "clientsecretx=s",
            "%25%25%25",
            "a=%ZZ",
        ] {
            assert!(!query_has_client_secret(query), "{query}");
        }
    }

    #[test]
    fn content_types() {
        assert!(is_form_content_type("application/x-www-form-urlencoded"));
        assert!(is_form_content_type(
            "Application/X-WWW-Form-Urlencoded; charset=UTF-8"
        ));
        assert!(!is_form_content_type("application/json"));
        assert!(!is_form_content_type("multipart/form-data"));
        assert!(!is_form_content_type(""));
    }
}
