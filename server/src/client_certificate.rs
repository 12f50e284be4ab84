//! The client certificate of a request (RFC 8705): the one of the connection's own TLS
//! handshake, or, behind a TLS-terminating proxy, the one the proxy forwards in a configured
//! header, believed only when the TCP peer is a configured trusted proxy (RFC 9700 §4.13: a
//! header anyone can send proves nothing). From any other peer the header is ignored (logged at
//! debug), never an error, so a client cannot tell whether it was read.
//!
//! Header forms (`tls.proxy_certificate_format`):
//! - `rfc9440`: RFC 9440 §2.2 `Client-Cert`, a Structured Field Byte Sequence (RFC 8941
//!   §3.3.5): `:` base64(DER) `:`;
//! - `pem`: the URL-encoded PEM certificate of nginx (`$ssl_client_escaped_cert`) and Envoy.
//!
//! Only the leaf is forwarded: a `tls_client_auth` certificate must chain to
//! `tls.client_ca_file` directly or through intermediate CAs listed in that file. The chain is
//! still checked by Gatehouse ([`crate::runtime::tls::ChainCheck`]), never taken on the proxy's
//! word.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::FromRef;
use axum::http::HeaderMap;
use base64::Engine as _;
use gatehouse_core::client::auth::tls::{ClientCertificate, MAX_CERTIFICATE_LEN};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

use crate::config::tls::{HeaderFormat, ProxyCertificates};
use crate::state::AppState;

/// The longest certificate header accepted, bytes: a certificate of the largest size in the
/// longer (URL-encoded PEM) form.
pub const MAX_HEADER_LEN: usize = 4 * MAX_CERTIFICATE_LEN;

/// Where a forwarded certificate may come from, for the request extractor.
#[derive(Debug, Clone, Default)]
pub struct CertificateSource(pub Option<Arc<ProxyCertificates>>);

impl FromRef<AppState> for CertificateSource {
    fn from_ref(app: &AppState) -> Self {
        Self(app.config.tls.proxy.clone().map(Arc::new))
    }
}

/// The request's client certificate: the TLS handshake's, else a trusted proxy's header.
/// `Err` (a message for `invalid_request`) when a trusted proxy's header is repeated, too
/// large or malformed.
pub fn of_request(
    headers: &HeaderMap,
    peer: Option<IpAddr>,
    source: &CertificateSource,
) -> Result<Option<ClientCertificate>, String> {
    if let Some(certificate) = crate::runtime::connections::client_certificate() {
        return Ok(Some(certificate));
    }
    let Some(proxy) = &source.0 else {
        return Ok(None);
    };
    let mut values = headers.get_all(proxy.header.as_str()).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if !peer.is_some_and(|p| proxy.trusts(p)) {
        tracing::debug!(?peer, header = %proxy.header, "a client certificate header from a peer that is not a trusted proxy: ignored");
        return Ok(None);
    }
    if values.next().is_some() {
        return Err(format!(
            "the {} header is sent more than once",
            proxy.header
        ));
    }
    parse(value.as_bytes(), proxy.format)
        .map(Some)
        .map_err(|e| format!("the {} header: {e}", proxy.header))
}

/// A forwarded certificate header's value in `format`.
pub fn parse(value: &[u8], format: HeaderFormat) -> Result<ClientCertificate, &'static str> {
    if value.len() > MAX_HEADER_LEN {
        return Err("too large");
    }
    let value = value.trim_ascii();
    let der = match format {
        HeaderFormat::Rfc9440 => {
            let inner = value
                .strip_prefix(b":")
                .and_then(|v| v.strip_suffix(b":"))
                .ok_or("not a byte sequence (:base64:)")?;
            base64::engine::general_purpose::STANDARD
                .decode(inner)
                .map_err(|_| "not base64")?
        }
        HeaderFormat::Pem => {
            let pem: Vec<u8> = percent_encoding::percent_decode(value).collect();
            CertificateDer::from_pem_slice(&pem)
                .map_err(|_| "not a URL-encoded PEM certificate")?
                .to_vec()
        }
    };
    if der.is_empty() || der.len() > MAX_CERTIFICATE_LEN {
        return Err("not a certificate of an acceptable size");
    }
    Ok(ClientCertificate::new(der, Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DER: &[u8] = b"\x30\x03\x02\x01\x01";

    #[test]
    fn rfc9440_byte_sequence() {
        let cert = parse(b":MAMCAQE=:", HeaderFormat::Rfc9440).unwrap();
        assert_eq!(cert.der(), DER);
        let cert = parse(b"  :MAMCAQE=: ", HeaderFormat::Rfc9440).unwrap();
        assert_eq!(cert.der(), DER);
        for bad in [
            &b"MAMCAQE="[..],
            b":MAMCAQE=",
            b"::",
            b":not base64!:",
            b":MAMCAQE=:, :MAMCAQE=:",
            b"",
        ] {
            assert!(parse(bad, HeaderFormat::Rfc9440).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn url_encoded_pem() {
        let pem = "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n";
        let encoded: String =
            percent_encoding::utf8_percent_encode(pem, percent_encoding::NON_ALPHANUMERIC)
                .collect();
        assert_eq!(
            parse(encoded.as_bytes(), HeaderFormat::Pem).unwrap().der(),
            DER
        );
        for bad in [
            "-----BEGIN CERTIFICATE-----",
            "%ZZ",
            "",
            "-----BEGIN PRIVATE KEY-----%0AMAMCAQE=%0A-----END PRIVATE KEY-----",
        ] {
            assert!(parse(bad.as_bytes(), HeaderFormat::Pem).is_err(), "{bad}");
        }
    }

    #[test]
    fn huge_values_are_refused_before_decoding() {
        let mut huge = vec![b':'];
        huge.extend(std::iter::repeat_n(b'A', MAX_HEADER_LEN));
        huge.push(b':');
        assert_eq!(
            parse(&huge, HeaderFormat::Rfc9440).unwrap_err(),
            "too large"
        );
        // Within the header limit but decoding past the certificate limit.
        let big = format!(
            ":{}:",
            base64::engine::general_purpose::STANDARD.encode(vec![0u8; MAX_CERTIFICATE_LEN + 1])
        );
        assert!(parse(big.as_bytes(), HeaderFormat::Rfc9440).is_err());
    }

    fn source() -> CertificateSource {
        CertificateSource(Some(Arc::new(ProxyCertificates {
            header: "client-cert".into(),
            format: HeaderFormat::Rfc9440,
            trusted: vec!["10.0.0.0/8".parse().unwrap()],
        })))
    }

    #[test]
    fn believed_only_from_a_trusted_proxy() {
        let mut headers = HeaderMap::new();
        headers.insert("client-cert", ":MAMCAQE=:".parse().unwrap());
        let trusted = Some("10.1.2.3".parse().unwrap());
        let untrusted = Some("192.0.2.1".parse().unwrap());
        assert!(of_request(&headers, trusted, &source()).unwrap().is_some());
        assert!(
            of_request(&headers, untrusted, &source())
                .unwrap()
                .is_none()
        );
        assert!(of_request(&headers, None, &source()).unwrap().is_none());
        assert!(
            of_request(&headers, trusted, &CertificateSource::default())
                .unwrap()
                .is_none()
        );
        // Malformed or repeated: refused from a trusted proxy, ignored from anyone else.
        headers.append("client-cert", ":MAMCAQE=:".parse().unwrap());
        assert!(of_request(&headers, trusted, &source()).is_err());
        assert!(
            of_request(&headers, untrusted, &source())
                .unwrap()
                .is_none()
        );
        let mut headers = HeaderMap::new();
        headers.insert("client-cert", "garbage".parse().unwrap());
        assert!(of_request(&headers, trusted, &source()).is_err());
        assert!(
            of_request(&headers, untrusted, &source())
                .unwrap()
                .is_none()
        );
    }
}
