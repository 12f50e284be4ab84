//! How a resource checks the way an access token was presented against its binding (RFC 9449
//! §7, RFC 8705 §3.2): the `Authorization` scheme (`Bearer` or `DPoP`, case-insensitive, RFC
//! 9110 §11.1), the DPoP proof of a `DPoP` presentation, and the client certificate of the
//! connection for a certificate-bound token.

use gatehouse_token::{Confirmation, UnixTime};

use super::{DpopSettings, Expected, ProofError, ReplayCache, verify_for_resource};

/// The authentication scheme an access token was presented with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `Authorization: Bearer` (RFC 6750 §2.1).
    Bearer,
    /// `Authorization: DPoP` with a `DPoP` proof header (RFC 9449 §7.1).
    DPoP,
}

impl Scheme {
    /// The scheme's name as challenges write it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Bearer => "Bearer",
            Self::DPoP => "DPoP",
        }
    }
}

/// The scheme and token of an `Authorization` header value: `None` when it is neither a
/// `Bearer` nor a `DPoP` credential (scheme names compare case-insensitively, RFC 9110 §11.1;
/// security matrix §2.2 item 59).
pub fn parse_authorization(value: &str) -> Option<(Scheme, &str)> {
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim_start_matches(' ');
    if token.is_empty() || token.contains(' ') {
        return None;
    }
    if scheme.eq_ignore_ascii_case("bearer") {
        Some((Scheme::Bearer, token))
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Some((Scheme::DPoP, token))
    } else {
        None
    }
}

/// A request to a resource, as far as the binding of its token is concerned.
#[derive(Debug, Clone, Copy)]
pub struct Presentation<'a> {
    /// The scheme of the `Authorization` header.
    pub scheme: Scheme,
    /// The access token.
    pub token: &'a str,
    /// The one `DPoP` header, if any.
    pub proof: Option<&'a str>,
    /// The request's method.
    pub method: &'a str,
    /// The request's URL (scheme, host and path of the resource).
    pub url: &'a str,
    /// The time.
    pub now: UnixTime,
    /// The DER client certificate of the connection (mutual TLS), if any.
    pub certificate: Option<&'a [u8]>,
}

/// Why a presentation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PresentationError {
    /// The DPoP proof is missing or fails a check (`invalid_dpop_proof`, RFC 9449 §7.1).
    #[error(transparent)]
    Proof(#[from] ProofError),
    /// A `DPoP` presentation without a `DPoP` header.
    #[error("a DPoP presentation needs a DPoP proof header")]
    MissingProof,
    /// A DPoP-bound token presented as a bearer token (RFC 9449 §7.2: refused).
    #[error("the access token is DPoP-bound: present it with the DPoP scheme and a proof")]
    BoundAsBearer,
    /// A certificate-bound token without the certificate it is bound to (RFC 8705 §3.2).
    #[error("the access token is bound to another client certificate")]
    Certificate,
}

impl PresentationError {
    /// The RFC 6750 §3.1 / RFC 9449 §7.1 error code of the challenge.
    pub const fn error_code(&self) -> &'static str {
        match self {
            Self::Proof(_) | Self::MissingProof => "invalid_dpop_proof",
            Self::BoundAsBearer | Self::Certificate => "invalid_token",
        }
    }

    /// The scheme whose challenge answers this error.
    pub const fn scheme(&self) -> Scheme {
        match self {
            Self::Proof(_) | Self::MissingProof | Self::BoundAsBearer => Scheme::DPoP,
            Self::Certificate => Scheme::Bearer,
        }
    }
}

/// Checks that `presented` satisfies the binding `cnf` of its (otherwise valid) token: the
/// certificate of a certificate-bound token (RFC 8705 §3.2), the DPoP proof of a DPoP-bound one
/// (RFC 9449 §7.1, with `ath`, the key and replay), and never a DPoP-bound token as a bearer
/// token. An unbound token presented with `DPoP` is refused too: the proof's key binds nothing.
pub fn check(
    settings: &DpopSettings,
    replay: &ReplayCache,
    presented: &Presentation<'_>,
    cnf: Option<&Confirmation>,
) -> Result<(), PresentationError> {
    if let Some(cnf) = cnf.filter(|c| c.x5t_s256.is_some()) {
        if !presented
            .certificate
            .is_some_and(|der| cnf.matches_certificate(der))
        {
            return Err(PresentationError::Certificate);
        }
    }
    let bound = cnf.is_some_and(|c| c.jkt.is_some());
    match presented.scheme {
        Scheme::Bearer if bound => Err(PresentationError::BoundAsBearer),
        Scheme::Bearer => Ok(()),
        Scheme::DPoP => {
            let proof = presented.proof.ok_or(PresentationError::MissingProof)?;
            let expected = Expected {
                method: presented.method,
                url: presented.url,
                now: presented.now,
                access_token: Some(presented.token),
            };
            verify_for_resource(settings, replay, proof, &expected, cnf)?;
            Ok(())
        }
    }
}

/// The `WWW-Authenticate` value of a DPoP challenge (RFC 9449 §7.1): the error, if any, and
/// the algorithms proofs may use.
pub fn challenge(settings: &DpopSettings, error: Option<(&str, &str)>) -> String {
    let algs: Vec<&str> = settings.algorithms.iter().map(|a| a.as_str()).collect();
    let mut value = String::from("DPoP ");
    if let Some((code, description)) = error {
        value.push_str(&format!(
            "error=\"{code}\", error_description=\"{}\", ",
            description.replace(['"', '\\'], "'")
        ));
    }
    value.push_str(&format!("algs=\"{}\"", algs.join(" ")));
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_token::confirmation::certificate_thumbprint;

    #[test]
    fn scheme_names_are_case_insensitive() {
        for (value, want) in [
            ("Bearer t", Some((Scheme::Bearer, "t"))),
            ("bearer t", Some((Scheme::Bearer, "t"))),
            ("BEARER t", Some((Scheme::Bearer, "t"))),
            ("DPoP t", Some((Scheme::DPoP, "t"))),
            ("dpop t", Some((Scheme::DPoP, "t"))),
            ("DPOP t", Some((Scheme::DPoP, "t"))),
            ("Basic t", None),
            ("Bearer", None),
            ("Bearer ", None),
            ("Bearer a b", None),
        ] {
            assert_eq!(parse_authorization(value), want, "{value}");
        }
    }

    fn presented<'a>(scheme: Scheme, certificate: Option<&'a [u8]>) -> Presentation<'a> {
        Presentation {
            scheme,
            token: "t",
            proof: None,
            method: "GET",
            url: "https://rs.example/",
            now: UnixTime(1),
            certificate,
        }
    }

    #[test]
    fn bindings_are_enforced() {
        let (s, r) = (DpopSettings::default(), ReplayCache::default());
        let dpop = Confirmation::dpop("k");
        assert_eq!(
            check(&s, &r, &presented(Scheme::Bearer, None), Some(&dpop)),
            Err(PresentationError::BoundAsBearer)
        );
        assert_eq!(
            check(&s, &r, &presented(Scheme::DPoP, None), Some(&dpop)),
            Err(PresentationError::MissingProof)
        );
        assert!(check(&s, &r, &presented(Scheme::Bearer, None), None).is_ok());
        let der = b"certificate".as_slice();
        let mtls = Confirmation {
            jkt: None,
            x5t_s256: Some(certificate_thumbprint(der)),
        };
        assert!(check(&s, &r, &presented(Scheme::Bearer, Some(der)), Some(&mtls)).is_ok());
        for other in [None, Some(b"another".as_slice())] {
            assert_eq!(
                check(&s, &r, &presented(Scheme::Bearer, other), Some(&mtls)),
                Err(PresentationError::Certificate)
            );
        }
    }

    #[test]
    fn challenges_name_the_algorithms() {
        let s = DpopSettings::default();
        assert_eq!(challenge(&s, None), "DPoP algs=\"ES256 PS256 EdDSA RS256\"");
        assert_eq!(
            challenge(&s, Some(("invalid_dpop_proof", "a \"b\""))),
            "DPoP error=\"invalid_dpop_proof\", error_description=\"a 'b'\", algs=\"ES256 PS256 EdDSA RS256\""
        );
    }
}
