//! The second line of defence against a panic in a handler: the request gets `500
//! server_error` and the connection lives on, instead of a dropped connection. (The first line
//! is that no handler panics: untrusted input is parsed, never trusted.)
//!
//! tower-http's `CatchPanicLayer` does this too, but boxes every response body again; this one
//! keeps axum's body as it is, so the layer costs nothing on a request that does not panic.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::{Request, Response};
use axum::response::IntoResponse;
use gatehouse_core::TokenError;
use tower::{Layer, Service};

use crate::error::OAuthError;

/// Answers 500 for a handler that panics (see the module docs).
#[derive(Debug, Clone, Copy, Default)]
pub struct CatchPanicLayer;

impl<S> Layer<S> for CatchPanicLayer {
    type Service = CatchPanic<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CatchPanic(inner)
    }
}

/// The service [`CatchPanicLayer`] makes.
#[derive(Debug, Clone)]
pub struct CatchPanic<S>(S);

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
    use axum::Router;
    use axum::routing::get;
    use tower::ServiceExt as _;

    use super::*;

    #[tokio::test]
    async fn a_panicking_handler_answers_500_and_a_calm_one_is_untouched() {
        async fn boom() -> &'static str {
            panic!("request data that must not leak")
        }
        let app = Router::new()
            .route("/boom", get(boom))
            .route("/calm", get(|| async { "ok" }))
            .layer(CatchPanicLayer);
        let get = |path: &str| Request::get(path).body(Body::empty()).unwrap();
        let r = app.clone().oneshot(get("/boom")).await.unwrap();
        assert_eq!(r.status(), 500);
        let body = axum::body::to_bytes(r.into_body(), 1024).await.unwrap();
        assert_eq!(&body[..], br#"{"error":"server_error"}"#);
        let r = app.oneshot(get("/calm")).await.unwrap();
        assert_eq!(r.status(), 200);
    }
}
