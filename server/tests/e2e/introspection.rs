//! Introspection answers `active: false` for anything that is not a live token it issued.

use std::sync::Arc;

use gatehouse_signer::{SigningKey, SoftwareKey, jws};
use gatehouse_token::{Algorithm, b64};
use serde_json::Value;

use crate::harness::{Server, jwt_parts};

#[test]
fn active_answers_carry_the_rfc7662_members() {
    let server = Server::start();
    let (id, secret) = server.client(&["--scope", "read write"]);
    let (rs, rs_secret) = server.client(&["--introspect"]);
    let token = server.token((&id, &secret), &[("scope", "read")]);
    // A resource server introspects a token meant for its resource.
    let r = server.post_form(
        "/introspect",
        Some((&rs, &rs_secret)),
        &[("token", &token), ("token_type_hint", "access_token")],
    );
    assert_eq!(r.headers()["cache-control"], "no-store");
    let answer: Value = r.json().unwrap();
    let claims = jwt_parts(&token).1;
    assert_eq!(answer["active"], true);
    for member in [
        "scope",
        "client_id",
        "sub",
        "aud",
        "iss",
        "exp",
        "iat",
        "jti",
    ] {
        assert_eq!(answer[member], claims[member], "{member}");
    }
    assert_eq!(answer["token_type"], "Bearer");
    assert_eq!(answer["scope"], "read");
}

#[test]
fn invalid_tokens_are_all_inactive() {
    let server = Server::start();
    let (id, secret) = server.client(&[]);
    let token = server.token((&id, &secret), &[]);
    let creds = server.introspector();
    let (header, claims) = jwt_parts(&token);
    let parts: Vec<&str> = token.split('.').collect();

    let none_header = b64::encode(r#"{"alg":"none","typ":"at+jwt","kid":"x"}"#);
    let alg_none = format!("{none_header}.{}.", parts[1]);
    let mut sig = b64::decode(parts[2]).unwrap();
    sig[0] ^= 0x01;
    let altered_sig = format!("{}.{}.{}", parts[0], parts[1], b64::encode(&sig));
    let mut forged_claims = claims.clone();
    forged_claims["scope"] = "admin".into();
    let altered_payload = format!(
        "{}.{}.{}",
        parts[0],
        b64::encode(serde_json::to_vec(&forged_claims).unwrap()),
        parts[2]
    );
    // A well-formed token signed by a key that is not in the set (same kid even).
    let stranger: Arc<dyn SigningKey> = Arc::new(SoftwareKey::generate(Algorithm::ES256).unwrap());
    let foreign = jws::sign_compact(stranger.as_ref(), "at+jwt", &claims).unwrap();
    let foreign_header = format!(
        r#"{{"alg":"ES256","kid":{},"typ":"at+jwt"}}"#,
        header["kid"]
    );
    let input = format!("{}.{}", b64::encode(&foreign_header), parts[1]);
    let stolen_kid = format!(
        "{input}.{}",
        b64::encode(stranger.sign(input.as_bytes()).unwrap())
    );
    let id_token_typ = {
        let h = b64::encode(format!(
            r#"{{"alg":"ES256","kid":{},"typ":"JWT"}}"#,
            header["kid"]
        ));
        format!("{h}.{}.{}", parts[1], parts[2])
    };

    let cases = [
        ("garbage", "garbage".to_owned()),
        ("empty-ish", "...".to_owned()),
        ("truncated JWT", token[..token.len() - 10].to_owned()),
        ("two segments", format!("{}.{}", parts[0], parts[1])),
        ("alg none", alg_none),
        ("altered signature", altered_sig),
        ("altered payload", altered_payload),
        ("key not in the set", foreign),
        ("known kid, foreign key", stolen_kid),
        ("typ JWT", id_token_typ),
        (
            "opaque garbage",
            "gat_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_owned(),
        ),
        ("huge", "a".repeat(20_000)),
    ];
    for (name, bad) in cases {
        let answer = server.introspect(creds, &bad);
        assert_eq!(answer, serde_json::json!({"active": false}), "{name}");
    }
    assert!(
        server.is_active(&token),
        "the genuine token is still active"
    );
}

/// RFC 9701: the answer as a JWT signed by the authorization server, for the calling resource
/// server, verified here from the published JWKS.
#[test]
fn jwt_introspection_responses() {
    let server = Server::start();
    let (id, secret) = server.client(&["--scope", "read"]);
    let (rs, rs_secret) = server.client(&["--introspect"]);
    let token = server.token((&id, &secret), &[]);
    let jwks: gatehouse_token::JwkSet = server
        .http
        .get(format!("{}/jwks", server.base))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let ask = |t: &str| {
        let r = server
            .http
            .post(format!("{}/introspect", server.base))
            .basic_auth(&rs, Some(&rs_secret))
            .header("accept", "application/token-introspection+jwt")
            .form(&[("token", t)])
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()["content-type"],
            "application/token-introspection+jwt"
        );
        assert_eq!(r.headers()["cache-control"], "no-store");
        let jwt = r.text().unwrap();
        let (header, claims) = jwt_parts(&jwt);
        assert_eq!(header["typ"], "token-introspection+jwt");
        let key = jwks
            .keys
            .iter()
            .find(|k| header["kid"] == k.kid.as_str())
            .expect("signed by a published key");
        let (input, sig) = jwt.rsplit_once('.').unwrap();
        let verifier = gatehouse_validator::VerifyingKey::from_jwk(key).unwrap();
        assert!(verifier.verify(input.as_bytes(), &b64::decode(sig).unwrap()));
        assert_eq!(claims["iss"], server.base);
        assert_eq!(claims["aud"], rs.as_str(), "the resource server that asked");
        assert!(claims["iat"].is_u64() && claims["jti"].is_string());
        assert!(
            claims.get("sub").is_none() && claims.get("exp").is_none(),
            "not an access token"
        );
        claims["token_introspection"].clone()
    };
    let active = ask(&token);
    assert_eq!(active["active"], true);
    assert_eq!(active["client_id"], id.as_str());
    assert_eq!(active["scope"], "read");
    assert_eq!(ask("garbage"), serde_json::json!({"active": false}));
    let metadata = server.get_json(&format!(
        "{}/.well-known/oauth-authorization-server",
        server.base
    ));
    assert_eq!(
        metadata["introspection_signing_alg_values_supported"],
        serde_json::json!(["ES256"])
    );
    // A JSON answer is still the default.
    assert_eq!(server.introspect((&rs, &rs_secret), &token)["active"], true);
}

/// Issue 8, item 7: introspection is a permission of a client, and a resource server learns
/// only about the tokens meant for its own resources (RFC 7662 §2.1, §4).
#[test]
fn introspection_is_a_permission_limited_to_the_callers_resources() {
    let server = Server::start();
    let (a, a_secret) = server.client(&["--resource", "https://a.example/mcp"]);
    let (b, b_secret) = server.client(&["--resource", "https://b.example/mcp"]);
    let for_a = server.token((&a, &a_secret), &[]);
    let for_b = server.token((&b, &b_secret), &[]);

    // A client without the permission: 403, whatever it asks about (its own token included).
    let r = server.post_form("/introspect", Some((&a, &a_secret)), &[("token", &for_a)]);
    assert_eq!(r.status(), 403);
    let body: Value = r.json().unwrap();
    assert_eq!(body["error"], "unauthorized_client");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("--introspect")
    );

    // The resource server of a sees a's tokens, and nothing of b's.
    let (rs_a, rs_a_secret) =
        server.client(&["--resource", "https://a.example/mcp", "--introspect"]);
    assert_eq!(
        server.introspect((&rs_a, &rs_a_secret), &for_a)["active"],
        true
    );
    assert_eq!(
        server.introspect((&rs_a, &rs_a_secret), &for_b),
        serde_json::json!({"active": false}),
        "a live token for another resource looks like any invalid one"
    );
    // So does the RFC 9701 JWT answer.
    let jwt_answer = server
        .http
        .post(format!("{}/introspect", server.base))
        .basic_auth(&rs_a, Some(&rs_a_secret))
        .header("accept", "application/token-introspection+jwt")
        .form(&[("token", for_b.as_str())])
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(
        jwt_parts(&jwt_answer).1["token_introspection"],
        serde_json::json!({"active": false})
    );

    // A gateway registered for any audience sees both.
    let (gw, gw_secret) = server.client(&["--introspect", "any"]);
    assert_eq!(server.introspect((&gw, &gw_secret), &for_a)["active"], true);
    assert_eq!(server.introspect((&gw, &gw_secret), &for_b)["active"], true);
    let shown = server.cli_json(&["client", "show", &gw]);
    assert_eq!(shown["introspection"], "any");
}

/// The largest client registration allowed (a 2048-character scope, a 2048-character resource)
/// still gets tokens that validators accept: the server never issues a token it then calls
/// inactive. One character more is refused at registration.
#[test]
fn the_largest_registrable_client_gets_tokens_that_introspect_active() {
    let server = Server::start();
    // 204 tokens of 9 characters and one of 8, space-separated: exactly 2048 characters.
    let mut scope = (0..204).map(|i| format!("scope{i:04}")).collect::<Vec<_>>();
    scope.push("pad-to-8".into());
    let scope = &scope.join(" ");
    assert_eq!(scope.len(), 2048);
    let resource = format!("https://rs.example/{}", "r".repeat(2048 - 19));
    assert_eq!(resource.len(), 2048);
    let (id, secret) = server.client(&["--scope", scope, "--resource", &resource]);
    let token = server.token((&id, &secret), &[]);
    assert!(token.len() > 5000, "{}", token.len());
    assert!(server.is_active(&token));
    let too_long = format!("{scope} x{}", "y".repeat(2048));
    let out = server.cli(&[
        "client",
        "create",
        "--name",
        "n",
        "--resource",
        "https://rs",
        "--scope",
        &too_long,
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("scope"));
}
