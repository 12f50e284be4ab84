//! Key binding and explicit typing of external JWTs.

use super::*;

const EC: &str = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","kid":"ec"}"#;
const ED: &str = r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"ed","alg":"EdDSA"}"#;

fn jwks(keys: &[&str]) -> Vec<u8> {
    format!(r#"{{"keys":[{}]}}"#, keys.join(",")).into_bytes()
}

#[test]
fn keys_are_bound_to_allowed_algorithms_only() {
    let both = jwks(&[EC, ED]);
    let keys = bind_keys(&both, &[Algorithm::ES256, Algorithm::EdDSA]).unwrap();
    assert_eq!(
        keys.get("ec").unwrap().algorithm(),
        Algorithm::ES256,
        "inferred"
    );
    assert_eq!(keys.get("ed").unwrap().algorithm(), Algorithm::EdDSA);
    let only_ec = bind_keys(&both, &[Algorithm::ES256]).unwrap();
    assert!(
        only_ec.get("ed").is_none(),
        "a stated algorithm not allowed"
    );
    let only_ed = bind_keys(&both, &[Algorithm::EdDSA]).unwrap();
    assert!(only_ed.get("ec").is_none(), "no allowed algorithm fits");
    let rsa_two = bind_keys(&jwks(&[EC]), &[Algorithm::RS256, Algorithm::PS256]).unwrap();
    assert!(rsa_two.is_empty());
    let private = ED.replace("\"kid\"", "\"d\":\"AAAA\",\"kid\"");
    assert!(bind_keys(&jwks(&[EC, &private]), &[Algorithm::ES256]).is_err());
    assert!(bind_keys(b"{}", &[Algorithm::ES256]).is_err());
}

#[test]
fn explicit_typing() {
    for ok in [
        "oauth-id-jag+jwt",
        "application/oauth-id-jag+jwt",
        "OAUTH-ID-JAG+JWT",
    ] {
        assert!(is_id_jag(Some(ok)), "{ok}");
    }
    for bad in [None, Some("JWT"), Some("at+jwt"), Some("oauth-id-jag+jwt ")] {
        assert!(!is_id_jag(bad), "{bad:?}");
    }
    for ok in [None, Some("JWT"), Some("jwt"), Some("application/jwt")] {
        assert!(is_plain_jwt(ok), "{ok:?}");
    }
    for bad in ["at+jwt", "oauth-id-jag+jwt", "logout+jwt", "x"] {
        assert!(!is_plain_jwt(Some(bad)), "{bad}");
    }
}

#[test]
fn the_issuer_is_read_without_trusting_it() {
    let payload = b64::encode(br#"{"iss":"https://idp","sub":"x"}"#);
    assert_eq!(
        unverified_issuer(&format!("e30.{payload}.sig")).as_deref(),
        Some("https://idp")
    );
    assert_eq!(unverified_issuer("nodots"), None);
    assert_eq!(
        unverified_issuer(&format!("e30.{}.s", b64::encode(b"[1]"))),
        None
    );
}
