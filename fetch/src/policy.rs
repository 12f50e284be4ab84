//! [`FetchPolicy`]: the limits of a fetch, the checks a URL passes before any I/O, and the rule
//! every address passes right before it is connected.

use std::net::IpAddr;
use std::time::Duration;

use url::{Host, Url};

use crate::address;
use crate::error::FetchError;

/// What the fetcher may fetch, and how much of it, how fast.
///
/// The default is the strict policy: https only, to globally reachable addresses only. The one
/// exception, [`allow_http_loopback`](Self::allow_http_loopback), is for development and tests
/// against a server on this machine (draft-ietf-oauth-client-id-metadata-document §6.5 allows
/// loopback only when the authorization server itself runs there; security-matrix §5 item 24).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchPolicy {
    /// The deadline of the whole fetch: resolution, connection, TLS handshake and the complete
    /// answer (security-matrix §5 item 8).
    pub timeout: Duration,
    /// The largest document accepted, in bytes (security-matrix §5 item 7).
    pub max_bytes: usize,
    /// The development exception: loopback addresses (`127.0.0.0/8`, `::1`, `localhost`) may be
    /// fetched, over https or plain http, and plain http is allowed to them alone. Every other
    /// special-use address stays refused. Never set in production.
    pub allow_http_loopback: bool,
}

impl Default for FetchPolicy {
    /// Strict: https to public addresses only, 5 s, 64 KiB.
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            max_bytes: 64 * 1024,
            allow_http_loopback: false,
        }
    }
}

/// `localhost` and names under it, which always resolve to loopback (RFC 6761 §6.3).
fn is_localhost_name(domain: &str) -> bool {
    let name = domain
        .strip_suffix('.')
        .unwrap_or(domain)
        .to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

impl FetchPolicy {
    /// The checks on `url` before any I/O (security-matrix §5 items 1 and 3): https (plain http
    /// only to loopback, under the development exception), no credentials, no fragment, a host,
    /// and a literal IP address only if it passes [`check_address`](Self::check_address).
    pub fn check_url(&self, url: &Url) -> Result<(), FetchError> {
        let refuse = |reason| {
            Err(FetchError::Refused {
                url: url.to_string(),
                reason,
            })
        };
        let loopback_host = match url.host() {
            Some(Host::Ipv4(ip)) => address::is_loopback(ip.into()),
            Some(Host::Ipv6(ip)) => address::is_loopback(ip.into()),
            Some(Host::Domain(d)) => is_localhost_name(d),
            None => false,
        };
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http_loopback && loopback_host => {}
            "http" => return refuse("plain http (allowed only to loopback, in development)"),
            _ => return refuse("not an https URL"),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return refuse("credentials in the URL");
        }
        if url.fragment().is_some() {
            return refuse("a fragment in the URL");
        }
        match url.host() {
            None => refuse("no host"),
            Some(Host::Domain("")) => refuse("an empty host"),
            Some(Host::Domain(d)) if is_localhost_name(d) && !self.allow_http_loopback => {
                refuse("a localhost name, always loopback (RFC 6761 §6.3)")
            }
            Some(Host::Domain(_)) => Ok(()),
            Some(Host::Ipv4(ip)) => self.check_address(url, ip.into()),
            Some(Host::Ipv6(ip)) => self.check_address(url, ip.into()),
        }
    }

    /// The rule for an address the fetcher is about to connect to, for `url` (whose scheme
    /// matters): no special-use address (security-matrix §5 item 3, CIMD §6.5), loopback
    /// excepted under the development exception, and plain http only to loopback.
    pub fn check_address(&self, url: &Url, addr: IpAddr) -> Result<(), FetchError> {
        let forbid = |reason: String| {
            Err(FetchError::ForbiddenAddress {
                host: url.host_str().unwrap_or_default().to_owned(),
                addr,
                reason,
            })
        };
        let loopback_allowed = self.allow_http_loopback && address::is_loopback(addr);
        if let Some(special) = address::special_use(addr) {
            if !loopback_allowed {
                return forbid(format!("a special-use address, {special}"));
            }
        }
        if url.scheme() != "https" && !loopback_allowed {
            return forbid("plain http to an address that is not loopback".to_owned());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    const DEV: FetchPolicy = FetchPolicy {
        timeout: Duration::from_secs(5),
        max_bytes: 1024,
        allow_http_loopback: true,
    };

    #[test]
    fn only_https_or_allowed_loopback_http() {
        let strict = FetchPolicy::default();
        assert!(strict.check_url(&u("https://as.example/jwks")).is_ok());
        assert!(strict.check_url(&u("http://127.0.0.1:8080/jwks")).is_err());
        assert!(strict.check_url(&u("http://localhost:8080/jwks")).is_err());
        assert!(DEV.check_url(&u("http://127.0.0.1:8080/jwks")).is_ok());
        assert!(DEV.check_url(&u("http://127.0.0.2:8080/jwks")).is_ok());
        assert!(DEV.check_url(&u("http://[::1]:8080/jwks")).is_ok());
        assert!(DEV.check_url(&u("http://localhost:8080/jwks")).is_ok());
        assert!(DEV.check_url(&u("http://api.localhost./jwks")).is_ok());
        assert!(
            DEV.check_url(&u("http://10.0.0.1/jwks")).is_err(),
            "private, not loopback"
        );
        assert!(DEV.check_url(&u("http://as.example/jwks")).is_err());
        assert!(DEV.check_url(&u("https://as.example/jwks")).is_ok());
    }

    /// Security-matrix §5 item 1.
    #[test]
    fn other_schemes_are_refused() {
        for url in [
            "file:///etc/passwd",
            "gopher://as.example/",
            "ftp://as.example/jwks",
            "data:application/json,{}",
            "ws://as.example/",
            "wss://as.example/",
            "javascript:alert(1)",
        ] {
            for policy in [FetchPolicy::default(), DEV] {
                let err = policy.check_url(&u(url)).unwrap_err();
                assert!(
                    matches!(
                        err,
                        FetchError::Refused {
                            reason: "not an https URL",
                            ..
                        }
                    ),
                    "{url}: {err}"
                );
            }
        }
    }

    /// Security-matrix §5 item 2 (the parts that hold for any fetched URL).
    #[test]
    fn credentials_and_fragments_are_refused() {
        for url in [
            "https://user:pw@as.example/jwks",
            "https://user@as.example/jwks",
            "https://:pw@as.example/jwks",
            "https://as.example/jwks#frag",
            "https://as.example/jwks#",
        ] {
            let err = FetchPolicy::default().check_url(&u(url)).unwrap_err();
            assert!(matches!(err, FetchError::Refused { .. }), "{url}: {err}");
        }
    }

    #[test]
    fn literal_addresses_are_checked_before_any_io() {
        let strict = FetchPolicy::default();
        for url in [
            "https://127.0.0.1/",
            "https://2130706433/",
            "https://0x7f.1/",
            "https://0177.0.0.1/",
            "https://[::1]/",
            "https://[::ffff:7f00:1]/",
            "https://169.254.169.254/latest/meta-data/",
            "https://[fd00:ec2::254]/",
            "https://10.0.0.1/",
        ] {
            let err = strict.check_url(&u(url)).unwrap_err();
            assert!(
                matches!(err, FetchError::ForbiddenAddress { .. }),
                "{url}: {err}"
            );
        }
        assert!(strict.check_url(&u("https://93.184.215.14/")).is_ok());
        assert!(DEV.check_url(&u("https://[::ffff:7f00:1]/")).is_ok());
        assert!(DEV.check_url(&u("https://169.254.169.254/")).is_err());
    }

    #[test]
    fn addresses_by_scheme_and_exception() {
        let strict = FetchPolicy::default();
        let https = u("https://as.example/");
        let http = u("http://localhost/");
        let public: IpAddr = "93.184.215.14".parse().unwrap();
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        let private: IpAddr = "192.168.1.1".parse().unwrap();
        assert!(strict.check_address(&https, public).is_ok());
        assert!(strict.check_address(&https, loopback).is_err());
        assert!(strict.check_address(&https, private).is_err());
        assert!(DEV.check_address(&https, loopback).is_ok());
        assert!(DEV.check_address(&https, private).is_err());
        assert!(DEV.check_address(&http, loopback).is_ok());
        assert!(DEV.check_address(&http, "::1".parse().unwrap()).is_ok());
        let err = DEV.check_address(&http, public).unwrap_err();
        assert!(err.to_string().contains("plain http"), "{err}");
        let err = strict.check_address(&https, private).unwrap_err();
        assert_eq!(
            err.to_string(),
            "refusing to connect to as.example at 192.168.1.1: a special-use address, \
             192.168.0.0/16 (private-use, RFC 1918)"
        );
    }
}
