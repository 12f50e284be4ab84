//! `gatehouse resource ...`: the registry of protected resources through the admin API.

use clap::Subcommand;
use serde_json::{Value, json};

use super::admin_client::{AdminClient, CliError, segment};
use super::{Format, print};
use crate::config::{Config, parse_duration};

#[derive(Debug, Subcommand)]
pub(super) enum ResourceCommand {
    /// Register a protected resource (an MCP server, an API): the audience of its tokens and
    /// the scopes it understands.
    Create {
        /// Its resource indicator (RFC 8707), e.g. https://mcp.example.com/mcp; stored in
        /// canonical form.
        #[arg(long)]
        uri: String,
        /// A human-readable name (default: the URI).
        #[arg(long)]
        name: Option<String>,
        /// A scope it understands, with what it allows as the consent page shows it
        /// (repeatable): `tools="Call the tools"`, or just `tools`.
        #[arg(long = "scope", value_name = "NAME[=DESCRIPTION]")]
        scopes: Vec<String>,
        /// A scope a request without `scope` gets (repeatable; one of --scope).
        #[arg(long = "default-scope", value_name = "NAME")]
        default_scopes: Vec<String>,
        /// Its access-token format (default: each client's).
        #[arg(long, value_enum)]
        token_format: Option<Format>,
        /// The longest lifetime of its access tokens: seconds, or 90s, 5m, 1h.
        #[arg(long, value_parser = parse_duration)]
        access_token_lifetime: Option<u64>,
        /// Only sender-constrained tokens (DPoP, mTLS) for it: never a bearer token.
        #[arg(long)]
        require_sender_constrained: bool,
    },
    /// List the registered resources.
    List,
    /// Show one resource.
    Show {
        /// Its URI.
        uri: String,
    },
    /// Delete a resource (registered through the CLI or admin API).
    Delete {
        /// Its URI.
        uri: String,
    },
}

fn scope_entry(text: &str) -> Value {
    match text.split_once('=') {
        Some((name, description)) => json!({"name": name, "description": description}),
        None => json!({"name": text}),
    }
}

fn human(r: &Value) -> String {
    let scopes: Vec<String> = r["scopes"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| {
                    let (n, d) = (
                        s["name"].as_str().unwrap_or_default(),
                        s["description"].as_str().unwrap_or_default(),
                    );
                    if d.is_empty() {
                        n.to_owned()
                    } else {
                        format!("{n} ({d})")
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let mut flags = Vec::new();
    if r["default"] == true {
        flags.push("default");
    }
    if r["configured"] == true {
        flags.push("from the configuration file");
    }
    let flags = if flags.is_empty() {
        String::new()
    } else {
        format!(" [{}]", flags.join(", "))
    };
    format!(
        "{}{flags}\n  name: {}\n  scopes: {}\n  default scopes: {}\n",
        r["uri"].as_str().unwrap_or_default(),
        r["name"].as_str().unwrap_or_default(),
        if scopes.is_empty() {
            "-".into()
        } else {
            scopes.join(", ")
        },
        r["default_scope"]
            .as_str()
            .filter(|s| !s.is_empty())
            .unwrap_or("-"),
    )
}

pub(super) fn run(
    cmd: ResourceCommand,
    config: &Config,
    url: Option<String>,
    json_mode: bool,
) -> Result<(), CliError> {
    let admin = AdminClient::new(config, url)?;
    match cmd {
        ResourceCommand::Create {
            uri,
            name,
            scopes,
            default_scopes,
            token_format,
            access_token_lifetime,
            require_sender_constrained,
        } => {
            let mut body = json!({
                "uri": uri,
                "scopes": scopes.iter().map(|s| scope_entry(s)).collect::<Vec<_>>(),
                "default_scopes": default_scopes,
                "require_sender_constrained": require_sender_constrained,
            });
            if let Some(name) = name {
                body["name"] = json!(name);
            }
            if let Some(format) = token_format {
                body["token_format"] = json!(match format {
                    Format::Jwt => "jwt",
                    Format::Opaque => "opaque",
                });
            }
            if let Some(lifetime) = access_token_lifetime {
                body["access_token_lifetime"] = json!(lifetime);
            }
            let created = admin.post("/admin/resources", &body)?;
            print(json_mode, &created, human)?;
        }
        ResourceCommand::List => {
            let all = admin.get("/admin/resources")?;
            print(json_mode, &all, |all| {
                let list = all.as_array().map(Vec::as_slice).unwrap_or_default();
                if list.is_empty() {
                    "no resources registered\n".into()
                } else {
                    list.iter().map(human).collect()
                }
            })?;
        }
        ResourceCommand::Show { uri } => {
            let r = admin.get(&format!("/admin/resources/{}", segment(&uri)))?;
            print(json_mode, &r, human)?;
        }
        ResourceCommand::Delete { uri } => {
            let done = admin.delete(&format!("/admin/resources/{}", segment(&uri)))?;
            print(json_mode, &done, |d| {
                format!("deleted {}\n", d["uri"].as_str().unwrap_or_default())
            })?;
        }
    }
    Ok(())
}
