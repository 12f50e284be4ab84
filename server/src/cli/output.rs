//! Human-readable renderings of admin API answers.

use std::fmt::Write as _;

use serde_json::Value;

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
    let _ = writeln!(out, "  client_secret: {}", s(&c["client_secret"]));
    out.push_str("  (the secret is shown only now: store it safely)\n");
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
    ] {
        let _ = writeln!(out, "{field:<22} {}", s(&c[field]));
    }
    let _ = writeln!(out, "{:<22} {}", "created_at", date(&c["created_at"]));
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
