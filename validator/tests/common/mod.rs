//! Fixtures shared by the validator's test files.

use gatehouse_token::{Algorithm, Jwk, KeyParams};

/// The public key of RFC 7515 Appendix A.3 (ES256), as a JWK with the given `kid`.
pub(crate) fn rfc7515_a3_jwk(kid: &str) -> Jwk {
    Jwk {
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
