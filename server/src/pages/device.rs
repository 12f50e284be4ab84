//! The device verification pages (RFC 8628 §3.3): the code entry (also the confirmation of a
//! code that came in `verification_uri_complete`, §3.3.1, §5.4), the question whether the
//! device may act for the person, and the outcome.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::consent::ScopeLine;
use super::look::Look;
use super::render;

/// The code entry: the person types the code shown on the device, or, arriving with it in the
/// link, confirms it (`confirm`). Posts `user_code` and the CSRF token to `action`.
#[derive(Debug, Clone, Copy, Template)]
#[template(path = "device.html")]
pub struct DeviceCodePage<'a> {
    /// The look of the pages.
    pub look: &'a Look,
    /// The signed-in username.
    pub user: &'a str,
    /// Where the form posts (a path).
    pub action: &'a str,
    /// The hidden field `csrf`.
    pub csrf: &'a str,
    /// The code to prefill (from the link, or the one just tried, grouped); may be empty.
    pub user_code: &'a str,
    /// Whether the code came in the link and must be confirmed against the device's screen.
    pub confirm: bool,
    /// Why the last code was refused.
    pub error: Option<&'a str>,
}

impl IntoResponse for DeviceCodePage<'_> {
    fn into_response(self) -> Response {
        let status = if self.error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        };
        render::page(status, &self, self.look.csp())
    }
}

/// The question: a device is asking as this client, for these scopes at this resource. Posts
/// `decision=approve` or `decision=deny` with the code and the CSRF token to `action`.
#[derive(Debug, Clone, Copy, Template)]
#[template(path = "device_consent.html")]
pub struct DeviceConsentPage<'a> {
    /// The look of the pages.
    pub look: &'a Look,
    /// The client's name, as registered.
    pub client_name: &'a str,
    /// Whether the client registered itself (RFC 7591 dynamic registration, or a metadata
    /// document): its name is its own claim, and the page says so.
    pub self_registered: bool,
    /// The user code, grouped.
    pub user_code: &'a str,
    /// The scopes asked for, in words.
    pub scopes: &'a [ScopeLine],
    /// The resource (RFC 8707) the access is for.
    pub resource: &'a str,
    /// The signed-in username.
    pub user: &'a str,
    /// Where the form posts (a path).
    pub action: &'a str,
    /// The hidden field `csrf`.
    pub csrf: &'a str,
}

impl IntoResponse for DeviceConsentPage<'_> {
    fn into_response(self) -> Response {
        render::page(StatusCode::OK, &self, self.look.csp())
    }
}

/// The outcome: connected, denied.
#[derive(Debug, Clone, Copy, Template)]
#[template(path = "device_done.html")]
pub struct DeviceDonePage<'a> {
    /// The look of the pages.
    pub look: &'a Look,
    /// The heading.
    pub title: &'a str,
    /// What happens now.
    pub message: &'a str,
}

impl IntoResponse for DeviceDonePage<'_> {
    fn into_response(self) -> Response {
        render::page(StatusCode::OK, &self, self.look.csp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn look() -> Look {
        Look::new(
            &crate::config::PagesConfig {
                product_name: "Gatehouse".into(),
                logo_url: None,
                accent_color: "#1f5fbf".into(),
                session_lifetime: 3600,
            },
            "",
        )
    }

    #[test]
    fn the_question_says_a_device_asks_and_escapes_what_clients_chose() {
        let look = look();
        let scopes = [ScopeLine {
            name: "read".into(),
            description: "Read <b>things</b>".into(),
        }];
        let page = DeviceConsentPage {
            look: &look,
            client_name: "<script>alert(1)</script>",
            self_registered: false,
            user_code: "BDWP-HQPK",
            scopes: &scopes,
            resource: "https://tv.example/api",
            user: "alice",
            action: "/device/decide",
            csrf: "t\"oken",
        };
        let text = page.render().unwrap();
        assert!(text.contains("A device"), "{text}");
        assert!(text.contains("BDWP-HQPK"), "{text}");
        assert!(!text.contains("<script>alert"), "{text}");
        assert!(!text.contains("<b>things"), "{text}");
        assert!(!text.contains("t\"oken"), "{text}");
        assert!(!text.contains("<script"), "no script at all: {text}");
        assert!(
            !text.contains("not verified"),
            "an operator's client: {text}"
        );
    }

    /// F3: a dynamically registered client chose its own name ("… — Microsoft"); the question
    /// says the name is unverified, and still escapes it.
    #[test]
    fn a_self_registered_clients_name_is_marked_unverified() {
        let look = look();
        let page = DeviceConsentPage {
            look: &look,
            client_name: "Office <b>— Microsoft</b>",
            self_registered: true,
            user_code: "BDWP-HQPK",
            scopes: &[],
            resource: "",
            user: "alice",
            action: "/device/decide",
            csrf: "token",
        };
        let text = page.render().unwrap();
        assert!(
            text.contains("This app registered itself: its name is not verified by Gatehouse."),
            "{text}"
        );
        assert!(!text.contains("<b>"), "{text}");
        assert!(
            text.contains("Office &#60;b&#62;") || text.contains("Office &lt;b&gt;"),
            "{text}"
        );
    }

    #[test]
    fn the_code_entry_asks_to_confirm_a_code_from_the_link() {
        let look = look();
        let page = |confirm| DeviceCodePage {
            look: &look,
            user: "alice",
            action: "/device",
            csrf: "token",
            user_code: "BDWP-HQPK",
            confirm,
            error: None,
        };
        assert!(
            page(true)
                .render()
                .unwrap()
                .contains("Check that this code")
        );
        assert!(
            !page(false)
                .render()
                .unwrap()
                .contains("Check that this code")
        );
        let response = page(false).into_response();
        assert_eq!(response.status(), StatusCode::OK);
        let csp = response.headers()["content-security-policy"]
            .to_str()
            .unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    }
}
