//! Connections driven over real loopback sockets, in process.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::serve;
use crate::config::HttpLimits;

/// Reads one `Content-Length` response off `stream`; returns its head and body.
async fn response(stream: &mut TcpStream) -> (String, String) {
    let mut buf = Vec::new();
    loop {
        let mut chunk = [0u8; 1024];
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(
            n > 0,
            "connection closed after {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(str::to_owned)
                })
                .expect("content-length")
                .parse()
                .unwrap();
            if body.len() >= length {
                return (head.to_owned(), body.to_owned());
            }
        }
    }
}

/// Over a real connection: the panicking request gets `500 server_error` without the
/// panic's message, and the same connection then serves the next request.
#[tokio::test]
async fn a_panicking_handler_answers_500_and_the_connection_lives_on() {
    async fn boom() -> &'static str {
        panic!("request data that must not leak")
    }
    let router = Router::new()
        .route("/boom", get(boom))
        .route("/calm", get(|| async { "ok" }));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, shutdown) = watch::channel(false);
    let server = serve(
        "test",
        listener,
        router,
        HttpLimits::default(),
        shutdown,
        None,
    );
    let client = async {
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream
            .write_all(b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let (head, body) = response(&mut stream).await;
        assert!(head.starts_with("HTTP/1.1 500"), "{head}");
        assert_eq!(body, r#"{"error":"server_error"}"#);
        stream
            .write_all(b"GET /calm HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let (head, body) = response(&mut stream).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert_eq!(body, "ok");
        drop(stream);
        stop.send(true).unwrap();
    };
    tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(server, client)
    })
    .await
    .expect("the server stops");
}

/// A request being handled when the shutdown begins gets its whole answer, then the connection
/// closes (a review found the end of the stream cancelled it: hyper's default).
#[tokio::test]
async fn a_request_in_flight_at_shutdown_gets_its_answer() {
    let router = Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_millis(800)).await;
            "done"
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, shutdown) = watch::channel(false);
    let server = serve(
        "test",
        listener,
        router,
        HttpLimits::default(),
        shutdown,
        None,
    );
    let client = async {
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream
            .write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        stop.send(true).unwrap();
        let (head, body) = response(&mut stream).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert_eq!(body, "done");
        let mut rest = [0u8; 16];
        assert_eq!(stream.read(&mut rest).await.unwrap(), 0, "then closed");
    };
    tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(server, client)
    })
    .await
    .expect("the server stops");
}

/// The watchdog's 408 belongs to the request it timed: a request that started after the
/// watchdog looked is not answered 408 for its predecessor (a review found the flag raced).
#[test]
fn a_timeout_is_the_timed_requests_alone() {
    let activity = std::sync::Arc::new(super::Activity::new());
    activity
        .last_read
        .store(5, std::sync::atomic::Ordering::Relaxed);
    let first = activity.request_started();
    // The first request ends; the next one starts later, and only then does the watchdog,
    // which looked while the first was in flight, mark the first as expired.
    activity
        .in_flight
        .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    activity
        .last_read
        .store(9, std::sync::atomic::Ordering::Relaxed);
    let second = activity.request_started();
    activity
        .request_expired
        .store(first, std::sync::atomic::Ordering::Release);
    let poll = |started: u64| {
        let timed = super::Timed {
            response: std::future::pending::<Result<axum::response::Response, ()>>(),
            activity: activity.clone(),
            started,
            limit: 30,
        };
        let mut timed = std::pin::pin!(timed);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match std::future::Future::poll(timed.as_mut(), &mut cx) {
            std::task::Poll::Ready(Ok(r)) => Some(r.status()),
            std::task::Poll::Ready(Err(())) => unreachable!(),
            std::task::Poll::Pending => None,
        }
    };
    activity
        .in_flight
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed); // the `Timed` below drops it
    assert_eq!(poll(second), None, "the second request goes on");
    activity
        .in_flight
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    assert_eq!(poll(first), Some(axum::http::StatusCode::REQUEST_TIMEOUT));
}
