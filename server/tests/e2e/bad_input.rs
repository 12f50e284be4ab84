//! Bad input at the token, introspection and revocation endpoints: each gets its RFC error and
//! changes no state.

use reqwest::blocking::RequestBuilder;
use serde_json::Value;

use crate::harness::Server;

const FORM: &str = "application/x-www-form-urlencoded";

struct Case {
    name: &'static str,
    request: RequestBuilder,
    status: u16,
    error: &'static str,
}

fn check(server: &Server, cases: Vec<Case>) {
    let clients_before = server.cli_json(&["client", "list"]);
    let keys_before = server.cli_json(&["keys", "list"]);
    for case in cases {
        let r = case.request.send().unwrap();
        let status = r.status().as_u16();
        let cache = r
            .headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap().to_owned());
        let challenge = r.headers().get("www-authenticate").is_some();
        let body: Value = r
            .json()
            .unwrap_or_else(|e| panic!("{}: body not JSON: {e}", case.name));
        assert_eq!(status, case.status, "{}: {body}", case.name);
        assert_eq!(body["error"], case.error, "{}", case.name);
        assert_eq!(cache.as_deref(), Some("no-store"), "{}", case.name);
        assert_eq!(
            challenge,
            case.error == "invalid_client",
            "{}: WWW-Authenticate",
            case.name
        );
        if let Some(d) = body["error_description"].as_str() {
            assert!(
                d.chars()
                    .all(|c| matches!(c, ' '..='~') && c != '"' && c != '\\'),
                "{}",
                case.name
            );
        }
    }
    assert_eq!(
        server.cli_json(&["client", "list"]),
        clients_before,
        "clients changed"
    );
    assert_eq!(
        server.cli_json(&["keys", "list"]),
        keys_before,
        "keys changed"
    );
}

#[test]
fn token_endpoint_refuses_bad_requests_with_rfc_errors() {
    let server = Server::start_with(&[("GATEHOUSE_HTTP__MAX_BODY", "4096")]);
    let (id, secret) = server.client(&["--scope", "read"]);
    let url = format!("{}/token", server.base);
    let post = |body: &str| {
        server
            .http
            .post(&url)
            .header("content-type", FORM)
            .basic_auth(&id, Some(&secret))
            .body(body.to_owned())
    };
    let cases = vec![
        Case {
            name: "wrong secret",
            request: server
                .http
                .post(&url)
                .basic_auth(&id, Some("gcs_wrong"))
                .form(&[("grant_type", "client_credentials")]),
            status: 401,
            error: "invalid_client",
        },
        Case {
            name: "unknown client",
            request: server
                .http
                .post(&url)
                .basic_auth("nobody", Some(&secret))
                .form(&[("grant_type", "client_credentials")]),
            status: 401,
            error: "invalid_client",
        },
        Case {
            name: "no authentication",
            request: server
                .http
                .post(&url)
                .form(&[("grant_type", "client_credentials")]),
            status: 401,
            error: "invalid_client",
        },
        Case {
            name: "wrong secret in the body",
            request: server.http.post(&url).form(&[
                ("grant_type", "client_credentials"),
                ("client_id", id.as_str()),
                ("client_secret", "gcs_wrong"),
            ]),
            status: 401,
            error: "invalid_client",
        },
        Case {
            name: "unsupported grant type",
            request: post("grant_type=password&username=a&password=b"),
            status: 400,
            error: "unsupported_grant_type",
        },
        Case {
            name: "missing grant type",
            request: post("scope=read"),
            status: 400,
            error: "invalid_request",
        },
        Case {
            name: "duplicated parameter",
            request: post("grant_type=client_credentials&scope=read&scope=read"),
            status: 400,
            error: "invalid_request",
        },
        Case {
            name: "duplicated grant type",
            request: post("grant_type=client_credentials&grant_type=client_credentials"),
            status: 400,
            error: "invalid_request",
        },
        Case {
            name: "malformed form body",
            request: post("grant_type=client_credentials&scope=%zz"),
            status: 400,
            error: "invalid_request",
        },
        Case {
            name: "form body not UTF-8",
            request: post("grant_type=client_credentials&scope=%ff"),
            status: 400,
            error: "invalid_request",
        },
        Case {
            name: "JSON body",
            request: server
                .http
                .post(&url)
                .basic_auth(&id, Some(&secret))
                .header("content-type", "application/json")
                .body(r#"{"grant_type":"client_credentials"}"#),
            status: 400,
            error: "invalid_request",
        },
        Case {
            name: "no content type",
            request: server
                .http
                .post(&url)
                .basic_auth(&id, Some(&secret))
                .body("grant_type=client_credentials"),
            status: 400,
            error: "invalid_request",
        },
        Case {
            name: "oversized body",
            request: post(&format!(
                "grant_type=client_credentials&pad={}",
                "a".repeat(5000)
            )),
            status: 413,
            error: "invalid_request",
        },
        Case {
            name: "unknown resource",
            request: post("grant_type=client_credentials&resource=https%3A%2F%2Fevil.example"),
            status: 400,
            error: "invalid_target",
        },
        Case {
            name: "two resources",
            request: post(
                "grant_type=client_credentials&resource=https%3A%2F%2Frs.example%2Fapi&resource=https%3A%2F%2Fb.example",
            ),
            status: 400,
            error: "invalid_target",
        },
        Case {
            name: "resource with a fragment",
            request: post(
                "grant_type=client_credentials&resource=https%3A%2F%2Frs.example%2Fapi%23x",
            ),
            status: 400,
            error: "invalid_target",
        },
        Case {
            name: "scope beyond the client's",
            request: post("grant_type=client_credentials&scope=read+admin"),
            status: 400,
            error: "invalid_scope",
        },
        Case {
            name: "malformed scope",
            request: post("grant_type=client_credentials&scope=read%22"),
            status: 400,
            error: "invalid_scope",
        },
        Case {
            name: "two authentication methods",
            request: post(&format!(
                "grant_type=client_credentials&client_secret={secret}"
            )),
            status: 400,
            error: "invalid_request",
        },
        Case {
            name: "secret in the URL",
            request: server
                .http
                .post(format!("{url}?client_secret={secret}"))
                .basic_auth(&id, Some(&secret))
                .form(&[("grant_type", "client_credentials")]),
            status: 400,
            error: "invalid_request",
        },
    ];
    check(&server, cases);
}

#[test]
fn introspection_and_revocation_refuse_bad_requests_and_keep_the_token() {
    let server = Server::start();
    let (id, secret) = server.client(&[]);
    let token = server.token((&id, &secret), &[]);
    let mut cases = Vec::new();
    for path in ["/introspect", "/revoke"] {
        let url = format!("{}{path}", server.base);
        cases.push(Case {
            name: "unauthenticated",
            request: server.http.post(&url).form(&[("token", token.as_str())]),
            status: 401,
            error: "invalid_client",
        });
        cases.push(Case {
            name: "wrong secret",
            request: server
                .http
                .post(&url)
                .basic_auth(&id, Some("nope"))
                .form(&[("token", token.as_str())]),
            status: 401,
            error: "invalid_client",
        });
        cases.push(Case {
            name: "missing token",
            request: server
                .http
                .post(&url)
                .basic_auth(&id, Some(&secret))
                .form(&[("token_type_hint", "access_token")]),
            status: 400,
            error: "invalid_request",
        });
        cases.push(Case {
            name: "duplicated token",
            request: server
                .http
                .post(&url)
                .basic_auth(&id, Some(&secret))
                .form(&[("token", token.as_str()), ("token", "x")]),
            status: 400,
            error: "invalid_request",
        });
        cases.push(Case {
            name: "JSON body",
            request: server
                .http
                .post(&url)
                .basic_auth(&id, Some(&secret))
                .header("content-type", "application/json")
                .body(format!(r#"{{"token":"{token}"}}"#)),
            status: 400,
            error: "invalid_request",
        });
    }
    check(&server, cases);
    assert!(server.is_active(&token), "no bad request revoked the token");
}
