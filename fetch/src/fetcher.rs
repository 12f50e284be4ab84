//! [`Fetcher`]: GET a small document over https, under a [`FetchPolicy`].
//!
//! One fetch: check the URL (no I/O), resolve the host, connect to the first resolved address
//! that passes the policy at the moment it is connected (`connect::connect_checked`), TLS with the
//! configured roots, one HTTP/1.1 request on that connection, a 200 answer read up to the size
//! limit; all of it under one deadline. Nothing more: no redirects (security-matrix §5 item 5),
//! no connection pool, no proxy (the environment's proxy settings are never read), no cookies,
//! no `Authorization`, no compression asked for, a fixed `User-Agent` (item 16).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use http::header::{ACCEPT, CONTENT_ENCODING, HOST, USER_AGENT};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper::body::{Body, Bytes, Incoming};
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use url::{Host, Position, Url};

use crate::connect::{Attempt, ByteStream, Connect, TcpConnector, connect_checked};
use crate::error::FetchError;
use crate::policy::FetchPolicy;
use crate::resolve::{Resolve, SystemResolver};

/// The `User-Agent` of every request.
pub const USER_AGENT_VALUE: &str = "gatehouse";

/// The most bytes of a response head read before giving up (hyper's floor is 8 KiB).
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// A hardened HTTP client for small JSON documents. Cheap to clone; holds no connection.
#[derive(Debug, Clone)]
pub struct Fetcher {
    policy: FetchPolicy,
    resolver: Arc<dyn Resolve>,
    connector: Arc<dyn Connect>,
    tls: Arc<ClientConfig>,
}

/// A rustls client configuration for this fetcher: the given one, speaking HTTP/1.1 only.
fn http11(mut config: ClientConfig) -> Arc<ClientConfig> {
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// The message of `e` and of each error under it.
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

impl Fetcher {
    /// A fetcher under `policy`: the system resolver, plain TCP, and TLS trusting the Mozilla
    /// roots (webpki-roots).
    pub fn new(policy: FetchPolicy) -> Result<Self, FetchError> {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| FetchError::Failed(format!("TLS configuration: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self {
            policy,
            resolver: Arc::new(SystemResolver),
            connector: Arc::new(TcpConnector),
            tls: http11(config),
        })
    }

    /// The same fetcher, resolving host names with `resolver`.
    pub fn with_resolver(mut self, resolver: Arc<dyn Resolve>) -> Self {
        self.resolver = resolver;
        self
    }

    /// The same fetcher, connecting with `connector`. Every address is still checked against
    /// the policy before `connector` is asked for it.
    pub fn with_connector(mut self, connector: Arc<dyn Connect>) -> Self {
        self.connector = connector;
        self
    }

    /// The same fetcher, with `config` for TLS (its trusted roots, e.g. a test CA). Its ALPN
    /// protocols are replaced by `http/1.1`.
    pub fn with_tls_config(mut self, config: ClientConfig) -> Self {
        self.tls = http11(config);
        self
    }

    /// The policy.
    pub fn policy(&self) -> &FetchPolicy {
        &self.policy
    }

    /// Whether this fetcher may fetch `url` at all, judged before any I/O
    /// ([`FetchPolicy::check_url`]).
    pub fn check(&self, url: &Url) -> Result<(), FetchError> {
        self.policy.check_url(url)
    }

    /// GETs `url` and returns the body of its 200 answer, at most
    /// [`max_bytes`](FetchPolicy::max_bytes) of it, all within
    /// [`timeout`](FetchPolicy::timeout).
    pub async fn get(&self, url: &Url) -> Result<Vec<u8>, FetchError> {
        self.check(url)?;
        let timeout = self.policy.timeout;
        tokio::time::timeout(timeout, self.fetch(url))
            .await
            .unwrap_or(Err(FetchError::Timeout(timeout)))
    }

    async fn fetch(&self, url: &Url) -> Result<Vec<u8>, FetchError> {
        let stream = self.connect(url).await?;
        let stream = if url.scheme() == "https" {
            self.tls_handshake(url, stream).await?
        } else {
            stream
        };
        self.exchange(url, stream).await
    }

    /// Resolves the host and connects to the first of its addresses that passes the policy
    /// when it is connected.
    async fn connect(&self, url: &Url) -> Result<Box<dyn ByteStream>, FetchError> {
        let host = url.host_str().unwrap_or_default();
        let port = url
            .port_or_known_default()
            .ok_or_else(|| FetchError::Failed(format!("no port for {url}")))?;
        let addrs: Vec<IpAddr> = match url.host() {
            Some(Host::Ipv4(ip)) => vec![ip.into()],
            Some(Host::Ipv6(ip)) => vec![ip.into()],
            Some(Host::Domain(domain)) => self
                .resolver
                .resolve(domain)
                .await
                .map_err(|e| FetchError::Failed(format!("resolving {domain}: {e}")))?,
            None => Vec::new(),
        };
        let mut forbidden = None;
        let mut failed = None;
        for ip in addrs {
            let addr = SocketAddr::new(ip, port);
            match connect_checked(&*self.connector, &self.policy, url, addr).await {
                Ok(stream) => return Ok(stream),
                Err(Attempt::Forbidden(e)) => {
                    forbidden.get_or_insert(e);
                }
                Err(Attempt::Failed(e)) => failed = Some(format!("connecting to {addr}: {e}")),
            }
        }
        Err(match (failed, forbidden) {
            (Some(reason), _) => FetchError::Failed(reason),
            (None, Some(refused)) => refused,
            (None, None) => FetchError::Failed(format!("{host} has no address")),
        })
    }

    async fn tls_handshake(
        &self,
        url: &Url,
        stream: Box<dyn ByteStream>,
    ) -> Result<Box<dyn ByteStream>, FetchError> {
        let server_name = match url.host() {
            Some(Host::Domain(domain)) => ServerName::try_from(domain.to_owned())
                .map_err(|e| FetchError::Failed(format!("TLS server name {domain:?}: {e}")))?,
            Some(Host::Ipv4(ip)) => ServerName::IpAddress(IpAddr::V4(ip).into()),
            Some(Host::Ipv6(ip)) => ServerName::IpAddress(IpAddr::V6(ip).into()),
            None => return Err(FetchError::Failed(format!("no host in {url}"))),
        };
        let connector = tokio_rustls::TlsConnector::from(Arc::clone(&self.tls));
        let tls = connector.connect(server_name, stream).await.map_err(|e| {
            FetchError::Failed(format!(
                "TLS with {}: {}",
                url.host_str().unwrap_or_default(),
                describe(&e)
            ))
        })?;
        Ok(Box::new(tls))
    }

    /// One GET on `stream`, driving the connection only as long as the answer takes.
    async fn exchange(
        &self,
        url: &Url,
        stream: Box<dyn ByteStream>,
    ) -> Result<Vec<u8>, FetchError> {
        let http_failed = |e: hyper::Error| FetchError::Failed(format!("HTTP: {}", describe(&e)));
        let request = request(url)?;
        let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
            .max_buf_size(MAX_HEAD_BYTES)
            .handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
            .await
            .map_err(http_failed)?;
        let max_bytes = self.policy.max_bytes;
        let exchange = async {
            let response = sender.send_request(request).await.map_err(http_failed)?;
            read_body(response, max_bytes).await
        };
        tokio::pin!(conn, exchange);
        tokio::select! {
            biased;
            result = &mut exchange => result,
            // The connection ended first (closed or broken): the exchange ends with it.
            _ = &mut conn => exchange.await,
        }
    }
}

/// The request: `GET path?query`, `Host`, a fixed `User-Agent`, `Accept: application/json`,
/// and nothing else (no cookies, no `Authorization`, no `Accept-Encoding`).
fn request(url: &Url) -> Result<Request<Empty<Bytes>>, FetchError> {
    let invalid = |e: http::Error| FetchError::Failed(format!("cannot request {url}: {e}"));
    let target = match &url[Position::BeforePath..Position::AfterQuery] {
        "" => "/",
        target => target,
    };
    let host = &url[Position::BeforeHost..Position::AfterPort];
    let host = HeaderValue::from_str(host).map_err(|e| invalid(e.into()))?;
    Request::get(target)
        .header(HOST, host)
        .header(USER_AGENT, USER_AGENT_VALUE)
        .header(ACCEPT, "application/json")
        .body(Empty::new())
        .map_err(invalid)
}

/// The body of a 200 answer, refused as soon as it is known to exceed `max_bytes`: from its
/// `Content-Length` before reading, or while reading (security-matrix §5 item 7).
async fn read_body(response: Response<Incoming>, max_bytes: usize) -> Result<Vec<u8>, FetchError> {
    let too_large = FetchError::TooLarge { max_bytes };
    if response.status() != StatusCode::OK {
        return Err(FetchError::Status(response.status().as_u16()));
    }
    if response
        .headers()
        .get(CONTENT_ENCODING)
        .is_some_and(|e| e != "identity")
    {
        // None was asked for; a compressed body is never inflated (no decompression bombs).
        return Err(FetchError::Failed(
            "a Content-Encoding that was not asked for".to_owned(),
        ));
    }
    let mut body = response.into_body();
    let declared = body.size_hint().lower();
    if declared > max_bytes as u64 {
        return Err(too_large);
    }
    let mut document = Vec::with_capacity(usize::try_from(declared).unwrap_or(0));
    while let Some(frame) = body.frame().await {
        let frame = frame
            .map_err(|e| FetchError::Failed(format!("reading the answer: {}", describe(&e))))?;
        if let Ok(data) = frame.into_data() {
            if document.len() + data.len() > max_bytes {
                return Err(too_large);
            }
            document.extend_from_slice(&data);
        }
    }
    Ok(document)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_carries_only_what_it_must() {
        let url = Url::parse("https://as.example:8443/a/b?c=d").unwrap();
        let req = request(&url).unwrap();
        assert_eq!(req.uri(), "/a/b?c=d");
        let mut headers: Vec<_> = req
            .headers()
            .iter()
            .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap()))
            .collect();
        headers.sort();
        assert_eq!(
            headers,
            [
                "accept: application/json",
                "host: as.example:8443",
                "user-agent: gatehouse"
            ]
        );
        let url = Url::parse("https://[2001:db8::1]/").unwrap();
        assert_eq!(request(&url).unwrap().headers()[HOST], "[2001:db8::1]");
    }
}
