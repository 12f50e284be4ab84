//! The validated-token caches never vouch for more than a fresh validation would, and opaque
//! tokens reach the store only when their checksum holds.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use common::{ISS, NOW};
use gatehouse_signer::{KeyRing, SigningKey, SoftwareKey, jws};
use gatehouse_token::{AccessTokenClaims, Algorithm, OpaqueToken, SecretDigest};
use gatehouse_validator::{
    Invalid, KeySnapshot, LookupError, OpaqueRecord, OpaqueTokens, Policy, Rejection, Valid,
    Validator,
};

/// The shared claims without a scope.
fn claims(jti: &str) -> AccessTokenClaims {
    AccessTokenClaims {
        scope: None,
        ..common::claims(jti)
    }
}

fn setup() -> (Arc<dyn SigningKey>, Validator) {
    let key: Arc<dyn SigningKey> = Arc::new(SoftwareKey::generate(Algorithm::ES256).unwrap());
    let snapshot = KeySnapshot::from_jwks(&KeyRing::new(key.clone(), vec![]).jwks()).unwrap();
    (key, Validator::new(Policy::for_issuer(ISS), snapshot))
}

#[test]
fn a_cached_jwt_is_rechecked_for_time_audience_revocation_and_key() {
    let (key, v) = setup();
    let token = jws::sign_compact(key.as_ref(), "at+jwt", &claims("j1")).unwrap();
    let first = v.validate_jwt(&token, NOW, None).unwrap();
    let again = v.validate_jwt(&token, NOW, None).unwrap();
    assert!(
        Arc::ptr_eq(&first, &again),
        "the second answer comes from the cache"
    );
    assert_eq!(
        v.validate_jwt(&token, NOW.plus(400), None),
        Err(Rejection::Expired)
    );
    assert_eq!(
        v.validate_jwt(&token, NOW, Some("https://other")),
        Err(Rejection::WrongAudience)
    );
    assert!(
        v.validate_jwt(&token, NOW, Some("https://rs.example"))
            .is_ok()
    );
    v.swap_keys(KeySnapshot::default());
    assert_eq!(
        v.validate_jwt(&token, NOW, None),
        Err(Rejection::UnknownKey),
        "its key was withdrawn"
    );
    v.swap_keys(KeySnapshot::from_jwks(&KeyRing::new(key.clone(), vec![]).jwks()).unwrap());
    v.revocations().insert("j1".into(), NOW.plus(300));
    assert_eq!(v.validate_jwt(&token, NOW, None), Err(Rejection::Revoked));
}

#[test]
fn a_cache_hit_needs_the_same_bytes() {
    let (key, v) = setup();
    let token = jws::sign_compact(key.as_ref(), "at+jwt", &claims("j1")).unwrap();
    v.validate_jwt(&token, NOW, None).unwrap();
    let (rest, sig) = token.rsplit_once('.').unwrap();
    let mut altered = sig.to_owned();
    altered.replace_range(0..1, if sig.starts_with('A') { "B" } else { "A" });
    assert!(
        v.validate_jwt(&format!("{rest}.{altered}"), NOW, None)
            .is_err()
    );
    assert!(v.validate_jwt(&format!("{token} "), NOW, None).is_err());
}

#[derive(Default)]
struct Store {
    tokens: Mutex<Vec<(SecretDigest, OpaqueRecord)>>,
    lookups: AtomicUsize,
    down: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl OpaqueTokens for Store {
    async fn lookup(&self, digest: &SecretDigest) -> Result<Option<OpaqueRecord>, LookupError> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            return Err(LookupError("connection refused".into()));
        }
        Ok(self
            .tokens
            .lock()
            .unwrap()
            .iter()
            .find(|(d, _)| d == digest)
            .map(|(_, r)| r.clone()))
    }
}

fn opaque(store: &Store, jti: &str, revoked: bool) -> String {
    let mut random = [0u8; 32];
    random[..jti.len()].copy_from_slice(jti.as_bytes());
    let token = OpaqueToken::from_random(random);
    store.tokens.lock().unwrap().push((
        token.digest(),
        OpaqueRecord {
            claims: claims(jti),
            revoked,
        },
    ));
    token.as_str().to_owned()
}

#[tokio::test]
async fn opaque_tokens_are_checked_before_any_lookup_and_cached() {
    let (_, v) = setup();
    let store = Store::default();
    let token = opaque(&store, "o1", false);
    let valid = v.validate(&token, NOW, None, &store).await.unwrap();
    assert!(matches!(valid, Valid::Opaque(_, ref c) if c.jti == "o1"));
    v.validate(&token, NOW, None, &store).await.unwrap();
    assert_eq!(
        store.lookups.load(Ordering::SeqCst),
        1,
        "the second answer comes from the cache"
    );

    let mut broken = token.clone();
    broken.replace_range(10..11, if &token[10..11] == "A" { "B" } else { "A" });
    for bad in [
        broken.as_str(),
        "gat_",
        "gat_short",
        &token[..token.len() - 1],
    ] {
        assert_eq!(
            v.validate(bad, NOW, None, &store).await,
            Err(Invalid::Rejected(Rejection::Malformed))
        );
    }
    assert_eq!(
        store.lookups.load(Ordering::SeqCst),
        1,
        "garbage never reaches the store"
    );

    let unknown = OpaqueToken::from_random([9; 32]);
    assert_eq!(
        v.validate(unknown.as_str(), NOW, None, &store).await,
        Err(Invalid::Rejected(Rejection::Unknown))
    );
    assert_eq!(
        v.validate(&token, NOW.plus(400), None, &store).await,
        Err(Invalid::Rejected(Rejection::Expired))
    );
}

#[tokio::test]
async fn opaque_revocation_is_honoured_in_the_store_and_in_the_cache() {
    let (_, v) = setup();
    let store = Store::default();
    let revoked = opaque(&store, "o2", true);
    assert_eq!(
        v.validate(&revoked, NOW, None, &store).await,
        Err(Invalid::Rejected(Rejection::Revoked))
    );
    let live = opaque(&store, "o3", false);
    v.validate(&live, NOW, None, &store).await.unwrap();
    v.revocations().insert("o3".into(), NOW.plus(300));
    assert_eq!(
        v.validate(&live, NOW, None, &store).await,
        Err(Invalid::Rejected(Rejection::Revoked))
    );
}

#[tokio::test]
async fn a_store_failure_is_not_an_answer() {
    let (_, v) = setup();
    let store = Store::default();
    let token = opaque(&store, "o4", false);
    store.down.store(true, Ordering::SeqCst);
    assert!(matches!(
        v.validate(&token, NOW, None, &store).await,
        Err(Invalid::Lookup(_))
    ));
}
