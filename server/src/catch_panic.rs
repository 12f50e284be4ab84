//! The second line of defence against a panic in a handler: the request gets `500
//! server_error` and the connection lives on, instead of a dropped connection. (The first line
//! is that no handler panics: untrusted input is parsed, never trusted.)
//!
//! Each connection wraps the whole router in it, once per request
//! ([`crate::runtime::connections`], where its test is), rather than through `Router::layer`: that wraps and boxes
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
