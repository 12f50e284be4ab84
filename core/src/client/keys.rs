//! A client's public keys for `private_key_jwt` (RFC 7523 §2.2, OIDC Core §9): registered by
//! value (`jwks`) or by reference (`jwks_uri`), never both (RFC 7591 §2).
//!
//! A JWK set given by value is checked here, once, at registration: public keys only (a key
//! carrying a private or symmetric member refuses the set, security matrix §3.33), asymmetric
//! key types and algorithms only, each key bound to exactly one algorithm (stated, or derived
//! from an EC or OKP key's curve; RSA keys must state RS256 or PS256), sane parameter lengths,
//! `kid`s unique (security matrix §3.7; a key without `kid` gets its RFC 7638 thumbprint), `x5c`
//! DER certificates the first of which holds the key itself (RFC 7517 §4.7). The
//! keys at a `jwks_uri` are checked by the same rules each time the server fetches them
//! ([`parse_jwks`]). Signatures are not verified here: `core` does no crypto.

use std::collections::HashSet;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use gatehouse_token::{Algorithm, Jwk, JwkSet, KeyParams, b64};
use serde_json::{Map, Value};

/// The most keys a client's JWK set may hold.
pub const MAX_KEYS: usize = 16;
/// The longest `kid` accepted.
pub const MAX_KID_LEN: usize = 256;
/// The longest `jwks_uri` accepted.
pub const MAX_URI_LEN: usize = 2048;
/// The longest certificate chain kept in a key's `x5c`.
const MAX_CHAIN: usize = 10;
/// The longest certificate in `x5c`, base64: 16 KiB.
const MAX_CERTIFICATE_B64: usize = 16 * 1024;
/// JWK members only a private or symmetric key has (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Where a client's public keys are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientKeys {
    /// `jwks`: the keys themselves, each bound to one algorithm.
    Jwks(JwkSet),
    /// `jwks_uri`: an https URL the server fetches them from (through the hardened fetcher).
    Uri(String),
}

/// Why a client's keys were refused; the text says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KeysError(pub String);

fn refuse(message: impl Into<String>) -> KeysError {
    KeysError(message.into())
}

impl ClientKeys {
    /// The keys registered as `jwks` (a JSON value) or `jwks_uri`: exactly one of them (RFC
    /// 7591 §2: both MUST NOT be present).
    pub fn register(jwks: Option<&Value>, jwks_uri: Option<&str>) -> Result<Self, KeysError> {
        match (jwks, jwks_uri) {
            (Some(_), Some(_)) => Err(refuse("give jwks or jwks_uri, not both (RFC 7591 §2)")),
            (Some(jwks), None) => parse_jwks(jwks).map(Self::Jwks),
            (None, Some(uri)) => self::jwks_uri(uri).map(Self::Uri),
            (None, None) => Err(refuse(
                "private_key_jwt needs the client's public keys: give jwks or jwks_uri",
            )),
        }
    }

    /// The `jwks_uri`, when the keys are registered by reference.
    pub fn uri(&self) -> Option<&str> {
        match self {
            Self::Uri(uri) => Some(uri),
            Self::Jwks(_) => None,
        }
    }

    /// The DER certificates of the keys registered by value (each key's own, the first of its
    /// `x5c`), which a `self_signed_tls_client_auth` client presents (RFC 8705 §2.2).
    pub fn certificates(&self) -> Vec<Vec<u8>> {
        self.jwks()
            .map(|set| {
                set.keys
                    .iter()
                    .filter_map(|k| k.x5c.first())
                    .filter_map(|text| STANDARD.decode(text).ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The key set, when registered by value.
    pub fn jwks(&self) -> Option<&JwkSet> {
        match self {
            Self::Jwks(set) => Some(set),
            Self::Uri(_) => None,
        }
    }
}

/// A `jwks_uri`: an absolute https URL without fragment (RFC 7591 §2 wants it https; the
/// fetcher's own rules, SSRF included, apply again at every fetch).
pub fn jwks_uri(text: &str) -> Result<String, KeysError> {
    if text.len() > MAX_URI_LEN {
        return Err(refuse(format!(
            "jwks_uri: at most {MAX_URI_LEN} characters"
        )));
    }
    match url::Url::parse(text) {
        Ok(u) if u.scheme() == "https" && u.fragment().is_none() && u.host().is_some() => {
            Ok(text.to_owned())
        }
        _ => Err(refuse(
            "jwks_uri must be an absolute https URL without a fragment",
        )),
    }
}

/// The algorithm an EC or OKP key's curve implies; RSA keys serve two (RS256, PS256) and must
/// say which.
fn derived(params: &KeyParams) -> Option<Algorithm> {
    match params {
        KeyParams::Ec { crv, .. } if crv == "P-256" => Some(Algorithm::ES256),
        KeyParams::Ec { crv, .. } if crv == "P-384" => Some(Algorithm::ES384),
        KeyParams::Okp { crv, .. } if crv == "Ed25519" => Some(Algorithm::EdDSA),
        _ => None,
    }
}

/// Whether `alg` may be used with a key of these parameters (RFC 8725 §3.1: each key verifies
/// under exactly one algorithm, which fits its type and curve).
fn fits(alg: Algorithm, params: &KeyParams) -> bool {
    match params {
        KeyParams::Rsa { .. } => matches!(alg, Algorithm::RS256 | Algorithm::PS256),
        _ => derived(params) == Some(alg),
    }
}

/// The decoded length of a base64url parameter, if it decodes.
fn decoded_len(text: &str) -> Option<usize> {
    b64::decode(text).ok().map(|v| v.len())
}

/// Parameter lengths (security matrix §3.18, §3.22): EC coordinates of the curve's size, a
/// 32-byte Ed25519 key, an RSA modulus of 2048 to 8192 bits.
fn check_params(params: &KeyParams) -> Result<(), &'static str> {
    match params {
        KeyParams::Ec { crv, x, y } => {
            let len = if crv == "P-256" { 32 } else { 48 };
            if decoded_len(x) != Some(len) || decoded_len(y) != Some(len) {
                return Err("EC coordinates must be base64url of the curve's size");
            }
        }
        KeyParams::Okp { x, .. } => {
            if decoded_len(x) != Some(32) {
                return Err("an Ed25519 key is 32 bytes of base64url");
            }
        }
        KeyParams::Rsa { n, e } => {
            match b64::decode(n) {
                // The modulus without leading zeros (RFC 7518 §6.3.1.1).
                Ok(n) if n.first() == Some(&0) => return Err("n has a leading zero byte"),
                Ok(n) if (256..=1024).contains(&n.len()) => {}
                _ => return Err("RSA keys must be 2048 to 8192 bits (n, base64url)"),
            }
            if !matches!(decoded_len(e), Some(1..=8)) {
                return Err("e must be base64url of at most 8 bytes");
            }
        }
    }
    Ok(())
}

/// One key of a client's JWK set, checked and bound to its algorithm; `None` for a key meant
/// for encryption (`use: enc`), which a JWK set may hold but client authentication ignores.
fn parse_key(index: usize, key: &Value) -> Result<Option<Jwk>, KeysError> {
    let at = |message: &str| refuse(format!("jwks: key {index}: {message}"));
    let Some(object) = key.as_object() else {
        return Err(at("not a JSON object"));
    };
    if let Some(member) = PRIVATE_MEMBERS.iter().find(|m| object.contains_key(**m)) {
        return Err(at(&format!(
            "carries the private or symmetric member {member:?}: register public keys only"
        )));
    }
    match object.get("use") {
        None => {}
        Some(Value::String(u)) if u == "sig" => {}
        Some(Value::String(u)) if u == "enc" => return Ok(None),
        Some(_) => return Err(at("use must be \"sig\" or \"enc\"")),
    }
    let kty = object
        .get("kty")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !matches!(kty, "EC" | "RSA" | "OKP") {
        return Err(at(
            "kty must be EC, RSA or OKP (asymmetric keys only; no oct)",
        ));
    }
    let params: KeyParams = serde_json::from_value(key.clone())
        .map_err(|_| at("the key's parameters are missing or not strings"))?;
    if let KeyParams::Ec { crv, .. } | KeyParams::Okp { crv, .. } = &params {
        if derived(&params).is_none() {
            return Err(at(&format!(
                "curve {crv:?} is not supported; use P-256, P-384 or Ed25519"
            )));
        }
    }
    check_params(&params).map_err(&at)?;
    let alg = match object.get("alg") {
        None => {
            derived(&params).ok_or_else(|| at("an RSA key must state its alg: RS256 or PS256"))?
        }
        Some(Value::String(name)) => {
            let alg: Algorithm = name.parse().map_err(|_| {
                at(&format!(
                    "alg {name:?} is not accepted; use ES256, ES384, EdDSA, PS256 or RS256 (never none or HMAC)"
                ))
            })?;
            if !fits(alg, &params) {
                return Err(at(&format!(
                    "alg {name} does not fit the key's type or curve"
                )));
            }
            alg
        }
        Some(_) => return Err(at("alg must be a string")),
    };
    let kid = match object.get("kid") {
        None => params.thumbprint(),
        Some(Value::String(kid))
            if !kid.is_empty()
                && kid.len() <= MAX_KID_LEN
                && !kid.chars().any(char::is_control) =>
        {
            kid.clone()
        }
        Some(_) => {
            return Err(at(&format!(
                "kid must be a string of 1 to {MAX_KID_LEN} printable characters"
            )));
        }
    };
    // RFC 7517 §4.7: base64 (not base64url) DER certificates, the key's own first; kept for
    // self_signed_tls_client_auth (RFC 8705 §2.2), which compares the TLS certificate with it.
    let x5c: Vec<(String, Vec<u8>)> = match object.get("x5c") {
        None => Vec::new(),
        Some(Value::Array(items)) if !items.is_empty() && items.len() <= MAX_CHAIN => items
            .iter()
            .map(|item| match item {
                Value::String(text) if text.len() <= MAX_CERTIFICATE_B64 => STANDARD
                    .decode(text)
                    .map(|der| (text.clone(), der))
                    .map_err(|_| ()),
                _ => Err(()),
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|()| {
                at("x5c: each entry must be a base64 (not base64url) DER certificate of at most 16 KiB")
            })?,
        Some(_) => {
            return Err(at(&format!(
                "x5c must be an array of 1 to {MAX_CHAIN} base64 certificates"
            )));
        }
    };
    // RFC 7517 §4.7: each entry a DER certificate, and "the key in the first certificate MUST
    // match the public key represented by other members of the JWK".
    for (position, (_, der)) in x5c.iter().enumerate() {
        match certificate_key(der) {
            None => return Err(at("x5c: each entry must be one DER X.509 certificate")),
            Some(key) if position == 0 && !key.is(&params) => {
                return Err(at(
                    "x5c: the first certificate must hold the key's own public key (RFC 7517 §4.7)",
                ));
            }
            Some(_) => {}
        }
    }
    Ok(Some(Jwk {
        x5c: x5c.into_iter().map(|(text, _)| text).collect(),
        kid,
        alg,
        use_: Some("sig".into()),
        params,
    }))
}

/// The subject public key of an `x5c` certificate, as far as it is compared with a JWK.
enum CertificateKey {
    /// The BIT STRING of an EC (`04 || x || y`) or Ed25519 key (RFC 5480 §2.2, RFC 8410 §4).
    Raw(Vec<u8>),
    /// An RSA key's modulus and exponent, without leading zeros (RFC 8017 §A.1.1).
    Rsa(Vec<u8>, Vec<u8>),
}

impl CertificateKey {
    /// Whether the JWK `params` is this key.
    fn is(&self, params: &KeyParams) -> bool {
        let decode = |text: &str| b64::decode(text).unwrap_or_default();
        match (self, params) {
            (Self::Raw(raw), KeyParams::Ec { x, y, .. }) => {
                raw.first() == Some(&4) && raw[1..] == [decode(x), decode(y)].concat()
            }
            (Self::Raw(raw), KeyParams::Okp { x, .. }) => *raw == decode(x),
            (Self::Rsa(modulus, exponent), KeyParams::Rsa { n, e }) => {
                *modulus == decode(n) && *exponent == trim_zeros(&decode(e))
            }
            _ => false,
        }
    }
}

fn trim_zeros(bytes: &[u8]) -> Vec<u8> {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes[start..].to_vec()
}

/// The public key of `der`, if it is one DER certificate and nothing else.
fn certificate_key(der: &[u8]) -> Option<CertificateKey> {
    use x509_parser::prelude::{FromDer as _, X509Certificate};
    use x509_parser::public_key::PublicKey;
    let ([], cert) = X509Certificate::from_der(der).ok()? else {
        return None;
    };
    let spki = cert.public_key();
    Some(match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => {
            CertificateKey::Rsa(trim_zeros(rsa.modulus), trim_zeros(rsa.exponent))
        }
        _ => CertificateKey::Raw(spki.subject_public_key.data.to_vec()),
    })
}

/// A client's JWK set (RFC 7517 §5), checked by the rules of this module's documentation: the
/// signing keys, each with its `kid` and its one algorithm.
pub fn parse_jwks(value: &Value) -> Result<JwkSet, KeysError> {
    let keys = value
        .as_object()
        .and_then(|o: &Map<String, Value>| o.get("keys"))
        .and_then(Value::as_array)
        .ok_or_else(|| refuse("jwks must be a JWK set: {\"keys\": [...]}"))?;
    if keys.len() > MAX_KEYS {
        return Err(refuse(format!("jwks: at most {MAX_KEYS} keys")));
    }
    let mut out = Vec::with_capacity(keys.len());
    let mut kids = HashSet::new();
    for (index, key) in keys.iter().enumerate() {
        let Some(jwk) = parse_key(index, key)? else {
            continue;
        };
        if !kids.insert(jwk.kid.clone()) {
            return Err(refuse(format!(
                "jwks: key {index}: kid {:?} is used twice; kids must be unique",
                jwk.kid
            )));
        }
        out.push(jwk);
    }
    if out.is_empty() {
        return Err(refuse("jwks: no signing key (kty EC, RSA or OKP, use sig)"));
    }
    Ok(JwkSet { keys: out })
}

/// [`parse_jwks`] over a fetched document's bytes.
pub fn parse_jwks_bytes(body: &[u8]) -> Result<JwkSet, KeysError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|_| refuse("the JWK set is not JSON"))?;
    parse_jwks(&value)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ec() -> Value {
        json!({"kty": "EC", "crv": "P-256", "x": b64::encode([1u8; 32]), "y": b64::encode([2u8; 32])})
    }

    /// A self-signed certificate for a new key of `alg`, and that key's JWK with the certificate
    /// in `x5c`.
    fn with_certificate(alg: &'static rcgen::SignatureAlgorithm) -> (Value, String) {
        let key = rcgen::KeyPair::generate_for(alg).unwrap();
        let der = rcgen::CertificateParams::new(vec!["client.example".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap()
            .der()
            .to_vec();
        let raw = key.public_key_raw();
        let jwk = if alg == &rcgen::PKCS_ED25519 {
            json!({"kty": "OKP", "crv": "Ed25519", "x": b64::encode(raw)})
        } else {
            json!({"kty": "EC", "crv": "P-256", "x": b64::encode(&raw[1..33]), "y": b64::encode(&raw[33..])})
        };
        (jwk, STANDARD.encode(der))
    }

    #[test]
    fn x5c_holds_certificates_of_the_key_itself() {
        for alg in [&rcgen::PKCS_ECDSA_P256_SHA256, &rcgen::PKCS_ED25519] {
            let (mut jwk, cert) = with_certificate(alg);
            let (_, other) = with_certificate(alg);
            jwk["x5c"] = json!([cert, other]);
            let set = parse_jwks(&json!({"keys": [jwk.clone()]})).unwrap();
            assert_eq!(set.keys[0].x5c.len(), 2);
            // RFC 7517 §4.7: the first certificate is the key's own.
            jwk["x5c"] = json!([other, cert]);
            let err = parse_jwks(&json!({"keys": [jwk.clone()]})).unwrap_err();
            assert!(err.0.contains("own public key"), "{err:?}");
            // Base64 that is not one certificate, anywhere in the chain.
            let mut der = STANDARD.decode(&cert).unwrap();
            der.push(0);
            for x5c in [
                json!([STANDARD.encode(b"hello")]),
                json!([cert, STANDARD.encode(b"hello")]),
                json!([STANDARD.encode(&der)]),
                json!([STANDARD.encode(&der[..der.len() / 2])]),
            ] {
                jwk["x5c"] = x5c.clone();
                let err = parse_jwks(&json!({"keys": [jwk.clone()]})).unwrap_err();
                assert!(err.0.contains("X.509"), "{x5c}: {err:?}");
            }
        }
        // Another key type than the certificate's.
        let (_, cert) = with_certificate(&rcgen::PKCS_ED25519);
        let mut rsa =
            json!({"kty": "RSA", "alg": "PS256", "n": b64::encode([0xc1u8; 256]), "e": "AQAB"});
        rsa["x5c"] = json!([cert]);
        assert!(parse_jwks(&json!({"keys": [rsa]})).is_err());
    }

    #[test]
    fn binds_each_key_to_one_algorithm() {
        let set = parse_jwks(&json!({"keys": [ec()]})).unwrap();
        assert_eq!(set.keys[0].alg, Algorithm::ES256);
        assert_eq!(set.keys[0].kid, set.keys[0].params.thumbprint());
        let mut rsa = json!({"kty": "RSA", "n": b64::encode([0xc1u8; 256]), "e": "AQAB"});
        assert!(
            parse_jwks(&json!({"keys": [rsa.clone()]})).is_err(),
            "RSA must say its alg"
        );
        rsa["alg"] = json!("PS256");
        assert_eq!(
            parse_jwks(&json!({"keys": [rsa]})).unwrap().keys[0].alg,
            Algorithm::PS256
        );
    }

    #[test]
    fn refuses_private_symmetric_and_mismatched_keys() {
        let mut private = ec();
        private["d"] = json!(b64::encode([3u8; 32]));
        let err = parse_jwks(&json!({"keys": [private]})).unwrap_err();
        assert!(err.0.contains("private"), "{err}");
        let oct = json!({"kty": "oct", "k": "c2VjcmV0"});
        assert!(parse_jwks(&json!({"keys": [oct]})).is_err());
        let oct = json!({"kty": "oct", "alg": "HS256"});
        assert!(parse_jwks(&json!({"keys": [oct]})).is_err());
        for alg in ["HS256", "none", "ES384", "RS256", "es256"] {
            let mut key = ec();
            key["alg"] = json!(alg);
            assert!(parse_jwks(&json!({"keys": [key]})).is_err(), "{alg}");
        }
        let short_rsa =
            json!({"kty": "RSA", "alg": "RS256", "n": b64::encode([0xc1u8; 128]), "e": "AQAB"});
        assert!(parse_jwks(&json!({"keys": [short_rsa]})).is_err());
        let mut bad_point = ec();
        bad_point["x"] = json!(b64::encode([1u8; 31]));
        assert!(parse_jwks(&json!({"keys": [bad_point]})).is_err());
    }

    #[test]
    fn kids_are_unique_and_shapes_checked() {
        let mut a = ec();
        a["kid"] = json!("one");
        let dup = json!({"keys": [a.clone(), a.clone()]});
        assert!(parse_jwks(&dup).unwrap_err().0.contains("twice"));
        for bad in [
            json!({}),
            json!([]),
            json!({"keys": {}}),
            json!({"keys": []}),
            json!("x"),
        ] {
            assert!(parse_jwks(&bad).is_err(), "{bad}");
        }
        let mut enc = ec();
        enc["use"] = json!("enc");
        assert!(
            parse_jwks(&json!({"keys": [enc.clone()]})).is_err(),
            "no signing key"
        );
        assert_eq!(
            parse_jwks(&json!({"keys": [enc, a]})).unwrap().keys.len(),
            1
        );
        let mut numeric = ec();
        numeric["kid"] = json!(7);
        assert!(parse_jwks(&json!({"keys": [numeric]})).is_err());
    }

    #[test]
    fn one_of_jwks_or_an_https_jwks_uri() {
        let jwks = json!({"keys": [ec()]});
        assert!(ClientKeys::register(Some(&jwks), Some("https://c.example/jwks")).is_err());
        assert!(ClientKeys::register(None, None).is_err());
        assert!(ClientKeys::register(None, Some("http://c.example/jwks")).is_err());
        assert!(ClientKeys::register(None, Some("https://c.example/jwks#k")).is_err());
        assert_eq!(
            ClientKeys::register(None, Some("https://c.example/jwks")).unwrap(),
            ClientKeys::Uri("https://c.example/jwks".into())
        );
        assert!(matches!(
            ClientKeys::register(Some(&jwks), None),
            Ok(ClientKeys::Jwks(_))
        ));
    }
}
