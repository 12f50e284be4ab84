//! JWS compact serialisation (RFC 7515 §7.1): `base64url(header) . base64url(payload) .
//! base64url(signature)`, signed over the first two parts (RFC 7515 §5.1).

use gatehouse_token::{JwsHeader, b64};
use serde::Serialize;

use crate::key::{SignError, SigningKey};

/// Signs `claims` with `key` under a header `{alg, kid, typ}`. Blocking (see [`SigningKey::sign`]).
pub fn sign_compact(
    key: &dyn SigningKey,
    typ: &str,
    claims: &impl Serialize,
) -> Result<String, SignError> {
    let header = JwsHeader {
        alg: key.algorithm(),
        kid: key.kid(),
        typ,
    };
    let encode_err = |e: serde_json::Error| SignError::Failed(e.to_string());
    let header = serde_json::to_vec(&header).map_err(encode_err)?;
    let payload = serde_json::to_vec(claims).map_err(encode_err)?;
    let mut out = String::with_capacity((header.len() + payload.len()) * 4 / 3 + 140);
    b64::encode_into(&header, &mut out);
    out.push('.');
    b64::encode_into(&payload, &mut out);
    let signature = key.sign(out.as_bytes())?;
    out.push('.');
    b64::encode_into(&signature, &mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use gatehouse_token::Algorithm;

    use super::*;
    use crate::SoftwareKey;

    #[test]
    fn three_canonical_parts_with_the_keys_header() {
        let key = SoftwareKey::generate(Algorithm::ES256).unwrap();
        let jws = sign_compact(&key, "at+jwt", &serde_json::json!({"sub": "x"})).unwrap();
        let parts: Vec<&str> = jws.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value =
            serde_json::from_slice(&b64::decode(parts[0]).unwrap()).unwrap();
        assert_eq!(
            header,
            serde_json::json!({"alg": "ES256", "kid": key.kid(), "typ": "at+jwt"})
        );
        assert_eq!(b64::decode(parts[2]).unwrap().len(), 64);
    }
}
