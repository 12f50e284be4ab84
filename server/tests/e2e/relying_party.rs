//! A second, strict relying party from another ecosystem: panva's `oauth4webapi` (JavaScript),
//! run by `server/tests/relying-party/flow.mjs`. It discovers the server, sends an
//! authorization request with PKCE S256, `state` and `nonce` (pushed with PAR, RFC 9126, or as
//! a plain query), and after the script has signed in and approved as a person would (`fetch`,
//! a cookie kept by hand, the pages' hidden fields, no redirect followed) it checks the answer
//! (RFC 9207 `iss`, `state`), redeems the code (the ID token's claims and `nonce`), reads
//! UserInfo (its `sub` must be the ID token's) and refreshes the tokens. Any check it makes that
//! Gatehouse fails throws, and the test fails with oauth4webapi's exact words.
//!
//! Needs Node.js 20+ and `npm ci` in `server/tests/relying-party` (`scripts/test` installs
//! both); without them these tests fail, saying what to install.

use serde_json::{Value, json};

use crate::harness::Server;

const RESOURCE: &str = "https://mcp.example";
const USERNAME: &str = "alice";
const PASSWORD: &str = "correct horse battery";
const NAME: &str = "Alice Liddell";
const EMAIL: &str = "alice@example.com";

/// How the relying party authenticates at the token endpoint, and how it sends its
/// authorization request.
#[derive(Clone, Copy)]
enum Variant {
    /// A public client (`none`) on a loopback redirect URI, its request pushed with PAR.
    PublicWithPar,
    /// A confidential client (`client_secret_basic`), its request a plain query.
    ConfidentialWithQuery,
}

/// A server with one client (of `variant`) and one user with a name and an e-mail address.
struct Fixture {
    server: Server,
    client_id: String,
    client_secret: Option<String>,
    redirect_uri: &'static str,
    user_id: String,
}

impl Fixture {
    fn new(variant: Variant) -> Self {
        let server = Server::start();
        let (auth_method, redirect_uri) = match variant {
            Variant::PublicWithPar => ("none", "http://127.0.0.1/callback"),
            Variant::ConfidentialWithQuery => ("client_secret_basic", "https://rp.example/cb"),
        };
        let client = admin_post(
            &server,
            "/admin/clients",
            &json!({
                "name": "oauth4webapi",
                "grant_types": ["authorization_code", "refresh_token"],
                "token_endpoint_auth_method": auth_method,
                "redirect_uris": [redirect_uri],
                "scope": "openid profile email",
                "resources": [RESOURCE],
            }),
        );
        let user = admin_post(
            &server,
            "/admin/users",
            &json!({
                "username": USERNAME,
                "password": PASSWORD,
                "name": NAME,
                "email": EMAIL,
                "email_verified": true,
            }),
        );
        Self {
            client_id: client["client_id"].as_str().unwrap().to_owned(),
            client_secret: client["client_secret"].as_str().map(str::to_owned),
            redirect_uri,
            user_id: user["user_id"].as_str().unwrap().to_owned(),
            server,
        }
    }

    /// Runs the relying party through the whole flow with `scope`; its report.
    fn run(&self, scope: &str, par: bool) -> Value {
        let mut client = json!({"client_id": self.client_id});
        if let Some(secret) = &self.client_secret {
            client["client_secret"] = json!(secret);
        }
        let report = run_flow(&json!({
            "issuer": self.server.base,
            "client": client,
            "redirect_uri": self.redirect_uri,
            "scope": scope,
            "resource": RESOURCE,
            "par": par,
            "username": USERNAME,
            "password": PASSWORD,
        }));
        // Shown when a check below fails.
        println!("the relying party's report: {report:#}");
        report
    }

    /// What every run must show, whatever the variant and scope.
    fn check_common(&self, report: &Value, scope: &str) {
        let base = self.server.base.as_str();
        let discovery = &report["discovery"];
        assert_eq!(discovery["issuer"], base, "{discovery}");
        assert_eq!(
            discovery["authorization_response_iss_parameter_supported"], true,
            "RFC 9207 advertised, so oauth4webapi insists on `iss`: {discovery}"
        );
        assert_eq!(report["pages"], json!(["sign-in", "consent"]), "{report}");
        assert_eq!(report["callback_parameters"]["iss"], base, "{report}");

        let id = &report["id_token_claims"];
        assert_eq!(id["iss"], base, "{id}");
        assert_eq!(
            id["sub"],
            self.user_id.as_str(),
            "the admin API's user_id: {id}"
        );
        assert_eq!(id["aud"], self.client_id.as_str(), "{id}");
        assert_eq!(id["azp"], self.client_id.as_str(), "{id}");
        assert_eq!(id["nonce"], report["nonce_sent"], "{id}");
        assert!(id["auth_time"].is_u64(), "{id}");
        assert!(id["at_hash"].is_string(), "{id}");
        assert!(id["sid"].is_string(), "{id}");
        assert_eq!(report["tokens"]["id_token_header"]["alg"], "ES256");

        let tokens = &report["tokens"];
        assert_eq!(tokens["token_type"], "bearer", "{tokens}");
        assert_eq!(tokens["has_refresh_token"], true, "{tokens}");
        let access = &tokens["access_token_claims"];
        assert_eq!(access["sub"], self.user_id.as_str(), "{access}");
        assert_eq!(access["aud"], RESOURCE, "{access}");
        assert_eq!(
            scopes_of(&access["scope"]),
            scopes_of(&json!(scope)),
            "{access}"
        );
        if !tokens["scope"].is_null() {
            assert_eq!(
                scopes_of(&tokens["scope"]),
                scopes_of(&json!(scope)),
                "{tokens}"
            );
        }

        let userinfo = &report["userinfo"];
        assert_eq!(userinfo["sub"], self.user_id.as_str(), "{userinfo}");

        let refreshed = &report["refreshed"];
        assert_eq!(refreshed["token_type"], "bearer", "{refreshed}");
        assert_eq!(
            refreshed["refresh_token_rotated"], true,
            "refresh tokens rotate on use: {refreshed}"
        );
        assert_eq!(refreshed["access_token_changed"], true, "{refreshed}");
        assert_eq!(refreshed["userinfo"], *userinfo, "{refreshed}");
        // OIDC Core §12.2: a refreshed ID token (if any) names the same issuer, subject,
        // audience, party and authentication; a `nonce`, if any, is the original one.
        for again in [
            &refreshed["id_token_claims"],
            &report["retry"]["id_token_claims"],
        ] {
            if again.is_null() {
                continue;
            }
            for claim in ["iss", "sub", "aud", "azp", "auth_time"] {
                assert_eq!(again[claim], id[claim], "{claim}: {again} after {id}");
            }
            if let Some(nonce) = again.get("nonce") {
                assert_eq!(*nonce, id["nonce"], "{again} after {id}");
            }
        }
        assert_eq!(
            report["retry"]["same_refresh_token"], true,
            "a spent refresh token sent again within the grace window gets the same successor: \
             {report}"
        );
    }

    /// The person's claims, where `scope` releases them (OIDC Core §5.4), in both the ID token
    /// and UserInfo.
    fn check_claims(report: &Value, scope: &str) {
        let scopes: Vec<&str> = scope.split(' ').collect();
        for (what, claims) in [
            ("ID token", &report["id_token_claims"]),
            ("UserInfo", &report["userinfo"]),
        ] {
            if scopes.contains(&"profile") {
                assert_eq!(claims["name"], NAME, "{what}: {claims}");
                assert_eq!(claims["preferred_username"], USERNAME, "{what}: {claims}");
            } else {
                assert!(claims.get("name").is_none(), "{what}: {claims}");
                assert!(
                    claims.get("preferred_username").is_none(),
                    "{what}: {claims}"
                );
            }
            if scopes.contains(&"email") {
                assert_eq!(claims["email"], EMAIL, "{what}: {claims}");
                assert_eq!(claims["email_verified"], true, "{what}: {claims}");
            } else {
                assert!(claims.get("email").is_none(), "{what}: {claims}");
                assert!(claims.get("email_verified").is_none(), "{what}: {claims}");
            }
        }
    }
}

/// The scopes of a space-separated `scope` value, in order.
fn scopes_of(scope: &Value) -> Vec<&str> {
    let mut scopes: Vec<&str> = scope
        .as_str()
        .unwrap_or_else(|| panic!("a scope string: {scope}"))
        .split(' ')
        .collect();
    scopes.sort_unstable();
    scopes
}

/// POSTs `body` to the admin API; the created object.
fn admin_post(server: &Server, path: &str, body: &Value) -> Value {
    let r = server
        .http
        .post(format!("{}{path}", server.admin_url()))
        .bearer_auth(server.admin_token())
        .json(body)
        .send()
        .unwrap();
    let status = r.status();
    let answer: Value = r.json().unwrap();
    assert_eq!(status, 201, "{path}: {answer}");
    answer
}

/// Runs `server/tests/relying-party/flow.mjs` with `input`; its report. Fails with the
/// script's message: oauth4webapi's exact error and the HTTP exchanges before it, or what to
/// install when Node.js or node_modules are missing.
fn run_flow(input: &Value) -> Value {
    crate::harness::run_node(
        "relying-party",
        "flow.mjs",
        "relying party (oauth4webapi)",
        input,
    )
}

/// A public client pushes its request (PAR) and asks for every scope: name and e-mail address
/// in the ID token and from UserInfo.
#[test]
fn public_client_with_par() {
    let fx = Fixture::new(Variant::PublicWithPar);
    let scope = "openid profile email";
    let report = fx.run(scope, true);
    fx.check_common(&report, scope);
    Fixture::check_claims(&report, scope);
    let par = &report["par"];
    assert!(
        par["request_uri"]
            .as_str()
            .is_some_and(|u| u.starts_with("urn:ietf:params:oauth:request_uri:")),
        "{par}"
    );
    assert!(par["expires_in"].as_u64().is_some_and(|s| s > 0), "{par}");
}

/// A confidential client (`client_secret_basic`) sends a plain query and asks for `email`
/// without `profile`: the address, never the name.
#[test]
fn confidential_client_with_a_query() {
    let fx = Fixture::new(Variant::ConfidentialWithQuery);
    let scope = "openid email";
    let report = fx.run(scope, false);
    fx.check_common(&report, scope);
    Fixture::check_claims(&report, scope);
    assert!(report.get("par").is_none(), "{report}");
}
