//! User codes (RFC 8628 §6.1): 8 characters from the 20 consonants `BCDFGHJKLMNPQRSTVWXZ`
//! (no vowels, so no words; no digits, so no `0`/`O` or `1`/`I` to confuse), about 34.5 bits,
//! shown in two groups of four (`BDWP-HQPK`), and compared ignoring case, dashes and spaces.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ports::Random;

/// The alphabet of user codes (RFC 8628 §6.1: base-20, consonants only).
pub const ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
/// Characters in a user code.
pub const LEN: usize = 8;
/// The longest input [`UserCode::parse`] looks at: a code with generous separators.
pub const MAX_INPUT: usize = 32;

/// A user code, normalised: exactly [`LEN`] characters of [`ALPHABET`].
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserCode([u8; LEN]);

impl UserCode {
    /// A fresh code from `random`: each character uniform over the alphabet (bytes ≥ 240 are
    /// thrown away, so `% 20` has no bias).
    pub fn generate(random: &dyn Random) -> Self {
        let mut code = [0u8; LEN];
        let mut filled = 0;
        let mut buf = [0u8; 16];
        while filled < LEN {
            random.fill(&mut buf);
            for b in buf {
                if filled < LEN && b < 240 {
                    code[filled] = ALPHABET[usize::from(b % 20)];
                    filled += 1;
                }
            }
        }
        Self(code)
    }

    /// What a person typed, normalised (RFC 8628 §6.1): ASCII letters in any case, dashes and
    /// white space ignored; `None` unless exactly [`LEN`] alphabet characters remain. Input
    /// longer than [`MAX_INPUT`] is refused unread.
    pub fn parse(typed: &str) -> Option<Self> {
        if typed.len() > MAX_INPUT {
            return None;
        }
        let mut code = [0u8; LEN];
        let mut n = 0;
        for b in typed.bytes() {
            if b == b'-' || b.is_ascii_whitespace() {
                continue;
            }
            let upper = b.to_ascii_uppercase();
            if n == LEN || !ALPHABET.contains(&upper) {
                return None;
            }
            code[n] = upper;
            n += 1;
        }
        (n == LEN).then_some(Self(code))
    }

    /// The code without grouping, e.g. `BDWPHQPK` (what is stored and compared).
    pub fn as_str(&self) -> &str {
        // Only alphabet bytes are ever stored: always ASCII.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The code as people see it: two groups of four, `BDWP-HQPK`.
    pub fn display(&self) -> String {
        let s = self.as_str();
        format!("{}-{}", &s[..LEN / 2], &s[LEN / 2..])
    }
}

impl fmt::Display for UserCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display())
    }
}

impl fmt::Debug for UserCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserCode({})", self.display())
    }
}

impl Serialize for UserCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for UserCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).ok_or_else(|| serde::de::Error::custom("not a user code"))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::testing::CountingRandom;

    /// Security matrix §7 item 1: whatever the bytes, only the alphabet (bytes of 240 and
    /// more, which would bias `% 20`, are skipped).
    #[test]
    fn generated_codes_use_only_the_alphabet() {
        struct Constant(u8);
        impl Random for Constant {
            fn fill(&self, out: &mut [u8]) {
                out.fill(self.0);
            }
        }
        struct Cycle(std::sync::atomic::AtomicU8);
        impl Random for Cycle {
            fn fill(&self, out: &mut [u8]) {
                for b in out {
                    *b = self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }
        assert_eq!(UserCode::generate(&Constant(0)).as_str(), "BBBBBBBB");
        assert_eq!(UserCode::generate(&Constant(239)).as_str(), "ZZZZZZZZ");
        let cycle = Cycle(std::sync::atomic::AtomicU8::new(230));
        // 230..=239 give the last ten letters, 240..=255 are skipped, then 0.. again.
        assert_eq!(UserCode::generate(&cycle).as_str(), "NPQRSTVW");
        let random = CountingRandom::default();
        for _ in 0..1_000 {
            let code = UserCode::generate(&random);
            assert!(
                code.as_str().bytes().all(|b| ALPHABET.contains(&b)),
                "{code:?}"
            );
            assert_eq!(code.as_str().len(), LEN);
        }
    }

    #[test]
    fn generated_codes_come_from_real_randomness_uniformly() {
        struct Os(ring::rand::SystemRandom);
        impl Random for Os {
            fn fill(&self, out: &mut [u8]) {
                ring::rand::SecureRandom::fill(&self.0, out).unwrap();
            }
        }
        let random = Os(ring::rand::SystemRandom::new());
        let mut counts = [0u32; 20];
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            let code = UserCode::generate(&random);
            for b in code.as_str().bytes() {
                let i = ALPHABET.iter().position(|a| *a == b).unwrap();
                counts[i] += 1;
            }
            seen.insert(code);
        }
        assert_eq!(seen.len(), 10_000, "no collisions among 10^4 of 20^8");
        // 80 000 characters over 20 letters: 4 000 each, far from 3 000 or 5 000.
        assert!(
            counts.iter().all(|c| (3_000..5_000).contains(c)),
            "{counts:?}"
        );
    }

    /// Security matrix §7 item 3.
    #[test]
    fn typed_codes_are_normalised() {
        let code = UserCode::parse("WDJBMJHT").unwrap();
        for same in [
            "wdjb-mjht",
            "WDJB-MJHT",
            " wdjb mjht ",
            "w-d-j-b-m-j-h-t",
            "WdJbMjHt",
        ] {
            assert_eq!(UserCode::parse(same), Some(code.clone()), "{same}");
        }
        assert_eq!(code.display(), "WDJB-MJHT");
        assert_eq!(code.to_string(), "WDJB-MJHT");
        for bad in [
            "",
            "WDJBMJH",
            "WDJBMJHTX",
            "WDJBMJH0",
            "AEIOUAEI",
            "WDJB_MJHT",
            "WDJBMJHÉ",
            "ＷDJBMJHT",
            &"-".repeat(1_000),
            &format!("WDJBMJHT{}", " ".repeat(40)),
        ] {
            assert_eq!(UserCode::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn serde_keeps_the_normalised_code() {
        let code = UserCode::parse("bdwp-hqpk").unwrap();
        let json = serde_json::to_string(&code).unwrap();
        assert_eq!(json, "\"BDWPHQPK\"");
        assert_eq!(serde_json::from_str::<UserCode>(&json).unwrap(), code);
        assert!(serde_json::from_str::<UserCode>("\"AAAAAAAA\"").is_err());
    }
}
