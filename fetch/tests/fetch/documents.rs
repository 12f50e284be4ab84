//! What client metadata documents need of the fetcher: JSON only, the caching headers and media
//! type returned with the body (CIMD §4.1, §4.4; security-matrix §5 items 9 and 12), the
//! operator's allowed prefixes (internal addresses for their URLs only), and extra CA roots.

use std::io::Write;
use std::time::Duration;

use gatehouse_fetch::{FetchError, FetchPolicy, Fetcher, load_pem_certificates};

use crate::support::{
    Connector, PUBLIC, Resolver, Server, dev, fetcher, ip, ok, self_signed_pem, send, strict, url,
};

const LONG: Duration = Duration::from_secs(30);

fn answer(headers: &str, body: &str) -> Vec<crate::support::Step> {
    vec![send(format!(
        "HTTP/1.1 200 OK\r\n{headers}content-length: {}\r\n\r\n{body}",
        body.len()
    ))]
}

#[tokio::test]
async fn json_comes_with_its_caching_headers() {
    let server = Server::plain(answer(
        "content-type: application/json; charset=utf-8\r\ncache-control: public, max-age=600\r\n",
        "{}",
    ))
    .await;
    let fetched = Fetcher::new(dev(LONG))
        .unwrap()
        .get_json(&server.url("/doc"))
        .await
        .unwrap();
    assert_eq!(fetched.body, b"{}");
    assert_eq!(fetched.content_type.as_deref(), Some("application/json"));
    assert_eq!(fetched.caching.max_age, Some(Duration::from_secs(600)));
    assert!(!fetched.caching.no_store);

    let server = Server::plain(answer(
        "content-type: application/json\r\ncache-control: no-store\r\n",
        "{}",
    ))
    .await;
    let fetched = Fetcher::new(dev(LONG))
        .unwrap()
        .get_json(&server.url("/doc"))
        .await
        .unwrap();
    assert!(fetched.caching.no_store);
    assert_eq!(fetched.caching.max_age, None);
}

/// Security-matrix §5 item 9: HTML, text or no type at all is not a document.
#[tokio::test]
async fn a_wrong_content_type_is_refused() {
    for headers in [
        "content-type: text/html\r\n",
        "content-type: text/plain\r\n",
        "content-type: application/jsonp\r\n",
        "",
    ] {
        let server = Server::plain(answer(headers, "{}")).await;
        let fetcher = Fetcher::new(dev(LONG)).unwrap();
        let err = fetcher.get_json(&server.url("/doc")).await.unwrap_err();
        assert!(
            matches!(err, FetchError::ContentType(_)),
            "{headers}: {err}"
        );
        // `get` (JWKS) does not ask for a type.
        let server = Server::plain(answer(headers, "{}")).await;
        assert_eq!(fetcher.get(&server.url("/doc")).await.unwrap(), b"{}");
    }
    let server = Server::plain(answer("content-type: application/jwk-set+json\r\n", "{}")).await;
    let fetcher = Fetcher::new(dev(LONG)).unwrap();
    assert!(fetcher.get_json(&server.url("/doc")).await.is_ok());
}

/// Redirects, non-200 and oversize answers fail `get_json` as they fail `get`.
#[tokio::test]
async fn get_json_keeps_every_answer_rule() {
    let redirect = Server::plain(vec![send(
        "HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:1/x\r\ncontent-type: application/json\r\ncontent-length: 0\r\n\r\n",
    )])
    .await;
    let fetcher = Fetcher::new(dev(LONG)).unwrap();
    let err = fetcher.get_json(&redirect.url("/doc")).await.unwrap_err();
    assert_eq!(err, FetchError::Status(302));
    let missing = Server::plain(vec![send(
        "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}",
    )])
    .await;
    let err = fetcher.get_json(&missing.url("/doc")).await.unwrap_err();
    assert_eq!(err, FetchError::Status(404));
    let big = Server::plain(answer(
        "content-type: application/json\r\n",
        &format!("\"{}\"", "x".repeat(2000)),
    ))
    .await;
    let err = fetcher.get_json(&big.url("/doc")).await.unwrap_err();
    assert_eq!(err, FetchError::TooLarge { max_bytes: 1024 });
}

fn allowing(prefixes: &[&str]) -> FetchPolicy {
    FetchPolicy {
        allowed_prefixes: prefixes.iter().map(|p| p.parse().unwrap()).collect(),
        ..strict()
    }
}

/// A name under an allowed prefix resolving to a private address is fetched; the same address
/// for a name that only looks like it (`internal.example.evil.com`) is refused, nothing
/// connected.
#[tokio::test]
async fn an_allowed_prefix_opens_internal_addresses_for_its_urls_only() {
    let (acceptor, client, _) = self_signed_pem(&["internal.example", "internal.example.evil.com"]);
    let server = Server::tls(ok("{}"), acceptor).await;
    let policy = allowing(&["https://internal.example/docs"]);
    for private in [
        "10.0.0.5",
        "192.168.1.10",
        "100.64.0.7",
        "fd12::5",
        "127.0.0.1",
    ] {
        let resolver = Resolver::always(&[private]);
        let connector = Connector::to(server.addr);
        let inside = fetcher(policy.clone(), &resolver, &connector).with_tls_config(client.clone());
        let doc = inside
            .get_json(&url("https://internal.example/docs/client.json"))
            .await
            .unwrap_or_else(|e| panic!("{private}: {e}"));
        assert_eq!(doc.body, b"{}");
        assert_eq!(connector.asked(), [(ip(private), 443).into()]);
        for outside in [
            "https://internal.example.evil.com/docs/client.json",
            "https://internal.example/docsx",
            "https://internal.example/other/client.json",
            "https://internal.example/docs/../admin",
            "https://internal.example:8443/docs/client.json",
        ] {
            let connector = Connector::to(server.addr);
            let f = fetcher(policy.clone(), &resolver, &connector).with_tls_config(client.clone());
            let err = f.get_json(&url(outside)).await.unwrap_err();
            assert!(
                matches!(err, FetchError::ForbiddenAddress { .. }),
                "{outside} at {private}: {err}"
            );
            assert!(connector.asked().is_empty(), "{outside}");
        }
    }
}

/// Even under an allowed prefix: never link-local or a metadata service.
#[tokio::test]
async fn an_allowed_prefix_never_opens_metadata_services() {
    let policy = allowing(&["https://internal.example/"]);
    for metadata in [
        "169.254.169.254",
        "fd00:ec2::254",
        "100.100.100.200",
        "fe80::1",
        "::ffff:169.254.169.254",
        "0.0.0.0",
    ] {
        let resolver = Resolver::always(&[metadata]);
        let connector = Connector::refusing();
        let fetcher = fetcher(policy.clone(), &resolver, &connector);
        let err = fetcher
            .get_json(&url("https://internal.example/doc"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, FetchError::ForbiddenAddress { .. }),
            "{metadata}: {err}"
        );
        assert!(connector.asked().is_empty(), "{metadata}");
    }
}

/// Rebinding under a prefix: the address connected is the one checked, each time.
#[tokio::test]
async fn an_allowed_prefix_is_rebinding_safe() {
    let (acceptor, client, _) = self_signed_pem(&["internal.example"]);
    let server = Server::tls(ok("{}"), acceptor).await;
    let resolver = Resolver::script(&[&["10.0.0.5"], &["169.254.169.254"]]);
    let connector = Connector::to(server.addr);
    let fetcher = fetcher(
        allowing(&["https://internal.example/"]),
        &resolver,
        &connector,
    )
    .with_tls_config(client);
    let doc = url("https://internal.example/doc");
    assert!(fetcher.get_json(&doc).await.is_ok());
    let err = fetcher.get_json(&doc).await.unwrap_err();
    assert!(matches!(err, FetchError::ForbiddenAddress { .. }), "{err}");
    assert_eq!(connector.asked(), [(ip("10.0.0.5"), 443).into()]);
}

/// An http prefix opens plain http to loopback for its port only; without it, loopback http is
/// refused under the strict policy.
#[tokio::test]
async fn an_http_loopback_prefix() {
    let server = Server::plain(answer("content-type: application/json\r\n", "{}")).await;
    let prefix = format!("http://127.0.0.1:{}/docs", server.addr.port());
    let fetcher = Fetcher::new(allowing(&[&prefix])).unwrap();
    assert!(fetcher.get_json(&server.url("/docs/a")).await.is_ok());
    let err = fetcher.get_json(&server.url("/other")).await.unwrap_err();
    assert!(err.is_refused(), "{err}");
    let err = Fetcher::new(strict())
        .unwrap()
        .get_json(&server.url("/docs/a"))
        .await
        .unwrap_err();
    assert!(err.is_refused(), "{err}");
    assert_eq!(server.connections(), 1);
}

/// Extra CA roots: a server with a certificate from an internal CA is trusted once its PEM is
/// added, and not before.
#[tokio::test]
async fn extra_ca_roots_from_a_pem_file() {
    let (acceptor, _, pem) = self_signed_pem(&["as.example"]);
    let server = Server::tls(ok("{}"), acceptor).await;
    let resolver = Resolver::always(&[PUBLIC]);
    let connector = Connector::to(server.addr);
    let doc = url("https://as.example/doc");
    let plain = fetcher(strict(), &resolver, &connector);
    let err = plain.get(&doc).await.unwrap_err();
    assert!(err.to_string().contains("TLS"), "{err}");

    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(format!("# an internal CA\n{pem}").as_bytes())
        .unwrap();
    let certs = load_pem_certificates(file.path()).unwrap();
    assert_eq!(certs.len(), 1);
    let trusting = fetcher(strict(), &resolver, &connector)
        .with_extra_roots(certs)
        .unwrap();
    assert_eq!(trusting.get(&doc).await.unwrap(), b"{}");

    let mut empty = tempfile::NamedTempFile::new().unwrap();
    empty.write_all(b"not a certificate").unwrap();
    let err = load_pem_certificates(empty.path()).unwrap_err();
    assert!(err.to_string().contains("no certificate"), "{err}");
    let err = load_pem_certificates(std::path::Path::new("/nonexistent/ca.pem")).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
}
