//! The Gatehouse server: an OAuth 2.1 authorization server and token validation engine. The
//! `gatehouse` binary is a thin `main` around [`cli::main`].
//!
//! # Layout
//! The edge only: extract, call `core`, render; the wiring, the configuration and the CLI.
//! - [`serve`]: building the application from its ports and serving it; [`state`]: the
//!   composition root and one state part per endpoint group; [`app`]: the public router.
//! - [`routes`]: one module per endpoint; [`form`]: the form-request extractor; [`error`]: the
//!   single mapping of `core` errors to HTTP; [`catch_panic`]: a panicking handler answers 500.
//! - [`authenticate`]: client authentication under the credential-guessing limit
//!   ([`throttle`]); [`validate`]: a presented token and its client.
//! - [`clients`]: the clients every endpoint sees: stored ones and those identified by a
//!   metadata document URL (fetched, validated, cached).
//! - [`changes`]: the one write path of each change every node must see (durable, local,
//!   published).
//! - [`admin`]: the admin API; [`cli`]: the command line, which talks to it.
//! - [`keys`]: carries out `core`'s key rotation plan; [`signing`]: `core`'s signer port;
//!   [`trust`]: `core`'s assertion verifier (our tokens, trusted external issuers' JWTs).
//! - [`dpop`]: DPoP proofs at the token and PAR endpoints (RFC 9449).
//! - [`runtime`]: the listeners and their connections (timeouts, limits, shutdown), the
//!   periodic work and the readiness probe.
//! - [`config`]: configuration (defaults, TOML file, `GATEHOUSE_*` environment), one module per
//!   section.
//! - [`system`]: the real clock and randomness.

pub mod admin;
pub mod alarms;
pub mod app;
pub mod authenticate;
pub mod catch_panic;
pub mod changes;
pub mod cli;
pub mod client_certificate;
pub mod clients;
pub mod config;
pub mod dpop;
pub mod error;
pub mod form;
pub mod keys;
pub mod pages;
pub mod resources;
pub mod routes;
pub mod runtime;
pub mod serve;
pub mod signing;
pub mod state;
pub mod system;
pub mod throttle;
pub mod trust;
pub mod validate;

/// Replaces the default panic report (message and backtrace on stderr) with one log line that
/// names where it happened and nothing else: a panic message can carry request data (a token,
/// a secret), and no input of the network should reach the log that way. A panic in a handler
/// also answers 500 ([`app`]); this only decides what the log says.
fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!(%location, "a task panicked (its message is not logged: it may carry request data)");
    }));
}

/// Starts the logger and the runtime and runs the server; the exit code.
pub fn run_server(config: config::Config, json: bool) -> i32 {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| config.log.clone());
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    quiet_panics();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("gatehouse: cannot start the runtime: {e}");
            return 1;
        }
    };
    let result = runtime.block_on(serve::run(config, json));
    // Whatever is still running (a blocking store or HSM call) gets a moment, not a veto: the
    // shutdown deadline has passed already.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("gatehouse: {e}");
            1
        }
    }
}
