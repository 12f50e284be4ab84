//! What a token is for: its one audience and its scope, decided the same way on every grant and
//! at the authorization endpoint.
//!
//! - The audience (RFC 8707 §2): the requested resource, if the client may have it; with none
//!   requested, the client's default resource, else the server's default; never an
//!   audience-less token (shared/reference/mcp-auth.md §3.2). A client an operator registered
//!   for some resources may have those; any other client (one with none, and every
//!   self-registered one) may have any registered resource.
//! - The scope (RFC 6749 §3.3): with none requested, the resource's default scopes if it is
//!   registered, else everything the client may have. An operator-registered client asking for
//!   more than it was given gets `invalid_scope` (its configuration is wrong, and saying so
//!   helps). A self-registered client cannot know our scopes in advance (MCP clients ask for
//!   `openid`, `offline_access` or scopes from another server): it gets what it asked for that
//!   it may have, the rest dropped and the granted scope returned (RFC 6749 §3.3 lets the
//!   server issue less; mcp-auth.md §3.3, §7.7); only when nothing remains is it refused.
//!   Sign-in scopes (`openid`, `offline_access`, ...) a client was not given are dropped for
//!   every client.

use super::Granted;
use crate::client::{Client, ClientOrigin};
use crate::error::TokenError;
use crate::id_token;
use crate::resource::{ProtectedResource, Resource, ResourceRegistry};
use crate::scope::Scope;

/// The audience and scope of a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The one audience.
    pub resource: Resource,
    /// The scope.
    pub scope: Scope,
}

impl Target {
    /// An access token alone for `subject`, for this target.
    pub fn grant(self, subject: String) -> Granted {
        Granted::access(subject, self.scope, self.resource)
    }
}

/// Scopes that are about the sign-in rather than a resource (OIDC Core §5.4, §11): any client
/// that may sign people in may ask for them.
fn sign_in_scopes() -> Scope {
    let mut all = Scope::empty();
    for s in id_token::SCOPES.iter().chain(["offline_access"].iter()) {
        if let Ok(one) = s.parse::<Scope>() {
            all = all.union(&one);
        }
    }
    all
}

/// Decides the audience and scope of a token for `client` (see the module docs).
pub fn decide(
    client: &Client,
    registry: &ResourceRegistry,
    requested_resource: Option<&Resource>,
    requested_scope: Option<&Scope>,
) -> Result<Target, TokenError> {
    let resource = audience(client, registry, requested_resource)?;
    let registered = registry.get(&resource);
    let scope = scope(client, registered.map(AsRef::as_ref), requested_scope)?;
    Ok(Target { resource, scope })
}

/// The audience: see the module docs.
fn audience(
    client: &Client,
    registry: &ResourceRegistry,
    requested: Option<&Resource>,
) -> Result<Resource, TokenError> {
    let restricted = !client.resources.is_empty() && !client.origin.is_self_registered();
    match requested {
        Some(r) if restricted && client.resources.contains(r) => Ok(r.clone()),
        Some(r) if restricted => Err(TokenError::InvalidTarget(format!(
            "resource {r} is not registered for this client"
        ))),
        Some(r) if registry.get(r).is_some() => Ok(r.clone()),
        Some(r) => Err(TokenError::InvalidTarget(format!(
            "resource {r} is not a resource of this server"
        ))),
        None => client
            .default_resource()
            .filter(|_| restricted)
            .cloned()
            .or_else(|| registry.default_resource().map(|r| r.uri.clone()))
            .ok_or_else(|| {
                TokenError::InvalidTarget(
                    "name the resource the token is for (resource, RFC 8707): \
                     there is no default"
                        .into(),
                )
            }),
    }
}

/// The scope: see the module docs.
fn scope(
    client: &Client,
    resource: Option<&ProtectedResource>,
    requested: Option<&Scope>,
) -> Result<Scope, TokenError> {
    let self_registered = client.origin.is_self_registered();
    let allowed = match (&client.origin, resource) {
        (ClientOrigin::Operator, _) => client.scope.clone(),
        (_, Some(r)) => r.scope().union(&sign_in_scopes()),
        (_, None) => sign_in_scopes(),
    };
    let Some(requested) = requested else {
        return Ok(match resource {
            Some(r) if !r.default_scope.is_empty() => intersection(&r.default_scope, &allowed),
            _ if self_registered => Scope::empty(),
            _ => allowed,
        });
    };
    if requested.is_subset(&allowed) {
        return Ok(requested.clone());
    }
    let kept = intersection(requested, &allowed);
    if self_registered && !kept.is_empty() {
        return Ok(kept);
    }
    // Sign-in scopes a client was not given (`offline_access`, which MCP SDKs add whenever the
    // server lists it, SEP-2207; `openid`) are dropped for every client, never refused: a
    // request for more than the client may have is refused only for a resource scope.
    let excess: Vec<&str> = requested
        .excess(&allowed)
        .filter(|s| !sign_in_scopes().contains(s))
        .collect();
    if excess.is_empty() && !kept.is_empty() {
        return Ok(kept);
    }
    let excess: Vec<&str> = if excess.is_empty() {
        requested.excess(&allowed).collect()
    } else {
        excess
    };
    Err(TokenError::InvalidScope(format!(
        "scope not allowed for this client: {}",
        excess.join(" ")
    )))
}

fn intersection(a: &Scope, b: &Scope) -> Scope {
    a.iter()
        .filter(|s| b.contains(s))
        .filter_map(|s| s.parse::<Scope>().ok())
        .fold(Scope::empty(), |all, s| all.union(&s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::{ResourceDefinition, ScopeDescription};
    use crate::testing::ClientBuilder;

    fn registry() -> ResourceRegistry {
        let mcp = ResourceDefinition {
            uri: "https://mcp.example/mcp".into(),
            name: None,
            scopes: ["tools", "admin"]
                .map(|n| ScopeDescription {
                    name: n.into(),
                    description: String::new(),
                })
                .to_vec(),
            default_scopes: vec!["tools".into()],
            token_format: None,
            access_token_lifetime: None,
            require_sender_constrained: false,
        }
        .validate()
        .unwrap();
        let mut strict = mcp.clone();
        strict.uri = "https://bank.example".parse().unwrap();
        strict.require_sender_constrained = true;
        ResourceRegistry::new([mcp.clone(), strict], Some(mcp.uri)).unwrap()
    }

    fn dynamic() -> Client {
        let mut c = ClientBuilder::new().scope("").build().0;
        c.resources.clear();
        c.origin = ClientOrigin::MetadataDocument;
        c
    }

    fn r(s: &str) -> Resource {
        s.parse().unwrap()
    }

    fn s(s: &str) -> Scope {
        s.parse().unwrap()
    }

    #[test]
    fn self_registered_clients_get_registered_resources_and_their_default_scopes() {
        let reg = registry();
        let c = dynamic();
        // No resource, no scope: the server's default resource and its default scopes.
        let t = decide(&c, &reg, None, None).unwrap();
        assert_eq!(t.resource.as_str(), "https://mcp.example/mcp");
        assert_eq!(t.scope.to_string(), "tools");
        // The resource in another spelling (trailing slash, upper-case host) is the same one.
        let t = decide(&c, &reg, Some(&r("https://MCP.example/mcp/")), None).unwrap();
        assert_eq!(t.resource.as_str(), "https://mcp.example/mcp");
        // Down-scoping: unknown and foreign scopes dropped, sign-in scopes kept.
        let t = decide(
            &c,
            &reg,
            None,
            Some(&s("openid offline_access tools repo:write")),
        )
        .unwrap();
        assert_eq!(t.scope.to_string(), "offline_access openid tools");
        // Nothing left: refused.
        assert!(matches!(
            decide(&c, &reg, None, Some(&s("repo:write"))),
            Err(TokenError::InvalidScope(_))
        ));
        // An unregistered resource: invalid_target.
        assert!(matches!(
            decide(&c, &reg, Some(&r("https://evil.example")), None),
            Err(TokenError::InvalidTarget(_))
        ));
        // A resource that needs sender-constrained tokens is a target like any other: the
        // binding is decided at issuance (`crate::binding`), where the holder's keys are known.
        assert!(decide(&c, &reg, Some(&r("https://bank.example")), None).is_ok());
        // No default anywhere: invalid_target, never an audience-less token.
        let bare = ResourceRegistry::new([], None).unwrap();
        assert!(matches!(
            decide(&c, &bare, None, None),
            Err(TokenError::InvalidTarget(_))
        ));
    }

    #[test]
    fn operator_clients_keep_what_they_were_given() {
        let reg = registry();
        let c = ClientBuilder::new()
            .scope("read write")
            .resources(&["https://rs.example", "https://mcp.example/mcp"])
            .build()
            .0;
        let t = decide(&c, &reg, None, None).unwrap();
        assert_eq!(t.resource.as_str(), "https://rs.example");
        assert_eq!(t.scope.to_string(), "read write");
        assert!(matches!(
            decide(&c, &reg, None, Some(&s("read admin"))),
            Err(TokenError::InvalidScope(_))
        ));
        // Sign-in scopes it was not given are dropped, not refused.
        let t = decide(&c, &reg, None, Some(&s("read offline_access openid"))).unwrap();
        assert_eq!(t.scope.to_string(), "read");
        assert!(matches!(
            decide(&c, &reg, None, Some(&s("offline_access"))),
            Err(TokenError::InvalidScope(_))
        ));
        // A registered resource: its default scopes, within the client's.
        let t = decide(&c, &reg, Some(&r("https://mcp.example/mcp")), None).unwrap();
        assert_eq!(t.scope.to_string(), "");
        // Not one of its resources, though registered: invalid_target.
        let other = ClientBuilder::new()
            .resources(&["https://rs.example"])
            .build()
            .0;
        assert!(matches!(
            decide(&other, &reg, Some(&r("https://mcp.example/mcp")), None),
            Err(TokenError::InvalidTarget(_))
        ));
    }
}
