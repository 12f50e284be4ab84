//! What the authorization endpoint does next for a person, decided from the request, their
//! sign-in and their remembered consent: ask (a page), refuse (`prompt=none`, OIDC Core
//! §3.1.2.6), or go on. The edge renders what is decided here.

use gatehouse_token::UnixTime;

use super::{AuthorizationRequest, ErrorCode, consent};
use crate::store::Consent;

/// The next step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Show the page (sign-in or consent).
    Ask,
    /// Answer the client with this error, showing nothing (`prompt=none`).
    Refuse(ErrorCode),
    /// Go on to the next stage.
    Proceed,
}

/// Whether the person must sign in: not signed in (`signed_in_at` is `None`), `prompt=login`,
/// or a sign-in older than `max_age` (OIDC Core §3.1.2.1). With `prompt=none`, that is
/// `login_required` instead of a page.
pub fn sign_in(req: &AuthorizationRequest, signed_in_at: Option<UnixTime>, now: UnixTime) -> Step {
    let fresh = |at: UnixTime| {
        req.max_age
            .is_none_or(|max| now.0.saturating_sub(at.0) <= max)
    };
    match signed_in_at {
        Some(at) if !req.prompt.login && fresh(at) => Step::Proceed,
        _ if req.prompt.none => Step::Refuse(ErrorCode::LoginRequired),
        _ => Step::Ask,
    }
}

/// Whether the person must be asked for consent: nothing remembered covers the request, the
/// client's identity cannot be assured (a native app: OAuth 2.1 §7.3.1), or `prompt=consent`.
/// With `prompt=none`, that is `consent_required`. `approved`: they just said yes.
pub fn consent(req: &AuthorizationRequest, remembered: Option<&Consent>, approved: bool) -> Step {
    if approved {
        return Step::Proceed;
    }
    let covered = consent::covers(remembered, &req.scope, &req.resource)
        && req.client.identity_assured(&req.redirect_uri);
    match () {
        () if covered && !req.prompt.consent => Step::Proceed,
        () if req.prompt.none => Step::Refuse(ErrorCode::ConsentRequired),
        () => Step::Ask,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authorize::parse;
    use crate::form::Form;
    use crate::memory::MemoryStore;
    use crate::store::ClientStore;
    use crate::testing::ClientBuilder;

    async fn request(public: bool, redirect: &str, extra: &str) -> AuthorizationRequest {
        let mut builder = ClientBuilder::new().code_flow().redirect_uris(&[redirect]);
        if public {
            builder = builder.public();
        }
        let client = builder.client();
        let store = MemoryStore::default();
        ClientStore::insert(&store, client.clone()).await.unwrap();
        let q = format!(
            "response_type=code&client_id={}&redirect_uri={}&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256{extra}",
            client.id,
            url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>()
        );
        parse(
            &Form::parse(q.as_bytes()).unwrap(),
            super::super::Checks {
                clients: &store,
                resources: &crate::resource::ResourceRegistry::EMPTY,
                issuer: "https://as",
            },
        )
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn sign_in_steps() {
        let now = UnixTime(1_000);
        let plain = request(false, "https://app.example/cb", "").await;
        assert_eq!(sign_in(&plain, None, now), Step::Ask);
        assert_eq!(sign_in(&plain, Some(UnixTime(0)), now), Step::Proceed);
        let login = request(false, "https://app.example/cb", "&prompt=login").await;
        assert_eq!(sign_in(&login, Some(UnixTime(999)), now), Step::Ask);
        let aged = request(false, "https://app.example/cb", "&max_age=60").await;
        assert_eq!(sign_in(&aged, Some(UnixTime(940)), now), Step::Proceed);
        assert_eq!(sign_in(&aged, Some(UnixTime(939)), now), Step::Ask);
        let none = request(false, "https://app.example/cb", "&prompt=none").await;
        assert_eq!(
            sign_in(&none, None, now),
            Step::Refuse(ErrorCode::LoginRequired)
        );
        assert_eq!(sign_in(&none, Some(UnixTime(0)), now), Step::Proceed);
    }

    #[tokio::test]
    async fn consent_steps() {
        let web = request(false, "https://app.example/cb", "").await;
        let given = consent::widened(None, &web.scope, &web.resource, UnixTime(0));
        assert_eq!(consent(&web, None, false), Step::Ask);
        assert_eq!(consent(&web, Some(&given), false), Step::Proceed);
        assert_eq!(consent(&web, None, true), Step::Proceed);
        let again = request(false, "https://app.example/cb", "&prompt=consent").await;
        assert_eq!(consent(&again, Some(&given), false), Step::Ask);
        let none = request(false, "https://app.example/cb", "&prompt=none").await;
        assert_eq!(
            consent(&none, None, false),
            Step::Refuse(ErrorCode::ConsentRequired)
        );
        // A native app is asked although its consent is remembered; with prompt=none, refused.
        let native = request(true, "http://127.0.0.1/cb", "").await;
        assert_eq!(consent(&native, Some(&given), false), Step::Ask);
        let silent = request(true, "http://127.0.0.1/cb", "&prompt=none").await;
        assert_eq!(
            consent(&silent, Some(&given), false),
            Step::Refuse(ErrorCode::ConsentRequired)
        );
        let https_public = request(true, "https://app.example/cb", "").await;
        assert_eq!(consent(&https_public, Some(&given), false), Step::Proceed);
    }
}
