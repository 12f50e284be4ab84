//! The compact JWS path of the validator: any bytes, as a token, against a fixed key (the
//! RFC 7515 A.3 P-256 key, kid "rfc7515-a3"). Must never panic; the seeds carry valid tokens.
//! Invalid UTF-8 is replaced rather than skipped, so every input reaches the parser and
//! non-ASCII text is exercised in every position.
#![no_main]

use std::sync::LazyLock;

use gatehouse_token::{Algorithm, Jwk, JwkSet, KeyParams, UnixTime};
use gatehouse_validator::{KeySnapshot, Policy, Validator};
use libfuzzer_sys::fuzz_target;

static VALIDATOR: LazyLock<Validator> = LazyLock::new(|| {
    let jwk = Jwk {
        x5c: Vec::new(),
        kid: "rfc7515-a3".into(),
        alg: Algorithm::ES256,
        use_: None,
        params: KeyParams::Ec {
            crv: "P-256".into(),
            x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU".into(),
            y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0".into(),
        },
    };
    let snapshot = KeySnapshot::from_jwks(&JwkSet { keys: vec![jwk] }).expect("key");
    let mut policy = Policy::for_issuer("https://as.example");
    policy.cache_size = 64;
    Validator::new(policy, snapshot)
});

fuzz_target!(|data: &[u8]| {
    let token = String::from_utf8_lossy(data);
    let _ = VALIDATOR.validate_jwt(&token, UnixTime(1_800_000_000), Some("https://rs.example"));
    let _ = VALIDATOR.validate_jwt(&token, UnixTime(1_800_000_000), None);
});
