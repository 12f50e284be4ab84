//! Remembered consent: asked once, honoured until revoked, asked again when a client wants
//! more than the person gave it.

use gatehouse_token::UnixTime;

use crate::resource::Resource;
use crate::scope::Scope;
use crate::store::Consent;

/// Whether `consent` already covers `scope` and `resource`.
pub fn covers(consent: Option<&Consent>, scope: &Scope, resource: &Resource) -> bool {
    consent.is_some_and(|c| scope.is_subset(&c.scope) && c.resources.contains(resource))
}

/// The consent to remember once the person approved `scope` for `resource`: what they gave
/// before and this.
pub fn widened(
    previous: Option<Consent>,
    scope: &Scope,
    resource: &Resource,
    now: UnixTime,
) -> Consent {
    let (mut old_scope, mut resources) = match previous {
        Some(c) => (c.scope, c.resources),
        None => (Scope::empty(), Vec::new()),
    };
    old_scope = old_scope.union(scope);
    if !resources.contains(resource) {
        resources.push(resource.clone());
    }
    Consent {
        scope: old_scope,
        resources,
        granted_at: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covers_what_was_given_and_no_more() {
        let rs: Resource = "https://rs.example".parse().unwrap();
        let other: Resource = "https://other.example".parse().unwrap();
        let read: Scope = "read".parse().unwrap();
        let both: Scope = "read write".parse().unwrap();
        assert!(!covers(None, &read, &rs));
        let given = widened(None, &read, &rs, UnixTime(1));
        assert!(covers(Some(&given), &read, &rs));
        assert!(covers(Some(&given), &Scope::empty(), &rs));
        assert!(!covers(Some(&given), &both, &rs), "more scope asks again");
        assert!(
            !covers(Some(&given), &read, &other),
            "another resource asks again"
        );
        let more = widened(Some(given), &"write".parse().unwrap(), &other, UnixTime(2));
        assert!(covers(Some(&more), &both, &rs));
        assert!(covers(Some(&more), &both, &other));
        assert_eq!(more.granted_at, UnixTime(2));
    }
}
