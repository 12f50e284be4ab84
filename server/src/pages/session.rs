//! The browser's session cookie and the CSRF tokens of the forms.
//!
//! Every browser that reaches a sign-in page gets a cookie with 256 random bits. Before sign-in
//! it is stored nowhere: it only anchors the CSRF token of the sign-in form, an HMAC of the
//! cookie under a server key (a synchronizer token bound to the session, OWASP CSRF Prevention
//! Cheat Sheet, without state for visitors who never sign in). At sign-in the browser gets a
//! fresh cookie (no session fixation), whose digest keys the stored [`Session`].
//!
//! The cookie is `HttpOnly`, `SameSite=Lax`, path `/`, and, when the issuer is https,
//! `Secure` and named with the `__Host-` prefix (RFC 6265bis §4.1.3.2); on a plain-http
//! loopback issuer (development) it can be neither.

use axum::http::{HeaderMap, HeaderValue, header};
use gatehouse_core::ports::{Random, random_bytes};
use gatehouse_core::store::Session;
use gatehouse_token::{SecretDigest, UnixTime, b64};
use ring::hmac;
use subtle::ConstantTimeEq;

/// The cookie's name on an https issuer.
pub const SECURE_NAME: &str = "__Host-gatehouse";
/// The cookie's name on a plain-http (loopback development) issuer.
pub const PLAIN_NAME: &str = "gatehouse";

/// How the cookie is written, and the key of the CSRF tokens.
#[derive(Clone)]
pub struct Cookies {
    secure: bool,
    lifetime: u64,
    csrf_key: hmac::Key,
}

impl std::fmt::Debug for Cookies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cookies")
            .field("secure", &self.secure)
            .finish_non_exhaustive()
    }
}

/// A browser's cookie value (256 random bits, base64url).
#[derive(Clone, PartialEq, Eq)]
pub struct BrowserId(String);

impl std::fmt::Debug for BrowserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BrowserId([redacted])")
    }
}

impl BrowserId {
    /// A fresh id.
    pub fn generate(random: &dyn Random) -> Self {
        Self(b64::encode(random_bytes::<32>(random)))
    }

    /// The digest a signed-in session is stored under.
    pub fn digest(&self) -> SecretDigest {
        SecretDigest::of(&self.0)
    }
}

/// A signed-in session found for a browser.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The browser.
    pub browser: BrowserId,
    /// The session.
    pub session: Session,
}

impl Cookies {
    /// Cookies for an issuer (`Secure` and `__Host-` when it is https), lasting `lifetime`
    /// seconds, with CSRF tokens under `csrf_key`.
    pub fn new(issuer: &str, lifetime: u64, csrf_key: [u8; 32]) -> Self {
        Self {
            secure: issuer.starts_with("https://"),
            lifetime,
            csrf_key: hmac::Key::new(hmac::HMAC_SHA256, &csrf_key),
        }
    }

    fn name(&self) -> &'static str {
        if self.secure { SECURE_NAME } else { PLAIN_NAME }
    }

    /// The browser's id from its `Cookie` headers, if it sent a well-formed one.
    pub fn browser(&self, headers: &HeaderMap) -> Option<BrowserId> {
        let name = self.name();
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(n, _)| *n == name)
            .map(|(_, value)| value)
            .filter(|v| v.len() == 43 && b64::decode(v).is_ok_and(|b| b.len() == 32))
            .map(|v| BrowserId(v.to_owned()))
    }

    /// The `Set-Cookie` value that gives the browser `id`.
    pub fn set(&self, id: &BrowserId) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        let text = format!(
            "{}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
            self.name(),
            id.0,
            self.lifetime
        );
        HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// The `Set-Cookie` value that removes the cookie.
    pub fn clear(&self) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        let text = format!(
            "{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}",
            self.name()
        );
        HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// The CSRF token of a form shown to `browser` that carries `request` (the authorization or
    /// sign-out request the form posts back): bound to both, so that a token of one form cannot
    /// post another request, even in the same browser.
    pub fn csrf(&self, browser: &BrowserId, request: &str) -> String {
        let message = format!("csrf:{}\n{request}", browser.0);
        b64::encode(hmac::sign(&self.csrf_key, message.as_bytes()).as_ref())
    }

    /// `text` sealed for `browser` until `expires_at`: `pushed.<expiry>.<mac>.<text>`, the MAC
    /// under the server key covering all three. A pushed authorization request's parameters
    /// travel through the pages' forms this way: no post can pass off parameters of its own as
    /// pushed ones, nor use a seal in another browser or after it expired.
    pub fn seal(&self, text: &str, browser: &BrowserId, expires_at: UnixTime) -> String {
        let mac = self.seal_mac(text, browser, expires_at);
        format!(
            "pushed.{}.{}.{text}",
            expires_at.0,
            b64::encode(mac.as_ref())
        )
    }

    /// What [`Cookies::seal`] sealed for `browser`, if `sealed` is one of its seals and has not
    /// expired at `now`; `None` for anything else.
    pub fn unseal<'a>(
        &self,
        sealed: &'a str,
        browser: &BrowserId,
        now: UnixTime,
    ) -> Option<&'a str> {
        let (expiry, rest) = sealed.strip_prefix("pushed.")?.split_once('.')?;
        let (mac, text) = rest.split_once('.')?;
        let expires_at = UnixTime(expiry.parse().ok()?);
        let mac = b64::decode(mac).ok()?;
        let expected = self.seal_mac(text, browser, expires_at);
        let ok: bool = expected.as_ref().ct_eq(mac.as_slice()).into();
        (ok && now < expires_at).then_some(text)
    }

    fn seal_mac(&self, text: &str, browser: &BrowserId, expires_at: UnixTime) -> hmac::Tag {
        let message = format!("pushed:{}:{}:{text}", browser.0, expires_at.0);
        hmac::sign(&self.csrf_key, message.as_bytes())
    }

    /// Whether `token` is the CSRF token of `browser` and `request`, compared in constant time.
    pub fn csrf_matches(&self, browser: &BrowserId, request: &str, token: &str) -> bool {
        self.csrf(browser, request)
            .as_bytes()
            .ct_eq(token.as_bytes())
            .into()
    }
}

#[cfg(test)]
mod tests {
    use gatehouse_core::testing::CountingRandom;

    use super::*;

    fn headers(cookie: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_str(cookie).unwrap());
        h
    }

    #[test]
    fn https_issuers_get_host_prefixed_secure_cookies() {
        let cookies = Cookies::new("https://as.example", 600, [1; 32]);
        let id = BrowserId::generate(&CountingRandom::default());
        let set = cookies.set(&id);
        let set = set.to_str().unwrap();
        assert!(set.starts_with("__Host-gatehouse="), "{set}");
        for part in [
            "Path=/",
            "HttpOnly",
            "SameSite=Lax",
            "Max-Age=600",
            "Secure",
        ] {
            assert!(set.contains(part), "{set} lacks {part}");
        }
        assert!(!set.contains("Domain"), "__Host- cookies have no Domain");
        let value = set.split(';').next().unwrap();
        let back = cookies
            .browser(&headers(&format!("other=1; {value}")))
            .unwrap();
        assert_eq!(back, id);
        let plain = Cookies::new("http://127.0.0.1:8080", 600, [1; 32]);
        let set = plain.set(&id);
        assert!(!set.to_str().unwrap().contains("Secure"));
        assert!(set.to_str().unwrap().starts_with("gatehouse="));
        assert!(
            cookies
                .browser(&headers(&format!("gatehouse={}", id.0)))
                .is_none(),
            "names differ"
        );
    }

    #[test]
    fn malformed_cookies_are_no_browser() {
        let cookies = Cookies::new("https://as.example", 600, [1; 32]);
        for bad in [
            "__Host-gatehouse=short",
            "__Host-gatehouse=",
            "__Host-gatehouse",
            &format!("__Host-gatehouse={}", "é".repeat(22)),
        ] {
            assert!(cookies.browser(&headers(bad)).is_none(), "{bad}");
        }
    }

    #[test]
    fn seals_open_only_in_their_browser_before_they_expire() {
        let cookies = Cookies::new("https://as.example", 600, [1; 32]);
        let random = CountingRandom::default();
        let (a, b) = (BrowserId::generate(&random), BrowserId::generate(&random));
        let sealed = cookies.seal("client_id=a&state=b", &a, UnixTime(100));
        let open = |s: &str, who: &BrowserId, now: u64| {
            cookies.unseal(s, who, UnixTime(now)).map(str::to_owned)
        };
        assert_eq!(
            open(&sealed, &a, 99).as_deref(),
            Some("client_id=a&state=b")
        );
        assert_eq!(open(&sealed, &a, 100), None, "expired");
        assert_eq!(open(&sealed, &b, 99), None, "another browser");
        assert_eq!(open(&sealed.replace("state=b", "state=c"), &a, 99), None);
        assert_eq!(
            open(&sealed.replace("pushed.100.", "pushed.900."), &a, 99),
            None
        );
        assert_eq!(open("client_id=a", &a, 0), None);
        assert_eq!(open("pushed.x.client_id=a", &a, 0), None);
        let other_key = Cookies::new("https://as.example", 600, [2; 32]);
        assert_eq!(other_key.unseal(&sealed, &a, UnixTime(99)), None);
    }

    #[test]
    fn csrf_tokens_are_bound_to_the_browser_the_request_and_the_key() {
        let cookies = Cookies::new("https://as.example", 600, [1; 32]);
        let random = CountingRandom::default();
        let (a, b) = (BrowserId::generate(&random), BrowserId::generate(&random));
        let token = cookies.csrf(&a, "client_id=x&state=1");
        assert!(cookies.csrf_matches(&a, "client_id=x&state=1", &token));
        assert!(!cookies.csrf_matches(&b, "client_id=x&state=1", &token));
        assert!(
            !cookies.csrf_matches(&a, "client_id=y&state=1", &token),
            "another request"
        );
        assert!(!cookies.csrf_matches(&a, "client_id=x&state=1", ""));
        let other_key = Cookies::new("https://as.example", 600, [2; 32]);
        assert!(!other_key.csrf_matches(&a, "client_id=x&state=1", &token));
    }
}
