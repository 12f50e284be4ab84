//! [`FetchPolicy`]: the limits of a fetch, the checks a URL passes before any I/O, and the rule
//! every address passes right before it is connected; [`AllowedPrefix`], the operator's
//! exception for documents served inside their own network.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
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
/// A second, narrower one, [`allowed_prefixes`](Self::allowed_prefixes), opens internal
/// addresses to URLs under prefixes the operator names.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// URLs under these prefixes may resolve to internal addresses ([`address::is_internal`]:
    /// loopback, private-use, shared, unique-local; never link-local or a metadata service),
    /// and a loopback one may use plain http: documents served inside the operator's own
    /// network, and tests. Empty by default.
    pub allowed_prefixes: Vec<AllowedPrefix>,
}

impl Default for FetchPolicy {
    /// Strict: https to public addresses only, 5 s, 64 KiB.
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            max_bytes: 64 * 1024,
            allow_http_loopback: false,
            allowed_prefixes: Vec::new(),
        }
    }
}

/// A URL prefix the operator allows to reach internal addresses: a scheme, an origin and a
/// path. A URL is under it when its scheme, host and port are the prefix's (compared parsed,
/// so `https://internal.example` never covers `https://internal.example.evil.com` or
/// `https://internal.example@evil.com`) and its path is the prefix's path or continues it at a
/// segment boundary (`/docs` covers `/docs` and `/docs/a`, not `/docsx`; `/docs/` covers
/// `/docs/a`). Dot segments are resolved before the comparison (the URL parser does it), so
/// `/docs/../admin` is `/admin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedPrefix {
    url: Url,
}

impl AllowedPrefix {
    /// Whether `url` is under this prefix.
    pub fn covers(&self, url: &Url) -> bool {
        let prefix = &self.url;
        if url.scheme() != prefix.scheme()
            || url.host() != prefix.host()
            || url.port_or_known_default() != prefix.port_or_known_default()
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return false;
        }
        let (base, path) = (prefix.path(), url.path());
        if base.ends_with('/') {
            path.starts_with(base)
        } else {
            path == base
                || path
                    .strip_prefix(base)
                    .is_some_and(|rest| rest.starts_with('/'))
        }
    }

    /// The prefix's URL.
    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }
}

impl FromStr for AllowedPrefix {
    type Err = String;

    /// An `https://host[:port][/path]` URL, or `http://` to a loopback host; no credentials,
    /// query or fragment.
    fn from_str(text: &str) -> Result<Self, String> {
        let url = Url::parse(text).map_err(|e| format!("{text:?} is not a URL: {e}"))?;
        let loopback = match url.host() {
            Some(Host::Ipv4(ip)) => address::is_loopback(ip.into()),
            Some(Host::Ipv6(ip)) => address::is_loopback(ip.into()),
            Some(Host::Domain(d)) => is_localhost_name(d),
            None => false,
        };
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            "http" => return Err(format!("{text:?}: plain http is allowed to loopback only")),
            _ => return Err(format!("{text:?} is not an https URL")),
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("{text:?} has no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!("{text:?} must not carry credentials"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!("{text:?} must not have a query or fragment"));
        }
        Ok(Self { url })
    }
}

impl fmt::Display for AllowedPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.url.as_str())
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
        let allowed = self.allows(url);
        let loopback_open = self.allow_http_loopback || allowed;
        match url.scheme() {
            "https" => {}
            "http" if loopback_open && loopback_host => {}
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
            Some(Host::Domain(d)) if is_localhost_name(d) && !loopback_open => {
                refuse("a localhost name, always loopback (RFC 6761 §6.3)")
            }
            Some(Host::Domain(_)) => Ok(()),
            Some(Host::Ipv4(ip)) => self.check_address(url, ip.into()),
            Some(Host::Ipv6(ip)) => self.check_address(url, ip.into()),
        }
    }

    /// Whether `url` is under one of the [`allowed_prefixes`](Self::allowed_prefixes).
    pub fn allows(&self, url: &Url) -> bool {
        self.allowed_prefixes.iter().any(|p| p.covers(url))
    }

    /// The rule for an address the fetcher is about to connect to, for `url` (whose scheme
    /// matters): no special-use address (security-matrix §5 item 3, CIMD §6.5), loopback
    /// excepted under the development exception, internal addresses
    /// ([`address::is_internal`]) for a URL under an allowed prefix, and plain http only to
    /// loopback.
    pub fn check_address(&self, url: &Url, addr: IpAddr) -> Result<(), FetchError> {
        let forbid = |reason: String| {
            Err(FetchError::ForbiddenAddress {
                host: url.host_str().unwrap_or_default().to_owned(),
                addr,
                reason,
            })
        };
        let allowed = self.allows(url);
        let loopback_allowed = (self.allow_http_loopback || allowed) && address::is_loopback(addr);
        let internal_allowed = allowed && address::is_internal(addr);
        if let Some(special) = address::special_use(addr) {
            if !loopback_allowed && !internal_allowed {
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
        allowed_prefixes: Vec::new(),
    };

    fn allowing(prefixes: &[&str]) -> FetchPolicy {
        FetchPolicy {
            allowed_prefixes: prefixes.iter().map(|p| p.parse().unwrap()).collect(),
            ..FetchPolicy::default()
        }
    }

    #[test]
    fn prefixes_cover_their_origin_and_path_only() {
        let p: AllowedPrefix = "https://internal.example".parse().unwrap();
        for yes in [
            "https://internal.example/",
            "https://internal.example/a/b",
            "https://INTERNAL.example:443/a",
            "https://internal.example./a",
        ] {
            let covered = p.covers(&u(yes));
            // A trailing-dot host is another host to the URL parser: not covered.
            assert_eq!(covered, !yes.contains("example./"), "{yes}");
        }
        for no in [
            "https://internal.example.evil.com/",
            "https://internal.example@evil.com/",
            "https://evil.com/internal.example/",
            "https://evil.com/?https://internal.example/",
            "https://internal.example:8443/",
            "http://internal.example/",
            "https://sub.internal.example/",
            "https://xinternal.example/",
            "https://user@internal.example/",
        ] {
            assert!(!p.covers(&u(no)), "{no}");
        }
        let p: AllowedPrefix = "https://internal.example:8443/docs".parse().unwrap();
        assert!(p.covers(&u("https://internal.example:8443/docs")));
        assert!(p.covers(&u("https://internal.example:8443/docs/a.json")));
        assert!(!p.covers(&u("https://internal.example:8443/docsx")));
        assert!(!p.covers(&u("https://internal.example:8443/doc")));
        assert!(!p.covers(&u("https://internal.example:8443/docs/../admin")));
        assert!(!p.covers(&u("https://internal.example:8443/docs/%2e%2e/admin")));
        assert!(!p.covers(&u("https://internal.example/docs/a")));
        let p: AllowedPrefix = "https://internal.example/docs/".parse().unwrap();
        assert!(p.covers(&u("https://internal.example/docs/a")));
        assert!(!p.covers(&u("https://internal.example/docs")));
        let p: AllowedPrefix = "http://127.0.0.1:9000/".parse().unwrap();
        assert!(p.covers(&u("http://127.0.0.1:9000/doc")));
        assert!(!p.covers(&u("http://127.0.0.1:9001/doc")));
        assert!(!p.covers(&u("https://127.0.0.1:9000/doc")));
    }

    #[test]
    fn prefixes_are_checked_when_parsed() {
        for bad in [
            "http://internal.example/",
            "ftp://internal.example/",
            "https://u:p@internal.example/",
            "https://internal.example/?a",
            "https://internal.example/#a",
            "internal.example",
            "",
        ] {
            assert!(bad.parse::<AllowedPrefix>().is_err(), "{bad}");
        }
        for good in [
            "http://localhost:8080/",
            "http://[::1]/x",
            "https://10.0.0.5/docs",
        ] {
            assert!(good.parse::<AllowedPrefix>().is_ok(), "{good}");
        }
    }

    #[test]
    fn a_prefix_opens_internal_addresses_for_its_urls_only() {
        let policy = allowing(&["https://internal.example/docs", "http://127.0.0.1:9000/"]);
        let inside = u("https://internal.example/docs/client.json");
        let outside = u("https://internal.example.evil.com/docs/client.json");
        for ip in [
            "10.0.0.5",
            "192.168.1.1",
            "172.20.0.1",
            "100.64.1.1",
            "fd12::1",
            "127.0.0.1",
        ] {
            assert!(
                policy.check_address(&inside, ip.parse().unwrap()).is_ok(),
                "{ip}"
            );
            assert!(
                policy.check_address(&outside, ip.parse().unwrap()).is_err(),
                "{ip}"
            );
        }
        for ip in [
            "169.254.169.254",
            "fd00:ec2::254",
            "100.100.100.200",
            "fe80::1",
            "0.0.0.0",
        ] {
            assert!(
                policy.check_address(&inside, ip.parse().unwrap()).is_err(),
                "{ip}"
            );
        }
        assert!(
            policy
                .check_address(&inside, "93.184.215.14".parse().unwrap())
                .is_ok()
        );
        assert!(policy.check_url(&u("http://127.0.0.1:9000/doc")).is_ok());
        assert!(policy.check_url(&u("http://127.0.0.1:9001/doc")).is_err());
        assert!(policy.check_url(&u("https://127.0.0.1:9001/doc")).is_err());
        assert!(policy.check_url(&u("https://10.0.0.5/docs/x")).is_err());
        let http = u("http://127.0.0.1:9000/doc");
        assert!(
            policy
                .check_address(&http, "127.0.0.1".parse().unwrap())
                .is_ok()
        );
        assert!(
            policy
                .check_address(&http, "10.0.0.5".parse().unwrap())
                .is_err()
        );
        assert!(policy.check_url(&u("https://localhost/docs")).is_err());
        let local = allowing(&["https://localhost/docs"]);
        assert!(local.check_url(&u("https://localhost/docs/a")).is_ok());
        assert!(local.check_url(&u("https://localhost/other")).is_err());
    }

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
