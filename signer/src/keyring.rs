//! The key ring: the one key that signs now, and every key still published in the JWKS. An
//! immutable value; a change (rotation, retirement) builds a new ring that the server swaps in
//! atomically, so a request sees one consistent ring from start to end.

use std::sync::Arc;

use gatehouse_token::JwkSet;

use crate::key::SigningKey;

/// The active signing key and the published verification keys.
#[derive(Debug, Clone)]
pub struct KeyRing {
    active: Arc<dyn SigningKey>,
    published: Vec<Arc<dyn SigningKey>>,
}

impl KeyRing {
    /// A ring signing with `active` and also publishing `retired` (keys that signed tokens that
    /// may still be live). The active key is always published, first.
    pub fn new(active: Arc<dyn SigningKey>, retired: Vec<Arc<dyn SigningKey>>) -> Self {
        let mut published = vec![active.clone()];
        published.extend(retired.into_iter().filter(|k| k.kid() != active.kid()));
        Self { active, published }
    }

    /// The key that signs new tokens.
    pub fn active(&self) -> &Arc<dyn SigningKey> {
        &self.active
    }

    /// The public JWK Set (RFC 7517 §5).
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: self
                .published
                .iter()
                .map(|k| k.public_jwk().clone())
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use gatehouse_token::Algorithm;

    use super::*;
    use crate::SoftwareKey;

    #[test]
    fn active_key_is_published_first_and_once() {
        let a: Arc<dyn SigningKey> = Arc::new(SoftwareKey::generate(Algorithm::ES256).unwrap());
        let b: Arc<dyn SigningKey> = Arc::new(SoftwareKey::generate(Algorithm::EdDSA).unwrap());
        let ring = KeyRing::new(a.clone(), vec![b.clone(), a.clone()]);
        let kids: Vec<String> = ring.jwks().keys.into_iter().map(|k| k.kid).collect();
        assert_eq!(kids, [a.kid(), b.kid()]);
        assert_eq!(ring.active().kid(), a.kid());
    }
}
