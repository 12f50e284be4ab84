//! `core`'s [`Alarms`]: what the server does when a grant sees a stolen code or refresh token
//! used twice. The response goes through the same path as every other revocation (durable,
//! applied here, published), and a security event is logged.

use async_trait::async_trait;
use gatehouse_core::TokenError;
use gatehouse_core::client::ClientId;
use gatehouse_core::ports::Alarms;
use gatehouse_core::store::IssuedForCode;

use crate::changes::Changes;

#[async_trait]
impl Alarms for Changes {
    /// RFC 9700 §4.5: what the code was exchanged for is revoked ([`Changes::revoke_issued`]);
    /// a failure to write it is the request's error, never a quiet success.
    async fn code_replayed(
        &self,
        client: &ClientId,
        issued: Option<&IssuedForCode>,
    ) -> Result<(), TokenError> {
        tracing::warn!(target: "gatehouse::security", %client, "an authorization code was used twice: revoking what it was exchanged for");
        if let Some(issued) = issued {
            self.revoke_issued(issued).await.map_err(|e| {
                tracing::error!(error = %e, "revoking what a replayed code gave failed");
                TokenError::from(e)
            })?;
        }
        Ok(())
    }

    /// RFC 9700 §4.14.2: the family is revoked already; this records the event.
    async fn refresh_reused(&self, client: &ClientId, family: &str) {
        tracing::warn!(target: "gatehouse::security", %client, family, "a rotated refresh token was used again after its grace window: its family is revoked");
    }
}
