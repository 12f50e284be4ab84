//! Canonical base64url without padding, as JWS requires (RFC 7515 §2, RFC 7515 Appendix C).
//!
//! Decoding is strict: padding, `+`/`/`, whitespace and non-zero trailing bits are all errors, so
//! every byte string has exactly one accepted encoding.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The input was not canonical base64url.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not canonical base64url")]
pub struct DecodeError;

/// Encodes bytes as base64url without padding.
pub fn encode(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Appends the base64url encoding of `bytes` to `out`.
pub fn encode_into(bytes: impl AsRef<[u8]>, out: &mut String) {
    URL_SAFE_NO_PAD.encode_string(bytes, out);
}

/// Decodes canonical base64url without padding.
pub fn decode(text: impl AsRef<[u8]>) -> Result<Vec<u8>, DecodeError> {
    // The engine's default config already refuses padding and non-zero trailing bits.
    URL_SAFE_NO_PAD.decode(text).map_err(|_| DecodeError)
}

/// Decodes into a caller-provided buffer, returning the number of bytes written.
pub fn decode_into(text: impl AsRef<[u8]>, out: &mut [u8]) -> Result<usize, DecodeError> {
    URL_SAFE_NO_PAD
        .decode_slice(text, out)
        .map_err(|_| DecodeError)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for len in 0..40 {
            let bytes: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(37)).collect();
            assert_eq!(decode(encode(&bytes)).unwrap(), bytes);
        }
    }

    #[test]
    fn rejects_non_canonical_forms() {
        assert_eq!(encode([0xfb, 0xff]), "-_8");
        assert!(decode("-_8=").is_err(), "padding");
        assert!(decode("+/8").is_err(), "standard alphabet");
        assert!(decode("-_ 8").is_err(), "whitespace");
        assert!(decode("-_9").is_err(), "non-zero trailing bits");
        assert!(decode("A").is_err(), "impossible length");
    }
}
