//! The JWK / JWKS parser: any bytes as a key set. Must never panic.
#![no_main]

use gatehouse_validator::KeySnapshot;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(snapshot) = KeySnapshot::parse_jwks(data) {
        let _ = snapshot.get("a");
    }
});
