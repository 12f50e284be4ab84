//! The one hardened outbound HTTP fetcher of Gatehouse: client metadata documents, `jwks_uri`,
//! authorization server metadata and JWKS for the validator's `remote` feature. It applies
//! security-matrix §5 ("SSRF and fetch hardening") and
//! draft-ietf-oauth-client-id-metadata-document §4 and §6.5–6.6: https only, special-use
//! addresses refused at the moment of connecting, no redirects, only 200, size and time limits,
//! and one explicit development exception for loopback.
//!
//! ```no_run
//! # async fn f() -> Result<(), gatehouse_fetch::FetchError> {
//! use gatehouse_fetch::{FetchPolicy, Fetcher};
//! let fetcher = Fetcher::new(FetchPolicy::default())?;
//! let url = url::Url::parse("https://as.example/jwks").expect("a URL");
//! let jwks: Vec<u8> = fetcher.get(&url).await?;
//! # Ok(()) }
//! ```
//!
//! # Layout
//! - [`address`]: the special-use address blocks (RFC 6890 and the IANA registries), IPv4 rules
//!   applied to IPv4-mapped and NAT64 addresses.
//! - [`policy`]: [`FetchPolicy`]: limits, the URL checks made before any I/O, and the rule every
//!   address passes right before it is connected; [`AllowedPrefix`], the operator's exception
//!   for documents served inside their own network.
//! - [`resolve`]: the [`Resolve`] trait (host to addresses) and the [`SystemResolver`].
//! - [`connect`]: the [`Connect`] trait (address to byte stream), the [`TcpConnector`], and the
//!   one checked way to connect, which defeats DNS rebinding.
//! - [`fetcher`]: [`Fetcher`]: resolve, connect, TLS (rustls, the public roots plus any extra
//!   CA), one HTTP/1.1 GET (hyper), the answer read under the size limit, all under one
//!   deadline; [`Fetched`]: a JSON document with its caching headers and media type.
//! - [`error`]: [`FetchError`], precise for logs, never carrying a fetched body.
//!
//! Tests inject a resolver and a connector, so the address rules and the whole https path are
//! exercised without a packet leaving loopback.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod address;
pub mod connect;
pub mod error;
pub mod fetcher;
pub mod policy;
pub mod resolve;

pub use connect::{ByteStream, Connect, TcpConnector};
pub use error::FetchError;
pub use fetcher::{Caching, Fetched, Fetcher, load_pem_certificates};
pub use policy::{AllowedPrefix, FetchPolicy};
pub use resolve::{Resolve, SystemResolver};
/// The TLS library whose [`ClientConfig`](rustls::ClientConfig) [`Fetcher::with_tls_config`]
/// takes.
pub use rustls;
