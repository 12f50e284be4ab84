//! The OAuth 2.1 protocol domain of Gatehouse. No HTTP, no database, no wall clock: time and
//! randomness are parameters, storage and signing are ports (traits) that `server` wires up.
//!
//! A request moves through stages that each return a stronger type: raw form ([`form::Form`]) →
//! typed request ([`request`]) → authenticated client ([`client::auth::authenticate`]) →
//! granted access ([`grant`]) → issued token ([`issue`]).
//!
//! # Layout
//! - [`ports`]: the clock, the randomness source and the access-token signer `core` needs;
//!   [`events`]: the changes every node must see, and the port they are published through.
//! - [`form`]: strict `application/x-www-form-urlencoded` parsing (RFC 6749 §3.1, §3.2).
//! - [`scope`], [`resource`]: scope tokens (RFC 6749 §3.3) and resource indicators (RFC 8707).
//! - [`request`]: the typed requests of the token, introspection and revocation endpoints.
//! - [`authorize`]: the authorization endpoint's request, PKCE, consent and codes.
//! - [`client`]: registered clients (confidential or public), their registration, and
//!   [`client::auth`]: authenticating them, one module per method.
//! - [`grant`]: the token endpoint, one module per grant, async with a [`grant::GrantContext`];
//!   [`issue`]: building and minting access tokens; [`id_token`]: OpenID Connect ID tokens and
//!   the claims scopes release.
//! - [`assertion`]: the port that verifies JWTs `core` cannot (our own tokens, trusted external
//!   issuers' assertions), their typed claims, and the ID-JAGs Gatehouse issues.
//! - [`introspection`]: who may introspect which tokens, and the answers (RFC 7662, RFC 9701).
//! - [`revocation`]: the rules of RFC 7009, and how long revocations are kept.
//! - [`discovery`]: the metadata document (RFC 8414), built from what is implemented.
//! - [`keys`]: the signing keys' rotation plan, a pure function of records, time and schedule.
//! - [`profile`]: security profiles (FAPI 2.0) and what each allows.
//! - [`error`]: the one error enum of the token, introspection and revocation endpoints.
//! - [`user`]: the people who sign in, with argon2id password hashes.
//! - [`store`]: the storage traits, one per aggregate; [`memory`]: their in-memory reference
//!   implementation.
//! - `testing` (tests, and feature `test-util`): a fixed clock, predictable randomness, client
//!   builders, and the store suite every backend runs.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod assertion;
pub mod authorize;
pub mod binding;
pub mod client;
pub mod device;
pub mod discovery;
pub mod error;
pub mod events;
pub mod form;
pub mod grant;
pub mod id_token;
pub mod introspection;
pub mod issue;
pub mod keys;
pub mod memory;
pub mod ports;
pub mod profile;
pub mod request;
pub mod resource;
pub mod revocation;
pub mod scope;
pub mod store;
#[cfg(any(test, feature = "test-util"))]
pub mod testing;
pub mod user;

pub use error::TokenError;
