//! Every change other nodes must see goes one way: durable, applied here, published. In
//! process, on the real application, with the events port watched.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, header};
use gatehouse_core::client::Introspection;
use gatehouse_core::events::{Event, InProcessEvents};
use gatehouse_core::testing::ClientBuilder;
use gatehouse_server::config::Config;
use gatehouse_server::serve::{Ports, build_app_with};
use gatehouse_token::UnixTime;
use tower::ServiceExt as _;

async fn call(router: axum::Router, request: Request<Body>) -> (u16, serde_json::Value) {
    let response = router.oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread")]
async fn revocations_deletions_and_rotations_are_published() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::load_from(
        None,
        vec![(
            "GATEHOUSE_DATA_DIR".to_owned(),
            dir.path().display().to_string(),
        )],
    )
    .unwrap();
    let events = Arc::new(InProcessEvents::default());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    events.subscribe(Box::new(move |e| sink.lock().unwrap().push(e.clone())));
    let app = build_app_with(
        config,
        Ports {
            events: events.clone(),
            ..Ports::default()
        },
    )
    .await
    .unwrap();
    let admin_token = std::fs::read_to_string(dir.path().join("admin-token")).unwrap();
    let admin = |method: &str, path: &str, body: &str| {
        Request::builder()
            .method(method)
            .uri(path)
            .header(
                header::AUTHORIZATION,
                format!("Bearer {}", admin_token.trim()),
            )
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_owned()))
            .unwrap()
    };
    let (client, secret) = ClientBuilder::new()
        .introspection(Introspection::Any)
        .build();
    let secret = secret.unwrap();
    app.clients.insert(client.clone()).await.unwrap();

    // A client revokes its token: durable, dead here, published.
    let basic = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{}:{}", client.id, secret.expose())
        )
    );
    let form = |path: &str, body: String| {
        Request::post(path)
            .header(header::AUTHORIZATION, basic.clone())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap()
    };
    let router = gatehouse_server::app::router(app.clone());
    let (status, token) = call(
        router.clone(),
        form("/token", "grant_type=client_credentials".into()),
    )
    .await;
    assert_eq!(status, 200);
    let token = token["access_token"].as_str().unwrap().to_owned();
    let (status, _) = call(router.clone(), form("/revoke", format!("token={token}"))).await;
    assert_eq!(status, 200);
    let jti = match seen.lock().unwrap().last().cloned() {
        Some(Event::Revoked { jti, .. }) => jti,
        other => panic!("expected a revocation, saw {other:?}"),
    };
    assert!(app.validator.revocations().contains(&jti), "applied here");
    let stored = app
        .revocations
        .live_page(UnixTime(0), None, 10)
        .await
        .unwrap();
    assert_eq!(stored[0].0, jti, "durable");

    // An operator's bulk import, a key rotation and a client deletion.
    let admin_router = gatehouse_server::admin::router(app.clone());
    let import = format!(r#"[{{"jti":"bulk-1","exp":{}}}]"#, app.clock.now().0 + 60);
    assert_eq!(
        call(
            admin_router.clone(),
            admin("POST", "/admin/revocations", &import)
        )
        .await
        .0,
        200
    );
    assert_eq!(
        call(
            admin_router.clone(),
            admin("POST", "/admin/keys/rotate", "{}")
        )
        .await
        .0,
        201
    );
    let path = format!("/admin/clients/{}", client.id);
    assert_eq!(call(admin_router, admin("DELETE", &path, "")).await.0, 200);
    let seen = seen.lock().unwrap();
    let tail: Vec<&Event> = seen.iter().rev().take(3).collect();
    assert!(
        matches!(tail[2], Event::Revoked { jti, .. } if jti == "bulk-1"),
        "{tail:?}"
    );
    assert_eq!(*tail[1], Event::KeysChanged);
    assert_eq!(
        *tail[0],
        Event::ClientDeleted {
            client_id: client.id.clone()
        }
    );
}
