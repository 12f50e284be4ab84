//! Matching certificates against registered subjects, with certificates made by rcgen.

use rcgen::{CertificateParams, DistinguishedName as Dn, DnType, KeyPair, SanType, date_time_ymd};

use super::*;

/// A self-signed certificate with `cn`, `o` and `sans`, valid in 2020–2030.
fn cert(cn: &str, o: &str, sans: Vec<SanType>) -> Vec<u8> {
    let mut params = CertificateParams::default();
    params.distinguished_name = Dn::new();
    params.distinguished_name.push(DnType::CountryName, "SE");
    params.distinguished_name.push(DnType::OrganizationName, o);
    params.distinguished_name.push(DnType::CommonName, cn);
    params.subject_alt_names = sans;
    params.not_before = date_time_ymd(2020, 1, 1);
    params.not_after = date_time_ymd(2030, 1, 1);
    let key = KeyPair::generate().unwrap();
    params.self_signed(&key).unwrap().der().to_vec()
}

fn presented(der: Vec<u8>, chain_trusted: bool) -> PresentedCertificate {
    PresentedCertificate {
        certificate: ClientCertificate::new(der, vec![]),
        chain_trusted,
    }
}

const NOW: UnixTime = UnixTime(1_700_000_000);

#[test]
fn subject_dn_matches_by_distinguished_name_match() {
    let der = cert("payments", "Example AB", vec![]);
    for dn in [
        "CN=payments,O=Example AB,C=SE",
        "cn=PAYMENTS, o=example ab, c=se",
        "CN=payments,O=Example  AB ,C=SE",
        "2.5.4.3=payments,O=Example AB,C=SE",
        "CN=pay\\6dents,O=Example AB,C=SE",
    ] {
        let subject = TlsSubject::parse("tls_client_auth_subject_dn", dn).unwrap();
        assert!(subject.matches(&der), "{dn}");
    }
    for dn in [
        "CN=payment,O=Example AB,C=SE",
        "C=SE,O=Example AB,CN=payments",
        "CN=payments,O=Example AB",
        "CN=payments,O=Example AB,C=SE,DC=x",
        "CN=payments+UID=1,O=Example AB,C=SE",
        "CN=payments,O=Example,C=SE",
    ] {
        let subject = TlsSubject::parse("tls_client_auth_subject_dn", dn).unwrap();
        assert!(!subject.matches(&der), "{dn}");
    }
}

#[test]
fn escaped_separators_are_values() {
    let der = cert("a,b", "x+y", vec![]);
    let subject = TlsSubject::parse("tls_client_auth_subject_dn", "CN=a\\,b,O=x\\+y,C=SE").unwrap();
    assert!(subject.matches(&der));
    let subject =
        TlsSubject::parse("tls_client_auth_subject_dn", "CN=a\\2cb,O=x\\2By,C=SE").unwrap();
    assert!(subject.matches(&der));
}

#[test]
fn malformed_subjects_are_refused() {
    for (member, value) in [
        ("tls_client_auth_subject_dn", "CN"),
        ("tls_client_auth_subject_dn", "XX=1"),
        ("tls_client_auth_subject_dn", "CN=#0403616263"),
        ("tls_client_auth_subject_dn", "CN=a\\"),
        ("tls_client_auth_subject_dn", "CN=a\\zz"),
        ("tls_client_auth_subject_dn", "CN=a\\ff"),
        ("tls_client_auth_san_ip", "300.1.1.1"),
        ("tls_client_auth_san_dns", ""),
        ("tls_client_auth_san_dns", "a\u{0}b"),
        ("tls_client_auth_san_uri", &"u".repeat(MAX_SUBJECT_LEN + 1)),
        ("tls_client_auth_san_other", "x"),
    ] {
        assert!(
            TlsSubject::parse(member, value).is_err(),
            "{member} {value:?}"
        );
    }
}

#[test]
fn sans_match_exactly_and_by_type() {
    let der = cert(
        "c",
        "o",
        vec![
            SanType::DnsName("svc.example.com".try_into().unwrap()),
            SanType::URI("spiffe://example.com/payments".try_into().unwrap()),
            SanType::IpAddress("2001:db8::1".parse().unwrap()),
            SanType::Rfc822Name("ops@example.com".try_into().unwrap()),
        ],
    );
    let yes = [
        ("tls_client_auth_san_dns", "svc.example.com"),
        ("tls_client_auth_san_uri", "spiffe://example.com/payments"),
        ("tls_client_auth_san_ip", "2001:db8::1"),
        ("tls_client_auth_san_ip", "2001:db8:0::1"),
        ("tls_client_auth_san_email", "ops@example.com"),
    ];
    for (member, value) in yes {
        assert!(
            TlsSubject::parse(member, value).unwrap().matches(&der),
            "{member} {value}"
        );
    }
    let no = [
        ("tls_client_auth_san_dns", "svc.example.co"),
        ("tls_client_auth_san_dns", "other.example.com"),
        // Another SAN type with the same text.
        ("tls_client_auth_san_dns", "ops@example.com"),
        ("tls_client_auth_san_email", "svc.example.com"),
        ("tls_client_auth_san_uri", "spiffe://example.com/payments/"),
        ("tls_client_auth_san_ip", "2001:db8::2"),
        ("tls_client_auth_subject_dn", "CN=svc.example.com"),
    ];
    for (member, value) in no {
        assert!(
            !TlsSubject::parse(member, value).unwrap().matches(&der),
            "{member} {value}"
        );
    }
}

#[test]
fn garbage_never_matches() {
    let subject = TlsSubject::parse("tls_client_auth_san_dns", "a").unwrap();
    assert!(!subject.matches(b""));
    assert!(!subject.matches(b"\x30\x03\x02\x01\x00"));
    let mut der = cert("c", "o", vec![SanType::DnsName("a".try_into().unwrap())]);
    assert!(subject.matches(&der));
    der.push(0);
    assert!(!subject.matches(&der), "trailing bytes");
    assert!(!valid_at(&der, NOW));
}

#[test]
fn validity_period() {
    let der = cert("c", "o", vec![]);
    assert!(valid_at(&der, NOW));
    assert!(!valid_at(&der, UnixTime(1_500_000_000)), "not yet valid");
    assert!(!valid_at(&der, UnixTime(1_900_000_000)), "expired");
}

fn tls_client(method: TlsClientAuth) -> Client {
    let (mut client, _) = crate::testing::ClientBuilder::new().build();
    client.kind = ClientKind::Tls(method);
    client
}

#[test]
fn pki_needs_a_trusted_chain_the_subject_and_validity() {
    let der = cert("payments", "Example AB", vec![]);
    let subject = TlsSubject::parse(
        "tls_client_auth_subject_dn",
        "CN=payments,O=Example AB,C=SE",
    )
    .unwrap();
    let client = tls_client(TlsClientAuth::Pki(subject));
    assert!(certificate_matches(
        &client,
        &presented(der.clone(), true),
        &[],
        NOW
    ));
    assert!(!certificate_matches(
        &client,
        &presented(der.clone(), false),
        &[],
        NOW
    ));
    assert!(!certificate_matches(
        &client,
        &presented(der, true),
        &[],
        UnixTime(1_900_000_000)
    ));
    let other = cert("payment", "Example AB", vec![]);
    assert!(!certificate_matches(
        &client,
        &presented(other, true),
        &[],
        NOW
    ));
}

#[test]
fn self_signed_is_the_registered_certificate_byte_for_byte() {
    let der = cert("device", "o", vec![]);
    let other = cert("device", "o", vec![]);
    let client = tls_client(TlsClientAuth::SelfSigned);
    let registered = vec![other.clone(), der.clone()];
    assert!(self_signed_matches(
        &ClientCertificate::new(der.clone(), vec![]),
        &registered
    ));
    assert!(certificate_matches(
        &client,
        &presented(der.clone(), false),
        &registered,
        NOW
    ));
    assert!(!certificate_matches(
        &client,
        &presented(der.clone(), false),
        &[other],
        NOW
    ));
    assert!(!certificate_matches(
        &client,
        &presented(der.clone(), false),
        &[],
        NOW
    ));
    assert!(!certificate_matches(
        &client,
        &presented(der, false),
        &registered,
        UnixTime(1_900_000_000)
    ));
}

#[test]
fn other_kinds_never_authenticate_by_certificate() {
    let der = cert("c", "o", vec![]);
    let (secret_client, _) = crate::testing::ClientBuilder::new().build();
    assert!(!certificate_matches(
        &secret_client,
        &presented(der, true),
        &[],
        NOW
    ));
}

#[test]
fn thumbprint_is_base64url_sha256_of_the_der() {
    // RFC 8705 §3.1: base64url(SHA-256(DER)), no padding.
    let certificate = ClientCertificate::new(b"abc".to_vec(), vec![]);
    assert_eq!(
        thumbprint_s256(&certificate),
        "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
    );
}

#[test]
fn records_keep_the_method_and_subject() {
    for method in [
        TlsClientAuth::Pki(TlsSubject::SanIp("10.0.0.1".parse().unwrap())),
        TlsClientAuth::Pki(TlsSubject::SubjectDn("CN=x".into())),
        TlsClientAuth::SelfSigned,
    ] {
        let client = tls_client(method);
        let json = serde_json::to_string(&client).unwrap();
        let back: Client = serde_json::from_str(&json).unwrap();
        assert_eq!(back, client, "{json}");
        assert!(!json.contains("secret_digest"), "{json}");
    }
}

#[test]
fn non_ascii_values_fold_case() {
    let der = cert("Åsa Öberg", "Exempel AB", vec![]);
    let subject = TlsSubject::parse(
        "tls_client_auth_subject_dn",
        "CN=åsa öberg,O=EXEMPEL AB,C=se",
    )
    .unwrap();
    assert!(subject.matches(&der));
    let subject = TlsSubject::parse(
        "tls_client_auth_subject_dn",
        "CN=asa oberg,O=Exempel AB,C=SE",
    )
    .unwrap();
    assert!(!subject.matches(&der));
}

#[tokio::test]
async fn a_secret_with_a_tls_clients_certificate_is_two_methods() {
    use crate::memory::MemoryStore;
    use crate::store::ClientStore as _;
    let store = MemoryStore::default();
    let der = cert("payments", "Example AB", vec![]);
    let subject = TlsSubject::parse(
        "tls_client_auth_subject_dn",
        "CN=payments,O=Example AB,C=SE",
    )
    .unwrap();
    let client = tls_client(TlsClientAuth::Pki(subject));
    store.insert(client.clone()).await.unwrap();
    let form =
        crate::form::Form::parse(format!("client_id={}&client_secret=x", client.id).as_bytes())
            .unwrap();
    let mut credentials = crate::client::auth::Credentials::from_request(None, &form).unwrap();
    credentials.certificate = Some(presented(der.clone(), true));
    let err = authenticate_at(&credentials, &store, NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, TokenError::InvalidRequest(_)), "{err:?}");
    // The certificate alone authenticates it.
    credentials.client_secret = None;
    let ok = authenticate_at(&credentials, &store, NOW).await.unwrap();
    assert_eq!(ok.id, client.id);
    // Not trusted by the edge: invalid_client.
    credentials.certificate = Some(presented(der, false));
    let err = authenticate_at(&credentials, &store, NOW)
        .await
        .unwrap_err();
    assert_eq!(err, TokenError::InvalidClient);
}

#[tokio::test]
async fn a_public_client_may_present_a_certificate() {
    use crate::memory::MemoryStore;
    use crate::store::ClientStore as _;
    let store = MemoryStore::default();
    let (mut client, _) = crate::testing::ClientBuilder::new().build();
    client.kind = ClientKind::Public;
    store.insert(client.clone()).await.unwrap();
    let form = crate::form::Form::parse(format!("client_id={}", client.id).as_bytes()).unwrap();
    let mut credentials = crate::client::auth::Credentials::from_request(None, &form).unwrap();
    credentials.certificate = Some(presented(cert("x", "y", vec![]), false));
    let ok = authenticate_at(&credentials, &store, NOW).await.unwrap();
    assert_eq!(ok.id, client.id);
}

/// Authenticates as the endpoints do, at `now`.
async fn authenticate_at(
    credentials: &crate::client::auth::Credentials,
    store: &crate::memory::MemoryStore,
    now: UnixTime,
) -> Result<std::sync::Arc<crate::client::Client>, TokenError> {
    use crate::client::auth::private_key_jwt::tests as pkj;
    let rules = pkj::rules(false);
    let ctx = crate::client::auth::AuthContext {
        clients: store,
        assertions: crate::client::auth::AssertionContext {
            verifier: &pkj::Unsigned,
            replay: store,
            rules: &rules,
            endpoint: "https://as.example/token",
            now,
        },
    };
    Ok(crate::client::auth::authenticate(credentials, &ctx).await?)
}
