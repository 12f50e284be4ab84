//! The calls of the `sign_in` fuzz target, shared with `core/tests/fuzz_corpus.rs` (which
//! replays the corpus through them): the parsers and rules of the sign-in flow that see raw
//! input. Each input is a registered redirect URI, a newline, and a requested one (or a
//! username, a challenge, a form). Besides never panicking, it checks what must hold:
//! - a requested URI that matches a registered one is that same string, or differs only in
//!   the port of a loopback `http` URI;
//! - a form written back by `Form::encode` parses into the same form;
//! - a username read back from its stored form is the same username.

use gatehouse_core::authorize::CodeChallenge;
use gatehouse_core::client::RedirectUri;
use gatehouse_core::form::Form;
use gatehouse_core::user::Username;

pub(crate) fn exercise(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (registered, requested) = text.split_once('\n').unwrap_or((&text, ""));
    if let Ok(uri) = RedirectUri::register(registered) {
        let _ = uri.display_host();
        if uri.matches(requested) && uri.as_str() != requested {
            assert!(
                uri.as_str().starts_with("http://") && requested.starts_with("http://"),
                "{registered:?} matched {requested:?}"
            );
        }
    }
    if let Ok(name) = Username::new(registered) {
        let again = Username::new(name.as_str()).expect("a stored username reads back");
        assert_eq!(again, name);
    }
    if let Some(challenge) = CodeChallenge::parse(registered) {
        let _ = challenge.verify(requested);
    }
    if let Ok(form) = Form::parse(data) {
        let written = form.encode();
        let back = Form::parse(written.as_bytes()).expect("an encoded form parses");
        assert_eq!(back, form, "{written}");
    }
}
