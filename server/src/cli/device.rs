//! `gatehouse device`: the device authorization grant (RFC 8628) from a terminal, with the
//! `oauth2` crate as the client. It reads the server's metadata (RFC 8414), asks for a device
//! code, prints the user code and where to enter it, polls at the interval (growing by 5 s on
//! each `slow_down`, RFC 8628 §3.5), and prints the token response.

use std::time::Duration;

use clap::Args;
use oauth2::basic::BasicClient;
use oauth2::{
    ClientId, ClientSecret, DeviceAuthorizationUrl, RequestTokenError, Scope,
    StandardDeviceAuthorizationResponse, TokenResponse, TokenUrl,
};
use serde_json::{Value, json};

use super::admin_client::CliError;
use super::print;
use crate::config::Config;

/// The arguments of `gatehouse device`.
#[derive(Debug, Args)]
pub(super) struct DeviceArgs {
    /// The client id (a client given the grant
    /// `urn:ietf:params:oauth:grant-type:device_code`).
    #[arg(long)]
    client_id: String,
    /// The environment variable holding the client's secret, for a confidential client (a
    /// secret on the command line would be visible to every user of the machine).
    #[arg(long, value_name = "VAR")]
    client_secret_env: Option<String>,
    /// The scope to ask for, space-delimited (default: what the client may have).
    #[arg(long)]
    scope: Option<String>,
    /// The resource (RFC 8707) the token is for (default: the client's).
    #[arg(long)]
    resource: Option<String>,
    /// The authorization server (default: `issuer` from the configuration).
    #[arg(long)]
    issuer: Option<String>,
}

fn fail(what: &str, e: impl std::fmt::Display) -> CliError {
    CliError::Device(format!("{what}: {e}"))
}

/// Runs the flow; the token response is printed (as JSON with `--json`).
pub(super) fn run(args: DeviceArgs, config: &Config, json_mode: bool) -> Result<(), CliError> {
    let issuer = args.issuer.unwrap_or_else(|| config.issuer.clone());
    let http = oauth2::reqwest::blocking::Client::builder()
        .redirect(oauth2::reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| fail("HTTP client", e))?;
    let metadata_url = format!(
        "{}{}",
        issuer.trim_end_matches('/'),
        gatehouse_core::discovery::paths::OAUTH_METADATA
    );
    let metadata: Value = http
        .get(&metadata_url)
        .send()
        .and_then(|r| r.error_for_status())
        .and_then(|r| r.json())
        .map_err(|e| fail(&format!("reading {metadata_url}"), e))?;
    let endpoint = |name: &str| {
        metadata[name]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| fail("the server's metadata", format!("no {name}")))
    };
    let device_url = DeviceAuthorizationUrl::new(endpoint("device_authorization_endpoint")?)
        .map_err(|e| fail("device_authorization_endpoint", e))?;
    let token_url =
        TokenUrl::new(endpoint("token_endpoint")?).map_err(|e| fail("token_endpoint", e))?;
    let mut client = BasicClient::new(ClientId::new(args.client_id))
        .set_device_authorization_url(device_url)
        .set_token_uri(token_url);
    if let Some(var) = &args.client_secret_env {
        let secret =
            std::env::var(var).map_err(|_| fail("client secret", format!("{var} is not set")))?;
        client = client.set_client_secret(ClientSecret::new(secret));
    }
    let mut request = client.exchange_device_code();
    if let Some(scope) = &args.scope {
        request = request.add_scopes(scope.split_whitespace().map(|s| Scope::new(s.to_owned())));
    }
    if let Some(resource) = &args.resource {
        request = request.add_extra_param("resource", resource.clone());
    }
    let details: StandardDeviceAuthorizationResponse = request
        .request(&http)
        .map_err(|e| fail("device authorization", describe(&e)))?;
    // The person reads this on the terminal (stderr, so stdout stays the token response).
    eprintln!(
        "To sign in, open {} and enter the code {}",
        details.verification_uri().as_str(),
        details.user_code().secret()
    );
    if let Some(complete) = details.verification_uri_complete() {
        eprintln!("(or open {})", complete.secret());
    }
    eprintln!(
        "Waiting for approval (the code expires in {} s)...",
        details.expires_in().as_secs()
    );
    let token = client
        .exchange_device_access_token(&details)
        .request(&http, std::thread::sleep, None)
        .map_err(|e| fail("polling the token endpoint", describe(&e)))?;
    let answer = json!({
        "access_token": token.access_token().secret(),
        "token_type": token.token_type().as_ref(),
        "expires_in": token.expires_in().map(|d| d.as_secs()),
        "scope": token.scopes().map(|s| s.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(" ")),
        "refresh_token": token.refresh_token().map(|r| r.secret().as_str()),
    });
    print(json_mode, &answer, |a| {
        let mut out = format!(
            "Signed in.\naccess_token: {}\nexpires_in: {} s\n",
            a["access_token"].as_str().unwrap_or(""),
            a["expires_in"]
        );
        if let Some(scope) = a["scope"].as_str() {
            out.push_str(&format!("scope: {scope}\n"));
        }
        if let Some(refresh) = a["refresh_token"].as_str() {
            out.push_str(&format!("refresh_token: {refresh}\n"));
        }
        out
    })
}

/// An error of the `oauth2` crate in words: the server's `error` and description when it sent
/// one.
fn describe<RE: std::error::Error, T: oauth2::ErrorResponse + std::fmt::Display>(
    e: &RequestTokenError<RE, T>,
) -> String {
    match e {
        RequestTokenError::ServerResponse(r) => r.to_string(),
        RequestTokenError::Request(e) => format!("request failed: {e}"),
        RequestTokenError::Parse(e, _) => format!("unreadable answer: {e}"),
        RequestTokenError::Other(e) => e.clone(),
    }
}
