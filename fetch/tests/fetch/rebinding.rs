//! DNS rebinding (security-matrix §5 item 4): the rule is applied to the address the connector
//! is asked for, at that moment, never to an earlier resolution.

use std::sync::Arc;

use gatehouse_fetch::{FetchError, Fetcher};

use crate::support::{
    Connector, PUBLIC, Resolver, Server, fetcher, ip, ok, self_signed, strict, url,
};

async fn public_tls_server() -> (
    Server,
    Arc<Connector>,
    gatehouse_fetch::rustls::ClientConfig,
) {
    let (acceptor, client) = self_signed(&["as.example"]);
    let server = Server::tls(ok(r#"{"keys":[]}"#), acceptor).await;
    let connector = Connector::to(server.addr);
    (server, connector, client)
}

fn tls_fetcher(
    resolver: &Arc<Resolver>,
    connector: &Arc<Connector>,
    tls: gatehouse_fetch::rustls::ClientConfig,
) -> Fetcher {
    fetcher(strict(), resolver, connector).with_tls_config(tls)
}

/// A name that resolves to a public address, then (TTL 0) to the metadata service: the second
/// fetch is refused and the private address never connected.
#[tokio::test]
async fn a_name_rebound_to_a_private_address_is_refused() {
    let (server, connector, tls) = public_tls_server().await;
    let resolver = Resolver::script(&[&[PUBLIC], &["169.254.169.254"]]);
    let fetcher = tls_fetcher(&resolver, &connector, tls);
    let doc = url("https://as.example/jwks");
    assert_eq!(fetcher.get(&doc).await.unwrap(), br#"{"keys":[]}"#);
    let err = fetcher.get(&doc).await.unwrap_err();
    assert!(
        matches!(err, FetchError::ForbiddenAddress { addr, .. } if addr == ip("169.254.169.254")),
        "{err}"
    );
    assert_eq!(resolver.calls(), ["as.example", "as.example"]);
    assert_eq!(connector.asked(), [(ip(PUBLIC), 443).into()]);
    assert_eq!(server.connections(), 1);
}

/// Of the addresses a name resolves to, only the public one is ever connected, whatever the order.
#[tokio::test]
async fn of_mixed_answers_only_the_public_address_is_connected() {
    let (_server, connector, tls) = public_tls_server().await;
    let resolver = Resolver::always(&["10.0.0.1", "::1", PUBLIC, "127.0.0.1", "fd00::1"]);
    let fetcher = tls_fetcher(&resolver, &connector, tls);
    assert_eq!(
        fetcher.get(&url("https://as.example/jwks")).await.unwrap(),
        br#"{"keys":[]}"#
    );
    assert_eq!(connector.asked(), [(ip(PUBLIC), 443).into()]);
}

/// A name that resolves only to special-use addresses is refused; the error names the first.
#[tokio::test]
async fn a_name_with_only_private_answers_is_refused() {
    let resolver = Resolver::always(&["10.0.0.1", "fd00::1", "127.0.0.1"]);
    let connector = Connector::refusing();
    let err = fetcher(strict(), &resolver, &connector)
        .get(&url("https://as.example/jwks"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, FetchError::ForbiddenAddress { ref host, addr, .. }
            if host == "as.example" && addr == ip("10.0.0.1")),
        "{err}"
    );
    assert!(connector.asked().is_empty());
}

/// A name without addresses fails without connecting.
#[tokio::test]
async fn a_name_without_addresses_fails() {
    let resolver = Resolver::always(&[]);
    let connector = Connector::refusing();
    let err = fetcher(strict(), &resolver, &connector)
        .get(&url("https://as.example/jwks"))
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Failed(_)), "{err}");
    assert!(connector.asked().is_empty());
}
