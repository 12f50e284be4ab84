//! [`Connect`]: a socket address to a byte stream, injectable so that tests can stand a local
//! server in for a public address. [`TcpConnector`] is a plain TCP connection.
//!
//! `connect_checked` is the only way the fetcher connects: it checks the very address the
//! connector is asked for against the policy first. The check is never on an earlier resolution,
//! so a name that resolves to a public address once and to a private one the next time (DNS
//! rebinding) cannot slip through (security-matrix §5 item 4, the ZITADEL CVE-2026-55671 lesson).

use std::fmt::Debug;
use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncWrite};
use url::Url;

use crate::error::FetchError;
use crate::policy::FetchPolicy;

/// A connected byte stream: TCP, or whatever a test connector hands out.
pub trait ByteStream: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> ByteStream for T {}

/// Opens connections.
#[async_trait::async_trait]
pub trait Connect: Debug + Send + Sync {
    /// A stream connected to `addr`, which has passed the policy.
    async fn connect(&self, addr: SocketAddr) -> io::Result<Box<dyn ByteStream>>;
}

/// Plain TCP, to exactly the address given (no resolution, no proxy).
#[derive(Debug, Clone, Copy, Default)]
pub struct TcpConnector;

#[async_trait::async_trait]
impl Connect for TcpConnector {
    async fn connect(&self, addr: SocketAddr) -> io::Result<Box<dyn ByteStream>> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Box::new(stream))
    }
}

/// Why one connection attempt did not give a stream.
#[derive(Debug)]
pub(crate) enum Attempt {
    /// The policy refused the address; nothing was sent.
    Forbidden(FetchError),
    /// The connector failed.
    Failed(io::Error),
}

/// Checks `addr` against `policy` for `url`, then, only if it passes, connects to it.
pub(crate) async fn connect_checked(
    connector: &dyn Connect,
    policy: &FetchPolicy,
    url: &Url,
    addr: SocketAddr,
) -> Result<Box<dyn ByteStream>, Attempt> {
    policy
        .check_address(url, addr.ip())
        .map_err(Attempt::Forbidden)?;
    connector.connect(addr).await.map_err(Attempt::Failed)
}
