//! An example resource server guarded by `gatehouse-validator`: it discovers the issuer, keeps
//! its keys fresh, and validates every bearer token locally (no call to the authorization
//! server per request). Unauthenticated calls get the RFC 9728 challenge MCP clients follow.
//! DPoP-bound tokens (RFC 9449) are taken as `Authorization: DPoP <token>` with a proof for this
//! server's URL (checked by the same layer: `ath`, `htm`, `htu`, the key in `cnf.jkt`, replay),
//! never as bearer tokens; `server/tests/dpop/client.mjs` (oauth4webapi) is such a client.
//!
//! ```text
//! cargo run -p resource-server -- --issuer http://127.0.0.1:8080 \
//!     --resource http://127.0.0.1:9090/mcp --allow-http-loopback
//! ```

use std::net::SocketAddr;
use std::sync::Arc;

use axum::routing::get;
use axum::{Extension, Json, Router};
use clap::Parser;
use gatehouse_token::AccessTokenClaims;
use gatehouse_validator::remote::layer::BearerAuthLayer;
use gatehouse_validator::remote::{RemoteSettings, RemoteValidator};
use serde_json::{Value, json};

/// A resource server that accepts Gatehouse access tokens.
#[derive(Debug, Parser)]
struct Args {
    /// The authorization server's issuer identifier.
    #[arg(long)]
    issuer: String,
    /// This server's resource identifier (tokens must name it in `aud`).
    #[arg(long)]
    resource: String,
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:9090")]
    listen: SocketAddr,
    /// A scope every request needs (repeatable).
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// Allow plain http to loopback addresses (development only).
    #[arg(long)]
    allow_http_loopback: bool,
}

/// The protected endpoint: says who called.
async fn whoami(Extension(claims): Extension<Arc<AccessTokenClaims>>) -> Json<Value> {
    Json(json!({
        "message": "hello from a protected resource",
        "sub": claims.sub,
        "client_id": claims.client_id,
        "scope": claims.scope,
    }))
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let mut settings = RemoteSettings::new(args.issuer, args.resource);
    settings.fetch.allow_http_loopback = args.allow_http_loopback;
    let remote = match RemoteValidator::discover(settings).await {
        Ok(remote) => remote,
        Err(e) => {
            eprintln!("resource-server: {e}");
            std::process::exit(1);
        }
    };
    let _refresh = remote.spawn_refresh();
    let scopes: Vec<&str> = args.scopes.iter().map(String::as_str).collect();
    let auth = BearerAuthLayer::new(remote).require_scopes(&scopes);
    println!(
        "resource server on http://{}, metadata at {}",
        args.listen,
        auth.metadata_url()
    );
    let app = Router::new().route("/mcp", get(whoami)).layer(auth);
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("resource-server: cannot listen on {}: {e}", args.listen);
            std::process::exit(1);
        }
    };
    if let Err(e) = axum::serve(listener, app).await {
        eprintln!("resource-server: {e}");
    }
}
