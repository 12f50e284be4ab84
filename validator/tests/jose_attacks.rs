//! shared/reference/security-matrix.md §3, case by case: every token here must be refused, for
//! the reason named, without a panic. Numbers refer to the matrix.

mod common;

use std::sync::Arc;

use common::{ISS, NOW, claims};
use gatehouse_signer::{KeyRing, SigningKey, SoftwareKey, jws};
use gatehouse_token::{Algorithm, Jwk, KeyParams, b64};
use gatehouse_validator::{KeySnapshot, Policy, Rejection, Validator, VerifyingKey};
use ring::hmac;

struct F {
    key: Arc<dyn SigningKey>,
    v: Validator,
}

fn f() -> F {
    let key: Arc<dyn SigningKey> = Arc::new(SoftwareKey::generate(Algorithm::ES256).unwrap());
    let snapshot = KeySnapshot::from_jwks(&KeyRing::new(key.clone(), vec![]).jwks()).unwrap();
    let mut policy = Policy::for_issuer(ISS);
    policy.cache_size = 0; // every check below is a fresh validation
    F {
        key,
        v: Validator::new(policy, snapshot),
    }
}

impl F {
    fn check(&self, token: &str) -> Result<(), Rejection> {
        self.v.validate_jwt(token, NOW, None).map(|_| ())
    }
    fn header(&self) -> String {
        format!(
            r#"{{"alg":"ES256","kid":"{}","typ":"at+jwt"}}"#,
            self.key.kid()
        )
    }
    fn payload(&self) -> String {
        serde_json::to_string(&claims("j")).unwrap()
    }
    /// Signs raw header and payload bytes with the real key.
    fn sign_raw(&self, header: &[u8], payload: &[u8]) -> String {
        let input = format!("{}.{}", b64::encode(header), b64::encode(payload));
        let sig = self.key.sign(input.as_bytes()).unwrap();
        format!("{input}.{}", b64::encode(sig))
    }
    fn with_signature(&self, sig: &[u8]) -> String {
        let token = self.sign_raw(self.header().as_bytes(), self.payload().as_bytes());
        let (input, _) = token.rsplit_once('.').unwrap();
        format!("{input}.{}", b64::encode(sig))
    }
}

/// §3.1: `none` in any case, with and without a signature.
#[test]
fn m01_alg_none() {
    let f = f();
    for alg in ["none", "None", "NONE", "nOnE"] {
        let h = format!(
            r#"{{"alg":"{alg}","kid":"{}","typ":"at+jwt"}}"#,
            f.key.kid()
        );
        let input = format!("{}.{}", b64::encode(&h), b64::encode(f.payload()));
        assert_eq!(
            f.check(&format!("{input}.")),
            Err(Rejection::AlgorithmMismatch),
            "{alg}"
        );
        assert_eq!(
            f.check(&format!("{input}.c2ln")),
            Err(Rejection::AlgorithmMismatch),
            "{alg}"
        );
    }
}

/// §3.2: HS256 with our public key (in every encoding an attacker might try) as the HMAC secret.
#[test]
fn m02_algorithm_confusion_hs256_with_the_public_key() {
    let f = f();
    let jwk = f.key.public_jwk();
    let KeyParams::Ec { x, y, .. } = &jwk.params else {
        unreachable!()
    };
    let mut point = vec![4u8];
    point.extend(b64::decode(x).unwrap());
    point.extend(b64::decode(y).unwrap());
    let secrets: Vec<Vec<u8>> = vec![
        point.clone(),
        serde_json::to_vec(jwk).unwrap(),
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            b64::encode(&point)
        )
        .into_bytes(),
        format!("  {}", b64::encode(&point)).into_bytes(),
    ];
    for secret in secrets {
        let h = format!(
            r#"{{"alg":"HS256","kid":"{}","typ":"at+jwt"}}"#,
            f.key.kid()
        );
        let input = format!("{}.{}", b64::encode(&h), b64::encode(f.payload()));
        let tag = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, &secret),
            input.as_bytes(),
        );
        assert_eq!(
            f.check(&format!("{input}.{}", b64::encode(tag.as_ref()))),
            Err(Rejection::AlgorithmMismatch)
        );
    }
}

/// §3.3: an algorithm the key is not bound to.
#[test]
fn m03_alg_key_mismatch() {
    let f = f();
    for alg in ["ES384", "EdDSA", "PS256", "RS256", "ES512", "es256"] {
        let h = format!(
            r#"{{"alg":"{alg}","kid":"{}","typ":"at+jwt"}}"#,
            f.key.kid()
        );
        assert_eq!(
            f.check(&f.sign_raw(h.as_bytes(), f.payload().as_bytes())),
            Err(Rejection::AlgorithmMismatch),
            "{alg}"
        );
    }
    let mut jwk = f.key.public_jwk().clone();
    jwk.alg = Algorithm::PS256;
    assert!(
        VerifyingKey::from_jwk(&jwk).is_err(),
        "an EC key cannot be bound to PS256"
    );
}

/// §3.6: `kid` injection: never a path, a query, or anything but an unknown key.
#[test]
fn m06_kid_injection() {
    let f = f();
    for kid in [
        r#""../../dev/null""#,
        r#""' OR 1=1 --""#,
        r#""\u0000""#,
        &format!(r#""{}""#, "k".repeat(5000)),
    ] {
        let h = format!(r#"{{"alg":"ES256","kid":{kid},"typ":"at+jwt"}}"#);
        assert_eq!(
            f.check(&f.sign_raw(h.as_bytes(), f.payload().as_bytes())),
            Err(Rejection::UnknownKey),
            "{kid:.30}"
        );
    }
    for kid in ["1", "{}", "[]", "null", "true"] {
        let h = format!(r#"{{"alg":"ES256","kid":{kid},"typ":"at+jwt"}}"#);
        assert!(
            f.check(&f.sign_raw(h.as_bytes(), f.payload().as_bytes()))
                .is_err(),
            "{kid}"
        );
    }
}

/// §3.8, §3.9, §3.4, §3.5, §3.15, §3.16: header members that are never trusted.
#[test]
fn m08_crit_b64_and_other_headers() {
    let f = f();
    for extra in [
        r#","crit":["b64"],"b64":false"#,
        r#","crit":["exp"]"#,
        r#","crit":[]"#,
        r#","crit":["x-unknown"],"x-unknown":1"#,
        r#","enc":"A256GCM""#,
        r#","zip":"DEF""#,
        r#","cty":"JWT""#,
        r#","jwk":{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}"#,
        r#","jku":"https://attacker.example/jwks.json""#,
        r#","x5u":"https://attacker.example/cert.pem""#,
        r#","x5c":["MIIBIjANBgkq"]"#,
        r#","x5t#S256":"AA""#,
    ] {
        let h = format!(
            r#"{{"alg":"ES256","kid":"{}","typ":"at+jwt"{extra}}}"#,
            f.key.kid()
        );
        assert_eq!(
            f.check(&f.sign_raw(h.as_bytes(), f.payload().as_bytes())),
            Err(Rejection::Header),
            "{extra}"
        );
    }
}

/// §3.10: duplicate member names, in the header and the claims, known or not, escaped or not.
#[test]
fn m10_duplicate_members() {
    let f = f();
    let dup_header = format!(
        r#"{{"alg":"ES256","alg":"none","kid":"{}","typ":"at+jwt"}}"#,
        f.key.kid()
    );
    assert_eq!(
        f.check(&f.sign_raw(dup_header.as_bytes(), f.payload().as_bytes())),
        Err(Rejection::Header)
    );
    let p = f.payload();
    for dup in [
        p.replacen(r#""sub":"c""#, r#""sub":"c","sub":"admin""#, 1),
        p.replacen(r#""sub":"c""#, r#""sub":"c","s\u0075b":"admin""#, 1),
        p.replacen(r#""sub":"c""#, r#""x":1,"sub":"c","x":2"#, 1),
    ] {
        assert_eq!(
            f.check(&f.sign_raw(f.header().as_bytes(), dup.as_bytes())),
            Err(Rejection::Malformed),
            "{dup}"
        );
    }
}

/// §3.11, §3.12, §3.14, §3.15: size, segment count, JSON serialization, JWE shape.
#[test]
fn m12_shapes_and_sizes() {
    let f = f();
    let token = f.sign_raw(f.header().as_bytes(), f.payload().as_bytes());
    let json_serialization = format!(
        r#"{{"payload":"{}","signatures":[{{"protected":"{}","signature":"AA"}}]}}"#,
        b64::encode(f.payload()),
        b64::encode(f.header())
    );
    for (bad, why) in [
        ("a".to_owned(), Rejection::Malformed),
        ("a.b".to_owned(), Rejection::Malformed),
        (format!("{token}.x"), Rejection::Malformed),
        (format!("{token}.x.y.z"), Rejection::Malformed),
        (".".repeat(7000), Rejection::Malformed),
        (".".repeat(100_000), Rejection::TooLarge),
        (
            format!("{token}{}", "A".repeat(Policy::DEFAULT_MAX_TOKEN_LEN)),
            Rejection::TooLarge,
        ),
        (json_serialization, Rejection::Malformed),
    ] {
        assert_eq!(f.check(&bad), Err(why), "{:.40}", bad);
    }
}

/// §3.13: deep nesting is refused by the parser's recursion limit, not by a stack overflow.
#[test]
fn m13_deep_nesting() {
    let f = f();
    let deep_header = format!(
        r#"{{"alg":"ES256","kid":"{}","typ":"at+jwt","x":{}}}"#,
        f.key.kid(),
        "[".repeat(1000)
    );
    assert!(
        f.check(&f.sign_raw(deep_header.as_bytes(), f.payload().as_bytes()))
            .is_err()
    );
    let deep_claims = f.payload().replacen(
        '{',
        &format!(r#"{{"x":{}1{},"#, "[".repeat(1000), "]".repeat(1000)),
        1,
    );
    assert_eq!(
        f.check(&f.sign_raw(f.header().as_bytes(), deep_claims.as_bytes())),
        Err(Rejection::Malformed)
    );
}

/// §3.18: a JWK whose point is not on the curve verifies nothing.
#[test]
fn m18_invalid_curve_point() {
    let f = f();
    let mut jwk: Jwk = f.key.public_jwk().clone();
    if let KeyParams::Ec { y, .. } = &mut jwk.params {
        let mut bytes = b64::decode(&*y).unwrap();
        bytes[31] ^= 1;
        *y = b64::encode(bytes);
    }
    let off_curve = VerifyingKey::from_jwk(&jwk).unwrap();
    let sig = f.key.sign(b"m").unwrap();
    assert!(!off_curve.verify(b"m", &sig));
}

/// §3.19, §3.20: r = 0, s = 0, r and s ≥ n, and DER or wrong-length signatures.
#[test]
fn m19_degenerate_and_misencoded_ecdsa_signatures() {
    let f = f();
    let good = f.key.sign(b"x").unwrap();
    let der = {
        let int = |b: &[u8]| {
            let mut v = vec![0x02, 33, 0];
            v.extend_from_slice(b);
            v
        };
        let body = [int(&good[..32]), int(&good[32..])].concat();
        [vec![0x30, body.len() as u8], body].concat()
    };
    for sig in [
        vec![0u8; 64],
        vec![0xffu8; 64],
        [vec![0; 32], good[32..].to_vec()].concat(),
        [good[..32].to_vec(), vec![0; 32]].concat(),
        der,
        good[..63].to_vec(),
        [good.clone(), vec![0]].concat(),
    ] {
        assert_eq!(
            f.check(&f.with_signature(&sig)),
            Err(Rejection::BadSignature),
            "{} bytes",
            sig.len()
        );
    }
}

/// §3.21: (r, n − s) also verifies; revocation is by `jti`, so revoking one form revokes both.
#[test]
fn m21_malleated_signature_is_revoked_with_the_original() {
    let f = f();
    let token = f.sign_raw(f.header().as_bytes(), f.payload().as_bytes());
    let (input, sig) = token.rsplit_once('.').unwrap();
    let sig = b64::decode(sig).unwrap();
    const N: [u8; 32] = [
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63,
        0x25, 0x51,
    ];
    let mut s = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let d = i16::from(N[i]) - i16::from(sig[32 + i]) - borrow;
        borrow = i16::from(d < 0);
        s[i] = (d + 256 * borrow) as u8;
    }
    let malleated = format!("{input}.{}", b64::encode([&sig[..32], &s[..]].concat()));
    assert_ne!(malleated, token);
    assert!(
        f.check(&token).is_ok() && f.check(&malleated).is_ok(),
        "both forms verify"
    );
    f.v.revocations().insert("j".into(), NOW.plus(300));
    assert_eq!(f.check(&token), Err(Rejection::Revoked));
    assert_eq!(f.check(&malleated), Err(Rejection::Revoked));
}

/// §3.23, §3.24, §3.26: claim types and presence.
#[test]
fn m23_claim_types() {
    let f = f();
    let p = f.payload();
    let exp = format!(r#""exp":{}"#, NOW.plus(300));
    for bad in [
        p.replace(&exp, r#""exp":"99999999999""#),
        p.replace(&exp, r#""exp":1e12"#),
        p.replace(&exp, r#""exp":-5"#),
        p.replace(&exp, r#""exp":18446744073709551616"#),
        p.replace(&format!(",{exp}"), ""),
        p.replace(r#""aud":"https://rs.example""#, r#""aud":[1,2]"#),
        p.replace(r#""aud":"https://rs.example","#, ""),
        p.replace(r#""iat":1000000"#, r#""iat":"1000000""#),
    ] {
        assert_eq!(
            f.check(&f.sign_raw(f.header().as_bytes(), bad.as_bytes())),
            Err(Rejection::Malformed),
            "{bad}"
        );
    }
    let far = p.replace(&exp, r#""exp":9223372036854775807"#);
    assert!(
        f.check(&f.sign_raw(f.header().as_bytes(), far.as_bytes()))
            .is_ok(),
        "a huge exp is a number, not a panic"
    );
    let many = p.replace(
        r#""aud":"https://rs.example""#,
        r#""aud":["https://other","https://rs.example"]"#,
    );
    let token = f.sign_raw(f.header().as_bytes(), many.as_bytes());
    assert!(
        f.v.validate_jwt(&token, NOW, Some("https://rs.example"))
            .is_ok(),
        "an array containing the resource"
    );
}

/// §3.29, §3.30: non-canonical base64url anywhere, invalid UTF-8 in header or claims.
#[test]
fn m29_encoding() {
    let f = f();
    let token = f.sign_raw(f.header().as_bytes(), f.payload().as_bytes());
    let parts: Vec<&str> = token.split('.').collect();
    for i in 0..3 {
        for mangle in [
            |s: &str| format!("{s}="),
            |s: &str| format!(" {s}"),
            |s: &str| s.replace('-', "+").replace('_', "/"),
        ] {
            let mut p: Vec<String> = parts.iter().map(|s| s.to_string()).collect();
            let before = p[i].clone();
            p[i] = mangle(&p[i]);
            if p[i] == before {
                continue;
            }
            assert!(f.check(&p.join(".")).is_err(), "segment {i}: {}", p[i]);
        }
    }
    let bad_utf8_header = [f.header().as_bytes(), b"\xff"].concat();
    assert!(
        f.check(&f.sign_raw(&bad_utf8_header, f.payload().as_bytes()))
            .is_err()
    );
    let bad_utf8_claims = f
        .payload()
        .replace(r#""sub":"c""#, "\"sub\":\"\u{0}\"")
        .into_bytes();
    let mut invalid = bad_utf8_claims;
    let at = invalid.iter().position(|&b| b == 0).unwrap();
    invalid[at] = 0xff;
    assert_eq!(
        f.check(&f.sign_raw(f.header().as_bytes(), &invalid)),
        Err(Rejection::Malformed)
    );
}

/// §3.31: an expired token with a bad signature is a bad signature, never "expired".
#[test]
fn m31_signature_failure_dominates() {
    let f = f();
    let mut c = claims("j");
    c.exp = NOW.minus(1000);
    let token = jws::sign_compact(f.key.as_ref(), "at+jwt", &c).unwrap();
    assert_eq!(f.check(&token), Err(Rejection::Expired));
    let (input, sig) = token.rsplit_once('.').unwrap();
    let mut sig = b64::decode(sig).unwrap();
    sig[5] ^= 0x80;
    assert_eq!(
        f.check(&format!("{input}.{}", b64::encode(sig))),
        Err(Rejection::BadSignature)
    );
}
