//! Why a token was refused. `Copy`, no allocation: cheap on the hot path. Callers answering a
//! client (introspection) say only "inactive"; the reason is for logs and metrics.

/// The reason a token is not valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// Longer than the configured limit; refused before any parsing.
    #[error("token too large")]
    TooLarge,
    /// Not a compact JWS of three canonical base64url parts with JSON objects inside.
    #[error("malformed token")]
    Malformed,
    /// The header carries a member Gatehouse never trusts (`jku`, `jwk`, `x5u`, `x5c`, `crit`,
    /// `b64`, `zip`, `enc`, ...) or lacks `kid`.
    #[error("forbidden or missing header member")]
    Header,
    /// `typ` is not `at+jwt` (RFC 9068 §4).
    #[error("not an access token (typ)")]
    WrongType,
    /// No published key has this `kid`.
    #[error("unknown key id")]
    UnknownKey,
    /// The header's `alg` is not the key's algorithm.
    #[error("algorithm does not match the key")]
    AlgorithmMismatch,
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// `iss` is not exactly the issuer.
    #[error("wrong issuer")]
    WrongIssuer,
    /// `aud` is empty or lacks the expected resource.
    #[error("wrong audience")]
    WrongAudience,
    /// Past `exp` (plus leeway).
    #[error("expired")]
    Expired,
    /// Before `nbf` or `iat` (minus leeway).
    #[error("not yet valid")]
    NotYetValid,
    /// `iat` or `nbf` after `exp`: a token that is valid at no moment at all.
    #[error("never valid (iat or nbf after exp)")]
    NeverValid,
    /// Revoked.
    #[error("revoked")]
    Revoked,
    /// An opaque token that is not in the store.
    #[error("unknown token")]
    Unknown,
}
