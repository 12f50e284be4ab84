//! Client authentication with `private_key_jwt` (RFC 7523 §2.2), in one criterion group with
//! its baseline:
//! - `ring verify (bare)`: the ES256 signature of the assertion checked by ring, nothing else;
//! - `private_key_jwt authentication`: what the token endpoint does with the same kind of
//!   assertion: the form body parsed, the credentials picked, the client looked up, the header
//!   and key checked and the signature verified (validator, ring), every claim rule, and the
//!   `jti` recorded in the in-memory replay store.
//!
//! Goal: within 15% of the bare verification. Each iteration gets a fresh assertion (a new
//! `jti`, so the replay check passes), signed in the untimed setup of both arms alike.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use gatehouse_core::assertion::AssertionSettings;
use gatehouse_core::client::auth::private_key_jwt::{ClientAssertionRules, DEFAULT_MAX_LIFETIME};
use gatehouse_core::client::auth::{
    AssertionContext, AuthContext, Credentials, JWT_BEARER_ASSERTION, authenticate,
};
use gatehouse_core::client::keys::ClientKeys;
use gatehouse_core::form::Form;
use gatehouse_core::memory::MemoryStore;
use gatehouse_core::store::ClientStore;
use gatehouse_core::testing::{ClientBuilder, FixedClock};
use gatehouse_server::clients::AssertionKeys;
use gatehouse_server::config::ClientKeysConfig;
use gatehouse_signer::{SigningKey, SoftwareKey};
use gatehouse_token::{Algorithm, JwkSet, b64};
use ring::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
use serde_json::json;

const ISSUER: &str = "https://as.example";
const NOW: u64 = 1_800_000_000;

/// A fresh assertion of `client` (a new `jti` each time).
fn assertion(key: &SoftwareKey, client: &str, n: u64) -> String {
    let header = json!({"alg": "ES256", "kid": key.kid(), "typ": "JWT"});
    let claims = json!({
        "iss": client, "sub": client, "aud": ISSUER,
        "iat": NOW, "exp": NOW + 60, "jti": format!("assertion-{n}"),
    });
    let input = format!(
        "{}.{}",
        b64::encode(header.to_string()),
        b64::encode(claims.to_string())
    );
    let signature = key.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", b64::encode(signature))
}

fn private_key_jwt(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let key = SoftwareKey::generate(Algorithm::ES256).unwrap();
    let keys = ClientKeys::Jwks(JwkSet {
        keys: vec![key.public_jwk().clone()],
    });
    let client = ClientBuilder::new().keys(keys).client();
    let id = client.id.as_str().to_owned();
    let store = MemoryStore::default();
    rt.block_on(ClientStore::insert(&store, client)).unwrap();
    let clock = Arc::new(FixedClock::at(NOW));
    let settings = ClientKeysConfig::default();
    let fetcher = gatehouse_server::clients::assertion_keys::fetcher(&settings).unwrap();
    let verifier = AssertionKeys::new(settings, fetcher, clock);
    let rules = ClientAssertionRules {
        issuer: ISSUER.into(),
        token_endpoint: format!("{ISSUER}/token"),
        issuer_only: false,
        lifetimes: AssertionSettings {
            max_lifetime: DEFAULT_MAX_LIFETIME,
            leeway: 30,
            ..AssertionSettings::default()
        },
    };
    let ctx = AuthContext {
        clients: &store,
        assertions: AssertionContext {
            verifier: &verifier,
            replay: &store,
            rules: &rules,
            endpoint: "https://as.example/token",
            now: gatehouse_token::UnixTime(NOW),
        },
    };
    let point = {
        let jwk = serde_json::to_value(key.public_jwk()).unwrap();
        let d = |m: &str| b64::decode(jwk[m].as_str().unwrap()).unwrap();
        [vec![4u8], d("x"), d("y")].concat()
    };
    let public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point);
    let body = |a: &str| {
        format!(
            "grant_type=client_credentials&client_assertion_type={JWT_BEARER_ASSERTION}&client_assertion={a}"
        )
    };
    // Sanity: both arms accept what they are given, and a replay is refused.
    let first = assertion(&key, &id, 0);
    let form = Form::parse(body(&first).as_bytes()).unwrap();
    let creds = Credentials::from_request(None, &form).unwrap();
    assert!(rt.block_on(authenticate(&creds, &ctx)).is_ok());
    assert!(rt.block_on(authenticate(&creds, &ctx)).is_err());
    let mut n = 1;
    let mut fresh = || {
        n += 1;
        assertion(&key, &id, n)
    };

    let mut group = c.benchmark_group("client_auth/private_key_jwt ES256");
    group.bench_function("ring verify (bare)", |b| {
        b.iter_batched(
            &mut fresh,
            |a| {
                let (input, sig) = a.rsplit_once('.').unwrap();
                let sig = b64::decode(sig).unwrap();
                black_box(public.verify(input.as_bytes(), &sig).is_ok())
            },
            BatchSize::SmallInput,
        );
    });
    group.bench_function("private_key_jwt authentication", |b| {
        b.iter_batched(
            &mut fresh,
            |a| {
                let form = Form::parse(body(&a).as_bytes()).unwrap();
                let creds = Credentials::from_request(None, &form).unwrap();
                black_box(rt.block_on(authenticate(&creds, &ctx)).unwrap())
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(1));
    targets = private_key_jwt
}
criterion_main!(benches);
