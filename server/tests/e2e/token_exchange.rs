//! Token exchange (RFC 8693): a resource server exchanges the token it received for a narrower
//! one at another resource, with `act`; widening is refused. And Cross-App Access end to end:
//! one Gatehouse, as the enterprise IdP, issues an ID-JAG for a signed-in user; a second
//! Gatehouse, trusting the first, redeems it (MCP EMA §4–§5).

use serde_json::{Value, json};

use crate::harness::{Server, jwt_parts};
use crate::jwt_bearer::JWT_BEARER;
use crate::sign_in::driver::{
    App, Browser, PASSWORD, RESOURCE, SCOPE, Tokens, USERNAME, VERIFIER, add_user, register,
};

const TE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const AT: &str = "urn:ietf:params:oauth:token-type:access_token";
const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
const ID_JAG: &str = "urn:ietf:params:oauth:token-type:id-jag";

fn post(server: &Server, creds: &(String, String), form: &[(&str, &str)]) -> (u16, Value) {
    let r = server.post_form("/token", Some((&creds.0, &creds.1)), form);
    (r.status().as_u16(), r.json().unwrap())
}

#[test]
fn a_resource_server_exchanges_a_token_for_a_narrower_one_downstream() {
    let server = Server::start();
    // The frontend's token, for the resource server at https://a.example.
    let frontend = server.client(&["--resource", "https://a.example", "--scope", "read write"]);
    let incoming = server.token((&frontend.0, &frontend.1), &[]);
    // The resource server at https://a.example (it may introspect its tokens: that makes it
    // the resource server, not just a client that may ask for tokens for it), which calls
    // https://b.example.
    let rs = server.client(&[
        "--grant-type",
        TE,
        "--grant-type",
        "client_credentials",
        "--resource",
        "https://a.example",
        "--resource",
        "https://b.example",
        "--scope",
        "read write",
        "--introspect",
    ]);
    let actor = server.token((&rs.0, &rs.1), &[]);
    let (status, body) = post(
        &server,
        &rs,
        &[
            ("grant_type", TE),
            ("subject_token", &incoming),
            ("subject_token_type", AT),
            ("actor_token", &actor),
            ("actor_token_type", AT),
            ("resource", "https://b.example"),
            ("scope", "read"),
        ],
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["issued_token_type"], AT);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "read");
    assert!(body.get("refresh_token").is_none());
    let exchanged = body["access_token"].as_str().unwrap();
    let (_, claims) = jwt_parts(exchanged);
    assert_eq!(claims["aud"], "https://b.example");
    assert_eq!(claims["sub"], frontend.0.as_str(), "the subject stays");
    assert_eq!(claims["client_id"], rs.0.as_str());
    assert_eq!(claims["act"]["sub"], rs.0.as_str());
    let seen = server.introspect(server.introspector(), exchanged);
    assert_eq!(seen["active"], true);
    assert_eq!(
        seen["act"]["sub"],
        rs.0.as_str(),
        "introspection returns act"
    );

    // Widening is refused, and so is another client's token for a resource not ours.
    let base = [
        ("grant_type", TE),
        ("subject_token", incoming.as_str()),
        ("subject_token_type", AT),
    ];
    let refusals: [(&[(&str, &str)], &str); 4] = [
        (&[("resource", "https://c.example")], "invalid_target"),
        (&[("audience", "https://c.example")], "invalid_target"),
        (&[("scope", "read admin")], "invalid_scope"),
        (&[("subject_token_type", ID_TOKEN)], "invalid_request"),
    ];
    for (extra, code) in refusals {
        let mut form: Vec<(&str, &str)> = base.to_vec();
        form.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
        form.extend_from_slice(extra);
        let (status, body) = post(&server, &rs, &form);
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some(code)),
            "{extra:?}: {body}"
        );
    }
    let other = server.client(&["--grant-type", TE, "--resource", "https://z.example"]);
    let (status, body) = post(&server, &other, &base);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    // A client without the grant.
    let (status, body) = post(&server, &frontend, &base);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client")),
        "{body}"
    );
}

/// Cross-App Access: the IdP (a Gatehouse with a signed-in user) issues an ID-JAG for the
/// resource authorization server (a second Gatehouse trusting the first), which redeems it once.
#[test]
fn cross_app_access_round_trip_between_two_gatehouses() {
    let idp = Server::start();
    let user_id = add_user(&idp, USERNAME, PASSWORD);
    let app: App = register(
        &idp,
        &json!({
            "name": "Chat client",
            "grant_types": ["authorization_code", "refresh_token", TE],
            "redirect_uris": ["https://chat.example/cb"],
            "scope": SCOPE,
            "resources": [RESOURCE],
        }),
    );
    let trust_idp = [
        ("GATEHOUSE_TRUST__ALLOW_HTTP_LOOPBACK", "true".to_owned()),
        (
            "GATEHOUSE_TRUST__ISSUERS",
            format!(
                r#"[{{issuer = "{0}", jwks_uri = "{0}/jwks", algorithms = ["ES256"], accept = ["id_jag"], subject = "as_is"}}]"#,
                idp.base
            ),
        ),
    ];
    let env: Vec<(&str, &str)> = trust_idp.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let resource_as = Server::start_with(&env);
    let there = resource_as.client(&[
        "--grant-type",
        JWT_BEARER,
        "--resource",
        "https://mcp.chat.example",
        "--scope",
        "chat.read chat.write",
    ]);
    // The IdP may issue ID-JAGs for the resource authorization server, to this client.
    let mut idp = idp;
    idp.set_env(&[(
        "GATEHOUSE_TRUST__DOWNSTREAM".to_owned(),
        format!(
            r#"[{{issuer = "{}", resources = ["https://mcp.chat.example"], clients = {{ "{}" = "{}" }}}}]"#,
            resource_as.base, app.id, there.0
        ),
    )]);
    idp.restart();

    let code = Browser::new(&idp).code(&app, &app.request());
    let id_token = Tokens::of(&app.redeem(&idp, &code, VERIFIER))
        .id_token
        .expect("an ID token");
    let exchange = |id_token: &str, audience: &str| {
        app.post(
            &idp,
            "/token",
            &[
                ("grant_type", TE),
                ("requested_token_type", ID_JAG),
                ("audience", audience),
                ("resource", "https://mcp.chat.example"),
                ("scope", "chat.read"),
                ("subject_token", id_token),
                ("subject_token_type", ID_TOKEN),
            ],
        )
    };
    let page = exchange(&id_token, &resource_as.base);
    assert_eq!(page.status, 200, "{}", page.body);
    let body = page.json();
    assert_eq!(body["issued_token_type"], ID_JAG);
    assert_eq!(body["token_type"], "N_A");
    assert_eq!(body["expires_in"], 300);
    let jag = body["access_token"].as_str().unwrap();
    let (header, claims) = jwt_parts(jag);
    assert_eq!(header["typ"], "oauth-id-jag+jwt");
    assert_eq!(claims["iss"], idp.base.as_str());
    assert_eq!(claims["aud"], resource_as.base.as_str());
    assert_eq!(claims["sub"], user_id.as_str());
    assert_eq!(claims["client_id"], there.0.as_str());
    assert_eq!(claims["resource"], "https://mcp.chat.example");
    // An audience the IdP has no pairing for.
    let page = exchange(&id_token, "https://as.unknown.example");
    assert_eq!(page.status, 400);
    assert_eq!(page.json()["error"], "invalid_target");

    // At the resource authorization server.
    let redeem = |assertion: &str| {
        post(
            &resource_as,
            &there,
            &[("grant_type", JWT_BEARER), ("assertion", assertion)],
        )
    };
    let (status, body) = redeem(jag);
    assert_eq!(status, 200, "{body}");
    let (_, at) = jwt_parts(body["access_token"].as_str().unwrap());
    assert_eq!(at["iss"], resource_as.base.as_str());
    assert_eq!(at["aud"], "https://mcp.chat.example");
    assert_eq!(at["sub"], user_id.as_str(), "subject = as_is");
    assert_eq!(at["scope"], "chat.read");
    assert_eq!(at["client_id"], there.0.as_str());
    let (status, body) = redeem(jag);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
}

/// A trusted external issuer's JWT as the subject token (`urn:ietf:params:oauth:token-type:jwt`):
/// its subject, issuer-qualified; an issuer trusted only for ID-JAGs is refused.
#[test]
fn an_external_jwt_subject_token() {
    use crate::jwt_bearer::{IDP, Idp, now};
    let idp = Idp::start();
    let env = idp.env(r#""subject_token""#);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let server = Server::start_with(&env);
    let client = server.client(&["--grant-type", TE, "--resource", "https://b.example"]);
    let jwt = |typ: &str, aud: &str| {
        idp.sign(
            typ,
            &json!({"iss": IDP, "sub": "bob", "aud": aud, "iat": now(), "exp": now() + 120}),
        )
    };
    let exchange = |token: &str| {
        post(
            &server,
            &client,
            &[
                ("grant_type", TE),
                ("subject_token", token),
                ("subject_token_type", "urn:ietf:params:oauth:token-type:jwt"),
            ],
        )
    };
    let (status, body) = exchange(&jwt("JWT", &server.base));
    assert_eq!(status, 200, "{body}");
    let (_, at) = jwt_parts(body["access_token"].as_str().unwrap());
    assert_eq!(at["sub"], "https://idp.test#bob");
    assert_eq!(at["aud"], "https://b.example");
    for (name, token) in [
        (
            "meant for someone else",
            jwt("JWT", "https://other.example"),
        ),
        (
            "an ID-JAG is no subject token",
            jwt("oauth-id-jag+jwt", &server.base),
        ),
    ] {
        let (status, body) = exchange(&token);
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_request")),
            "{name}: {body}"
        );
    }
}
