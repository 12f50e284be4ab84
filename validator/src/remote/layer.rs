//! A tower layer that admits a request only with a valid bearer access token for this
//! resource (RFC 6750 §2.1, the `Authorization` header), and otherwise answers as MCP clients
//! expect:
//! - no token: `401` with `WWW-Authenticate: Bearer resource_metadata="…", scope="…"`
//!   (RFC 9728 §5.1; RFC 6750 §3.1: no error code when no credentials were sent);
//! - a bad token: `401` with `error="invalid_token"`;
//! - a valid token without a required scope: `403` with `error="insufficient_scope"` and every
//!   scope the resource needs (RFC 6750 §3.1).
//!
//! It also serves the protected-resource metadata document (RFC 9728 §3) at its well-known URL,
//! without authentication. A valid token's claims are put in the request's extensions as
//! `Arc<AccessTokenClaims>`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use gatehouse_token::AccessTokenClaims;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use tower::{Layer, Service};
use url::Url;

use super::RemoteValidator;

/// The RFC 9728 §3.1 metadata URL of `resource`: the well-known segment goes between host and
/// path (`https://rs.example/mcp` → `https://rs.example/.well-known/oauth-protected-resource/mcp`).
pub fn resource_metadata_url(resource: &str) -> Option<Url> {
    let mut url = Url::parse(resource).ok()?;
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&format!("/.well-known/oauth-protected-resource{path}"));
    url.set_query(None);
    Some(url)
}

#[derive(Debug)]
struct Shared {
    remote: Arc<RemoteValidator>,
    scopes: Vec<String>,
    metadata_url: String,
    metadata_path: String,
    metadata: String,
}

/// Guards a service with bearer-token validation.
#[derive(Debug, Clone)]
pub struct BearerAuthLayer {
    shared: Arc<Shared>,
}

impl BearerAuthLayer {
    /// A layer validating tokens with `remote` for its resource.
    pub fn new(remote: Arc<RemoteValidator>) -> Self {
        Self::build(remote, Vec::new())
    }

    /// Also requires every scope in `scopes` (403 `insufficient_scope` otherwise).
    pub fn require_scopes(self, scopes: &[&str]) -> Self {
        let remote = self.shared.remote.clone();
        Self::build(remote, scopes.iter().map(|s| (*s).to_owned()).collect())
    }

    fn build(remote: Arc<RemoteValidator>, scopes: Vec<String>) -> Self {
        let settings = remote.settings();
        let url = resource_metadata_url(&settings.resource);
        let mut document = serde_json::json!({
            "resource": settings.resource,
            "authorization_servers": [settings.issuer],
            "bearer_methods_supported": ["header"],
        });
        if !scopes.is_empty() {
            document["scopes_supported"] = serde_json::json!(scopes);
        }
        let shared = Shared {
            metadata_url: url.as_ref().map(ToString::to_string).unwrap_or_default(),
            metadata_path: url
                .as_ref()
                .map(|u| u.path().to_owned())
                .unwrap_or_default(),
            metadata: document.to_string(),
            remote,
            scopes,
        };
        Self {
            shared: Arc::new(shared),
        }
    }

    /// The protected-resource metadata URL this layer serves and names in its challenges.
    pub fn metadata_url(&self) -> &str {
        &self.shared.metadata_url
    }
}

impl<S> Layer<S> for BearerAuthLayer {
    type Service = BearerAuth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BearerAuth {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// The service [`BearerAuthLayer`] makes.
#[derive(Debug, Clone)]
pub struct BearerAuth<S> {
    inner: S,
    shared: Arc<Shared>,
}

/// The token of an `Authorization: Bearer …` header (the scheme is case-insensitive, RFC 7235
/// §2.1).
fn bearer<B>(req: &Request<B>) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

impl Shared {
    fn challenge<B: From<String>>(
        &self,
        status: StatusCode,
        error: Option<(&str, &str)>,
    ) -> Response<B> {
        let mut value = String::from("Bearer");
        let mut params = Vec::new();
        if let Some((code, description)) = &error {
            params.push(format!("error=\"{code}\""));
            params.push(format!(
                "error_description=\"{}\"",
                description.replace(['"', '\\'], "'")
            ));
        }
        params.push(format!("resource_metadata=\"{}\"", self.metadata_url));
        if !self.scopes.is_empty() {
            params.push(format!("scope=\"{}\"", self.scopes.join(" ")));
        }
        value.push(' ');
        value.push_str(&params.join(", "));
        let mut response = Response::new(B::from(String::new()));
        *response.status_mut() = status;
        if let Ok(header) = HeaderValue::from_str(&value) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, header);
        }
        response
    }

    fn metadata_response<B: From<String>>(&self) -> Response<B> {
        let mut response = Response::new(B::from(self.metadata.clone()));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }

    fn has_scopes(&self, claims: &AccessTokenClaims) -> bool {
        let granted: Vec<&str> = claims.scope.as_deref().unwrap_or("").split(' ').collect();
        self.scopes.iter().all(|s| granted.contains(&s.as_str()))
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for BearerAuth<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: From<String> + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let shared = self.shared.clone();
        // The clone that was polled ready serves this request; a fresh clone waits for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            if req.method() == Method::GET && req.uri().path() == shared.metadata_path {
                return Ok(shared.metadata_response());
            }
            let Some(token) = bearer(&req) else {
                return Ok(shared.challenge(StatusCode::UNAUTHORIZED, None));
            };
            let claims = match shared.remote.validate(token).await {
                Ok(claims) => claims,
                Err(reason) => {
                    return Ok(shared.challenge(
                        StatusCode::UNAUTHORIZED,
                        Some((
                            "invalid_token",
                            &format!("the access token was refused: {reason}"),
                        )),
                    ));
                }
            };
            if !shared.has_scopes(&claims) {
                let description = "the access token lacks a scope this resource requires";
                return Ok(shared.challenge(
                    StatusCode::FORBIDDEN,
                    Some(("insufficient_scope", description)),
                ));
            }
            req.extensions_mut().insert(claims);
            inner.call(req).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_urls() {
        let u = |r: &str| resource_metadata_url(r).unwrap().to_string();
        assert_eq!(
            u("https://rs.example/mcp"),
            "https://rs.example/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(
            u("https://rs.example"),
            "https://rs.example/.well-known/oauth-protected-resource"
        );
        assert_eq!(
            u("http://127.0.0.1:9090/mcp/"),
            "http://127.0.0.1:9090/.well-known/oauth-protected-resource/mcp"
        );
    }
}
