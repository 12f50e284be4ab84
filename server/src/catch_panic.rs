//! The second line of defence against a panic in a handler: the request gets `500
//! server_error` and the connection lives on, instead of a dropped connection. (The first line
//! is that no handler panics: untrusted input is parsed, never trusted.)
//!
//! Each connection wraps the whole router in it, once per request
//! ([`crate::runtime::connections`]), rather than through `Router::layer`: that wraps and boxes
//! every route again, which measured ~95 ns more per request on `/health` (a fifth of it). Here
//! a request that does not panic costs an unwinding frame and nothing else. tower-http's
//! `CatchPanicLayer` would box every response body again as well.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::{Request, Response};
use axum::response::IntoResponse;
use gatehouse_core::TokenError;
use tower::Service;

use crate::error::OAuthError;

/// Answers 500 for a panic in `S` (see the module docs).
#[derive(Debug, Clone)]
pub struct CatchPanic<S>(S);

impl<S> CatchPanic<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Self(inner)
    }
}

/// The answer to a panic: a bare `500 server_error`. The panic's message is neither logged
/// (the panic hook logs its location) nor answered: it may carry request data.
fn panicked() -> Response<Body> {
    tracing::error!("a request handler panicked; answered 500");
    OAuthError(TokenError::Server("a request handler panicked".into())).into_response()
}

impl<S> Service<Request<Body>> for CatchPanic<S>
where
    S: Service<Request<Body>, Response = Response<Body>>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Caught<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        match catch_unwind(AssertUnwindSafe(|| self.0.call(req))) {
            Ok(future) => Caught::Running { future },
            Err(_) => Caught::Panicked,
        }
    }
}

pin_project_lite::pin_project! {
    /// The inner service's future, polled under `catch_unwind`.
    #[project = CaughtProj]
    pub enum Caught<F> {
        /// The handler runs.
        Running { #[pin] future: F },
        /// The handler panicked before it returned a future.
        Panicked,
    }
}

impl<F, E> Future for Caught<F>
where
    F: Future<Output = Result<Response<Body>, E>>,
{
    type Output = Result<Response<Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            CaughtProj::Running { future } => {
                match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
                    Ok(poll) => poll,
                    Err(_) => Poll::Ready(Ok(panicked())),
                }
            }
            CaughtProj::Panicked => Poll::Ready(Ok(panicked())),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::Router;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::{TcpListener, TcpStream};
    use tokio::sync::watch;

    use crate::config::HttpLimits;
    use crate::runtime::connections;

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
        let server = connections::serve("test", listener, router, HttpLimits::default(), shutdown);
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
}
