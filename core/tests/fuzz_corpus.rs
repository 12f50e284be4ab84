//! Replays the fuzzing corpus of `fuzz/` (targets `form` and `sign_in`) through the same calls
//! the fuzz targets make, so every input the fuzzer found interesting stays a regression test.

use std::path::PathBuf;

#[path = "../../fuzz/fuzz_targets/support/sign_in.rs"]
mod sign_in;

use gatehouse_core::client::auth::Credentials;
use gatehouse_core::form::Form;
use gatehouse_core::request::{TokenReference, TokenRequest};

#[test]
fn form_corpus_replays() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/form");
    let mut parsed = 0;
    let mut total = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        total += 1;
        if let Ok(form) = Form::parse(&data) {
            parsed += 1;
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
    }
    assert!(total >= 4, "the form corpus is missing");
    assert!(parsed >= 1);
}

#[test]
fn sign_in_corpus_replays() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/sign_in");
    let mut total = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        sign_in::exercise(&std::fs::read(entry.unwrap().path()).unwrap());
        total += 1;
    }
    assert!(total >= 7, "the sign_in corpus is missing");
}
