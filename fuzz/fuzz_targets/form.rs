//! The form parser of the token, introspection and revocation endpoints, and what reads it: the
//! typed token request and client-credential extraction. Must never panic.
#![no_main]

use gatehouse_core::client::auth::Credentials;
use gatehouse_core::form::Form;
use gatehouse_core::request::{TokenReference, TokenRequest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(form) = Form::parse(data) {
        let _ = TokenRequest::parse(&form);
        for header in [None, Some("Basic dXNlcjpwYXNz")] {
            if let Ok(credentials) = Credentials::from_request(header, &form) {
                let _ = credentials.presented();
                let _ = credentials.client_id();
            }
        }
        let _ = TokenReference::parse(&form);
        let _ = form.all("resource").count();
    }
});
