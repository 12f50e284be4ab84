//! Human-readable renderings of admin API answers.

use std::fmt::Write as _;

use serde_json::Value;

/// A value as text: a string as it is, `null` as `-`, a list joined with commas.
pub(super) fn text(v: &Value) -> String {
    s(v)
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        Value::Array(items) => items.iter().map(s).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// A Unix time as RFC 3339, or `-`.
fn date(v: &Value) -> String {
    match v.as_u64() {
        Some(secs) => humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs),
        )
        .to_string(),
        None => "-".to_owned(),
    }
}

/// After `client create`.
pub(super) fn created_client(c: &Value) -> String {
    let mut out = format!("Created client {:?}\n", s(&c["name"]));
    let _ = writeln!(out, "  client_id:     {}", s(&c["client_id"]));
    match c.get("client_secret") {
        Some(secret) if !secret.is_null() => {
            let _ = writeln!(out, "  client_secret: {}", s(secret));
            out.push_str("  (the secret is shown only now: store it safely)\n");
        }
        _ if c["token_endpoint_auth_method"] == "private_key_jwt" => {
            let keys = match (c.get("jwks_uri"), c.get("jwks")) {
                (Some(uri), _) => format!("the keys at {}", s(uri)),
                (None, Some(jwks)) => {
                    let kids: Vec<String> = jwks["keys"]
                        .as_array()
                        .map(|keys| keys.iter().map(|k| s(&k["kid"])).collect())
                        .unwrap_or_default();
                    format!("kid {}", kids.join(", "))
                }
                (None, None) => "its registered keys".to_owned(),
            };
            let _ = writeln!(
                out,
                "  (private_key_jwt: no secret; it signs client assertions with {keys})"
            );
        }
        _ if s(&c["token_endpoint_auth_method"]).contains("tls_client_auth") => {
            let _ = writeln!(
                out,
                "  authenticates with its TLS client certificate ({})",
                s(&c["token_endpoint_auth_method"])
            );
        }
        _ => {
            let grants = c["grant_types"].as_array().cloned().unwrap_or_default();
            let has = |g: &str| grants.iter().any(|x| x == g);
            if has("authorization_code") {
                out.push_str(
                    "  (a public client: no secret; it proves each code flow with PKCE)\n",
                );
            } else {
                out.push_str("  (a public client: no secret)\n");
            }
            if has(gatehouse_core::request::token::DEVICE_CODE) {
                out.push_str(
                    "  (a device client: sign in with `gatehouse device --client-id <id>`)\n",
                );
            }
        }
    }
    out
}

/// `client show`.
pub(super) fn client_details(c: &Value) -> String {
    let mut out = String::new();
    for field in [
        "client_id",
        "name",
        "grant_types",
        "scope",
        "resources",
        "access_token_lifetime",
        "token_format",
        "introspection",
        "token_endpoint_auth_method",
        "jwks_uri",
        "tls_client_auth_subject_dn",
        "tls_client_auth_san_dns",
        "tls_client_auth_san_uri",
        "tls_client_auth_san_ip",
        "tls_client_auth_san_email",
        "redirect_uris",
        "dpop_bound_access_tokens",
        "tls_client_certificate_bound_access_tokens",
    ] {
        // A member the server does not send (an older server) is left out, not shown as `-`.
        if let Some(value) = c.get(field) {
            let _ = writeln!(out, "{field:<26} {}", s(value));
        }
    }
    let _ = writeln!(out, "{:<26} {}", "created_at", date(&c["created_at"]));
    out
}

fn table(rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..rows.first().map_or(0, Vec::len))
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    out
}

/// After `client delete`.
pub(super) fn deleted_client(d: &Value) -> String {
    format!(
        "Deleted client {}: its tokens are inactive from now on ({} stored opaque tokens dropped)\n",
        s(&d["client_id"]),
        s(&d["opaque_tokens_deleted"])
    )
}

/// `client list`.
pub(super) fn client_table(clients: &Value) -> String {
    let mut rows = vec![
        [
            "CLIENT ID",
            "NAME",
            "GRANTS",
            "SCOPE",
            "FORMAT",
            "INTROSPECTION",
            "REGISTERED BY",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for c in clients.as_array().into_iter().flatten() {
        rows.push(vec![
            s(&c["client_id"]),
            s(&c["name"]),
            s(&c["grant_types"]),
            s(&c["scope"]),
            s(&c["token_format"]),
            s(&c["introspection"]),
            s(&c["registered_by"]),
        ]);
    }
    table(&rows)
}

/// `keys list`.
pub(super) fn key_table(keys: &Value) -> String {
    let mut rows = vec![
        [
            "KID",
            "ALG",
            "STATE",
            "BACKEND",
            "CREATED",
            "RETIRED",
            "PUBLISHED UNTIL",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for k in keys.as_array().into_iter().flatten() {
        rows.push(vec![
            s(&k["kid"]),
            s(&k["alg"]),
            s(&k["state"]),
            s(&k["backend"]),
            date(&k["created_at"]),
            date(&k["retired_at"]),
            date(&k["publish_until"]),
        ]);
    }
    table(&rows)
}

/// After `user create`.
pub(super) fn created_user(u: &Value) -> String {
    format!(
        "Created user {:?} (user id {})\n",
        s(&u["username"]),
        s(&u["user_id"])
    )
}

/// `user show`.
pub(super) fn user_details(u: &Value) -> String {
    let mut out = String::new();
    for field in [
        "username",
        "user_id",
        "name",
        "email",
        "email_verified",
        "disabled",
    ] {
        let _ = writeln!(out, "{field:<15} {}", s(&u[field]));
    }
    let _ = writeln!(out, "{:<15} {}", "created_at", date(&u["created_at"]));
    out
}

/// `user list`.
pub(super) fn user_table(users: &Value) -> String {
    let mut rows = vec![
        ["USERNAME", "USER ID", "NAME", "EMAIL", "STATE", "CREATED"]
            .map(String::from)
            .to_vec(),
    ];
    for u in users.as_array().into_iter().flatten() {
        let email = match (&u["email"], u["email_verified"].as_bool()) {
            (Value::String(e), Some(true)) => format!("{e} (verified)"),
            (other, _) => s(other),
        };
        let state = if u["disabled"].as_bool() == Some(true) {
            "disabled"
        } else {
            "enabled"
        };
        rows.push(vec![
            s(&u["username"]),
            s(&u["user_id"]),
            s(&u["name"]),
            email,
            state.to_owned(),
            date(&u["created_at"]),
        ]);
    }
    table(&rows)
}

/// A user's remembered consents, one row per client.
pub(super) fn consent_table(consents: &Value) -> String {
    let mut rows = vec![
        ["CLIENT ID", "SCOPE", "RESOURCES", "GRANTED"]
            .map(String::from)
            .to_vec(),
    ];
    for c in consents.as_array().into_iter().flatten() {
        let resources: Vec<String> = c["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .map(s)
            .collect();
        rows.push(vec![
            s(&c["client_id"]),
            s(&c["scope"]),
            resources.join(" "),
            date(&c["granted_at"]),
        ]);
    }
    table(&rows)
}

fn count(n: &Value, one: &str, many: &str) -> String {
    match n.as_u64() {
        Some(1) => format!("1 {one}"),
        Some(n) => format!("{n} {many}"),
        None => format!("? {many}"),
    }
}

/// After `user passwd` and `user disable`: `what` the user, and what it ended.
pub(super) fn signed_out(what: &str, d: &Value) -> String {
    format!(
        "{what} user {}: {} ended, {} revoked\n",
        s(&d["username"]),
        count(&d["sessions_ended"], "session", "sessions"),
        count(
            &d["refresh_token_families_revoked"],
            "refresh-token family",
            "refresh-token families"
        ),
    )
}

/// After `user delete`.
pub(super) fn deleted_user(d: &Value) -> String {
    format!(
        "Deleted user {}: {} ended, {} revoked, {} forgotten\n",
        s(&d["username"]),
        count(&d["sessions_ended"], "session", "sessions"),
        count(
            &d["refresh_token_families_revoked"],
            "refresh-token family",
            "refresh-token families"
        ),
        count(&d["consents_forgotten"], "consent", "consents"),
    )
}
