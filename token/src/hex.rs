//! Hexadecimal, as PKCS#11 object ids (`CKA_ID`) are written in configuration, key labels and the
//! store.
//!
//! Encoding is lower-case. Decoding is strict: an even number of ASCII hex digits (either case)
//! and nothing else, so no sign, no `0x` prefix, no whitespace and no separators.

/// The input was not hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not hex: an even number of hex digits expected")]
pub struct DecodeError;

/// Encodes bytes as lower-case hex.
pub fn encode(bytes: impl AsRef<[u8]>) -> String {
    let bytes = bytes.as_ref();
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(nibble(b >> 4));
        out.push(nibble(b & 0x0f));
    }
    out
}

/// The lower-case digit of a value below 16.
fn nibble(n: u8) -> char {
    char::from(if n < 10 { b'0' + n } else { b'a' + (n - 10) })
}

/// Decodes lower- or upper-case hex.
pub fn decode(text: impl AsRef<[u8]>) -> Result<Vec<u8>, DecodeError> {
    text.as_ref()
        .chunks(2)
        .map(|pair| match *pair {
            [hi, lo] => Ok((digit(hi)? << 4) | digit(lo)?),
            _ => Err(DecodeError),
        })
        .collect()
}

fn digit(c: u8) -> Result<u8, DecodeError> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(DecodeError),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(decode(encode(&all)).unwrap(), all);
        assert_eq!(encode([0, 0xab, 0x10]), "00ab10");
        assert_eq!(encode(b""), "");
        assert_eq!(decode("").unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn either_case_decodes() {
        assert_eq!(decode("00AB10").unwrap(), [0, 0xab, 0x10]);
        assert_eq!(decode("aBcD").unwrap(), [0xab, 0xcd]);
    }

    #[test]
    fn odd_lengths_are_refused() {
        assert_eq!(decode("abc"), Err(DecodeError));
        assert_eq!(decode("a"), Err(DecodeError));
    }

    #[test]
    fn only_hex_digits() {
        for bad in [
            "zz", "0g", "+a", "-a", "+0+0", " a", "a ", "0x0a", "0a:0b", "\0\0",
        ] {
            assert_eq!(decode(bad), Err(DecodeError), "{bad:?}");
        }
    }

    #[test]
    fn non_ascii_is_refused_without_panicking() {
        // Even byte lengths whose pairs cut through a character, and whole characters.
        for bad in [
            "é",
            "aé",
            "éa",
            "ab\u{00e9}",
            "€a",
            "😀",
            "０１",
            "\u{ff}\u{ff}",
        ] {
            assert_eq!(decode(bad), Err(DecodeError), "{bad:?}");
        }
        assert_eq!(decode([0xff, 0xfe]), Err(DecodeError));
    }
}
