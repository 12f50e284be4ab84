//! An example MCP server: the `rmcp` SDK's streamable HTTP transport at `/mcp`, every request
//! guarded by `gatehouse-validator`'s [`BearerAuthLayer`] (tokens validated locally against the
//! issuer's JWKS, `aud` must be this server's resource URL). What an MCP client needs to find
//! its way to Gatehouse is served without a token:
//!
//! - a `401` with `WWW-Authenticate: Bearer resource_metadata="…"` (and `scope="…"` when
//!   `--scope` is given) on any call without a valid token;
//! - the RFC 9728 protected-resource metadata at both the path-inserted URL
//!   (`/.well-known/oauth-protected-resource/mcp`) and the root one
//!   (`/.well-known/oauth-protected-resource`), naming `--resource` byte for byte and the issuer;
//! - CORS (any origin, no credentials) on all of it, preflights included, for browser clients
//!   such as the MCP Inspector.
//!
//! Tools: `whoami` (the caller's `sub`, `client_id`, `scope` and `aud` from the access token) and
//! `add` (two integers).
//!
//! ```text
//! gatehouse resource create --uri http://127.0.0.1:9090/mcp --name "Example MCP server" \
//!     --scope "mcp:tools=Use the example tools" --default-scope mcp:tools
//! cargo run -p mcp-server -- --issuer http://127.0.0.1:8080 \
//!     --resource http://127.0.0.1:9090/mcp --scope mcp:tools --allow-http-loopback
//! ```
//!
//! Then point an MCP client (the MCP Inspector, Claude Code, `npx @modelcontextprotocol/inspector`)
//! at `http://127.0.0.1:9090/mcp`: it is sent to Gatehouse to register and sign in.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::{HeaderName, Method, header};
use axum::routing::get;
use axum::{Json, Router};
use clap::Parser;
use gatehouse_token::{AccessTokenClaims, Audience};
use gatehouse_validator::remote::layer::BearerAuthLayer;
use gatehouse_validator::remote::{RemoteSettings, RemoteValidator};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{ServerCapabilities, ServerConfig};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler, schemars, tool, tool_handler, tool_router};
use serde_json::{Value, json};
use tower_http::cors::{Any, CorsLayer};

/// An MCP server that accepts Gatehouse access tokens.
#[derive(Debug, Parser)]
struct Args {
    /// The authorization server's issuer identifier (byte for byte as it publishes it).
    #[arg(long)]
    issuer: String,
    /// This server's MCP endpoint URL, its resource identifier: tokens must name it in `aud`.
    /// Its path is where MCP is served.
    #[arg(long)]
    resource: String,
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:9090")]
    listen: SocketAddr,
    /// A scope every request needs (repeatable); named in challenges and the metadata.
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// Allow plain http to loopback addresses (development only).
    #[arg(long)]
    allow_http_loopback: bool,
}

/// The arguments of `add`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
struct AddArgs {
    /// The first addend.
    a: i64,
    /// The second addend.
    b: i64,
}

/// The MCP tools; one instance per MCP session.
#[derive(Debug, Clone)]
struct Tools {
    tool_router: ToolRouter<Self>,
}

/// The claims [`BearerAuthLayer`] put in the HTTP request that carried this MCP request.
fn claims(context: &RequestContext<RoleServer>) -> Result<Arc<AccessTokenClaims>, ErrorData> {
    context
        .extensions
        .get::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Arc<AccessTokenClaims>>())
        .cloned()
        .ok_or_else(|| ErrorData::internal_error("no validated access token", None))
}

#[tool_router]
impl Tools {
    fn new() -> Self {
        Self {
            tool_router: Self::tool_router(),
        }
    }

    /// Who is calling, as the access token says.
    #[tool(
        description = "Who is calling: the subject, client, scope and audience of the access token"
    )]
    #[expect(
        clippy::needless_pass_by_value,
        reason = "rmcp's tool router hands its extractors over by value"
    )]
    fn whoami(&self, context: RequestContext<RoleServer>) -> Result<String, ErrorData> {
        let claims = claims(&context)?;
        let aud = match &claims.aud {
            Audience::One(aud) => json!(aud),
            Audience::Many(auds) => json!(auds),
        };
        Ok(json!({
            "sub": claims.sub,
            "client_id": claims.client_id,
            "scope": claims.scope,
            "aud": aud,
        })
        .to_string())
    }

    /// The sum of two integers.
    #[tool(description = "Add two integers")]
    fn add(&self, Parameters(AddArgs { a, b }): Parameters<AddArgs>) -> Result<String, ErrorData> {
        a.checked_add(b)
            .map(|sum| sum.to_string())
            .ok_or_else(|| ErrorData::invalid_params("the sum overflows", None))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Tools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_instructions("An example MCP server behind Gatehouse: try whoami and add.")
    }
}

/// The RFC 9728 protected-resource metadata document.
fn metadata(settings: &RemoteSettings, scopes: &[String]) -> Value {
    let mut document = json!({
        "resource": settings.resource,
        "authorization_servers": [settings.issuer],
        "bearer_methods_supported": ["header"],
        "resource_name": "Gatehouse example MCP server",
    });
    if !scopes.is_empty() {
        document["scopes_supported"] = json!(scopes);
    }
    document
}

/// Any origin, no credentials; the headers MCP clients send and read.
fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST, Method::DELETE, Method::OPTIONS])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            HeaderName::from_static("mcp-protocol-version"),
            HeaderName::from_static("mcp-session-id"),
            HeaderName::from_static("mcp-method"),
            HeaderName::from_static("mcp-name"),
            HeaderName::from_static("last-event-id"),
        ])
        .expose_headers([
            header::WWW_AUTHENTICATE,
            HeaderName::from_static("mcp-session-id"),
            HeaderName::from_static("mcp-protocol-version"),
        ])
}

fn fail(message: &str) -> ! {
    eprintln!("mcp-server: {message}");
    std::process::exit(1);
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let resource = url::Url::parse(&args.resource)
        .unwrap_or_else(|e| fail(&format!("--resource {}: {e}", args.resource)));
    let mcp_path = resource.path().to_owned();
    let host = resource.host_str().unwrap_or_default().to_owned();

    let mut settings = RemoteSettings::new(args.issuer, args.resource);
    settings.fetch.allow_http_loopback = args.allow_http_loopback;
    let remote = RemoteValidator::discover(settings)
        .await
        .unwrap_or_else(|e| fail(&e.to_string()));
    let _refresh = remote.spawn_refresh();
    let document = metadata(remote.settings(), &args.scopes);
    let scopes: Vec<&str> = args.scopes.iter().map(String::as_str).collect();
    let auth = BearerAuthLayer::new(remote).require_scopes(&scopes);
    let metadata_path = url::Url::parse(auth.metadata_url())
        .map(|u| u.path().to_owned())
        .unwrap_or_else(|e| fail(&format!("protected-resource metadata URL: {e}")));

    // rmcp checks `Host` against this list (DNS rebinding): the resource's host, and loopback.
    let config = StreamableHttpServerConfig::default().with_allowed_hosts([
        host,
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ]);
    let mcp = StreamableHttpService::new(
        || Ok(Tools::new()),
        LocalSessionManager::default().into(),
        config,
    );
    let prm = get(move || {
        let document = document.clone();
        async move { Json(document) }
    });
    let app = Router::new()
        .route_service(&mcp_path, mcp)
        .route_layer(auth)
        .route(&metadata_path, prm.clone())
        .route("/.well-known/oauth-protected-resource", prm)
        .layer(cors());

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .unwrap_or_else(|e| fail(&format!("cannot listen on {}: {e}", args.listen)));
    println!(
        "MCP server on http://{}{mcp_path}, metadata at {metadata_path}",
        args.listen
    );
    if let Err(e) = axum::serve(listener, app).await {
        fail(&e.to_string());
    }
}
