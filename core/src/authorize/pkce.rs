//! PKCE (RFC 7636) with `S256` only (OAuth 2.1 §4.1.1, RFC 9700 §2.1.1): `plain` and a missing
//! challenge are refused, so a stolen code is useless without the verifier.

use ring::digest;
use subtle::ConstantTimeEq;

use gatehouse_token::b64;

/// The one method accepted.
pub const METHOD: &str = "S256";

/// RFC 7636 §4.1 and §4.2: 43 to 128 characters of `ALPHA / DIGIT / "-" / "." / "_" / "~"`.
fn well_formed(text: &str) -> bool {
    (43..=128).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// A `code_challenge`, checked for syntax (RFC 7636 §4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeChallenge(String);

impl CodeChallenge {
    /// Checks a challenge sent with `code_challenge_method=S256`.
    pub fn parse(text: &str) -> Option<Self> {
        well_formed(text).then(|| Self(text.to_owned()))
    }

    /// A challenge as stored with a code.
    pub fn from_stored(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The challenge's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `verifier` is well-formed (RFC 7636 §4.1) and `BASE64URL(SHA256(verifier))`
    /// equals the challenge (§4.6), compared in constant time.
    pub fn verify(&self, verifier: &str) -> bool {
        if !well_formed(verifier) {
            return false;
        }
        let hash = digest::digest(&digest::SHA256, verifier.as_bytes());
        let computed = b64::encode(hash.as_ref());
        computed.as_bytes().ct_eq(self.0.as_bytes()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7636 Appendix B.
    #[test]
    fn the_rfc_7636_example() {
        let challenge =
            CodeChallenge::parse("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM").unwrap();
        assert!(challenge.verify("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
        assert!(!challenge.verify("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK"));
        assert!(!challenge.verify("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
    }

    #[test]
    fn syntax_is_43_to_128_unreserved_characters() {
        assert!(CodeChallenge::parse(&"a".repeat(43)).is_some());
        assert!(CodeChallenge::parse(&"a".repeat(128)).is_some());
        assert!(CodeChallenge::parse(&"a".repeat(42)).is_none());
        assert!(CodeChallenge::parse(&"a".repeat(129)).is_none());
        assert!(CodeChallenge::parse(&format!("{}+", "a".repeat(42))).is_none());
        assert!(CodeChallenge::parse(&format!("{}=", "a".repeat(42))).is_none());
        assert!(CodeChallenge::parse(&format!("{}\u{e9}", "a".repeat(42))).is_none());
        let challenge = CodeChallenge::parse(&"a".repeat(43)).unwrap();
        assert!(
            !challenge.verify("short"),
            "a short verifier is refused before hashing"
        );
    }
}
