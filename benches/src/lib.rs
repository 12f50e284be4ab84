//! Shared fixtures of Gatehouse's benchmarks (`benches/`) and of the instruction-count driver
//! (`src/bin/cached_validation.rs`, run by `scripts/callgrind`).

use std::sync::Arc;

use gatehouse_signer::{KeyRing, SigningKey, jws};
use gatehouse_token::{AccessTokenClaims, Audience, UnixTime};
use gatehouse_validator::{KeySnapshot, Policy, Validator};

/// The issuer of the benchmark tokens.
pub const ISSUER: &str = "https://as.example";
/// The benchmarks' fixed "now".
pub const NOW: UnixTime = UnixTime(1_800_000_000);

/// Typical access-token claims, with a distinct `jti` per `n`.
pub fn claims(n: u64) -> AccessTokenClaims {
    AccessTokenClaims {
        iss: ISSUER.into(),
        sub: "bench-client-0123456789".into(),
        aud: Audience::One("https://mcp.example.com/mcp".into()),
        client_id: "bench-client-0123456789".into(),
        scope: Some("tools:read tools:call".into()),
        iat: NOW,
        nbf: None,
        exp: NOW.plus(3600),
        jti: format!("jti-{n:016}"),
        act: None,
        cnf: None,
    }
}

/// A signed access token.
pub fn token(key: &dyn SigningKey, n: u64) -> String {
    jws::sign_compact(key, "at+jwt", &claims(n)).expect("sign")
}

/// A validator that knows `key`, with `cache_size` slots per cache.
pub fn validator(key: Arc<dyn SigningKey>, cache_size: usize) -> Validator {
    let snapshot = KeySnapshot::from_jwks(&KeyRing::new(key, vec![]).jwks()).expect("snapshot");
    let mut policy = Policy::for_issuer(ISSUER);
    policy.cache_size = cache_size;
    Validator::new(policy, snapshot)
}

/// The snapshot of `key` alone.
pub fn snapshot(key: Arc<dyn SigningKey>) -> KeySnapshot {
    KeySnapshot::from_jwks(&KeyRing::new(key, vec![]).jwks()).expect("snapshot")
}

/// An RSA-2048 PKCS#8 key from OpenSSL (ring cannot generate RSA keys).
pub fn rsa_pkcs8() -> Vec<u8> {
    let out = std::process::Command::new("sh")
        .args([
            "-c",
            "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 2>/dev/null \
             | openssl pkcs8 -topk8 -nocrypt -outform DER",
        ])
        .output()
        .expect("openssl");
    assert!(out.status.success(), "openssl failed");
    out.stdout
}

/// A software key for `alg`: generated, or for RSA (which ring cannot generate) loaded from `rsa`.
pub fn software_key(alg: gatehouse_token::Algorithm, rsa: &[u8]) -> gatehouse_signer::SoftwareKey {
    use gatehouse_token::Algorithm;
    match alg {
        Algorithm::PS256 | Algorithm::RS256 => gatehouse_signer::SoftwareKey::from_pkcs8(alg, rsa),
        _ => gatehouse_signer::SoftwareKey::generate(alg),
    }
    .expect("software key")
}
