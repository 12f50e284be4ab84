//! A strict check the claims parser does not make by itself: no member name may appear twice in
//! the top-level object (RFC 7515 §4, RFC 7519 §4, RFC 8725 §2.6). serde refuses duplicates of
//! the members it knows, but silently keeps the last of an unknown one; this catches both, with
//! names compared after unescaping (`"s\u0075b"` is `"sub"`).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};

/// The deepest nesting of arrays and objects a header or claims object may have. Access-token
/// claims need 2 (an `aud` array inside the object); anything deeper is refused (security
/// matrix §3.13), with a linear scan that cannot overflow a stack.
pub const MAX_DEPTH: usize = 8;

/// Whether `json` nests arrays and objects no deeper than `max` (strings are skipped, escapes
/// included). Only the depth is checked here; the parsers check the rest.
pub fn within_depth(json: &[u8], max: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in json {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return false;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    true
}

/// Whether `json` is an object whose member names are all distinct, nested no deeper than
/// [`MAX_DEPTH`].
pub fn has_unique_members(json: &[u8]) -> bool {
    if !within_depth(json, MAX_DEPTH) {
        return false;
    }
    let mut de = serde_json::Deserializer::from_slice(json);
    de.deserialize_map(UniqueMembers).is_ok() && de.end().is_ok()
}

struct UniqueMembers;

/// A member name, borrowed from the input when it has no escapes.
struct Name<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl<'de> Visitor<'de> for NameVisitor {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Name(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Name(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(NameVisitor)
    }
}

impl<'de> Visitor<'de> for UniqueMembers {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen: Vec<Name<'de>> = Vec::with_capacity(16);
        while let Some(name) = map.next_key::<Name<'de>>()? {
            if seen.iter().any(|s| s.0 == name.0) {
                return Err(de::Error::custom("duplicate member"));
            }
            seen.push(name);
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_known_unknown_and_escaped() {
        assert!(
            has_unique_members(br#"{"sub":"a","x":{"y":1,"y":2}}"#),
            "nested objects are the claim's business"
        );
        assert!(!has_unique_members(br#"{"sub":"a","sub":"b"}"#));
        assert!(!has_unique_members(br#"{"x":1,"y":2,"x":3}"#));
        assert!(!has_unique_members(br#"{"sub":"a","s\u0075b":"b"}"#));
        assert!(!has_unique_members(b"[1,2]"));
        assert!(!has_unique_members(br#"{"a":1} trailing"#));
        assert!(!has_unique_members(b"\xff"));
    }

    #[test]
    fn depth() {
        assert!(within_depth(br#"{"aud":["a","b"]}"#, 2));
        assert!(!within_depth(br#"{"x":[[1]]}"#, 2));
        assert!(
            within_depth(br#"{"x":"[[[[[[\"[[["}"#, 1),
            "brackets inside strings do not count"
        );
        assert!(!has_unique_members(
            format!("{{\"x\":{}1{}}}", "[".repeat(100), "]".repeat(100)).as_bytes()
        ));
    }
}
