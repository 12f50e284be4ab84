//! Tokens made by code nobody here wrote: PyJWT (vectors/pyjwt.json, made by
//! vectors/make_pyjwt.py), and the worked examples of RFC 7515 (A.3, ES256) and RFC 8037 (A.4,
//! Ed25519). Each must validate or be refused exactly as recorded.

mod common;

use gatehouse_token::{Algorithm, Jwk, JwkSet, KeyParams, UnixTime, b64};
use gatehouse_validator::{KeySnapshot, Policy, Rejection, Validator, VerifyingKey};
use serde::Deserialize;

#[derive(Deserialize)]
struct Vectors {
    generator: String,
    issuer: String,
    audience: String,
    now: u64,
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    name: String,
    jwk: Jwk,
    token: String,
    expect: String,
}

fn rejection(name: &str) -> Rejection {
    match name {
        "Expired" => Rejection::Expired,
        "WrongType" => Rejection::WrongType,
        "WrongIssuer" => Rejection::WrongIssuer,
        "WrongAudience" => Rejection::WrongAudience,
        "BadSignature" => Rejection::BadSignature,
        "Malformed" => Rejection::Malformed,
        "Header" => Rejection::Header,
        "AlgorithmMismatch" => Rejection::AlgorithmMismatch,
        other => panic!("unknown expectation {other}"),
    }
}

#[test]
fn pyjwt_tokens_get_the_recorded_verdicts() {
    let file: Vectors = serde_json::from_str(include_str!("vectors/pyjwt.json")).unwrap();
    assert!(file.generator.starts_with("PyJWT"));
    assert!(file.vectors.len() >= 50);
    for v in &file.vectors {
        let snapshot = KeySnapshot::from_jwks(&JwkSet {
            keys: vec![v.jwk.clone()],
        })
        .unwrap();
        let validator = Validator::new(Policy::for_issuer(file.issuer.as_str()), snapshot);
        let got = validator
            .validate_jwt(&v.token, UnixTime(file.now), Some(&file.audience))
            .map(|_| ());
        let want = if v.expect == "valid" {
            Ok(())
        } else {
            Err(rejection(&v.expect))
        };
        assert_eq!(got, want, "{}", v.name);
    }
}

/// RFC 7515 Appendix A.3: the ES256 example signature verifies under the example key.
#[test]
fn rfc7515_a3_es256_example() {
    let jwk = common::rfc7515_a3_jwk("rfc7515-a3");
    let input = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
    let sig = b64::decode(
        "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q",
    )
    .unwrap();
    let key = VerifyingKey::from_jwk(&jwk).unwrap();
    assert!(key.verify(input.as_bytes(), &sig));
    assert!(!key.verify(format!("{input}x").as_bytes(), &sig));
    // As an access token it is refused: no kid, no typ, not our issuer.
    let validator = Validator::new(
        Policy::for_issuer("joe"),
        KeySnapshot::from_jwks(&JwkSet { keys: vec![jwk] }).unwrap(),
    );
    assert!(
        validator
            .validate_jwt(
                &format!("{input}.{}", b64::encode(&sig)),
                UnixTime(1_300_000_000),
                None
            )
            .is_err()
    );
}

/// RFC 8037 Appendix A.4: the Ed25519 example signature verifies under the example key.
#[test]
fn rfc8037_a4_ed25519_example() {
    let jwk = Jwk {
        x5c: Vec::new(),
        kid: "rfc8037-a4".into(),
        alg: Algorithm::EdDSA,
        use_: None,
        params: KeyParams::Okp {
            crv: "Ed25519".into(),
            x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo".into(),
        },
    };
    let input = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
    let sig = b64::decode(
        "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg",
    )
    .unwrap();
    let key = VerifyingKey::from_jwk(&jwk).unwrap();
    assert!(key.verify(input.as_bytes(), &sig));
    let mut bad = sig;
    bad[0] ^= 1;
    assert!(!key.verify(input.as_bytes(), &bad));
}
