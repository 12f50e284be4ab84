//! The resolver and the directory against a local https document server on 127.0.0.1 (its
//! certificate trusted through `extra_ca_files`, its URL through `allowed_prefixes`), with a
//! fixed clock: caching within bounds, the negative cache, single flight, the per-domain
//! budget, the trust policy, and the directory's routing. No packet leaves loopback.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gatehouse_core::client::ClientId;
use gatehouse_core::memory::MemoryStore;
use gatehouse_core::store::{ClientStore, StoreError};
use gatehouse_core::testing::{ClientBuilder, FixedClock};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{self, ServerConfig};

use super::*;
use crate::config::metadata_documents::TrustPolicy;

/// What the document server answers for a path.
#[derive(Debug, Clone)]
struct Reply {
    status: u16,
    headers: String,
    body: String,
    delay: Duration,
}

fn document(id: &str, headers: &str) -> Reply {
    let body = serde_json::json!({
        "client_id": id,
        "client_name": "Test App",
        "redirect_uris": ["http://127.0.0.1/callback"],
    })
    .to_string();
    Reply {
        status: 200,
        headers: format!("content-type: application/json\r\n{headers}"),
        body,
        delay: Duration::ZERO,
    }
}

/// An https server on 127.0.0.1 answering from a table, counting requests per path.
struct DocServer {
    addr: SocketAddr,
    pem: String,
    routes: Arc<Mutex<HashMap<String, Reply>>>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl DocServer {
    async fn start() -> Self {
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
        let pem = certified.cert.pem();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            certified.signing_key.serialize_der(),
        ));
        let cert: CertificateDer<'static> = certified.cert.der().clone();
        let config =
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(vec![cert], key)
                .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let routes: Arc<Mutex<HashMap<String, Reply>>> = Arc::default();
        let hits: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let (r, h) = (routes.clone(), hits.clone());
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (acceptor, r, h) = (acceptor.clone(), r.clone(), h.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(socket).await else {
                        return;
                    };
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.ends_with(b"\r\n\r\n") {
                        match tls.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    let path = head.split(' ').nth(1).unwrap_or("").to_owned();
                    *h.lock().unwrap().entry(path.clone()).or_default() += 1;
                    let reply = r.lock().unwrap().get(&path).cloned();
                    let reply = reply.unwrap_or(Reply {
                        status: 404,
                        headers: String::new(),
                        body: String::new(),
                        delay: Duration::ZERO,
                    });
                    tokio::time::sleep(reply.delay).await;
                    let answer = format!(
                        "HTTP/1.1 {} X\r\n{}content-length: {}\r\nconnection: close\r\n\r\n{}",
                        reply.status,
                        reply.headers,
                        reply.body.len(),
                        reply.body
                    );
                    let _ = tls.write_all(answer.as_bytes()).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        Self {
            addr,
            pem,
            routes,
            hits,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr)
    }

    fn set(&self, path: &str, reply: Reply) {
        self.routes.lock().unwrap().insert(path.to_owned(), reply);
    }

    /// Serves a valid document for its own URL at `path`, with extra headers.
    fn serve(&self, path: &str, headers: &str) -> String {
        let id = self.url(path);
        self.set(path, document(&id, headers));
        id
    }

    fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

struct Setup {
    server: DocServer,
    clock: Arc<FixedClock>,
    documents: Arc<MetadataDocuments>,
    _ca: tempfile::NamedTempFile,
}

fn settings_for(server: &DocServer, ca: &tempfile::NamedTempFile) -> MetadataDocumentsConfig {
    MetadataDocumentsConfig {
        min_ttl: 300,
        max_ttl: 3600,
        failure_ttl: 30,
        fetch_timeout: 2,
        allowed_prefixes: vec![format!("https://{}/", server.addr).parse().unwrap()],
        extra_ca_files: vec![ca.path().to_owned()],
        ..MetadataDocumentsConfig::default()
    }
}

async fn setup_with(change: impl FnOnce(&mut MetadataDocumentsConfig)) -> Setup {
    let server = DocServer::start().await;
    let ca = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca.path(), &server.pem).unwrap();
    let mut settings = settings_for(&server, &ca);
    change(&mut settings);
    let clock = Arc::new(FixedClock::at(1_800_000_000));
    let fetcher = metadata_documents::fetcher(&settings).unwrap();
    let documents = Arc::new(MetadataDocuments::new(settings, fetcher, clock.clone()));
    Setup {
        server,
        clock,
        documents,
        _ca: ca,
    }
}

async fn setup() -> Setup {
    setup_with(|_| {}).await
}

#[tokio::test]
async fn a_document_is_fetched_once_and_cached_for_its_max_age() {
    let s = setup().await;
    let id = s
        .server
        .serve("/app.json", "cache-control: max-age=600\r\n");
    let client = s.documents.resolve(&id).await.unwrap();
    assert_eq!(client.name, "Test App");
    assert_eq!(client.id.as_str(), id);
    s.documents.resolve(&id).await.unwrap();
    s.clock.advance(599);
    s.documents.resolve(&id).await.unwrap();
    assert_eq!(s.server.hits("/app.json"), 1);
    s.clock.advance(2);
    s.documents.resolve(&id).await.unwrap();
    assert_eq!(s.server.hits("/app.json"), 2);
}

/// CIMD §4.4: the answer's caching within `[min_ttl, max_ttl]`.
#[tokio::test]
async fn the_cache_time_is_bounded() {
    let s = setup().await;
    for (path, headers, kept) in [
        ("/long", "cache-control: max-age=999999\r\n", 3600),
        ("/short", "cache-control: max-age=5\r\n", 300),
        (
            "/no-store",
            "cache-control: no-store, max-age=3000\r\n",
            300,
        ),
        ("/silent", "", 300),
        (
            "/expires",
            "date: Sun, 06 Nov 1994 08:49:37 GMT\r\nexpires: Sun, 06 Nov 1994 09:19:37 GMT\r\n",
            1800,
        ),
    ] {
        let id = s.server.serve(path, headers);
        let start = s.clock.0.load(std::sync::atomic::Ordering::SeqCst);
        s.documents.resolve(&id).await.unwrap();
        s.clock.advance(kept - 1);
        s.documents.resolve(&id).await.unwrap();
        assert_eq!(s.server.hits(path), 1, "{path} within {kept} s");
        s.clock.advance(1);
        s.documents.resolve(&id).await.unwrap();
        assert_eq!(s.server.hits(path), 2, "{path} after {kept} s");
        s.clock.0.store(start, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A failure is remembered for `failure_ttl`: no fetch meanwhile, then one.
#[tokio::test]
async fn failures_are_cached_briefly() {
    let s = setup().await;
    let missing = s.server.url("/missing.json");
    let err = s.documents.resolve(&missing).await.unwrap_err();
    assert!(err.to_string().contains("127.0.0.1"), "{err}");
    assert!(
        err.to_string().contains("did not answer with the document"),
        "{err}"
    );
    for _ in 0..5 {
        assert_eq!(s.documents.resolve(&missing).await.unwrap_err(), err);
    }
    assert_eq!(s.server.hits("/missing.json"), 1);
    assert_eq!(s.documents.failure(&missing), Some(err));
    s.clock.advance(30);
    s.server.serve("/missing.json", "");
    s.documents.resolve(&missing).await.unwrap();
    assert_eq!(s.server.hits("/missing.json"), 2);
    assert_eq!(s.documents.failure(&missing), None);
}

/// Each kind of bad answer, with its message; none reflects the body.
#[tokio::test]
async fn bad_documents_and_answers() {
    let s = setup().await;
    let other = s.server.url("/other.json");
    let secret_body = serde_json::json!({
        "client_id": s.server.url("/secret.json"),
        "client_name": "internal-secret-9f8e7d",
        "redirect_uris": ["http://127.0.0.1/cb"],
        "token_endpoint_auth_method": "client_secret_basic",
    })
    .to_string();
    let json = "content-type: application/json\r\n".to_owned();
    let cases = [
        (
            "/mismatch.json",
            200,
            json.clone(),
            document(&other, "").body,
            "client_id is not the URL",
        ),
        (
            "/secret.json",
            200,
            json.clone(),
            secret_body,
            "shared secret",
        ),
        (
            "/big.json",
            200,
            json.clone(),
            format!("{{\"x\":\"{}\"}}", "x".repeat(6000)),
            "too large",
        ),
        (
            "/redirect.json",
            302,
            format!("location: {other}\r\n{json}"),
            String::new(),
            "redirect",
        ),
        (
            "/html.json",
            200,
            "content-type: text/html\r\n".to_owned(),
            "<html>internal-secret-9f8e7d</html>".to_owned(),
            "not JSON",
        ),
        (
            "/array.json",
            200,
            json.clone(),
            "[]".to_owned(),
            "not a JSON object",
        ),
        (
            "/error.json",
            500,
            json.clone(),
            "internal-secret-9f8e7d".to_owned(),
            "did not answer with the document",
        ),
    ];
    for (path, status, headers, body, says) in cases {
        s.server.set(
            path,
            Reply {
                status,
                headers,
                body,
                delay: Duration::ZERO,
            },
        );
        let err = s.documents.resolve(&s.server.url(path)).await.unwrap_err();
        assert!(err.to_string().contains(says), "{path}: {err}");
        assert!(
            !err.to_string().contains("internal-secret"),
            "{path}: {err}"
        );
    }
    assert_eq!(
        s.server.hits("/other.json"),
        0,
        "redirects are not followed"
    );
}

#[tokio::test]
async fn a_slow_server_times_out() {
    let s = setup().await;
    let id = s.server.url("/slow.json");
    let mut reply = document(&id, "");
    reply.delay = Duration::from_secs(5);
    s.server.set("/slow.json", reply);
    let err = s.documents.resolve(&id).await.unwrap_err();
    assert!(err.to_string().contains("in time"), "{err}");
}

/// Security-matrix §5 item 12: concurrent requests for a new `client_id`, one fetch.
#[tokio::test]
async fn concurrent_requests_share_one_fetch() {
    let s = setup().await;
    let id = s.server.url("/popular.json");
    let mut reply = document(&id, "");
    reply.delay = Duration::from_millis(300);
    s.server.set("/popular.json", reply);
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (documents, id) = (s.documents.clone(), id.clone());
        tasks.push(tokio::spawn(
            async move { documents.resolve(&id).await.is_ok() },
        ));
    }
    for task in tasks {
        assert!(task.await.unwrap());
    }
    assert_eq!(s.server.hits("/popular.json"), 1);
}

/// A caller that goes away mid-fetch leaves nothing behind, and the next caller fetches.
#[tokio::test]
async fn a_cancelled_fetch_leaves_no_entry() {
    let s = setup().await;
    let id = s.server.url("/slow.json");
    let mut reply = document(&id, "");
    reply.delay = Duration::from_millis(500);
    s.server.set("/slow.json", reply);
    let cancelled =
        tokio::time::timeout(Duration::from_millis(100), s.documents.resolve(&id)).await;
    assert!(cancelled.is_err(), "gave up before the answer");
    assert_eq!(s.documents.fetches_under_way(), 0);
    s.documents.resolve(&id).await.unwrap();
    assert_eq!(s.documents.fetches_under_way(), 0);
}

/// Security-matrix §5 item 13: many distinct URLs on one host make a bounded number of fetches.
#[tokio::test]
async fn fetches_per_domain_are_limited() {
    let s = setup_with(|c| c.per_domain_per_minute = 3).await;
    for i in 0..3 {
        s.documents
            .resolve(&s.server.url(&format!("/r{i}.json")))
            .await
            .unwrap_err();
    }
    let err = s
        .documents
        .resolve(&s.server.url("/r3.json"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Too many"), "{err}");
    assert_eq!(s.server.hits("/r3.json"), 0);
    // The refusal is remembered (the page can say why) until the budget refills.
    assert_eq!(s.documents.failure(&s.server.url("/r3.json")), Some(err));
    s.clock.advance(59);
    assert!(s.documents.failure(&s.server.url("/r3.json")).is_some());
    s.clock.advance(1);
    assert!(s.documents.failure(&s.server.url("/r3.json")).is_none());
    s.documents
        .resolve(&s.server.url("/r3.json"))
        .await
        .unwrap_err();
    assert_eq!(s.server.hits("/r3.json"), 1);
}

#[tokio::test]
async fn the_cache_is_bounded() {
    let s = setup_with(|c| c.max_entries = 2).await;
    let ids: Vec<String> = (0..3)
        .map(|i| s.server.serve(&format!("/e{i}.json"), ""))
        .collect();
    for id in &ids {
        s.documents.resolve(id).await.unwrap();
        s.clock.advance(1);
    }
    // The one expiring soonest was evicted: fetched again when used; the others are not.
    // Evicted or not, none is taken for gone (its tokens stay active at introspection).
    assert!(ids.iter().all(|id| s.documents.contains(id)));
    s.documents.resolve(&ids[2]).await.unwrap();
    assert_eq!(s.server.hits("/e2.json"), 1);
    s.documents.resolve(&ids[0]).await.unwrap();
    assert_eq!(s.server.hits("/e0.json"), 2, "evicted, so fetched again");
}

/// CIMD §6.8: an allow or deny list, on label boundaries, judged before any fetch.
#[tokio::test]
async fn the_trust_policy_is_applied_before_fetching() {
    let s = setup_with(|c| {
        c.policy = TrustPolicy::Allow;
        c.domains = vec!["claude.ai".into()];
    })
    .await;
    let id = s.server.serve("/app.json", "");
    let err = s.documents.resolve(&id).await.unwrap_err();
    assert!(err.to_string().contains("does not accept"), "{err}");
    assert_eq!(s.server.hits("/app.json"), 0);

    let s = setup_with(|c| {
        c.policy = TrustPolicy::Deny;
        c.domains = vec!["127.0.0.1".into()];
    })
    .await;
    let id = s.server.serve("/app.json", "");
    assert!(s.documents.resolve(&id).await.is_err());
    assert_eq!(s.server.hits("/app.json"), 0);
}

#[test]
fn domains_match_on_label_boundaries() {
    let allow = MetadataDocumentsConfig {
        policy: TrustPolicy::Allow,
        domains: vec!["example.com".into()],
        ..MetadataDocumentsConfig::default()
    };
    for yes in [
        "example.com",
        "a.example.com",
        "a.b.example.com",
        "EXAMPLE.com.",
    ] {
        assert!(allow.trusts(yes), "{yes}");
    }
    for no in [
        "badexample.com",
        "example.com.evil.net",
        "example.co",
        "com",
    ] {
        assert!(!allow.trusts(no), "{no}");
    }
    let deny = MetadataDocumentsConfig {
        policy: TrustPolicy::Deny,
        ..allow
    };
    assert!(!deny.trusts("a.example.com"));
    assert!(deny.trusts("badexample.com"));
    assert!(MetadataDocumentsConfig::default().trusts("anything.example"));
}

/// Without an allowed prefix the loopback document server is refused, nothing sent to it
/// (security-matrix §5 item 3; CIMD §6.5).
#[tokio::test]
async fn without_an_allowed_prefix_loopback_is_refused() {
    let s = setup_with(|c| c.allowed_prefixes.clear()).await;
    let id = s.server.serve("/app.json", "");
    let err = s.documents.resolve(&id).await.unwrap_err();
    assert!(
        err.to_string().contains("not one this server fetches from"),
        "{err}"
    );
    assert_eq!(s.server.hits("/app.json"), 0);
    // A prefix for another port does not cover it either.
    let s = setup_with(|c| {
        c.allowed_prefixes = vec!["https://127.0.0.1:1/".parse().unwrap()];
    })
    .await;
    let id = s.server.serve("/app.json", "");
    assert!(s.documents.resolve(&id).await.is_err());
    assert_eq!(s.server.hits("/app.json"), 0);
}

#[tokio::test]
async fn bad_urls_are_refused_without_fetching() {
    let s = setup().await;
    s.server.serve("/app.json", "");
    for id in [
        format!("https://{}/app.json?x=1", s.server.addr),
        format!("https://{}/./app.json", s.server.addr),
        format!("https://{}/app.json#x", s.server.addr),
        format!("https://u@{}/app.json", s.server.addr),
        format!("https://{}/", s.server.addr),
    ] {
        let err = s.documents.resolve(&id).await.unwrap_err();
        assert!(err.to_string().contains("client_id URL"), "{id}: {err}");
    }
    assert_eq!(s.server.hits("/app.json"), 0);
}

#[tokio::test]
async fn the_directory_routes_ids() {
    let s = setup().await;
    let store = Arc::new(MemoryStore::default());
    let stored = ClientBuilder::new().name("Stored").client();
    let stored_id = stored.id.clone();
    ClientStore::insert(store.as_ref(), stored).await.unwrap();
    let directory = Directory::new(store.clone(), Some(s.documents.clone()));
    let id = s.server.serve("/app.json", "");
    let cid = ClientId::new(&id).unwrap();

    assert!(
        directory.contains(&id).await.unwrap(),
        "not fetched yet, not known to be gone"
    );
    assert!(!directory.contains("https://bad/#frag").await.unwrap());
    assert_eq!(s.server.hits("/app.json"), 0, "contains never fetches");
    let client = directory.get(&cid).await.unwrap().unwrap();
    assert_eq!(client.name, "Test App");
    assert!(directory.contains(&id).await.unwrap());
    assert_eq!(
        directory.get(&stored_id).await.unwrap().unwrap().name,
        "Stored"
    );
    assert!(directory.contains(stored_id.as_str()).await.unwrap());
    assert_eq!(
        directory.list().await.unwrap().len(),
        1,
        "documents are not listed"
    );

    // A failure is `Ok(None)` with its reason kept for the page.
    let missing = ClientId::new(&s.server.url("/missing.json")).unwrap();
    assert!(directory.get(&missing).await.unwrap().is_none());
    assert!(directory.failure(missing.as_str()).is_some());

    // A URL-shaped id is never stored.
    let mut fake = ClientBuilder::new().client();
    fake.id = ClientId::new("https://claude.ai/oauth/claude-code-client-metadata").unwrap();
    let err = directory.insert(fake).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");

    assert!(directory.delete(&cid).await.unwrap());
    assert!(!directory.contains(&id).await.unwrap());
    assert!(directory.delete(&stored_id).await.unwrap());

    // Disabled: URL-shaped ids are unknown, and nothing is fetched.
    let off = Directory::new(store, None);
    assert!(off.get(&cid).await.unwrap().is_none());
    assert_eq!(s.server.hits("/app.json"), 1);
}

/// A review found that spraying bogus paths on a client's domain spent its fetch budget and
/// replaced the real client's expired document with the refusal, taking it down for everyone:
/// a good document stays in use (stale if error, RFC 5861 §4) while it cannot be refetched,
/// for at most `max_ttl` past its freshness; an operator's removal and a now-invalid document
/// are not served stale.
#[tokio::test]
async fn a_good_document_outlives_a_spent_budget_and_an_unreachable_host() {
    let s = setup_with(|c| c.per_domain_per_minute = 3).await;
    let id = s
        .server
        .serve("/app.json", "cache-control: max-age=300\r\n");
    s.documents.resolve(&id).await.unwrap();
    s.clock.advance(301);
    for i in 0..3 {
        let _ = s
            .documents
            .resolve(&s.server.url(&format!("/bogus{i}.json")))
            .await;
    }
    let client = s.documents.resolve(&id).await.unwrap();
    assert_eq!(client.name, "Test App");
    assert_eq!(s.server.hits("/app.json"), 1, "served stale, not fetched");
    // The host answers 500: still the last good document.
    s.clock.advance(61);
    s.server.set(
        "/app.json",
        Reply {
            status: 500,
            headers: String::new(),
            body: String::new(),
            delay: Duration::ZERO,
        },
    );
    s.documents.resolve(&id).await.unwrap();
    assert_eq!(s.server.hits("/app.json"), 2);
    // Not forever: past max_ttl beyond its freshness, the failure stands.
    s.clock.advance(s.documents.settings().max_ttl);
    assert!(s.documents.resolve(&id).await.is_err());
}

// --- `private_key_jwt` keys at a `jwks_uri` ([`AssertionKeys`]) --------------------------------

mod assertion_keys {
    use gatehouse_core::assertion::Refusal;
    use gatehouse_core::client::auth::private_key_jwt::ClientKeyVerifier;
    use gatehouse_core::client::keys::ClientKeys;
    use gatehouse_signer::{SigningKey, SoftwareKey};
    use gatehouse_token::{Algorithm, b64};
    use serde_json::json;

    use super::*;
    use crate::config::ClientKeysConfig;

    const NOW: u64 = 1_800_000_000;

    struct Keys {
        server: DocServer,
        clock: Arc<FixedClock>,
        verifier: Arc<AssertionKeys>,
        client: gatehouse_core::client::Client,
        _ca: tempfile::NamedTempFile,
    }

    async fn keys_setup() -> Keys {
        let server = DocServer::start().await;
        let ca = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(ca.path(), &server.pem).unwrap();
        let settings = ClientKeysConfig {
            jwks_min_ttl: 300,
            jwks_max_ttl: 3600,
            refresh_interval: 30,
            stale_if_error: 600,
            fetch_timeout: 2,
            allowed_prefixes: vec![format!("https://{}/", server.addr).parse().unwrap()],
            extra_ca_files: vec![ca.path().to_owned()],
            ..ClientKeysConfig::default()
        };
        let clock = Arc::new(FixedClock::at(NOW));
        let fetcher = super::super::assertion_keys::fetcher(&settings).unwrap();
        let verifier = Arc::new(AssertionKeys::new(settings, fetcher, clock.clone()));
        let uri = server.url("/jwks");
        let client = ClientBuilder::new().keys(ClientKeys::Uri(uri)).client();
        Keys {
            server,
            clock,
            verifier,
            client,
            _ca: ca,
        }
    }

    fn jwks(keys: &[&SoftwareKey], headers: &str) -> Reply {
        let body = json!({"keys": keys.iter().map(|k| k.public_jwk()).collect::<Vec<_>>()});
        Reply {
            status: 200,
            headers: format!("content-type: application/json\r\n{headers}"),
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }

    fn assertion(key: &SoftwareKey, client: &str) -> String {
        let header = json!({"alg": "ES256", "kid": key.kid()});
        let claims = json!({"iss": client, "sub": client, "aud": "https://as", "exp": NOW + 60});
        let input = format!(
            "{}.{}",
            b64::encode(header.to_string()),
            b64::encode(claims.to_string())
        );
        let sig = key.sign(input.as_bytes()).unwrap();
        format!("{input}.{}", b64::encode(sig))
    }

    impl Keys {
        async fn verify(&self, key: &SoftwareKey) -> Result<(), Refusal> {
            let keys = self.client.keys.clone().unwrap();
            let a = assertion(key, self.client.id.as_str());
            self.verifier
                .client_assertion(&self.client, &keys, &a)
                .await
                .map(|_| ())
        }
    }

    fn es256() -> SoftwareKey {
        SoftwareKey::generate(Algorithm::ES256).unwrap()
    }

    #[tokio::test]
    async fn fetched_keys_are_kept_within_the_ttl_bounds() {
        let k = keys_setup().await;
        let key = es256();
        // max-age below the minimum: kept for jwks_min_ttl (300 s).
        k.server
            .set("/jwks", jwks(&[&key], "cache-control: max-age=5\r\n"));
        k.verify(&key).await.unwrap();
        k.clock.advance(299);
        k.verify(&key).await.unwrap();
        assert_eq!(k.server.hits("/jwks"), 1);
        k.clock.advance(2);
        k.verify(&key).await.unwrap();
        assert_eq!(k.server.hits("/jwks"), 2);
        // max-age above the maximum: kept for jwks_max_ttl (3600 s) only.
        k.server
            .set("/jwks", jwks(&[&key], "cache-control: max-age=999999\r\n"));
        k.clock.advance(301);
        k.verify(&key).await.unwrap();
        assert_eq!(k.server.hits("/jwks"), 3);
        k.clock.advance(3599);
        k.verify(&key).await.unwrap();
        assert_eq!(k.server.hits("/jwks"), 3);
        k.clock.advance(2);
        k.verify(&key).await.unwrap();
        assert_eq!(k.server.hits("/jwks"), 4);
    }

    #[tokio::test]
    async fn old_keys_serve_while_fetching_fails_for_a_bounded_time() {
        let k = keys_setup().await;
        let key = es256();
        k.server
            .set("/jwks", jwks(&[&key], "cache-control: max-age=300\r\n"));
        k.verify(&key).await.unwrap();
        k.server.set(
            "/jwks",
            Reply {
                status: 503,
                headers: String::new(),
                body: String::new(),
                delay: Duration::ZERO,
            },
        );
        // Past the TTL, within stale_if_error (600 s): the old keys still verify.
        k.clock.advance(301);
        k.verify(&key).await.unwrap();
        assert_eq!(k.server.hits("/jwks"), 2, "a refresh was tried");
        k.clock.advance(598);
        k.verify(&key).await.unwrap();
        // Beyond it: unavailable, which the client is told as invalid_client.
        k.clock.advance(2);
        assert!(matches!(k.verify(&key).await, Err(Refusal::Unavailable(_))));
        // A private key in the set refuses the whole set.
        let mut private = serde_json::to_value(key.public_jwk()).unwrap();
        private["d"] = json!(b64::encode([1u8; 32]));
        k.server.set(
            "/jwks",
            Reply {
                status: 200,
                headers: "content-type: application/json\r\n".into(),
                body: json!({"keys": [private]}).to_string(),
                delay: Duration::ZERO,
            },
        );
        assert!(matches!(k.verify(&key).await, Err(Refusal::Unavailable(_))));
    }

    #[tokio::test]
    async fn unknown_kids_refresh_at_most_once_per_interval() {
        let k = keys_setup().await;
        let (old, new) = (es256(), es256());
        k.server
            .set("/jwks", jwks(&[&old], "cache-control: max-age=3600\r\n"));
        k.verify(&old).await.unwrap();
        // A flood of unknown kids at once: one fetch among them.
        let strangers: Vec<SoftwareKey> = (0..16).map(|_| es256()).collect();
        let attempts = strangers.iter().map(|s| k.verify(s));
        let results = futures_join_all(attempts).await;
        assert!(
            results
                .iter()
                .all(|r| matches!(r, Err(Refusal::UnknownKey)))
        );
        assert_eq!(k.server.hits("/jwks"), 2, "one refresh for the whole flood");
        // The client rotates within the interval: not fetched yet.
        k.server
            .set("/jwks", jwks(&[&new], "cache-control: max-age=3600\r\n"));
        k.clock.advance(29);
        assert!(matches!(k.verify(&new).await, Err(Refusal::UnknownKey)));
        assert_eq!(k.server.hits("/jwks"), 2);
        // After it, the new kid fetches the keys again.
        k.clock.advance(1);
        k.verify(&new).await.unwrap();
        assert_eq!(k.server.hits("/jwks"), 3);
        assert!(
            matches!(k.verify(&old).await, Err(Refusal::UnknownKey)),
            "retired"
        );
    }

    /// Runs `futures` concurrently on this task; their outputs in order.
    async fn futures_join_all<F: std::future::Future>(
        futures: impl Iterator<Item = F>,
    ) -> Vec<F::Output> {
        let mut set = Vec::new();
        for f in futures {
            set.push(Box::pin(f));
        }
        let mut out = Vec::with_capacity(set.len());
        // Poll them together: each yields at its fetch, so they overlap.
        let all = std::future::poll_fn(|cx| {
            let mut pending = false;
            for (i, f) in set.iter_mut().enumerate() {
                if out.len() <= i {
                    out.push(None);
                }
                if out[i].is_none() {
                    match f.as_mut().poll(cx) {
                        std::task::Poll::Ready(v) => out[i] = Some(v),
                        std::task::Poll::Pending => pending = true,
                    }
                }
            }
            if pending {
                std::task::Poll::Pending
            } else {
                std::task::Poll::Ready(())
            }
        });
        all.await;
        out.into_iter().map(Option::unwrap).collect()
    }
}
