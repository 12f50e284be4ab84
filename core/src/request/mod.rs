//! The requests of the form-posting endpoints, typed: parsed once from the form, at the edge,
//! into what `core` works with.
//!
//! # Layout
//! - [`device`]: the device authorization request (RFC 8628 §3.1).
//! - [`token`]: the token request (RFC 6749 §3.2), one variant per grant type.
//! - [`token_reference`]: the token named by an introspection (RFC 7662 §2.1) or revocation
//!   (RFC 7009 §2.1) request.

pub mod device;
pub mod token;
pub mod token_reference;

pub use token::TokenRequest;
pub use token_reference::{TokenReference, TokenTypeHint};
