//! The server's own work, without sockets or the kernel: handlers called through the router in
//! process (`/health` is the baseline), token building and JSON encoding, and embedded-store
//! operations (an in-memory store as their baseline).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, header};
use base64::Engine as _;
use criterion::{Criterion, criterion_group, criterion_main};
use gatehouse_benches::{claims, token};
use gatehouse_core::client::Introspection;
use gatehouse_core::memory::MemoryStore;
use gatehouse_core::store::{AccessTokenStore, ClientStore};
use gatehouse_core::testing::ClientBuilder;
use gatehouse_server::config::Config;
use gatehouse_signer::{SigningKey, SoftwareKey, jws};
use gatehouse_store::EmbeddedStore;
use gatehouse_token::{Algorithm, OpaqueToken};
use tower::ServiceExt as _;

// The server's allocator, so that in-process figures match the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

fn handlers(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = Config::load_from(
        None,
        vec![(
            "GATEHOUSE_DATA_DIR".to_owned(),
            dir.path().display().to_string(),
        )],
    )
    .unwrap();
    let (router, rs_auth, token) = rt.block_on(async {
        let app = gatehouse_server::serve::build_app(config).await.unwrap();
        let mut creds = Vec::new();
        for name in ["client", "rs"] {
            // The resource server introspects the tokens of its own resource.
            let introspection = if name == "rs" {
                Introspection::Resources
            } else {
                Introspection::None
            };
            let (client, secret) = ClientBuilder::new()
                .name(name)
                .introspection(introspection)
                .build();
            creds.push(basic(client.id.as_str(), secret.unwrap().expose()));
            app.clients.insert(client).await.unwrap();
        }
        let router = gatehouse_server::app::router(app);
        let issue = Request::post("/token")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::AUTHORIZATION, &creds[0])
            .body(Body::from("grant_type=client_credentials"))
            .unwrap();
        let response = router.clone().oneshot(issue).await.unwrap();
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        (
            router,
            creds[1].clone(),
            json["access_token"].as_str().unwrap().to_owned(),
        )
    });
    let body = format!("token={token}");
    let mut group = c.benchmark_group("handler (router in process)");
    group.bench_function("GET /health (baseline)", |b| {
        b.to_async(&rt).iter(|| {
            let router = router.clone();
            async move {
                black_box(
                    router
                        .oneshot(Request::get("/health").body(Body::empty()).unwrap())
                        .await
                        .unwrap(),
                )
            }
        })
    });
    group.bench_function("POST /introspect, cached JWT", |b| {
        b.to_async(&rt).iter(|| {
            let request = Request::post("/introspect")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::AUTHORIZATION, &rs_auth)
                .body(Body::from(body.clone()))
                .unwrap();
            let router = router.clone();
            async move {
                let response = router.oneshot(request).await.unwrap();
                black_box(
                    axum::body::to_bytes(response.into_body(), 1 << 16)
                        .await
                        .unwrap(),
                )
            }
        })
    });
    group.finish();
}

fn building(c: &mut Criterion) {
    let key: Arc<dyn SigningKey> = Arc::new(SoftwareKey::generate(Algorithm::ES256).unwrap());
    let claims = claims(7);
    let mut group = c.benchmark_group("token building");
    group.bench_function("claims to JSON", |b| {
        b.iter(|| black_box(serde_json::to_vec(black_box(&claims)).unwrap()))
    });
    group.bench_function("ES256 sign of the same bytes (baseline)", |b| {
        let input = serde_json::to_vec(&claims).unwrap();
        b.iter(|| black_box(key.sign(black_box(&input)).unwrap()))
    });
    group.bench_function("whole JWS: header, claims, base64url, ES256", |b| {
        b.iter(|| black_box(jws::sign_compact(key.as_ref(), "at+jwt", black_box(&claims)).unwrap()))
    });
    let _ = token(key.as_ref(), 1);
    group.finish();
}

fn store(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let embedded = EmbeddedStore::open(dir.path()).unwrap();
    let memory = MemoryStore::default();
    let token = OpaqueToken::from_random([5; 32]);
    rt.block_on(async {
        AccessTokenStore::insert(&embedded, token.digest(), claims(1), usize::MAX)
            .await
            .unwrap();
        AccessTokenStore::insert(&memory, token.digest(), claims(1), usize::MAX)
            .await
            .unwrap();
    });
    let digest = token.digest();
    let mut group = c.benchmark_group("store");
    group.bench_function("opaque token lookup, in memory (baseline)", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(AccessTokenStore::get(&memory, &digest).await.unwrap()) })
    });
    group.bench_function("opaque token lookup, embedded (redb)", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(AccessTokenStore::get(&embedded, &digest).await.unwrap()) })
    });
    let mut n = 0u8;
    group.bench_function("opaque token insert, embedded (redb, fsync)", |b| {
        b.to_async(&rt).iter(|| {
            n = n.wrapping_add(1);
            let t = OpaqueToken::from_random([n; 32]);
            let embedded = embedded.clone();
            async move {
                AccessTokenStore::insert(&embedded, t.digest(), claims(2), usize::MAX)
                    .await
                    .unwrap()
            }
        })
    });
    group.bench_function("client lookup, embedded (cached map)", |b| {
        let id = gatehouse_core::client::ClientId::new("nobody").unwrap();
        b.to_async(&rt)
            .iter(|| async { black_box(ClientStore::get(&embedded, &id).await.unwrap()) })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = handlers, building, store
}
criterion_main!(benches);
