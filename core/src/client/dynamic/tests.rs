use serde_json::json;

use super::*;
use crate::testing::CountingRandom;

fn policy() -> DynamicPolicy {
    DynamicPolicy {
        auth_methods: vec![
            AuthMethod::None,
            AuthMethod::ClientSecretBasic,
            AuthMethod::ClientSecretPost,
        ],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        max_redirect_uris: 8,
    }
}

fn register(body: serde_json::Value) -> Result<Registered, RegistrationRefused> {
    let meta: ClientMetadata = serde_json::from_value(body).unwrap();
    meta.register(&policy(), &CountingRandom::default(), UnixTime(100))
}

#[test]
fn what_real_mcp_clients_send_registers() {
    // VS Code: https and loopback redirect URIs as a native app, a client_uri, no secret.
    let vscode = register(json!({
        "client_name": "Visual Studio Code",
        "client_uri": "https://code.visualstudio.com",
        "grant_types": ["authorization_code", "refresh_token"],
        "redirect_uris": ["https://vscode.dev/redirect", "http://127.0.0.1/", "http://127.0.0.1:33418/"],
        "scope": "tools",
        "token_endpoint_auth_method": "none",
        "application_type": "native"
    }))
    .unwrap();
    assert_eq!(vscode.client.kind, ClientKind::Public);
    assert!(vscode.secret.is_none());
    assert!(
        vscode.client.scope.is_empty(),
        "the registered scope pins nothing"
    );
    assert!(vscode.client.origin.is_self_registered());
    // mcp-remote: unknown members (software_*, resource) ignored; no application_type:
    // native inferred from the loopback redirect URI.
    let remote = register(json!({
        "client_name": "MCP CLI Proxy",
        "redirect_uris": ["http://localhost:3334/oauth/callback"],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "software_id": "2e6dc280-f3c3-4e01-99a7-8181dbd1d23d",
        "software_version": "0.1.29",
        "resource": "https://mcp.example",
        "x-unknown": {"nested": [1, 2]}
    }))
    .unwrap();
    let ClientOrigin::Dynamic { profile, .. } = &remote.client.origin else {
        panic!("dynamic")
    };
    assert_eq!(profile.application_type, "native");
    // Cursor's private-use scheme; Claude Code sends no scope.
    register(json!({
        "redirect_uris": ["cursor://anysphere.cursor-mcp/oauth/callback"],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"]
    }))
    .unwrap();
    // A secret-based method gets a secret.
    let web = register(json!({
        "client_name": "ChatGPT",
        "redirect_uris": ["https://chatgpt.com/connector_platform_oauth_redirect"],
        "token_endpoint_auth_method": "client_secret_post"
    }))
    .unwrap();
    assert!(web.secret.is_some());
    assert!(
        web.client
            .secret_matches(web.secret.as_ref().unwrap().expose())
    );
}

#[test]
fn the_answer_echoes_and_never_says_null() {
    let r = register(json!({
        "client_name": "A",
        "redirect_uris": ["http://127.0.0.1/cb"],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"]
    }))
    .unwrap();
    let doc = describe(
        &r.client,
        r.secret.as_ref(),
        Some(&r.token),
        "https://as/register/x",
    );
    assert_eq!(doc["redirect_uris"], json!(["http://127.0.0.1/cb"]));
    assert_eq!(doc["token_endpoint_auth_method"], "none");
    assert_eq!(doc["client_id_issued_at"], 100);
    assert_eq!(doc["response_types"], json!(["code"]));
    assert!(
        doc["registration_access_token"]
            .as_str()
            .unwrap()
            .starts_with("gmt_")
    );
    assert!(doc.get("client_secret").is_none());
    for (k, v) in doc.as_object().unwrap() {
        assert!(!v.is_null(), "{k} is null");
    }
}

#[test]
fn bad_registrations_are_refused_with_the_right_code() {
    let cases = [
        (
            json!({"redirect_uris": ["https://a.example/cb#frag"], "token_endpoint_auth_method": "none"}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["javascript:alert(1)"], "token_endpoint_auth_method": "none"}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["http://evil.example/cb"], "token_endpoint_auth_method": "none"}),
            "invalid_redirect_uri",
        ),
        (
            json!({"token_endpoint_auth_method": "none"}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["http://127.0.0.1/cb"], "application_type": "web", "token_endpoint_auth_method": "none"}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "private_key_jwt"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "jwks_uri": "https://a.example/jwks"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "grant_types": ["client_credentials"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "grant_types": ["password"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "response_types": ["token"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "client_id": "mine"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "client_uri": "javascript:x"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "client_name": "x".repeat(201)}),
            "invalid_client_metadata",
        ),
    ];
    for (body, code) in cases {
        let e = register(body.clone()).unwrap_err();
        assert_eq!(e.code(), code, "{body}: {e}");
    }
    let too_many: Vec<String> = (0..9).map(|i| format!("https://a.example/{i}")).collect();
    assert_eq!(
        register(json!({"redirect_uris": too_many}))
            .unwrap_err()
            .code(),
        "invalid_redirect_uri"
    );
    // A known member of the wrong JSON type is an error, not an absent member.
    assert!(
        serde_json::from_value::<ClientMetadata>(json!({"redirect_uris": "https://a/cb"})).is_err()
    );
}

#[test]
fn an_update_replaces_the_metadata_and_keeps_the_credentials() {
    let r = register(json!({
        "client_name": "A",
        "redirect_uris": ["https://a.example/cb"],
        "token_endpoint_auth_method": "client_secret_basic"
    }))
    .unwrap();
    let secret = r.secret.as_ref().unwrap().expose().to_owned();
    let update: ClientMetadata = serde_json::from_value(json!({
        "client_id": r.client.id.as_str(),
        "client_secret": secret,
        "client_name": "B",
        "redirect_uris": ["https://b.example/cb"],
        "token_endpoint_auth_method": "client_secret_post"
    }))
    .unwrap();
    let updated = update.update(&r.client, &policy()).unwrap();
    assert_eq!(updated.name, "B");
    assert_eq!(updated.redirect_uris[0].as_str(), "https://b.example/cb");
    assert!(updated.secret_matches(&secret));
    assert_eq!(updated.id, r.client.id);
    // Another id, a wrong secret, the token itself, or a switch to public: refused.
    for body in [
        json!({"client_id": "other", "redirect_uris": ["https://b.example/cb"]}),
        json!({"client_id": r.client.id.as_str(), "client_secret": "wrong", "redirect_uris": ["https://b.example/cb"]}),
        json!({"client_id": r.client.id.as_str(), "registration_access_token": "x", "redirect_uris": ["https://b.example/cb"]}),
        json!({"client_id": r.client.id.as_str(), "token_endpoint_auth_method": "none", "redirect_uris": ["https://b.example/cb"]}),
    ] {
        let m: ClientMetadata = serde_json::from_value(body.clone()).unwrap();
        assert!(m.update(&r.client, &policy()).is_err(), "{body}");
    }
}

#[test]
fn an_idle_registration_expires() {
    let r = register(
        json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "none"}),
    )
    .unwrap();
    assert!(!r.client.origin.expired(50, UnixTime(149)));
    assert!(r.client.origin.expired(50, UnixTime(150)));
    assert!(!ClientOrigin::Operator.expired(0, UnixTime(u64::MAX)));
}

#[test]
fn private_key_jwt_clients_register_keys_and_keep_their_kind() {
    let mut policy = policy();
    policy.auth_methods.push(AuthMethod::PrivateKeyJwt);
    let key = json!({"kty": "EC", "crv": "P-256", "kid": "k1",
        "x": b64::encode([1u8; 32]), "y": b64::encode([2u8; 32])});
    let body = json!({
        "client_name": "svc", "redirect_uris": ["https://svc.example/cb"],
        "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [key]},
    });
    let meta = |v: &serde_json::Value| serde_json::from_value::<ClientMetadata>(v.clone()).unwrap();
    // Refused where policy does not allow the method.
    assert!(
        meta(&body)
            .register(
                &super::tests::policy(),
                &CountingRandom::default(),
                UnixTime(1)
            )
            .is_err()
    );
    let registered = meta(&body)
        .register(&policy, &CountingRandom::default(), UnixTime(1))
        .unwrap();
    assert_eq!(registered.client.kind, ClientKind::PrivateKeyJwt);
    assert!(registered.secret.is_none());
    let shown = describe(&registered.client, None, None, "https://as/register/x");
    assert_eq!(shown["jwks"]["keys"][0]["kid"], "k1");
    assert_eq!(shown["jwks"]["keys"][0]["alg"], "ES256");
    assert_eq!(shown["token_endpoint_auth_method"], "private_key_jwt");
    // An update replaces the keys, and may not turn the client into a public or secret one.
    let id = registered.client.id.as_str();
    let mut update = body;
    update["client_id"] = json!(id);
    update["jwks"] = serde_json::Value::Null;
    update["jwks_uri"] = json!("https://svc.example/jwks");
    let updated = meta(&update).update(&registered.client, &policy).unwrap();
    assert_eq!(
        updated.keys,
        Some(ClientKeys::Uri("https://svc.example/jwks".into()))
    );
    for method in ["none", "client_secret_basic"] {
        let mut other = json!({"client_id": id, "redirect_uris": ["https://svc.example/cb"]});
        other["token_endpoint_auth_method"] = json!(method);
        assert!(
            meta(&other).update(&registered.client, &policy).is_err(),
            "{method}"
        );
    }
    // Keys with another method, both kinds of keys, a non-string jwks_uri: refused.
    for bad in [
        json!({"redirect_uris": ["https://svc.example/cb"], "jwks_uri": "https://svc.example/jwks"}),
        json!({"redirect_uris": ["https://svc.example/cb"], "token_endpoint_auth_method": "private_key_jwt",
               "jwks": {"keys": [key]}, "jwks_uri": "https://svc.example/jwks"}),
        json!({"redirect_uris": ["https://svc.example/cb"], "token_endpoint_auth_method": "private_key_jwt",
               "jwks_uri": 7}),
    ] {
        let refused = meta(&bad).register(&policy, &CountingRandom::default(), UnixTime(1));
        assert!(
            matches!(refused, Err(RegistrationRefused::InvalidClientMetadata(_))),
            "{bad}"
        );
    }
}

#[test]
fn a_tls_client_auth_client_registers_and_updates_its_subject() {
    let mut policy = policy();
    policy.auth_methods.push(AuthMethod::TlsClientAuth);
    policy.grant_types.push(GrantType::ClientCredentials);
    let meta: ClientMetadata = serde_json::from_value(json!({
        "grant_types": ["client_credentials"],
        "token_endpoint_auth_method": "tls_client_auth",
        "tls_client_auth_subject_dn": "CN=sensor,O=Example",
    }))
    .unwrap();
    let r = meta
        .register(&policy, &CountingRandom::default(), UnixTime(100))
        .unwrap();
    assert!(r.secret.is_none());
    assert_eq!(r.client.auth_method(), AuthMethod::TlsClientAuth);
    let shown = describe(&r.client, None, None, "https://as.example/register/x");
    assert_eq!(shown["tls_client_auth_subject_dn"], "CN=sensor,O=Example");
    assert_eq!(shown["token_endpoint_auth_method"], "tls_client_auth");
    // RFC 7592: a new certificate subject replaces the old; the method cannot change.
    let update = |body: serde_json::Value| {
        let mut body = body;
        body["client_id"] = json!(r.client.id.as_str());
        let meta: ClientMetadata = serde_json::from_value(body).unwrap();
        meta.update(&r.client, &policy)
    };
    let updated = update(json!({
        "grant_types": ["client_credentials"],
        "token_endpoint_auth_method": "tls_client_auth",
        "tls_client_auth_san_dns": "sensor.example",
    }))
    .unwrap();
    assert_eq!(
        updated.kind,
        ClientKind::Tls(TlsClientAuth::Pki(TlsSubject::SanDns(
            "sensor.example".into()
        )))
    );
    for body in [
        json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_basic"}),
        json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "none"}),
    ] {
        assert!(update(body.clone()).is_err(), "{body}");
    }
    // Not in the default policy.
    assert!(
        register(json!({
            "redirect_uris": ["https://a.example/cb"],
            "token_endpoint_auth_method": "tls_client_auth",
            "tls_client_auth_san_dns": "a.example",
        }))
        .is_err()
    );
}

/// RFC 9449 §5.2 and RFC 8705 §3.4: the binding members register, are kept on update, and come
/// back in the client information response; a member of the wrong type is refused.
#[test]
fn sender_constraint_members_register_and_are_described() {
    let body = json!({
        "client_name": "Bound",
        "redirect_uris": ["https://app.example/cb"],
        "token_endpoint_auth_method": "none",
        "dpop_bound_access_tokens": true,
    });
    let registered = register(body.clone()).unwrap();
    assert!(registered.client.binding.dpop_bound_access_tokens);
    assert!(
        !registered
            .client
            .binding
            .tls_client_certificate_bound_access_tokens
    );
    let described = describe(&registered.client, None, None, "https://as/register/x");
    assert_eq!(described["dpop_bound_access_tokens"], true);
    assert!(
        described
            .get("tls_client_certificate_bound_access_tokens")
            .is_none()
    );
    let mut update = body;
    update["client_id"] = json!(registered.client.id.as_str());
    update["dpop_bound_access_tokens"] = json!(false);
    let meta: ClientMetadata = serde_json::from_value(update).unwrap();
    let updated = meta.update(&registered.client, &policy()).unwrap();
    assert!(!updated.binding.dpop_bound_access_tokens);
    assert!(
        serde_json::from_value::<ClientMetadata>(json!({"dpop_bound_access_tokens": "yes"}))
            .is_err()
    );
}
