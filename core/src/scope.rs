//! Scopes (RFC 6749 §3.3): a set of scope tokens, each of
//! `1*( %x21 / %x23-5B / %x5D-7E )`, written space-delimited.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A set of scope tokens, kept sorted so the same set always prints the same way.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Scope(BTreeSet<String>);

/// The text is not a valid scope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
// Words, not the characters themselves: an `error_description` may not carry `"` or `\`
// (RFC 6749 §5.2), and replacing them made the message read "without ''' or '''".
#[error(
    "scope must be space-delimited tokens of printable ASCII, without double quotes or backslashes"
)]
pub struct InvalidScope;

impl Scope {
    /// The empty scope.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Whether no token is in the scope.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether every token of `self` is in `allowed`.
    pub fn is_subset(&self, allowed: &Self) -> bool {
        self.0.is_subset(&allowed.0)
    }

    /// The tokens of `self` that `allowed` lacks.
    pub fn excess<'a>(&'a self, allowed: &'a Self) -> impl Iterator<Item = &'a str> + 'a {
        self.0.difference(&allowed.0).map(String::as_str)
    }

    /// The tokens, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// Whether `token` is in the scope.
    pub fn contains(&self, token: &str) -> bool {
        self.0.contains(token)
    }

    /// The tokens of `self` and `other` together.
    pub fn union(&self, other: &Self) -> Self {
        Self(self.0.union(&other.0).cloned().collect())
    }
}

fn is_scope_char(c: char) -> bool {
    matches!(c, '\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e')
}

impl FromStr for Scope {
    type Err = InvalidScope;

    /// Tokens are separated by single spaces; the empty string is the empty scope.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Ok(Self::empty());
        }
        let mut set = BTreeSet::new();
        for token in s.split(' ') {
            if token.is_empty() || !token.chars().all(is_scope_char) {
                return Err(InvalidScope);
            }
            set.insert(token.to_owned());
        }
        Ok(Self(set))
    }
}

impl TryFrom<String> for Scope {
    type Error = InvalidScope;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Scope> for String {
    fn from(scope: Scope) -> Self {
        scope.to_string()
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for token in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(token)?;
            first = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_sorted() {
        let scope: Scope = "write read read".parse().unwrap();
        assert_eq!(scope.to_string(), "read write");
        assert_eq!("".parse::<Scope>().unwrap(), Scope::empty());
    }

    #[test]
    fn rejects_bad_grammar() {
        for bad in [
            "a  b",
            " a",
            "a ",
            "a\"b",
            "a\\b",
            "caf\u{e9}",
            "a\tb",
            "a\nb",
        ] {
            assert!(bad.parse::<Scope>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_error_message_needs_no_sanitising() {
        // RFC 6749 §5.2: error_description is %x20-21 / %x23-5B / %x5D-7E.
        let message = InvalidScope.to_string();
        assert!(
            message
                .chars()
                .all(|c| matches!(c, '\x20'..='\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e')),
            "{message}"
        );
    }

    #[test]
    fn subset_and_excess() {
        let allowed: Scope = "a b c".parse().unwrap();
        let asked: Scope = "a d".parse().unwrap();
        assert!(!asked.is_subset(&allowed));
        assert_eq!(asked.excess(&allowed).collect::<Vec<_>>(), ["d"]);
        assert!(Scope::empty().is_subset(&allowed));
    }
}
