//! [`Fetcher`]: GET a small document over https, under a [`FetchPolicy`].
//!
//! One fetch: check the URL (no I/O), resolve the host, connect to the first resolved address
//! that passes the policy at the moment it is connected (`connect::connect_checked`), TLS with the
//! configured roots, one HTTP/1.1 request on that connection, a 200 answer read up to the size
//! limit; all of it under one deadline. Nothing more: no redirects (security-matrix §5 item 5),
//! no connection pool, no proxy (the environment's proxy settings are never read), no cookies,
//! no `Authorization`, no compression asked for, a fixed `User-Agent` (item 16).

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::header::{
    ACCEPT, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, DATE, EXPIRES, HOST, USER_AGENT,
};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper::body::{Body, Bytes, Incoming};
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use url::{Host, Position, Url};

use crate::connect::{Attempt, ByteStream, Connect, TcpConnector, connect_checked};
use crate::error::FetchError;
use crate::policy::FetchPolicy;
use crate::resolve::{Resolve, SystemResolver};

/// The `User-Agent` of every request.
pub const USER_AGENT_VALUE: &str = "gatehouse";

/// The most bytes of a response head read before giving up (hyper's floor is 8 KiB).
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// A fetched document: its body and what its answer said about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The body, at most the policy's `max_bytes`.
    pub body: Vec<u8>,
    /// How the answer may be cached.
    pub caching: Caching,
    /// The media type of `Content-Type`, lowercase, without parameters.
    pub content_type: Option<String>,
}

/// What an answer's headers say about caching it (RFC 9111 §4.2.1, §5.2.2, §5.3): the caller
/// bounds it with its own limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Caching {
    /// `Cache-Control: no-store`: keep it no longer than the caller must.
    pub no_store: bool,
    /// The freshness lifetime: `max-age` (`no-cache` counts as 0), else `Expires` minus
    /// `Date` (an invalid `Expires` counts as 0); `None` when the answer says nothing.
    pub max_age: Option<Duration>,
}

/// The caching an answer's headers allow.
fn caching(headers: &HeaderMap) -> Caching {
    let mut caching = Caching::default();
    let mut max_age: Option<u64> = None;
    let directives = headers
        .get_all(CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','));
    for directive in directives {
        let (name, value) = directive.split_once('=').unwrap_or((directive, ""));
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim().trim_matches('"');
        match name.as_str() {
            "no-store" => caching.no_store = true,
            "no-cache" => max_age = Some(0),
            // RFC 9111 §4.2.1: a duplicated or invalid max-age is treated as stale (0).
            "max-age" => {
                let seconds = value.parse::<u64>().unwrap_or(0);
                max_age = Some(max_age.map_or(seconds, |m| m.min(seconds)));
            }
            _ => {}
        }
    }
    caching.max_age = max_age.map(Duration::from_secs).or_else(|| {
        let expires = headers.get(EXPIRES)?;
        let expires = expires
            .to_str()
            .ok()
            .and_then(|e| httpdate::parse_http_date(e).ok());
        let date = headers
            .get(DATE)
            .and_then(|d| d.to_str().ok())
            .and_then(|d| httpdate::parse_http_date(d).ok())
            .unwrap_or_else(SystemTime::now);
        Some(expires.map_or(Duration::ZERO, |e| {
            e.duration_since(date).unwrap_or(Duration::ZERO)
        }))
    });
    caching
}

/// The media type of a `Content-Type`, lowercase, without parameters.
fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    let media = value.split(';').next().unwrap_or("").trim();
    (!media.is_empty()).then(|| media.to_ascii_lowercase())
}

/// Whether a media type is JSON: `application/json` or a `+json` structured syntax suffix
/// (RFC 6839 §3.1).
fn is_json(media_type: &str) -> bool {
    media_type == "application/json"
        || media_type
            .strip_prefix("application/")
            .is_some_and(|sub| sub.ends_with("+json"))
}

/// The certificates of a PEM file (`-----BEGIN CERTIFICATE-----` blocks; anything else in the
/// file is skipped), for [`Fetcher::with_extra_roots`]. A file without one is an error.
pub fn load_pem_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, FetchError> {
    let failed = |e: &dyn std::fmt::Display| {
        FetchError::Failed(format!("reading certificates from {}: {e}", path.display()))
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| failed(&e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| failed(&e))?;
    if certs.is_empty() {
        return Err(failed(&"no certificate in it"));
    }
    Ok(certs)
}

/// A rustls client configuration trusting the Mozilla roots (webpki-roots) and `extra`.
fn tls_config(extra: Vec<CertificateDer<'static>>) -> Result<ClientConfig, FetchError> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for cert in extra {
        roots
            .add(cert)
            .map_err(|e| FetchError::Failed(format!("an extra CA certificate: {e}")))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| FetchError::Failed(format!("TLS configuration: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

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
        Ok(Self {
            policy,
            resolver: Arc::new(SystemResolver),
            connector: Arc::new(TcpConnector),
            tls: http11(tls_config(Vec::new())?),
        })
    }

    /// The same fetcher, trusting `extra` CA certificates beside the Mozilla roots (an internal
    /// CA; see [`load_pem_certificates`]). Replaces a configuration set by
    /// [`with_tls_config`](Self::with_tls_config).
    pub fn with_extra_roots(
        mut self,
        extra: Vec<CertificateDer<'static>>,
    ) -> Result<Self, FetchError> {
        self.tls = http11(tls_config(extra)?);
        Ok(self)
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
        self.fetch(url).await.map(|fetched| fetched.body)
    }

    /// GETs `url` like [`get`](Self::get), and returns the body with its caching headers and
    /// media type; an answer whose `Content-Type` is not JSON (`application/json` or
    /// `application/*+json`) is refused (CIMD §4.1, security-matrix §5 item 9).
    pub async fn get_json(&self, url: &Url) -> Result<Fetched, FetchError> {
        let fetched = self.fetch(url).await?;
        match fetched.content_type.as_deref() {
            Some(media) if is_json(media) => Ok(fetched),
            other => Err(FetchError::ContentType(
                other.unwrap_or("none").chars().take(100).collect(),
            )),
        }
    }

    /// GETs `url` and returns its 200 answer, under the policy's limits.
    pub async fn fetch(&self, url: &Url) -> Result<Fetched, FetchError> {
        self.check(url)?;
        let timeout = self.policy.timeout;
        tokio::time::timeout(timeout, self.fetch_within(url))
            .await
            .unwrap_or(Err(FetchError::Timeout(timeout)))
    }

    async fn fetch_within(&self, url: &Url) -> Result<Fetched, FetchError> {
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
    ) -> Result<Fetched, FetchError> {
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
async fn read_body(response: Response<Incoming>, max_bytes: usize) -> Result<Fetched, FetchError> {
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
    let caching = caching(response.headers());
    let content_type = media_type(response.headers());
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
    Ok(Fetched {
        body: document,
        caching,
        content_type,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn max_age(pairs: &[(&'static str, &str)]) -> Option<u64> {
        caching(&headers(pairs)).max_age.map(|d| d.as_secs())
    }

    #[test]
    fn caching_headers() {
        assert_eq!(caching(&headers(&[])), Caching::default());
        assert_eq!(max_age(&[("cache-control", "max-age=300")]), Some(300));
        assert_eq!(
            max_age(&[("cache-control", "public, MAX-AGE=\"60\"")]),
            Some(60)
        );
        assert_eq!(
            max_age(&[("cache-control", "max-age=60, max-age=30")]),
            Some(30)
        );
        assert_eq!(max_age(&[("cache-control", "max-age=x")]), Some(0));
        assert_eq!(max_age(&[("cache-control", "max-age=-5")]), Some(0));
        assert_eq!(max_age(&[("cache-control", "no-cache")]), Some(0));
        assert_eq!(
            max_age(&[("cache-control", "max-age=99999999999999999999999")]),
            Some(0)
        );
        let no_store = caching(&headers(&[("cache-control", "no-store, max-age=100")]));
        assert!(no_store.no_store);
        assert_eq!(no_store.max_age, Some(Duration::from_secs(100)));
        let dated = [
            ("date", "Sun, 06 Nov 1994 08:49:37 GMT"),
            ("expires", "Sun, 06 Nov 1994 09:49:37 GMT"),
        ];
        assert_eq!(max_age(&dated), Some(3600));
        assert_eq!(
            max_age(&[dated[0], dated[1], ("cache-control", "max-age=5")]),
            Some(5),
            "max-age wins over Expires"
        );
        assert_eq!(max_age(&[dated[0], ("expires", "0")]), Some(0));
        assert_eq!(
            max_age(&[dated[1], ("date", "Sun, 06 Nov 1994 10:49:37 GMT")]),
            Some(0)
        );
        assert_eq!(
            max_age(&[("expires", "Sun, 06 Nov 1994 09:49:37 GMT")]),
            Some(0)
        );
    }

    #[test]
    fn media_types() {
        let m = |v: &str| media_type(&headers(&[("content-type", v)]));
        assert_eq!(m("application/json").as_deref(), Some("application/json"));
        assert_eq!(
            m("Application/JSON; charset=utf-8").as_deref(),
            Some("application/json")
        );
        assert_eq!(media_type(&headers(&[])), None);
        assert!(is_json("application/json"));
        assert!(is_json("application/jwk-set+json"));
        for no in [
            "text/html",
            "text/json",
            "application/jsonx",
            "application/xml",
            "json",
        ] {
            assert!(!is_json(no), "{no}");
        }
    }

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
