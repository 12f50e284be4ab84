//! Property tests of the whole validation path (issue 8, item 1): arbitrary text, non-ASCII
//! characters and control bytes in every position of a valid JWT and of a valid opaque token.
//! The validator must answer every one of them, never panic, and accept only the exact token.

mod common;

use std::sync::Arc;

use async_trait::async_trait;
use common::{ISS, NOW, claims};
use gatehouse_signer::{KeyRing, SigningKey, SoftwareKey, jws};
use gatehouse_token::{Algorithm, OpaqueToken, SecretDigest};
use gatehouse_validator::{
    KeySnapshot, LookupError, OpaqueRecord, OpaqueTokens, Policy, Validator,
};
use proptest::prelude::*;

/// One stored opaque token.
struct OneToken(SecretDigest);

#[async_trait]
impl OpaqueTokens for OneToken {
    async fn lookup(&self, digest: &SecretDigest) -> Result<Option<OpaqueRecord>, LookupError> {
        Ok((*digest == self.0).then(|| OpaqueRecord {
            claims: claims("opaque"),
            revoked: false,
        }))
    }
}

struct Fixture {
    validator: Validator,
    jwt: String,
    opaque: String,
    store: OneToken,
    runtime: tokio::runtime::Runtime,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    FIXTURE.get_or_init(|| {
        let key: Arc<dyn SigningKey> = Arc::new(SoftwareKey::generate(Algorithm::ES256).unwrap());
        let snapshot = KeySnapshot::from_jwks(&KeyRing::new(key.clone(), vec![]).jwks()).unwrap();
        let opaque = OpaqueToken::from_random([7; 32]);
        Fixture {
            validator: Validator::new(Policy::for_issuer(ISS), snapshot),
            jwt: jws::sign_compact(key.as_ref(), "at+jwt", &claims("jwt")).unwrap(),
            store: OneToken(opaque.digest()),
            opaque: opaque.as_str().to_owned(),
            runtime: tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap(),
        }
    })
}

/// Whether the validator accepts `token` (through the path a server uses: JWT or opaque).
fn accepts(token: &str) -> bool {
    let f = fixture();
    f.runtime
        .block_on(f.validator.validate(token, NOW, None, &f.store))
        .is_ok()
}

/// Replaces the byte range `at..at + width` of an ASCII token with `with`.
fn splice(text: &str, at: usize, width: usize, with: &str) -> String {
    let at = at % (text.len() + 1);
    let mut out = text.to_owned();
    out.replace_range(at..(at + width).min(text.len()), with);
    out
}

/// Arbitrary replacement text: printable, ASCII controls, two- to four-byte characters.
fn replacement() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,3}",
        "[\\x00-\\x7f]{1,2}",
        "[\\u{80}-\\u{7ff}]{1,2}",
        "[\\u{800}-\\u{ffff}]{1,2}",
        "[\\u{10000}-\\u{10ffff}]{1,2}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn arbitrary_text_is_refused(text in any::<String>()) {
        prop_assert!(!accepts(&text));
        let prefixed = format!("gat_{}", text);
        prop_assert!(!accepts(&prefixed));
    }

    #[test]
    fn every_position_of_an_opaque_token(at in 0usize..64, width in 0usize..3, with in replacement()) {
        let original = &fixture().opaque;
        let changed = splice(original, at, width, &with);
        prop_assert_eq!(accepts(&changed), changed == *original, "{:?}", changed);
    }

    #[test]
    fn every_position_of_a_jwt(at in 0usize..1024, width in 0usize..3, with in replacement()) {
        let original = &fixture().jwt;
        let changed = splice(original, at, width, &with);
        prop_assert_eq!(accepts(&changed), changed == *original, "{:?}", changed);
    }
}

#[test]
fn the_unchanged_tokens_are_accepted() {
    let f = fixture();
    assert!(accepts(&f.jwt) && accepts(&f.opaque));
}
