//! Property tests of the opaque-token parser: whatever text arrives, `parse` answers and never
//! panics, and only the exact token it was given back parses (issue 8, item 1).

use gatehouse_token::OpaqueToken;
use gatehouse_token::opaque::LEN;
use proptest::prelude::*;

fn token() -> String {
    OpaqueToken::from_random([42; 32]).as_str().to_owned()
}

/// `text` with the characters in `at..at + width` (byte positions of an ASCII token) replaced.
fn splice(text: &str, at: usize, width: usize, with: &str) -> String {
    let mut out = text.to_owned();
    out.replace_range(at..(at + width).min(text.len()), with);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn any_text_is_answered(text in any::<String>()) {
        if let Ok(parsed) = OpaqueToken::parse(&text) {
            prop_assert_eq!(parsed.as_str(), text.as_str());
        }
    }

    #[test]
    fn any_text_of_the_exact_length_is_answered(chars in proptest::collection::vec(any::<char>(), 1..LEN)) {
        // Pad with ASCII to exactly LEN bytes when the characters fit, so that the length check
        // passes and every later step sees the arbitrary characters.
        let mut text: String = format!("gat_{}", chars.iter().collect::<String>());
        while text.len() < LEN {
            text.push('A');
        }
        let _ = OpaqueToken::parse(&text);
    }

    #[test]
    fn any_character_in_any_position_breaks_the_token(
        at in 0..LEN,
        width in 0usize..3,
        with in "\\PC{0,3}|[\\x00-\\x7f]{1,2}|[\\u{80}-\\u{10ffff}]{1,2}",
    ) {
        let original = token();
        let changed = splice(&original, at, width, &with);
        match OpaqueToken::parse(&changed) {
            Ok(_) => prop_assert_eq!(changed, original),
            Err(_) => prop_assert_ne!(changed, original),
        }
    }
}
