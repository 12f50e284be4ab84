//! Fixtures shared by the validator's test files.
#![allow(dead_code, reason = "each test file uses a part of it")]

use gatehouse_token::{AccessTokenClaims, Algorithm, Audience, Jwk, KeyParams, UnixTime};

/// The issuer of every token in these tests.
pub(crate) const ISS: &str = "https://as.example";
/// The time the tests validate at.
pub(crate) const NOW: UnixTime = UnixTime(1_000_000);

/// Claims valid at [`NOW`] for five minutes, for `https://rs.example`, scope `read`.
pub(crate) fn claims(jti: &str) -> AccessTokenClaims {
    AccessTokenClaims {
        iss: ISS.into(),
        sub: "c".into(),
        aud: Audience::One("https://rs.example".into()),
        client_id: "c".into(),
        scope: Some("read".into()),
        iat: NOW,
        nbf: None,
        exp: NOW.plus(300),
        jti: jti.into(),
        act: None,
        cnf: None,
    }
}

/// The public key of RFC 7515 Appendix A.3 (ES256), as a JWK with the given `kid`.
pub(crate) fn rfc7515_a3_jwk(kid: &str) -> Jwk {
    Jwk {
        x5c: Vec::new(),
        kid: kid.into(),
        alg: Algorithm::ES256,
        use_: None,
        params: KeyParams::Ec {
            crv: "P-256".into(),
            x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU".into(),
            y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0".into(),
        },
    }
}
