//! `[pages]`: what the sign-in pages look like (the operator's product name, logo and colours)
//! and how long a browser session lasts.

use serde::Deserialize;

use super::{ConfigError, bad, duration_within, seconds};

/// The default product name on the pages.
pub const DEFAULT_PRODUCT_NAME: &str = "Gatehouse";
/// The default accent colour.
pub const DEFAULT_ACCENT: &str = "#1f5fbf";
/// The default session lifetime: twelve hours.
pub const DEFAULT_SESSION_LIFETIME: u64 = 12 * 3600;

/// The pages' settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PagesConfig {
    /// Shown in titles and headings.
    pub product_name: String,
    /// An https (or root-relative) URL of a logo image, shown above each page's heading.
    pub logo_url: Option<String>,
    /// The accent colour of buttons and links, `#rrggbb`.
    pub accent_color: String,
    /// How long a sign-in lasts, seconds.
    pub session_lifetime: u64,
}

/// The section as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPages {
    product_name: Option<String>,
    logo_url: Option<String>,
    accent_color: Option<String>,
    #[serde(default, deserialize_with = "seconds")]
    session_lifetime: Option<u64>,
}

impl RawPages {
    pub(super) fn validate(self) -> Result<PagesConfig, ConfigError> {
        let product_name = self
            .product_name
            .unwrap_or_else(|| DEFAULT_PRODUCT_NAME.to_owned());
        if product_name.is_empty()
            || product_name.chars().count() > 64
            || product_name.chars().any(char::is_control)
        {
            return Err(bad(
                "pages.product_name",
                "give 1 to 64 printable characters",
            ));
        }
        if let Some(logo) = &self.logo_url {
            let ok = (logo.starts_with("https://") || logo.starts_with('/'))
                && logo.len() <= 2048
                && !logo
                    .chars()
                    .any(|c| c.is_control() || c.is_whitespace() || c == '"');
            if !ok {
                return Err(bad(
                    "pages.logo_url",
                    "give an https:// URL or a path starting with /",
                ));
            }
        }
        let accent_color = self
            .accent_color
            .unwrap_or_else(|| DEFAULT_ACCENT.to_owned());
        let hex = accent_color.strip_prefix('#').unwrap_or("");
        if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad(
                "pages.accent_color",
                "give a colour as #rrggbb, e.g. \"#1f5fbf\"",
            ));
        }
        Ok(PagesConfig {
            product_name,
            logo_url: self.logo_url,
            accent_color,
            session_lifetime: duration_within(
                "pages.session_lifetime",
                self.session_lifetime,
                DEFAULT_SESSION_LIFETIME,
                60..=30 * 86_400,
            )?,
        })
    }
}
