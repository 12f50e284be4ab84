//! A small blocking client of the admin API.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::blocking::{Client, RequestBuilder};
use serde_json::Value;

use crate::config::Config;
use crate::serve::admin_token_path;

/// A CLI failure, printed as one line.
#[derive(Debug, thiserror::Error)]
pub(super) enum CliError {
    /// The admin credential could not be found.
    #[error("no admin token: {0}")]
    Token(String),
    /// The server could not be reached.
    #[error(
        "cannot reach the admin API at {url}: {reason} (is `gatehouse serve` running with the same configuration?)"
    )]
    Unreachable {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The password could not be read.
    #[error("password: {0}")]
    Password(String),
    /// The device flow failed (`gatehouse device`): which step, and why.
    #[error("{0}")]
    Device(String),
    /// The answer could not be written to stdout.
    #[error("cannot write the answer: {0}")]
    Output(String),
    /// The server refused the request.
    #[error("{error}: {description}")]
    Refused {
        /// The error code.
        error: String,
        /// Its description.
        description: String,
    },
}

/// The admin API of one server.
#[derive(Debug)]
pub(super) struct AdminClient {
    base: String,
    token: String,
    http: Client,
}

/// Percent-encodes one path segment.
pub(super) fn segment(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

impl AdminClient {
    /// The admin API named by `url`, or by the configuration's `admin.listen`.
    pub(super) fn new(config: &Config, url: Option<String>) -> Result<Self, CliError> {
        let token = match &config.admin.token {
            Some(token) => token.clone(),
            None => {
                let path = admin_token_path(&config.data_dir);
                std::fs::read_to_string(&path)
                    .map(|t| t.trim().to_owned())
                    .map_err(|e| {
                        CliError::Token(format!(
                            "cannot read {}: {e}; run the CLI with the server's configuration (data_dir), or set GATEHOUSE_ADMIN__TOKEN",
                            path.display()
                        ))
                    })?
            }
        };
        let base = url.unwrap_or_else(|| format!("http://{}", config.admin.listen));
        // Never through a proxy: the admin token (and, for `client create`, new secrets) must
        // go straight to the admin API, whatever HTTP_PROXY or ALL_PROXY say.
        let http = Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| CliError::Unreachable {
                url: base.clone(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            token,
            http,
        })
    }

    fn send(&self, request: RequestBuilder) -> Result<Option<Value>, CliError> {
        let response =
            request
                .bearer_auth(&self.token)
                .send()
                .map_err(|e| CliError::Unreachable {
                    url: self.base.clone(),
                    reason: e.to_string(),
                })?;
        let status = response.status();
        if status == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        let body: Value = response.json().map_err(|e| CliError::Unreachable {
            url: self.base.clone(),
            reason: format!("unexpected answer ({status}): {e}"),
        })?;
        if !status.is_success() {
            return Err(CliError::Refused {
                error: body["error"].as_str().unwrap_or("error").to_owned(),
                description: body["error_description"].as_str().unwrap_or("").to_owned(),
            });
        }
        Ok(Some(body))
    }

    /// `GET path`.
    pub(super) fn get(&self, path: &str) -> Result<Value, CliError> {
        Ok(self
            .send(self.http.get(format!("{}{path}", self.base)))?
            .unwrap_or_default())
    }

    /// `POST path` with a JSON body.
    pub(super) fn post(&self, path: &str, body: &Value) -> Result<Value, CliError> {
        Ok(self
            .send(self.http.post(format!("{}{path}", self.base)).json(body))?
            .unwrap_or_default())
    }

    /// `DELETE path`.
    pub(super) fn delete(&self, path: &str) -> Result<Value, CliError> {
        Ok(self
            .send(self.http.delete(format!("{}{path}", self.base)))?
            .unwrap_or_default())
    }
}
