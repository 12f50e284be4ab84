//! `core`'s [`Alarms`]: what the server does when a grant sees a stolen code or refresh token
//! used twice. The response goes through the same path as every other revocation (durable,
//! applied here, published), and a security event is logged.

use async_trait::async_trait;
use gatehouse_core::client::ClientId;
use gatehouse_core::events::Event;
use gatehouse_core::ports::Alarms;
use gatehouse_core::store::IssuedForCode;

use crate::changes::Changes;

#[async_trait]
impl Alarms for Changes {
    /// RFC 9700 §4.5: the tokens issued for the code are revoked (the access token by `jti` in
    /// every validator, or by digest when opaque; the refresh-token family).
    async fn code_replayed(&self, client: &ClientId, issued: Option<&IssuedForCode>) {
        tracing::warn!(target: "gatehouse::security", %client, "an authorization code was used twice: revoking what it was exchanged for");
        let Some(issued) = issued else { return };
        let jti = issued.access_jti.clone();
        match issued.access_digest {
            Some(digest) => {
                if let Err(e) = self.tokens.revoke(&digest).await {
                    tracing::error!(error = %e, "revoking the access token of a replayed code failed");
                }
            }
            None => match self
                .revocations
                .revoke_many(vec![(jti.clone(), issued.access_exp)])
                .await
            {
                Ok(()) => {
                    self.validator
                        .revocations()
                        .insert(jti.clone(), issued.access_exp);
                    let event = Event::Revoked {
                        jti,
                        exp: issued.access_exp,
                    };
                    if let Err(e) = self.events.publish(&event) {
                        tracing::warn!(error = %e, "a revocation is durable and applied here, but was not published");
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "revoking the access token of a replayed code failed");
                }
            },
        }
        if let Some(family) = &issued.refresh_family {
            if let Err(e) = self.refresh_tokens.revoke_family(family).await {
                tracing::error!(error = %e, "revoking the refresh tokens of a replayed code failed");
            }
        }
    }

    /// RFC 9700 §4.14.2: the family is revoked already; this records the event.
    async fn refresh_reused(&self, client: &ClientId, family: &str) {
        tracing::warn!(target: "gatehouse::security", %client, family, "a rotated refresh token was used again after its grace window: its family is revoked");
    }
}
