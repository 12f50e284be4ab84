//! The configuration's tests: defaults, layering, and every refusal naming its field.

use gatehouse_token::Algorithm;

use super::*;

fn load(toml: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gatehouse.toml");
    std::fs::write(&file, toml).unwrap();
    Config::load_from(
        Some(&file),
        env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
    )
}

#[test]
fn embedded_defaults() {
    let c = Config::load_from(None, Vec::new()).unwrap();
    assert_eq!(c.issuer, "http://127.0.0.1:8080");
    assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.admin.listen.to_string(), "127.0.0.1:8081");
    assert_eq!(c.data_dir, PathBuf::from("./gatehouse-data"));
    assert_eq!(
        (
            c.tokens.access_token_lifetime,
            c.tokens.leeway,
            c.signing.algorithm
        ),
        (3600, 30, Algorithm::ES256)
    );
    assert_eq!(c.issuer_path(), "");
}

#[test]
fn file_then_environment() {
    let c = load(
        "listen = \"127.0.0.1:9000\"\n[tokens]\naccess_token_lifetime = \"5m\"\n",
        &[
            ("GATEHOUSE_TOKENS__ACCESS_TOKEN_LIFETIME", "600"),
            ("GATEHOUSE_ADMIN__LISTEN", "127.0.0.1:9001"),
            ("PATH", "/bin"),
        ],
    )
    .unwrap();
    assert_eq!(c.issuer, "http://127.0.0.1:9000");
    assert_eq!(c.tokens.access_token_lifetime, 600);
    assert_eq!(c.admin.listen.to_string(), "127.0.0.1:9001");
    let c = load(
        "issuer = \"https://auth.example.com/tenant\"\n[tokens]\nleeway = 10",
        &[],
    )
    .unwrap();
    assert_eq!((c.issuer_path().as_str(), c.tokens.leeway), ("/tenant", 10));
}

#[test]
fn pkcs11_backend_and_schedule() {
    let c = load(
        "[signing]\nbackend = \"pkcs11\"\nalgorithm = \"PS256\"\n[signing.pkcs11]\nmodule = \"/usr/lib/softhsm/libsofthsm2.so\"\ntoken_label = \"gatehouse\"\npin_file = \"/run/pin\"\n[keys]\nrotation_period = \"7d\"\nprepublish = \"1h\"",
        &[("GATEHOUSE_PKCS11_PIN", "1234")],
    )
    .unwrap();
    assert_eq!(c.signing.algorithm, Algorithm::PS256);
    let Backend::Pkcs11(p) = c.signing.backend else {
        panic!("{:?}", c.signing.backend)
    };
    assert_eq!(p.pin, PinSource::File("/run/pin".into()));
    assert_eq!((p.rsa_bits, p.provisioned), (2048, None));
    assert_eq!(
        (p.sessions, p.max_waiting, p.key_label_prefix.as_str()),
        (4, 64, "gatehouse-")
    );
    assert_eq!(c.keys.rotation_period, Some(7 * 86_400));
    assert_eq!(c.keys.prepublish, 3600);
    let d = Config::load_from(None, Vec::new()).unwrap();
    assert_eq!(d.signing.backend, Backend::Software);
    assert_eq!(
        (d.keys.rotation_period, d.keys.prepublish),
        (Some(30 * 86_400), 7200)
    );
    let never = load("[keys]\nrotation_period = 0", &[]).unwrap();
    assert_eq!(never.keys.rotation_period, None);
}

#[test]
fn bad_values_name_their_field() {
    let cases = [
        ("issuer = \"https://a.example/\"", "issuer"),
        // One canonical string (mcp-auth.md §1.4, §7.2): lower-case host, no default port.
        ("issuer = \"https://A.example\"", "issuer"),
        ("issuer = \"https://a.example:443\"", "issuer"),
        ("issuer = \"HTTPS://a.example\"", "issuer"),
        ("issuer = \"http://a.example\"", "issuer"),
        ("issuer = \"https://a.example?x=1\"", "issuer"),
        ("listen = \"localhost\"", "listen"),
        ("listen = \"0.0.0.0:8080\"", "issuer"),
        (
            "[tokens]\naccess_token_lifetime = 0",
            "tokens.access_token_lifetime",
        ),
        (
            "[tokens]\naccess_token_lifetime = \"forever\"",
            "tokens.access_token_lifetime",
        ),
        ("[signing]\nalgorithm = \"HS256\"", "signing.algorithm"),
        ("[signing]\nbackend = \"cloudkms\"", "signing.backend"),
        ("[signing]\nbackend = \"pkcs11\"", "signing.pkcs11.module"),
        ("[signing]\nalgorithm = \"RS256\"", "signing.algorithm"),
        (
            "[signing.pkcs11]\nmodule = \"/m.so\"\ntoken_label = \"t\"",
            "signing.pkcs11",
        ),
        (
            "[signing]\nbackend = \"pkcs11\"\n[signing.pkcs11]\nmodule = \"/m.so\"\ntoken_label = \"t\"\npin = \"1234\"",
            "signing.pkcs11.pin",
        ),
        (
            "[signing]\nbackend = \"pkcs11\"\n[signing.pkcs11]\nmodule = \"/m.so\"\ntoken_label = \"t\"\nslot = 0",
            "signing.pkcs11.token_label",
        ),
        (
            "[signing]\nbackend = \"pkcs11\"\n[signing.pkcs11]\nmodule = \"/m.so\"\nslot = 0\nkey_id = \"xyz\"",
            "signing.pkcs11.key_id",
        ),
        (
            "[signing]\nbackend = \"pkcs11\"\n[signing.pkcs11]\nmodule = \"/m.so\"\nslot = 0\nrsa_bits = 1024",
            "signing.pkcs11.rsa_bits",
        ),
        (
            "[keys]\nrotation_period = \"1h\"\nprepublish = \"2h\"",
            "keys.rotation_period",
        ),
        ("[admin]\ntoken = \"short\"", "admin.token"),
        ("[admin]\nlisten = \"0.0.0.0:8081\"", "admin.listen"),
        ("[admin]\nlisten = \"10.0.0.5:8081\"", "admin.listen"),
        ("[http]\nheader_timeout = 0", "http.header_timeout"),
        ("[http]\nidle_timeout = \"2h\"", "http.idle_timeout"),
        ("[http]\nmax_connections = 0", "http.max_connections"),
        (
            "[limits]\nrevocations_per_client = 0",
            "limits.revocations_per_client",
        ),
        (
            "[limits]\nauth_failure_window = 0",
            "limits.auth_failure_window",
        ),
        ("[limits]\nper_client = 1", "limits.per_client"),
        ("[admin]\nlisten = \"127.0.0.1:8080\"", "admin.listen"),
        ("typo = 1", "typo"),
        ("[tokens]\nlifetime = 1", "tokens.lifetime"),
    ];
    for (toml, field) in cases {
        let err = load(toml, &[]).unwrap_err();
        assert_eq!(err.field, field, "{toml}: {err}");
    }
    let err = load("", &[("GATEHOUSE_NOPE", "1")]).unwrap_err();
    assert!(err.message.contains("nope"), "{err}");
    let err = load("[tokens]\naccess_token_lifetime = \"forever\"", &[]).unwrap_err();
    assert!(err.message.contains("5m"), "{err}");
}

#[test]
fn a_remote_admin_api_needs_an_explicit_opt_in() {
    let c = load(
        "[admin]\nlisten = \"0.0.0.0:8081\"\nallow_remote = true",
        &[],
    )
    .unwrap();
    assert!(c.admin.allow_remote);
    assert!(
        !Config::load_from(None, Vec::new())
            .unwrap()
            .admin
            .allow_remote
    );
}

#[test]
fn http_limits_and_quotas() {
    let d = Config::load_from(None, Vec::new()).unwrap();
    assert_eq!(d.http, HttpLimits::default());
    assert_eq!(d.limits, Limits::default());
    let c = load(
        "[http]\nheader_timeout = \"5s\"\nidle_timeout = \"2m\"\nmax_connections = 100\n[limits]\nauth_failures_per_address = 0",
        &[("GATEHOUSE_LIMITS__REVOCATIONS_PER_CLIENT", "50")],
    )
    .unwrap();
    assert_eq!(
        (
            c.http.header_timeout,
            c.http.idle_timeout,
            c.http.max_connections
        ),
        (5, 120, 100)
    );
    assert_eq!(
        (
            c.limits.revocations_per_client,
            c.limits.auth_failures_per_address
        ),
        (50, 0)
    );
}

#[test]
fn trust_section() {
    let c = Config::load_from(None, Vec::new()).unwrap();
    assert_eq!(
        (
            c.trust.max_assertion_lifetime,
            c.trust.id_jag_lifetime,
            c.trust.issuers.len()
        ),
        (600, 300, 0)
    );
    let c = load(
        r#"
[trust]
max_assertion_lifetime = "5m"
[[trust.issuers]]
issuer = "https://idp.example"
jwks_uri = "https://idp.example/jwks"
algorithms = ["RS256", "ES256"]
accept = ["id_jag", "subject_token"]
subject = "as_is"
[[trust.downstream]]
issuer = "https://as.other.example"
resources = ["https://mcp.other.example/"]
clients = { "ours" = "theirs" }
"#,
        &[],
    )
    .unwrap();
    let t = &c.trust;
    assert_eq!(t.max_assertion_lifetime, 300);
    let idp = &t.issuers[0];
    assert_eq!(idp.algorithms, [Algorithm::RS256, Algorithm::ES256]);
    assert!(idp.id_jag && idp.subject_token);
    assert_eq!(
        idp.subjects,
        gatehouse_core::assertion::SubjectMapping::AsIs
    );
    assert_eq!(
        t.downstream[0].resources[0].as_str(),
        "https://mcp.other.example"
    );
    assert_eq!(t.downstream[0].clients, [("ours".into(), "theirs".into())]);
    // Arrays of tables from the environment, as inline TOML.
    let c = load(
        "",
        &[(
            "GATEHOUSE_TRUST__ISSUERS",
            r#"[{issuer = "https://idp.example", jwks_uri = "https://idp.example/k", algorithms = ["EdDSA"], accept = ["id_jag"]}]"#,
        )],
    )
    .unwrap();
    assert_eq!(c.trust.issuers[0].issuer, "https://idp.example");
}

#[test]
fn trust_refusals_name_their_field() {
    let issuer = |fields: &str| format!("[[trust.issuers]]\n{fields}");
    let ok = r#"issuer = "https://idp.example"
jwks_uri = "https://idp.example/jwks"
algorithms = ["RS256"]
accept = ["id_jag"]"#;
    let cases = [
        (ok.replace("RS256", "none"), "trust.issuers[0].algorithms"),
        (ok.replace("RS256", "HS256"), "trust.issuers[0].algorithms"),
        (
            ok.replace("[\"RS256\"]", "[]"),
            "trust.issuers[0].algorithms",
        ),
        (
            ok.replace("id_jag", "everything"),
            "trust.issuers[0].accept",
        ),
        (ok.replace("[\"id_jag\"]", "[]"), "trust.issuers[0].accept"),
        (
            ok.replace("https://idp.example/jwks", "http://idp.example/jwks"),
            "trust.issuers[0].jwks_uri",
        ),
        (
            ok.replace("\"https://idp.example\"", "\"https://idp.example#x\""),
            "trust.issuers[0].issuer",
        ),
        (
            ok.replace("\"https://idp.example\"", "\"http://127.0.0.1:8080\""),
            "trust.issuers[0].issuer",
        ),
        (
            format!("{ok}\nsubject = \"email\""),
            "trust.issuers[0].subject",
        ),
    ];
    for (fields, field) in cases {
        assert_eq!(
            load(&issuer(&fields), &[]).unwrap_err().field,
            field,
            "{fields}"
        );
    }
    let twice = format!("{}\n{}", issuer(ok), issuer(ok));
    assert_eq!(
        load(&twice, &[]).unwrap_err().field,
        "trust.issuers[1].issuer"
    );
    let downstream = "[[trust.downstream]]\nissuer = \"https://as.x\"\nresources = [\"https://rs.x\"]\nclients = {}";
    assert_eq!(
        load(downstream, &[]).unwrap_err().field,
        "trust.downstream[0].clients"
    );
    // Ourselves as a downstream server: a loop, refused.
    let own = "issuer = \"https://as.x\"\n[[trust.downstream]]\nissuer = \"https://as.x\"\nresources = [\"https://rs.x\"]\nclients = { a = \"b\" }";
    assert_eq!(
        load(own, &[]).unwrap_err().field,
        "trust.downstream[0].issuer"
    );
    assert_eq!(
        load("[trust]\nmax_assertion_lifetime = \"2d\"", &[])
            .unwrap_err()
            .field,
        "trust.max_assertion_lifetime"
    );
    // The development exception lets a loopback JWKS over http through.
    let dev = format!(
        "[trust]\nallow_http_loopback = true\n{}",
        issuer(&ok.replace("https://idp.example/jwks", "http://127.0.0.1:9/jwks"))
    );
    assert!(load(&dev, &[]).is_ok());
}

#[test]
fn client_metadata_documents_defaults_and_settings() {
    use metadata_documents::TrustPolicy;
    let d = Config::load_from(None, Vec::new())
        .unwrap()
        .client_metadata_documents;
    assert!(d.enabled);
    assert_eq!(d.policy, TrustPolicy::Open);
    assert_eq!(
        (
            d.min_ttl,
            d.max_ttl,
            d.failure_ttl,
            d.max_bytes,
            d.fetch_timeout
        ),
        (300, 86_400, 30, 5120, 5)
    );
    assert!(d.allowed_prefixes.is_empty() && d.extra_ca_files.is_empty());
    let c = load(
        "[client_metadata_documents]\npolicy = \"allow\"\ndomains = [\"Claude.AI\", \"chatgpt.com.\"]\n\
         min_ttl = \"1m\"\nmax_ttl = \"2h\"\nallowed_prefixes = [\"https://docs.internal/clients/\"]\n",
        &[("GATEHOUSE_CLIENT_METADATA_DOCUMENTS__PER_DOMAIN_PER_MINUTE", "5")],
    )
    .unwrap()
    .client_metadata_documents;
    assert_eq!(c.policy, TrustPolicy::Allow);
    assert_eq!(c.domains, ["claude.ai", "chatgpt.com"]);
    assert_eq!(
        (c.min_ttl, c.max_ttl, c.per_domain_per_minute),
        (60, 7200, 5)
    );
    assert_eq!(
        c.allowed_prefixes[0].as_str(),
        "https://docs.internal/clients/"
    );
    let off = load(
        "",
        &[("GATEHOUSE_CLIENT_METADATA_DOCUMENTS__ENABLED", "false")],
    )
    .unwrap();
    assert!(!off.client_metadata_documents.enabled);
}

#[test]
fn client_metadata_documents_refusals_name_their_field() {
    for (toml, field) in [
        ("policy = \"trusting\"", "policy"),
        ("policy = \"allow\"", "domains"),
        ("domains = [\"https://claude.ai\"]", "domains"),
        ("domains = [\"a..b\"]", "domains"),
        ("min_ttl = \"2h\"\nmax_ttl = \"1h\"", "min_ttl"),
        ("max_ttl = \"30d\"", "max_ttl"),
        ("failure_ttl = 0", "failure_ttl"),
        ("max_entries = 0", "max_entries"),
        ("max_bytes = 100", "max_bytes"),
        ("max_bytes = 1000000", "max_bytes"),
        ("fetch_timeout = 0", "fetch_timeout"),
        ("per_domain_per_minute = 0", "per_domain_per_minute"),
        (
            "allowed_prefixes = [\"http://docs.internal/\"]",
            "allowed_prefixes",
        ),
        (
            "allowed_prefixes = [\"https://docs.internal/?x\"]",
            "allowed_prefixes",
        ),
        ("allowed_prefixes = [\"not a url\"]", "allowed_prefixes"),
        ("extra_ca_files = [\"\"]", "extra_ca_files"),
        ("unknown = 1", "client_metadata_documents.unknown"),
    ] {
        let err = load(&format!("[client_metadata_documents]\n{toml}\n"), &[]).unwrap_err();
        assert!(err.field.contains(field), "{toml}: {err}");
    }
}

#[test]
fn the_security_profile_and_the_algorithms_it_allows() {
    assert_eq!(
        load("", &[]).unwrap().security_profile,
        SecurityProfile::OAuth21
    );
    let fapi = load("security_profile = \"fapi2\"\n", &[]).unwrap();
    assert_eq!(fapi.security_profile, SecurityProfile::Fapi2);
    assert_eq!(fapi.signing.algorithm, Algorithm::ES256);
    let eddsa = load(
        "security_profile = \"fapi2\"\n[signing]\nalgorithm = \"EdDSA\"\n",
        &[],
    )
    .unwrap_err();
    assert_eq!(eddsa.field, "signing.algorithm");
    assert!(eddsa.message.contains("fapi2"), "{eddsa}");
    let unknown = load("security_profile = \"FAPI 2\"\n", &[]).unwrap_err();
    assert_eq!(unknown.field, "security_profile");
}

#[test]
fn client_keys_defaults_and_settings() {
    use gatehouse_token::Algorithm;
    let d = Config::load_from(None, Vec::new()).unwrap().client_keys;
    assert_eq!(d, ClientKeysConfig::default());
    assert_eq!((d.max_assertion_lifetime, d.issuer_only), (300, false));
    assert_eq!(d.algorithms, Algorithm::ALL.to_vec());
    let c = load(
        "[client_keys]\nmax_assertion_lifetime = \"60s\"\naudience = \"issuer_only\"\n\
         algorithms = [\"ES256\", \"PS256\"]\nrefresh_interval = \"1m\"",
        &[],
    )
    .unwrap()
    .client_keys;
    assert_eq!(c.max_assertion_lifetime, 60);
    assert!(c.issuer_only);
    assert_eq!(c.algorithms, [Algorithm::ES256, Algorithm::PS256]);
    assert_eq!(c.refresh_interval, 60);
    for (toml, field) in [
        ("algorithms = [\"HS256\"]", "client_keys.algorithms"),
        ("algorithms = [\"none\"]", "client_keys.algorithms"),
        ("algorithms = []", "client_keys.algorithms"),
        ("audience = \"anyone\"", "client_keys.audience"),
        (
            "max_assertion_lifetime = \"2h\"",
            "client_keys.max_assertion_lifetime",
        ),
        (
            "jwks_min_ttl = \"2h\"\njwks_max_ttl = \"1h\"",
            "client_keys.jwks_min_ttl",
        ),
        (
            "allowed_prefixes = [\"ftp://x\"]",
            "client_keys.allowed_prefixes",
        ),
    ] {
        let err = load(&format!("[client_keys]\n{toml}"), &[]).unwrap_err();
        assert_eq!(err.field, field, "{toml}");
    }
}

#[test]
fn tls_on_listen_makes_the_default_issuer_https() {
    let c = load(
        "[tls]\ncertificate_file = \"c.pem\"\nkey_file = \"k.pem\"\n",
        &[],
    )
    .unwrap();
    assert_eq!(c.issuer, "https://127.0.0.1:8080");
    assert!(c.tls.listen_tls);
    let c = load(
        "[tls]\ncertificate_file = \"c.pem\"\nkey_file = \"k.pem\"\nlisten_tls = false\nmtls_listen = \"127.0.0.1:8443\"\n",
        &[],
    )
    .unwrap();
    assert_eq!(c.issuer, "http://127.0.0.1:8080");
    assert_eq!(c.tls.mtls_base.as_deref(), Some("https://127.0.0.1:8443"));
    assert!(c.tls.client_certificates());
    // Environment variables reach the section like any other.
    let c = load(
        "",
        &[
            (
                "GATEHOUSE_TLS__PROXY_CERTIFICATE_HEADER",
                "X-SSL-Client-Cert",
            ),
            ("GATEHOUSE_TLS__PROXY_CERTIFICATE_FORMAT", "pem"),
            ("GATEHOUSE_TLS__TRUSTED_PROXIES", "[\"10.0.0.0/8\"]"),
        ],
    )
    .unwrap();
    let proxy = c.tls.proxy.unwrap();
    assert_eq!(proxy.header, "x-ssl-client-cert");
    assert_eq!(proxy.format, tls::HeaderFormat::Pem);
}

#[test]
fn dpop_section() {
    let d = Config::load_from(None, Vec::new()).unwrap().dpop;
    assert_eq!(d, DpopConfig::default());
    assert!(!d.require_nonce);
    assert_eq!((d.proofs.max_age, d.proofs.max_future), (60, 15));
    let c = load(
        "[dpop]\nsigning_algorithms = [\"ES256\", \"EdDSA\", \"ES256\"]\nmax_age = \"30s\"\nmax_future = 5\nnonce_lifetime = \"2m\"\n",
        &[("GATEHOUSE_DPOP__REQUIRE_NONCE", "true")],
    )
    .unwrap()
    .dpop;
    assert_eq!(
        c.proofs.algorithms,
        vec![Algorithm::ES256, Algorithm::EdDSA],
        "deduplicated, in order"
    );
    assert_eq!((c.proofs.max_age, c.proofs.max_future), (30, 5));
    assert_eq!((c.require_nonce, c.nonce_lifetime), (true, 120));
    for (toml, field) in [
        ("signing_algorithms = []", "dpop.signing_algorithms"),
        (
            "signing_algorithms = [\"HS256\"]",
            "dpop.signing_algorithms",
        ),
        ("signing_algorithms = [\"none\"]", "dpop.signing_algorithms"),
        ("max_age = \"1h\"", "dpop.max_age"),
        ("max_age = 1", "dpop.max_age"),
        ("max_future = \"1h\"", "dpop.max_future"),
        ("nonce_lifetime = 1", "dpop.nonce_lifetime"),
        ("unknown = 1", "dpop.unknown"),
    ] {
        let err = load(&format!("[dpop]\n{toml}\n"), &[]).unwrap_err();
        assert!(err.field.contains(field), "{toml}: {err}");
    }
}

#[test]
fn fapi2_narrows_assertion_and_proof_algorithms_and_audiences() {
    let c = load("security_profile = \"fapi2\"\n", &[]).unwrap();
    assert_eq!(
        c.client_keys.algorithms,
        [Algorithm::ES256, Algorithm::PS256]
    );
    assert!(c.client_keys.issuer_only);
    assert!(
        c.dpop
            .proofs
            .algorithms
            .iter()
            .all(|a| matches!(a, Algorithm::ES256 | Algorithm::PS256)),
        "{:?}",
        c.dpop.proofs.algorithms
    );
    assert!(!c.dpop.proofs.algorithms.is_empty());
    // A list naming another algorithm is refused, not narrowed behind the operator's back.
    let err = load(
        "security_profile = \"fapi2\"\n[client_keys]\nalgorithms = [\"ES256\", \"RS256\"]\n",
        &[],
    )
    .unwrap_err();
    assert_eq!(err.field, "client_keys.algorithms");
    let err = load(
        "security_profile = \"fapi2\"\n[dpop]\nsigning_algorithms = [\"EdDSA\"]\n",
        &[],
    )
    .unwrap_err();
    assert_eq!(err.field, "dpop.signing_algorithms");
    // Without the profile nothing changes.
    let plain = load("", &[]).unwrap();
    assert!(!plain.client_keys.issuer_only);
    assert_eq!(plain.client_keys, ClientKeysConfig::default());
}
