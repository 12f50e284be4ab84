//! Opaque access tokens: `gat_` + 256 random bits (base64url) + a CRC-32 checksum (base64url);
//! refresh tokens, the same under `grt_`.
//!
//! The prefix lets secret scanners find leaked tokens; the checksum lets garbage be rejected
//! without a store lookup. The checksum is not a security measure: the 256 random bits are.
//! Only the SHA-256 digest of a token is ever stored ([`SecretDigest`]).

use std::fmt;

use ring::digest;

use crate::b64;

/// The prefix of every opaque access token.
pub const PREFIX: &str = "gat_";
const RANDOM_BYTES: usize = 32;
const RANDOM_CHARS: usize = 43; // base64url of 32 bytes, no padding
const CHECKSUM_CHARS: usize = 6; // base64url of 4 bytes, no padding
/// The exact length of an opaque access token.
pub const LEN: usize = PREFIX.len() + RANDOM_CHARS + CHECKSUM_CHARS;

/// A well-formed opaque access token (its checksum verified).
#[derive(Clone, PartialEq, Eq)]
pub struct OpaqueToken(String);

/// The text is not a well-formed opaque access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a well-formed opaque access token")]
pub struct Malformed;

impl OpaqueToken {
    /// A token from 32 bytes of CSPRNG output.
    pub fn from_random(random: [u8; RANDOM_BYTES]) -> Self {
        Self(mint(PREFIX, random))
    }

    /// Whether `text` looks like an opaque token at all (by prefix), before any other check.
    pub fn has_prefix(text: &str) -> bool {
        text.starts_with(PREFIX)
    }

    /// Parses a token, checking length, alphabet and checksum; no lookup is involved.
    pub fn parse(text: &str) -> Result<Self, Malformed> {
        check(PREFIX, text).map(|()| Self(text.to_owned()))
    }

    /// The token text, to hand to the client once.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digest under which the token is stored.
    pub fn digest(&self) -> SecretDigest {
        SecretDigest::of(&self.0)
    }
}

/// A refresh token: the same format as an opaque access token under its own prefix, `grt_`, so
/// that one is never taken for the other and secret scanners tell them apart.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshTokenText(String);

/// The prefix of every refresh token.
pub const REFRESH_PREFIX: &str = "grt_";

impl RefreshTokenText {
    /// A token from 32 bytes of CSPRNG (or keyed-derivation) output.
    pub fn from_random(random: [u8; RANDOM_BYTES]) -> Self {
        Self(mint(REFRESH_PREFIX, random))
    }

    /// Parses a token, checking length, alphabet and checksum; no lookup is involved.
    pub fn parse(text: &str) -> Result<Self, Malformed> {
        check(REFRESH_PREFIX, text).map(|()| Self(text.to_owned()))
    }

    /// The token text, to hand to the client.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digest under which the token is stored.
    pub fn digest(&self) -> SecretDigest {
        SecretDigest::of(&self.0)
    }
}

impl fmt::Debug for RefreshTokenText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshTokenText([redacted])")
    }
}

/// `prefix` + base64url of `random` + base64url of the CRC-32 of what precedes it.
fn mint(prefix: &str, random: [u8; RANDOM_BYTES]) -> String {
    let mut text = String::with_capacity(LEN);
    text.push_str(prefix);
    b64::encode_into(random, &mut text);
    let checksum = crc32fast::hash(text.as_bytes()).to_be_bytes();
    b64::encode_into(checksum, &mut text);
    text
}

/// Checks length, prefix, alphabet and checksum of a token minted with `prefix`.
///
/// Works on bytes: the text is untrusted, so no slice of it may land inside a multi-byte
/// character (a non-ASCII byte anywhere fails the base64url alphabet instead).
fn check(prefix: &str, text: &str) -> Result<(), Malformed> {
    let bytes = text.as_bytes();
    if bytes.len() != LEN || !bytes.starts_with(prefix.as_bytes()) {
        return Err(Malformed);
    }
    let (body, checksum) = bytes.split_at(LEN - CHECKSUM_CHARS);
    let random_text = body.get(prefix.len()..).ok_or(Malformed)?;
    let mut random = [0u8; RANDOM_BYTES];
    let n = b64::decode_into(random_text, &mut random).map_err(|_| Malformed)?;
    let mut sum = [0u8; 4];
    let m = b64::decode_into(checksum, &mut sum).map_err(|_| Malformed)?;
    if n != RANDOM_BYTES || m != 4 || u32::from_be_bytes(sum) != crc32fast::hash(body) {
        return Err(Malformed);
    }
    Ok(())
}

impl fmt::Debug for OpaqueToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OpaqueToken([redacted])")
    }
}

/// SHA-256 of a secret's text: what is stored instead of the secret.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretDigest(pub [u8; 32]);

impl SecretDigest {
    /// The digest of `secret`.
    pub fn of(secret: &str) -> Self {
        let d = digest::digest(&digest::SHA256, secret.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        Self(out)
    }
}

impl fmt::Debug for SecretDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretDigest({})", b64::encode(&self.0[..6]))
    }
}

impl serde::Serialize for SecretDigest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&b64::encode(self.0))
    }
}

impl<'de> serde::Deserialize<'de> for SecretDigest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let mut out = [0u8; 32];
        match b64::decode_into(text.as_bytes(), &mut out) {
            Ok(32) => Ok(Self(out)),
            _ => Err(serde::de::Error::custom(
                "a digest is 32 bytes of base64url",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_parse() {
        let token = OpaqueToken::from_random([7; 32]);
        assert_eq!(token.as_str().len(), LEN);
        assert!(token.as_str().starts_with("gat_"));
        assert_eq!(OpaqueToken::parse(token.as_str()).unwrap(), token);
        assert_eq!(format!("{token:?}"), "OpaqueToken([redacted])");
    }

    #[test]
    fn truncated_altered_or_garbage_tokens_fail_the_checksum() {
        let text = OpaqueToken::from_random([9; 32]).as_str().to_owned();
        assert!(OpaqueToken::parse(&text[..LEN - 1]).is_err());
        assert!(OpaqueToken::parse(&format!("{text}A")).is_err());
        for i in PREFIX.len()..LEN {
            let mut bytes = text.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let altered = String::from_utf8(bytes).unwrap();
            assert!(OpaqueToken::parse(&altered).is_err(), "position {i}");
        }
        assert!(OpaqueToken::parse("gat_garbage").is_err());
        assert!(OpaqueToken::parse(&text.replacen("gat_", "gax_", 1)).is_err());
    }

    /// Issue 8, item 1: a multi-byte character across the checksum split made `str::split_at`
    /// panic (`gat_` + 42 × `A` + `é` + 5 × `A` is exactly `LEN` bytes long).
    #[test]
    fn non_ascii_of_the_right_length_is_malformed_not_a_panic() {
        let text = format!("gat_{}\u{e9}{}", "A".repeat(42), "A".repeat(5));
        assert_eq!(text.len(), LEN);
        assert_eq!(OpaqueToken::parse(&text), Err(Malformed));
        for c in ['\u{e9}', '\u{20ac}', '\u{1f600}'] {
            for at in 0..LEN {
                let mut t = "A".repeat(LEN);
                t.replace_range(..4, PREFIX);
                if at + c.len_utf8() <= LEN && at >= PREFIX.len() {
                    t.replace_range(at..at + c.len_utf8(), &c.to_string());
                    assert_eq!(OpaqueToken::parse(&t), Err(Malformed), "{c:?} at {at}");
                }
            }
        }
    }

    #[test]
    fn refresh_tokens_have_their_own_prefix_and_never_parse_as_access_tokens() {
        let refresh = RefreshTokenText::from_random([7; 32]);
        assert!(refresh.as_str().starts_with("grt_"));
        assert_eq!(refresh.as_str().len(), LEN);
        assert_eq!(RefreshTokenText::parse(refresh.as_str()).unwrap(), refresh);
        assert_eq!(OpaqueToken::parse(refresh.as_str()), Err(Malformed));
        let access = OpaqueToken::from_random([7; 32]);
        assert_eq!(RefreshTokenText::parse(access.as_str()), Err(Malformed));
        let swapped = refresh.as_str().replacen("grt_", "gat_", 1);
        assert_eq!(
            OpaqueToken::parse(&swapped),
            Err(Malformed),
            "the checksum covers the prefix"
        );
        assert_eq!(format!("{refresh:?}"), "RefreshTokenText([redacted])");
    }

    #[test]
    fn digests_differ_per_token() {
        let a = OpaqueToken::from_random([1; 32]);
        let b = OpaqueToken::from_random([2; 32]);
        assert_ne!(a.digest(), b.digest());
        assert_eq!(a.digest(), SecretDigest::of(a.as_str()));
    }
}
