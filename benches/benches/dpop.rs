//! DPoP (RFC 9449): the whole check of a proof at a resource server — parsing, every header and
//! claim check, the signature with the proof's own `jwk`, the RFC 7638 thumbprint against
//! `cnf.jkt`, `ath`, and the `jti` insert into the in-memory replay cache — against the bare
//! ring ES256 verification of the same JWS, in the same group. Goal: within 15%.
//!
//! Every iteration checks a fresh proof (its own `jti`, signed in the untimed setup), so the
//! replay cache never refuses one; each gets a new cache, dropped untimed.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use gatehouse_token::{Confirmation, KeyParams, UnixTime, b64};
use gatehouse_validator::dpop::{self, DpopSettings, Expected, ReplayCache};
use ring::rand::SystemRandom;
use ring::signature::{
    self, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _, UnparsedPublicKey,
};

const NOW: UnixTime = UnixTime(1_800_000_000);
const URL: &str = "https://mcp.example.com/mcp";
const TOKEN: &str = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsiLCJ0eXAiOiJhdCtqd3QifQ.e30.sig";

fn proofs(c: &mut Criterion) {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let point = pair.public_key().as_ref().to_vec();
    let jwk = serde_json::json!({
        "kty": "EC", "crv": "P-256",
        "x": b64::encode(&point[1..33]), "y": b64::encode(&point[33..]),
    });
    let jkt = serde_json::from_value::<KeyParams>(jwk.clone())
        .unwrap()
        .thumbprint();
    let header =
        b64::encode(serde_json::json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk}).to_string());
    let ath = dpop::access_token_hash(TOKEN);
    let mut n = 0u64;
    let mut fresh = move || {
        n += 1;
        let claims = serde_json::json!({
            "jti": format!("proof-{n:016}"), "htm": "GET", "htu": URL,
            "iat": NOW.0, "ath": ath,
        });
        let input = format!("{header}.{}", b64::encode(claims.to_string()));
        let sig = pair.sign(&rng, input.as_bytes()).unwrap();
        format!("{input}.{}", b64::encode(sig))
    };
    let settings = DpopSettings::default();
    let cnf = Confirmation::dpop(jkt);
    let expected = Expected {
        method: "GET",
        url: URL,
        now: NOW,
        access_token: Some(TOKEN),
    };
    assert!(
        dpop::verify_for_resource(
            &settings,
            &ReplayCache::default(),
            &fresh(),
            &expected,
            Some(&cnf)
        )
        .is_ok()
    );

    let mut group = c.benchmark_group("dpop");
    group.bench_function("bare ES256 verify", |b| {
        b.iter_batched_ref(
            &mut fresh,
            |proof: &mut String| {
                let (input, sig) = proof.rsplit_once('.').unwrap();
                let sig = b64::decode(sig).unwrap();
                let key = UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &point);
                black_box(key.verify(input.as_bytes(), &sig).is_ok())
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("proof check", |b| {
        b.iter_batched_ref(
            || (fresh(), ReplayCache::new(1024)),
            |(proof, replay)| {
                black_box(dpop::verify_for_resource(
                    &settings,
                    replay,
                    proof,
                    &expected,
                    Some(&cnf),
                ))
                .is_ok()
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, proofs);
criterion_main!(benches);
