//! Issue 12: mutual TLS (RFC 8705). Certificates are made here with rcgen (a test CA, a leaf
//! per case); reqwest (rustls) is the TLS client, with a client identity. The main listener
//! stays plain HTTP (the harness probes it); the mTLS listener is a second port.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType, date_time_ymd,
};
use reqwest::blocking::Client;
use serde_json::Value;

use crate::harness::{Server, free_port};

/// A test CA.
struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate with its key, as PEM.
struct Leaf {
    cert_pem: String,
    key_pem: String,
    der: Vec<u8>,
}

impl Leaf {
    /// A reqwest identity: key and certificate in one PEM.
    fn identity(&self) -> reqwest::Identity {
        reqwest::Identity::from_pem(format!("{}{}", self.key_pem, self.cert_pem).as_bytes())
            .unwrap()
    }
}

fn params(cn: &str, sans: Vec<SanType>) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CountryName, "SE");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Example AB");
    params.distinguished_name.push(DnType::CommonName, cn);
    params.subject_alt_names = sans;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.not_before = date_time_ymd(2020, 1, 1);
    params.not_after = date_time_ymd(2090, 1, 1);
    params
}

impl Ca {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        Self {
            issuer: CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap(),
        }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    fn sign(&self, params: &CertificateParams) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }
}

fn self_signed(params: &CertificateParams) -> Leaf {
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    Leaf {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        der: cert.der().to_vec(),
    }
}

/// The server's own certificate: self-signed, for 127.0.0.1, with `cn` (so two differ).
fn server_leaf(cn: &str) -> Leaf {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.subject_alt_names = vec![SanType::IpAddress("127.0.0.1".parse().unwrap())];
    self_signed(&params)
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A server with an mTLS listener; its files in `dir`.
struct Mtls {
    server: Server,
    url: String,
    server_cert: Leaf,
    dir: tempfile::TempDir,
}

fn mtls_server(ca: &Ca, extra: &[(&str, &str)]) -> Mtls {
    let dir = tempfile::tempdir().unwrap();
    let server_cert = server_leaf("gatehouse test");
    let cert = write(dir.path(), "server.pem", &server_cert.cert_pem);
    let key = write(dir.path(), "server.key", &server_cert.key_pem);
    let cas = write(dir.path(), "client-ca.pem", &ca.pem());
    let addr = format!("127.0.0.1:{}", free_port());
    let (cert, key, cas) = (
        cert.display().to_string(),
        key.display().to_string(),
        cas.display().to_string(),
    );
    let mut env = vec![
        ("GATEHOUSE_TLS__CERTIFICATE_FILE", cert.as_str()),
        ("GATEHOUSE_TLS__KEY_FILE", key.as_str()),
        ("GATEHOUSE_TLS__LISTEN_TLS", "false"),
        ("GATEHOUSE_TLS__MTLS_LISTEN", addr.as_str()),
        ("GATEHOUSE_TLS__CLIENT_CA_FILE", cas.as_str()),
        ("GATEHOUSE_TLS__RELOAD_INTERVAL", "1"),
    ];
    env.extend_from_slice(extra);
    Mtls {
        server: Server::start_with(&env),
        url: format!("https://{addr}"),
        server_cert,
        dir,
    }
}

/// A TLS client trusting only `server` (no web roots), presenting `identity`.
fn tls_client(server: &Leaf, identity: Option<&Leaf>) -> Client {
    let mut builder = Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(server.cert_pem.as_bytes()).unwrap())
        .pool_max_idle_per_host(0);
    if let Some(leaf) = identity {
        builder = builder.identity(leaf.identity());
    }
    builder.build().unwrap()
}

/// A client-credentials token request by `client_id` (no secret): status and body.
fn token(client: &Client, url: &str, client_id: &str) -> (u16, Value) {
    let r = client
        .post(format!("{url}/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
        ])
        .send()
        .unwrap();
    (r.status().as_u16(), r.json().unwrap_or(Value::Null))
}

/// Registers a tls_client_auth client with the CLI; its id.
fn tls_client_auth(server: &Server, subject: &[&str]) -> String {
    let mut args = vec![
        "client",
        "create",
        "--name",
        "payments",
        "--resource",
        "https://rs.example/api",
        "--auth-method",
        "tls_client_auth",
    ];
    args.extend_from_slice(subject);
    let created = server.cli_json(&args);
    assert!(created.get("client_secret").is_none(), "{created}");
    assert_eq!(created["token_endpoint_auth_method"], "tls_client_auth");
    created["client_id"].as_str().unwrap().to_owned()
}

#[test]
fn tls_client_auth_end_to_end() {
    let ca = Ca::new("Test Client CA");
    let m = mtls_server(&ca, &[]);
    let by_dn = tls_client_auth(
        &m.server,
        &["--tls-subject-dn", "CN=payments,O=Example AB,C=SE"],
    );
    let by_san = tls_client_auth(&m.server, &["--tls-san-dns", "payments.svc.example"]);

    // Discovery: the methods, and the aliases at the mTLS listener; the issuer is unchanged.
    let doc = m.server.get_json(&format!(
        "{}/.well-known/oauth-authorization-server",
        m.server.base
    ));
    assert_eq!(doc["issuer"], m.server.base);
    assert_eq!(
        doc["mtls_endpoint_aliases"]["token_endpoint"],
        format!("{}/token", m.url)
    );
    assert_eq!(
        doc["mtls_endpoint_aliases"]["pushed_authorization_request_endpoint"],
        format!("{}/par", m.url)
    );
    for member in [
        "token_endpoint_auth_methods_supported",
        "revocation_endpoint_auth_methods_supported",
    ] {
        let methods = doc[member].as_array().unwrap();
        assert!(methods.contains(&"tls_client_auth".into()), "{member}");
        assert!(
            methods.contains(&"self_signed_tls_client_auth".into()),
            "{member}"
        );
    }

    // A good certificate: a token, for either registered subject type.
    let good = ca.sign(&params(
        "payments",
        vec![SanType::DnsName("payments.svc.example".try_into().unwrap())],
    ));
    let client = tls_client(&m.server_cert, Some(&good));
    let (status, body) = token(&client, &m.url, &by_dn);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    let (status, body) = token(&client, &m.url, &by_san);
    assert_eq!(status, 200, "{body}");
    // The same request on the plain listener has no certificate: invalid_client.
    let plain = reqwest::blocking::Client::new();
    let (status, body) = token(&plain, &m.server.base, &by_dn);
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );

    let refused = |leaf: Option<&Leaf>, id: &str, what: &str| {
        let client = tls_client(&m.server_cert, leaf);
        let (status, body) = token(&client, &m.url, id);
        assert_eq!(status, 401, "{what}: {body}");
        assert_eq!(body["error"], "invalid_client", "{what}");
    };
    // The wrong subject, from the right CA.
    let other = ca.sign(&params(
        "payment",
        vec![SanType::DnsName(
            "payments.svc.example.evil".try_into().unwrap(),
        )],
    ));
    refused(Some(&other), &by_dn, "wrong DN");
    refused(Some(&other), &by_san, "wrong SAN");
    // Expired (the right subject, the right CA).
    let mut expired = params(
        "payments",
        vec![SanType::DnsName("payments.svc.example".try_into().unwrap())],
    );
    expired.not_after = date_time_ymd(2021, 1, 1);
    refused(Some(&ca.sign(&expired)), &by_dn, "expired");
    refused(Some(&ca.sign(&expired)), &by_san, "expired");
    // Self-signed with the right subject: not registered, not from the CA.
    let forged = self_signed(&params(
        "payments",
        vec![SanType::DnsName("payments.svc.example".try_into().unwrap())],
    ));
    refused(Some(&forged), &by_dn, "self-signed");
    // From another CA with the right subject.
    let rogue = Ca::new("Rogue CA").sign(&params("payments", vec![]));
    refused(Some(&rogue), &by_dn, "another CA");
    // No certificate at all.
    refused(None, &by_dn, "no certificate");
    // The good certificate cannot be used as another client.
    let (secret_id, secret) = m.server.client(&[]);
    refused(Some(&good), &secret_id, "a secret client by certificate");
    // A secret client may still present a certificate (it is not a second method).
    let r = client
        .post(format!("{}/token", m.url))
        .basic_auth(&secret_id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    // A tls_client_auth client sending a secret as well uses two methods (OAuth 2.1 §2.4);
    // without its certificate, a secret it was never given is just wrong.
    let r = client
        .post(format!("{}/token", m.url))
        .basic_auth(&by_dn, Some("guess"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().unwrap()["error"], "invalid_request");
    let r = tls_client(&m.server_cert, None)
        .post(format!("{}/token", m.url))
        .basic_auth(&by_dn, Some("guess"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);

    // The client is shown with its subject.
    let shown = m.server.cli_json(&["client", "show", &by_dn]);
    assert_eq!(
        shown["tls_client_auth_subject_dn"],
        "CN=payments,O=Example AB,C=SE"
    );
    // Registration refuses two subjects, or none.
    for args in [
        vec!["--auth-method", "tls_client_auth"],
        vec![
            "--auth-method",
            "tls_client_auth",
            "--tls-san-uri",
            "https://x.example",
            "--tls-san-email",
            "a@x.example",
        ],
        vec!["--tls-san-dns", "x.example"],
        vec![
            "--auth-method",
            "tls_client_auth",
            "--tls-subject-dn",
            "nonsense",
        ],
    ] {
        let mut all = vec![
            "client",
            "create",
            "--name",
            "x",
            "--resource",
            "https://rs.example/api",
        ];
        all.extend(args.iter().copied());
        let out = m.server.cli(&all);
        assert!(!out.status.success(), "{args:?}");
    }
}

/// A client that connects and stalls mid-handshake is closed by the header timeout.
#[test]
fn a_stalled_handshake_is_dropped() {
    let ca = Ca::new("Test Client CA");
    let m = mtls_server(
        &ca,
        &[
            ("GATEHOUSE_HTTP__HEADER_TIMEOUT", "1"),
            ("GATEHOUSE_HTTP__IDLE_TIMEOUT", "30"),
        ],
    );
    let mut stream = TcpStream::connect(m.url.trim_start_matches("https://")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    // The first bytes of a TLS record holding a ClientHello, and nothing more.
    stream
        .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .unwrap();
    let mut buf = [0u8; 64];
    let closed = loop {
        match stream.read(&mut buf) {
            Ok(0) => break true,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break true,
            Err(_) => break false,
        }
    };
    assert!(closed, "the server kept a stalled handshake open");
    // The listener still serves.
    let good = ca.sign(&params("payments", vec![]));
    let r = tls_client(&m.server_cert, Some(&good))
        .get(format!("{}/health", m.url))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// Replacing the certificate files changes the certificate served; a broken replacement keeps
/// the last good one.
#[test]
fn the_server_certificate_is_reloaded() {
    let ca = Ca::new("Test Client CA");
    let m = mtls_server(&ca, &[]);
    let old = &m.server_cert;
    let health = |client: &Client| {
        client
            .get(format!("{}/health", m.url))
            .send()
            .is_ok_and(|r| r.status() == 200)
    };
    assert!(health(&tls_client(old, None)));
    let new = server_leaf("gatehouse renewed");
    assert!(!health(&tls_client(&new, None)), "not served yet");
    // Key first, then certificate: a check in between sees a mismatched pair and keeps the old.
    write(m.dir.path(), "server.key", &new.key_pem);
    write(m.dir.path(), "server.pem", &new.cert_pem);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !health(&tls_client(&new, None)) {
        assert!(
            Instant::now() < deadline,
            "the new certificate was never served"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        !health(&tls_client(old, None)),
        "the old certificate is still served"
    );

    // A broken file: an error is logged and the last good certificate stays.
    write(m.dir.path(), "server.pem", "not a certificate");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !m.server.stderr().contains("still serving the previous one") {
        assert!(
            Instant::now() < deadline,
            "no error logged: {}",
            m.server.stderr()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(health(&tls_client(&new, None)));
}

/// Behind a TLS-terminating proxy: the certificate in `Client-Cert` (RFC 9440) is believed from
/// a trusted proxy only.
#[test]
fn a_forwarded_certificate_is_believed_from_trusted_proxies_only() {
    let ca = Ca::new("Test Client CA");
    let dir = tempfile::tempdir().unwrap();
    let cas = write(dir.path(), "client-ca.pem", &ca.pem());
    let cas = cas.display().to_string();
    let good = ca.sign(&params("payments", vec![]));
    let header = format!(
        ":{}:",
        base64::engine::general_purpose::STANDARD.encode(&good.der)
    );
    let send = |server: &Server, id: &str, values: &[&str]| {
        let mut req = reqwest::blocking::Client::new()
            .post(format!("{}/token", server.base))
            .form(&[("grant_type", "client_credentials"), ("client_id", id)]);
        for v in values {
            req = req.header("Client-Cert", *v);
        }
        let r = req.send().unwrap();
        (r.status().as_u16(), r.json::<Value>().unwrap())
    };
    for (trusted, expect) in [("127.0.0.0/8", 200), ("192.0.2.1", 401)] {
        let server = Server::start_with(&[
            ("GATEHOUSE_TLS__PROXY_CERTIFICATE_HEADER", "Client-Cert"),
            (
                "GATEHOUSE_TLS__TRUSTED_PROXIES",
                &format!("[\"{trusted}\"]"),
            ),
            ("GATEHOUSE_TLS__CLIENT_CA_FILE", &cas),
        ]);
        let id = tls_client_auth(
            &server,
            &["--tls-subject-dn", "CN=payments,O=Example AB,C=SE"],
        );
        let (status, body) = send(&server, &id, &[&header]);
        assert_eq!(status, expect, "trusted {trusted}: {body}");
        if expect == 200 {
            // Malformed or repeated from the trusted proxy: refused as invalid_request.
            for values in [vec!["garbage"], vec![header.as_str(), header.as_str()]] {
                let (status, body) = send(&server, &id, &values);
                assert_eq!(
                    (status, body["error"].as_str()),
                    (400, Some("invalid_request"))
                );
            }
            // A self-signed certificate in the header: the chain is still checked here.
            let forged = self_signed(&params("payments", vec![]));
            let forged = format!(
                ":{}:",
                base64::engine::general_purpose::STANDARD.encode(&forged.der)
            );
            let (status, _) = send(&server, &id, &[&forged]);
            assert_eq!(status, 401);
        } else {
            assert_eq!(body["error"], "invalid_client");
            // Garbage from an untrusted peer is ignored, not an error.
            let (status, _) = send(&server, &id, &["garbage", "more"]);
            assert_eq!(status, 401);
        }
    }
}

/// A certificate issued by an intermediate CA, sent with the intermediate, chains to the root
/// in `client_ca_file`; the token it gets is introspected and revoked over the mTLS listener.
#[test]
fn an_intermediate_ca_and_the_other_endpoints() {
    let root = Ca::new("Test Root CA");
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, "Test Issuing CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let intermediate = Ca {
        issuer: CertifiedIssuer::signed_by(params, KeyPair::generate().unwrap(), &root.issuer)
            .unwrap(),
    };
    let m = mtls_server(&root, &[]);
    let id = tls_client_auth(
        &m.server,
        &["--tls-san-uri", "spiffe://example.com/payments"],
    );
    let leaf = intermediate.sign(&params_with_uri("spiffe://example.com/payments"));
    let with_chain = Leaf {
        cert_pem: format!("{}{}", leaf.cert_pem, intermediate.pem()),
        key_pem: leaf.key_pem.clone(),
        der: leaf.der.clone(),
    };
    // Without the intermediate the chain cannot be built.
    let (status, _) = token(&tls_client(&m.server_cert, Some(&leaf)), &m.url, &id);
    assert_eq!(status, 401);
    let client = tls_client(&m.server_cert, Some(&with_chain));
    let (status, body) = token(&client, &m.url, &id);
    assert_eq!(status, 200, "{body}");
    let access_token = body["access_token"].as_str().unwrap();
    // Revocation authenticates the same way (and a certificate-less call does not).
    let revoke = |client: &Client| {
        client
            .post(format!("{}/revoke", m.url))
            .form(&[("token", access_token), ("client_id", id.as_str())])
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(revoke(&tls_client(&m.server_cert, None)), 401);
    assert_eq!(revoke(&client), 200);
    assert!(!m.server.is_active(access_token));
}

fn params_with_uri(uri: &str) -> CertificateParams {
    params("payments", vec![SanType::URI(uri.try_into().unwrap())])
}

/// Dynamic registration (RFC 7591) of a tls_client_auth client, where the policy allows it.
#[test]
fn dynamic_registration_of_a_tls_client_auth_client() {
    let ca = Ca::new("Test Client CA");
    let m = mtls_server(
        &ca,
        &[
            (
                "GATEHOUSE_REGISTRATION__AUTH_METHODS",
                "[\"tls_client_auth\"]",
            ),
            (
                "GATEHOUSE_REGISTRATION__GRANT_TYPES",
                "[\"client_credentials\"]",
            ),
        ],
    );
    let register = |body: Value| {
        let r = reqwest::blocking::Client::new()
            .post(format!("{}/register", m.server.base))
            .json(&body)
            .send()
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().unwrap())
    };
    let (status, created) = register(serde_json::json!({
        "client_name": "sensor",
        "grant_types": ["client_credentials"],
        "token_endpoint_auth_method": "tls_client_auth",
        "tls_client_auth_san_dns": "sensor-7.devices.example",
    }));
    assert_eq!(status, 201, "{created}");
    assert!(created.get("client_secret").is_none(), "{created}");
    assert_eq!(
        created["tls_client_auth_san_dns"],
        "sensor-7.devices.example"
    );
    assert_eq!(created["token_endpoint_auth_method"], "tls_client_auth");
    let id = created["client_id"].as_str().unwrap();
    let leaf = ca.sign(&params(
        "sensor",
        vec![SanType::DnsName(
            "sensor-7.devices.example".try_into().unwrap(),
        )],
    ));
    // A self-registered client names a registered resource.
    m.server
        .cli_json(&["resource", "create", "--uri", "https://sensors.example/api"]);
    let r = tls_client(&m.server_cert, Some(&leaf))
        .post(format!("{}/token", m.url))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("resource", "https://sensors.example/api"),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().unwrap());
    // Without its certificate: invalid_client.
    let (status, body) = token(&tls_client(&m.server_cert, None), &m.url, id);
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    // Two subjects, none, or a subject with another method: invalid_client_metadata.
    for body in [
        serde_json::json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "tls_client_auth"}),
        serde_json::json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "tls_client_auth",
            "tls_client_auth_san_dns": "a.example", "tls_client_auth_san_ip": "10.0.0.1"}),
        serde_json::json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "tls_client_auth",
            "tls_client_auth_san_ip": "not an ip"}),
        serde_json::json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "tls_client_auth",
            "tls_client_auth_subject_dn": "x".repeat(5000)}),
        serde_json::json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_basic",
            "tls_client_auth_san_dns": "a.example"}),
    ] {
        let (status, answer) = register(body.clone());
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["error"], "invalid_client_metadata", "{body}");
    }
    // Where the policy does not allow it, refused.
    let plain = Server::start();
    let r = reqwest::blocking::Client::new()
        .post(format!("{}/register", plain.base))
        .json(&serde_json::json!({
            "redirect_uris": ["https://app.example/cb"],
            "token_endpoint_auth_method": "tls_client_auth",
            "tls_client_auth_san_dns": "a.example",
        }))
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
}

/// TLS on the main listener, asking for client certificates there: the default issuer is
/// https, and a tls_client_auth client gets its token on the main port.
#[test]
fn tls_and_client_certificates_on_the_main_listener() {
    let ca = Ca::new("Test Client CA");
    let dir = tempfile::tempdir().unwrap();
    let server_cert = server_leaf("gatehouse main");
    let cert = write(dir.path(), "server.pem", &server_cert.cert_pem);
    let key = write(dir.path(), "server.key", &server_cert.key_pem);
    let cas = write(dir.path(), "client-ca.pem", &ca.pem());
    let (cert, key, cas) = (
        cert.display().to_string(),
        key.display().to_string(),
        cas.display().to_string(),
    );
    let server = Server::start_with(&[
        ("GATEHOUSE_TLS__CERTIFICATE_FILE", &cert),
        ("GATEHOUSE_TLS__KEY_FILE", &key),
        ("GATEHOUSE_TLS__REQUEST_CLIENT_CERTIFICATES", "true"),
        ("GATEHOUSE_TLS__CLIENT_CA_FILE", &cas),
    ]);
    assert!(
        server.base.starts_with("https://127.0.0.1:"),
        "{}",
        server.base
    );
    let doc = tls_client(&server_cert, None)
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            server.base
        ))
        .send()
        .unwrap()
        .json::<Value>()
        .unwrap();
    assert_eq!(doc["issuer"], server.base);
    assert_eq!(doc["token_endpoint"], format!("{}/token", server.base));
    assert!(
        doc.get("mtls_endpoint_aliases").is_none(),
        "no separate listener"
    );
    let methods = doc["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap();
    assert!(methods.contains(&"tls_client_auth".into()));
    let id = tls_client_auth(&server, &["--tls-san-email", "payments@example.com"]);
    let leaf = ca.sign(&params(
        "payments",
        vec![SanType::Rfc822Name(
            "payments@example.com".try_into().unwrap(),
        )],
    ));
    let (status, body) = token(&tls_client(&server_cert, Some(&leaf)), &server.base, &id);
    assert_eq!(status, 200, "{body}");
    // A browser-like client without a certificate is still served (requested, not required).
    let (status, body) = token(&tls_client(&server_cert, None), &server.base, &id);
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    // Plain HTTP on the TLS port is not served.
    let plain = reqwest::blocking::Client::new()
        .get(format!(
            "{}/health",
            server.base.replace("https://", "http://")
        ))
        .send();
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
}

/// The `x5t#S256` of a DER certificate, computed here: base64url (no padding) of its SHA-256
/// (RFC 8705 §3.1).
fn x5t_s256(der: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(ring::digest::digest(&ring::digest::SHA256, der).as_ref())
}

/// `GET /userinfo` at `url` with `Authorization: Bearer <token>`: status and `WWW-Authenticate`.
fn userinfo(client: &Client, url: &str, token: &str) -> (u16, String) {
    let r = client
        .get(format!("{url}/userinfo"))
        .bearer_auth(token)
        .send()
        .unwrap();
    let challenge = r
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (r.status().as_u16(), challenge)
}

/// Certificate-bound access tokens (RFC 8705 §3) for a client registered with
/// `tls_client_certificate_bound_access_tokens` (§3.4): the token carries the certificate's
/// thumbprint, introspection shows it, and the token is only good over a connection with that
/// certificate.
#[test]
fn certificate_bound_access_tokens() {
    let ca = Ca::new("Test Client CA");
    let m = mtls_server(&ca, &[]);
    let id = tls_client_auth(
        &m.server,
        &[
            "--tls-subject-dn",
            "CN=payments,O=Example AB,C=SE",
            "--certificate-bound",
        ],
    );
    let shown = m.server.cli_json(&["client", "show", &id]);
    assert_eq!(shown["tls_client_certificate_bound_access_tokens"], true);
    let good = ca.sign(&params("payments", vec![]));
    let client = tls_client(&m.server_cert, Some(&good));
    let (status, body) = token(&client, &m.url, &id);
    assert_eq!(status, 200, "{body}");
    // RFC 8705 §3: the token type stays Bearer; the binding is in the token.
    assert_eq!(body["token_type"], "Bearer");
    let access_token = body["access_token"].as_str().unwrap().to_owned();
    let (_, claims) = crate::harness::jwt_parts(&access_token);
    assert_eq!(claims["cnf"]["x5t#S256"], x5t_s256(&good.der), "{claims}");
    assert!(claims["cnf"].get("jkt").is_none(), "{claims}");
    // RFC 8705 §3.2: introspection returns the same confirmation.
    let answer = m.server.introspect(m.server.introspector(), &access_token);
    assert_eq!(answer["active"], true);
    assert_eq!(answer["cnf"], claims["cnf"], "{answer}");
    // A second certificate of the same subject: a token bound to that one.
    let renewed = ca.sign(&params("payments", vec![]));
    let (status, body) = token(&tls_client(&m.server_cert, Some(&renewed)), &m.url, &id);
    assert_eq!(status, 200, "{body}");
    let (_, renewed_claims) = crate::harness::jwt_parts(body["access_token"].as_str().unwrap());
    assert_eq!(renewed_claims["cnf"]["x5t#S256"], x5t_s256(&renewed.der));

    // Without a certificate the tls_client_auth client cannot authenticate at all; a client that
    // authenticates by secret but registered certificate-bound tokens is refused the token
    // (invalid_request), on the plain listener and on the mTLS one without an identity.
    let (status, body) = token(&tls_client(&m.server_cert, None), &m.url, &id);
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (secret_id, secret) = m.server.client(&["--certificate-bound"]);
    for (what, client, url) in [
        (
            "plain listener",
            reqwest::blocking::Client::new(),
            &m.server.base,
        ),
        ("no identity", tls_client(&m.server_cert, None), &m.url),
    ] {
        let r = client
            .post(format!("{url}/token"))
            .basic_auth(&secret_id, Some(&secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .unwrap();
        assert_eq!(r.status(), 400, "{what}");
        let body: Value = r.json().unwrap();
        assert_eq!(body["error"], "invalid_request", "{what}: {body}");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("certificate-bound"),
            "{what}: {body}"
        );
    }
    // With a certificate (any: the secret authenticates, the certificate only binds), bound.
    let own = self_signed(&params("some service", vec![]));
    let r = tls_client(&m.server_cert, Some(&own))
        .post(format!("{}/token", m.url))
        .basic_auth(&secret_id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, claims) =
        crate::harness::jwt_parts(r.json::<Value>().unwrap()["access_token"].as_str().unwrap());
    assert_eq!(claims["cnf"]["x5t#S256"], x5t_s256(&own.der));

    // At /userinfo (RFC 8705 §3.2 as a protected resource): the binding is checked before the
    // scope, so a token bound to the connection's certificate passes it and meets the openid
    // check (403 insufficient_scope: a client-credentials token has no openid), while one
    // presented with another certificate, or none, is an invalid token (401).
    let (status, challenge) = userinfo(&client, &m.url, &access_token);
    assert_eq!(status, 403, "{challenge}");
    assert!(challenge.contains("insufficient_scope"), "{challenge}");
    let other = ca.sign(&params("payments", vec![]));
    for (what, client, url) in [
        (
            "another certificate",
            tls_client(&m.server_cert, Some(&other)),
            &m.url,
        ),
        (
            "the renewed certificate",
            tls_client(&m.server_cert, Some(&renewed)),
            &m.url,
        ),
        ("no identity", tls_client(&m.server_cert, None), &m.url),
        (
            "plain listener",
            reqwest::blocking::Client::new(),
            &m.server.base,
        ),
    ] {
        let (status, challenge) = userinfo(&client, url, &access_token);
        assert_eq!(status, 401, "{what}: {challenge}");
        assert!(challenge.contains("invalid_token"), "{what}: {challenge}");
    }
    // An unbound token of a secret client passes the same checks without a certificate: the
    // 401s above are the binding's.
    let (plain_id, plain_secret) = m.server.client(&[]);
    let unbound = m.server.token((&plain_id, &plain_secret), &[]);
    let (status, _) = userinfo(&reqwest::blocking::Client::new(), &m.server.base, &unbound);
    assert_eq!(status, 403);

    // A tls_client_auth client that did not register certificate-bound tokens gets bearer ones.
    let unbound_tls = tls_client_auth(
        &m.server,
        &["--tls-subject-dn", "CN=payments,O=Example AB,C=SE"],
    );
    let (status, body) = token(&client, &m.url, &unbound_tls);
    assert_eq!(status, 200, "{body}");
    let (_, claims) = crate::harness::jwt_parts(body["access_token"].as_str().unwrap());
    assert!(claims.get("cnf").is_none(), "{claims}");
    // Opaque tokens: the binding is kept in the token's record, shown by introspection and
    // checked at /userinfo.
    let (opaque_id, opaque_secret) =
        m.server
            .client(&["--certificate-bound", "--token-format", "opaque"]);
    let r = client
        .post(format!("{}/token", m.url))
        .basic_auth(&opaque_id, Some(&opaque_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let opaque = r.json::<Value>().unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(opaque.split('.').count(), 1, "{opaque}");
    let introspected = m.server.introspect(m.server.introspector(), &opaque);
    assert_eq!(
        introspected["cnf"]["x5t#S256"],
        x5t_s256(&good.der),
        "{introspected}"
    );
    assert_eq!(userinfo(&client, &m.url, &opaque).0, 403);
    assert_eq!(
        userinfo(&tls_client(&m.server_cert, Some(&other)), &m.url, &opaque).0,
        401
    );

    // The validator crate, as a resource server would use it, with the introspected `cnf`.
    let cnf: gatehouse_token::Confirmation = serde_json::from_value(answer["cnf"].clone()).unwrap();
    let check = |certificate: Option<&[u8]>| {
        let presented = gatehouse_validator::dpop::presentation::Presentation {
            scheme: gatehouse_validator::dpop::presentation::Scheme::Bearer,
            token: &access_token,
            proof: None,
            method: "GET",
            url: "https://rs.example/api",
            now: gatehouse_token::UnixTime(answer["iat"].as_u64().unwrap()),
            certificate,
        };
        gatehouse_validator::dpop::presentation::check(
            &Default::default(),
            &Default::default(),
            &presented,
            Some(&cnf),
        )
    };
    assert!(check(Some(&good.der)).is_ok());
    assert!(matches!(
        check(Some(&other.der)),
        Err(gatehouse_validator::dpop::presentation::PresentationError::Certificate)
    ));
    assert!(matches!(
        check(None),
        Err(gatehouse_validator::dpop::presentation::PresentationError::Certificate)
    ));
}

/// A resource that requires sender-constrained tokens gets certificate-bound ones for a client
/// authenticating by secret over mutual TLS (RFC 8705 §3), and none without a certificate.
#[test]
fn a_strict_resource_gets_certificate_bound_tokens() {
    let ca = Ca::new("Test Client CA");
    let m = mtls_server(&ca, &[]);
    m.server.cli_json(&[
        "resource",
        "create",
        "--uri",
        "https://bank.example",
        "--scope",
        "read",
        "--require-sender-constrained",
    ]);
    let (id, secret) = m
        .server
        .client(&["--resource", "https://bank.example", "--scope", "read"]);
    let request = |client: &Client, url: &str| {
        let r = client
            .post(format!("{url}/token"))
            .basic_auth(&id, Some(&secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().unwrap())
    };
    let leaf = ca.sign(&params("bank client", vec![]));
    let (status, body) = request(&tls_client(&m.server_cert, Some(&leaf)), &m.url);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    let access_token = body["access_token"].as_str().unwrap();
    let (_, claims) = crate::harness::jwt_parts(access_token);
    assert_eq!(claims["aud"], "https://bank.example", "{claims}");
    assert_eq!(claims["cnf"]["x5t#S256"], x5t_s256(&leaf.der), "{claims}");
    let answer = m.server.introspect(m.server.introspector(), access_token);
    assert_eq!(answer["cnf"]["x5t#S256"], x5t_s256(&leaf.der), "{answer}");
    // Without a certificate (and without DPoP): no bearer token for this resource.
    for (what, client, url) in [
        (
            "plain listener",
            reqwest::blocking::Client::new(),
            &m.server.base,
        ),
        ("no identity", tls_client(&m.server_cert, None), &m.url),
    ] {
        let (status, body) = request(&client, url);
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_request")),
            "{what}: {body}"
        );
    }
}

/// The public half of a P-256 key as a JWK (RFC 7518 §6.2), with `x5c` if given.
fn ec_jwk(key_pem: &str, x5c: Option<Value>) -> Value {
    let key = KeyPair::from_pem(key_pem).unwrap();
    let point = key.public_key_raw();
    assert_eq!(
        (point.len(), point[0]),
        (65, 4),
        "an uncompressed P-256 point"
    );
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut jwk = serde_json::json!({
        "kty": "EC",
        "crv": "P-256",
        "x": b64.encode(&point[1..33]),
        "y": b64.encode(&point[33..]),
    });
    if let Some(x5c) = x5c {
        jwk["x5c"] = x5c;
    }
    jwk
}

/// `self_signed_tls_client_auth` (RFC 8705 §2.2): the client registers its self-signed
/// certificate in its JWK set's `x5c` (RFC 7517 §4.7) and authenticates by presenting it.
#[test]
fn self_signed_tls_client_auth_end_to_end() {
    let ca = Ca::new("Test Client CA");
    let m = mtls_server(&ca, &[]);
    let own = self_signed(&params("sensor", vec![]));
    let b64 = base64::engine::general_purpose::STANDARD;
    let register = |jwks: Value| {
        let path = m.dir.path().join("client-jwks.json");
        std::fs::write(&path, jwks.to_string()).unwrap();
        m.server.cli(&[
            "client",
            "create",
            "--name",
            "sensor",
            "--resource",
            "https://rs.example/api",
            "--auth-method",
            "self_signed_tls_client_auth",
            "--jwks-file",
            path.to_str().unwrap(),
            "--json",
        ])
    };
    let out = register(serde_json::json!({
        "keys": [ec_jwk(&own.key_pem, Some(serde_json::json!([b64.encode(&own.der)])))]
    }));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(created.get("client_secret").is_none(), "{created}");
    assert_eq!(
        created["token_endpoint_auth_method"],
        "self_signed_tls_client_auth"
    );
    let id = created["client_id"].as_str().unwrap();

    // Its certificate: a token (over the mTLS listener, which asks for any certificate).
    let (status, body) = token(&tls_client(&m.server_cert, Some(&own)), &m.url, id);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    // Another self-signed certificate, even with the same subject; a CA-issued one; none; and
    // the plain listener: invalid_client.
    let refused = |leaf: Option<&Leaf>, url: &str, what: &str| {
        let client = if url == m.url {
            tls_client(&m.server_cert, leaf)
        } else {
            reqwest::blocking::Client::new()
        };
        let (status, body) = token(&client, url, id);
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client")),
            "{what}: {body}"
        );
    };
    let impostor = self_signed(&params("sensor", vec![]));
    refused(Some(&impostor), &m.url, "another self-signed certificate");
    refused(
        Some(&ca.sign(&params("sensor", vec![]))),
        &m.url,
        "a CA-issued certificate",
    );
    refused(None, &m.url, "no certificate");
    refused(None, &m.server.base, "plain listener");

    // Registration refuses a JWK set without x5c, and x5c that is not base64, saying why.
    let failed = |jwks: Value, what: &str, expect: &str| {
        let out = register(jwks);
        assert!(!out.status.success(), "{what}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expect), "{what}: {stderr}");
    };
    failed(
        serde_json::json!({"keys": [ec_jwk(&own.key_pem, None)]}),
        "no x5c",
        "x5c",
    );
    let url_safe = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&own.der);
    for (what, x5c) in [
        ("not base64", serde_json::json!(["not base64!"])),
        ("base64url", serde_json::json!([url_safe])),
        ("not strings", serde_json::json!([1])),
        ("empty", serde_json::json!([])),
        (
            "base64, not a certificate",
            serde_json::json!([b64.encode(b"hello")]),
        ),
        // RFC 7517 §4.7: the first certificate holds the JWK's own key.
        (
            "another key's certificate",
            serde_json::json!([b64.encode(&impostor.der)]),
        ),
    ] {
        failed(
            serde_json::json!({"keys": [ec_jwk(&own.key_pem, Some(x5c))]}),
            what,
            "x5c",
        );
    }
    // None of the refused registrations created a client.
    let clients = m.server.cli_json(&["client", "list"]);
    let sensors = clients
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] == "sensor")
        .count();
    assert_eq!(sensors, 1, "{clients}");
}

/// Behind a TLS-terminating proxy the certificate a token is bound to arrives in the proxy's
/// header, at the token endpoint and at /userinfo alike (RFC 8705 §3, RFC 9440).
#[test]
fn a_forwarded_certificate_binds_and_is_checked_at_userinfo() {
    let ca = Ca::new("Test Client CA");
    let dir = tempfile::tempdir().unwrap();
    let cas = write(dir.path(), "client-ca.pem", &ca.pem());
    let server = Server::start_with(&[
        ("GATEHOUSE_TLS__PROXY_CERTIFICATE_HEADER", "Client-Cert"),
        ("GATEHOUSE_TLS__TRUSTED_PROXIES", "[\"127.0.0.0/8\"]"),
        ("GATEHOUSE_TLS__CLIENT_CA_FILE", &cas.display().to_string()),
    ]);
    let header = |leaf: &Leaf| {
        format!(
            ":{}:",
            base64::engine::general_purpose::STANDARD.encode(&leaf.der)
        )
    };
    let (id, secret) = server.client(&["--certificate-bound"]);
    let leaf = self_signed(&params("service", vec![]));
    let r = reqwest::blocking::Client::new()
        .post(format!("{}/token", server.base))
        .basic_auth(&id, Some(&secret))
        .header("Client-Cert", header(&leaf))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let access_token = r.json::<Value>().unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, claims) = crate::harness::jwt_parts(&access_token);
    assert_eq!(claims["cnf"]["x5t#S256"], x5t_s256(&leaf.der), "{claims}");
    let at_userinfo = |certificate: Option<&Leaf>| {
        let mut req = reqwest::blocking::Client::new()
            .get(format!("{}/userinfo", server.base))
            .bearer_auth(&access_token);
        if let Some(leaf) = certificate {
            req = req.header("Client-Cert", header(leaf));
        }
        req.send().unwrap().status().as_u16()
    };
    // The binding passes (then the openid check refuses a client-credentials token: 403).
    assert_eq!(at_userinfo(Some(&leaf)), 403);
    let other = self_signed(&params("service", vec![]));
    assert_eq!(at_userinfo(Some(&other)), 401);
    assert_eq!(at_userinfo(None), 401);
    // A malformed header from the trusted proxy: invalid_request, as at the token endpoint.
    let r = reqwest::blocking::Client::new()
        .get(format!("{}/userinfo", server.base))
        .bearer_auth(&access_token)
        .header("Client-Cert", "garbage")
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_request")
    );
}

/// A client calling the `mtls_endpoint_aliases` (RFC 8705 §5) proves its DPoP key for the URL
/// it called there (RFC 9449 §4.3 item 9), at the token endpoint and at PAR; a proof for
/// another endpoint is still refused.
#[test]
fn dpop_proofs_name_the_alias_the_client_called() {
    let ca = Ca::new("Example Client CA");
    let m = mtls_server(&ca, &[]);
    let id = tls_client_auth(
        &m.server,
        &["--tls-subject-dn", "CN=payments,O=Example AB,C=SE"],
    );
    let leaf = ca.sign(&params("payments", vec![]));
    let client = tls_client(&m.server_cert, Some(&leaf));
    let key = crate::dpop::DpopKey::new();
    let request = |path: &str, proof: String, form: &[(&str, &str)]| {
        let r = client
            .post(format!("{}{path}", m.url))
            .header("DPoP", proof)
            .form(form)
            .send()
            .unwrap();
        (
            r.status().as_u16(),
            r.json::<Value>().unwrap_or(Value::Null),
        )
    };
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", id.as_str()),
    ];
    let (status, body) = request(
        "/token",
        key.proof("POST", &format!("{}/token", m.url)),
        &form,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "DPoP", "{body}");
    // The issuer's URL of the endpoint is as good (the same endpoint of the same server).
    let issuer_url = format!("{}/token", m.server.base);
    let (status, body) = request("/token", key.proof("POST", &issuer_url), &form);
    assert_eq!(status, 200, "{body}");
    // Another endpoint's URL is not.
    let (status, body) = request(
        "/token",
        key.proof("POST", &format!("{}/par", m.url)),
        &form,
    );
    assert_eq!(
        (status, &body["error"]),
        (400, &serde_json::json!("invalid_dpop_proof")),
        "{body}"
    );
}
