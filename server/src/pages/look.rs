//! What every page shares, built once at start.

use axum::http::HeaderValue;

use super::assets::{self, FAVICON_PATH, FORM_POST_SCRIPT_PATH, STYLESHEET_PATH};
use super::render::{content_security_policy, source_of};
use crate::config::PagesConfig;

/// The look of every page: the product name and logo, the URLs of the assets, and the page
/// Content-Security-Policy (which allows the logo's origin). Built once at start; pages borrow
/// it.
///
/// Asset URLs are `{base}/assets/…?v={fingerprint}`: `base` is the issuer's path, where
/// [`router`](super::router) serves them, and the fingerprint of their content makes a
/// browser fetch them again after a restart with another accent colour, for all their
/// `max-age`.
#[derive(Debug, Clone)]
pub struct Look {
    product_name: String,
    logo_url: Option<String>,
    /// `img-src` beyond `'self'`: an absolute logo URL's origin.
    logo_source: Option<String>,
    stylesheet: String,
    form_post_script: String,
    favicon: String,
    /// The policy of every page but the form-post response.
    csp: HeaderValue,
}

impl Look {
    /// The look for `config`, with assets under `base`: the issuer's path, `""` or `/tenant`
    /// (no trailing slash; [`Config::issuer_path`](crate::config::Config::issuer_path)).
    pub fn new(config: &PagesConfig, base: &str) -> Self {
        let logo_source = config
            .logo_url
            .as_deref()
            .filter(|logo| logo.starts_with("https://"))
            .and_then(source_of);
        let stylesheet = assets::stylesheet(&config.accent_color);
        Self {
            product_name: config.product_name.clone(),
            logo_url: config.logo_url.clone(),
            csp: content_security_policy(logo_source.as_deref(), None),
            logo_source,
            stylesheet: format!(
                "{base}{STYLESHEET_PATH}?v={}",
                assets::fingerprint(stylesheet.as_bytes())
            ),
            favicon: format!(
                "{base}{FAVICON_PATH}?v={}",
                assets::fingerprint(assets::FAVICON.as_bytes())
            ),
            form_post_script: format!(
                "{base}{FORM_POST_SCRIPT_PATH}?v={}",
                assets::fingerprint(assets::FORM_POST_SCRIPT.as_bytes())
            ),
        }
    }

    pub(super) fn product_name(&self) -> &str {
        &self.product_name
    }

    pub(super) fn logo_url(&self) -> Option<&str> {
        self.logo_url.as_deref()
    }

    pub(super) fn stylesheet(&self) -> &str {
        &self.stylesheet
    }

    pub(super) fn favicon(&self) -> &str {
        &self.favicon
    }

    pub(super) fn form_post_script(&self) -> &str {
        &self.form_post_script
    }

    /// The policy of a page that posts only to this origin.
    pub(super) fn csp(&self) -> HeaderValue {
        self.csp.clone()
    }

    /// The policy of a page whose form also posts to `source` (a CSP source expression).
    pub(super) fn csp_posting_to(&self, source: Option<&str>) -> HeaderValue {
        content_security_policy(self.logo_source.as_deref(), source)
    }
}
