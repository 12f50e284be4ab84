//! The edges of a token's lifetime, with the server's clock in the test's hands: the real
//! application (store, keys, validator, router) built in process on a fixed clock, driven
//! through its router, its maintenance round and a restart, second by second around `exp`.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, header};
use base64::Engine as _;
use gatehouse_core::client::{Introspection, TokenFormat};
use gatehouse_core::ports::Clock as _;
use gatehouse_core::testing::ClientBuilder;
use gatehouse_core::testing::FixedClock;
use gatehouse_server::config::Config;
use gatehouse_server::runtime::maintain;
use gatehouse_server::serve::{Ports, build_app_with};
use gatehouse_server::state::App;
use gatehouse_token::UnixTime;
use serde_json::Value;
use tower::ServiceExt as _;

use crate::harness::jwt_parts;

const T0: u64 = 1_800_000_000;
const LEEWAY: u64 = 30;

struct Fixture {
    app: Arc<App>,
    clock: Arc<FixedClock>,
    client: String,
    opaque_client: String,
    rs: String,
}

fn basic(id: &str, secret: &str) -> String {
    let pair = format!("{id}:{secret}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

async fn register(app: &App, builder: ClientBuilder) -> String {
    let (client, secret) = builder.lifetime(60).created_at(app.clock.now()).build();
    let auth = basic(client.id.as_str(), secret.unwrap().expose());
    app.clients.insert(client).await.unwrap();
    auth
}

fn config(dir: &std::path::Path) -> Config {
    Config::load_from(
        None,
        vec![("GATEHOUSE_DATA_DIR".to_owned(), dir.display().to_string())],
    )
    .unwrap()
}

fn ports(clock: &Arc<FixedClock>) -> Ports {
    Ports {
        clock: clock.clone(),
        ..Ports::default()
    }
}

impl Fixture {
    async fn new(dir: &std::path::Path) -> Self {
        let clock = Arc::new(FixedClock::at(T0));
        let app = build_app_with(config(dir), ports(&clock)).await.unwrap();
        let client = register(&app, ClientBuilder::new()).await;
        let opaque = ClientBuilder::new().format(TokenFormat::Opaque);
        let opaque_client = register(&app, opaque).await;
        let rs = ClientBuilder::new().introspection(Introspection::Resources);
        let rs = register(&app, rs).await;
        Self {
            app,
            clock,
            client,
            opaque_client,
            rs,
        }
    }

    async fn post(&self, path: &str, auth: &str, body: String) -> (u16, Value) {
        let request = Request::post(path)
            .header(header::AUTHORIZATION, auth)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        let response = gatehouse_server::app::router(self.app.clone())
            .oneshot(request)
            .await
            .unwrap();
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn token(&self) -> String {
        self.token_of(&self.client).await
    }

    async fn token_of(&self, client: &str) -> String {
        let (status, body) = self
            .post("/token", client, "grant_type=client_credentials".into())
            .await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    async fn active(&self, token: &str) -> bool {
        let (status, body) = self
            .post("/introspect", &self.rs, format!("token={token}"))
            .await;
        assert_eq!(status, 200, "{body}");
        body["active"].as_bool().unwrap()
    }

    fn at(&self, t: u64) {
        self.clock.0.store(t, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Issue 8, item 3: introspection is exact at `exp`, with no leeway (RFC 7662 §2.2).
#[tokio::test(flavor = "multi_thread")]
async fn introspection_ends_exactly_at_exp() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::new(dir.path()).await;
    let jwt = f.token().await;
    let opaque = f.token_of(&f.opaque_client).await;
    assert_eq!(jwt_parts(&jwt).1["exp"].as_u64().unwrap(), T0 + 60);
    let exp = T0 + 60;
    for token in [&jwt, &opaque] {
        f.at(T0);
        assert!(f.active(token).await);
        f.at(exp - 1);
        assert!(f.active(token).await, "its last second (from the cache)");
        f.at(exp);
        assert!(
            !f.active(token).await,
            "RFC 7519 §4.1.4: not on or after exp"
        );
        f.at(exp + 1);
        assert!(!f.active(token).await);
        f.at(T0 - 1);
        assert!(!f.active(token).await, "not before iat either");
    }
}

/// Issue 8, item 2: a revocation outlives every moment at which the token could be accepted
/// anywhere: it stays in memory and in the store until `exp` + leeway, through the minute's
/// purge and a restart, and only then goes.
#[tokio::test(flavor = "multi_thread")]
async fn revocations_outlive_exp_by_the_leeway_through_purges_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::new(dir.path()).await;
    let token = f.token().await;
    let claims = jwt_parts(&token).1;
    let (jti, exp) = (
        claims["jti"].as_str().unwrap().to_owned(),
        claims["exp"].as_u64().unwrap(),
    );
    assert!(f.active(&token).await, "validated once, so cached");
    let (status, _) = f.post("/revoke", &f.client, format!("token={token}")).await;
    assert_eq!(status, 200);
    assert!(!f.active(&token).await);

    for t in [exp, exp + 1, exp + LEEWAY - 1] {
        maintain::once(&f.app, UnixTime(t)).await;
        assert!(
            f.app.validator.revocations().contains(&jti),
            "kept in memory at exp + {}",
            t - exp
        );
    }
    let (app, clock) = (f.app.clone(), f.clock.clone());
    drop(f);
    drop(app);
    // A restart at exp + 10 loads it again from the store.
    clock.0.store(exp + 10, std::sync::atomic::Ordering::SeqCst);
    let restarted = build_app_with(config(dir.path()), ports(&clock))
        .await
        .unwrap();
    assert!(
        restarted.validator.revocations().contains(&jti),
        "loaded at start while exp + leeway is ahead"
    );
    maintain::once(&restarted, UnixTime(exp + LEEWAY + 1)).await;
    assert!(
        !restarted.validator.revocations().contains(&jti),
        "then purged"
    );
    assert!(
        restarted
            .revocations
            .live_page(UnixTime(0), None, 10)
            .await
            .unwrap()
            .is_empty(),
        "from the store too"
    );
}

/// A dynamically registered client unused for `registration.idle_expiry` is `invalid_client` at
/// once (so MCP SDKs register again, shared/reference/mcp-auth.md §4.6) and purged by the
/// maintenance round with what it held; one in use keeps living.
#[tokio::test(flavor = "multi_thread")]
async fn an_idle_registration_expires_and_is_purged() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(FixedClock::at(T0));
    let config = Config::load_from(
        None,
        vec![
            (
                "GATEHOUSE_DATA_DIR".to_owned(),
                dir.path().display().to_string(),
            ),
            (
                "GATEHOUSE_REGISTRATION__IDLE_EXPIRY".to_owned(),
                "1h".to_owned(),
            ),
        ],
    )
    .unwrap();
    let app = build_app_with(config, ports(&clock)).await.unwrap();
    let call = |request: Request<Body>| {
        let app = app.clone();
        async move {
            let response = gatehouse_server::app::router(app)
                .oneshot(request)
                .await
                .unwrap();
            let status = response.status().as_u16();
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap();
            (
                status,
                serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null),
            )
        }
    };
    let register = || {
        Request::post("/register")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                r#"{"redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"none"}"#,
            ))
            .unwrap()
    };
    let (status, a) = call(register()).await;
    assert_eq!(status, 201, "{a}");
    let (_, b) = call(register()).await;
    let id = |v: &Value| v["client_id"].as_str().unwrap().to_owned();
    // An authenticated use: the grant fails (no such refresh token), the client is known.
    let use_it = |client: String| {
        Request::post("/token")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!(
                "grant_type=refresh_token&refresh_token=grt_x&client_id={client}"
            )))
            .unwrap()
    };
    f_at(&clock, T0 + 1_000);
    assert_eq!(
        call(use_it(id(&a))).await.0,
        400,
        "a is used (and its use recorded)"
    );
    f_at(&clock, T0 + 3_600);
    let (status, body) = call(use_it(id(&b))).await;
    assert_eq!(status, 401, "b expired: {body}");
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(call(use_it(id(&a))).await.0, 400, "a lives on");
    maintain::once(&app, clock.now()).await;
    let client_id = |v: &Value| gatehouse_core::client::ClientId::new(&id(v)).unwrap();
    assert!(
        app.clients.get(&client_id(&b)).await.unwrap().is_none(),
        "b purged"
    );
    assert!(app.clients.get(&client_id(&a)).await.unwrap().is_some());
}

fn f_at(clock: &FixedClock, t: u64) {
    clock.0.store(t, std::sync::atomic::Ordering::SeqCst);
}

/// A device code at the edges of its life, second by second on the fixed clock: the interval
/// and `slow_down` growth exactly at the boundary, `expired_token` from `expires_in` on and
/// through the tombstone, then purged by the maintenance round (`invalid_grant`).
#[tokio::test]
async fn a_device_code_at_the_edges_of_its_life() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::new(dir.path()).await;
    let device = register(
        &f.app,
        ClientBuilder::new().grants(&["urn:ietf:params:oauth:grant-type:device_code"]),
    )
    .await;
    let (status, started) = f
        .post("/device_authorization", &device, String::new())
        .await;
    assert_eq!(status, 200, "{started}");
    assert_eq!(
        (started["expires_in"].as_u64(), started["interval"].as_u64()),
        (Some(600), Some(5))
    );
    let code = started["device_code"].as_str().unwrap().to_owned();
    let poll = |at: u64| {
        f_at(&f.clock, at);
        let body =
            format!("grant_type=urn:ietf:params:oauth:grant-type:device_code&device_code={code}");
        let f = &f;
        let device = device.clone();
        async move {
            let (status, body) = f.post("/token", &device, body).await;
            assert_eq!(status, 400, "{body}");
            body["error"].as_str().unwrap().to_owned()
        }
    };
    assert_eq!(poll(T0).await, "authorization_pending");
    assert_eq!(
        poll(T0 + 4).await,
        "slow_down",
        "one second short of the interval"
    );
    assert_eq!(poll(T0 + 13).await, "slow_down", "the interval is 10 s now");
    assert_eq!(
        poll(T0 + 28).await,
        "authorization_pending",
        "15 s later: in time"
    );
    assert_eq!(
        poll(T0 + 599).await,
        "authorization_pending",
        "the last second"
    );
    assert_eq!(poll(T0 + 600).await, "expired_token");
    let tombstone = maintain::DEVICE_TOMBSTONE;
    maintain::once(&f.app, UnixTime(T0 + 600 + tombstone)).await;
    assert_eq!(
        poll(T0 + 600 + tombstone).await,
        "expired_token",
        "kept through the tombstone"
    );
    maintain::once(&f.app, UnixTime(T0 + 601 + tombstone)).await;
    assert_eq!(poll(T0 + 601 + tombstone).await, "invalid_grant", "purged");
}
