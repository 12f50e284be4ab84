//! Who may introspect, and which tokens each caller may learn about (RFC 7662 §2.1, §4).
//!
//! Introspection is a permission of a client ([`Introspection`]): most clients never need it,
//! and one that has it learns only about the tokens meant for its own resources unless it was
//! registered for any audience. A token outside the caller's view is answered exactly like an
//! invalid one (`{"active": false}`), so the endpoint tells a curious client nothing about other
//! clients' tokens.

use gatehouse_token::AccessTokenClaims;

use crate::client::{Client, Introspection};
use crate::error::TokenError;

/// Whether `caller` may use the introspection endpoint at all.
pub fn authorize(caller: &Client) -> Result<(), TokenError> {
    match caller.introspection {
        Introspection::None => Err(TokenError::Forbidden(
            "this client may not introspect tokens; register the resource server with introspection enabled (gatehouse client create --introspect)".into(),
        )),
        Introspection::Resources | Introspection::Any => Ok(()),
    }
}

/// Whether `caller` may learn about a token with these claims: one of the token's audiences
/// must be one of the caller's resources (compared as canonical strings), unless the caller may
/// introspect any audience.
pub fn may_see(caller: &Client, claims: &AccessTokenClaims) -> bool {
    match caller.introspection {
        Introspection::None => false,
        Introspection::Any => true,
        Introspection::Resources => caller
            .resources
            .iter()
            .any(|r| claims.aud.contains(r.as_str())),
    }
}

#[cfg(test)]
mod tests {
    use gatehouse_token::{Audience, UnixTime};

    use super::*;
    use crate::client::ClientRegistration;
    use crate::memory::CountingRandom;

    fn client(introspection: Introspection, resources: &[&str]) -> Client {
        ClientRegistration {
            name: "rs".into(),
            grant_types: vec!["client_credentials".into()],
            scope: String::new(),
            resources: resources.iter().map(|r| r.to_string()).collect(),
            access_token_lifetime: None,
            token_format: Default::default(),
            introspection,
        }
        .register(&CountingRandom::default(), UnixTime(0))
        .unwrap()
        .0
    }

    fn claims(aud: Audience) -> AccessTokenClaims {
        AccessTokenClaims {
            iss: "https://as".into(),
            sub: "s".into(),
            aud,
            client_id: "c".into(),
            scope: None,
            iat: UnixTime(0),
            nbf: None,
            exp: UnixTime(10),
            jti: "j".into(),
        }
    }

    #[test]
    fn only_permitted_clients_introspect() {
        assert!(matches!(
            authorize(&client(Introspection::None, &["https://rs"])),
            Err(TokenError::Forbidden(_))
        ));
        assert!(authorize(&client(Introspection::Resources, &["https://rs"])).is_ok());
        assert!(authorize(&client(Introspection::Any, &["https://rs"])).is_ok());
    }

    #[test]
    fn a_resource_server_sees_the_tokens_of_its_resources_only() {
        let rs = client(
            Introspection::Resources,
            &["https://a.example/mcp/", "https://b.example"],
        );
        let mine = claims(Audience::One("https://a.example/mcp".into()));
        let also = claims(Audience::Many(vec!["x".into(), "https://b.example".into()]));
        let other = claims(Audience::One("https://c.example".into()));
        let prefix = claims(Audience::One("https://a.example".into()));
        assert!(may_see(&rs, &mine) && may_see(&rs, &also));
        assert!(!may_see(&rs, &other) && !may_see(&rs, &prefix));
        let gateway = client(Introspection::Any, &["https://gw.example"]);
        assert!(may_see(&gateway, &other));
        let none = client(Introspection::None, &["https://a.example/mcp"]);
        assert!(!may_see(&none, &mine));
    }
}
