//! Client ID Metadata Documents end to end (draft-ietf-oauth-client-id-metadata-document;
//! security-matrix §5): a local https document server on 127.0.0.1, its certificate trusted
//! through `client_metadata_documents.extra_ca_files` and its URL opened by `allowed_prefixes`;
//! the real binary fetches documents from it. No packet leaves loopback.
//!
//! A good document signs a person in and gets tokens; a bad one (client_id mismatch, a secret,
//! too large, 404, a redirect, not JSON) is an error page (400, HTML, no `Location`) and is not
//! fetched again within the failure TTL; the cache keeps a document within its bounds; without
//! an allowed prefix a loopback document is refused before anything is sent.

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{self, ServerConfig};

use crate::harness::Server;
use crate::sign_in::driver::{
    App, Browser, PASSWORD, RESOURCE, USERNAME, VERIFIER, add_user, assert_error_page,
};

/// What the document server answers on a path.
#[derive(Clone)]
struct Reply {
    status: u16,
    headers: String,
    body: String,
}

type Routes = Arc<Mutex<HashMap<String, Reply>>>;
type Hits = Arc<Mutex<HashMap<String, usize>>>;

/// An https server on 127.0.0.1 (its own thread and runtime) answering from a table and
/// counting requests per path (the private_key_jwt tests serve `jwks_uri`s from it too).
pub struct DocServer {
    addr: SocketAddr,
    name: String,
    pub ca_file: tempfile::NamedTempFile,
    routes: Routes,
    hits: Hits,
}

impl DocServer {
    pub fn start() -> Self {
        Self::start_on("127.0.0.1", "127.0.0.1")
    }

    /// A server listening on `ip`, its certificate for `name`, its URLs naming `name`.
    fn start_on(ip: &str, name: &str) -> Self {
        let certified = rcgen::generate_simple_self_signed(vec![name.to_owned()]).unwrap();
        let mut ca_file = tempfile::NamedTempFile::new().unwrap();
        ca_file.write_all(certified.cert.pem().as_bytes()).unwrap();
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
        let listener = std::net::TcpListener::bind((ip, 0)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (routes, hits): (Routes, Hits) = Default::default();
        let (r, h) = (routes.clone(), hits.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
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
                        });
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
        });
        Self {
            addr,
            name: name.to_owned(),
            ca_file,
            routes,
            hits,
        }
    }

    /// `https://name:port/path`.
    pub fn origin(&self) -> String {
        format!("https://{}:{}", self.name, self.addr.port())
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin())
    }

    pub fn set(&self, path: &str, status: u16, headers: &str, body: &str) {
        self.routes.lock().unwrap().insert(
            path.to_owned(),
            Reply {
                status,
                headers: headers.to_owned(),
                body: body.to_owned(),
            },
        );
    }

    /// Serves at `path` a document for its own URL, as Claude Code's looks (portless loopback
    /// redirect URIs, no application_type), with `headers` (JSON's content type added).
    fn serve(&self, path: &str, headers: &str) -> String {
        let id = self.url(path);
        self.set(
            path,
            200,
            &format!("content-type: application/json\r\n{headers}"),
            &document(&id).to_string(),
        );
        id
    }

    pub fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    /// The settings that let the server fetch from here, and `extra` ones.
    fn env(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut env = vec![
            (
                "GATEHOUSE_CLIENT_METADATA_DOCUMENTS__ALLOWED_PREFIXES".to_owned(),
                format!("[\"{}/\"]", self.origin()),
            ),
            (
                "GATEHOUSE_CLIENT_METADATA_DOCUMENTS__EXTRA_CA_FILES".to_owned(),
                format!("[\"{}\"]", self.ca_file.path().display()),
            ),
            (
                "GATEHOUSE_RESOURCES__REGISTERED".to_owned(),
                format!(
                    "[{{ uri = \"{RESOURCE}\", name = \"MCP\", scopes = [{{ name = \"read\", \
                     description = \"Read\" }}] }}]"
                ),
            ),
        ];
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        env
    }
}

fn document(id: &str) -> serde_json::Value {
    json!({
        "client_id": id,
        "client_name": "Claude Code",
        "client_uri": "https://claude.ai",
        "redirect_uris": ["http://localhost/callback", "http://127.0.0.1/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "software_id": "extra members are ignored",
    })
}

fn start(docs: &DocServer, extra: &[(&str, &str)]) -> Server {
    let env = docs.env(extra);
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let server = Server::start_with(&pairs);
    add_user(&server, USERNAME, PASSWORD);
    server
}

/// The client a document URL names, answered on a loopback port the app chose.
fn app(id: &str) -> App {
    App {
        id: id.to_owned(),
        secret: None,
        redirect_uri: "http://127.0.0.1:53682/callback".to_owned(),
    }
}

#[test]
fn a_document_client_signs_in_and_gets_tokens() {
    let docs = DocServer::start();
    let server = start(&docs, &[]);
    let id = docs.serve("/oauth/claude-code-client-metadata", "");
    let app = app(&id);
    let mut browser = Browser::new(&server);
    let page = browser.authorize(&app.request());
    assert!(page.is_sign_in(), "{}", page.body);
    let page = browser.log_in(&page, USERNAME, PASSWORD);
    assert!(page.is_consent(), "{}", page.body);
    // CIMD §6.4: the document's host beside the self-asserted name; a loopback-only app is
    // one on this device.
    assert!(
        page.body
            .contains(&format!("Described by <strong>{}</strong>", docs.addr.ip())),
        "{}",
        page.body
    );
    assert!(page.body.contains("says about itself"), "{}", page.body);
    assert!(page.body.contains("on this device"), "{}", page.body);
    let page = browser.decide(&page, "approve");
    let params = page.redirect_params(&app.redirect_uri);
    let code = params.get("code").expect("a code").clone();
    // /token knows the client too (public: client_id in the form, PKCE).
    let tokens = app.redeem(&server, &code, VERIFIER);
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    let body = tokens.json();
    assert!(body["access_token"].is_string(), "{body}");
    let access = body["access_token"].as_str().unwrap();
    assert!(server.is_active(access), "introspection knows the client");
    let refreshed = app.refresh(&server, body["refresh_token"].as_str().unwrap());
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let revoked = app.post(&server, "/revoke", &[("token", access)]);
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert!(!server.is_active(access), "revoked by its client");
    // Everything above used one fetch.
    assert_eq!(docs.hits("/oauth/claude-code-client-metadata"), 1);
    // A redirect URI the document does not list is an error page.
    let page = browser.authorize(
        &app.request()
            .with("redirect_uri", "http://127.0.0.1:53682/elsewhere"),
    );
    assert_error_page(&page, 400, "has not registered");
}

/// Each bad document or answer: an error page (400, HTML, no redirect), and no second fetch
/// within the failure TTL however often the request comes.
#[test]
fn bad_documents_are_error_pages_and_are_not_refetched() {
    let docs = DocServer::start();
    let server = start(&docs, &[]);
    let json = "content-type: application/json\r\n";
    let other = docs.url("/other.json");
    let mut secret = document(&docs.url("/secret.json"));
    secret["token_endpoint_auth_method"] = json!("client_secret_basic");
    let mut big = document(&docs.url("/big.json"));
    big["padding"] = json!("x".repeat(6000));
    docs.set("/mismatch.json", 200, json, &document(&other).to_string());
    docs.set("/secret.json", 200, json, &secret.to_string());
    docs.set("/big.json", 200, json, &big.to_string());
    docs.set(
        "/redirect.json",
        302,
        &format!("location: {other}\r\n{json}"),
        "",
    );
    docs.set(
        "/html.json",
        200,
        "content-type: text/html\r\n",
        &document(&docs.url("/html.json")).to_string(),
    );
    let mut browser = Browser::new(&server);
    for (path, says) in [
        (
            "/mismatch.json",
            "client_id is not the URL it was fetched from",
        ),
        ("/secret.json", "cannot use a shared secret"),
        ("/big.json", "the document is too large"),
        ("/missing.json", "it did not answer with the document"),
        ("/redirect.json", "it answered with a redirect"),
        ("/html.json", "the answer is not JSON"),
    ] {
        let app = app(&docs.url(path));
        for _ in 0..3 {
            let page = browser.authorize(&app.request());
            assert_error_page(&page, 400, says);
            assert!(!page.body.contains("code="), "{path}");
        }
        assert_eq!(
            docs.hits(path),
            1,
            "{path}: fetched once, the failure cached"
        );
    }
    assert_eq!(docs.hits("/other.json"), 0, "redirects are not followed");
    // The token endpoint says invalid_client for them, and fetches nothing more either.
    let page = app(&docs.url("/secret.json")).redeem(&server, "x", VERIFIER);
    assert_eq!(page.status, 401, "{}", page.body);
    assert_eq!(page.json()["error"], "invalid_client");
    assert_eq!(docs.hits("/secret.json"), 1);
}

/// CIMD §4.4: kept as long as the answer allows, within `[min_ttl, max_ttl]`; `no-store` for
/// `min_ttl`.
#[test]
fn the_cache_honours_its_bounds() {
    let docs = DocServer::start();
    let server = start(
        &docs,
        &[("GATEHOUSE_CLIENT_METADATA_DOCUMENTS__MIN_TTL", "1")],
    );
    let long = docs.serve("/long.json", "cache-control: max-age=999999\r\n");
    let no_store = docs.serve("/no-store.json", "cache-control: no-store\r\n");
    let mut browser = Browser::new(&server);
    for _ in 0..3 {
        assert!(browser.authorize(&app(&long).request()).is_sign_in());
        assert!(browser.authorize(&app(&no_store).request()).is_sign_in());
    }
    std::thread::sleep(Duration::from_millis(2100));
    assert!(browser.authorize(&app(&long).request()).is_sign_in());
    assert!(browser.authorize(&app(&no_store).request()).is_sign_in());
    assert_eq!(docs.hits("/long.json"), 1);
    assert_eq!(docs.hits("/no-store.json"), 2);
}

/// Security-matrix §5 items 3 and 24: without an allowed prefix, a document on loopback is
/// refused before any request is sent; so is one whose host only resembles the prefix.
#[test]
fn loopback_documents_need_an_allowed_prefix() {
    let docs = DocServer::start();
    let env = [(
        "GATEHOUSE_CLIENT_METADATA_DOCUMENTS__EXTRA_CA_FILES",
        format!("[\"{}\"]", docs.ca_file.path().display()),
    )];
    let server = Server::start_with(&[(env[0].0, env[0].1.as_str())]);
    let id = docs.serve("/app.json", "");
    let mut browser = Browser::new(&server);
    let page = browser.authorize(&app(&id).request());
    assert_error_page(&page, 400, "not one this server fetches from");
    // Literal forms of loopback and metadata addresses: refused without a request (there is
    // no listener there; a fetch would fail differently, and nothing is sent anyway).
    for id in [
        "https://localhost/app.json",
        "https://[::1]/app.json",
        "https://169.254.169.254/latest/meta-data",
        "https://[fd00:ec2::254]/latest",
        "https://10.0.0.1/app.json",
        "https://[::ffff:127.0.0.1]/app.json",
    ] {
        let page = browser.authorize(&app(id).request());
        assert_error_page(&page, 400, "be used");
    }
    assert_eq!(docs.hits("/app.json"), 0);
    assert!(
        docs.hits.lock().unwrap().is_empty(),
        "nothing reached the server"
    );
}

/// With metadata documents disabled, a URL client_id is an unknown client, never fetched.
#[test]
fn disabled_means_never_fetched() {
    let docs = DocServer::start();
    let server = start(
        &docs,
        &[("GATEHOUSE_CLIENT_METADATA_DOCUMENTS__ENABLED", "false")],
    );
    let id = docs.serve("/app.json", "");
    let page = Browser::new(&server).authorize(&app(&id).request());
    assert_error_page(&page, 400, "turned off");
    assert_eq!(docs.hits("/app.json"), 0);
    let metadata = server.get_json(&format!(
        "{}/.well-known/oauth-authorization-server",
        server.base
    ));
    assert_eq!(metadata["client_id_metadata_document_supported"], false);
}

/// Security-matrix §5 items 3 and 4 through the system resolver, in a network namespace of its
/// own where only loopback exists (`unshare -rnm`): `docs.internal.test` resolves (a private
/// `/etc/hosts` bind-mounted there) to 10.0.0.1 and `metadata.internal.test` to
/// 169.254.169.254, both addresses of that namespace's loopback interface. Without an allowed
/// prefix neither is fetched; with one, the private address is, the link-local (metadata)
/// one never. The test runs itself again inside the namespace; where `unshare` is not
/// permitted it fails, saying so.
#[test]
fn names_resolving_to_internal_addresses_in_a_network_namespace() {
    const INSIDE: &str = "GATEHOUSE_E2E_NETNS";
    const NAME: &str =
        "metadata_documents::names_resolving_to_internal_addresses_in_a_network_namespace";
    if std::env::var_os(INSIDE).is_none() {
        let mut hosts = tempfile::NamedTempFile::new().unwrap();
        hosts
            .write_all(
                b"127.0.0.1 localhost\n10.0.0.1 docs.internal.test\n\
                  169.254.169.254 metadata.internal.test\n",
            )
            .unwrap();
        let script = format!(
            "ip link set lo up && ip addr add 10.0.0.1/32 dev lo && \
             ip addr add 169.254.169.254/32 dev lo && mount --bind {} /etc/hosts && \
             exec {} --exact {NAME} --nocapture",
            hosts.path().display(),
            std::env::current_exe().unwrap().display()
        );
        let probe = std::process::Command::new("unshare")
            .args(["-rnm", "true"])
            .status();
        // A check that cannot run fails, saying why: it never passes having checked nothing.
        assert!(
            probe.is_ok_and(|s| s.success()),
            "unshare -rnm is not permitted here (util-linux's unshare, and user or root \
             namespaces, are needed): this test cannot check anything"
        );
        let status = std::process::Command::new("unshare")
            .args(["-rnm", "sh", "-c", &script])
            .env(INSIDE, "1")
            .status()
            .unwrap();
        assert!(status.success(), "the test inside the namespace failed");
        return;
    }
    // Inside: only loopback exists, so no packet can leave this namespace.
    let docs = DocServer::start_on("10.0.0.1", "docs.internal.test");
    let metadata = DocServer::start_on("169.254.169.254", "metadata.internal.test");
    let id = docs.serve("/app.json", "");
    let metadata_id = metadata.serve("/latest/meta-data", "");
    let cas = format!(
        "[\"{}\", \"{}\"]",
        docs.ca_file.path().display(),
        metadata.ca_file.path().display()
    );
    let ca_env = (
        "GATEHOUSE_CLIENT_METADATA_DOCUMENTS__EXTRA_CA_FILES",
        cas.as_str(),
    );

    let strict = Server::start_with(&[ca_env]);
    let mut browser = Browser::new(&strict);
    for id in [&id, &metadata_id] {
        let page = browser.authorize(&app(id).request());
        assert_error_page(&page, 400, "not one this server fetches from");
    }
    assert_eq!(docs.hits("/app.json"), 0);
    assert_eq!(metadata.hits("/latest/meta-data"), 0);

    let prefixes = format!("[\"{}/\", \"{}/\"]", docs.origin(), metadata.origin());
    let resources = docs.env(&[]).pop().unwrap();
    assert_eq!(resources.0, "GATEHOUSE_RESOURCES__REGISTERED");
    let open = Server::start_with(&[
        ca_env,
        (&resources.0, &resources.1),
        (
            "GATEHOUSE_CLIENT_METADATA_DOCUMENTS__ALLOWED_PREFIXES",
            prefixes.as_str(),
        ),
    ]);
    let mut browser = Browser::new(&open);
    let page = browser.authorize(&app(&id).request());
    assert!(page.is_sign_in(), "{} {}", page.status, page.body);
    assert_eq!(docs.hits("/app.json"), 1);
    let page = browser.authorize(&app(&metadata_id).request());
    assert_error_page(&page, 400, "not one this server fetches from");
    assert_eq!(
        metadata.hits("/latest/meta-data"),
        0,
        "link-local is never opened"
    );
}
