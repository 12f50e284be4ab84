//! Test doubles: a scripted resolver, a connector that records and redirects to loopback, local
//! HTTP and HTTPS servers that replay a script, and a self-signed CA.

use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gatehouse_fetch::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use gatehouse_fetch::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
use gatehouse_fetch::{ByteStream, Connect, FetchPolicy, Fetcher, Resolve};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use url::Url;

/// A public address in no special-use block (it belongs to a public web host), standing for
/// "somewhere on the Internet". The connector never connects to it.
pub(crate) const PUBLIC: &str = "93.184.215.14";

pub(crate) fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub(crate) fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

/// The development exception, with `timeout` and a 1 KiB cap.
pub(crate) fn dev(timeout: Duration) -> FetchPolicy {
    FetchPolicy {
        timeout,
        max_bytes: 1024,
        allow_http_loopback: true,
        allowed_prefixes: Vec::new(),
    }
}

/// The strict policy with a 1 KiB cap.
pub(crate) fn strict() -> FetchPolicy {
    FetchPolicy {
        max_bytes: 1024,
        ..FetchPolicy::default()
    }
}

/// Answers each call with the next scripted answer (the last one repeats), and records the
/// names it was asked for.
#[derive(Debug)]
pub(crate) struct Resolver {
    answers: Mutex<VecDeque<Vec<IpAddr>>>,
    calls: Mutex<Vec<String>>,
}

impl Resolver {
    pub(crate) fn script(answers: &[&[&str]]) -> Arc<Self> {
        Arc::new(Self {
            answers: Mutex::new(
                answers
                    .iter()
                    .map(|a| a.iter().map(|s| ip(s)).collect())
                    .collect(),
            ),
            calls: Mutex::new(Vec::new()),
        })
    }

    pub(crate) fn always(addrs: &[&str]) -> Arc<Self> {
        Self::script(&[addrs])
    }

    pub(crate) fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl Resolve for Resolver {
    async fn resolve(&self, host: &str) -> io::Result<Vec<IpAddr>> {
        self.calls.lock().unwrap().push(host.to_owned());
        let mut answers = self.answers.lock().unwrap();
        let answer = if answers.len() > 1 {
            answers.pop_front()
        } else {
            answers.front().cloned()
        };
        Ok(answer.unwrap_or_default())
    }
}

/// Records every address it is asked to connect to; connects instead to a local server on
/// loopback, or to nothing at all.
#[derive(Debug)]
pub(crate) struct Connector {
    local: Option<SocketAddr>,
    asked: Mutex<Vec<SocketAddr>>,
}

impl Connector {
    /// Every connection goes to `local`, a server on loopback, whatever address was asked for.
    pub(crate) fn to(local: SocketAddr) -> Arc<Self> {
        assert!(local.ip().is_loopback(), "tests connect to loopback only");
        Arc::new(Self {
            local: Some(local),
            asked: Mutex::new(Vec::new()),
        })
    }

    /// Every connection is refused, without touching the network.
    pub(crate) fn refusing() -> Arc<Self> {
        Arc::new(Self {
            local: None,
            asked: Mutex::new(Vec::new()),
        })
    }

    pub(crate) fn asked(&self) -> Vec<SocketAddr> {
        self.asked.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl Connect for Connector {
    async fn connect(&self, addr: SocketAddr) -> io::Result<Box<dyn ByteStream>> {
        self.asked.lock().unwrap().push(addr);
        match self.local {
            Some(local) => Ok(Box::new(tokio::net::TcpStream::connect(local).await?)),
            None => Err(io::ErrorKind::ConnectionRefused.into()),
        }
    }
}

/// A fetcher under `policy` with the test resolver and connector.
pub(crate) fn fetcher(
    policy: FetchPolicy,
    resolver: &Arc<Resolver>,
    connector: &Arc<Connector>,
) -> Fetcher {
    Fetcher::new(policy)
        .unwrap()
        .with_resolver(resolver.clone())
        .with_connector(connector.clone())
}

/// What a test server does after reading the request head.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    Send(Vec<u8>),
    Wait(Duration),
}

pub(crate) fn send(s: impl Into<String>) -> Step {
    Step::Send(s.into().into_bytes())
}

/// A complete 200 answer.
pub(crate) fn ok(body: &str) -> Vec<Step> {
    vec![send(format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    ))]
}

#[derive(Debug, Default)]
struct Seen {
    connections: AtomicUsize,
    heads: Mutex<Vec<String>>,
}

/// A server on 127.0.0.1 that reads each request head, then plays its script and closes.
#[derive(Debug)]
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    seen: Arc<Seen>,
}

impl Server {
    pub(crate) async fn plain(script: Vec<Step>) -> Self {
        Self::start(script, None).await
    }

    pub(crate) async fn tls(script: Vec<Step>, acceptor: TlsAcceptor) -> Self {
        Self::start(script, Some(acceptor)).await
    }

    async fn start(script: Vec<Step>, tls: Option<TlsAcceptor>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Seen::default());
        let state = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                state.connections.fetch_add(1, Ordering::SeqCst);
                let (script, state, tls) = (script.clone(), Arc::clone(&state), tls.clone());
                tokio::spawn(async move {
                    match tls {
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(socket).await {
                                play(stream, &script, &state).await;
                            }
                        }
                        None => play(socket, &script, &state).await,
                    }
                });
            }
        });
        Self { addr, seen }
    }

    /// `http://127.0.0.1:port{path}`.
    pub(crate) fn url(&self, path: &str) -> Url {
        url(&format!("http://{}{path}", self.addr))
    }

    pub(crate) fn connections(&self) -> usize {
        self.seen.connections.load(Ordering::SeqCst)
    }

    /// The request heads received, lower-cased.
    pub(crate) fn heads(&self) -> Vec<String> {
        self.seen.heads.lock().unwrap().clone()
    }
}

async fn play<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, script: &[Step], seen: &Seen) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    seen.heads
        .lock()
        .unwrap()
        .push(String::from_utf8_lossy(&head).to_ascii_lowercase());
    for step in script {
        match step {
            Step::Send(bytes) => {
                if stream.write_all(bytes).await.is_err() || stream.flush().await.is_err() {
                    return;
                }
            }
            Step::Wait(d) => tokio::time::sleep(*d).await,
        }
    }
    let _ = stream.shutdown().await;
}

/// A self-signed certificate for `names`: a TLS acceptor presenting it, and a client
/// configuration trusting it alone.
pub(crate) fn self_signed(names: &[&str]) -> (TlsAcceptor, ClientConfig) {
    let (acceptor, client, _) = self_signed_pem(names);
    (acceptor, client)
}

/// [`self_signed`], and the certificate in PEM.
pub(crate) fn self_signed_pem(names: &[&str]) -> (TlsAcceptor, ClientConfig, String) {
    let names: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
    let certified = rcgen::generate_simple_self_signed(names).unwrap();
    let pem = certified.cert.pem();
    let cert: CertificateDer<'static> = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let provider = || Arc::new(rustls::crypto::ring::default_provider());
    let server = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    let mut roots = RootCertStore::empty();
    roots.add(cert).unwrap();
    let client = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (TlsAcceptor::from(Arc::new(server)), client, pem)
}
