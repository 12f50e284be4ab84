//! The changes every node must see, and the port they are published through.
//!
//! A change that other nodes must apply (a revocation, a deleted client, new signing keys)
//! goes through one service in the server: durable write first, then applied on this node, then
//! published here. One node needs nothing more than [`InProcessEvents`] (which hands events to
//! whoever subscribed in this process); many nodes publish through Redis and apply what the
//! others publish.

use std::sync::RwLock;

use gatehouse_token::UnixTime;

use crate::client::ClientId;

/// A change every node must apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// An access token (JWT or opaque) was revoked: refuse its `jti` until `exp` (plus leeway).
    Revoked {
        /// The token's id.
        jti: String,
        /// Its expiry.
        exp: UnixTime,
    },
    /// A client was deleted: every token issued to it is dead.
    ClientDeleted {
        /// The client.
        client_id: ClientId,
    },
    /// The signing keys changed (published, promoted, retired or removed): reload them.
    KeysChanged,
}

/// Why an event could not be published; the change itself is durable and applied locally.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event not published: {0}")]
pub struct PublishError(pub String);

/// Where events go.
pub trait Events: Send + Sync {
    /// Publishes `event` to every node (this one included, through its subscribers).
    fn publish(&self, event: &Event) -> Result<(), PublishError>;
}

/// A subscriber of [`InProcessEvents`].
pub type Subscriber = Box<dyn Fn(&Event) + Send + Sync>;

/// Events within one process: each published event is handed to every subscriber, in order.
#[derive(Default)]
pub struct InProcessEvents {
    subscribers: RwLock<Vec<Subscriber>>,
}

impl std::fmt::Debug for InProcessEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self
            .subscribers
            .read()
            .map_or(0, |subscribers| subscribers.len());
        f.debug_struct("InProcessEvents")
            .field("subscribers", &n)
            .finish()
    }
}

impl InProcessEvents {
    /// Hands every event published from now on to `subscriber`.
    pub fn subscribe(&self, subscriber: Subscriber) {
        self.subscribers
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(subscriber);
    }
}

impl Events for InProcessEvents {
    fn publish(&self, event: &Event) -> Result<(), PublishError> {
        for subscriber in self
            .subscribers
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
        {
            subscriber(event);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[test]
    fn subscribers_get_every_event_in_order() {
        let events = InProcessEvents::default();
        events.publish(&Event::KeysChanged).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        events.subscribe(Box::new(move |e| sink.lock().unwrap().push(e.clone())));
        let revoked = Event::Revoked {
            jti: "j".into(),
            exp: UnixTime(5),
        };
        events.publish(&revoked).unwrap();
        events.publish(&Event::KeysChanged).unwrap();
        assert_eq!(*seen.lock().unwrap(), [revoked, Event::KeysChanged]);
    }
}
