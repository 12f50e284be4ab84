//! Access-token claims (RFC 9068 §2.2), the same for JWT access tokens and opaque-token records.

use serde::{Deserialize, Serialize};

use crate::{Confirmation, UnixTime};

/// The claims of an access token Gatehouse issues.
///
/// Time claims are JSON numbers: a string, a fraction or a negative value where a `NumericDate`
/// belongs is a parse error, never an absent claim (RFC 7519 §2, §4.1.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// The issuer, byte-identical to the metadata's `issuer` (RFC 9068 §2.2).
    pub iss: String,
    /// The subject: the resource owner, or the client itself for client credentials.
    pub sub: String,
    /// The resource the token is for (RFC 8707 §2); Gatehouse issues exactly one.
    pub aud: Audience,
    /// The client the token was issued to (RFC 8693 §4.3).
    pub client_id: String,
    /// The granted scope, space-delimited (RFC 8693 §4.2); absent when nothing was granted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Issued at.
    pub iat: UnixTime,
    /// Not before, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<UnixTime>,
    /// Expiry.
    pub exp: UnixTime,
    /// A unique id, the key for revocation.
    pub jti: String,
    /// The acting party of a delegation (RFC 8693 §4.1): who holds and uses the token on behalf
    /// of `sub`. Absent on tokens that involve no delegation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Actor>,
    /// The key the token is bound to (RFC 7800 §3.1; RFC 9449 §6.1 `jkt`, RFC 8705 §3.1
    /// `x5t#S256`). Absent on a bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

/// An `act` claim (RFC 8693 §4.1): the current actor, and inside it the chain of prior actors,
/// the least recent the most deeply nested. Only `sub`, `iss`, `client_id` and a nested `act`
/// are kept: RFC 8693 §4.1 says other claims in `act` are not meaningful for access control.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The actor's subject.
    pub sub: String,
    /// The issuer that names the actor, when it is not the token's issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// The actor's client, when the actor is a client (RFC 8693 §4.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The prior actor (RFC 8693 §4.1: a chain of delegation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Box<Self>>,
}

impl Actor {
    /// How many actors the chain holds, this one included.
    pub fn depth(&self) -> usize {
        1 + self.act.as_ref().map_or(0, |a| a.depth())
    }
}

/// The `aud` claim: one string, or an array of strings (RFC 7519 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// A single audience, as Gatehouse issues.
    One(String),
    /// Several audiences.
    Many(Vec<String>),
}

impl Audience {
    /// Whether `resource` is among the audiences (exact string comparison).
    pub fn contains(&self, resource: &str) -> bool {
        match self {
            Self::One(aud) => aud == resource,
            Self::Many(auds) => auds.iter().any(|a| a == resource),
        }
    }

    /// Whether there is no audience at all (an empty array).
    pub fn is_empty(&self) -> bool {
        matches!(self, Self::Many(auds) if auds.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims_json(exp: &str) -> String {
        format!(
            r#"{{"iss":"https://as","sub":"c","aud":"https://rs","client_id":"c","iat":1,"exp":{exp},"jti":"j"}}"#
        )
    }

    #[test]
    fn time_claims_must_be_non_negative_integers() {
        assert!(serde_json::from_str::<AccessTokenClaims>(&claims_json("2")).is_ok());
        for bad in [r#""2""#, "2.5", "-1", "1e3", "null", "18446744073709551616"] {
            assert!(
                serde_json::from_str::<AccessTokenClaims>(&claims_json(bad)).is_err(),
                "exp = {bad}"
            );
        }
    }

    #[test]
    fn duplicate_claims_are_rejected() {
        let dup = r#"{"iss":"a","sub":"c","sub":"admin","aud":"r","client_id":"c","iat":1,"exp":2,"jti":"j"}"#;
        assert!(serde_json::from_str::<AccessTokenClaims>(dup).is_err());
    }

    #[test]
    fn audience_forms() {
        let one: Audience = serde_json::from_str(r#""https://rs""#).unwrap();
        assert!(one.contains("https://rs"));
        let many: Audience = serde_json::from_str(r#"["a","https://rs"]"#).unwrap();
        assert!(many.contains("https://rs") && !many.contains("b"));
        assert!(serde_json::from_str::<Audience>(r#"[1]"#).is_err());
        assert!(serde_json::from_str::<Audience>("null").is_err());
    }
}
