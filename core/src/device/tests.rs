use gatehouse_token::UnixTime;

use super::*;
use crate::request::device::DeviceAuthorizationRequest;
use crate::store::DeviceCodeStore;
use crate::testing::{ClientBuilder, Harness};

#[test]
fn device_codes_have_their_prefix_and_256_bits() {
    let code = DeviceCodeText::from_random([7; 32]);
    assert!(code.as_str().starts_with(DEVICE_CODE_PREFIX));
    assert_eq!(code.as_str().len(), DEVICE_CODE_PREFIX.len() + 43);
    assert_eq!(presented_digest(code.as_str()), Some(code.digest()));
    assert_eq!(format!("{code:?}"), "DeviceCodeText(..)");
    for bad in [
        "",
        "gdc_",
        "grt_AAAA",
        &code.as_str()[1..],
        &format!("{}A", code.as_str()),
    ] {
        assert_eq!(presented_digest(bad), None, "{bad}");
    }
}

#[tokio::test]
async fn start_decides_the_target_and_stores_a_pending_record() {
    let client = ClientBuilder::new()
        .grants(&["urn:ietf:params:oauth:grant-type:device_code"])
        .scope("read write")
        .public()
        .client();
    let h = Harness::at(1_000);
    let req = DeviceAuthorizationRequest {
        scope: Some("read".parse().unwrap()),
        resource: None,
    };
    let settings = DeviceSettings {
        lifetime: 60,
        interval: 2,
    };
    let started = start(
        &client,
        &req,
        &h.resources,
        &h.store,
        &h.random,
        settings,
        UnixTime(1_000),
    )
    .await
    .unwrap();
    assert_eq!((started.expires_in, started.interval), (60, 2));
    let stored = h.store.find(&started.user_code).await.unwrap().unwrap();
    assert_eq!(stored.client_id, client.id);
    assert_eq!(stored.scope.to_string(), "read");
    assert_eq!(stored.resource.as_str(), "https://rs.example");
    assert_eq!((stored.expires_at, stored.interval), (UnixTime(1_060), 2));
    assert_eq!(stored.status, crate::store::DeviceStatus::Pending);
    // More than the client may have: refused, nothing stored.
    let wide = DeviceAuthorizationRequest {
        scope: Some("admin".parse().unwrap()),
        resource: None,
    };
    assert!(matches!(
        start(
            &client,
            &wide,
            &h.resources,
            &h.store,
            &h.random,
            settings,
            UnixTime(1_000)
        )
        .await,
        Err(TokenError::InvalidScope(_))
    ));
}
