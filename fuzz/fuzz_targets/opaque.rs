//! The opaque-token path: any bytes, as text (invalid UTF-8 replaced, so every input reaches the
//! parser, non-ASCII included), through `OpaqueToken::parse` and the validator's `validate`,
//! which routes `gat_`-prefixed text to the checksum and the store. Must never panic.
#![no_main]

use std::sync::LazyLock;

use gatehouse_token::{OpaqueToken, UnixTime};
use gatehouse_validator::{KeySnapshot, Policy, Validator};
use libfuzzer_sys::fuzz_target;

#[path = "support/one_token.rs"]
mod one_token;
use one_token::OneToken;

static STORE: LazyLock<OneToken> = LazyLock::new(OneToken::default);
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
