//! The sign-in flow's raw-input rules: redirect-URI registration and matching, usernames, PKCE
//! challenges, forms written back. Must never panic, and the properties of
//! `support/sign_in.rs` hold.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "support/sign_in.rs"]
mod sign_in;

fuzz_target!(|data: &[u8]| sign_in::exercise(data));
