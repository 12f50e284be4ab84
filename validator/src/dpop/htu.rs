//! The comparison of a proof's `htu` with the request URL (RFC 9449 §4.3 item 9): both are
//! normalised as RFC 3986 §6.2.2 and §6.2.3 say (scheme and host in lowercase, the scheme's
//! default port dropped, percent-encoding and dot segments normalised, an empty path as `/`),
//! and the query and fragment are left out of the comparison.

use url::Url;

/// The normalised form of `url` compared for `htu`: `None` when it is not an absolute URL.
pub fn normalise(url: &str) -> Option<String> {
    let mut url = Url::parse(url).ok()?;
    if url.cannot_be_a_base() {
        return None;
    }
    url.set_query(None);
    url.set_fragment(None);
    let path = unreserved_decoded(url.path());
    url.set_path(&path);
    Some(url.into())
}

/// RFC 3986 §6.2.2.1, §6.2.2.2: percent-encoded unreserved characters decoded, the hex digits
/// of the others in uppercase.
fn unreserved_decoded(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let escaped = (b == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(c) if c.is_ascii_alphanumeric() || b"-._~".contains(&c) => {
                out.push(char::from(c));
                i += 3;
            }
            Some(c) => {
                out.push_str(&format!("%{c:02X}"));
                i += 3;
            }
            None => {
                out.push(char::from(b));
                i += 1;
            }
        }
    }
    out
}

/// Whether the proof's `htu` names the request URL `expected`.
pub fn same(htu: &str, expected: &str) -> bool {
    match (normalise(htu), normalise(expected)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalised_comparison() {
        let at = "https://as.example/token";
        for ok in [
            "https://as.example/token",
            "HTTPS://AS.EXAMPLE/token",
            "https://as.example:443/token",
            "https://as.example/token?x=1",
            "https://as.example/token#frag",
            "https://as.example/./token",
            "https://as.example/%74oken",
            "https://as.example/%74ok%65n",
        ] {
            assert!(same(ok, at), "{ok}");
        }
        for bad in [
            "https://as.example/Token",
            "http://as.example/token",
            "https://as.example:8443/token",
            "https://as.example/token/",
            "https://other.example/token",
            "/token",
            "",
            "mailto:a@as.example",
        ] {
            assert!(!same(bad, at), "{bad}");
        }
        assert!(same("http://127.0.0.1:80", "http://127.0.0.1/"));
        assert!(same("https://a.example/x%2fy", "https://a.example/x%2Fy"));
        assert!(!same("https://a.example/x%2Fy", "https://a.example/x/y"));
    }
}
