//! The server identity's reload and the chain check, with certificates made by rcgen.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    date_time_ymd,
};

use super::*;

fn self_signed() -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    (cert.pem(), key.serialize_pem())
}

#[test]
fn identity_files_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed();
    let (_, other_key) = self_signed();
    let (c, k) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    fs::write(&c, &cert).unwrap();
    fs::write(&k, &key).unwrap();
    assert!(ServerIdentity::load(&c, &k).is_ok());
    fs::write(&k, &other_key).unwrap();
    let err = ServerIdentity::load(&c, &k).unwrap_err();
    assert_eq!(err.field, "tls.key_file", "{err}");
    fs::write(&c, "garbage").unwrap();
    assert_eq!(
        ServerIdentity::load(&c, &k).unwrap_err().field,
        "tls.certificate_file"
    );
    assert!(ServerIdentity::load(&dir.path().join("missing"), &k).is_err());
}

#[test]
fn chains_to_the_configured_ca_within_validity() {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ca.pem");
    fs::write(&path, ca.pem()).unwrap();
    let check = ChainCheck::load(&path).unwrap();
    let leaf = |client_auth: bool| {
        let mut params = CertificateParams::new(vec!["client".into()]).unwrap();
        params.extended_key_usages = vec![if client_auth {
            ExtendedKeyUsagePurpose::ClientAuth
        } else {
            ExtendedKeyUsagePurpose::ServerAuth
        }];
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(2030, 1, 1);
        let der = params
            .signed_by(&KeyPair::generate().unwrap(), &ca)
            .unwrap()
            .der()
            .to_vec();
        ClientCertificate::new(der, vec![])
    };
    let now = 1_700_000_000;
    assert!(check.trusted(&leaf(true), now));
    assert!(!check.trusted(&leaf(true), 1_900_000_000), "expired");
    assert!(!check.trusted(&leaf(true), 1_500_000_000), "not yet valid");
    assert!(
        !check.trusted(&leaf(false), now),
        "a server certificate (RFC 5280 §4.2.1.12)"
    );
    let key = KeyPair::generate().unwrap();
    let alone = CertificateParams::new(vec!["client".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    assert!(!check.trusted(&ClientCertificate::new(alone.der().to_vec(), vec![]), now));
    assert!(!check.trusted(&ClientCertificate::new(b"garbage".to_vec(), vec![]), now));
    fs::write(&path, "").unwrap();
    assert!(ChainCheck::load(&path).is_err());
}
