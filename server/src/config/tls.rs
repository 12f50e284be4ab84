//! `[tls]`: TLS termination by Gatehouse itself (rustls) and client certificates for mutual-TLS
//! client authentication (RFC 8705), either from the TLS handshake or from a TLS-terminating
//! proxy's header. Plain HTTP stays the default: with no `[tls]` keys, nothing changes.
//!
//! ```toml
//! [tls]
//! certificate_file = "/etc/gatehouse/server.pem"  # the chain, leaf first (PEM)
//! key_file = "/etc/gatehouse/server.key"          # its private key (PEM: PKCS#8, SEC1 or PKCS#1)
//! reload_interval = "10s"                         # files are read again when they change
//! listen_tls = true                               # TLS on `listen` (default when the files are set)
//! request_client_certificates = false             # ask for client certificates on `listen` too
//! mtls_listen = "0.0.0.0:8443"                    # a listener that asks for client certificates
//! mtls_url = "https://mtls.auth.example.com:8443" # where clients reach it (mtls_endpoint_aliases)
//! client_ca_file = "/etc/gatehouse/client-ca.pem" # CAs of tls_client_auth certificates
//!
//! # Behind a TLS-terminating proxy instead (or as well):
//! proxy_certificate_header = "Client-Cert"        # the header the proxy forwards the certificate in
//! proxy_certificate_format = "rfc9440"            # RFC 9440 `:base64-DER:`, or "pem" (URL-encoded PEM:
//!                                                 # nginx $ssl_client_escaped_cert, Envoy XFCC Cert)
//! trusted_proxies = ["10.0.0.0/8"]                # only from these TCP peers is the header believed
//! ```

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use ipnet::IpNet;
use serde::Deserialize;
use url::Url;

use super::{ConfigError, bad, duration_within, seconds};

/// The default interval between checks of the certificate files, seconds.
pub const DEFAULT_RELOAD_INTERVAL: u64 = 10;

/// How a proxy writes the client certificate in its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderFormat {
    /// RFC 9440 §2.1: a Structured Field Byte Sequence, `:` base64(DER) `:`.
    Rfc9440,
    /// A URL-encoded PEM certificate (nginx `$ssl_client_escaped_cert`, Envoy's
    /// `x-forwarded-client-cert` `Cert=` value as a header of its own).
    Pem,
}

/// Client certificates forwarded by a TLS-terminating proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyCertificates {
    /// The header's name, lowercase.
    pub header: String,
    /// How the certificate is written in it.
    pub format: HeaderFormat,
    /// The TCP peers whose header is believed; from any other it is ignored.
    pub trusted: Vec<IpNet>,
}

impl ProxyCertificates {
    /// Whether `peer` is one of the trusted proxies.
    pub fn trusts(&self, peer: IpAddr) -> bool {
        let peer = match peer {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(peer, IpAddr::V4),
            v4 @ IpAddr::V4(_) => v4,
        };
        self.trusted.iter().any(|net| net.contains(&peer))
    }
}

/// The TLS settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// The server's certificate chain (PEM), if Gatehouse terminates TLS.
    pub certificate_file: Option<PathBuf>,
    /// Its private key (PEM).
    pub key_file: Option<PathBuf>,
    /// How often the two files are checked for a change, seconds.
    pub reload_interval: u64,
    /// Whether `listen` speaks TLS.
    pub listen_tls: bool,
    /// Whether `listen` asks for client certificates (never requires one).
    pub request_client_certificates: bool,
    /// A separate listener that asks for client certificates.
    pub mtls_listen: Option<SocketAddr>,
    /// Its public URL with the issuer's path, advertised in `mtls_endpoint_aliases`.
    pub mtls_base: Option<String>,
    /// The CAs that issue `tls_client_auth` certificates (PEM).
    pub client_ca_file: Option<PathBuf>,
    /// Certificates forwarded by a proxy.
    pub proxy: Option<ProxyCertificates>,
}

impl TlsConfig {
    /// Whether client certificates can reach the server at all (then the mutual-TLS methods
    /// are offered).
    pub fn client_certificates(&self) -> bool {
        self.request_client_certificates || self.mtls_listen.is_some() || self.proxy.is_some()
    }
}

/// The section as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTls {
    certificate_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    #[serde(default, deserialize_with = "seconds")]
    reload_interval: Option<u64>,
    listen_tls: Option<bool>,
    request_client_certificates: Option<bool>,
    mtls_listen: Option<String>,
    mtls_url: Option<String>,
    client_ca_file: Option<PathBuf>,
    proxy_certificate_header: Option<String>,
    proxy_certificate_format: Option<String>,
    trusted_proxies: Option<Vec<String>>,
}

impl RawTls {
    /// Whether `listen` will speak TLS (needed before the issuer's default is chosen).
    pub(super) fn listen_tls(&self) -> bool {
        self.certificate_file.is_some() && self.listen_tls.unwrap_or(true)
    }

    pub(super) fn validate(self, issuer: &str) -> Result<TlsConfig, ConfigError> {
        let files = match (&self.certificate_file, &self.key_file) {
            (Some(_), Some(_)) => true,
            (None, None) => false,
            _ => {
                return Err(bad(
                    "tls.certificate_file",
                    "set both tls.certificate_file and tls.key_file, or neither",
                ));
            }
        };
        let listen_tls = self.listen_tls();
        if self.listen_tls == Some(true) && !files {
            return Err(bad(
                "tls.listen_tls",
                "needs tls.certificate_file and tls.key_file",
            ));
        }
        let request_client_certificates = self.request_client_certificates.unwrap_or(false);
        if request_client_certificates && !listen_tls {
            return Err(bad(
                "tls.request_client_certificates",
                "needs TLS on `listen` (tls.certificate_file and tls.key_file)",
            ));
        }
        let mtls_listen = match &self.mtls_listen {
            None => None,
            Some(text) => Some(text.parse::<SocketAddr>().map_err(|_| {
                bad(
                    "tls.mtls_listen",
                    format!("{text:?} is not an IP address and port, e.g. \"0.0.0.0:8443\""),
                )
            })?),
        };
        if mtls_listen.is_some() && !files {
            return Err(bad(
                "tls.mtls_listen",
                "needs tls.certificate_file and tls.key_file (the listener speaks TLS)",
            ));
        }
        let issuer_path = Url::parse(issuer)
            .map(|u| u.path().trim_end_matches('/').to_owned())
            .unwrap_or_default();
        let mtls_base = match (mtls_listen, &self.mtls_url) {
            (None, None) => None,
            (None, Some(_)) => {
                return Err(bad("tls.mtls_url", "set tls.mtls_listen as well"));
            }
            (Some(_), Some(url)) => {
                let parsed = Url::parse(url).ok().filter(|u| {
                    u.scheme() == "https"
                        && u.host().is_some()
                        && u.query().is_none()
                        && u.fragment().is_none()
                        && u.path() == "/"
                });
                if parsed.is_none() {
                    return Err(bad(
                        "tls.mtls_url",
                        format!(
                            "{url:?}: give the https URL (scheme, host, port) where clients reach tls.mtls_listen, without a path"
                        ),
                    ));
                }
                Some(format!("{}{issuer_path}", url.trim_end_matches('/')))
            }
            (Some(addr), None) if addr.ip().is_loopback() => {
                Some(format!("https://{addr}{issuer_path}"))
            }
            (Some(addr), None) => {
                return Err(bad(
                    "tls.mtls_url",
                    format!(
                        "required when tls.mtls_listen ({addr}) is not a loopback address: the https URL clients use to reach it"
                    ),
                ));
            }
        };
        let proxy = match (&self.proxy_certificate_header, &self.trusted_proxies) {
            (None, None) => None,
            (Some(_), None) | (None, Some(_)) => {
                return Err(bad(
                    "tls.trusted_proxies",
                    "set tls.proxy_certificate_header and tls.trusted_proxies together: a forwarded certificate is believed only from a trusted proxy",
                ));
            }
            (Some(header), Some(trusted)) => {
                let valid_name = !header.is_empty()
                    && header.len() <= 64
                    && header
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                if !valid_name {
                    return Err(bad(
                        "tls.proxy_certificate_header",
                        format!("{header:?} is not a header name, e.g. \"Client-Cert\""),
                    ));
                }
                if trusted.is_empty() {
                    return Err(bad(
                        "tls.trusted_proxies",
                        "name at least one proxy address or CIDR block",
                    ));
                }
                let trusted = trusted
                    .iter()
                    .map(|t| {
                        t.parse::<IpNet>()
                            .or_else(|_| t.parse::<IpAddr>().map(IpNet::from))
                            .map_err(|_| {
                                bad(
                                    "tls.trusted_proxies",
                                    format!(
                                        "{t:?} is not an IP address or CIDR block, e.g. \"10.0.0.0/8\""
                                    ),
                                )
                            })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let format = match self.proxy_certificate_format.as_deref() {
                    None | Some("rfc9440") => HeaderFormat::Rfc9440,
                    Some("pem") => HeaderFormat::Pem,
                    Some(other) => {
                        return Err(bad(
                            "tls.proxy_certificate_format",
                            format!(
                                "{other:?}: use \"rfc9440\" (:base64-DER:) or \"pem\" (URL-encoded PEM)"
                            ),
                        ));
                    }
                };
                Some(ProxyCertificates {
                    header: header.to_ascii_lowercase(),
                    format,
                    trusted,
                })
            }
        };
        if self.proxy_certificate_format.is_some() && proxy.is_none() {
            return Err(bad(
                "tls.proxy_certificate_format",
                "set tls.proxy_certificate_header as well",
            ));
        }
        Ok(TlsConfig {
            reload_interval: duration_within(
                "tls.reload_interval",
                self.reload_interval,
                DEFAULT_RELOAD_INTERVAL,
                1..=3_600,
            )?,
            certificate_file: self.certificate_file,
            key_file: self.key_file,
            listen_tls,
            request_client_certificates,
            mtls_listen,
            mtls_base,
            client_ca_file: self.client_ca_file,
            proxy,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(toml: &str) -> RawTls {
        toml::from_str(toml).unwrap()
    }

    #[test]
    fn plain_http_by_default() {
        let tls = raw("").validate("http://127.0.0.1:8080").unwrap();
        assert!(!tls.listen_tls);
        assert!(!tls.client_certificates());
        assert_eq!(tls.mtls_base, None);
    }

    #[test]
    fn mtls_listener_url() {
        let tls =
            raw("certificate_file = \"c\"\nkey_file = \"k\"\nmtls_listen = \"127.0.0.1:8443\"")
                .validate("https://127.0.0.1:8080/t")
                .unwrap();
        assert!(tls.listen_tls);
        assert_eq!(tls.mtls_base.as_deref(), Some("https://127.0.0.1:8443/t"));
        let err = raw("certificate_file = \"c\"\nkey_file = \"k\"\nmtls_listen = \"0.0.0.0:8443\"")
            .validate("https://as.example")
            .unwrap_err();
        assert_eq!(err.field, "tls.mtls_url");
        let tls = raw("certificate_file = \"c\"\nkey_file = \"k\"\nmtls_listen = \"0.0.0.0:8443\"\nmtls_url = \"https://mtls.as.example:8443\"")
            .validate("https://as.example")
            .unwrap();
        assert_eq!(
            tls.mtls_base.as_deref(),
            Some("https://mtls.as.example:8443")
        );
        for bad_url in ["http://x", "https://x/path", "https://x?q"] {
            let text = format!(
                "certificate_file = \"c\"\nkey_file = \"k\"\nmtls_listen = \"0.0.0.0:8443\"\nmtls_url = \"{bad_url}\""
            );
            assert!(
                raw(&text).validate("https://as.example").is_err(),
                "{bad_url}"
            );
        }
    }

    #[test]
    fn refusals_name_the_field() {
        for (text, field) in [
            ("certificate_file = \"c\"", "tls.certificate_file"),
            ("listen_tls = true", "tls.listen_tls"),
            (
                "request_client_certificates = true",
                "tls.request_client_certificates",
            ),
            ("mtls_listen = \"127.0.0.1:1\"", "tls.mtls_listen"),
            (
                "proxy_certificate_header = \"Client-Cert\"",
                "tls.trusted_proxies",
            ),
            ("trusted_proxies = [\"10.0.0.1\"]", "tls.trusted_proxies"),
            (
                "proxy_certificate_header = \"Client Cert\"\ntrusted_proxies = [\"10.0.0.1\"]",
                "tls.proxy_certificate_header",
            ),
            (
                "proxy_certificate_header = \"X\"\ntrusted_proxies = [\"10.0.0.300\"]",
                "tls.trusted_proxies",
            ),
            (
                "proxy_certificate_header = \"X\"\ntrusted_proxies = []",
                "tls.trusted_proxies",
            ),
            (
                "proxy_certificate_header = \"X\"\ntrusted_proxies = [\"::1\"]\nproxy_certificate_format = \"der\"",
                "tls.proxy_certificate_format",
            ),
            ("reload_interval = 0", "tls.reload_interval"),
        ] {
            let err = raw(text).validate("http://127.0.0.1:8080").unwrap_err();
            assert_eq!(err.field, field, "{text}");
        }
    }

    #[test]
    fn trusted_proxies_by_address_and_block() {
        let tls = raw("proxy_certificate_header = \"Client-Cert\"\ntrusted_proxies = [\"10.1.0.0/16\", \"::1\", \"192.0.2.7\"]")
            .validate("http://127.0.0.1:8080")
            .unwrap();
        let proxy = tls.proxy.unwrap();
        assert_eq!(proxy.header, "client-cert");
        assert_eq!(proxy.format, HeaderFormat::Rfc9440);
        for yes in ["10.1.2.3", "::1", "192.0.2.7", "::ffff:10.1.0.1"] {
            assert!(proxy.trusts(yes.parse().unwrap()), "{yes}");
        }
        for no in ["10.2.0.1", "127.0.0.1", "192.0.2.8", "::2"] {
            assert!(!proxy.trusts(no.parse().unwrap()), "{no}");
        }
    }
}
