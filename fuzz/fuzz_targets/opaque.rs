//! The opaque-token path: any bytes, as text (invalid UTF-8 replaced, so every input reaches the
//! parser, non-ASCII included), through `OpaqueToken::parse` and the validator's `validate`,
//! which routes `gat_`-prefixed text to the checksum and the store. Must never panic.
#![no_main]

use std::sync::LazyLock;

use gatehouse_token::{AccessTokenClaims, Audience, OpaqueToken, SecretDigest, UnixTime};
use gatehouse_validator::{
    KeySnapshot, LookupError, OpaqueRecord, OpaqueTokens, Policy, Validator,
};
use libfuzzer_sys::fuzz_target;

/// The one token in the store: `OpaqueToken::from_random([7; 32])`, also a seed.
struct OneToken(SecretDigest);

#[async_trait::async_trait]
impl OpaqueTokens for OneToken {
    async fn lookup(&self, digest: &SecretDigest) -> Result<Option<OpaqueRecord>, LookupError> {
        Ok((*digest == self.0).then(|| OpaqueRecord {
            claims: AccessTokenClaims {
                iss: "https://as.example".into(),
                sub: "c".into(),
                aud: Audience::One("https://rs.example".into()),
                client_id: "c".into(),
                scope: None,
                iat: UnixTime(1_000),
                nbf: None,
                exp: UnixTime(2_000),
                jti: "j".into(),
            },
            revoked: false,
        }))
    }
}

static STORE: LazyLock<OneToken> =
    LazyLock::new(|| OneToken(OpaqueToken::from_random([7; 32]).digest()));
static VALIDATOR: LazyLock<Validator> = LazyLock::new(|| {
    let mut policy = Policy::for_issuer("https://as.example");
    policy.cache_size = 64;
    Validator::new(policy, KeySnapshot::default())
});

/// Polls a future that never waits (the store above answers at once) to completion.
fn run<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for candidate in [text.to_string(), format!("gat_{text}")] {
        if let Ok(token) = OpaqueToken::parse(&candidate) {
            assert_eq!(token.as_str(), candidate);
        }
        let _ = run(VALIDATOR.validate(&candidate, UnixTime(1_500), None, &*STORE));
        let _ = run(VALIDATOR.validate(&candidate, UnixTime(1_500), Some("https://rs.example"), &*STORE));
    }
});
