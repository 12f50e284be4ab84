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
