//! What the fetcher does with the answer, against raw local servers over plain http under the
//! development exception (the answer rules do not depend on TLS): only 200, no redirects
//! (security-matrix §5 items 5 and 6), size limits declared or not (item 7), one deadline
//! (item 8), and a request that carries nothing it need not (item 16).

use std::time::{Duration, Instant};

use gatehouse_fetch::{FetchError, Fetcher};

use crate::support::{Server, Step, dev, ok, send};

/// A fetcher with the system resolver and TCP: the servers are on 127.0.0.1, a literal, so
/// nothing is resolved and nothing leaves loopback.
fn fetcher(timeout: Duration) -> Fetcher {
    Fetcher::new(dev(timeout)).unwrap()
}

const LONG: Duration = Duration::from_secs(30);

#[tokio::test]
async fn a_small_document_is_fetched_with_a_minimal_request() {
    let server = Server::plain(ok("{}")).await;
    let body = fetcher(LONG).get(&server.url("/doc?a=b")).await.unwrap();
    assert_eq!(body, b"{}");
    let heads = server.heads();
    let head = heads[0].as_str();
    assert!(head.starts_with("get /doc?a=b http/1.1\r\n"), "{head}");
    assert!(head.contains("\r\nuser-agent: gatehouse\r\n"), "{head}");
    assert!(head.contains("\r\naccept: application/json\r\n"), "{head}");
    assert!(
        head.contains(&format!("\r\nhost: {}\r\n", server.addr)),
        "{head}"
    );
    for absent in [
        "cookie",
        "authorization",
        "proxy-authorization",
        "accept-encoding",
    ] {
        assert!(
            !head.contains(&format!("\r\n{absent}:")),
            "{absent} in {head}"
        );
    }
    assert_eq!(
        head.matches("\r\n").count(),
        5,
        "three headers only: {head}"
    );
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let target = Server::plain(ok("{}")).await;
    for status in [301, 302, 303, 307, 308] {
        let redirect = Server::plain(vec![send(format!(
            "HTTP/1.1 {status} Moved\r\nlocation: {}\r\ncontent-length: 0\r\n\r\n",
            target.url("/doc")
        ))])
        .await;
        let err = fetcher(LONG).get(&redirect.url("/doc")).await.unwrap_err();
        assert_eq!(err, FetchError::Status(status));
        assert!(
            err.to_string().contains("redirects are not followed"),
            "{err}"
        );
    }
    assert_eq!(target.connections(), 0);
}

#[tokio::test]
async fn only_200_is_accepted() {
    for status in [201, 202, 204, 206, 304, 400, 401, 404, 500, 503] {
        let server = Server::plain(vec![send(format!(
            "HTTP/1.1 {status} Whatever\r\ncontent-length: 2\r\n\r\n{{}}"
        ))])
        .await;
        let err = fetcher(LONG).get(&server.url("/doc")).await.unwrap_err();
        assert_eq!(err, FetchError::Status(status), "{status}");
    }
}

/// The declared size is refused before any of the body is read: this server never sends it, so
/// reading would end at the deadline instead.
#[tokio::test]
async fn a_declared_size_over_the_cap_is_refused_before_reading() {
    let server = Server::plain(vec![
        send("HTTP/1.1 200 OK\r\ncontent-length: 10000000\r\n\r\n"),
        Step::Wait(LONG),
    ])
    .await;
    let started = Instant::now();
    let err = fetcher(Duration::from_secs(20))
        .get(&server.url("/doc"))
        .await
        .unwrap_err();
    assert_eq!(err, FetchError::TooLarge { max_bytes: 1024 });
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// A chunked body is cut off as soon as it passes the cap, while the server is still sending.
#[tokio::test]
async fn a_chunked_body_over_the_cap_is_aborted_mid_stream() {
    let chunk = format!("200\r\n{}\r\n", "x".repeat(512));
    let mut script = vec![send(
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
    )];
    script.extend(std::iter::repeat_n(send(chunk), 3));
    script.push(Step::Wait(LONG));
    let server = Server::plain(script).await;
    let started = Instant::now();
    let err = fetcher(Duration::from_secs(20))
        .get(&server.url("/doc"))
        .await
        .unwrap_err();
    assert_eq!(err, FetchError::TooLarge { max_bytes: 1024 });
    assert!(err.to_string().contains("larger than 1024"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn the_cap_itself_is_allowed() {
    let at_cap = Server::plain(ok(&"x".repeat(1024))).await;
    assert_eq!(
        fetcher(LONG).get(&at_cap.url("/")).await.unwrap().len(),
        1024
    );
    let over = Server::plain(ok(&"x".repeat(1025))).await;
    let err = fetcher(LONG).get(&over.url("/")).await.unwrap_err();
    assert_eq!(err, FetchError::TooLarge { max_bytes: 1024 });
    let chunked = format!("400\r\n{}\r\n0\r\n\r\n", "x".repeat(1024));
    let server = Server::plain(vec![
        send("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"),
        send(chunked),
    ])
    .await;
    assert_eq!(
        fetcher(LONG).get(&server.url("/")).await.unwrap().len(),
        1024
    );
}

#[tokio::test]
async fn a_slow_server_times_out() {
    let server = Server::plain([vec![Step::Wait(Duration::from_secs(3))], ok("{}")].concat()).await;
    let err = fetcher(Duration::from_millis(300))
        .get(&server.url("/doc"))
        .await
        .unwrap_err();
    assert_eq!(err, FetchError::Timeout(Duration::from_millis(300)));
    assert!(err.to_string().contains("timed out after 300ms"), "{err}");
}

/// A body dripped a byte at a time is aborted at the deadline, though bytes keep coming.
#[tokio::test]
async fn a_slow_drip_body_is_aborted_at_the_deadline() {
    let mut script = vec![send("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n")];
    for _ in 0..100 {
        script.push(send("x"));
        script.push(Step::Wait(Duration::from_millis(50)));
    }
    let server = Server::plain(script).await;
    let started = Instant::now();
    let err = fetcher(Duration::from_millis(600))
        .get(&server.url("/doc"))
        .await
        .unwrap_err();
    assert_eq!(err, FetchError::Timeout(Duration::from_millis(600)));
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(600) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn a_truncated_body_is_an_error() {
    let server = Server::plain(vec![send(
        "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"a\":",
    )])
    .await;
    let err = fetcher(LONG).get(&server.url("/doc")).await.unwrap_err();
    assert!(matches!(err, FetchError::Failed(_)), "{err}");
}

/// No compression is asked for, and none is undone (no decompression bombs).
#[tokio::test]
async fn a_compressed_answer_is_refused() {
    let server = Server::plain(vec![send(
        "HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: 2\r\n\r\n{}",
    )])
    .await;
    let err = fetcher(LONG).get(&server.url("/doc")).await.unwrap_err();
    assert!(matches!(err, FetchError::Failed(_)), "{err}");
}

/// The error never carries the body, whatever the status.
#[tokio::test]
async fn errors_never_carry_the_body() {
    let secret = "internal-secret-9f8e7d";
    for status in [200, 302, 500] {
        let body = format!("{secret}{}", "y".repeat(2000));
        let server = Server::plain(vec![send(format!(
            "HTTP/1.1 {status} X\r\nlocation: /{secret}\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        ))])
        .await;
        let err = fetcher(LONG).get(&server.url("/doc")).await.unwrap_err();
        assert!(!err.to_string().contains(secret), "{err}");
        assert!(!format!("{err:?}").contains(secret), "{err:?}");
    }
}

/// Plain http to loopback works under the exception only.
#[tokio::test]
async fn plain_http_to_loopback_needs_the_exception() {
    let server = Server::plain(ok("{}")).await;
    let strict = Fetcher::new(gatehouse_fetch::FetchPolicy::default()).unwrap();
    let err = strict.get(&server.url("/doc")).await.unwrap_err();
    assert!(matches!(err, FetchError::Refused { .. }), "{err}");
    assert_eq!(server.connections(), 0);
}
