//! Security profiles: the rules a client is held to beyond OAuth 2.1's own.
//!
//! [`SecurityProfile::Fapi2`] is the FAPI 2.0 Security Profile (OpenID FAPI 2.0 Security
//! Profile, Final, §5): pushed authorization requests, PKCE with S256, sender-constrained access
//! tokens (DPoP or mutual TLS), client authentication by `private_key_jwt` or mutual TLS only,
//! the ES256 and PS256 algorithms, `iss` in authorization responses and codes that live at most
//! 60 s. Gatehouse always does the last three for every client (PKCE S256 only, RFC 9207 `iss`,
//! [`crate::authorize::code::CODE_LIFETIME`] is 60 s); the profile adds the rest.
//!
//! A profile is set server-wide (every client) or per client; a client is held to the stricter
//! of the two ([`SecurityProfile::strictest`]).

use std::fmt;

use gatehouse_token::Algorithm;
use serde::{Deserialize, Serialize};

use crate::client::auth::AuthMethod;

/// The rules a client is held to.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum SecurityProfile {
    /// OAuth 2.1 as Gatehouse implements it (the default).
    #[default]
    #[serde(rename = "oauth2.1")]
    OAuth21,
    /// The FAPI 2.0 Security Profile.
    #[serde(rename = "fapi2")]
    Fapi2,
}

impl SecurityProfile {
    /// Every profile, from the least to the most strict.
    pub const ALL: [Self; 2] = [Self::OAuth21, Self::Fapi2];

    /// The profile's name, as the configuration, the CLI and the admin API spell it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::OAuth21 => "oauth2.1",
            Self::Fapi2 => "fapi2",
        }
    }

    /// Parses a profile's name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == text)
    }

    /// The stricter of two profiles (the server's and a client's).
    pub fn strictest(self, other: Self) -> Self {
        self.max(other)
    }

    /// Whether a client may authenticate with `method` (FAPI 2.0 SP §5.3.2.1 item 4: only
    /// mutual TLS or `private_key_jwt`; no shared secret and no public client).
    pub const fn allows_auth_method(self, method: AuthMethod) -> bool {
        match self {
            Self::OAuth21 => true,
            Self::Fapi2 => match method {
                AuthMethod::None | AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost => {
                    false
                }
                AuthMethod::PrivateKeyJwt
                | AuthMethod::TlsClientAuth
                | AuthMethod::SelfSignedTlsClientAuth => true,
            },
        }
    }

    /// Whether a JWS algorithm may be used for client assertions and DPoP proofs (FAPI 2.0
    /// SP §5.4.1 item 1, as this issue fixes it: ES256 and PS256).
    pub const fn allows_algorithm(self, alg: Algorithm) -> bool {
        match self {
            Self::OAuth21 => true,
            Self::Fapi2 => matches!(alg, Algorithm::ES256 | Algorithm::PS256),
        }
    }

    /// Whether authorization requests must be pushed first (FAPI 2.0 SP §5.3.2.2 item 2,
    /// RFC 9126).
    pub const fn requires_par(self) -> bool {
        matches!(self, Self::Fapi2)
    }

    /// Whether access tokens must be sender-constrained, by DPoP (RFC 9449) or a certificate
    /// (RFC 8705) (FAPI 2.0 SP §5.3.2.1 item 5, §5.3.3.1).
    pub const fn requires_sender_constraint(self) -> bool {
        matches!(self, Self::Fapi2)
    }
}

impl fmt::Display for SecurityProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in SecurityProfile::ALL {
            assert_eq!(SecurityProfile::parse(p.as_str()), Some(p));
            assert_eq!(
                serde_json::to_string(&p).unwrap(),
                format!("\"{}\"", p.as_str())
            );
        }
        assert_eq!(SecurityProfile::parse("FAPI2"), None);
        assert_eq!(SecurityProfile::parse(""), None);
    }

    #[test]
    fn the_stricter_profile_wins() {
        use SecurityProfile::*;
        assert_eq!(OAuth21.strictest(Fapi2), Fapi2);
        assert_eq!(Fapi2.strictest(OAuth21), Fapi2);
        assert_eq!(OAuth21.strictest(OAuth21), OAuth21);
    }

    #[test]
    fn fapi2_refuses_secrets_public_clients_and_other_algorithms() {
        let fapi = SecurityProfile::Fapi2;
        for m in AuthMethod::SUPPORTED {
            assert!(SecurityProfile::OAuth21.allows_auth_method(m));
        }
        assert!(!fapi.allows_auth_method(AuthMethod::None));
        assert!(!fapi.allows_auth_method(AuthMethod::ClientSecretBasic));
        assert!(!fapi.allows_auth_method(AuthMethod::ClientSecretPost));
        assert!(fapi.allows_auth_method(AuthMethod::PrivateKeyJwt));
        let allowed: Vec<_> = Algorithm::ALL
            .into_iter()
            .filter(|a| fapi.allows_algorithm(*a))
            .collect();
        assert_eq!(allowed, [Algorithm::ES256, Algorithm::PS256]);
        assert!(fapi.requires_par() && fapi.requires_sender_constraint());
        assert!(!SecurityProfile::OAuth21.requires_par());
        assert!(!SecurityProfile::OAuth21.requires_sender_constraint());
    }
}
