//! Client authentication, method by method, and every way it fails.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::*;
use crate::client::ClientSecret;
use crate::memory::MemoryStore;
use crate::testing::ClientBuilder;

async fn store_with_client() -> (MemoryStore, Client, ClientSecret) {
    let store = MemoryStore::default();
    let (client, secret) = ClientBuilder::new().build();
    ClientStore::insert(&store, client.clone()).await.unwrap();
    (store, client, secret.unwrap())
}

fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

fn credentials(header: Option<&str>, body: &str) -> Result<Credentials, TokenError> {
    Credentials::from_request(header, &Form::parse(body.as_bytes()).unwrap())
}

async fn authenticated(
    header: Option<&str>,
    body: &str,
    store: &MemoryStore,
) -> Result<Arc<Client>, TokenError> {
    authenticate(
        &credentials(header, body)?,
        store,
        gatehouse_token::UnixTime(1_700_000_000),
    )
    .await
}

#[tokio::test]
async fn basic_and_post_authenticate() {
    let (store, client, secret) = store_with_client().await;
    let id = client.id.as_str();
    let header = basic(id, secret.expose());
    let found = authenticated(Some(&header), "", &store).await.unwrap();
    assert_eq!(found.id, client.id);
    let body = format!("client_id={id}&client_secret={}", secret.expose());
    let found = authenticated(None, &body, &store).await.unwrap();
    assert_eq!(found.id, client.id);
    // Lower-case scheme and a matching client_id in the body are fine.
    let header = header.replacen("Basic", "basic", 1);
    let body = format!("client_id={id}");
    assert!(authenticated(Some(&header), &body, &store).await.is_ok());
}

#[tokio::test]
async fn url_encoded_basic_credentials_authenticate() {
    let (store, client, secret) = store_with_client().await;
    // Percent-encode every character, as a strict RFC 6749 §2.3.1 client may.
    let enc = |s: &str| s.bytes().map(|b| format!("%{b:02X}")).collect::<String>();
    let header = basic(&enc(client.id.as_str()), &enc(secret.expose()));
    let found = authenticated(Some(&header), "", &store).await.unwrap();
    assert_eq!(found.id, client.id);
}

#[test]
fn one_id_in_any_encoding_is_one_id() {
    for (header, body) in [
        (Some(basic("abc", "s")), ""),
        (Some(basic("%61b%63", "s")), ""),
        (None, "client_id=%61bc&client_secret=s"),
        (None, "client_id=abc"),
    ] {
        let c = credentials(header.as_deref(), body).unwrap();
        assert_eq!(c.client_id().as_deref(), Some("abc"), "{header:?} {body}");
    }
    assert_eq!(credentials(None, "").unwrap().client_id(), None);
}

#[tokio::test]
async fn a_public_client_names_itself_and_a_confidential_one_cannot() {
    let store = MemoryStore::default();
    let public = ClientBuilder::new().public().client();
    ClientStore::insert(&store, public.clone()).await.unwrap();
    let (confidential, secret) = ClientBuilder::new().build();
    let secret = secret.unwrap();
    ClientStore::insert(&store, confidential.clone())
        .await
        .unwrap();
    let body = format!("client_id={}", public.id);
    assert_eq!(
        authenticated(None, &body, &store).await.unwrap().id,
        public.id
    );
    // A confidential client must prove itself; a public one has no secret to present.
    let body = format!("client_id={}", confidential.id);
    assert_eq!(
        authenticated(None, &body, &store).await,
        Err(TokenError::InvalidClient)
    );
    let body = format!("client_id={}&client_secret={}", public.id, secret.expose());
    assert_eq!(
        authenticated(None, &body, &store).await,
        Err(TokenError::InvalidClient)
    );
}

#[tokio::test]
async fn every_failure_is_invalid_client() {
    let (store, client, secret) = store_with_client().await;
    let id = client.id.as_str();
    let cases = [
        (Some(basic(id, "gcs_wrong")), String::new()),
        (Some(basic("nobody", secret.expose())), String::new()),
        (Some("Bearer abc".to_owned()), String::new()),
        (Some("Basic !!!".to_owned()), String::new()),
        (None, format!("client_id={id}")),
        (None, format!("client_id={id}&client_secret=nope")),
        (None, "client_secret=orphan".to_owned()),
        (None, String::new()),
        (
            Some(basic(id, secret.expose())),
            "client_id=someone-else".to_owned(),
        ),
    ];
    for (header, body) in cases {
        assert_eq!(
            authenticated(header.as_deref(), &body, &store)
                .await
                .map(|_| ()),
            Err(TokenError::InvalidClient),
            "{header:?} {body:?}"
        );
    }
}

#[tokio::test]
async fn two_methods_or_repeated_parameters_are_invalid_request() {
    let (_, client, secret) = store_with_client().await;
    let header = basic(client.id.as_str(), secret.expose());
    let body = format!("client_secret={}", secret.expose());
    assert!(matches!(
        credentials(Some(&header), &body).and_then(|c| c.presented().map(|_| ())),
        Err(TokenError::InvalidRequest(_))
    ));
    assert!(matches!(
        credentials(None, "client_id=a&client_id=b&client_secret=s"),
        Err(TokenError::InvalidRequest(_))
    ));
}
