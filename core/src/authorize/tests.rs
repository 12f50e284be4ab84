use super::*;
use crate::memory::MemoryStore;
use crate::store::ClientStore;
use crate::testing::{ClientBuilder, REDIRECT_URI};

const ISS: &str = "https://as.example";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

async fn store_with(client: Client) -> MemoryStore {
    let store = MemoryStore::default();
    ClientStore::insert(&store, client).await.unwrap();
    store
}

fn query(client: &Client, extra: &str) -> String {
    format!(
        "response_type=code&client_id={}&code_challenge={CHALLENGE}&code_challenge_method=S256&state=xyz{extra}",
        client.id
    )
}

async fn run(store: &MemoryStore, q: &str) -> Result<AuthorizationRequest, AuthorizeError> {
    parse(
        &Form::parse(q.as_bytes()).unwrap(),
        Checks {
            clients: store,
            resources: &crate::resource::ResourceRegistry::EMPTY,
            issuer: ISS,
        },
    )
    .await
}

fn redirected(r: Result<AuthorizationRequest, AuthorizeError>) -> Reply {
    match r {
        Err(AuthorizeError::Redirect(reply)) => reply,
        other => panic!("expected a redirect, got {other:?}"),
    }
}

fn param<'a>(reply: &'a Reply, name: &str) -> Option<&'a str> {
    reply
        .params
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn a_good_request_defaults_scope_resource_and_redirect() {
    let client = ClientBuilder::new().code_flow().public().client();
    let store = store_with(client.clone()).await;
    let req = run(
        &store,
        &query(
            &client,
            "&nonce=n1&prompt=login&max_age=60&login_hint=Alice",
        ),
    )
    .await
    .unwrap();
    assert_eq!(req.redirect_uri, REDIRECT_URI);
    assert!(!req.redirect_given);
    assert_eq!(req.scope.to_string(), "read");
    assert_eq!(req.resource.as_str(), "https://rs.example");
    assert_eq!(req.state.as_deref(), Some("xyz"));
    assert_eq!(req.nonce.as_deref(), Some("n1"));
    assert!(req.prompt.login && !req.prompt.none);
    assert_eq!(req.max_age, Some(60));
    assert_eq!(req.response_mode, ResponseMode::Query);
    let ok = req.success(ISS, "the-code");
    assert_eq!(
        ok.location(),
        "https://app.example/cb?code=the-code&state=xyz&iss=https%3A%2F%2Fas.example"
    );
}

#[tokio::test]
async fn unknown_clients_and_unregistered_redirects_get_a_page_never_a_redirect() {
    let client = ClientBuilder::new().code_flow().client();
    let store = store_with(client.clone()).await;
    for q in [
        "response_type=code&client_id=nobody&redirect_uri=https%3A%2F%2Fevil.example%2F".to_owned(),
        "response_type=code".to_owned(),
        format!("client_id={}&client_id=x", client.id),
        query(&client, "&redirect_uri=https%3A%2F%2Fevil.example%2Fcb"),
        query(&client, "&redirect_uri=https%3A%2F%2Fapp.example%2Fcb%2F"),
        query(
            &client,
            "&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&redirect_uri=https%3A%2F%2Fevil.example",
        ),
        query(
            &client,
            "&redirect_uri=https%3A%2F%2Fapp.example%2Fcb%3Fx%3D1",
        ),
    ] {
        assert!(
            matches!(run(&store, &q).await, Err(AuthorizeError::Page { .. })),
            "{q}"
        );
    }
}

#[tokio::test]
async fn loopback_redirects_may_use_any_port_and_must_be_named() {
    let client = ClientBuilder::new()
        .code_flow()
        .redirect_uris(&["http://127.0.0.1/callback"])
        .public()
        .client();
    let store = store_with(client.clone()).await;
    let req = run(
        &store,
        &query(
            &client,
            "&redirect_uri=http%3A%2F%2F127.0.0.1%3A49152%2Fcallback",
        ),
    )
    .await
    .unwrap();
    assert_eq!(req.redirect_uri, "http://127.0.0.1:49152/callback");
    assert!(req.redirect_given);
    assert!(matches!(
        run(&store, &query(&client, "")).await,
        Err(AuthorizeError::Page { .. })
    ));
}

#[tokio::test]
async fn pkce_is_required_with_s256_only() {
    let client = ClientBuilder::new().code_flow().client();
    let store = store_with(client.clone()).await;
    let base = format!("response_type=code&client_id={}&state=s", client.id);
    for (q, why) in [
        (base.clone(), "missing challenge"),
        (
            format!("{base}&code_challenge={CHALLENGE}"),
            "missing method means plain",
        ),
        (
            format!("{base}&code_challenge={CHALLENGE}&code_challenge_method=plain"),
            "plain",
        ),
        (
            format!("{base}&code_challenge={CHALLENGE}&code_challenge_method=s256"),
            "case",
        ),
        (
            format!("{base}&code_challenge=short&code_challenge_method=S256"),
            "syntax",
        ),
        (format!("{base}&code_challenge_method=S256"), "method alone"),
    ] {
        let reply = redirected(run(&store, &q).await);
        assert_eq!(param(&reply, "error"), Some("invalid_request"), "{why}");
        assert_eq!(param(&reply, "state"), Some("s"), "{why}");
        assert_eq!(param(&reply, "iss"), Some(ISS), "{why}");
    }
}

#[tokio::test]
async fn later_errors_are_redirected_with_state_and_iss() {
    let client = ClientBuilder::new()
        .code_flow()
        .scope("read write")
        .client();
    let store = store_with(client.clone()).await;
    let cases = [
        (
            query(&client, "").replace("response_type=code", "response_type=token"),
            "unsupported_response_type",
        ),
        (
            query(&client, "").replace("response_type=code&", ""),
            "invalid_request",
        ),
        (query(&client, "&scope=admin"), "invalid_scope"),
        (query(&client, "&scope=a%22b"), "invalid_scope"),
        (
            query(&client, "&resource=https%3A%2F%2Fother.example"),
            "invalid_target",
        ),
        (
            query(
                &client,
                "&resource=https%3A%2F%2Frs.example&resource=https%3A%2F%2Fb.example",
            ),
            "invalid_target",
        ),
        (query(&client, "&prompt=none+login"), "invalid_request"),
        (query(&client, "&prompt=select_account"), "invalid_request"),
        (query(&client, "&max_age=-1"), "invalid_request"),
        (query(&client, "&max_age=%2B5"), "invalid_request"),
        (query(&client, "&response_mode=fragment"), "invalid_request"),
        (query(&client, "&request=eyJ"), "request_not_supported"),
        (query(&client, "&request_uri=urn%3Ax"), "invalid_request"),
        (
            query(&client, &format!("&nonce={}", "n".repeat(1025))),
            "invalid_request",
        ),
        (query(&client, "&nonce=a&nonce=b"), "invalid_request"),
    ];
    for (q, code) in cases {
        let reply = redirected(run(&store, &q).await);
        assert_eq!(param(&reply, "error"), Some(code), "{q}");
        assert_eq!(param(&reply, "iss"), Some(ISS));
        assert_eq!(param(&reply, "state"), Some("xyz"), "{q}");
        assert_eq!(reply.params.last().unwrap().0, "iss");
    }
    let cc = ClientBuilder::new().redirect_uris(&[REDIRECT_URI]).client();
    let store = store_with(cc.clone()).await;
    let reply = redirected(run(&store, &query(&cc, "")).await);
    assert_eq!(param(&reply, "error"), Some("unauthorized_client"));
}

#[tokio::test]
async fn form_post_mode_and_a_redirect_uri_with_a_query() {
    let client = ClientBuilder::new()
        .code_flow()
        .redirect_uris(&["https://app.example/cb?tenant=1"])
        .client();
    let store = store_with(client.clone()).await;
    let req = run(&store, &query(&client, "&response_mode=form_post"))
        .await
        .unwrap();
    assert_eq!(req.response_mode, ResponseMode::FormPost);
    let reply = req.error(ISS, ErrorCode::AccessDenied, "the person said \"no\"");
    assert_eq!(reply.mode, ResponseMode::FormPost);
    assert_eq!(
        param(&reply, "error_description"),
        Some("the person said 'no'")
    );
    let q = run(&store, &query(&client, "")).await.unwrap();
    assert!(
        q.success(ISS, "c")
            .location()
            .starts_with("https://app.example/cb?tenant=1&code=c&")
    );
}
