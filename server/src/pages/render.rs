//! The one place a page becomes a response: the HTML body and the security headers every
//! page carries, and the Content-Security-Policy they are built under.

use askama::Template;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The headers of every page but the CSP (which depends on the page).
const PAGE_HEADERS: [(HeaderName, &str); 5] = [
    (header::CONTENT_TYPE, "text/html; charset=utf-8"),
    (header::CACHE_CONTROL, "no-store"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "no-referrer"),
];

/// The strictest policy, for when a built one is not a valid header value (it always is: its
/// parts are URL origins and schemes).
const STRICT_CSP: &str =
    "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

/// `page` rendered, with `status`, the security headers and `csp`. A page that fails to render
/// (a formatting error; templates have no fallible expressions) answers a bare 500, with the
/// same headers.
pub(super) fn page(status: StatusCode, page: &impl Template, csp: HeaderValue) -> Response {
    let (status, body) = match page.render() {
        Ok(body) => (status, body),
        Err(error) => {
            tracing::error!(%error, "a page failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "<!doctype html><title>Error</title><p>This page cannot be shown.</p>".to_owned(),
            )
        }
    };
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    for (name, value) in PAGE_HEADERS {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    response
}

/// The policy of a page: everything from this origin only, images also from `img` (the logo's
/// origin), forms posted only here and to `form_action` (a form-post response's redirect
/// target), never framed, no `<base>`. No `'unsafe-inline'`: the pages have no inline script
/// or style.
pub(super) fn content_security_policy(img: Option<&str>, form_action: Option<&str>) -> HeaderValue {
    let mut csp = String::from("default-src 'self'; ");
    if let Some(origin) = img {
        csp.push_str("img-src 'self' ");
        csp.push_str(origin);
        csp.push_str("; ");
    }
    csp.push_str("frame-ancestors 'none'; form-action 'self'");
    if let Some(source) = form_action {
        csp.push(' ');
        csp.push_str(source);
    }
    csp.push_str("; base-uri 'none'");
    HeaderValue::try_from(csp).unwrap_or_else(|_| HeaderValue::from_static(STRICT_CSP))
}

/// The CSP source expression that allows `url`'s origin: `https://host[:port]`. A URL with no
/// such origin (a custom scheme, `com.example.app:/callback`) or an IPv6 literal host (which
/// CSP host sources cannot name) is allowed by its scheme (`com.example.app:`). `None` for
/// what does not parse as a URL.
pub(super) fn source_of(url: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    let origin = url.origin();
    if origin.is_tuple() && !matches!(url.host(), Some(url::Host::Ipv6(_))) {
        Some(origin.ascii_serialization())
    } else {
        Some(format!("{}:", url.scheme()))
    }
}
