//! Sender-constrained tokens: which tokens are bound to their holder's key, and to which key.
//!
//! The token endpoint proves the holder's keys before any grant runs (a DPoP proof, RFC 9449
//! §4.3; a TLS client certificate, RFC 8705 §3) and hands them to [`crate::grant::exchange`]
//! as a [`Holder`]. From it, and from what the client registered ([`BindingPolicy`]) and the
//! resource requires, [`confirm`] decides the `cnf` of the access token (RFC 7800 §3.1):
//! - a DPoP proof binds the access token to its key (`cnf.jkt`, RFC 9449 §6.1), whoever the
//!   client; a client registered with `dpop_bound_access_tokens` must send one (RFC 9449
//!   §5.2);
//! - a certificate binds it (`cnf.x5t#S256`, RFC 8705 §3.1) when the client registered
//!   `tls_client_certificate_bound_access_tokens` (RFC 8705 §3.4), which then requires one;
//! - a resource that requires sender-constrained tokens gets none without a binding.
//!
//! Refresh tokens of public clients are bound to the DPoP key they were issued with (RFC 9449
//! §5): [`check_refresh`]. A code issued for a `dpop_jkt` (RFC 9449 §10) is only redeemed with a
//! proof by that key: [`check_code`]. A bound token presented for a token exchange is taken
//! only from the holder of its key: [`check_presented`].

use gatehouse_token::Confirmation;
use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::error::TokenError;

/// The keys the presenter of a token request proved it holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holder {
    /// The RFC 7638 thumbprint of the key of a valid DPoP proof (RFC 9449 §4.3).
    pub dpop_jkt: Option<String>,
    /// The `x5t#S256` thumbprint of the verified TLS client certificate (RFC 8705 §3.1).
    pub certificate_thumbprint: Option<String>,
}

/// A holder that proved no key: every token is a bearer token.
pub static NO_HOLDER: Holder = Holder {
    dpop_jkt: None,
    certificate_thumbprint: None,
};

impl Holder {
    /// A holder that proved a DPoP key.
    pub fn dpop(jkt: impl Into<String>) -> Self {
        Self {
            dpop_jkt: Some(jkt.into()),
            certificate_thumbprint: None,
        }
    }
}

/// What a client registered about sender-constrained tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindingPolicy {
    /// Its access tokens are always DPoP-bound: a token request without a proof is refused
    /// (RFC 9449 §5.2).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dpop_bound_access_tokens: bool,
    /// Its access tokens are bound to its TLS client certificate (RFC 8705 §3.4): a token
    /// request without one is refused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tls_client_certificate_bound_access_tokens: bool,
}

/// The `cnf` of an access token for `client`, presented by `holder`, for a resource that
/// requires sender-constrained tokens or not (see the module docs). `None`: a bearer token.
pub fn confirm(
    client: &Client,
    resource_requires: bool,
    holder: &Holder,
) -> Result<Option<Confirmation>, TokenError> {
    let policy = client.binding;
    if policy.dpop_bound_access_tokens && holder.dpop_jkt.is_none() {
        return Err(TokenError::InvalidDpopProof(
            "this client's access tokens are DPoP-bound (dpop_bound_access_tokens): \
             send a DPoP proof"
                .into(),
        ));
    }
    if policy.tls_client_certificate_bound_access_tokens && holder.certificate_thumbprint.is_none()
    {
        return Err(TokenError::InvalidRequest(
            "this client's access tokens are certificate-bound \
             (tls_client_certificate_bound_access_tokens): use mutual TLS"
                .into(),
        ));
    }
    let x5t = holder.certificate_thumbprint.clone().filter(|_| {
        policy.tls_client_certificate_bound_access_tokens
            || (resource_requires && holder.dpop_jkt.is_none())
    });
    let cnf = Confirmation {
        jkt: holder.dpop_jkt.clone(),
        x5t_s256: x5t,
    };
    if cnf.is_empty() {
        if resource_requires {
            return Err(TokenError::InvalidRequest(
                "only sender-constrained tokens are issued here (the resource or the \
                 client's security profile requires them): \
                 send a DPoP proof (RFC 9449) or use mutual TLS (RFC 8705)"
                    .into(),
            ));
        }
        return Ok(None);
    }
    Ok(Some(cnf))
}

/// The binding of a new refresh token for `client`: public clients' refresh tokens are bound
/// to the DPoP key of the request (RFC 9449 §5); confidential clients' are bound to their
/// client authentication instead, and not to a key.
pub fn refresh_binding(client: &Client, holder: &Holder) -> Option<Confirmation> {
    if client.kind != crate::client::ClientKind::Public {
        return None;
    }
    holder.dpop_jkt.clone().map(Confirmation::dpop)
}

/// A refresh token bound to a DPoP key is refreshed only with a proof by that key (RFC 9449
/// §5; Keycloak #36475).
pub fn check_refresh(bound: Option<&Confirmation>, holder: &Holder) -> Result<(), TokenError> {
    match bound.and_then(|c| c.jkt.as_deref()) {
        None => Ok(()),
        Some(jkt) if holder.dpop_jkt.as_deref() == Some(jkt) => Ok(()),
        Some(_) if holder.dpop_jkt.is_none() => Err(TokenError::InvalidDpopProof(
            "the refresh token is DPoP-bound: send a DPoP proof by its key".into(),
        )),
        Some(_) => Err(TokenError::InvalidDpopProof(
            "the refresh token is bound to another DPoP key".into(),
        )),
    }
}

/// A code issued for `dpop_jkt` (RFC 9449 §10) is redeemed only with a proof by that key
/// (RFC 9449 §10.1).
pub fn check_code(dpop_jkt: Option<&str>, holder: &Holder) -> Result<(), TokenError> {
    match dpop_jkt {
        None => Ok(()),
        Some(jkt) if holder.dpop_jkt.as_deref() == Some(jkt) => Ok(()),
        Some(_) => Err(TokenError::InvalidDpopProof(
            "the authorization code is bound to a DPoP key (dpop_jkt): \
             send a DPoP proof by that key"
                .into(),
        )),
    }
}

/// A presented token bound to a key (`cnf`, RFC 7800 §3.1) is exchanged (RFC 8693) only by a
/// presenter that proves that key in the same request: a DPoP proof by `cnf.jkt` (RFC 9449 §5:
/// a DPoP-bound token is unusable without its key) or the certificate of `cnf.x5t#S256` (RFC
/// 8705 §3). Otherwise its theft would be undone by exchanging it for a bearer token, or a
/// token rebound to another key. Refused with `invalid_request`: RFC 8693 §2.2.2 gives that code
/// to a subject or actor token that is "unacceptable based on policy".
pub fn check_presented(
    what: &str,
    bound: Option<&Confirmation>,
    holder: &Holder,
) -> Result<(), TokenError> {
    let Some(cnf) = bound else {
        return Ok(());
    };
    let dpop = cnf.jkt.is_some() && cnf.jkt == holder.dpop_jkt;
    let certificate = cnf.x5t_s256.is_some() && cnf.x5t_s256 == holder.certificate_thumbprint;
    if dpop || certificate {
        return Ok(());
    }
    let how = match (&cnf.jkt, &cnf.x5t_s256) {
        (Some(_), Some(_)) => "send a DPoP proof by its key or use its TLS client certificate",
        (Some(_), None) => "send a DPoP proof by its key (cnf.jkt)",
        (None, Some(_)) => "use its TLS client certificate (cnf.x5t#S256)",
        (None, None) => "it is bound by a confirmation method this server cannot check",
    };
    Err(TokenError::InvalidRequest(format!(
        "the {what} is sender-constrained: {how}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::ClientBuilder;

    fn client(policy: BindingPolicy) -> Client {
        let mut c = ClientBuilder::new().client();
        c.binding = policy;
        c
    }

    #[test]
    fn dpop_binds_whenever_a_proof_came() {
        let c = client(BindingPolicy::default());
        assert_eq!(confirm(&c, false, &NO_HOLDER).unwrap(), None);
        let cnf = confirm(&c, false, &Holder::dpop("k")).unwrap().unwrap();
        assert_eq!(cnf, Confirmation::dpop("k"));
        assert_eq!(confirm(&c, true, &Holder::dpop("k")).unwrap(), Some(cnf));
    }

    #[test]
    fn required_bindings_refuse_without_a_key() {
        let dpop = client(BindingPolicy {
            dpop_bound_access_tokens: true,
            ..BindingPolicy::default()
        });
        assert!(matches!(
            confirm(&dpop, false, &NO_HOLDER),
            Err(TokenError::InvalidDpopProof(_))
        ));
        let c = client(BindingPolicy::default());
        assert!(matches!(
            confirm(&c, true, &NO_HOLDER),
            Err(TokenError::InvalidRequest(_))
        ));
        let mtls = client(BindingPolicy {
            tls_client_certificate_bound_access_tokens: true,
            ..BindingPolicy::default()
        });
        assert!(matches!(
            confirm(&mtls, false, &Holder::dpop("k")),
            Err(TokenError::InvalidRequest(_))
        ));
        let holder = Holder {
            dpop_jkt: None,
            certificate_thumbprint: Some("t".into()),
        };
        let cnf = confirm(&mtls, false, &holder).unwrap().unwrap();
        assert_eq!(cnf.x5t_s256.as_deref(), Some("t"));
        // A certificate alone binds a token for a resource that requires binding.
        assert!(confirm(&c, true, &holder).unwrap().is_some());
        assert_eq!(confirm(&c, false, &holder).unwrap(), None);
    }

    #[test]
    fn refresh_and_code_bindings() {
        let bound = Confirmation::dpop("k");
        assert!(check_refresh(Some(&bound), &Holder::dpop("k")).is_ok());
        assert!(check_refresh(Some(&bound), &Holder::dpop("other")).is_err());
        assert!(check_refresh(Some(&bound), &NO_HOLDER).is_err());
        assert!(check_refresh(None, &NO_HOLDER).is_ok());
        assert!(check_code(Some("k"), &Holder::dpop("k")).is_ok());
        assert!(check_code(Some("k"), &Holder::dpop("x")).is_err());
        assert!(check_code(Some("k"), &NO_HOLDER).is_err());
        assert!(check_code(None, &Holder::dpop("x")).is_ok());
    }

    #[test]
    fn a_presented_token_needs_its_key() {
        let cert = Holder {
            dpop_jkt: None,
            certificate_thumbprint: Some("t".into()),
        };
        let dpop = Confirmation::dpop("k");
        let x5t = Confirmation {
            jkt: None,
            x5t_s256: Some("t".into()),
        };
        assert!(check_presented("subject_token", None, &NO_HOLDER).is_ok());
        assert!(check_presented("subject_token", Some(&dpop), &Holder::dpop("k")).is_ok());
        assert!(check_presented("subject_token", Some(&dpop), &NO_HOLDER).is_err());
        assert!(check_presented("subject_token", Some(&dpop), &Holder::dpop("x")).is_err());
        assert!(check_presented("subject_token", Some(&dpop), &cert).is_err());
        assert!(check_presented("subject_token", Some(&x5t), &cert).is_ok());
        assert!(check_presented("subject_token", Some(&x5t), &Holder::dpop("t")).is_err());
        let unknown = Confirmation::default();
        assert!(check_presented("actor_token", Some(&unknown), &cert).is_err());
        assert!(check_presented("actor_token", Some(&unknown), &NO_HOLDER).is_err());
    }
}
