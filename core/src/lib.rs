//! The OAuth 2.1 protocol domain of Gatehouse. No HTTP, no database, no wall clock: time and
//! randomness are parameters, storage and signing are ports (traits) that `server` wires up.
//!
//! A request moves through stages that each return a stronger type: raw form ([`form::Form`]) →
//! typed request ([`token_request::TokenRequest`]) → authenticated client
//! ([`client_auth::authenticate`]) → granted access ([`grant`]) → issued token ([`issue`]).
//!
//! # Layout
//! - [`ports`]: the clock, the randomness source and the access-token signer `core` needs.
//! - [`form`]: strict `application/x-www-form-urlencoded` parsing (RFC 6749 §3.1, §3.2).
//! - [`scope`], [`resource`]: scope tokens (RFC 6749 §3.3) and resource indicators (RFC 8707).
//! - [`client`]: registered clients, their ids and secrets; [`client_auth`]: authenticating them
//!   (RFC 6749 §2.3.1).
//! - [`token_request`]: the token request, one variant per grant type.
//! - [`grant`]: one module per grant; [`issue`]: building and minting access tokens.
//! - [`introspection`]: who may introspect which tokens (RFC 7662 §2.1, §4).
//! - [`revocation`]: the rules of RFC 7009, and how long revocations are kept.
//! - [`error`]: the one error enum of the token, introspection and revocation endpoints.
//! - [`store`]: the storage traits, one per aggregate; [`memory`]: their in-memory reference
//!   implementation, used by unit tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod client;
pub mod client_auth;
pub mod error;
pub mod form;
pub mod grant;
pub mod introspection;
pub mod issue;
pub mod memory;
pub mod ports;
pub mod resource;
pub mod revocation;
pub mod scope;
pub mod store;
pub mod token_request;

pub use error::TokenError;
