//! The pages people see when they sign in: sign-in, consent, errors, signed out, and the
//! form-post response (OAuth 2.0 Form Post Response Mode). Server-rendered HTML that works
//! without JavaScript, with no inline script or style, under a strict Content-Security-Policy.
//!
//! # Layout
//! - [`Look`]: what every page shares (product name, logo, asset URLs, the CSP), built once at
//!   start from [`PagesConfig`](crate::config::PagesConfig) and the issuer's path.
//! - one module per page, each a struct of borrowed fields that is an askama template
//!   (`server/templates/<page>.html`, all extending `base.html`) and an [`IntoResponse`]:
//!   [`LoginPage`], [`ConsentPage`] (with [`describe_scope`]), [`ErrorPage`] and
//!   [`LoggedOutPage`], [`LogoutPage`] (the sign-out confirmation), [`FormPostPage`], and the
//!   device verification pages [`DeviceCodePage`], [`DeviceConsentPage`], [`DeviceDonePage`]. A
//!   handler builds one and returns it.
//! - `render`: the one place that turns a page into a response with the security headers.
//! - [`Assets`] and [`router`]: the stylesheet (the configured accent colour substituted at
//!   start) and the form-post script, served under `{issuer path}/assets/`.
//! - [`session`]: the browser session cookie and CSRF tokens.
//!
//! [`IntoResponse`]: axum::response::IntoResponse

mod assets;
mod consent;
mod device;
mod form_post;
mod login;
mod logout;
mod look;
mod message;
mod render;
pub mod session;

pub use assets::{Assets, FAVICON_PATH, FORM_POST_SCRIPT_PATH, STYLESHEET_PATH, router};
pub use consent::{ConsentPage, ScopeLine, describe_scope};
pub use device::{DeviceCodePage, DeviceConsentPage, DeviceDonePage};
pub use form_post::FormPostPage;
pub use login::LoginPage;
pub use logout::LogoutPage;
pub use look::Look;
pub use message::{ErrorPage, LoggedOutPage};

#[cfg(test)]
mod tests;
