//! Every JWT rule of the validator, fed tokens signed by the real signer or forged by hand.

use std::sync::Arc;

use gatehouse_signer::{KeyRing, SigningKey, SoftwareKey, jws};
use gatehouse_token::{AccessTokenClaims, Algorithm, Audience, UnixTime, b64};
use gatehouse_validator::{KeySnapshot, Policy, Rejection, Validator};

const ISS: &str = "https://as.example";
const NOW: UnixTime = UnixTime(1_000_000);

fn claims() -> AccessTokenClaims {
    AccessTokenClaims {
        iss: ISS.into(),
        sub: "client-1".into(),
        aud: Audience::One("https://rs.example".into()),
        client_id: "client-1".into(),
        scope: Some("read".into()),
        iat: NOW,
        nbf: None,
        exp: NOW.plus(300),
        jti: "jti-1".into(),
        act: None,
        cnf: None,
    }
}

struct Fixture {
    key: Arc<dyn SigningKey>,
    validator: Validator,
}

fn fixture(alg: Algorithm) -> Fixture {
    let key: Arc<dyn SigningKey> = Arc::new(SoftwareKey::generate(alg).unwrap());
    let ring = KeyRing::new(key.clone(), vec![]);
    let snapshot = KeySnapshot::from_jwks(&ring.jwks()).unwrap();
    Fixture {
        key,
        validator: Validator::new(Policy::for_issuer(ISS), snapshot),
    }
}

impl Fixture {
    fn sign(&self, claims: &AccessTokenClaims) -> String {
        jws::sign_compact(self.key.as_ref(), "at+jwt", claims).unwrap()
    }

    /// Signs an arbitrary header and payload with the fixture's key.
    fn sign_raw(&self, header: &str, payload: &str) -> String {
        let signing_input = format!("{}.{}", b64::encode(header), b64::encode(payload));
        let sig = self.key.sign(signing_input.as_bytes()).unwrap();
        format!("{signing_input}.{}", b64::encode(sig))
    }

    fn check(&self, token: &str) -> Result<AccessTokenClaims, Rejection> {
        self.validator
            .validate_jwt(token, NOW, None)
            .map(|c| (*c).clone())
    }

    fn header(&self, extra: &str) -> String {
        format!(
            r#"{{"alg":"{}","kid":"{}","typ":"at+jwt"{extra}}}"#,
            self.key.algorithm(),
            self.key.kid()
        )
    }
}

#[test]
fn valid_tokens_of_each_generated_algorithm_pass() {
    for alg in [Algorithm::ES256, Algorithm::ES384, Algorithm::EdDSA] {
        let f = fixture(alg);
        assert_eq!(f.check(&f.sign(&claims())).unwrap(), claims(), "{alg}");
        assert!(
            f.validator
                .validate_jwt(&f.sign(&claims()), NOW, Some("https://rs.example"))
                .is_ok()
        );
    }
}

#[test]
fn alg_none_and_other_algorithms_are_refused() {
    let f = fixture(Algorithm::ES256);
    let payload = serde_json::to_string(&claims()).unwrap();
    for alg in ["none", "None", "NONE", "HS256", "ES384", "RS256"] {
        let header = format!(
            r#"{{"alg":"{alg}","kid":"{}","typ":"at+jwt"}}"#,
            f.key.kid()
        );
        let unsigned = format!("{}.{}.", b64::encode(&header), b64::encode(&payload));
        assert_eq!(
            f.check(&unsigned),
            Err(Rejection::AlgorithmMismatch),
            "{alg}"
        );
        let signed = f.sign_raw(&header, &payload);
        assert_eq!(f.check(&signed), Err(Rejection::AlgorithmMismatch), "{alg}");
    }
}

#[test]
fn altered_signature_or_payload_is_a_bad_signature() {
    let f = fixture(Algorithm::ES256);
    let token = f.sign(&claims());
    let (rest, sig) = token.rsplit_once('.').unwrap();
    let mut sig = b64::decode(sig).unwrap();
    sig[10] ^= 1;
    assert_eq!(
        f.check(&format!("{rest}.{}", b64::encode(&sig))),
        Err(Rejection::BadSignature)
    );

    let mut other = claims();
    other.scope = Some("admin".into());
    let forged_payload = b64::encode(serde_json::to_vec(&other).unwrap());
    let parts: Vec<&str> = token.split('.').collect();
    let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    assert_eq!(f.check(&forged), Err(Rejection::BadSignature));
}

#[test]
fn a_key_outside_the_set_is_unknown() {
    let f = fixture(Algorithm::ES256);
    let stranger = fixture(Algorithm::ES256);
    assert_eq!(
        f.check(&stranger.sign(&claims())),
        Err(Rejection::UnknownKey)
    );
}

#[test]
fn header_members_never_trusted_are_refused() {
    let f = fixture(Algorithm::ES256);
    let payload = serde_json::to_string(&claims()).unwrap();
    for extra in [
        r#","jku":"https://evil.example/jwks""#,
        r#","x5u":"https://evil.example/cert""#,
        r#","jwk":{"kty":"EC"}"#,
        r#","x5c":["MIIB"]"#,
        r#","crit":["exp"]"#,
        r#","crit":[]"#,
        r#","b64":false"#,
        r#","zip":"DEF""#,
        r#","cty":"JWT""#,
        r#","alg":"none""#,
    ] {
        let token = f.sign_raw(&f.header(extra), &payload);
        assert_eq!(f.check(&token), Err(Rejection::Header), "{extra}");
    }
    let no_kid = r#"{"alg":"ES256","typ":"at+jwt"}"#;
    assert_eq!(
        f.check(&f.sign_raw(no_kid, &payload)),
        Err(Rejection::Header)
    );
}

#[test]
fn only_access_token_typ_passes() {
    let f = fixture(Algorithm::ES256);
    let payload = serde_json::to_string(&claims()).unwrap();
    for typ in [Some("JWT"), Some("id_token+jwt"), None] {
        let typ = typ.map(|t| format!(r#","typ":"{t}""#)).unwrap_or_default();
        let header = format!(r#"{{"alg":"ES256","kid":"{}"{typ}}}"#, f.key.kid());
        assert_eq!(
            f.check(&f.sign_raw(&header, &payload)),
            Err(Rejection::WrongType),
            "{typ}"
        );
    }
}

#[test]
fn malformed_shapes_are_refused() {
    let f = fixture(Algorithm::ES256);
    let token = f.sign(&claims());
    let padded = token.replacen('.', "=.", 1);
    let dots = ".".repeat(100_000);
    for bad in [
        "",
        "garbage",
        "a.b",
        "a.b.c.d",
        "a.b.c.d.e",
        dots.as_str(),
        &token[..token.len() - 5],
        padded.as_str(),
    ] {
        assert!(f.check(bad).is_err(), "{:.40}", bad);
    }
    assert_eq!(f.check(&dots), Err(Rejection::TooLarge));
    assert_eq!(f.check("a.b.c.d"), Err(Rejection::Malformed));
    let truncated = &token[..token.len() - 5];
    assert_eq!(f.check(truncated), Err(Rejection::Malformed));
    let no_sig = &token[..token.rfind('.').unwrap() + 1];
    assert_eq!(f.check(no_sig), Err(Rejection::BadSignature));
    let huge = format!("{}.{}", token, "A".repeat(Policy::DEFAULT_MAX_TOKEN_LEN));
    assert_eq!(f.check(&huge), Err(Rejection::TooLarge));
}

#[test]
fn mistyped_or_duplicate_claims_are_malformed() {
    let f = fixture(Algorithm::ES256);
    let header = f.header("");
    let good = serde_json::to_string(&claims()).unwrap();
    let exp = format!(r#""exp":{}"#, NOW.plus(300));
    for bad in [
        good.replace(&exp, &format!(r#""exp":"{}""#, NOW.plus(300))),
        good.replace(&exp, r#""exp":1.5e9"#),
        good.replace(&exp, r#""exp":-1"#),
        good.replace(&exp, r#""exp":null"#),
        good.replace(&exp, ""),
        good.replace(r#""sub":"client-1""#, r#""sub":"client-1","sub":"admin""#),
        good.replace(r#""aud":"https://rs.example""#, r#""aud":[1]"#),
        "[]".to_owned(),
    ] {
        assert_eq!(
            f.check(&f.sign_raw(&header, &bad)),
            Err(Rejection::Malformed),
            "{bad}"
        );
    }
}

#[test]
fn time_issuer_and_audience_rules() {
    let f = fixture(Algorithm::ES256);
    let leeway = Policy::DEFAULT_LEEWAY;
    let mut c = claims();
    c.iat = NOW.minus(3600);
    c.exp = NOW.minus(leeway);
    assert_eq!(f.check(&f.sign(&c)), Err(Rejection::Expired));
    c.exp = NOW.minus(leeway - 1);
    assert!(f.check(&f.sign(&c)).is_ok(), "within leeway");

    let mut c = claims();
    c.nbf = Some(NOW.plus(leeway + 1));
    assert_eq!(f.check(&f.sign(&c)), Err(Rejection::NotYetValid));
    let mut c = claims();
    c.iat = NOW.plus(leeway + 1);
    assert_eq!(f.check(&f.sign(&c)), Err(Rejection::NotYetValid));

    // iat or nbf after exp: valid at no moment, whatever the leeway.
    let mut c = claims();
    c.iat = NOW.plus(10);
    c.exp = NOW.plus(5);
    assert_eq!(f.check(&f.sign(&c)), Err(Rejection::NeverValid));
    let mut c = claims();
    c.nbf = Some(c.exp.plus(1));
    assert_eq!(f.check(&f.sign(&c)), Err(Rejection::NeverValid));

    for iss in [
        "https://as.example/",
        "https://AS.example",
        "https://evil.example",
    ] {
        let mut c = claims();
        c.iss = iss.into();
        assert_eq!(f.check(&f.sign(&c)), Err(Rejection::WrongIssuer), "{iss}");
    }

    let token = f.sign(&claims());
    assert_eq!(
        f.validator
            .validate_jwt(&token, NOW, Some("https://other.example")),
        Err(Rejection::WrongAudience)
    );
    let mut c = claims();
    c.aud = Audience::Many(vec![]);
    assert_eq!(f.check(&f.sign(&c)), Err(Rejection::WrongAudience));
}

#[test]
fn revoked_tokens_are_refused_on_the_next_call() {
    let f = fixture(Algorithm::ES256);
    let token = f.sign(&claims());
    assert!(f.check(&token).is_ok());
    f.validator
        .revocations()
        .insert("jti-1".into(), NOW.plus(300));
    assert_eq!(f.check(&token), Err(Rejection::Revoked));
}

#[test]
fn swapped_keys_take_effect_atomically() {
    let f = fixture(Algorithm::ES256);
    let token = f.sign(&claims());
    let next = fixture(Algorithm::EdDSA);
    let ring = KeyRing::new(next.key.clone(), vec![f.key.clone()]);
    f.validator
        .swap_keys(KeySnapshot::from_jwks(&ring.jwks()).unwrap());
    assert!(f.check(&token).is_ok(), "retired key still published");
    assert!(f.check(&next.sign(&claims())).is_ok());
    let only_next = KeyRing::new(next.key.clone(), vec![]);
    f.validator
        .swap_keys(KeySnapshot::from_jwks(&only_next.jwks()).unwrap());
    assert_eq!(f.check(&token), Err(Rejection::UnknownKey));
}

#[test]
fn keys_are_bound_to_their_algorithm() {
    let f = fixture(Algorithm::ES256);
    let mut jwk = f.key.public_jwk().clone();
    jwk.alg = Algorithm::EdDSA;
    assert!(gatehouse_validator::VerifyingKey::from_jwk(&jwk).is_err());
    jwk.alg = Algorithm::ES384;
    assert!(gatehouse_validator::VerifyingKey::from_jwk(&jwk).is_err());
    let dup = gatehouse_token::JwkSet {
        keys: vec![f.key.public_jwk().clone(), f.key.public_jwk().clone()],
    };
    assert!(KeySnapshot::from_jwks(&dup).is_err());
}

/// The authorization server's own validator has no leeway (RFC 7662 §2.2: "active" means valid
/// now): `exp` and `nbf`/`iat` are exact.
#[test]
fn without_leeway_times_are_exact() {
    let key: Arc<dyn SigningKey> = Arc::new(SoftwareKey::generate(Algorithm::ES256).unwrap());
    let snapshot = KeySnapshot::from_jwks(&KeyRing::new(key.clone(), vec![]).jwks()).unwrap();
    let mut policy = Policy::for_issuer(ISS);
    policy.leeway = 0;
    let f = Fixture {
        key,
        validator: Validator::new(policy, snapshot),
    };
    let token = f.sign(&claims());
    let at = |t: UnixTime| f.validator.validate_jwt(&token, t, None).map(|_| ());
    assert_eq!(at(NOW.plus(299)), Ok(()), "the last second of its life");
    assert_eq!(
        at(NOW.plus(300)),
        Err(Rejection::Expired),
        "RFC 7519 §4.1.4"
    );
    assert_eq!(at(NOW.plus(301)), Err(Rejection::Expired));
    assert_eq!(
        at(NOW.minus(1)),
        Err(Rejection::NotYetValid),
        "iat is in the future"
    );
    let mut c = claims();
    c.nbf = Some(NOW.plus(1));
    assert_eq!(f.check(&f.sign(&c)), Err(Rejection::NotYetValid));
}

/// Issue 8, item 2: a revoked token that was cached must stay revoked until no validator with
/// this leeway could accept it, even after the periodic purge.
#[test]
fn a_purge_keeps_revocations_until_exp_plus_leeway() {
    let f = fixture(Algorithm::ES256);
    let c = claims();
    let token = f.sign(&c);
    f.validator.validate_jwt(&token, NOW, None).unwrap();
    f.validator.revocations().insert(c.jti.clone(), c.exp);
    let leeway = Policy::DEFAULT_LEEWAY;
    for t in [c.exp.plus(1), c.exp.plus(leeway - 1)] {
        f.validator.purge_revocations(t);
        assert_eq!(
            f.validator.validate_jwt(&token, t, None),
            Err(Rejection::Revoked),
            "at exp + {}",
            t.0 - c.exp.0
        );
    }
    f.validator.purge_revocations(c.exp.plus(leeway + 1));
    assert!(f.validator.revocations().is_empty(), "then it goes");
}

/// OIDC RP-Initiated Logout 1.0 §2: an `id_token_hint` is one of our ID tokens (`typ: JWT`),
/// verified like an access token, its expiry not checked; an access token is never a hint and
/// an ID token never an access token.
#[test]
fn id_token_hints_are_our_id_tokens_only() {
    let f = fixture(Algorithm::ES256);
    let id = serde_json::json!({"iss": ISS, "sub": "u1", "aud": "client-a", "sid": "s1", "exp": 1, "iat": 0});
    let hint = jws::sign_compact(f.key.as_ref(), "JWT", &id).unwrap();
    let read = f.validator.verify_id_token_hint(&hint).unwrap();
    assert_eq!((read.sub.as_str(), read.aud.as_str()), ("u1", "client-a"));
    assert_eq!(read.sid.as_deref(), Some("s1"));
    assert_eq!(f.check(&hint), Err(Rejection::WrongType));
    let access = f.sign(&claims());
    assert_eq!(
        f.validator.verify_id_token_hint(&access),
        Err(Rejection::WrongType)
    );
    let other = fixture(Algorithm::ES256);
    let foreign = jws::sign_compact(other.key.as_ref(), "JWT", &id).unwrap();
    assert_eq!(
        f.validator.verify_id_token_hint(&foreign),
        Err(Rejection::UnknownKey)
    );
    let mut tampered = hint.clone();
    tampered.replace_range(hint.len() - 3.., "AAA");
    assert_eq!(
        f.validator.verify_id_token_hint(&tampered),
        Err(Rejection::BadSignature)
    );
    let elsewhere =
        serde_json::json!({"iss": "https://evil.example", "sub": "u1", "aud": "client-a"});
    let hint = jws::sign_compact(f.key.as_ref(), "JWT", &elsewhere).unwrap();
    assert_eq!(
        f.validator.verify_id_token_hint(&hint),
        Err(Rejection::WrongIssuer)
    );
    let none = f.sign_raw(r#"{"alg":"none","typ":"JWT"}"#, &id.to_string());
    assert!(f.validator.verify_id_token_hint(&none).is_err());
}
