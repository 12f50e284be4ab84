//! The form parser of the token, introspection and revocation endpoints, and what reads it: the
//! typed token request and client-credential extraction. Must never panic.
#![no_main]

use gatehouse_core::client_auth;
use gatehouse_core::form::Form;
use gatehouse_core::token_request::TokenRequest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(form) = Form::parse(data) {
        let _ = TokenRequest::parse(&form);
        let _ = client_auth::extract(None, &form);
        let _ = client_auth::extract(Some("Basic dXNlcjpwYXNz"), &form);
        let _ = form.single("token");
        let _ = form.all("resource").count();
    }
});
