//! The real clock and randomness behind `core`'s ports.

use std::time::{SystemTime, UNIX_EPOCH};

use gatehouse_core::ports::{Clock, Random};
use gatehouse_token::UnixTime;
use ring::rand::{SecureRandom, SystemRandom};

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixTime {
        UnixTime(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        )
    }
}

/// The operating system's CSPRNG.
#[derive(Debug, Clone)]
pub struct OsRandom(SystemRandom);

impl Default for OsRandom {
    fn default() -> Self {
        Self(SystemRandom::new())
    }
}

impl Random for OsRandom {
    fn fill(&self, out: &mut [u8]) {
        // The OS generator failing is unrecoverable: issuing a predictable secret would be worse.
        #[expect(
            clippy::expect_used,
            reason = "a failing OS generator is unrecoverable"
        )]
        self.0
            .fill(out)
            .expect("the operating system's random generator failed");
    }
}
