//! The pages' tests: headers, escaping, no inline script or style, the CSP, the assets.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;

use super::*;
use crate::config::PagesConfig;

const XSS: &str = "<script>alert(1)</script>";

fn config(logo_url: Option<&str>) -> PagesConfig {
    PagesConfig {
        product_name: "Acme Sign-in".to_owned(),
        logo_url: logo_url.map(str::to_owned),
        accent_color: "#c0ffee".to_owned(),
        session_lifetime: 3600,
    }
}

fn look() -> Look {
    Look::new(&config(None), "/tenant")
}

async fn body(response: Response) -> (HeaderMap, StatusCode, String) {
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (headers, status, String::from_utf8(bytes.to_vec()).unwrap())
}

fn value(headers: &HeaderMap, name: header::HeaderName) -> &str {
    headers.get(name).unwrap().to_str().unwrap()
}

/// Every page, with hostile text wherever a caller's text goes.
fn pages(look: &Look) -> Vec<(&'static str, Response)> {
    let scopes = [
        describe_scope("openid"),
        describe_scope("offline_access"),
        describe_scope(XSS),
    ];
    let request = "response_type=code&client_id=a\"b&state='x'";
    vec![
        (
            "login",
            LoginPage {
                look,
                client_name: XSS,
                action: "/tenant/login",
                request,
                csrf: "c\"srf",
                redirect_uri: "https://app.example/cb",
                username: "\"><img src=x>",
                error: Some(XSS),
            }
            .into_response(),
        ),
        (
            "consent",
            ConsentPage {
                look,
                client_name: XSS,
                client: &gatehouse_core::testing::ClientBuilder::new().client(),
                redirect_host: "app.example\"",
                scopes: &scopes,
                resource: "https://mcp.example/<x>",
                user: XSS,
                action: "/tenant/consent",
                request,
                csrf: "c\"srf",
                redirect_uri: "https://app.example/cb",
            }
            .into_response(),
        ),
        (
            "error",
            ErrorPage {
                look,
                status: StatusCode::BAD_REQUEST,
                title: XSS,
                message: XSS,
                retry_after: None,
            }
            .into_response(),
        ),
        ("logged out", LoggedOutPage { look }.into_response()),
        (
            "form post",
            FormPostPage {
                look,
                redirect_uri: "https://app.example:8443/cb?x=\"1\"",
                params: &[("code", "abc"), ("state", XSS)],
            }
            .into_response(),
        ),
    ]
}

#[tokio::test]
async fn every_page_carries_the_security_headers() {
    let look = look();
    for (name, response) in pages(&look) {
        let (headers, _, html) = body(response).await;
        assert_eq!(
            value(&headers, header::CONTENT_TYPE),
            "text/html; charset=utf-8",
            "{name}"
        );
        assert_eq!(value(&headers, header::CACHE_CONTROL), "no-store", "{name}");
        assert_eq!(value(&headers, header::X_FRAME_OPTIONS), "DENY", "{name}");
        assert_eq!(
            value(&headers, header::X_CONTENT_TYPE_OPTIONS),
            "nosniff",
            "{name}"
        );
        assert_eq!(
            value(&headers, header::REFERRER_POLICY),
            "no-referrer",
            "{name}"
        );
        let csp = value(&headers, header::CONTENT_SECURITY_POLICY);
        assert!(
            csp.starts_with("default-src 'self'; frame-ancestors 'none'; form-action 'self'"),
            "{name}: {csp}"
        );
        assert!(csp.ends_with("; base-uri 'none'"), "{name}: {csp}");
        assert!(html.starts_with("<!doctype html>"), "{name}");
        assert!(html.contains("<html lang=\"en\">"), "{name}");
        assert!(html.contains("name=\"viewport\""), "{name}");
        assert!(html.contains("Acme Sign-in"), "{name}");
        assert_eq!(html.matches("<h1>").count(), 1, "{name}");
        assert_eq!(html.matches("<main>").count(), 1, "{name}");
        assert!(
            html.contains("href=\"/tenant/assets/gatehouse.css?v="),
            "{name}"
        );
    }
}

#[tokio::test]
async fn caller_text_is_escaped_in_text_and_attributes() {
    let look = look();
    for (name, response) in pages(&look) {
        let (_, _, html) = body(response).await;
        assert!(!html.contains(XSS), "{name}");
        assert!(!html.contains("<img src=x>"), "{name}");
        assert!(!html.contains("a\"b"), "{name}");
        assert!(!html.contains("c\"srf"), "{name}");
        assert!(!html.contains("<x>"), "{name}");
    }
    let (_, _, login) = body(pages(&look).remove(0).1).await;
    assert!(login.contains("&#60;script&#62;alert(1)&#60;/script&#62;"));
    assert!(login.contains(
        "name=\"request\" value=\"response_type=code&#38;client_id=a&#34;b&#38;state=&#39;x&#39;\""
    ));
    assert!(login.contains("name=\"csrf\" value=\"c&#34;srf\""));
}

/// Whether an `on…=` attribute (inline script) appears.
fn has_event_handler(html: &str) -> bool {
    html.match_indices(" on").any(|(at, _)| {
        let rest = &html[at + 3..];
        let name = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        name > 0 && rest[name..].starts_with('=')
    })
}

#[tokio::test]
async fn no_inline_script_or_style() {
    let look = Look::new(&config(Some("/logo.svg")), "");
    for (name, response) in pages(&look) {
        let (_, _, html) = body(response).await;
        assert!(!html.contains("style="), "{name}");
        assert!(!html.contains("<style"), "{name}");
        assert!(!has_event_handler(&html), "{name}");
        for (at, _) in html.match_indices("<script") {
            let tag = &html[at..];
            let open = &tag[..tag.find('>').unwrap()];
            assert!(open.contains(" src=\"/assets/form_post.js?v="), "{name}");
            assert!(tag[open.len()..].starts_with("></script>"), "{name}");
        }
    }
}

#[tokio::test]
async fn the_login_form() {
    let look = look();
    let page = LoginPage {
        look: &look,
        client_name: "Notes",
        action: "/tenant/login",
        request: "client_id=notes",
        csrf: "token",
        redirect_uri: "http://127.0.0.1:5555/cb",
        username: "ada",
        error: None,
    };
    let (_, status, html) = body(page.into_response()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<form method=\"post\" action=\"/tenant/login\">"));
    assert!(html.contains("<label for=\"username\">Username</label>"));
    assert!(
        html.contains("id=\"username\" name=\"username\" value=\"ada\" autocomplete=\"username\"")
    );
    assert!(html.contains("id=\"password\" name=\"password\" autocomplete=\"current-password\""));
    assert!(html.contains("<input type=\"hidden\" name=\"request\" value=\"client_id=notes\">"));
    assert!(html.contains("<input type=\"hidden\" name=\"csrf\" value=\"token\">"));
    assert!(html.contains("id=\"sign-in\""));
    assert!(!html.contains("role=\"alert\""));
}

#[tokio::test]
async fn the_consent_form() {
    let look = look();
    let scopes = [describe_scope("openid"), describe_scope("files:read")];
    let page = ConsentPage {
        look: &look,
        client_name: "Notes",
        client: &gatehouse_core::testing::ClientBuilder::new().client(),
        redirect_host: "notes.example",
        scopes: &scopes,
        resource: "https://mcp.example/",
        user: "ada",
        action: "/tenant/consent",
        request: "client_id=notes",
        csrf: "token",
        redirect_uri: "cursor://anysphere.cursor-retrieval/cb",
    };
    let response = page.into_response();
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("form-action 'self' cursor:"),
        "the consent's redirect to the client must be allowed: {csp}"
    );
    let (_, status, html) = body(response).await;
    assert_eq!(status, StatusCode::OK);
    for needle in [
        "Notes",
        "notes.example",
        "Confirm who you are <code>openid</code>",
        "<li>files:read</li>",
        "https://mcp.example/",
        "<strong>ada</strong>",
        "<form method=\"post\" action=\"/tenant/consent\">",
        "name=\"decision\" value=\"approve\" id=\"approve\"",
        "name=\"decision\" value=\"deny\" id=\"deny\"",
        "<input type=\"hidden\" name=\"csrf\" value=\"token\">",
    ] {
        assert!(html.contains(needle), "{needle}");
    }
}

#[test]
fn the_event_handler_check_finds_one() {
    assert!(has_event_handler("<body onload=\"x()\">"));
    assert!(!has_event_handler("<p>Go on, sign in = fine</p>"));
}

#[test]
fn scopes_in_words() {
    assert_eq!(describe_scope("openid").description, "Confirm who you are");
    assert_eq!(
        describe_scope("offline_access").description,
        "Stay connected when you are away"
    );
    assert_eq!(
        describe_scope("mcp:tools"),
        ScopeLine {
            name: "mcp:tools".to_owned(),
            description: "mcp:tools".to_owned()
        }
    );
}

#[tokio::test]
async fn too_many_attempts_says_when_to_retry() {
    let look = look();
    let (headers, status, html) =
        body(ErrorPage::too_many_attempts(&look, 30).into_response()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(value(&headers, header::RETRY_AFTER), "30");
    assert!(html.contains("Try again in 30 seconds."));
    let (headers, status, _) = body(
        ErrorPage {
            look: &look,
            status: StatusCode::NOT_FOUND,
            title: "Not found",
            message: "No such page.",
            retry_after: None,
        }
        .into_response(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(headers.get(header::RETRY_AFTER).is_none());
}

#[tokio::test]
async fn the_form_post_response() {
    let look = look();
    let page = FormPostPage {
        look: &look,
        redirect_uri: "https://app.example:8443/cb?a=1&b=2",
        params: &[
            ("code", "abc"),
            ("state", "xyz"),
            ("iss", "https://as.example/tenant"),
        ],
    };
    let (headers, _, html) = body(page.into_response()).await;
    assert_eq!(
        value(&headers, header::CONTENT_SECURITY_POLICY),
        "default-src 'self'; frame-ancestors 'none'; \
         form-action 'self' https://app.example:8443; base-uri 'none'"
    );
    assert!(html.contains(
        "<form method=\"post\" action=\"https://app.example:8443/cb?a=1&#38;b=2\" id=\"form-post\">"
    ));
    assert!(html.contains("<input type=\"hidden\" name=\"code\" value=\"abc\">"));
    assert!(html.contains("<input type=\"hidden\" name=\"state\" value=\"xyz\">"));
    assert!(
        html.contains(
            "<button type=\"submit\" id=\"continue\" class=\"primary\">Continue</button>"
        )
    );
    assert!(html.contains("<script src=\"/tenant/assets/form_post.js?v="));
    // Loopback and custom-scheme redirect URIs.
    for (uri, source) in [
        ("http://127.0.0.1:51004/callback", "http://127.0.0.1:51004"),
        ("http://[::1]:51004/callback", "http:"),
        ("com.example.app:/callback", "com.example.app:"),
    ] {
        let page = FormPostPage {
            look: &look,
            redirect_uri: uri,
            params: &[],
        };
        let response = page.into_response();
        let csp = value(response.headers(), header::CONTENT_SECURITY_POLICY);
        assert!(
            csp.contains(&format!("form-action 'self' {source};")),
            "{csp}"
        );
    }
}

#[tokio::test]
async fn an_absolute_logo_is_allowed_by_img_src() {
    let look = Look::new(&config(Some("https://cdn.acme.example/logo.png")), "");
    let (headers, _, html) = body(LoggedOutPage { look: &look }.into_response()).await;
    assert_eq!(
        value(&headers, header::CONTENT_SECURITY_POLICY),
        "default-src 'self'; img-src 'self' https://cdn.acme.example; frame-ancestors 'none'; \
         form-action 'self'; base-uri 'none'"
    );
    assert!(
        html.contains("<img src=\"https://cdn.acme.example/logo.png\" alt=\"Acme Sign-in logo\">")
    );
    let look = Look::new(&config(Some("/static/logo.png")), "");
    let response = LoggedOutPage { look: &look }.into_response();
    let csp = value(response.headers(), header::CONTENT_SECURITY_POLICY);
    assert!(!csp.contains("img-src"), "{csp}");
}

async fn get(app: Router, path: &str) -> (HeaderMap, StatusCode, String) {
    let request = Request::get(path).body(Body::empty()).unwrap();
    body(app.oneshot(request).await.unwrap()).await
}

#[tokio::test]
async fn the_assets_are_served_under_the_issuer_path() {
    let app: Router = router("/tenant", Arc::new(Assets::new(&config(None))));
    let (headers, status, css) = get(app.clone(), "/tenant/assets/gatehouse.css?v=1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        value(&headers, header::CONTENT_TYPE),
        "text/css; charset=utf-8"
    );
    assert_eq!(value(&headers, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    assert_eq!(
        value(&headers, header::CACHE_CONTROL),
        "public, max-age=3600"
    );
    assert!(css.contains("--accent: #c0ffee;"), "{css}");
    // A light accent gets dark text.
    assert!(css.contains("--on-accent: #000000;"), "{css}");

    let (headers, status, js) = get(app.clone(), "/tenant/assets/form_post.js").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        value(&headers, header::CONTENT_TYPE),
        "text/javascript; charset=utf-8"
    );
    assert_eq!(value(&headers, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    assert!(js.contains("getElementById(\"form-post\")"));

    let (_, status, _) = get(app, "/assets/gatehouse.css").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[test]
fn the_stylesheet_follows_the_accent() {
    let dark = assets::stylesheet("#1f5fbf");
    assert!(dark.contains("--accent: #1f5fbf; --on-accent: #ffffff;"));
    // Not a colour (the configuration refuses it already): the default.
    let odd = assets::stylesheet("red; } body { display: none");
    assert!(odd.contains("--accent: #1f5fbf;"));
    // The fingerprint in page URLs changes with the colour.
    let a = Look::new(&config(None), "");
    let mut other = config(None);
    other.accent_color = "#1f5fbf".to_owned();
    let b = Look::new(&other, "");
    assert_ne!(a.stylesheet(), b.stylesheet());
}
