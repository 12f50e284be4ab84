//! The introspection endpoint's rules and answers (RFC 7662, RFC 9701): who may introspect,
//! which tokens each caller may learn about, and the answer, as JSON or as a signed JWT.
//!
//! Introspection is a permission of a client ([`Introspection`]): most clients never need it,
//! and one that has it learns only about the tokens meant for its own resources unless it was
//! registered for any audience. A token outside the caller's view is answered exactly like an
//! invalid one (`{"active": false}`), so the endpoint tells a curious client nothing about other
//! clients' tokens.

use gatehouse_token::{AccessTokenClaims, Actor, Audience, Confirmation, UnixTime};
use serde::Serialize;

use crate::client::{Client, Introspection};
use crate::error::TokenError;
use crate::issue::TokenType;

/// The media type of RFC 9701 answers (`Accept` asks for it; `Content-Type` says it).
pub const JWT_ANSWER_MEDIA_TYPE: &str = "application/token-introspection+jwt";
/// The `typ` of RFC 9701 answers, so that one can never pass for an access token (RFC 9701 §5).
pub const JWT_ANSWER_TYP: &str = "token-introspection+jwt";

/// An introspection answer (RFC 7662 §2.2), borrowing from the token's claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Answer<'a> {
    /// Whether the token is active: valid now, and one the caller may see.
    pub active: bool,
    /// What an active token is; nothing for an inactive one (RFC 7662 §2.2: no other member).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub token: Option<ActiveToken<'a>>,
}

/// The members of an active answer (RFC 7662 §2.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActiveToken<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'a str>,
    client_id: &'a str,
    sub: &'a str,
    aud: &'a Audience,
    iss: &'a str,
    exp: UnixTime,
    iat: UnixTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    nbf: Option<UnixTime>,
    jti: &'a str,
    token_type: &'static str,
    /// The delegation chain of an exchanged token (RFC 8693 §4.1, §2.2.1: introspection returns
    /// it as the token carries it).
    #[serde(skip_serializing_if = "Option::is_none")]
    act: Option<&'a Actor>,
    /// The key the token is bound to (RFC 7800 §3.1), so a resource server can check the
    /// presenter holds it (RFC 9449 §6.2, RFC 8705 §3.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    cnf: Option<&'a Confirmation>,
}

impl<'a> From<&'a AccessTokenClaims> for ActiveToken<'a> {
    fn from(c: &'a AccessTokenClaims) -> Self {
        Self {
            scope: c.scope.as_deref(),
            client_id: &c.client_id,
            sub: &c.sub,
            aud: &c.aud,
            iss: &c.iss,
            exp: c.exp,
            iat: c.iat,
            nbf: c.nbf,
            jti: &c.jti,
            token_type: TokenType::of(c.cnf.as_ref()).as_str(),
            act: c.act.as_ref(),
            cnf: c.cnf.as_ref(),
        }
    }
}

/// The answer for `caller` about a token: `valid` holds its claims when the token is valid now
/// (the validator decided); an invalid token, or a valid one outside the caller's view, is
/// `{"active": false}` alike (RFC 7662 §2.2, §4).
pub fn answer<'a>(caller: &Client, valid: Option<&'a AccessTokenClaims>) -> Answer<'a> {
    let visible = valid.filter(|claims| may_see(caller, claims));
    Answer {
        active: visible.is_some(),
        token: visible.map(ActiveToken::from),
    }
}

/// The claims of an RFC 9701 answer: the authorization server's signed statement to the one
/// resource server that asked (`aud`), with the answer in `token_introspection` and none of an
/// access token's claims (`sub`, `exp`), so it can never be used as one (RFC 9701 §5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JwtAnswer<'a> {
    /// The issuer.
    pub iss: &'a str,
    /// The caller's client id.
    pub aud: &'a str,
    /// When it was made.
    pub iat: UnixTime,
    /// A unique id.
    pub jti: String,
    /// The answer.
    pub token_introspection: Answer<'a>,
}

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
    use super::*;
    use crate::testing::ClientBuilder;

    fn client(introspection: Introspection, resources: &[&str]) -> Client {
        ClientBuilder::new()
            .scope("")
            .resources(resources)
            .introspection(introspection)
            .client()
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
            act: None,
            cnf: None,
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
    fn answers_carry_the_rfc7662_members_or_nothing() {
        let rs = client(Introspection::Resources, &["https://rs"]);
        let mut c = claims(Audience::One("https://rs".into()));
        c.scope = Some("read".into());
        let json = serde_json::to_value(answer(&rs, Some(&c))).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"active": true, "scope": "read", "client_id": "c", "sub": "s",
                "aud": "https://rs", "iss": "https://as", "exp": 10, "iat": 0, "jti": "j",
                "token_type": "Bearer"})
        );
        let inactive = serde_json::json!({"active": false});
        assert_eq!(serde_json::to_value(answer(&rs, None)).unwrap(), inactive);
        let elsewhere = claims(Audience::One("https://other".into()));
        assert_eq!(
            serde_json::to_value(answer(&rs, Some(&elsewhere))).unwrap(),
            inactive
        );
    }

    #[test]
    fn an_exchanged_token_answers_with_its_act_chain() {
        let rs = client(Introspection::Resources, &["https://rs"]);
        let mut c = claims(Audience::One("https://rs".into()));
        c.act = Some(Actor {
            sub: "svc-b".into(),
            iss: None,
            client_id: None,
            act: Some(Box::new(Actor {
                sub: "svc-a".into(),
                iss: Some("https://idp".into()),
                client_id: None,
                act: None,
            })),
        });
        let json = serde_json::to_value(answer(&rs, Some(&c))).unwrap();
        assert_eq!(
            json["act"],
            serde_json::json!({"sub": "svc-b", "act": {"sub": "svc-a", "iss": "https://idp"}})
        );
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
