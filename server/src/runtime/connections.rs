//! Serving one listener: accepting under a connection limit, driving each connection with
//! hyper under three timeouts, and shutting down within a deadline.
//!
//! A slow or idle client must not hold a connection for ever, and many of them must not starve
//! the process of file descriptors:
//! - **header timeout**: from the first byte of a request to the end of its headers;
//! - **request timeout**: from the end of the headers to the response (body read and handling);
//!   past it the client gets `408` and the connection is closed;
//! - **idle timeout**: a connection waiting for its next request (or a fresh one for its first),
//!   or stuck writing a response nobody reads, is closed once nothing has moved for this long;
//! - **max connections**: beyond it, new connections wait in the kernel's backlog (a warning is
//!   logged once) until one closes; each listener has its own count, so a flood of the public
//!   port never locks an operator out of the admin API;
//! - **max connections per address**: one address (an IPv6 /64) may hold only so many; beyond
//!   that its new connections are closed at once, so one host cannot take every slot;
//! - **shutdown**: listeners stop accepting, idle connections close, requests in flight get
//!   `shutdown_timeout` to finish, and whatever is left is closed.
//!
//! hyper's own header timer is not used: it starts when a connection begins waiting, so it
//! cannot tell an idle keep-alive connection from a client trickling its headers.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::ServiceExt as _;

use crate::config::HttpLimits;
use crate::throttle::address_key;

/// What moved on one connection, and when (milliseconds since it opened).
#[derive(Debug)]
struct Activity {
    opened: Instant,
    /// The last time a byte was read or written.
    last: AtomicU64,
    /// When the first byte of the request being read arrived (0: none being read).
    head_started: AtomicU64,
    /// Requests handed to the router and not yet answered.
    in_flight: AtomicU32,
    /// Wakes the connection's watchdog when the first byte of a request arrives, so that the
    /// header deadline (shorter than the idle one) takes over at once.
    head_began: tokio::sync::Notify,
}

impl Activity {
    fn new() -> Self {
        Self {
            opened: Instant::now(),
            last: AtomicU64::new(0),
            head_started: AtomicU64::new(0),
            in_flight: AtomicU32::new(0),
            head_began: tokio::sync::Notify::new(),
        }
    }

    /// Milliseconds since the connection opened, never 0 (0 means "unset" above).
    fn now(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    fn read(&self) {
        let now = self.now();
        self.last.store(now, Ordering::Relaxed);
        if self.in_flight.load(Ordering::Relaxed) == 0
            && self
                .head_started
                .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.head_began.notify_one();
        }
    }

    fn wrote(&self) {
        self.last.store(self.now(), Ordering::Relaxed);
    }

    fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.head_started.store(0, Ordering::Relaxed);
    }

    fn request_finished(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.last.store(self.now(), Ordering::Relaxed);
    }

    /// When the connection must be closed unless something moves, and why; `None` while a
    /// request is being handled (the request timeout answers it).
    fn deadline(&self, limits: &HttpLimits) -> Option<(u64, &'static str)> {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return None;
        }
        match self.head_started.load(Ordering::Relaxed) {
            0 => Some((
                self.last.load(Ordering::Relaxed) + limits.idle_timeout * 1000,
                "idle",
            )),
            started => Some((started + limits.header_timeout * 1000, "headers too slow")),
        }
    }
}

/// Decrements the in-flight count however the request ends (answered, timed out, dropped).
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_finished();
    }
}

/// A TCP stream that reports every byte moved to its connection's [`Activity`].
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.read();
        }
        result
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.stream).poll_write(cx, data);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote();
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The answer to a request not completed within the request timeout (RFC 9110 §15.5.9), in
/// the shape of an OAuth error; the connection is closed after it.
fn request_timeout(limit: u64) -> Response<Body> {
    let body = format!(
        r#"{{"error":"invalid_request","error_description":"the request was not completed within {limit} s"}}"#
    );
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::REQUEST_TIMEOUT;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Open connections per address, for `http.max_connections_per_address`.
#[derive(Debug)]
struct PerAddress {
    limit: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
    /// When the last refusal was logged (seconds since the listener started), to log at most
    /// one line in ten seconds however hard a host pushes.
    logged: AtomicU64,
    started: Instant,
}

/// One connection's place in its address's count; given back on drop.
struct AddressSlot(Arc<PerAddress>, IpAddr);

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = self.0.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.1) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.1);
            }
        }
    }
}

impl PerAddress {
    fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            limit,
            open: Mutex::default(),
            logged: AtomicU64::new(0),
            started: Instant::now(),
        })
    }

    /// A slot for a connection from `peer`, or `None` when its address holds the limit
    /// already (a `limit` of 0 admits everyone).
    fn admit(self: &Arc<Self>, peer: IpAddr) -> Result<Option<AddressSlot>, ()> {
        if self.limit == 0 {
            return Ok(None);
        }
        let key = address_key(peer);
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let n = open.entry(key).or_insert(0);
        if *n >= self.limit {
            // Seconds since start, plus one so that 0 can mean "never logged".
            let now = self.started.elapsed().as_secs() + 1;
            let last = self.logged.load(Ordering::Relaxed);
            if last == 0 || now >= last + 10 {
                self.logged.store(now, Ordering::Relaxed);
                tracing::warn!(address = %key, limit = self.limit, "an address holds the most connections it may (http.max_connections_per_address): its new ones are closed");
            }
            return Err(());
        }
        *n += 1;
        Ok(Some(AddressSlot(self.clone(), key)))
    }
}

/// Drives one connection until it ends, times out, or the shutdown closes it.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: HttpLimits,
    mut shutdown: watch::Receiver<bool>,
    _slots: (OwnedSemaphorePermit, Option<AddressSlot>),
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        stream,
        activity: activity.clone(),
    });
    let requests = activity.clone();
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        requests.request_started();
        let in_flight = InFlight(requests.clone());
        let response = router.clone().oneshot(req.map(Body::new));
        async move {
            let _in_flight = in_flight;
            let limit = Duration::from_secs(limits.request_timeout);
            match tokio::time::timeout(limit, response).await {
                Ok(answered) => answered,
                Err(_) => Ok(request_timeout(limits.request_timeout)),
            }
        }
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.header_read_timeout(None);
    let conn = http.serve_connection(io, service);
    let mut conn = std::pin::pin!(conn);
    let mut stopping = *shutdown.borrow();
    if stopping {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        let deadline = activity.deadline(&limits);
        let wake = match deadline {
            Some((at, _)) => activity.opened + Duration::from_millis(at),
            // A request is being handled: look again once it could have timed out.
            None => Instant::now() + Duration::from_secs(limits.request_timeout),
        };
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
            () = tokio::time::sleep_until(wake) => {
                if let Some((at, why)) = activity.deadline(&limits) {
                    if activity.now() >= at {
                        tracing::debug!(%peer, reason = why, "closing a connection");
                        return;
                    }
                }
            }
            // A request began: its header deadline replaces the idle one.
            () = activity.head_began.notified() => {}
            changed = shutdown.changed(), if !stopping => {
                stopping = true;
                if changed.is_ok() {
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// Serves `router` on `listener` until `shutdown` turns true, then drains the connections for
/// at most `limits.shutdown_timeout` seconds.
pub async fn serve(
    name: &'static str,
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    mut shutdown: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let per_address = PerAddress::new(limits.max_connections_per_address);
    let mut connections = JoinSet::new();
    let mut at_limit = false;
    loop {
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => {
                at_limit = false;
                permit
            }
            Err(_) => {
                if !at_limit {
                    tracing::warn!(
                        listener = name,
                        max_connections = limits.max_connections,
                        "connection limit reached: new connections wait until one closes (http.max_connections)"
                    );
                    at_limit = true;
                }
                tokio::select! {
                    permit = permits.clone().acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break,
                    },
                    _ = shutdown.wait_for(|stop| *stop) => break,
                }
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was accepted:
                    // back off briefly instead of spinning.
                    tracing::warn!(listener = name, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.wait_for(|stop| *stop) => break,
        };
        let Ok(slot) = per_address.admit(peer.ip()) else {
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        connections.spawn(connection(
            stream,
            peer,
            router.clone(),
            limits,
            shutdown.clone(),
            (permit, slot),
        ));
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    let drained = async { while connections.join_next().await.is_some() {} };
    let deadline = Duration::from_secs(limits.shutdown_timeout);
    if tokio::time::timeout(deadline, drained).await.is_err() {
        tracing::warn!(
            listener = name,
            open = connections.len(),
            "shutdown deadline reached: closing the connections left"
        );
        connections.abort_all();
    }
}
