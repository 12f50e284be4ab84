//! The authorization code flow through the router in process, on the embedded store (redb, an
//! fsync per write transaction), beside client-credentials issuance through the same router
//! (the baseline, measured in the same run).
//!
//! Set-up signs a person in the way a browser does (`GET /authorize`, the sign-in form, the
//! consent form, reading the hidden fields from the HTML) and keeps the session cookie; the
//! consent is remembered, so each `GET /authorize` afterwards answers a 303 with a code at once.
//! The client is public (PKCE S256, `client_id` in the form) with an https redirect URI: on a
//! loopback one a public client's identity is not assured and consent is asked every time
//! (OAuth 2.1 §7.3.1).
//!
//! What is measured, one request or flow per iteration:
//! - client credentials, JWT (baseline): `POST /token`;
//! - one durable write to the same store (a session insert: a redb commit with its fsync), the
//!   unit the flow's cost is counted in: the loop makes five (code insert; redemption, refresh
//!   token, what the code issued; rotation);
//! - code issuance: `GET /authorize` with the session, answered 303 with a code;
//! - code exchange: that, then `POST /token` `authorization_code` with the PKCE verifier
//!   (access and refresh token);
//! - refresh rotation: `POST /token` `refresh_token`, each time with the successor the previous
//!   rotation returned (one family);
//! - the whole loop of `loadtest/k6/code-flow.js`: code exchange, then one rotation.

use std::hint::black_box;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, StatusCode, header};
use base64::Engine as _;
use criterion::{Criterion, criterion_group, criterion_main};
use gatehouse_core::store::Session;
use gatehouse_core::testing::{ClientBuilder, REDIRECT_URI, user};
use gatehouse_server::config::Config;
use gatehouse_token::{SecretDigest, UnixTime};
use tower::ServiceExt as _;

// The server's allocator, so that in-process figures match the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USERNAME: &str = "alice";
/// The password of [`gatehouse_core::testing::user`].
const PASSWORD: &str = "correct horse";
const FORM: &str = "application/x-www-form-urlencoded";

/// `application/x-www-form-urlencoded` of `pairs` (everything but the unreserved characters
/// escaped).
fn encode(pairs: &[(&str, &str)]) -> String {
    let escape = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    pairs
        .iter()
        .map(|(n, v)| format!("{}={}", escape(n), escape(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The value of the hidden field `name` in a page, its HTML character references decoded.
fn hidden(page: &str, name: &str) -> String {
    let start = format!("name=\"{name}\" value=\"");
    let from = page.find(&start).expect("the hidden field is on the page") + start.len();
    let raw = &page[from..from + page[from..].find('"').unwrap()];
    let mut out = String::new();
    let mut rest = raw;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let end = rest[at..].find(';').unwrap() + at;
        let entity = &rest[at + 1..end];
        let c = match entity {
            "amp" => '&',
            "quot" => '"',
            "lt" => '<',
            "gt" => '>',
            _ => {
                let n = entity.strip_prefix('#').unwrap();
                let n = match n.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).unwrap(),
                    None => n.parse().unwrap(),
                };
                char::from_u32(n).unwrap()
            }
        };
        out.push(c);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The `name=value` part of the response's `Set-Cookie`.
fn cookie(headers: &HeaderMap) -> String {
    let set = headers[header::SET_COOKIE].to_str().unwrap();
    set.split(';').next().unwrap().to_owned()
}

/// Sends `request` through the router: status, headers and the whole body.
async fn send(router: &Router, request: Request<Body>) -> (StatusCode, HeaderMap, Bytes) {
    let response = router.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    (parts.status, parts.headers, body)
}

fn post(path: &str, body: String, cookie: Option<&str>) -> Request<Body> {
    let mut request = Request::post(path).header(header::CONTENT_TYPE, FORM);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    request.body(Body::from(body)).unwrap()
}

/// A browser signed in with a remembered consent, and the client's side of the flow.
struct Flow {
    router: Router,
    client_id: String,
    /// The authorization request's query (one PKCE challenge for every request: the server's
    /// work is the same whatever the verifier).
    query: String,
    verifier: String,
    cookie: String,
}

impl Flow {
    /// `GET /authorize` with the session: the code of the 303.
    async fn code(&self) -> String {
        let request = Request::get(format!("/authorize?{}", self.query))
            .header(header::COOKIE, &self.cookie)
            .body(Body::empty())
            .unwrap();
        let (status, headers, _) = send(&self.router, request).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let location = headers[header::LOCATION].to_str().unwrap();
        let from = location.find("code=").unwrap() + "code=".len();
        let code = &location[from..];
        code[..code.find('&').unwrap_or(code.len())].to_owned()
    }

    /// `POST /token` with the form `fields` (and `client_id`): the new refresh token.
    async fn token(&self, fields: &[(&str, &str)]) -> String {
        let mut fields = fields.to_vec();
        fields.push(("client_id", &self.client_id));
        let (status, _, body) = send(&self.router, post("/token", encode(&fields), None)).await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        json["refresh_token"].as_str().unwrap().to_owned()
    }

    /// A code, redeemed: the refresh token.
    async fn exchange(&self) -> String {
        let code = self.code().await;
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", &self.verifier),
            ("redirect_uri", REDIRECT_URI),
        ])
        .await
    }

    /// One rotation of `refresh_token`: its successor.
    async fn refresh(&self, refresh_token: &str) -> String {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ])
        .await
    }

    /// Signs in and consents through the pages, as a browser does.
    async fn sign_in(router: Router, client_id: String) -> Self {
        let verifier = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([7u8; 32]);
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
            ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()),
        );
        let query = encode(&[
            ("response_type", "code"),
            ("client_id", &client_id),
            ("redirect_uri", REDIRECT_URI),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("state", "bench"),
            ("scope", "read"),
        ]);
        let get = Request::get(format!("/authorize?{query}"))
            .body(Body::empty())
            .unwrap();
        let (status, headers, page) = send(&router, get).await;
        assert_eq!(status, StatusCode::OK, "the sign-in page");
        let page = String::from_utf8(page.to_vec()).unwrap();
        let form = encode(&[
            ("request", &hidden(&page, "request")),
            ("csrf", &hidden(&page, "csrf")),
            ("username", USERNAME),
            ("password", PASSWORD),
        ]);
        let pre = cookie(&headers);
        let (status, headers, page) =
            send(&router, post("/authorize/login", form, Some(&pre))).await;
        assert_eq!(status, StatusCode::OK, "the consent page");
        let signed_in = cookie(&headers);
        let page = String::from_utf8(page.to_vec()).unwrap();
        let form = encode(&[
            ("request", &hidden(&page, "request")),
            ("csrf", &hidden(&page, "csrf")),
            ("decision", "approve"),
        ]);
        let (status, _, _) =
            send(&router, post("/authorize/consent", form, Some(&signed_in))).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "the code after consent");
        Self {
            router,
            client_id,
            query,
            verifier,
            cookie: signed_in,
        }
    }
}

fn code_flow(c: &mut Criterion) {
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
    let (flow, basic, app) = rt.block_on(async {
        let app = gatehouse_server::serve::build_app(config).await.unwrap();
        let (service, secret) = ClientBuilder::new().name("service").build();
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                service.id.as_str(),
                secret.unwrap().expose()
            ))
        );
        app.clients.insert(service).await.unwrap();
        let app_client = ClientBuilder::new()
            .name("app")
            .code_flow()
            .public()
            .client();
        let client_id = app_client.id.as_str().to_owned();
        app.clients.insert(app_client).await.unwrap();
        app.users.insert(user(USERNAME)).await.unwrap();
        let router = gatehouse_server::app::router(app.clone());
        (Flow::sign_in(router, client_id).await, basic, app)
    });
    let flow = &flow;

    let mut group = c.benchmark_group("code flow (router in process, redb)");
    group.bench_function("POST /token client_credentials, JWT (baseline)", |b| {
        b.to_async(&rt).iter(|| {
            let request = Request::post("/token")
                .header(header::CONTENT_TYPE, FORM)
                .header(header::AUTHORIZATION, &basic)
                .body(Body::from("grant_type=client_credentials"))
                .unwrap();
            async move {
                let (status, _, body) = send(&flow.router, request).await;
                assert_eq!(status, StatusCode::OK);
                black_box(body)
            }
        })
    });
    let (mut n, who) = (0u64, user(USERNAME).id);
    group.bench_function(
        "one durable write: session insert (redb commit, fsync)",
        |b| {
            b.to_async(&rt).iter(|| {
                n += 1;
                let session = Session {
                    user: who.clone(),
                    auth_time: UnixTime(n),
                    expires_at: UnixTime(4_000_000_000),
                };
                let digest = SecretDigest::of(&format!("bench-session-{n}"));
                let sessions = app.sessions.clone();
                async move { sessions.insert(digest, session).await.unwrap() }
            })
        },
    );
    group.bench_function("GET /authorize, signed in: 303 with a code", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(flow.code().await) })
    });
    group.bench_function(
        "code exchange: GET /authorize + POST /token authorization_code (PKCE)",
        |b| {
            b.to_async(&rt)
                .iter(|| async { black_box(flow.exchange().await) })
        },
    );
    group.bench_function("POST /token refresh_token (rotation)", |b| {
        b.to_async(&rt).iter_custom(|iters| async move {
            let mut current = flow.exchange().await;
            let start = Instant::now();
            for _ in 0..iters {
                current = flow.refresh(&current).await;
            }
            start.elapsed()
        })
    });
    group.bench_function("whole loop: code exchange + one rotation", |b| {
        b.to_async(&rt).iter(|| async {
            let refresh_token = flow.exchange().await;
            black_box(flow.refresh(&refresh_token).await)
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(1));
    targets = code_flow
}
criterion_main!(benches);
