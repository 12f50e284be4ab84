//! [`Resolve`]: host name to addresses, injectable so that tests decide what a name resolves to
//! (and no test asks a real DNS server anything). [`SystemResolver`] is the system's resolver.
//!
//! Whatever a resolver answers is only a list of candidates: each address is checked again right
//! before it is connected ([`crate::connect`]), so a resolver cannot open a special-use address.

use std::fmt::Debug;
use std::io;
use std::net::IpAddr;

/// Resolves a host name to its addresses.
#[async_trait::async_trait]
pub trait Resolve: Debug + Send + Sync {
    /// The addresses of `host` (a domain name, never an IP literal: the fetcher connects to
    /// those directly), in the order to try them.
    async fn resolve(&self, host: &str) -> io::Result<Vec<IpAddr>>;
}

/// The system's resolver (`getaddrinfo`, through tokio's `lookup_host`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

#[async_trait::async_trait]
impl Resolve for SystemResolver {
    async fn resolve(&self, host: &str) -> io::Result<Vec<IpAddr>> {
        let addrs = tokio::net::lookup_host((host, 0)).await?;
        Ok(addrs.map(|a| a.ip()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A literal resolves without asking any server.
    #[tokio::test]
    async fn the_system_resolver_answers_literals() {
        let addrs = SystemResolver.resolve("127.0.0.1").await.unwrap();
        assert_eq!(addrs, vec![IpAddr::from([127, 0, 0, 1])]);
    }
}
