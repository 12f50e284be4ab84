//! End-to-end tests: each starts the real `gatehouse` binary on free loopback ports with a
//! temporary data directory and drives it over HTTP, with the CLI, and with the third-party
//! `oauth2` crate. One test binary, many modules (kanidm's lesson: every file under `tests/` is
//! another binary to link).

#![expect(
    unreachable_pub,
    reason = "test modules share helpers with `pub`; nothing here is a public API"
)]

mod harness;

mod bad_input;
mod browser;
mod changes;
mod cli;
mod client_credentials;
mod connections;
mod device;
mod discovery;
mod dpop;
mod embedded;
mod fapi;
mod hsm;
mod introspection;
mod jwt_bearer;
mod lifetimes;
mod limits;
mod mcp_sdk;
mod metadata_documents;
mod mtls;
mod private_key_jwt;
mod relying_party;
mod restart;
mod revocation;
mod sign_in;
mod token_exchange;
mod users;
