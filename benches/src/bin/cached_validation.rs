//! Runs N cached validations of one ES256 access token, for instruction counting:
//! `valgrind --tool=callgrind target/release/cached-validation N`. `scripts/callgrind` runs it
//! for two values of N and reports the instructions of one validation (the difference, so the
//! set-up cost cancels out).

use std::hint::black_box;
use std::sync::Arc;

use gatehouse_benches::{NOW, token, validator};
use gatehouse_signer::{SigningKey, SoftwareKey};
use gatehouse_token::Algorithm;

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let key: Arc<dyn SigningKey> =
        Arc::new(SoftwareKey::generate(Algorithm::ES256).unwrap_or_else(|e| panic!("{e}")));
    let token = token(key.as_ref(), 1);
    let v = validator(key, 1024);
    v.validate_jwt(&token, NOW, None)
        .unwrap_or_else(|e| panic!("{e}"));
    for _ in 0..n {
        black_box(
            v.validate_jwt(black_box(&token), NOW, Some("https://mcp.example.com/mcp"))
                .ok(),
        );
    }
}
