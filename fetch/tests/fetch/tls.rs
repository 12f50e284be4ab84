//! https end to end: a public-looking name, resolved to a public address by the test resolver,
//! connected by the test connector to a local TLS server on 127.0.0.1 with a self-signed
//! certificate. The whole public-address path runs; no packet leaves loopback.

use gatehouse_fetch::{FetchError, Fetcher};

use crate::support::{
    Connector, PUBLIC, Resolver, Server, fetcher, ip, ok, self_signed, strict, url,
};

#[tokio::test]
async fn https_to_a_public_address_end_to_end() {
    let (acceptor, client) = self_signed(&["as.example"]);
    let server = Server::tls(ok(r#"{"keys":[]}"#), acceptor).await;
    let resolver = Resolver::always(&[PUBLIC]);
    let connector = Connector::to(server.addr);
    let fetcher = fetcher(strict(), &resolver, &connector).with_tls_config(client);
    let body = fetcher
        .get(&url("https://as.example/.well-known/jwks.json?v=1"))
        .await
        .unwrap();
    assert_eq!(body, br#"{"keys":[]}"#);
    assert_eq!(resolver.calls(), ["as.example"]);
    assert_eq!(connector.asked(), [(ip(PUBLIC), 443).into()]);
    let head = &server.heads()[0];
    assert!(
        head.starts_with("get /.well-known/jwks.json?v=1 http/1.1\r\n"),
        "{head}"
    );
    assert!(head.contains("\r\nhost: as.example\r\n"), "{head}");
    assert!(head.contains("\r\nuser-agent: gatehouse\r\n"), "{head}");
}

/// The certificate must name the host.
#[tokio::test]
async fn a_certificate_for_another_name_is_refused() {
    let (acceptor, client) = self_signed(&["other.example"]);
    let server = Server::tls(ok("{}"), acceptor).await;
    let resolver = Resolver::always(&[PUBLIC]);
    let connector = Connector::to(server.addr);
    let err = fetcher(strict(), &resolver, &connector)
        .with_tls_config(client)
        .get(&url("https://as.example/jwks"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, FetchError::Failed(ref m) if m.contains("TLS")),
        "{err}"
    );
    assert!(server.heads().is_empty(), "no request was sent");
}

/// The default roots (webpki-roots) do not trust a self-signed certificate.
#[tokio::test]
async fn the_default_roots_do_not_trust_a_self_signed_certificate() {
    let (acceptor, _) = self_signed(&["as.example"]);
    let server = Server::tls(ok("{}"), acceptor).await;
    let resolver = Resolver::always(&[PUBLIC]);
    let connector = Connector::to(server.addr);
    let err = Fetcher::new(strict())
        .unwrap()
        .with_resolver(resolver.clone())
        .with_connector(connector.clone())
        .get(&url("https://as.example/jwks"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, FetchError::Failed(ref m) if m.contains("TLS")),
        "{err}"
    );
    assert!(server.heads().is_empty(), "no request was sent");
}

/// The same rules for a TLS peer reached through an address literal: the certificate must name
/// the address.
#[tokio::test]
async fn a_public_address_literal_over_https() {
    let (acceptor, client) = self_signed(&[PUBLIC]);
    let server = Server::tls(ok("{}"), acceptor).await;
    let resolver = Resolver::always(&[]);
    let connector = Connector::to(server.addr);
    let body = fetcher(strict(), &resolver, &connector)
        .with_tls_config(client)
        .get(&url(&format!("https://{PUBLIC}/jwks")))
        .await
        .unwrap();
    assert_eq!(body, b"{}");
    assert!(resolver.calls().is_empty());
}
