//! The request extractor of the form-posting endpoints (token, introspection, revocation).
//!
//! It enforces what the RFCs ask of the request as a whole, before any parameter is read:
//! `Content-Type: application/x-www-form-urlencoded` (RFC 6749 §3.2, RFC 7662 §2.1, RFC 7009
//! §2.1), a body size limit, a strictly parsed body, and no client secret in the URL
//! (OAuth 2.1 §2.4.1). Every refusal is an RFC-shaped `invalid_request`.

use axum::body::Body;
use axum::extract::{FromRef, FromRequest, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_core::TokenError;
use gatehouse_core::form::Form;

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
}

/// Whether a query string carries `client_secret`, however it is written: names are
/// percent-decoded (`client%5Fsecret`), compared without case and surrounding spaces
/// (`CLIENT_SECRET`, `client_secret%20`), parameters split at `;` as well as `&` (as some
/// frameworks read them), and a bare name without `=` counts.
fn query_has_client_secret(query: &str) -> bool {
    query.split(['&', ';']).any(|pair| {
        let name = pair.split('=').next().unwrap_or("");
        let name = url::form_urlencoded::parse(name.as_bytes())
            .next()
            .map_or(std::borrow::Cow::Borrowed(""), |(n, _)| n);
        name.trim().eq_ignore_ascii_case("client_secret")
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

fn is_form_content_type(value: &str) -> bool {
    let media_type = value.split(';').next().unwrap_or("").trim();
    media_type.eq_ignore_ascii_case("application/x-www-form-urlencoded")
}

impl<S> FromRequest<S> for OAuthForm
where
    S: Send + Sync,
    BodyLimit: FromRef<S>,
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
        let body = axum::body::to_bytes(req.into_body(), limit)
            .await
            .map_err(|_| {
                invalid(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &format!("the request body is larger than {limit} bytes"),
                )
            })?;
        let form = Form::parse(&body)
            .map_err(|e| FormRejection(StatusCode::BAD_REQUEST, OAuthError::from(e)))?;
        Ok(Self {
            form,
            authorization,
            peer,
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
        ] {
            assert!(query_has_client_secret(query), "{query}");
        }
        for query in ["", "client_secrets=s", "x=client_secret", "client_id=a"] {
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
