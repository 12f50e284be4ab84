//! The server identity's reload and the chain check, with certificates made by rcgen.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    date_time_ymd,
};

use super::*;

fn self_signed() -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    (cert.pem(), key.serialize_pem())
}

#[test]
fn identity_files_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed();
    let (_, other_key) = self_signed();
    let (c, k) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    fs::write(&c, &cert).unwrap();
    fs::write(&k, &key).unwrap();
    assert!(ServerIdentity::load(&c, &k).is_ok());
    fs::write(&k, &other_key).unwrap();
    let err = ServerIdentity::load(&c, &k).unwrap_err();
    assert_eq!(err.field, "tls.key_file", "{err}");
    fs::write(&c, "garbage").unwrap();
    assert_eq!(
        ServerIdentity::load(&c, &k).unwrap_err().field,
        "tls.certificate_file"
    );
    assert!(ServerIdentity::load(&dir.path().join("missing"), &k).is_err());
}

#[test]
fn chains_to_the_configured_ca_within_validity() {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ca.pem");
    fs::write(&path, ca.pem()).unwrap();
    let check = ChainCheck::load(&path).unwrap();
    let leaf = |client_auth: bool| {
        let mut params = CertificateParams::new(vec!["client".into()]).unwrap();
        params.extended_key_usages = vec![if client_auth {
            ExtendedKeyUsagePurpose::ClientAuth
        } else {
            ExtendedKeyUsagePurpose::ServerAuth
        }];
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(2030, 1, 1);
        let der = params
            .signed_by(&KeyPair::generate().unwrap(), &ca)
            .unwrap()
            .der()
            .to_vec();
        ClientCertificate::new(der, vec![])
    };
    let now = 1_700_000_000;
    assert!(check.trusted(&leaf(true), now));
    assert!(!check.trusted(&leaf(true), 1_900_000_000), "expired");
    assert!(!check.trusted(&leaf(true), 1_500_000_000), "not yet valid");
    assert!(
        !check.trusted(&leaf(false), now),
        "a server certificate (RFC 5280 §4.2.1.12)"
    );
    let key = KeyPair::generate().unwrap();
    let alone = CertificateParams::new(vec!["client".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    assert!(!check.trusted(&ClientCertificate::new(alone.der().to_vec(), vec![]), now));
    assert!(!check.trusted(&ClientCertificate::new(b"garbage".to_vec(), vec![]), now));
    fs::write(&path, "").unwrap();
    assert!(ChainCheck::load(&path).is_err());
}

/// In process, over a real socket: a listener that asks for client certificates hands the
/// handshake's certificate to handlers, and serves a client without one as well.
#[tokio::test]
async fn handlers_see_the_handshake_certificate() {
    use axum::Router;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed();
    let (c, k) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    fs::write(&c, &cert).unwrap();
    fs::write(&k, &key).unwrap();
    let identity = ServerIdentity::load(&c, &k).unwrap();
    let router = Router::new().route(
        "/who",
        get(|| async {
            crate::runtime::connections::client_certificate().map_or_else(
                || "none".to_owned(),
                |c| gatehouse_core::client::auth::tls::thumbprint_s256(&c),
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    // `serve` is not `Send` (its shutdown watch): driven beside the client, not spawned.
    let server = crate::runtime::connections::serve(
        "test",
        listener,
        router,
        crate::config::HttpLimits::default(),
        shutdown,
        Some(acceptor(identity, true).unwrap()),
    );
    let clients = async move {
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(cert.as_bytes()).unwrap())
            .unwrap();
        let client_key = KeyPair::generate().unwrap();
        let client_cert = CertificateParams::new(vec!["client".into()])
            .unwrap()
            .self_signed(&client_key)
            .unwrap();
        let expected = gatehouse_core::client::auth::tls::thumbprint_s256(&ClientCertificate::new(
            client_cert.der().to_vec(),
            vec![],
        ));
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let with_cert = builder
            .clone()
            .with_client_auth_cert(
                vec![client_cert.der().clone()],
                PrivateKeyDer::from_pem_slice(client_key.serialize_pem().as_bytes()).unwrap(),
            )
            .unwrap();
        let without = builder.with_no_client_auth();
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(cert.as_bytes()).unwrap())
            .unwrap();
        let tls12 = rustls::ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS12])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        for (config, want, version) in [
            (
                with_cert,
                expected.as_str(),
                rustls::ProtocolVersion::TLSv1_3,
            ),
            (without, "none", rustls::ProtocolVersion::TLSv1_3),
            (tls12, "none", rustls::ProtocolVersion::TLSv1_2),
        ] {
            let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
            let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
            let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
            let mut tls = connector.connect(name, tcp).await.unwrap();
            assert_eq!(tls.get_ref().1.protocol_version(), Some(version));
            tls.write_all(b"GET /who HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .await
                .unwrap();
            let mut answer = String::new();
            tls.read_to_string(&mut answer).await.unwrap_or_default();
            assert!(answer.ends_with(want), "{answer}");
        }
        stop.send(true).unwrap();
    };
    tokio::join!(server, clients);
}
