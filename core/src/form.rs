//! Strict `application/x-www-form-urlencoded` parsing for the token, introspection and
//! revocation endpoints.
//!
//! Unlike a lenient decoder, a bad percent escape or a value that is not UTF-8 is an error, not a
//! replacement character. RFC 6749 §3.1 and §3.2: parameters sent without a value are treated as
//! omitted, and request parameters must not be included more than once (checked by
//! [`Form::single`] for each parameter an endpoint reads).

/// A parsed form body: name/value pairs in the order they came.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    pairs: Vec<(String, String)>,
}

/// The most parameters a form may carry.
pub const MAX_PARAMS: usize = 64;

/// Why a form body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    /// The body is not valid `application/x-www-form-urlencoded` UTF-8.
    #[error("malformed form body: {0}")]
    Malformed(&'static str),
    /// A parameter was sent more than once (RFC 6749 §3.2).
    #[error("parameter {0:?} is included more than once")]
    Duplicate(&'static str),
}

impl Form {
    /// Parses a form body strictly.
    pub fn parse(body: &[u8]) -> Result<Self, FormError> {
        let mut pairs = Vec::new();
        let mut start = 0;
        for end in memchr::memchr_iter(b'&', body).chain(std::iter::once(body.len())) {
            let segment = &body[start..end];
            start = end + 1;
            if segment.is_empty() {
                continue;
            }
            if pairs.len() == MAX_PARAMS {
                return Err(FormError::Malformed("too many parameters"));
            }
            let eq = memchr::memchr(b'=', segment)
                .ok_or(FormError::Malformed("a parameter has no '='"))?;
            let (name, value) = (&segment[..eq], &segment[eq + 1..]);
            pairs.push((decode(name)?, decode(value)?));
        }
        Ok(Self { pairs })
    }

    /// The one value of `name`, or `None` when it is absent or empty; an error when it is
    /// included more than once.
    pub fn single(&self, name: &'static str) -> Result<Option<&str>, FormError> {
        let mut found = self.pairs.iter().filter(|(n, _)| n == name);
        let first = found.next();
        if found.next().is_some() {
            return Err(FormError::Duplicate(name));
        }
        Ok(first.map(|(_, v)| v.as_str()).filter(|v| !v.is_empty()))
    }

    /// The form without the parameters named in `names`.
    pub fn without(&self, names: &[&str]) -> Self {
        Self {
            pairs: self
                .pairs
                .iter()
                .filter(|(n, _)| !names.contains(&n.as_str()))
                .cloned()
                .collect(),
        }
    }

    /// The form with `name=value` appended.
    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.pairs.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The form written back as `application/x-www-form-urlencoded`, every pair in order.
    pub fn encode(&self) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(self.pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())))
            .finish()
    }

    /// Every non-empty value of `name`, for parameters that may repeat (RFC 8707 `resource`).
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(n, v)| n == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }
}

/// [`decode`] of text, borrowing it when there is nothing to decode (no allocation).
pub fn decode_str(raw: &str) -> Result<std::borrow::Cow<'_, str>, FormError> {
    if memchr::memchr2(b'%', b'+', raw.as_bytes()).is_none() {
        return Ok(std::borrow::Cow::Borrowed(raw));
    }
    decode(raw.as_bytes()).map(std::borrow::Cow::Owned)
}

/// Decodes one form component: `+` is a space, `%XX` a byte, and the result must be UTF-8.
pub fn decode(raw: &[u8]) -> Result<String, FormError> {
    // Most components (tokens, ids, grant types) have nothing to decode: one copy and one check.
    if memchr::memchr2(b'%', b'+', raw).is_none() {
        return String::from_utf8(raw.to_vec()).map_err(|_| FormError::Malformed("not UTF-8"));
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = raw.get(i + 1).and_then(|&h| hex(h));
                let lo = raw.get(i + 2).and_then(|&l| hex(l));
                let (Some(hi), Some(lo)) = (hi, lo) else {
                    return Err(FormError::Malformed("bad percent escape"));
                };
                out.push(hi << 4 | lo);
                i += 2;
            }
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| FormError::Malformed("not UTF-8"))
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_plus_and_percent() {
        let form = Form::parse(b"grant_type=client_credentials&scope=a+b%20c&x=%E2%9C%93").unwrap();
        assert_eq!(
            form.single("grant_type").unwrap(),
            Some("client_credentials")
        );
        assert_eq!(form.single("scope").unwrap(), Some("a b c"));
        assert_eq!(form.single("x").unwrap(), Some("\u{2713}"));
        assert_eq!(form.single("missing").unwrap(), None);
    }

    #[test]
    fn empty_values_are_absent_and_duplicates_are_errors() {
        let form = Form::parse(b"scope=&a=1&a=2&resource=r1&resource=r2").unwrap();
        assert_eq!(form.single("scope").unwrap(), None);
        assert_eq!(form.single("a"), Err(FormError::Duplicate("a")));
        assert_eq!(form.all("resource").collect::<Vec<_>>(), ["r1", "r2"]);
    }

    #[test]
    fn malformed_bodies_are_refused() {
        for bad in [
            &b"a=%zz"[..],
            b"a=%2",
            b"a=%",
            b"novalue",
            b"a=%ff%fe",
            b"a=\xff",
        ] {
            assert!(
                matches!(Form::parse(bad), Err(FormError::Malformed(_))),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let many = (0..=MAX_PARAMS)
            .map(|i| format!("p{i}=1"))
            .collect::<Vec<_>>()
            .join("&");
        assert!(Form::parse(many.as_bytes()).is_err());
    }

    #[test]
    fn empty_body_and_stray_ampersands_are_fine() {
        assert_eq!(Form::parse(b"").unwrap(), Form::default());
        assert_eq!(
            Form::parse(b"&a=1&").unwrap().single("a").unwrap(),
            Some("1")
        );
    }
}
