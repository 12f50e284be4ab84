//! Validation, each group with its own baseline measured in the same run:
//! - `verify/<alg>`: the bare ring verification of the token's signature vs Gatehouse's fresh
//!   validation of the whole token (cache off). Goal: under 10% overhead.
//! - `cached`: a cached validation vs a fresh ES256 one. Goal: at least 100× faster.
//! - `snapshot swaps`: cached validations from 2 threads, with the key snapshot swapped every
//!   millisecond vs never. Goal: within 10%.
//! - `reject`: garbage and oversized tokens vs one SHA-256 of the token. Goal: cheaper.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use gatehouse_benches::{NOW, rsa_pkcs8, snapshot, software_key, token, validator};
use gatehouse_signer::{SigningKey, SoftwareKey};
use gatehouse_token::{Algorithm, KeyParams, b64};
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};

/// The bare ring verification of `token`'s signature with `key`'s public half.
fn bare_verify(key: &dyn SigningKey, token: &str) -> impl Fn() -> bool + use<> {
    let (input, sig) = token.rsplit_once('.').unwrap();
    let (input, sig) = (input.as_bytes().to_vec(), b64::decode(sig).unwrap());
    let d = |s: &str| b64::decode(s).unwrap();
    let alg = key.algorithm();
    let params = key.public_jwk().params.clone();
    move || match &params {
        KeyParams::Ec { x, y, .. } => {
            let mut point = vec![4];
            point.extend(d(x));
            point.extend(d(y));
            let a: &signature::EcdsaVerificationAlgorithm = if alg == Algorithm::ES256 {
                &signature::ECDSA_P256_SHA256_FIXED
            } else {
                &signature::ECDSA_P384_SHA384_FIXED
            };
            UnparsedPublicKey::new(a, point)
                .verify(&input, &sig)
                .is_ok()
        }
        KeyParams::Okp { x, .. } => UnparsedPublicKey::new(&signature::ED25519, d(x))
            .verify(&input, &sig)
            .is_ok(),
        KeyParams::Rsa { n, e } => {
            let p = if alg == Algorithm::PS256 {
                &signature::RSA_PSS_2048_8192_SHA256
            } else {
                &signature::RSA_PKCS1_2048_8192_SHA256
            };
            RsaPublicKeyComponents { n: d(n), e: d(e) }
                .verify(p, &input, &sig)
                .is_ok()
        }
    }
}

fn fresh_vs_ring(c: &mut Criterion) {
    let rsa = rsa_pkcs8();
    for alg in Algorithm::ALL {
        let key: Arc<dyn SigningKey> = Arc::new(software_key(alg, &rsa));
        let token = token(key.as_ref(), 1);
        let bare = bare_verify(key.as_ref(), &token);
        assert!(bare());
        let v = validator(key, 0);
        let mut group = c.benchmark_group(format!("verify/{alg}"));
        group.bench_function("ring verify (bare)", |b| b.iter(|| black_box(bare())));
        group.bench_function("gatehouse fresh validation", |b| {
            b.iter(|| {
                black_box(
                    v.validate_jwt(black_box(&token), NOW, Some("https://mcp.example.com/mcp"))
                        .unwrap(),
                )
            })
        });
        group.finish();
    }
}

fn cached(c: &mut Criterion) {
    let key: Arc<dyn SigningKey> = Arc::new(SoftwareKey::generate(Algorithm::ES256).unwrap());
    let token = token(key.as_ref(), 1);
    let fresh = validator(key.clone(), 0);
    let cached = validator(key, 1024);
    cached.validate_jwt(&token, NOW, None).unwrap();
    let mut group = c.benchmark_group("cached/ES256");
    group.bench_function("fresh validation", |b| {
        b.iter(|| black_box(fresh.validate_jwt(black_box(&token), NOW, None).unwrap()))
    });
    group.bench_function("cached validation", |b| {
        b.iter(|| black_box(cached.validate_jwt(black_box(&token), NOW, None).unwrap()))
    });
    group.finish();
}

/// Time per cached validation, `n` split over 2 threads, with or without a third thread
/// swapping the key snapshot every millisecond.
fn two_threads(
    v: &gatehouse_validator::Validator,
    token: &str,
    key: &Arc<dyn SigningKey>,
    n: u64,
    swap: bool,
) -> Duration {
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        if swap {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    v.swap_keys(snapshot(key.clone()));
                    std::thread::sleep(Duration::from_millis(1));
                }
            });
        }
        let start = Instant::now();
        let workers: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    for _ in 0..n.div_ceil(2) {
                        black_box(v.validate_jwt(black_box(token), NOW, None).unwrap());
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        let elapsed = start.elapsed();
        stop.store(true, Ordering::Relaxed);
        elapsed
    })
}

fn swaps(c: &mut Criterion) {
    let key: Arc<dyn SigningKey> = Arc::new(SoftwareKey::generate(Algorithm::ES256).unwrap());
    let token = token(key.as_ref(), 1);
    let v = validator(key.clone(), 1024);
    v.validate_jwt(&token, NOW, None).unwrap();
    let mut group = c.benchmark_group("snapshot swaps/cached ES256, 2 threads");
    group.bench_function("no swaps", |b| {
        b.iter_custom(|n| two_threads(&v, &token, &key, n, false))
    });
    group.bench_function("swap every 1 ms", |b| {
        b.iter_custom(|n| two_threads(&v, &token, &key, n, true))
    });
    group.finish();
}

fn reject(c: &mut Criterion) {
    let key: Arc<dyn SigningKey> = Arc::new(SoftwareKey::generate(Algorithm::ES256).unwrap());
    let v = validator(key.clone(), 1024);
    let good = token(key.as_ref(), 1);
    let garbage = "this is not a token at all, but it is about as long as one".repeat(9);
    let oversized = "A".repeat(9 * 1024);
    let mut group = c.benchmark_group("reject");
    for (name, input) in [("garbage", &garbage), ("oversized (9 KiB)", &oversized)] {
        group.bench_function(format!("{name}: SHA-256 of the input (baseline)"), |b| {
            b.iter(|| {
                black_box(ring::digest::digest(
                    &ring::digest::SHA256,
                    black_box(input.as_bytes()),
                ))
            })
        });
        group.bench_function(format!("{name}: gatehouse rejection"), |b| {
            b.iter(|| black_box(v.validate_jwt(black_box(input), NOW, None).unwrap_err()))
        });
    }
    group.bench_function("SHA-256 of a real token (for scale)", |b| {
        b.iter(|| {
            black_box(ring::digest::digest(
                &ring::digest::SHA256,
                black_box(good.as_bytes()),
            ))
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = fresh_vs_ring, cached, swaps, reject
}
criterion_main!(benches);
