//! The pages' static files: the stylesheet, whose accent colours come from the configuration
//! and are substituted once at start (never inline in a page), and the form-post script.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::config::PagesConfig;
use crate::config::pages::DEFAULT_ACCENT;

/// Where the stylesheet is served, under the issuer's path.
pub const STYLESHEET_PATH: &str = "/assets/gatehouse.css";
/// Where the form-post script is served, under the issuer's path.
pub const FORM_POST_SCRIPT_PATH: &str = "/assets/form_post.js";
/// Where the pages' icon is served, under the issuer's path (every page names it, so that
/// browsers do not ask for a `/favicon.ico` that is not there).
pub const FAVICON_PATH: &str = "/assets/favicon.svg";

/// The stylesheet as written; its colours are custom properties set by [`stylesheet`].
const STYLESHEET: &str = include_str!("../../assets/gatehouse.css");
/// Submits the form-post response's form once the page has loaded.
pub(super) const FORM_POST_SCRIPT: &str = include_str!("../../assets/form_post.js");
/// The pages' icon: a gatehouse.
pub(super) const FAVICON: &str = include_str!("../../assets/favicon.svg");

/// The assets, built once at start.
#[derive(Debug, Clone)]
pub struct Assets {
    stylesheet: Bytes,
}

impl Assets {
    /// The assets for `config` (its accent colour).
    pub fn new(config: &PagesConfig) -> Self {
        Self {
            stylesheet: Bytes::from(stylesheet(&config.accent_color)),
        }
    }

    /// `GET /assets/gatehouse.css`.
    pub fn stylesheet(&self) -> Response {
        asset("text/css; charset=utf-8", self.stylesheet.clone())
    }

    /// `GET /assets/favicon.svg`.
    pub fn favicon(&self) -> Response {
        asset("image/svg+xml", Bytes::from_static(FAVICON.as_bytes()))
    }

    /// `GET /assets/form_post.js`.
    pub fn form_post_script(&self) -> Response {
        asset(
            "text/javascript; charset=utf-8",
            Bytes::from_static(FORM_POST_SCRIPT.as_bytes()),
        )
    }
}

/// The routes of the assets under `base`, the issuer's path (`""` or `/tenant`, as given to
/// [`Look::new`](super::Look::new)).
pub fn router<S: Clone + Send + Sync + 'static>(base: &str, assets: Arc<Assets>) -> Router<S> {
    let css = Arc::clone(&assets);
    Router::new()
        .route(
            &format!("{base}{STYLESHEET_PATH}"),
            get(move || async move { css.stylesheet() }),
        )
        .route(
            &format!("{base}{FAVICON_PATH}"),
            get({
                let assets = Arc::clone(&assets);
                move || async move { assets.favicon() }
            }),
        )
        .route(
            &format!("{base}{FORM_POST_SCRIPT_PATH}"),
            get(move || async move { assets.form_post_script() }),
        )
}

/// A static file: cached for an hour (page URLs carry a fingerprint of the content), never
/// sniffed as another type.
fn asset(content_type: &'static str, body: Bytes) -> Response {
    let headers: [(HeaderName, HeaderValue); 3] = [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=3600"),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
    ];
    (headers, body).into_response()
}

/// The stylesheet with `accent` (`#rrggbb`; the default for anything else, which the
/// configuration refuses already) and a text colour readable on it, black or white, whichever
/// contrasts more (WCAG 2 relative luminance).
pub(super) fn stylesheet(accent: &str) -> String {
    let (accent, rgb) = match parse_hex(accent) {
        Some(rgb) => (accent, rgb),
        None => (
            DEFAULT_ACCENT,
            parse_hex(DEFAULT_ACCENT).unwrap_or([0, 0, 0]),
        ),
    };
    let on_accent = if on_accent_is_white(rgb) {
        "#ffffff"
    } else {
        "#000000"
    };
    format!(
        "/* The accent colour comes from [pages] accent_color. */\n\
         :root {{ --accent: {accent}; --on-accent: {on_accent}; }}\n\n{STYLESHEET}"
    )
}

/// `#rrggbb` as its three channels.
fn parse_hex(colour: &str) -> Option<[u8; 3]> {
    let hex = colour.strip_prefix('#').filter(|h| h.len() == 6)?;
    let channel = |i: usize| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok();
    Some([channel(0)?, channel(2)?, channel(4)?])
}

/// Whether white text contrasts more than black on `rgb`.
fn on_accent_is_white(rgb: [u8; 3]) -> bool {
    let linear = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.040_45 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let [r, g, b] = rgb;
    let luminance = 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
    // Contrast with white: 1.05 / (L + 0.05); with black: (L + 0.05) / 0.05.
    1.05 / (luminance + 0.05) >= (luminance + 0.05) / 0.05
}

/// A short digest of an asset's content, for its URL.
pub(super) fn fingerprint(content: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, content);
    digest
        .as_ref()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}
