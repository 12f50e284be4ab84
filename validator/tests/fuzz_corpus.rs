//! Replays the fuzzing corpus of `fuzz/` (targets `jws`, `jwks` and `opaque`) through the same calls the
//! fuzz targets make, so every input the fuzzer found interesting stays a regression test.

mod common;
#[path = "../../fuzz/fuzz_targets/support/one_token.rs"]
mod one_token;

use std::path::PathBuf;

use gatehouse_token::{JwkSet, OpaqueToken, UnixTime};
use gatehouse_validator::{KeySnapshot, Policy, Validator};
use one_token::OneToken;

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let inputs: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
        .collect();
    assert!(inputs.len() >= 2, "the {target} corpus is missing");
    inputs
}

#[test]
fn jws_corpus_replays() {
    let jwk = common::rfc7515_a3_jwk("rfc7515-a3");
    let validator = Validator::new(
        Policy::for_issuer("https://as.example"),
        KeySnapshot::from_jwks(&JwkSet { keys: vec![jwk] }).unwrap(),
    );
    let mut valid = 0;
    for input in corpus("jws") {
        let token = String::from_utf8_lossy(&input);
        valid += usize::from(
            validator
                .validate_jwt(&token, UnixTime(1_800_000_000), Some("https://rs.example"))
                .is_ok(),
        );
    }
    assert!(
        valid >= 1,
        "the seed token signed by PyJWT under the RFC 7515 A.3 key validates"
    );
}

#[test]
fn jwks_corpus_replays() {
    let parsed = corpus("jwks")
        .iter()
        .filter(|input| KeySnapshot::parse_jwks(input).is_ok())
        .count();
    assert!(parsed >= 1);
}

#[tokio::test]
async fn opaque_corpus_replays() {
    let store = OneToken::default();
    let validator = Validator::new(
        Policy::for_issuer("https://as.example"),
        KeySnapshot::default(),
    );
    let (mut valid, mut non_ascii) = (0, 0);
    for input in corpus("opaque") {
        let text = String::from_utf8_lossy(&input);
        non_ascii += usize::from(!text.is_ascii());
        for candidate in [text.to_string(), format!("gat_{text}")] {
            let _ = OpaqueToken::parse(&candidate);
            valid += usize::from(
                validator
                    .validate(&candidate, UnixTime(1_500), None, &store)
                    .await
                    .is_ok(),
            );
        }
    }
    assert!(valid >= 1, "the seed of the stored token validates");
    assert!(non_ascii >= 3, "the corpus carries non-ASCII seeds");
}
