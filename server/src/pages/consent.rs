//! The consent page, and scopes in words.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatehouse_core::client::metadata_document::DocumentUrl;
use gatehouse_core::client::{Client, ClientOrigin};

use super::look::Look;
use super::render::{self, source_of};

/// A scope as a person reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeLine {
    /// The scope as requested, e.g. `offline_access`.
    pub name: String,
    /// What it allows, in words; the name itself for a scope with no words.
    pub description: String,
}

/// The words for a scope: the OpenID Connect ones (Core §5.4, §11) have theirs; any other is
/// shown as its name.
pub fn describe_scope(name: &str) -> ScopeLine {
    let words = match name {
        "openid" => "Confirm who you are",
        "profile" => "See your name and basic profile",
        "email" => "See your email address",
        "address" => "See your postal address",
        "phone" => "See your phone number",
        "offline_access" => "Stay connected when you are away",
        other => other,
    };
    ScopeLine {
        name: name.to_owned(),
        description: words.to_owned(),
    }
}

/// The question whether a client may act for the signed-in person: who asks, for what, at
/// which resource, and where the answer sends them. Posts `decision=approve` or
/// `decision=deny` to `action` with the authorization request and the CSRF token.
#[derive(Debug, Clone, Copy, Template)]
#[template(path = "consent.html")]
pub struct ConsentPage<'a> {
    /// The look of the pages.
    pub look: &'a Look,
    /// The client's name, as registered.
    pub client_name: &'a str,
    /// The client: where it came from and what it registered.
    pub client: &'a Client,
    /// The host of the redirect URI, so a person sees where they will be sent.
    pub redirect_host: &'a str,
    /// The scopes asked for, in words.
    pub scopes: &'a [ScopeLine],
    /// The resource (RFC 8707) the access is for; empty for none.
    pub resource: &'a str,
    /// The signed-in username.
    pub user: &'a str,
    /// Where the form posts (a path).
    pub action: &'a str,
    /// The hidden field `request`: the authorization request's query string, as is.
    pub request: &'a str,
    /// The hidden field `csrf`.
    pub csrf: &'a str,
    /// The redirect URI the flow ends at: the form's answer redirects there, and browsers hold
    /// that redirect to the page's `form-action`, which therefore allows its origin.
    pub redirect_uri: &'a str,
}

impl ConsentPage<'_> {
    /// For a client described by a metadata document, the host serving it, which the page
    /// shows beside the self-asserted name (CIMD §6.4: the `client_id` host, not just
    /// `client_name`).
    fn document_host(&self) -> Option<String> {
        if self.client.origin != ClientOrigin::MetadataDocument {
            return None;
        }
        DocumentUrl::parse(self.client.id.as_str())
            .ok()
            .map(|url| url.host().to_owned())
    }

    /// Whether a self-registered client's answer goes, this time, to an app on this device (a
    /// loopback listener or a private-use scheme), which any local program could pose as
    /// (CIMD §6.4 SHOULD warn; SEP-991). Judged on the redirect URI of this request: a review
    /// found a decoy https URI among the registered ones silenced the warning while the code
    /// went to loopback.
    fn device_only(&self) -> bool {
        self.client.origin.is_self_registered() && !self.redirect_uri.starts_with("https://")
    }
}

impl IntoResponse for ConsentPage<'_> {
    fn into_response(self) -> Response {
        render::page(
            StatusCode::OK,
            &self,
            self.look
                .csp_posting_to(source_of(self.redirect_uri).as_deref()),
        )
    }
}

#[cfg(test)]
mod tests {
    use gatehouse_core::client::RedirectUri;
    use gatehouse_core::testing::ClientBuilder;

    use super::*;

    fn page_text(client: &Client) -> String {
        page_text_to(client, "http://127.0.0.1:5000/callback")
    }

    fn page_text_to(client: &Client, redirect_uri: &str) -> String {
        let look = Look::new(
            &crate::config::PagesConfig {
                product_name: "Gatehouse".into(),
                logo_url: None,
                accent_color: "#1f5fbf".into(),
                session_lifetime: 3600,
            },
            "",
        );
        let page = ConsentPage {
            look: &look,
            client_name: &client.name,
            client,
            redirect_host: "127.0.0.1",
            scopes: &[],
            resource: "https://mcp.example/",
            user: "ada",
            action: "/authorize/consent",
            request: "client_id=x",
            csrf: "token",
            redirect_uri,
        };
        page.render().unwrap()
    }

    fn document_client(uris: &[&str]) -> Client {
        let mut client = ClientBuilder::new().name("Claude Code").public().client();
        client.id = gatehouse_core::client::ClientId::new(
            "https://claude.ai/oauth/claude-code-client-metadata",
        )
        .unwrap();
        client.origin = ClientOrigin::MetadataDocument;
        client.redirect_uris = uris.iter().map(|u| RedirectUri::from_stored(*u)).collect();
        client
    }

    #[test]
    fn a_document_client_shows_its_host_and_a_device_warning() {
        let text = page_text(&document_client(&["http://localhost/callback"]));
        assert!(text.contains("<strong>claude.ai</strong>"), "{text}");
        assert!(text.contains("says about itself"), "{text}");
        assert!(text.contains("on this device"), "{text}");
        // Whatever else it registered: the answer of this request goes to loopback.
        let both = document_client(&["http://localhost/callback", "https://claude.ai/callback"]);
        let text = page_text(&both);
        assert!(text.contains("<strong>claude.ai</strong>"), "{text}");
        assert!(text.contains("on this device"), "{text}");
        let text = page_text_to(&both, "https://claude.ai/callback");
        assert!(!text.contains("on this device"), "{text}");
        let text = page_text_to(&document_client(&["cursor://x/cb"]), "cursor://x/cb");
        assert!(
            text.contains("on this device"),
            "a private-use scheme: {text}"
        );
    }

    #[test]
    fn an_operator_client_shows_neither() {
        let client = ClientBuilder::new()
            .redirect_uris(&["http://127.0.0.1/cb"])
            .client();
        let text = page_text(&client);
        assert!(!text.contains("says about itself"), "{text}");
        assert!(!text.contains("on this device"), "{text}");
    }
}
