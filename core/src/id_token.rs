//! OpenID Connect ID tokens (OIDC Core §2, §3.1.3.6) and the claims a user's scopes release
//! (§5.4), shared by the ID token and the UserInfo endpoint.

use gatehouse_token::{Algorithm, SecretDigest, UnixTime, b64};
use ring::digest;
use serde::{Deserialize, Serialize};

use crate::scope::Scope;
use crate::user::User;

/// The `typ` of an ID token's header.
pub const ID_TOKEN_TYP: &str = "JWT";
/// The scope that makes a request an OpenID Connect one.
pub const OPENID: &str = "openid";
/// The scopes Gatehouse gives meaning to, as discovery lists them (refresh tokens come with
/// the client's `refresh_token` grant, not with `offline_access`).
pub const SCOPES: [&str; 3] = [OPENID, "profile", "email"];
/// The claims Gatehouse can release, as discovery lists them.
pub const CLAIMS: [&str; 15] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "at_hash",
    "azp",
    "sid",
    "amr",
    "name",
    "preferred_username",
    "email",
    "email_verified",
];

/// The claims a user's scopes release (OIDC Core §5.4): `profile` gives `name` and
/// `preferred_username`, `email` gives `email` and `email_verified`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserClaims {
    /// `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `preferred_username`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    /// `email`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// `email_verified`, with `email`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
}

impl UserClaims {
    /// What `scope` releases of `user`.
    pub fn of(user: &User, scope: &Scope) -> Self {
        let mut claims = Self::default();
        if scope.contains("profile") {
            claims.name = user.name.clone();
            claims.preferred_username = Some(user.username.as_str().to_owned());
        }
        if scope.contains("email") {
            if let Some(email) = &user.email {
                claims.email = Some(email.clone());
                claims.email_verified = Some(user.email_verified);
            }
        }
        claims
    }
}

/// The claims of an ID token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdTokenClaims {
    /// The issuer.
    pub iss: String,
    /// The user's id.
    pub sub: String,
    /// The client.
    pub aud: String,
    /// Expiry.
    pub exp: UnixTime,
    /// Issued at.
    pub iat: UnixTime,
    /// When the user authenticated.
    pub auth_time: UnixTime,
    /// The authorization request's `nonce`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// The left half of the access token's hash (§3.1.3.6), set by the signer, which knows
    /// the key's algorithm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    /// The authorized party: the client (§2).
    pub azp: String,
    /// The session (OIDC Front-Channel Logout §3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// How the user authenticated (RFC 8176): `pwd`.
    pub amr: Vec<String>,
    /// What the scopes release.
    #[serde(flatten)]
    pub user: UserClaims,
}

/// Who an ID token is about and for, and when they signed in.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The issuer.
    pub issuer: &'a str,
    /// The user.
    pub user: &'a User,
    /// The client (`aud`, `azp`).
    pub client: &'a str,
    /// The scope granted (which claims are released).
    pub scope: &'a Scope,
    /// When the user authenticated.
    pub auth_time: UnixTime,
}

impl IdTokenClaims {
    /// The claims of an ID token for `subject`, issued at `now` for `lifetime` seconds;
    /// `at_hash` is the signer's to set.
    pub fn new(
        subject: Subject<'_>,
        now: UnixTime,
        lifetime: u64,
        nonce: Option<String>,
        sid: Option<String>,
    ) -> Self {
        Self {
            iss: subject.issuer.to_owned(),
            sub: subject.user.id.as_str().to_owned(),
            aud: subject.client.to_owned(),
            exp: now.plus(lifetime),
            iat: now,
            auth_time: subject.auth_time,
            nonce,
            at_hash: None,
            azp: subject.client.to_owned(),
            sid,
            amr: vec!["pwd".into()],
            user: UserClaims::of(subject.user, subject.scope),
        }
    }
}

/// The `sid` of a browser session: a digest of its digest, so it names the session without
/// being usable as one.
pub fn session_id(session: &SecretDigest) -> String {
    let d = digest::digest(&digest::SHA256, &session.0);
    b64::encode(&d.as_ref()[..16])
}

/// `at_hash` (OIDC Core §3.1.3.6): base64url of the left half of the hash of the access
/// token's ASCII, with the hash of the ID token's algorithm (SHA-256 for ES256, RS256, PS256;
/// SHA-512 for EdDSA with Ed25519, OpenID Connect's errata for EdDSA).
pub fn at_hash(alg: Algorithm, access_token: &str) -> String {
    let algorithm = match alg {
        Algorithm::EdDSA => &digest::SHA512,
        _ => &digest::SHA256,
    };
    let d = digest::digest(algorithm, access_token.as_bytes());
    let bytes = d.as_ref();
    b64::encode(&bytes[..bytes.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::user;

    /// OIDC Core §A.3's example: the access token `jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y`
    /// has `at_hash` `77QmUPtjPfzWtF2AnpK9RQ` under RS256.
    #[test]
    fn at_hash_of_the_oidc_example() {
        assert_eq!(
            at_hash(
                Algorithm::RS256,
                "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
            ),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
        assert_eq!(at_hash(Algorithm::EdDSA, "x").len(), 43);
    }

    #[test]
    fn scopes_release_their_claims_only() {
        let mut alice = user("alice");
        alice.name = Some("Alice A.".into());
        alice.email = Some("alice@example.com".into());
        alice.email_verified = true;
        assert_eq!(
            UserClaims::of(&alice, &"openid".parse().unwrap()),
            UserClaims::default()
        );
        let profile = UserClaims::of(&alice, &"openid profile".parse().unwrap());
        assert_eq!(profile.name.as_deref(), Some("Alice A."));
        assert_eq!(profile.preferred_username.as_deref(), Some("alice"));
        assert_eq!(profile.email, None);
        let email = UserClaims::of(&alice, &"openid email".parse().unwrap());
        assert_eq!(
            (email.email.as_deref(), email.email_verified),
            (Some("alice@example.com"), Some(true))
        );
        assert_eq!(email.name, None);
    }
}
