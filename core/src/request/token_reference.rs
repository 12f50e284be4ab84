//! What introspection (RFC 7662 §2.1) and revocation (RFC 7009 §2.1) requests carry: one
//! `token`, and an optional `token_type_hint` that may be ignored but must not repeat.

use crate::error::TokenError;
use crate::form::Form;

/// A `token_type_hint` (RFC 7009 §2.1, RFC 7662 §2.1): only ever a hint, never trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenTypeHint {
    /// `access_token`.
    AccessToken,
    /// `refresh_token`.
    RefreshToken,
    /// A value the server does not know (to be ignored, RFC 7009 §2.1).
    Other,
}

/// A token named by a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenReference {
    /// The token, as sent.
    pub token: String,
    /// The client's hint of its type.
    pub hint: Option<TokenTypeHint>,
}

impl TokenReference {
    /// Reads `token` (required) and `token_type_hint` (optional); either repeated is
    /// `invalid_request`.
    pub fn parse(form: &Form) -> Result<Self, TokenError> {
        let token = form
            .single("token")?
            .ok_or_else(|| TokenError::InvalidRequest("missing token".into()))?;
        let hint = form.single("token_type_hint")?.map(|h| match h {
            "access_token" => TokenTypeHint::AccessToken,
            "refresh_token" => TokenTypeHint::RefreshToken,
            _ => TokenTypeHint::Other,
        });
        Ok(Self {
            token: token.to_owned(),
            hint,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<TokenReference, TokenError> {
        TokenReference::parse(&Form::parse(body.as_bytes()).unwrap())
    }

    #[test]
    fn token_and_hint() {
        let r = parse("token=abc&token_type_hint=access_token").unwrap();
        assert_eq!(
            (r.token.as_str(), r.hint),
            ("abc", Some(TokenTypeHint::AccessToken))
        );
        assert_eq!(
            parse("token=abc&token_type_hint=x").unwrap().hint,
            Some(TokenTypeHint::Other)
        );
        assert_eq!(parse("token=abc").unwrap().hint, None);
        for bad in [
            "",
            "token=",
            "token=a&token=b",
            "token=a&token_type_hint=x&token_type_hint=y",
        ] {
            assert!(
                matches!(parse(bad), Err(TokenError::InvalidRequest(_))),
                "{bad}"
            );
        }
    }
}
