//! URL rules before any I/O (security-matrix §5 items 1 and 2): the resolver is never called
//! and the connector never asked.

use std::time::Duration;

use gatehouse_fetch::FetchError;

use crate::support::{Connector, PUBLIC, Resolver, Server, dev, fetcher, ok, strict, url};

#[tokio::test]
async fn other_schemes_are_refused_before_resolving() {
    for target in [
        "http://as.example/doc",
        "file:///etc/passwd",
        "file://as.example/etc/passwd",
        "gopher://as.example/",
        "ftp://as.example/doc",
        "data:application/json,{}",
        "ws://as.example/",
        "wss://as.example/",
        "ldap://as.example/",
    ] {
        for policy in [strict(), dev(Duration::from_secs(5))] {
            let resolver = Resolver::always(&[PUBLIC]);
            let connector = Connector::refusing();
            let err = fetcher(policy, &resolver, &connector)
                .get(&url(target))
                .await
                .unwrap_err();
            assert!(matches!(err, FetchError::Refused { .. }), "{target}: {err}");
            assert!(resolver.calls().is_empty(), "{target} was resolved");
            assert!(connector.asked().is_empty(), "{target} was connected");
        }
    }
}

#[tokio::test]
async fn credentials_and_fragments_are_refused_before_resolving() {
    for target in [
        "https://user:pw@as.example/doc",
        "https://user@as.example/doc",
        "https://as.example/doc#part",
    ] {
        let resolver = Resolver::always(&[PUBLIC]);
        let connector = Connector::refusing();
        let err = fetcher(strict(), &resolver, &connector)
            .get(&url(target))
            .await
            .unwrap_err();
        assert!(matches!(err, FetchError::Refused { .. }), "{target}: {err}");
        assert!(resolver.calls().is_empty(), "{target} was resolved");
    }
}

/// Plain http is refused unless the exception is on, and then only to loopback: a `localhost`
/// that resolves elsewhere is not connected.
#[tokio::test]
async fn plain_http_only_to_loopback_under_the_exception() {
    let server = Server::plain(ok("{}")).await;
    let port = server.addr.port();
    let localhost = url(&format!("http://localhost:{port}/doc"));

    let resolver = Resolver::always(&["127.0.0.1"]);
    let connector = Connector::refusing();
    let err = fetcher(strict(), &resolver, &connector)
        .get(&localhost)
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Refused { .. }), "{err}");
    assert!(resolver.calls().is_empty());

    let connector = Connector::to(server.addr);
    let body = fetcher(dev(Duration::from_secs(5)), &resolver, &connector)
        .get(&localhost)
        .await
        .unwrap();
    assert_eq!(body, b"{}");
    assert_eq!(connector.asked(), [server.addr]);

    let elsewhere = Resolver::always(&[PUBLIC]);
    let connector = Connector::refusing();
    let err = fetcher(dev(Duration::from_secs(5)), &elsewhere, &connector)
        .get(&localhost)
        .await
        .unwrap_err();
    assert!(
        matches!(err, FetchError::ForbiddenAddress { ref reason, .. } if reason.contains("plain http")),
        "{err}"
    );
    assert!(connector.asked().is_empty());
}
