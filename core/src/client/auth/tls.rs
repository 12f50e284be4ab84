//! Mutual-TLS client authentication (RFC 8705 §2): the client proves itself with the
//! certificate it presented in the TLS handshake (whose private key the handshake proved it
//! holds), matched against its registration.
//!
//! - `tls_client_auth` (§2.1, the PKI method): the certificate chains to a CA the server
//!   trusts (checked at the edge, which has the CA and the clock: [`PresentedCertificate`]
//!   carries its verdict) and carries the one subject the client registered (§2.1.2): its
//!   subject DN, or one SAN of one type.
//! - `self_signed_tls_client_auth` (§2.2): the certificate is one of the `x5c` certificates of
//!   the client's registered JWK set, byte for byte; no chain is involved.
//!
//! Either way the certificate must be within its validity period at `now`. A certificate is not
//! a client authentication method on its own: a client of another method may present one too
//! (to bind its tokens to it, §3), so it is only judged for a client registered for one of the
//! two methods above.
//!
//! # Layout
//! - [`ClientCertificate`], [`PresentedCertificate`]: what the edge hands over;
//!   [`thumbprint_s256`] for certificate-bound tokens (§3.1).
//! - [`TlsSubject`]: the registered subject, with its RFC 7591 member name; matching by
//!   [`TlsSubject::matches`], DNs by [`DistinguishedName`].
//! - [`self_signed_matches`]: the §2.2 comparison.

use std::net::IpAddr;
use std::sync::Arc;

use gatehouse_token::UnixTime;
use serde::{Deserialize, Serialize};
use x509_parser::prelude::{FromDer as _, GeneralName, X509Certificate};

use crate::client::{Client, ClientId, ClientKind};
use crate::error::TokenError;
use crate::store::ClientStore;

/// The most bytes of a client certificate accepted (with its chain, each certificate).
pub const MAX_CERTIFICATE_LEN: usize = 16 * 1024;

/// A client certificate as presented: the DER of the leaf and of the intermediates that came
/// with it. Cheap to clone (shared).
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCertificate(Arc<Chain>);

#[derive(PartialEq, Eq)]
struct Chain {
    leaf: Vec<u8>,
    intermediates: Vec<Vec<u8>>,
}

impl ClientCertificate {
    /// The certificate `leaf` (DER) with `intermediates` (DER, leaf's issuer first).
    pub fn new(leaf: Vec<u8>, intermediates: Vec<Vec<u8>>) -> Self {
        Self(Arc::new(Chain {
            leaf,
            intermediates,
        }))
    }

    /// The leaf certificate's DER.
    pub fn der(&self) -> &[u8] {
        &self.0.leaf
    }

    /// The intermediates presented with it.
    pub fn intermediates(&self) -> &[Vec<u8>] {
        &self.0.intermediates
    }
}

impl std::fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ClientCertificate(x5t#S256={})", thumbprint_s256(self))
    }
}

/// The certificate's SHA-256 thumbprint, base64url without padding: the `x5t#S256` of a
/// certificate-bound token's `cnf` (RFC 8705 §3.1).
pub fn thumbprint_s256(certificate: &ClientCertificate) -> String {
    gatehouse_token::confirmation::certificate_thumbprint(certificate.der())
}

/// A certificate with what the edge found about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentedCertificate {
    /// The certificate.
    pub certificate: ClientCertificate,
    /// Whether it chains to a CA configured for `tls_client_auth` (RFC 8705 §2.1), checked by
    /// the edge at the time of the request.
    pub chain_trusted: bool,
}

/// The one subject a `tls_client_auth` client registered (RFC 8705 §2.1.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsSubject {
    /// `tls_client_auth_subject_dn`: the subject DN, as an RFC 4514 string.
    SubjectDn(String),
    /// `tls_client_auth_san_dns`: a dNSName SAN.
    SanDns(String),
    /// `tls_client_auth_san_uri`: a uniformResourceIdentifier SAN.
    SanUri(String),
    /// `tls_client_auth_san_ip`: an iPAddress SAN (IPv4 or IPv6).
    SanIp(IpAddr),
    /// `tls_client_auth_san_email`: an rfc822Name SAN.
    SanEmail(String),
}

/// The longest registered subject, bytes.
pub const MAX_SUBJECT_LEN: usize = 1024;

impl TlsSubject {
    /// The RFC 7591 client metadata members, in the order of RFC 8705 §2.1.2.
    pub const MEMBERS: [&'static str; 5] = [
        "tls_client_auth_subject_dn",
        "tls_client_auth_san_dns",
        "tls_client_auth_san_uri",
        "tls_client_auth_san_ip",
        "tls_client_auth_san_email",
    ];

    /// The subject registered under `member` (one of [`Self::MEMBERS`]) as `value`, checked:
    /// a DN must parse (RFC 4514), an IP address must be one; none may be empty, longer than
    /// [`MAX_SUBJECT_LEN`] or hold control characters.
    pub fn parse(member: &str, value: &str) -> Result<Self, String> {
        if value.is_empty() || value.len() > MAX_SUBJECT_LEN || value.chars().any(char::is_control)
        {
            return Err(format!(
                "{member}: give 1 to {MAX_SUBJECT_LEN} bytes without control characters"
            ));
        }
        match member {
            "tls_client_auth_subject_dn" => {
                DistinguishedName::parse(value).map_err(|e| format!("{member}: {e}"))?;
                Ok(Self::SubjectDn(value.to_owned()))
            }
            "tls_client_auth_san_dns" => Ok(Self::SanDns(value.to_owned())),
            "tls_client_auth_san_uri" => Ok(Self::SanUri(value.to_owned())),
            "tls_client_auth_san_ip" => value
                .parse()
                .map(Self::SanIp)
                .map_err(|_| format!("{member}: {value:?} is not an IPv4 or IPv6 address")),
            "tls_client_auth_san_email" => Ok(Self::SanEmail(value.to_owned())),
            _ => Err(format!("{member} is not a tls_client_auth subject member")),
        }
    }

    /// The one subject among the members given (`(member, value)` pairs in any order):
    /// `None` when none is given; two or more, or a malformed one, are an error naming the
    /// member (RFC 8705 §2.1.2: a client registers exactly one).
    pub fn from_members<'a>(
        given: impl IntoIterator<Item = (&'static str, Option<&'a str>)>,
    ) -> Result<Option<Self>, (&'static str, String)> {
        let mut found: Option<Self> = None;
        for (member, value) in given {
            let Some(value) = value else { continue };
            if let Some(first) = &found {
                return Err((
                    member,
                    format!(
                        "register one subject only: {} is given already (RFC 8705 §2.1.2)",
                        first.member()
                    ),
                ));
            }
            found = Some(Self::parse(member, value).map_err(|e| (member, e))?);
        }
        Ok(found)
    }

    /// The RFC 7591 member this subject is registered under.
    pub const fn member(&self) -> &'static str {
        match self {
            Self::SubjectDn(_) => Self::MEMBERS[0],
            Self::SanDns(_) => Self::MEMBERS[1],
            Self::SanUri(_) => Self::MEMBERS[2],
            Self::SanIp(_) => Self::MEMBERS[3],
            Self::SanEmail(_) => Self::MEMBERS[4],
        }
    }

    /// The registered value as text.
    pub fn value(&self) -> String {
        match self {
            Self::SubjectDn(v) | Self::SanDns(v) | Self::SanUri(v) | Self::SanEmail(v) => v.clone(),
            Self::SanIp(ip) => ip.to_string(),
        }
    }

    /// Whether the certificate `der` carries this subject: the DN by `distinguishedNameMatch`
    /// ([`DistinguishedName`]), a SAN of the registered type byte for byte (an IP address as
    /// an address, so `::1` and `0::1` are one). A certificate that does not parse matches
    /// nothing.
    pub fn matches(&self, der: &[u8]) -> bool {
        let Some(cert) = parse(der) else {
            return false;
        };
        if let Self::SubjectDn(registered) = self {
            let Ok(registered) = DistinguishedName::parse(registered) else {
                return false;
            };
            return DistinguishedName::of_certificate(&cert).is_some_and(|dn| dn == registered);
        }
        let Ok(Some(san)) = cert.subject_alternative_name() else {
            return false;
        };
        san.value
            .general_names
            .iter()
            .any(|name| match (self, name) {
                (Self::SanDns(v), GeneralName::DNSName(n)) => v == n,
                (Self::SanUri(v), GeneralName::URI(n)) => v == n,
                (Self::SanEmail(v), GeneralName::RFC822Name(n)) => v == n,
                (Self::SanIp(v), GeneralName::IPAddress(bytes)) => ip_from(bytes) == Some(*v),
                _ => false,
            })
    }
}

fn ip_from(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}

/// The certificate in `der`, if it is one DER certificate and nothing else.
fn parse(der: &[u8]) -> Option<X509Certificate<'_>> {
    if der.len() > MAX_CERTIFICATE_LEN {
        return None;
    }
    match X509Certificate::from_der(der) {
        Ok(([], cert)) => Some(cert),
        _ => None,
    }
}

/// Whether the certificate `der` is within its validity period (RFC 5280 §4.1.2.5) at `now`;
/// one that does not parse never is.
pub fn valid_at(der: &[u8], now: UnixTime) -> bool {
    let Some(cert) = parse(der) else {
        return false;
    };
    let now = i64::try_from(now.0).unwrap_or(i64::MAX);
    let validity = cert.validity();
    validity.not_before.timestamp() <= now && now <= validity.not_after.timestamp()
}

/// `self_signed_tls_client_auth` (RFC 8705 §2.2): whether the presented certificate is one of
/// the `x5c` certificates of the client's registered JWK set (`registered`, each a DER
/// certificate: the first of each key's `x5c`, RFC 7517 §4.7), compared byte for byte.
pub fn self_signed_matches(presented: &ClientCertificate, registered: &[Vec<u8>]) -> bool {
    registered
        .iter()
        .any(|der| der.as_slice() == presented.der())
}

/// A distinguished name in a normalised form, for `distinguishedNameMatch` (RFC 4517 §4.2.15):
/// the same RDNs in the same order, each the same set of attributes, attribute types compared
/// by OID and values by the normalised string form of `caseIgnoreMatch` (RFC 4518: leading,
/// trailing and repeated inner spaces are insignificant; case is folded). Unicode
/// normalisation (NFKC) is not applied: a value that differs only by it does not match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistinguishedName(Vec<Vec<(String, String)>>);

/// Short attribute names of RFC 4514 §3 and those common in certificates, with their OIDs.
const ATTRIBUTE_NAMES: [(&str, &str); 15] = [
    ("cn", "2.5.4.3"),
    ("l", "2.5.4.7"),
    ("st", "2.5.4.8"),
    ("o", "2.5.4.10"),
    ("ou", "2.5.4.11"),
    ("c", "2.5.4.6"),
    ("street", "2.5.4.9"),
    ("dc", "0.9.2342.19200300.100.1.25"),
    ("uid", "0.9.2342.19200300.100.1.1"),
    ("serialnumber", "2.5.4.5"),
    ("title", "2.5.4.12"),
    ("sn", "2.5.4.4"),
    ("gn", "2.5.4.42"),
    ("emailaddress", "1.2.840.113549.1.9.1"),
    ("e", "1.2.840.113549.1.9.1"),
];

/// RFC 4518 §2.6.1 insignificant space handling and a case fold.
fn normalise_value(value: &str) -> String {
    value
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

impl DistinguishedName {
    /// Parses an RFC 4514 string (`CN=client,O=Example,C=SE`: the most specific RDN first,
    /// attributes of one RDN joined by `+`, `\` escapes of special characters or of a hex
    /// pair). The `#` hex-encoded BER form is refused (write the value as a string).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut rdns = Vec::new();
        let mut rdn = Vec::new();
        let mut chars = text.chars().peekable();
        loop {
            // attributeType
            let mut name = String::new();
            while let Some(&c) = chars.peek() {
                if c == '=' {
                    break;
                }
                name.push(c);
                chars.next();
            }
            if chars.next() != Some('=') {
                return Err(format!(
                    "{text:?} is not an RFC 4514 DN: an attribute has no `=`"
                ));
            }
            let name = name.trim().to_ascii_lowercase();
            let oid = if !name.is_empty() && name.chars().all(|c| c.is_ascii_digit() || c == '.') {
                name.clone()
            } else if let Some(oid) = name.strip_prefix("oid.") {
                oid.to_owned()
            } else {
                ATTRIBUTE_NAMES
                    .iter()
                    .find(|(short, _)| *short == name)
                    .map(|(_, oid)| (*oid).to_owned())
                    .ok_or_else(|| format!("unknown attribute type {name:?}; use its OID"))?
            };
            // attributeValue
            if chars.peek() == Some(&'#') {
                return Err(
                    "hex-encoded (#) values are not supported: write the value as a string".into(),
                );
            }
            let mut value = Vec::<u8>::new();
            let mut end = None;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        match chars.next() {
                            Some(h) if h.is_ascii_hexdigit() => {
                                let l = chars
                                    .next()
                                    .filter(char::is_ascii_hexdigit)
                                    .ok_or("a `\\` escape must be followed by two hex digits")?;
                                let byte = u8::from_str_radix(&format!("{h}{l}"), 16)
                                    .map_err(|_| "a bad hex escape")?;
                                value.push(byte);
                            }
                            // RFC 4514 §3: `escaped = DQUOTE / PLUS / COMMA / SEMI / LANGLE /
                            // RANGLE`, and `\`, space, `#`, `=`.
                            Some(special) if "\"+,;<>\\ #=".contains(special) => {
                                value.push(special as u8);
                            }
                            _ => return Err(
                                "`\\` must be followed by a special character or two hex digits"
                                    .into(),
                            ),
                        }
                    }
                    ',' | '+' => {
                        end = Some(c);
                        break;
                    }
                    c => {
                        let mut buf = [0; 4];
                        value.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    }
                }
            }
            let value = String::from_utf8(value).map_err(|_| "a value is not UTF-8")?;
            let value = normalise_value(&value);
            rdn.push((oid, value));
            match end {
                Some('+') => {}
                Some(_) => {
                    rdns.push(std::mem::take(&mut rdn));
                }
                None => {
                    rdns.push(std::mem::take(&mut rdn));
                    break;
                }
            }
        }
        for rdn in &mut rdns {
            rdn.sort();
        }
        // RFC 4514 §2.1: the string lists the RDNs from the last of the sequence to the first.
        rdns.reverse();
        Ok(Self(rdns))
    }

    /// The subject DN of `cert`, if each of its values is a string.
    fn of_certificate(cert: &X509Certificate<'_>) -> Option<Self> {
        let mut rdns = Vec::new();
        for rdn in cert.subject().iter() {
            let mut attributes = Vec::new();
            for attribute in rdn.iter() {
                let value = attribute.as_str().ok()?;
                attributes.push((attribute.attr_type().to_id_string(), normalise_value(value)));
            }
            attributes.sort();
            rdns.push(attributes);
        }
        Some(Self(rdns))
    }
}

/// How a mutual-TLS client authenticates, as registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsClientAuth {
    /// `tls_client_auth` with its registered subject.
    Pki(TlsSubject),
    /// `self_signed_tls_client_auth`: its certificates are the `x5c` of its JWK set.
    SelfSigned,
}

/// Whether `certificate` authenticates `client`: a client registered for `tls_client_auth`
/// whose certificate chains to a trusted CA (the edge's verdict) and carries its subject
/// (RFC 8705 §2.1), or for `self_signed_tls_client_auth` whose certificate is among
/// `self_signed` (the `x5c` certificates of its JWK set, §2.2); in both cases within the
/// certificate's validity period at `now`. A client of any other kind, never.
pub fn certificate_matches(
    client: &Client,
    certificate: &PresentedCertificate,
    self_signed: &[Vec<u8>],
    now: UnixTime,
) -> bool {
    let ClientKind::Tls(method) = &client.kind else {
        return false;
    };
    if !valid_at(certificate.certificate.der(), now) {
        return false;
    }
    match method {
        TlsClientAuth::Pki(subject) => {
            certificate.chain_trusted && subject.matches(certificate.certificate.der())
        }
        TlsClientAuth::SelfSigned => self_signed_matches(&certificate.certificate, self_signed),
    }
}

/// The client `id` that sent a certificate and no secret: a client registered for a
/// mutual-TLS method that `certificate` authenticates ([`certificate_matches`]), or a public
/// client (which may present a certificate to bind its tokens, RFC 8705 §4: it authenticates
/// by nothing, as with `none`).
pub(super) async fn mutual_tls_or_public(
    id: &str,
    certificate: &PresentedCertificate,
    clients: &dyn ClientStore,
    now: UnixTime,
) -> Result<Arc<Client>, TokenError> {
    let Some(id) = ClientId::new(id) else {
        return Err(TokenError::InvalidClient);
    };
    let Some(client) = clients.get(&id).await? else {
        return Err(TokenError::InvalidClient);
    };
    if client.kind == ClientKind::Public {
        return Ok(client);
    }
    // RFC 8705 §2.2: a self-signed client's certificates are those of its registered JWK set.
    let self_signed = client
        .keys
        .as_ref()
        .map(super::super::keys::ClientKeys::certificates)
        .unwrap_or_default();
    if certificate_matches(&client, certificate, &self_signed, now) {
        Ok(client)
    } else {
        Err(TokenError::InvalidClient)
    }
}

#[cfg(test)]
mod tests;
