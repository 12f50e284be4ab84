//! `gatehouse device`: the device authorization grant (RFC 8628) from a terminal, with the
//! `oauth2` crate as the client. It reads the server's metadata (RFC 8414), asks for a device
//! code, prints the user code and where to enter it, polls at the interval (growing by 5 s on
//! each `slow_down`, RFC 8628 §3.5), and prints the token response.
//!
//! Everything the server sent is printed through [`printable`]: a server (or whoever answers
//! for it) could otherwise send terminal escape sequences in a user code or an error
//! description that rewrite the URL the person reads; and the verification URI must be an
//! http(s) URL ([`web_url`]).

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
    CliError::Device(printable(&format!("{what}: {e}")))
}

/// `text` with every character a terminal could act on shown escaped (`\u{1b}`) instead:
/// control characters (C0 including ESC, DEL, C1 including CSI), and the invisible characters
/// that reorder or hide text (bidirectional overrides and isolates, zero-width ones, line and
/// paragraph separators, the byte order mark).
pub(super) fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let hidden = c.is_control()
            || matches!(c, '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}');
        if hidden {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// A URL the server gave for the person to open (RFC 8628 §3.2 `verification_uri`,
/// `verification_uri_complete`), as printed: only an absolute `http` or `https` URL with a host
/// is accepted, serialized by the URL parser (which percent-encodes what is not printable).
pub(super) fn web_url(text: &str) -> Option<String> {
    let url = url::Url::parse(text).ok()?;
    (matches!(url.scheme(), "https" | "http") && url.host().is_some())
        .then(|| printable(url.as_str()))
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
    let open = web_url(details.verification_uri().as_str()).ok_or_else(|| {
        fail(
            "device authorization",
            "the verification_uri is not an http(s) URL",
        )
    })?;
    eprintln!(
        "To sign in, open {open} and enter the code {}",
        printable(details.user_code().secret())
    );
    if let Some(complete) = details
        .verification_uri_complete()
        .and_then(|c| web_url(c.secret()))
    {
        eprintln!("(or open {complete})");
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
            printable(a["access_token"].as_str().unwrap_or("")),
            a["expires_in"]
        );
        if let Some(scope) = a["scope"].as_str() {
            out.push_str(&format!("scope: {}\n", printable(scope)));
        }
        if let Some(refresh) = a["refresh_token"].as_str() {
            out.push_str(&format!("refresh_token: {}\n", printable(refresh)));
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

#[cfg(test)]
mod tests {
    use super::*;

    /// F13: what the server sends is shown, never obeyed by the terminal.
    #[test]
    fn escape_sequences_and_invisible_characters_are_shown_escaped() {
        assert_eq!(printable("BDWP-HQPK"), "BDWP-HQPK");
        assert_eq!(printable("héllo wörld ✓"), "héllo wörld ✓");
        // An ESC sequence moving the cursor up and clearing the line, then a fake URL.
        let evil = "ABCD\u{1b}[1A\u{1b}[2Khttps://evil.example";
        let shown = printable(evil);
        assert!(!shown.contains('\u{1b}'), "{shown}");
        assert_eq!(shown, "ABCD\\u{1b}[1A\\u{1b}[2Khttps://evil.example");
        for c in [
            '\n', '\r', '\t', '\u{7}', '\u{7f}', '\u{9b}', '\u{202e}', '\u{2066}', '\u{200b}',
            '\u{feff}', '\u{2028}',
        ] {
            let shown = printable(&format!("a{c}b"));
            assert!(!shown.contains(c), "{c:?}: {shown}");
            assert!(
                shown.starts_with("a\\u{") && shown.ends_with("}b"),
                "{shown}"
            );
        }
        assert!(
            printable(&"\u{1b}".repeat(10_000))
                .chars()
                .all(|c| !c.is_control())
        );
    }

    #[test]
    fn only_http_urls_are_given_to_open() {
        assert_eq!(
            web_url("https://auth.example/device").as_deref(),
            Some("https://auth.example/device")
        );
        assert_eq!(
            web_url("http://127.0.0.1:8080/device?user_code=BDWP-HQPK").as_deref(),
            Some("http://127.0.0.1:8080/device?user_code=BDWP-HQPK")
        );
        for bad in [
            "javascript:alert(1)",
            "file:///etc/passwd",
            "data:text/html,hi",
            "/device",
            "device",
            "",
            "https://",
        ] {
            assert_eq!(web_url(bad), None, "{bad}");
        }
        // Control characters in the path come out percent-encoded, never raw.
        let shown = web_url("https://auth.example/dev\u{1b}[2Kice").unwrap();
        assert!(!shown.contains('\u{1b}'), "{shown}");
    }
}
