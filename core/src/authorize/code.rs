//! Issuing the authorization code once a person has approved (RFC 6749 §4.1.2): 256 random
//! bits, stored by digest with everything the request decided, redeemable once within
//! [`CODE_LIFETIME`] seconds (RFC 9700 §4.2.1: short-lived, single use).

use gatehouse_token::{SecretDigest, UnixTime, b64};

use super::AuthorizationRequest;
use crate::ports::{Random, random_bytes};
use crate::store::{AuthorizationCode, CodeStore, StoreError};
use crate::user::UserId;

/// How long a code can be redeemed, seconds (OAuth 2.1 §4.1.2 recommends at most a minute).
pub const CODE_LIFETIME: u64 = 60;

/// Who approved, and in which browser session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    /// The user.
    pub user: UserId,
    /// When they entered their password.
    pub auth_time: UnixTime,
    /// The digest of their session.
    pub session: SecretDigest,
}

/// Issues and stores a code for `request`, approved by `who` at `now`; the code's text.
pub async fn issue(
    request: &AuthorizationRequest,
    who: &Approval,
    codes: &dyn CodeStore,
    random: &dyn Random,
    now: UnixTime,
) -> Result<String, StoreError> {
    let text = b64::encode(random_bytes::<32>(random));
    let code = AuthorizationCode {
        client_id: request.client.id.clone(),
        redirect_uri: request.redirect_given.then(|| request.redirect_uri.clone()),
        code_challenge: request.code_challenge.as_str().to_owned(),
        user: who.user.clone(),
        auth_time: who.auth_time,
        scope: request.scope.clone(),
        resource: request.resource.clone(),
        nonce: request.nonce.clone(),
        session: who.session,
        expires_at: now.plus(CODE_LIFETIME),
        dpop_jkt: request.dpop_jkt.clone(),
    };
    codes.insert(SecretDigest::of(&text), code).await?;
    Ok(text)
}
