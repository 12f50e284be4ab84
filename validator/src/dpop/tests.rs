//! The RFC 9449 §4.3 checks, one refusal each (security matrix §2.2 item 56, §9 item 3).

use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _,
};
use serde_json::{Value, json};

use super::*;

const URL: &str = "https://as.example/token";
const NOW: u64 = 1_000_000;

/// A client's DPoP key: ES256, or Ed25519 for the EdDSA cases.
enum Key {
    Es(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

impl Key {
    fn es256() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        Self::Es(
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
                .unwrap(),
        )
    }

    fn ed25519() -> Self {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        Self::Ed(Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap())
    }

    fn alg(&self) -> &'static str {
        match self {
            Self::Es(_) => "ES256",
            Self::Ed(_) => "EdDSA",
        }
    }

    fn jwk(&self) -> Value {
        match self {
            Self::Es(k) => {
                let p = k.public_key().as_ref();
                json!({"kty": "EC", "crv": "P-256", "x": b64::encode(&p[1..33]), "y": b64::encode(&p[33..])})
            }
            Self::Ed(k) => {
                json!({"kty": "OKP", "crv": "Ed25519", "x": b64::encode(k.public_key().as_ref())})
            }
        }
    }

    fn jkt(&self) -> String {
        serde_json::from_value::<KeyParams>(self.jwk())
            .unwrap()
            .thumbprint()
    }

    fn sign(&self, input: &[u8]) -> Vec<u8> {
        match self {
            Self::Es(k) => k
                .sign(&SystemRandom::new(), input)
                .unwrap()
                .as_ref()
                .to_vec(),
            Self::Ed(k) => k.sign(input).as_ref().to_vec(),
        }
    }

    fn header(&self) -> Value {
        json!({"typ": "dpop+jwt", "alg": self.alg(), "jwk": self.jwk()})
    }

    /// A proof with these header and claims, signed by this key.
    fn proof_with(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64::encode(header.to_string()),
            b64::encode(claims.to_string())
        );
        let sig = self.sign(input.as_bytes());
        format!("{input}.{}", b64::encode(sig))
    }

    fn proof(&self, claims: &Value) -> String {
        self.proof_with(&self.header(), claims)
    }
}

fn claims() -> Value {
    json!({"jti": "j-1", "htm": "POST", "htu": URL, "iat": NOW})
}

fn expected() -> Expected<'static> {
    Expected {
        method: "POST",
        url: URL,
        now: UnixTime(NOW),
        access_token: None,
    }
}

fn check(proof: &str) -> Result<Proof, ProofError> {
    verify(&DpopSettings::default(), proof, &expected())
}

fn with(mut base: Value, key: &str, value: Value) -> Value {
    base[key] = value;
    base
}

fn without(mut base: Value, key: &str) -> Value {
    base.as_object_mut().unwrap().remove(key);
    base
}

#[test]
fn a_good_proof_yields_its_key_thumbprint() {
    for key in [Key::es256(), Key::ed25519()] {
        let proof = check(&key.proof(&claims())).unwrap();
        assert_eq!(proof.jkt, key.jkt());
        assert_eq!((proof.jti.as_str(), proof.iat), ("j-1", UnixTime(NOW)));
        assert_eq!(proof.confirmation().jkt, Some(key.jkt()));
    }
}

#[test]
fn header_checks() {
    let key = Key::es256();
    let c = claims();
    let cases = [
        (without(key.header(), "typ"), ProofError::Header),
        (without(key.header(), "alg"), ProofError::Header),
        (without(key.header(), "jwk"), ProofError::Header),
        (
            with(key.header(), "typ", json!("JWT")),
            ProofError::WrongType,
        ),
        (
            with(key.header(), "typ", json!("at+jwt")),
            ProofError::WrongType,
        ),
        (
            with(key.header(), "alg", json!("none")),
            ProofError::Algorithm,
        ),
        (
            with(key.header(), "alg", json!("HS256")),
            ProofError::Algorithm,
        ),
        (
            with(key.header(), "alg", json!("es256")),
            ProofError::Algorithm,
        ),
        (with(key.header(), "alg", json!("EdDSA")), ProofError::Key),
        (
            with(key.header(), "crit", json!(["exp"])),
            ProofError::Header,
        ),
        (
            with(key.header(), "jwk", json!("a string")),
            ProofError::Header,
        ),
        (
            with(key.header(), "jwk", with(key.jwk(), "d", json!("AAAA"))),
            ProofError::PrivateKey,
        ),
        (
            with(key.header(), "jwk", json!({"kty": "oct", "k": "c2VjcmV0"})),
            ProofError::PrivateKey,
        ),
        (
            with(key.header(), "jwk", with(key.jwk(), "crv", json!("P-384"))),
            ProofError::Key,
        ),
        (
            with(key.header(), "jwk", with(key.jwk(), "alg", json!("ES384"))),
            ProofError::Key,
        ),
    ];
    for (header, want) in cases {
        assert_eq!(check(&key.proof_with(&header, &c)), Err(want), "{header}");
    }
    // Unknown header members are ignored; typ compares case-insensitively.
    let extra = with(key.header(), "kid", json!("whatever"));
    assert!(check(&key.proof_with(&extra, &c)).is_ok());
    let upper = with(key.header(), "typ", json!("DPOP+JWT"));
    assert!(check(&key.proof_with(&upper, &c)).is_ok());
}

#[test]
fn an_algorithm_not_configured_is_refused() {
    let key = Key::ed25519();
    let settings = DpopSettings {
        algorithms: vec![Algorithm::ES256],
        ..DpopSettings::default()
    };
    assert_eq!(
        verify(&settings, &key.proof(&claims()), &expected()),
        Err(ProofError::Algorithm)
    );
}

#[test]
fn signature_by_another_key_or_tampered() {
    let key = Key::es256();
    let other = Key::es256();
    // Signed by `other`, naming `key`'s jwk.
    let forged = other.proof_with(&key.header(), &claims());
    assert_eq!(check(&forged), Err(ProofError::Signature));
    let good = key.proof(&claims());
    let (head, sig) = good.rsplit_once('.').unwrap();
    let tampered = format!(
        "{}.{}",
        head.rsplit_once('.').unwrap().0,
        b64::encode(with(claims(), "htm", json!("GET")).to_string())
    );
    assert_eq!(
        check(&format!("{tampered}.{sig}")),
        Err(ProofError::Signature)
    );
    assert_eq!(check(&format!("{head}.")), Err(ProofError::Signature));
}

#[test]
fn not_a_jwt() {
    for bad in ["", "abc", "a.b", "a.b.c.d", "!!.!!.!!", "eyJ9.e30.AA"] {
        assert!(check(bad).is_err(), "{bad}");
    }
    let big = "a".repeat(DpopSettings::DEFAULT_MAX_LEN + 1);
    assert_eq!(check(&big), Err(ProofError::TooLarge));
    assert_eq!(
        single_header([b"a".as_slice(), b"b".as_slice()]),
        Err(ProofError::Multiple)
    );
    assert_eq!(single_header([b"x".as_slice()]), Ok(Some("x")));
    assert_eq!(single_header(Vec::<&[u8]>::new()), Ok(None));
}

#[test]
fn claim_checks() {
    let key = Key::es256();
    let cases = [
        (without(claims(), "jti"), ProofError::Claims),
        (without(claims(), "htm"), ProofError::Claims),
        (without(claims(), "htu"), ProofError::Claims),
        (without(claims(), "iat"), ProofError::Claims),
        (with(claims(), "jti", json!("")), ProofError::Claims),
        (
            with(claims(), "jti", json!("x".repeat(300))),
            ProofError::Claims,
        ),
        (with(claims(), "iat", json!("1000000")), ProofError::Claims),
        (
            with(claims(), "iat", json!(1_000_000.5)),
            ProofError::Claims,
        ),
        (with(claims(), "htm", json!("GET")), ProofError::Method),
        (with(claims(), "htm", json!("post")), ProofError::Method),
        (
            with(claims(), "htu", json!("https://as.example/par")),
            ProofError::Url,
        ),
        (
            with(claims(), "htu", json!("https://evil.example/token")),
            ProofError::Url,
        ),
        (with(claims(), "iat", json!(NOW - 3600)), ProofError::Time),
        (with(claims(), "iat", json!(NOW + 3600)), ProofError::Time),
        (with(claims(), "iat", json!(NOW - 61)), ProofError::Time),
        (with(claims(), "iat", json!(NOW + 16)), ProofError::Time),
        (with(claims(), "exp", json!(NOW - 1)), ProofError::Time),
        (with(claims(), "nbf", json!(NOW + 5)), ProofError::Time),
    ];
    for (c, want) in cases {
        assert_eq!(check(&key.proof(&c)), Err(want), "{c}");
    }
    // FAPI 2.0: ±10 s of skew is accepted; htu with a query or fragment is the same URL;
    // unknown claims are ignored; proofs with a valid nbf/exp pass.
    for c in [
        with(claims(), "iat", json!(NOW - 10)),
        with(claims(), "iat", json!(NOW + 10)),
        with(claims(), "iat", json!(NOW - 60)),
        with(claims(), "htu", json!(format!("{URL}?a=b#c"))),
        with(claims(), "htu", json!("HTTPS://AS.EXAMPLE:443/token")),
        with(claims(), "extra", json!({"deep": [1]})),
        with(
            with(claims(), "nbf", json!(NOW - 1)),
            "exp",
            json!(NOW + 60),
        ),
    ] {
        assert!(check(&key.proof(&c)).is_ok(), "{c}");
    }
}

#[test]
fn duplicate_members_are_refused() {
    let key = Key::es256();
    let header = key.header().to_string();
    let dup_header = header.replacen('{', r#"{"typ":"JWT","#, 1);
    let input = format!(
        "{}.{}",
        b64::encode(&dup_header),
        b64::encode(claims().to_string())
    );
    let proof = format!("{input}.{}", b64::encode(key.sign(input.as_bytes())));
    assert_eq!(check(&proof), Err(ProofError::Malformed));
    let dup_claims = claims().to_string().replacen('{', r#"{"htm":"GET","#, 1);
    let input = format!("{}.{}", b64::encode(&header), b64::encode(&dup_claims));
    let proof = format!("{input}.{}", b64::encode(key.sign(input.as_bytes())));
    assert_eq!(check(&proof), Err(ProofError::Malformed));
}

#[test]
fn resource_requests_check_ath_binding_and_replay() {
    let key = Key::es256();
    let token = "the-access-token";
    let cnf = Confirmation::dpop(key.jkt());
    let settings = DpopSettings::default();
    let replay = ReplayCache::default();
    let at = Expected {
        method: "GET",
        url: "https://rs.example/api",
        now: UnixTime(NOW),
        access_token: Some(token),
    };
    let c = json!({"jti": "r-1", "htm": "GET", "htu": "https://rs.example/api", "iat": NOW, "ath": access_token_hash(token)});
    let run = |proof: &str, cnf: Option<&Confirmation>| {
        verify_for_resource(&settings, &replay, proof, &at, cnf)
    };
    let good = key.proof(&c);
    assert!(run(&good, Some(&cnf)).is_ok());
    assert_eq!(run(&good, Some(&cnf)), Err(ProofError::Replayed));
    let c2 = with(c.clone(), "jti", json!("r-2"));
    assert_eq!(
        run(&key.proof(&without(c2.clone(), "ath")), Some(&cnf)),
        Err(ProofError::AccessTokenHash)
    );
    assert_eq!(
        run(
            &key.proof(&with(c2.clone(), "ath", json!(access_token_hash("other")))),
            Some(&cnf)
        ),
        Err(ProofError::AccessTokenHash)
    );
    assert_eq!(
        run(&Key::es256().proof(&c2), Some(&cnf)),
        Err(ProofError::KeyMismatch),
        "a proof by another key"
    );
    assert_eq!(
        run(&key.proof(&c2), None),
        Err(ProofError::KeyMismatch),
        "an unbound token"
    );
    assert!(run(&key.proof(&c2), Some(&cnf)).is_ok());
    // The same jti under another key is another proof.
    let other = Key::es256();
    assert!(run(&other.proof(&c), Some(&Confirmation::dpop(other.jkt()))).is_ok());
}

mod arbitrary {
    //! Arbitrary text, and a valid proof with any one character replaced: every input is
    //! answered, none panics, and only the exact proof passes.

    use proptest::prelude::*;

    use super::*;

    fn fixture() -> &'static (String, String) {
        static PROOF: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
        PROOF.get_or_init(|| {
            let key = Key::es256();
            (key.proof(&claims()), key.jkt())
        })
    }

    proptest! {
        #[test]
        fn arbitrary_text_is_answered(text in "\\PC{0,300}") {
            prop_assert!(check(&text).is_err());
        }

        #[test]
        fn one_changed_character_is_refused(at in 0usize..400, c in any::<char>()) {
            let (proof, jkt) = fixture();
            let at = at % proof.len();
            let mut changed: String = proof.chars().take(at).collect();
            changed.push(c);
            changed.extend(proof.chars().skip(at + 1));
            match check(&changed) {
                Ok(p) => {
                    prop_assert_eq!(&changed, proof);
                    prop_assert_eq!(&p.jkt, jkt);
                }
                Err(_) => prop_assert_ne!(&changed, proof),
            }
        }
    }
}
