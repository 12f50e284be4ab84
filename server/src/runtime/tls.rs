//! TLS termination (rustls) and what it tells about the client: the server's certificate,
//! reloaded when its files change, and client certificates for mutual-TLS client
//! authentication (RFC 8705).
//!
//! Where a client certificate is judged:
//! - **in the handshake**, only possession: a certificate is *requested*, never required, and
//!   any well-formed one is accepted, so that a self-signed certificate
//!   (`self_signed_tls_client_auth`, RFC 8705 §2.2) completes the handshake too; rustls still
//!   checks the client's `CertificateVerify` signature with the certificate's key, which proves
//!   the client holds it. A failed handshake could only say "bad certificate" at the TLS layer;
//!   the client would never learn its OAuth error.
//! - **at client authentication** ([`ChainCheck`], called from [`crate::authenticate`]), the
//!   chain, for `tls_client_auth` (§2.1) only: the leaf and the intermediates it came with must
//!   chain to a CA in `tls.client_ca_file`, each within its validity period at the time of the
//!   request, with the clientAuth extended key usage when the certificate has the extension
//!   (webpki, the verifier rustls itself uses; RFC 5280 §4.2.1.12: no extension, any purpose).
//!   A certificate forwarded by a trusted proxy is checked the same way: the proxy's own check
//!   is not relied on (its CA list may be wider than ours).
//! - **in `core`**: the registered subject, or the registered self-signed certificate, and the
//!   leaf's validity period at `now` (so an expired certificate fails on a connection that
//!   outlives it).
//!
//! # Layout
//! - [`ServerIdentity`]: the certificate chain and key, swapped atomically on reload;
//!   [`ServerIdentity::watch`] checks the files' modification times.
//! - [`RequestClientCertificate`]: the permissive client-certificate verifier.
//! - [`acceptor`]: the rustls configuration of a listener (TLS 1.3 and 1.2, HTTP/1.1).
//! - [`ChainCheck`]: the application-level chain validation.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use gatehouse_core::client::auth::tls::{ClientCertificate, MAX_CERTIFICATE_LEN};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("{field}: {message}")]
pub struct TlsError {
    /// The configuration key of the file at fault.
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

fn tls_error(field: &'static str, message: impl Into<String>) -> TlsError {
    TlsError {
        field,
        message: message.into(),
    }
}

/// The crypto provider of every TLS listener: ring, as the rest of Gatehouse.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The server's certificate chain and key, read from their PEM files.
fn load_identity(certificate: &Path, key: &Path) -> Result<CertifiedKey, TlsError> {
    let bytes = fs::read(certificate).map_err(|e| {
        tls_error(
            "tls.certificate_file",
            format!("cannot read {}: {e}", certificate.display()),
        )
    })?;
    let chain = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            tls_error(
                "tls.certificate_file",
                format!("{} is not PEM certificates: {e}", certificate.display()),
            )
        })?;
    if chain.is_empty() {
        return Err(tls_error(
            "tls.certificate_file",
            format!("{} holds no certificate", certificate.display()),
        ));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        tls_error(
            "tls.key_file",
            format!("{} holds no usable private key: {e}", key.display()),
        )
    })?;
    let signing_key = provider()
        .key_provider
        .load_private_key(key_der)
        .map_err(|e| tls_error("tls.key_file", format!("{}: {e}", key.display())))?;
    let identity = CertifiedKey::new(chain, signing_key);
    // The key must be the leaf's (rustls compares their public keys).
    identity.keys_match().map_err(|e| {
        tls_error(
            "tls.key_file",
            format!(
                "{} is not the key of the first certificate in {}: {e}",
                key.display(),
                certificate.display()
            ),
        )
    })?;
    Ok(identity)
}

/// When each of the two files last changed, to notice a replacement.
fn stamps(certificate: &Path, key: &Path) -> Option<(SystemTime, SystemTime, u64, u64)> {
    let c = fs::metadata(certificate).ok()?;
    let k = fs::metadata(key).ok()?;
    Some((c.modified().ok()?, k.modified().ok()?, c.len(), k.len()))
}

/// The server's certificate and key, shared by every TLS listener, replaced as a whole when
/// the files change.
#[derive(Debug)]
pub struct ServerIdentity {
    current: ArcSwap<CertifiedKey>,
    certificate: PathBuf,
    key: PathBuf,
}

impl ServerIdentity {
    /// Reads the files; an error names the one at fault.
    pub fn load(certificate: &Path, key: &Path) -> Result<Arc<Self>, TlsError> {
        let identity = load_identity(certificate, key)?;
        Ok(Arc::new(Self {
            current: ArcSwap::from_pointee(identity),
            certificate: certificate.to_owned(),
            key: key.to_owned(),
        }))
    }

    /// Checks the files every `interval` and loads them again when they changed. A new pair
    /// that does not load (half written, a key that is not the certificate's) keeps the old
    /// one in service and logs an error; the next change is tried again.
    /// File reads run on the blocking pool, never on a worker that serves requests.
    pub async fn watch(self: Arc<Self>, interval: Duration) {
        let files = || (self.certificate.clone(), self.key.clone());
        let (c, k) = files();
        let mut seen = tokio::task::spawn_blocking(move || stamps(&c, &k))
            .await
            .ok()
            .flatten();
        let mut failed = None;
        loop {
            tokio::time::sleep(interval).await;
            let (c, k) = files();
            let now = tokio::task::spawn_blocking(move || stamps(&c, &k))
                .await
                .ok()
                .flatten();
            if now.is_none() || now == seen || now == failed {
                continue;
            }
            let (c, k) = files();
            let loaded = tokio::task::spawn_blocking(move || {
                load_identity(&c, &k).map_err(|e| e.to_string())
            })
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
            match loaded {
                Ok(identity) => {
                    self.current.store(Arc::new(identity));
                    seen = now;
                    failed = None;
                    tracing::info!(certificate = %self.certificate.display(), "reloaded the TLS certificate");
                }
                Err(e) => {
                    failed = now;
                    tracing::error!(error = %e, "the changed TLS certificate or key does not load: still serving the previous one");
                }
            }
        }
    }
}

impl ResolvesServerCert for ServerIdentity {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

/// Asks for a client certificate, never requires one, and accepts any well-formed one (see
/// the module docs for why the chain is judged later). The handshake signature is still
/// verified: the client proves it holds the certificate's key.
#[derive(Debug)]
pub struct RequestClientCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl RequestClientCertificate {
    fn new() -> Self {
        Self {
            algorithms: provider().signature_verification_algorithms,
        }
    }
}

impl ClientCertVerifier for RequestClientCertificate {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // No hints: a client sends whatever certificate it has, self-signed ones included
        // (RFC 8446 §4.2.4 makes the list advisory).
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let too_large = end_entity.len() > MAX_CERTIFICATE_LEN
            || intermediates.len() > 8
            || intermediates.iter().any(|c| c.len() > MAX_CERTIFICATE_LEN);
        if too_large {
            return Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::BadEncoding,
            ));
        }
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The rustls configuration of one listener: TLS 1.3 preferred, 1.2 accepted, HTTP/1.1, the
/// shared server identity, and client certificates requested when `client_certificates`.
pub fn acceptor(
    identity: Arc<ServerIdentity>,
    client_certificates: bool,
) -> Result<TlsAcceptor, TlsError> {
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| tls_error("tls", e.to_string()))?;
    let builder = if client_certificates {
        builder.with_client_cert_verifier(Arc::new(RequestClientCertificate::new()))
    } else {
        builder.with_no_client_auth()
    };
    let mut config = builder.with_cert_resolver(identity);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The client certificate of a finished handshake, if the client sent one.
pub fn peer_certificate(connection: &rustls::ServerConnection) -> Option<ClientCertificate> {
    let (leaf, intermediates) = connection.peer_certificates()?.split_first()?;
    Some(ClientCertificate::new(
        leaf.to_vec(),
        intermediates.iter().map(|c| c.to_vec()).collect(),
    ))
}

/// Validates client certificate chains for `tls_client_auth` (RFC 8705 §2.1) against the CAs
/// of `tls.client_ca_file`.
#[derive(Debug)]
pub struct ChainCheck {
    verifier: Arc<dyn ClientCertVerifier>,
}

impl ChainCheck {
    /// The CAs in the PEM file at `path`.
    pub fn load(path: &Path) -> Result<Self, TlsError> {
        let field = "tls.client_ca_file";
        let bytes = fs::read(path)
            .map_err(|e| tls_error(field, format!("cannot read {}: {e}", path.display())))?;
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&bytes) {
            let cert = cert.map_err(|e| {
                tls_error(
                    field,
                    format!("{} is not PEM certificates: {e}", path.display()),
                )
            })?;
            roots.add(cert).map_err(|e| {
                tls_error(
                    field,
                    format!("{}: a CA certificate is unusable: {e}", path.display()),
                )
            })?;
        }
        if roots.is_empty() {
            return Err(tls_error(
                field,
                format!("{} holds no CA certificate", path.display()),
            ));
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .map_err(|e| tls_error(field, e.to_string()))?;
        Ok(Self { verifier })
    }

    /// Whether `certificate` (with the intermediates it came with) chains to one of the CAs,
    /// every certificate within its validity period at `now` (seconds since the epoch).
    pub fn trusted(&self, certificate: &ClientCertificate, now: u64) -> bool {
        let intermediates: Vec<CertificateDer<'_>> = certificate
            .intermediates()
            .iter()
            .map(|c| CertificateDer::from(c.as_slice()))
            .collect();
        self.verifier
            .verify_client_cert(
                &CertificateDer::from(certificate.der()),
                &intermediates,
                UnixTime::since_unix_epoch(Duration::from_secs(now)),
            )
            .is_ok()
    }
}

#[cfg(test)]
mod tests;
