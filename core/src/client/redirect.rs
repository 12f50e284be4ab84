//! Redirect URIs: what may be registered, and when a requested one matches a registered one.
//!
//! Matching is exact string comparison (OAuth 2.1 §2.3.1, RFC 9700 §4.1.3), with one
//! exception: a loopback `http` URI may name any port (RFC 8252 §7.3), everything else exact.
//! Registration refuses what could turn the server into an open redirector or run code:
//! fragments (RFC 6749 §3.1.2), userinfo, wildcards, `javascript:`, `data:`, `file:`,
//! `vbscript:`; plain `http` is for loopback only (RFC 8252 §8.3). Native apps may register a
//! private-use scheme (`com.example.app:/cb`, `vscode://…`, RFC 8252 §7.1).

use std::fmt;

use serde::{Deserialize, Serialize};

/// The longest redirect URI accepted.
pub const MAX_REDIRECT_URI_LEN: usize = 2048;
/// The most redirect URIs one client may register.
pub const MAX_REDIRECT_URIS: usize = 16;

/// Schemes that run code or read local data in a browser, or carry the code in clear to
/// another protocol: never a redirect target.
const DANGEROUS_SCHEMES: [&str; 12] = [
    "javascript",
    "data",
    "file",
    "vbscript",
    "blob",
    "about",
    "filesystem",
    "view-source",
    "ftp",
    "ws",
    "wss",
    "gopher",
];

/// A port as written after the host: 1 to 65535 in decimal, no sign, no leading zero.
fn valid_port(port: &str) -> bool {
    !port.starts_with('0') && port.len() <= 5 && port.parse::<u16>().is_ok_and(|p| p > 0)
}

/// Hosts of the loopback interface, as RFC 8252 §7.3 lets native apps listen on them.
const LOOPBACK_HOSTS: [&str; 3] = ["127.0.0.1", "[::1]", "localhost"];

/// A registered redirect URI, checked by [`RedirectUri::register`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RedirectUri(String);

/// Why a redirect URI cannot be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadRedirectUri(pub String);

fn bad(message: impl Into<String>) -> BadRedirectUri {
    BadRedirectUri(message.into())
}

/// A URI split at its scheme and, for hierarchical ones, its authority.
struct Parts<'a> {
    scheme: &'a str,
    /// The authority (`host[:port]`, userinfo included) of a `scheme://` URI.
    authority: Option<&'a str>,
    /// What follows the authority (or the scheme's colon).
    rest: &'a str,
}

fn split(uri: &str) -> Option<Parts<'_>> {
    let (scheme, after) = uri.split_once(':')?;
    // RFC 3986 §3.1: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
    let mut chars = scheme.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) {
        return None;
    }
    match after.strip_prefix("//") {
        Some(hier) => {
            let end = hier.find(['/', '?', '#']).unwrap_or(hier.len());
            let (authority, rest) = hier.split_at(end);
            Some(Parts {
                scheme,
                authority: Some(authority),
                rest,
            })
        }
        None => Some(Parts {
            scheme,
            authority: None,
            rest: after,
        }),
    }
}

/// The host of an authority and its port (if any).
fn host_and_port(authority: &str) -> (&str, Option<&str>) {
    if authority.starts_with('[') {
        return match authority.find(']') {
            Some(end) => {
                let (host, after) = authority.split_at(end + 1);
                (host, after.strip_prefix(':'))
            }
            None => (authority, None),
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    }
}

/// A loopback `http` URI without its port: `(host, rest)`; `None` for anything else.
fn loopback(uri: &str) -> Option<(&str, &str)> {
    let parts = split(uri)?;
    if parts.scheme != "http" {
        return None;
    }
    let (host, port) = host_and_port(parts.authority?);
    if !LOOPBACK_HOSTS.contains(&host) {
        return None;
    }
    if port.is_some_and(|p| !valid_port(p)) {
        return None;
    }
    Some((host, parts.rest))
}

impl RedirectUri {
    /// Checks a redirect URI for registration.
    pub fn register(text: &str) -> Result<Self, BadRedirectUri> {
        if text.is_empty() || text.len() > MAX_REDIRECT_URI_LEN {
            return Err(bad(format!(
                "a redirect URI is 1 to {MAX_REDIRECT_URI_LEN} characters"
            )));
        }
        if text
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || !c.is_ascii())
        {
            return Err(bad(
                "no spaces, control or non-ASCII characters (percent-encode them)",
            ));
        }
        if text.contains('#') {
            return Err(bad(
                "a redirect URI must not have a fragment (RFC 6749 §3.1.2)",
            ));
        }
        if text.contains('\\') {
            return Err(bad(
                "a backslash is not allowed (browsers read it as a slash)",
            ));
        }
        if text.contains('*') {
            return Err(bad(
                "wildcards are not allowed: redirect URIs match exactly",
            ));
        }
        let parts = split(text).ok_or_else(|| bad("not an absolute URI with a scheme"))?;
        let scheme = parts.scheme.to_ascii_lowercase();
        if scheme != parts.scheme {
            return Err(bad("write the scheme in lowercase"));
        }
        if DANGEROUS_SCHEMES.contains(&scheme.as_str()) {
            return Err(bad(format!(
                "the {scheme}: scheme is never a redirect target"
            )));
        }
        if let Some(authority) = parts.authority {
            if authority.contains('@') {
                return Err(bad("a redirect URI must not carry userinfo (user@host)"));
            }
            if authority.contains('%') {
                return Err(bad("no percent-encoding or zone id in the host"));
            }
            if let (_, Some(port)) = host_and_port(authority) {
                if !valid_port(port) {
                    return Err(bad("a port is 1 to 65535, without leading zeros"));
                }
            }
        }
        match scheme.as_str() {
            "https" => {
                let authority = parts.authority.unwrap_or("");
                let (host, _) = host_and_port(authority);
                if host.is_empty() {
                    return Err(bad("an https redirect URI needs a host"));
                }
            }
            "http" => {
                if loopback(text).is_none() {
                    return Err(bad(
                        "http is for loopback only (http://127.0.0.1, http://[::1], \
                         http://localhost, RFC 8252 §7.3); use https",
                    ));
                }
            }
            // A private-use scheme of a native app (RFC 8252 §7.1): reverse-domain
            // (`com.example.app:/cb`), or naming the app's domain as authority, as editors do
            // (`vscode://vscode.github-authentication/cb`); never a bare word (`myapp:/cb`),
            // which any app could claim.
            _ => {
                let authority = parts.authority.unwrap_or("");
                if !scheme.contains('.') && !authority.contains('.') {
                    return Err(bad(
                        "a private-use scheme is a reversed domain name (com.example.app:/callback) \
                         or names the app's domain (vscode://publisher.extension/callback)",
                    ));
                }
                if parts.rest.is_empty() && authority.is_empty() {
                    return Err(bad(
                        "a private-use redirect URI needs a path, e.g. com.example.app:/callback",
                    ));
                }
            }
        }
        Ok(Self(text.to_owned()))
    }

    /// A registered URI as stored.
    pub fn from_stored(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The URI's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `requested` may be used where this URI is registered: the same string, or, for
    /// loopback `http`, the same string but for the port (RFC 8252 §7.3).
    pub fn matches(&self, requested: &str) -> bool {
        if self.0 == requested {
            return true;
        }
        match (loopback(&self.0), loopback(requested)) {
            (Some(registered), Some(asked)) => registered == asked,
            _ => false,
        }
    }

    /// The host a person is sent to, as the consent page shows it (the scheme for a native
    /// app's private-use URI).
    pub fn display_host(&self) -> &str {
        match split(&self.0) {
            Some(Parts {
                authority: Some(authority),
                ..
            }) if !authority.is_empty() => host_and_port(authority).0,
            Some(parts) => parts.scheme,
            None => &self.0,
        }
    }
}

/// What kind of app a self-registered client says it is (OpenID Connect Dynamic Client
/// Registration 1.0 §2 `application_type`, required in MCP registrations since SEP-837).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplicationType {
    /// A web application: its redirect URIs are https ones on a web host.
    Web,
    /// A native app on a device: loopback listeners and private-use schemes as well.
    Native,
}

impl ApplicationType {
    /// The registered value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Web => "web",
            Self::Native => "native",
        }
    }

    /// The type a registration declared (`declared`) or, when it declared none, the one its
    /// redirect URIs show: native when any of them is a loopback or private-use one (real client
    /// metadata documents omit `application_type` and register loopback URIs,
    /// shared/reference/mcp-auth.md §7.12), web otherwise. A declared `web` app may not register
    /// a loopback or private-use URI: its redirect URIs are https ones (OIDC Registration §2).
    /// A declared `native` app may mix https and loopback URIs (VS Code registers both).
    pub fn of(declared: Option<&str>, uris: &[RedirectUri]) -> Result<Self, BadRedirectUri> {
        let device_only = |u: &&RedirectUri| !u.as_str().starts_with("https://");
        match declared {
            None => Ok(if uris.iter().any(|u| device_only(&u)) {
                Self::Native
            } else {
                Self::Web
            }),
            Some("native") => Ok(Self::Native),
            Some("web") => match uris.iter().find(device_only) {
                Some(uri) => Err(bad(format!(
                    "{uri} is not an https URI, which a web application must use; register the \
                     client with application_type \"native\" for a loopback or private-use \
                     redirect URI"
                ))),
                None => Ok(Self::Web),
            },
            Some(other) => Err(bad(format!(
                "application_type {other:?} is not \"web\" or \"native\""
            ))),
        }
    }
}

impl fmt::Display for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_https_loopback_and_private_use_schemes() {
        for ok in [
            "https://app.example/cb",
            "https://app.example:8443/cb?x=1",
            "http://127.0.0.1/cb",
            "http://127.0.0.1:3000/callback",
            "http://[::1]:8080/cb",
            "http://localhost:33418/oauth/callback",
            "com.example.app:/oauth2redirect",
            "cursor://anysphere.cursor-retrieval/oauth/callback",
            "vscode://vscode.github-authentication/did-authenticate",
        ] {
            assert!(RedirectUri::register(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_fragments_userinfo_wildcards_dangerous_schemes_and_remote_http() {
        for bad in [
            "",
            "https://app.example/cb#frag",
            "https://user:pw@app.example/cb",
            "https://*.example/cb",
            "https://app.example/*",
            "javascript:alert(1)",
            "JAVASCRIPT:alert(1)",
            "data:text/html,<script>",
            "file:///etc/passwd",
            "vbscript:msgbox",
            "http://app.example/cb",
            "http://127.0.0.1.evil.example/cb",
            "http://localhost.evil.example/cb",
            "http://127.0.0.1:99999999/cb",
            "https:///cb",
            "https://app.example/c b",
            "https://app.example/\u{e9}",
            "relative/path",
            "/cb",
            "com.example.app:",
            "myapp:/cb",
            "myapp://cb",
            "https://evil.example\\.client.example/cb",
            "https://app.example:0/cb",
            "https://app.example:65536/cb",
            "https://app.example:080/cb",
            "https://app.example:-1/cb",
            "https://app.example:/cb",
            "https://[::1%eth0]/cb",
            "ftp://files.example/cb",
            "ws://127.0.0.1/cb",
            "http://127.0.0.1:0/cb",
        ] {
            assert!(RedirectUri::register(bad).is_err(), "{bad:?}");
        }
        assert!(RedirectUri::register(&format!("https://a.example/{}", "x".repeat(2048))).is_err());
    }

    #[test]
    fn matching_is_exact_except_the_loopback_port() {
        let https = RedirectUri::register("https://app.example/cb").unwrap();
        assert!(https.matches("https://app.example/cb"));
        for no in [
            "https://app.example/cb/",
            "https://app.example/cb?x=1",
            "https://APP.example/cb",
            "https://app.example:443/cb",
            "https://app.example/CB",
            "https://app.example/cb#x",
            "https://app.example.evil/cb",
            "https://app.example/cb/../cb",
            "https://app.example/%63b",
        ] {
            assert!(!https.matches(no), "{no}");
        }
        let native = RedirectUri::register("http://127.0.0.1/callback").unwrap();
        assert!(native.matches("http://127.0.0.1:51004/callback"));
        assert!(native.matches("http://127.0.0.1/callback"));
        for no in [
            "http://127.0.0.1:51004/callback2",
            "http://localhost:51004/callback",
            "http://[::1]:51004/callback",
            "https://127.0.0.1:51004/callback",
            "http://127.0.0.1:51004@evil.example/callback",
            "http://127.0.0.1:x/callback",
            "http://127.0.0.1:/callback",
            "http://127.0.0.1:0/callback",
            "http://127.0.0.1:080/callback",
            "http://127.0.0.1:65536/callback",
        ] {
            assert!(!native.matches(no), "{no}");
        }
        let v6 = RedirectUri::register("http://[::1]:1/cb").unwrap();
        assert!(v6.matches("http://[::1]:65535/cb"));
    }

    #[test]
    fn display_host_is_what_a_person_recognises() {
        let host = |u: &str| RedirectUri::register(u).unwrap().display_host().to_owned();
        assert_eq!(host("https://app.example:8443/cb"), "app.example");
        assert_eq!(host("http://[::1]:8080/cb"), "[::1]");
        assert_eq!(host("com.example.app:/cb"), "com.example.app");
        assert_eq!(
            host("cursor://anysphere.cursor-retrieval/cb"),
            "anysphere.cursor-retrieval"
        );
    }

    #[test]
    fn application_type_is_declared_or_inferred() {
        let uris = |list: &[&str]| -> Vec<RedirectUri> {
            list.iter()
                .map(|u| RedirectUri::register(u).unwrap())
                .collect()
        };
        let loopback = uris(&["http://127.0.0.1/callback", "https://app.example/cb"]);
        let web = uris(&["https://app.example/cb"]);
        let custom = uris(&["cursor://anysphere.cursor-mcp/oauth/callback"]);
        assert_eq!(
            ApplicationType::of(None, &loopback),
            Ok(ApplicationType::Native)
        );
        assert_eq!(
            ApplicationType::of(None, &custom),
            Ok(ApplicationType::Native)
        );
        assert_eq!(ApplicationType::of(None, &web), Ok(ApplicationType::Web));
        assert_eq!(
            ApplicationType::of(Some("native"), &loopback),
            Ok(ApplicationType::Native)
        );
        assert_eq!(
            ApplicationType::of(Some("web"), &web),
            Ok(ApplicationType::Web)
        );
        assert!(ApplicationType::of(Some("web"), &loopback).is_err());
        assert!(ApplicationType::of(Some("web"), &custom).is_err());
        assert!(ApplicationType::of(Some("browser"), &web).is_err());
    }
}
