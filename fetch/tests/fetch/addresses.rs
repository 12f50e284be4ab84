//! Special-use addresses (security-matrix §5 item 3, CIMD §6.5), as a resolver answers them and
//! as literals in the URL: refused before the connector is asked for them.

use std::time::Duration;

use gatehouse_fetch::FetchError;

use crate::support::{Connector, PUBLIC, Resolver, dev, fetcher, ip, strict, url};

/// One address or more from every block, IPv4 and IPv6, with the embedded-IPv4 forms and the
/// cloud metadata addresses.
const SPECIAL_USE: &[&str] = &[
    "0.0.0.0",
    "0.1.2.3",
    "10.0.0.1",
    "10.255.255.255",
    "100.64.0.1",
    "100.100.100.200",
    "127.0.0.1",
    "127.1.2.3",
    "169.254.169.254",
    "172.16.0.1",
    "172.31.255.254",
    "192.0.0.192",
    "192.0.2.1",
    "192.88.99.1",
    "192.168.0.1",
    "198.18.0.1",
    "198.19.255.255",
    "198.51.100.1",
    "203.0.113.1",
    "224.0.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "::",
    "::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "::127.0.0.1",
    "64:ff9b::7f00:1",
    "64:ff9b::a9fe:a9fe",
    "64:ff9b:1::1",
    "100::1",
    "2001::1",
    "2001:db8::1",
    "2002:a00:1::1",
    "3fff::1",
    "5f00::1",
    "fc00::1",
    "fd00:ec2::254",
    "fe80::1",
    "fec0::1",
    "ff02::1",
    "4000::1",
];

const LOOPBACK: &[&str] = &["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"];

#[tokio::test]
async fn every_special_use_answer_is_refused_before_connecting() {
    for addr in SPECIAL_USE {
        let resolver = Resolver::always(&[addr]);
        let connector = Connector::refusing();
        let err = fetcher(strict(), &resolver, &connector)
            .get(&url("https://as.example/doc"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, FetchError::ForbiddenAddress { addr: a, .. } if a == ip(addr)),
            "{addr}: {err}"
        );
        assert_eq!(resolver.calls(), ["as.example"], "{addr}");
        assert!(connector.asked().is_empty(), "{addr} was connected");
    }
}

/// The development exception opens loopback and nothing else.
#[tokio::test]
async fn the_exception_opens_loopback_only() {
    for addr in SPECIAL_USE {
        let resolver = Resolver::always(&[addr]);
        let connector = Connector::refusing();
        let err = fetcher(dev(Duration::from_secs(5)), &resolver, &connector)
            .get(&url("https://as.example/doc"))
            .await
            .unwrap_err();
        if LOOPBACK.contains(addr) {
            // Asked for (and refused by the test connector, which touches no network).
            assert!(matches!(err, FetchError::Failed(_)), "{addr}: {err}");
            assert_eq!(connector.asked(), [(ip(addr), 443).into()], "{addr}");
        } else {
            assert!(
                matches!(err, FetchError::ForbiddenAddress { .. }),
                "{addr}: {err}"
            );
            assert!(connector.asked().is_empty(), "{addr} was connected");
        }
    }
}

/// Literal forms of special-use addresses (security-matrix §5 item 3): the `url` crate turns the
/// decimal, hex, octal and short IPv4 forms into 127.0.0.1, and a literal never reaches the
/// resolver; the address rule refuses it before the connector.
#[tokio::test]
async fn literal_forms_are_refused_without_resolving_or_connecting() {
    let cases = [
        ("https://2130706433/", "127.0.0.1"),
        ("https://0x7f.1/", "127.0.0.1"),
        ("https://0x7f000001/", "127.0.0.1"),
        ("https://0177.0.0.1/", "127.0.0.1"),
        ("https://127.1/", "127.0.0.1"),
        ("https://0/", "0.0.0.0"),
        ("https://[::ffff:7f00:1]/", "::ffff:127.0.0.1"),
        ("https://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1"),
        ("https://[::1]/", "::1"),
        ("https://[64:ff9b::7f00:1]/", "64:ff9b::7f00:1"),
        (
            "https://169.254.169.254/latest/meta-data/",
            "169.254.169.254",
        ),
        ("https://0xa9fea9fe/", "169.254.169.254"),
        ("https://[fd00:ec2::254]/", "fd00:ec2::254"),
        ("https://[fe80::1]/", "fe80::1"),
        ("https://10.0.0.1/", "10.0.0.1"),
        ("https://100.100.100.200/", "100.100.100.200"),
    ];
    for (literal, normalised) in cases {
        let resolver = Resolver::always(&[PUBLIC]);
        let connector = Connector::refusing();
        let fetcher = fetcher(strict(), &resolver, &connector);
        let err = fetcher.get(&url(literal)).await.unwrap_err();
        assert!(
            matches!(err, FetchError::ForbiddenAddress { addr, .. } if addr == ip(normalised)),
            "{literal}: {err}"
        );
        assert!(resolver.calls().is_empty(), "{literal} was resolved");
        assert!(connector.asked().is_empty(), "{literal} was connected");
    }
}

/// A public literal is connected as it is, on the URL's port, without resolving.
#[tokio::test]
async fn a_public_literal_is_connected_without_resolving() {
    let resolver = Resolver::always(&["10.0.0.1"]);
    let connector = Connector::refusing();
    let err = fetcher(strict(), &resolver, &connector)
        .get(&url(&format!("https://{PUBLIC}:8443/doc")))
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Failed(_)), "{err}");
    assert!(resolver.calls().is_empty());
    assert_eq!(connector.asked(), [(ip(PUBLIC), 8443).into()]);
}

/// `localhost` names are loopback by definition (RFC 6761 §6.3): refused before resolving unless
/// the exception is on.
#[tokio::test]
async fn localhost_names_are_refused_before_resolving() {
    for name in ["localhost", "LOCALHOST.", "api.localhost"] {
        let resolver = Resolver::always(&["127.0.0.1"]);
        let connector = Connector::refusing();
        let err = fetcher(strict(), &resolver, &connector)
            .get(&url(&format!("https://{name}/doc")))
            .await
            .unwrap_err();
        assert!(matches!(err, FetchError::Refused { .. }), "{name}: {err}");
        assert!(resolver.calls().is_empty(), "{name}");
        assert!(connector.asked().is_empty(), "{name}");
    }
}
