//! Server-provided nonces (RFC 9449 §8, §9), stateless: a nonce is an HMAC of a time step
//! under a server key, so any node with the key can check it and nothing is stored. A nonce
//! is accepted during its own step and the next one, so a client that just received one is
//! never refused because the step changed.

use std::fmt;

use gatehouse_token::{UnixTime, b64};
use ring::hmac;

/// The key and step of rotating nonces. `Debug` never prints the key.
#[derive(Clone)]
pub struct NonceKey {
    key: hmac::Key,
    step: u64,
}

impl fmt::Debug for NonceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NonceKey")
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

impl NonceKey {
    /// Nonces under the 256-bit `secret`, a new one every `step` seconds (at least 1).
    pub fn new(secret: &[u8; 32], step: u64) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
            step: step.max(1),
        }
    }

    /// The nonce of step number `n`: 128 bits of the HMAC, base64url.
    fn of_step(&self, n: u64) -> String {
        let tag = hmac::sign(
            &self.key,
            &[b"dpop-nonce".as_slice(), &n.to_be_bytes()].concat(),
        );
        b64::encode(&tag.as_ref()[..16])
    }

    /// The nonce to hand out at `now` (the `DPoP-Nonce` header).
    pub fn current(&self, now: UnixTime) -> String {
        self.of_step(now.0 / self.step)
    }

    /// Whether `nonce` is the current or the previous step's nonce at `now`.
    pub fn accepts(&self, nonce: &str, now: UnixTime) -> bool {
        let n = now.0 / self.step;
        nonce == self.of_step(n) || (n > 0 && nonce == self.of_step(n - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_and_accepts_the_previous_step() {
        let key = NonceKey::new(&[7; 32], 60);
        let first = key.current(UnixTime(120));
        assert_eq!(first.len(), 22);
        assert!(key.accepts(&first, UnixTime(179)));
        assert!(key.accepts(&first, UnixTime(239)), "previous step");
        assert!(!key.accepts(&first, UnixTime(240)), "two steps later");
        assert!(!key.accepts(&first, UnixTime(60)), "not before it was made");
        assert_ne!(key.current(UnixTime(180)), first);
        assert!(
            !NonceKey::new(&[8; 32], 60).accepts(&first, UnixTime(120)),
            "another key"
        );
        assert!(!key.accepts("", UnixTime(120)));
    }
}
