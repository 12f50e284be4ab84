//! The people who sign in: accounts with argon2id password hashes.
//!
//! A user has a stable, random [`UserId`] (the `sub` of their tokens, never reused, never
//! derived from the name) and a [`Username`] they sign in with. Passwords are stored only as
//! argon2id hashes with OWASP's parameters ([`PasswordHash`]); an unknown username is answered
//! after a verification of the same cost ([`PasswordHash::verify_dummy`]), so timing does not
//! tell which usernames exist.

use std::fmt;

use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use gatehouse_token::{UnixTime, b64};
use serde::{Deserialize, Serialize};

use crate::ports::{Random, random_bytes};

/// The longest username accepted.
pub const MAX_USERNAME_LEN: usize = 64;
/// The shortest password accepted at creation (NIST SP 800-63B §5.1.1.2: at least 8).
pub const MIN_PASSWORD_LEN: usize = 8;
/// The longest password accepted (argon2 takes any length; this bounds the work a request
/// can ask for).
pub const MAX_PASSWORD_LEN: usize = 1024;

/// A user's stable identifier: 128 random bits, base64url; the `sub` of their tokens.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(String);

impl UserId {
    /// A fresh id.
    pub fn generate(random: &dyn Random) -> Self {
        Self(b64::encode(random_bytes::<16>(random)))
    }

    /// An id as stored or carried in a token.
    pub fn from_stored(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The id's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The name a user signs in with: 1 to 64 characters, no whitespace or control characters,
/// compared without regard to case (kept in Unicode lowercase).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

/// Why a username or password was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    /// The username breaks the rules of [`Username`].
    #[error(
        "a username is 1 to {MAX_USERNAME_LEN} characters without whitespace or control characters"
    )]
    BadUsername,
    /// The password is too short or too long.
    #[error("a password is {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} bytes")]
    BadPassword,
    /// Hashing failed (never expected with fixed parameters).
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// Characters that show nothing (zero-width, soft hyphen, bidirectional controls): a name
/// with one would look like another's.
pub(crate) fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
    )
}

impl Username {
    /// A username, checked and lowercased.
    pub fn new(text: &str) -> Result<Self, UserError> {
        // The bound applies to the lowercased text (lowercasing may lengthen it), so a stored
        // username always reads back.
        let lower = text
            .chars()
            .take(MAX_USERNAME_LEN + 1)
            .collect::<String>()
            .to_lowercase();
        let ok = !text.is_empty()
            && lower.chars().count() <= MAX_USERNAME_LEN
            && text.chars().count() <= MAX_USERNAME_LEN
            && lower
                .chars()
                .all(|c| !c.is_control() && !c.is_whitespace() && !invisible(c));
        if !ok {
            return Err(UserError::BadUsername);
        }
        Ok(Self(lower))
    }

    /// The username's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Username {
    type Error = UserError;

    fn try_from(text: String) -> Result<Self, UserError> {
        Self::new(&text)
    }
}

impl From<Username> for String {
    fn from(u: Username) -> Self {
        u.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An argon2id hash in PHC string form (`$argon2id$v=19$m=19456,t=2,p=1$…`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PasswordHash(String);

/// OWASP Password Storage Cheat Sheet, argon2id: m = 19 MiB, t = 2, p = 1.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A fixed hash of a password nobody has, verified in place of an unknown user's.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$Z2F0ZWhvdXNlLWR1bW15$qkpcXhBo6sF6SHB6bXgQ9/ebjnxIp1jUlPR6vO4Qd5I";

impl PasswordHash {
    /// Hashes `password` with a fresh 128-bit salt. Costs ~20 MiB and tens of milliseconds:
    /// call it off the async workers.
    pub fn new(password: &str, random: &dyn Random) -> Result<Self, UserError> {
        if password.len() < MIN_PASSWORD_LEN || password.len() > MAX_PASSWORD_LEN {
            return Err(UserError::BadPassword);
        }
        let salt = SaltString::encode_b64(&random_bytes::<16>(random))
            .map_err(|e| UserError::Hash(e.to_string()))?;
        let hash = argon2()
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| UserError::Hash(e.to_string()))?;
        Ok(Self(hash.to_string()))
    }

    /// Whether `password` matches, in the time argon2 takes (constant in the password).
    pub fn verify(&self, password: &str) -> bool {
        if password.len() > MAX_PASSWORD_LEN {
            return false;
        }
        match argon2::password_hash::PasswordHash::new(&self.0) {
            Ok(parsed) => argon2()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok(),
            Err(_) => false,
        }
    }

    /// A verification that always fails, at the cost of a real one: what an unknown username
    /// gets, so that it answers in the same time as a wrong password.
    pub fn verify_dummy(password: &str) -> bool {
        std::hint::black_box(Self(DUMMY_HASH.to_owned()).verify(password));
        false
    }

    /// The PHC string (stored; not a secret that grants anything, but not shown either).
    pub fn as_phc(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash([redacted])")
    }
}

/// A change to an account, applied by the store atomically ([`crate::store::UserStore::change`]):
/// two operators' changes at once never undo each other (a password change cannot re-enable an
/// account disabled in the meantime).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserChange {
    /// A new password hash.
    Password(PasswordHash),
    /// Disable (`true`) or enable (`false`) the account.
    Disabled(bool),
}

impl UserChange {
    /// Applies the change to `user`.
    pub fn apply(self, user: &mut User) {
        match self {
            Self::Password(hash) => user.password = hash,
            Self::Disabled(disabled) => user.disabled = disabled,
        }
    }
}

/// A user account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// The stable id (`sub`).
    pub id: UserId,
    /// The sign-in name.
    pub username: Username,
    /// The password's hash.
    pub password: PasswordHash,
    /// A display name (OIDC `name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// An e-mail address (OIDC `email`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether the operator vouches for the address (OIDC `email_verified`).
    #[serde(default)]
    pub email_verified: bool,
    /// A disabled account cannot sign in, and its sessions and refresh tokens are gone.
    #[serde(default)]
    pub disabled: bool,
    /// When it was created.
    pub created_at: UnixTime,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::CountingRandom;

    #[test]
    fn usernames_are_checked_and_case_folded() {
        assert_eq!(Username::new("Alice").unwrap().as_str(), "alice");
        assert_eq!(Username::new("zoë").unwrap().as_str(), "zoë");
        assert_eq!(Username::new("ZOË").unwrap(), Username::new("zoë").unwrap());
        // Lowercasing lengthens "İ" (2 chars): the bound holds after it, so it reads back.
        assert!(Username::new(&"İ".repeat(40)).is_err());
        let long = Username::new(&"İ".repeat(32)).unwrap();
        let back: Username = serde_json::from_value(serde_json::to_value(&long).unwrap()).unwrap();
        assert_eq!(back, long);
        for bad in [
            "",
            "a b",
            "a\tb",
            "a\u{0}b",
            &"x".repeat(65),
            "alice\u{200b}",
            "\u{202e}ecila",
            "al\u{ad}ice",
            "alice\u{feff}",
        ] {
            assert_eq!(Username::new(bad), Err(UserError::BadUsername), "{bad:?}");
        }
        assert!(serde_json::from_str::<Username>("\"a b\"").is_err());
    }

    #[test]
    fn argon2id_with_owasp_parameters() {
        let random = CountingRandom::default();
        let hash = PasswordHash::new("correct horse", &random).unwrap();
        assert!(hash.as_phc().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(hash.verify("correct horse"));
        assert!(!hash.verify("correct horsE"));
        assert!(!hash.verify(""));
        assert!(!hash.verify(&"x".repeat(MAX_PASSWORD_LEN + 1)));
        let again = PasswordHash::new("correct horse", &random).unwrap();
        assert_ne!(hash, again, "a fresh salt each time");
        assert_eq!(format!("{hash:?}"), "PasswordHash([redacted])");
    }

    #[test]
    fn password_length_is_bounded() {
        let random = CountingRandom::default();
        assert_eq!(
            PasswordHash::new("short", &random),
            Err(UserError::BadPassword)
        );
        assert_eq!(
            PasswordHash::new(&"x".repeat(MAX_PASSWORD_LEN + 1), &random),
            Err(UserError::BadPassword)
        );
    }

    #[test]
    fn the_dummy_hash_is_a_real_argon2id_hash_and_never_matches() {
        let parsed = argon2::password_hash::PasswordHash::new(DUMMY_HASH).unwrap();
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        assert!(!PasswordHash::verify_dummy("anything"));
        assert!(!PasswordHash::verify_dummy(""));
    }
}
