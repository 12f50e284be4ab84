//! The command line: `gatehouse serve`, and `client` / `user` / `keys` / `resource` commands that talk to a
//! running server's admin API. Every command prints JSON with `--json`.

mod admin_client;
mod device;
mod output;
mod resources;
mod users;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::{Value, json};

use crate::config::{Config, parse_duration};
use admin_client::{AdminClient, CliError};

/// Gatehouse: an OAuth 2.1 authorization server and token validation engine.
#[derive(Debug, Parser)]
#[command(name = "gatehouse", version, about)]
pub struct Cli {
    /// Configuration file (TOML). Without one, embedded defaults apply; `GATEHOUSE_*`
    /// environment variables override both.
    #[arg(long, global = true, env = "GATEHOUSE_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// The admin API to talk to (default: `http://` + `admin.listen` from the configuration).
    #[arg(long, global = true, value_name = "URL")]
    admin_url: Option<String>,
    /// Print machine-readable JSON.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve,
    /// Manage clients (through the running server's admin API).
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage user accounts (through the running server's admin API).
    #[command(subcommand)]
    User(users::UserCommand),
    /// Manage signing keys (through the running server's admin API).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage the registry of protected resources (through the running server's admin API).
    #[command(subcommand)]
    Resource(resources::ResourceCommand),
    /// Sign in from this terminal with the device authorization grant (RFC 8628): prints a
    /// code to enter in a browser, waits for approval, prints the tokens.
    Device(device::DeviceArgs),
}

#[derive(Debug, Subcommand)]
enum ClientCommand {
    /// Register a client and print its id and secret (the secret is shown only this once; a
    /// public client has none).
    Create(Box<CreateArgs>),
    /// List clients.
    List,
    /// Show one client.
    Show {
        /// The client id (a generated one may begin with `-`).
        #[arg(allow_hyphen_values = true)]
        client_id: String,
    },
    /// Delete a client.
    Delete {
        /// The client id (a generated one may begin with `-`).
        #[arg(allow_hyphen_values = true)]
        client_id: String,
    },
}

#[derive(Debug, Args)]
struct CreateArgs {
    /// A human-readable name.
    #[arg(long)]
    name: String,
    /// A grant type the client may use (repeatable): client_credentials, authorization_code,
    /// refresh_token, urn:ietf:params:oauth:grant-type:token-exchange (RFC 8693),
    /// urn:ietf:params:oauth:grant-type:jwt-bearer (RFC 7523, ID-JAGs),
    /// urn:ietf:params:oauth:grant-type:device_code (RFC 8628, devices and CLIs). Default:
    /// authorization_code and refresh_token for a public client or one with redirect URIs, else
    /// client_credentials.
    #[arg(long = "grant-type", value_name = "GRANT_TYPE")]
    grant_types: Vec<String>,
    /// A public client (a browser or native app, an MCP client): no secret; it proves each
    /// code flow with PKCE instead (`token_endpoint_auth_method` `none`).
    #[arg(long, conflicts_with = "auth_method")]
    public: bool,
    /// How the client authenticates (`token_endpoint_auth_method`): client_secret_basic (the
    /// default: a generated secret), private_key_jwt (a JWT signed with its private key, RFC
    /// 7523; give --jwks-file or --jwks-uri), none (as --public), tls_client_auth (a CA-issued
    /// certificate with the subject given by one --tls-* option, RFC 8705 §2.1) or
    /// self_signed_tls_client_auth (a self-signed certificate in its JWK set's x5c, given by
    /// --jwks-file, RFC 8705 §2.2).
    #[arg(long, value_name = "METHOD")]
    auth_method: Option<String>,
    /// private_key_jwt, self_signed_tls_client_auth: a file holding the client's public keys, a
    /// JWK set (`{"keys": [...]}`).
    #[arg(long, value_name = "FILE", conflicts_with = "jwks_uri")]
    jwks_file: Option<std::path::PathBuf>,
    /// private_key_jwt: the https URL where the client publishes its public keys.
    #[arg(long, value_name = "URL")]
    jwks_uri: Option<String>,
    /// tls_client_auth: the certificate's subject DN, as an RFC 4514 string
    /// ("CN=payments,O=Example,C=SE").
    #[arg(long, value_name = "DN", group = "tls_subject")]
    tls_subject_dn: Option<String>,
    /// tls_client_auth: a dNSName SAN of the certificate.
    #[arg(long, value_name = "NAME", group = "tls_subject")]
    tls_san_dns: Option<String>,
    /// tls_client_auth: a URI SAN of the certificate.
    #[arg(long, value_name = "URI", group = "tls_subject")]
    tls_san_uri: Option<String>,
    /// tls_client_auth: an IP address SAN of the certificate.
    #[arg(long, value_name = "IP", group = "tls_subject")]
    tls_san_ip: Option<String>,
    /// tls_client_auth: an email (rfc822Name) SAN of the certificate.
    #[arg(long, value_name = "EMAIL", group = "tls_subject")]
    tls_san_email: Option<String>,
    /// Where authorization responses may be sent (repeatable; required with
    /// authorization_code); matched exactly, except the port of a loopback URI.
    #[arg(long = "redirect-uri", value_name = "URI")]
    redirect_uris: Vec<String>,
    /// Where a person may be sent after signing out at the client's request (repeatable;
    /// OIDC RP-Initiated Logout), matched exactly.
    #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
    post_logout_redirect_uris: Vec<String>,
    /// The client must push its authorization requests first (PAR, RFC 9126).
    #[arg(long)]
    require_par: bool,
    /// The client's access tokens are always DPoP-bound: token requests without a DPoP proof
    /// are refused (RFC 9449 §5.2 `dpop_bound_access_tokens`).
    #[arg(long)]
    dpop: bool,
    /// The client's access tokens are bound to its TLS client certificate (RFC 8705 §3.4
    /// `tls_client_certificate_bound_access_tokens`).
    #[arg(long)]
    certificate_bound: bool,
    /// The security profile the client is held to: oauth2.1 (the default) or fapi2 (the FAPI
    /// 2.0 Security Profile: PAR, private_key_jwt or mutual TLS with ES256/PS256 keys,
    /// sender-constrained tokens).
    #[arg(long, value_name = "PROFILE")]
    security_profile: Option<String>,
    /// The scope the client may be granted, space-delimited.
    #[arg(long, default_value = "")]
    scope: String,
    /// A resource (RFC 8707) the client may get tokens for (repeatable; the first is the default).
    #[arg(long = "resource", required = true)]
    resources: Vec<String>,
    /// Access-token lifetime: seconds, or 90s, 5m, 1h, 2d (default: the server's).
    #[arg(long, value_parser = parse_duration)]
    access_token_lifetime: Option<u64>,
    /// Access-token format.
    #[arg(long, value_enum, default_value_t = Format::Jwt)]
    token_format: Format,
    /// Let the client use the introspection endpoint (a resource server): for tokens whose
    /// audience is one of its resources (`--introspect`, or `--introspect resources`), or for
    /// any token (`--introspect any`).
    #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "resources", value_name = "WHICH")]
    introspect: Option<IntrospectArg>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum IntrospectArg {
    Resources,
    Any,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Jwt,
    Opaque,
}

#[derive(Debug, Clone, Copy, Subcommand)]
enum KeysCommand {
    /// List signing keys with their state.
    List,
    /// Make a new key active now; the old one stays published until its tokens expire.
    Rotate,
}

/// Runs the command line; the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("gatehouse: {e}");
            return 2;
        }
    };
    match cli.command {
        Command::Serve => crate::run_server(config, cli.json),
        Command::Client(cmd) => report(client(cmd, &config, cli.admin_url, cli.json)),
        Command::User(cmd) => report(users::run(cmd, &config, cli.admin_url, cli.json)),
        Command::Keys(cmd) => report(keys(cmd, &config, cli.admin_url, cli.json)),
        Command::Resource(cmd) => report(resources::run(cmd, &config, cli.admin_url, cli.json)),
        Command::Device(args) => report(device::run(args, &config, cli.json)),
    }
}

fn report(result: Result<(), CliError>) -> i32 {
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("gatehouse: {e}");
            1
        }
    }
}

/// Writes the answer to stdout; a closed pipe (`| head`) is an error to report, not a panic.
fn print(
    json_mode: bool,
    value: &Value,
    human: impl FnOnce(&Value) -> String,
) -> Result<(), CliError> {
    use std::io::Write as _;
    let text = if json_mode {
        format!(
            "{}\n",
            serde_json::to_string_pretty(value).unwrap_or_default()
        )
    } else {
        human(value)
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| CliError::Output(e.to_string()))
}

fn client(
    cmd: ClientCommand,
    config: &Config,
    url: Option<String>,
    json_mode: bool,
) -> Result<(), CliError> {
    let admin = AdminClient::new(config, url)?;
    match cmd {
        ClientCommand::Create(args) => {
            let grant_types = if !args.grant_types.is_empty() {
                args.grant_types
            } else if args.public || !args.redirect_uris.is_empty() {
                vec!["authorization_code".to_owned(), "refresh_token".to_owned()]
            } else {
                vec!["client_credentials".to_owned()]
            };
            let mut body = json!({
                "name": args.name,
                "grant_types": grant_types,
                "scope": args.scope,
                "resources": args.resources,
                "access_token_lifetime": args.access_token_lifetime,
                "token_format": match args.token_format { Format::Jwt => "jwt", Format::Opaque => "opaque" },
                "introspection": match args.introspect {
                    None => "none",
                    Some(IntrospectArg::Resources) => "resources",
                    Some(IntrospectArg::Any) => "any",
                },
            });
            // Only what was asked for: a server that predates these members refuses them.
            if args.public {
                body["token_endpoint_auth_method"] = json!("none");
            }
            if let Some(method) = &args.auth_method {
                body["token_endpoint_auth_method"] = json!(method);
            }
            if let Some(path) = &args.jwks_file {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    CliError::Output(format!("reading the JWK set {}: {e}", path.display()))
                })?;
                let jwks: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                    CliError::Output(format!("{} is not JSON: {e}", path.display()))
                })?;
                body["jwks"] = jwks;
            }
            if let Some(uri) = &args.jwks_uri {
                body["jwks_uri"] = json!(uri);
            }
            for (member, value) in [
                ("tls_client_auth_subject_dn", &args.tls_subject_dn),
                ("tls_client_auth_san_dns", &args.tls_san_dns),
                ("tls_client_auth_san_uri", &args.tls_san_uri),
                ("tls_client_auth_san_ip", &args.tls_san_ip),
                ("tls_client_auth_san_email", &args.tls_san_email),
            ] {
                if let Some(value) = value {
                    body[member] = json!(value);
                }
            }
            if !args.redirect_uris.is_empty() {
                body["redirect_uris"] = json!(args.redirect_uris);
            }
            if !args.post_logout_redirect_uris.is_empty() {
                body["post_logout_redirect_uris"] = json!(args.post_logout_redirect_uris);
            }
            if args.require_par {
                body["require_pushed_authorization_requests"] = json!(true);
            }
            if args.dpop {
                body["dpop_bound_access_tokens"] = json!(true);
            }
            if args.certificate_bound {
                body["tls_client_certificate_bound_access_tokens"] = json!(true);
            }
            if let Some(profile) = &args.security_profile {
                body["security_profile"] = json!(profile);
            }
            let created = admin.post("/admin/clients", &body)?;
            // The secret exists only in this answer: if it cannot be shown, say how to recover.
            print(json_mode, &created, output::created_client).map_err(|e| {
                CliError::Output(format!(
                    "{e}; client {} was created but its secret could not be shown: delete it and create it again",
                    created["client_id"].as_str().unwrap_or("?")
                ))
            })?;
        }
        ClientCommand::List => {
            let clients = admin.get("/admin/clients")?;
            print(json_mode, &clients, output::client_table)?;
        }
        ClientCommand::Show { client_id } => {
            let client = admin.get(&format!(
                "/admin/clients/{}",
                admin_client::segment(&client_id)
            ))?;
            print(json_mode, &client, output::client_details)?;
        }
        ClientCommand::Delete { client_id } => {
            let done = admin.delete(&format!(
                "/admin/clients/{}",
                admin_client::segment(&client_id)
            ))?;
            print(json_mode, &done, output::deleted_client)?;
        }
    }
    Ok(())
}

fn keys(
    cmd: KeysCommand,
    config: &Config,
    url: Option<String>,
    json_mode: bool,
) -> Result<(), CliError> {
    let admin = AdminClient::new(config, url)?;
    match cmd {
        KeysCommand::List => {
            let keys = admin.get("/admin/keys")?;
            print(json_mode, &keys, output::key_table)?;
        }
        KeysCommand::Rotate => {
            let key = admin.post("/admin/keys/rotate", &json!({}))?;
            print(json_mode, &key, |k| {
                format!(
                    "Rotated: {} ({}) is now active; the previous key stays published until its tokens expire\n",
                    k["kid"].as_str().unwrap_or(""),
                    k["alg"].as_str().unwrap_or("")
                )
            })?;
        }
    }
    Ok(())
}
