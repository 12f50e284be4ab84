//! The hardened fetcher against a raw local HTTP responder: redirects are not followed, large
//! documents are cut off while reading, slow servers time out.

use std::time::Duration;

use gatehouse_validator::remote::fetch::{FetchError, FetchLimits, Fetcher};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use url::Url;

/// Serves `response` (raw HTTP) to every connection, after `delay`.
async fn responder(response: String, delay: Duration) -> Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = Url::parse(&format!("http://{}/doc", listener.local_addr().unwrap())).unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let response = response.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                tokio::time::sleep(delay).await;
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    url
}

fn fetcher(timeout: Duration) -> Fetcher {
    Fetcher::new(FetchLimits {
        timeout,
        max_bytes: 1024,
        allow_http_loopback: true,
    })
    .unwrap()
}

#[tokio::test]
async fn a_small_document_is_fetched() {
    let url = responder(
        "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}".into(),
        Duration::ZERO,
    )
    .await;
    assert_eq!(
        fetcher(Duration::from_secs(5)).get(&url).await.unwrap(),
        b"{}"
    );
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let target = responder(
        "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}".into(),
        Duration::ZERO,
    )
    .await;
    let redirect = format!("HTTP/1.1 302 Found\r\nlocation: {target}\r\ncontent-length: 0\r\n\r\n");
    let url = responder(redirect, Duration::ZERO).await;
    let err = fetcher(Duration::from_secs(5)).get(&url).await.unwrap_err();
    assert!(
        matches!(err, FetchError::Failed { ref reason, .. } if reason.contains("302")),
        "{err}"
    );
}

#[tokio::test]
async fn large_documents_are_refused_declared_or_not() {
    let body = "x".repeat(5000);
    let declared = responder(
        format!("HTTP/1.1 200 OK\r\ncontent-length: 5000\r\n\r\n{body}"),
        Duration::ZERO,
    )
    .await;
    assert!(
        fetcher(Duration::from_secs(5))
            .get(&declared)
            .await
            .is_err()
    );
    let chunked =
        format!("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1388\r\n{body}\r\n0\r\n\r\n");
    let undeclared = responder(chunked, Duration::ZERO).await;
    let err = fetcher(Duration::from_secs(5))
        .get(&undeclared)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("larger than 1024"), "{err}");
}

#[tokio::test]
async fn slow_servers_time_out() {
    let url = responder(
        "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}".into(),
        Duration::from_secs(3),
    )
    .await;
    let err = fetcher(Duration::from_millis(300))
        .get(&url)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("timed out after 300ms"), "{err}");
}
