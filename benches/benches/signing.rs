//! Signing: the bare ring operation as the baseline, Gatehouse's software key over it, and the
//! same algorithm through SoftHSM2 (PKCS#11); then client-credentials issuance end to end (the
//! router called in process, no socket) with a software key and with an HSM key.
//!
//! Needs a SoftHSM2 token in the environment: run through `scripts/bench`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, header};
use base64::Engine as _;
use criterion::{Criterion, criterion_group, criterion_main};
use gatehouse_benches::{rsa_pkcs8, software_key};
use gatehouse_core::testing::ClientBuilder;
use gatehouse_server::config::Config;
use gatehouse_signer::pkcs11::{Hsm, Pkcs11Settings, TokenSelector};
use gatehouse_signer::{SigningKey, SoftwareKey};
use gatehouse_token::Algorithm;
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair,
    KeyPair as _,
};
use tower::ServiceExt as _;

const MESSAGE: &[u8] = b"eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiYXQrand0In0.eyJpc3MiOiJodHRwczovL2FzLmV4YW1wbGUiLCJzdWIiOiJjbGllbnQiLCJhdWQiOiJodHRwczovL3JzLmV4YW1wbGUiLCJjbGllbnRfaWQiOiJjbGllbnQiLCJzY29wZSI6InJlYWQiLCJpYXQiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDAwMzYwMCwianRpIjoiYWJjZGVmIn0";

fn env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run the benchmarks with scripts/bench"))
}

fn hsm() -> Arc<Hsm> {
    let pin = std::fs::read_to_string(env("GATEHOUSE_SIGNING__PKCS11__PIN_FILE")).unwrap();
    Hsm::connect(&Pkcs11Settings {
        module: env("GATEHOUSE_SIGNING__PKCS11__MODULE").into(),
        token: TokenSelector::Label(env("GATEHOUSE_SIGNING__PKCS11__TOKEN_LABEL")),
        pin: pin.trim().to_owned(),
        key_label_prefix: "bench-".into(),
        rsa_bits: 2048,
        sessions: 4,
        max_waiting: 64,
    })
    .unwrap()
}

/// The bare ring signing operation for `alg`, the floor everything else is measured against.
fn bare_ring(alg: Algorithm, rsa: &[u8]) -> Box<dyn Fn() -> Vec<u8>> {
    let rng = SystemRandom::new();
    match alg {
        Algorithm::ES256 | Algorithm::ES384 => {
            let a = if alg == Algorithm::ES256 {
                &ECDSA_P256_SHA256_FIXED_SIGNING
            } else {
                &ECDSA_P384_SHA384_FIXED_SIGNING
            };
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(a, &rng).unwrap();
            let pair = EcdsaKeyPair::from_pkcs8(a, pkcs8.as_ref(), &rng).unwrap();
            Box::new(move || pair.sign(&rng, MESSAGE).unwrap().as_ref().to_vec())
        }
        Algorithm::EdDSA => {
            let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
            let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
            let _ = pair.public_key();
            Box::new(move || pair.sign(MESSAGE).as_ref().to_vec())
        }
        Algorithm::PS256 | Algorithm::RS256 => {
            let pair = ring::rsa::KeyPair::from_pkcs8(rsa).unwrap();
            let enc: &'static dyn ring::signature::RsaEncoding = if alg == Algorithm::PS256 {
                &ring::signature::RSA_PSS_SHA256
            } else {
                &ring::signature::RSA_PKCS1_SHA256
            };
            Box::new(move || {
                let mut sig = vec![0; pair.public().modulus_len()];
                pair.sign(enc, &rng, MESSAGE, &mut sig).unwrap();
                sig
            })
        }
    }
}

fn signing(c: &mut Criterion) {
    let hsm = hsm();
    let rsa = rsa_pkcs8();
    for alg in Algorithm::ALL {
        let mut group = c.benchmark_group(format!("sign/{alg}"));
        let bare = bare_ring(alg, &rsa);
        group.bench_function("ring (bare)", |b| b.iter(|| black_box(bare())));
        let software = software_key(alg, &rsa);
        group.bench_function("software key", |b| {
            b.iter(|| black_box(software.sign(MESSAGE).unwrap()))
        });
        let hsm_key = hsm.generate(alg).unwrap();
        group.bench_function("softhsm2", |b| {
            b.iter(|| black_box(hsm_key.sign(MESSAGE).unwrap()))
        });
        group.finish();
    }

    // Throughput with both cores: N signatures split over 2 threads, per signature.
    let mut group = c.benchmark_group("sign/ES256, 2 threads");
    let software: Arc<dyn SigningKey> = Arc::new(SoftwareKey::generate(Algorithm::ES256).unwrap());
    let hsm_key: Arc<dyn SigningKey> = Arc::new(hsm.generate(Algorithm::ES256).unwrap());
    for (name, key) in [("software key", software), ("softhsm2", hsm_key)] {
        group.bench_function(name, |b| b.iter_custom(|n| two_threads(&key, n)));
    }
    group.finish();
}

fn two_threads(key: &Arc<dyn SigningKey>, n: u64) -> Duration {
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..2 {
            let key = key.clone();
            s.spawn(move || {
                for _ in 0..n.div_ceil(2) {
                    black_box(key.sign(MESSAGE).unwrap());
                }
            });
        }
    });
    start.elapsed()
}

/// The public router of a server built from `env` (on a temporary data directory), and the
/// Basic credentials of a client registered on it.
fn app(
    rt: &tokio::runtime::Runtime,
    dir: &std::path::Path,
    env: Vec<(String, String)>,
) -> (axum::Router, String) {
    let mut env = env;
    env.push(("GATEHOUSE_DATA_DIR".into(), dir.display().to_string()));
    env.push(("GATEHOUSE_LOG".into(), "error".into()));
    let config = Config::load_from(None, env).unwrap();
    rt.block_on(async {
        let app = gatehouse_server::serve::build_app(config).await.unwrap();
        let (client, secret) = ClientBuilder::new().name("bench").build();
        let basic = format!("{}:{}", client.id, secret.unwrap().expose());
        app.clients.insert(client).await.unwrap();
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(basic.as_bytes())
        );
        (gatehouse_server::app::router(app), basic)
    })
}

fn issuance(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("issue/client_credentials ES256");
    let hsm_env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k.starts_with("GATEHOUSE_SIGNING__"))
        .chain([("GATEHOUSE_SIGNING__BACKEND".to_owned(), "pkcs11".to_owned())])
        .collect();
    for (name, env) in [("software key", Vec::new()), ("softhsm2", hsm_env)] {
        let dir = tempfile::tempdir().unwrap();
        let (router, basic) = app(&rt, dir.path(), env);
        group.bench_function(name, |b| {
            b.to_async(&rt).iter(|| {
                let request = Request::post("/token")
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .header(header::AUTHORIZATION, &basic)
                    .body(Body::from("grant_type=client_credentials"))
                    .unwrap();
                let router = router.clone();
                async move {
                    let response = router.oneshot(request).await.unwrap();
                    assert_eq!(response.status(), 200);
                    black_box(response)
                }
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = signing, issuance
}
criterion_main!(benches);
