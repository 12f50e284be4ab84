//! Client authentication at the token, introspection and revocation endpoints
//! (RFC 6749 §2.3.1, OAuth 2.1 §2.4.1): `client_secret_basic` and `client_secret_post`.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::client::{Client, ClientId};
use crate::error::TokenError;
use crate::form::{self, Form};
use crate::store::ClientStore;

/// The credentials a request presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented {
    /// `client_secret_basic`: id and secret from the `Authorization: Basic` header, as sent
    /// (still form-encoded, per RFC 6749 §2.3.1).
    Basic {
        /// The user-id part.
        id: String,
        /// The password part.
        secret: String,
    },
    /// `client_secret_post`: id and secret in the form body.
    Post {
        /// `client_id`.
        id: String,
        /// `client_secret`.
        secret: String,
    },
    /// No credentials at all.
    None,
}

impl Presented {
    /// The client id presented (not authenticated), as [`authenticate`] reads it: a Basic id
    /// form-decoded when it decodes, so that spelling one id in different encodings still
    /// counts as the same id (for the credential-guessing limit).
    pub fn client_id(&self) -> Option<std::borrow::Cow<'_, str>> {
        match self {
            Self::Basic { id, .. } => Some(form::decode(id.as_bytes()).map_or(
                std::borrow::Cow::Borrowed(id.as_str()),
                std::borrow::Cow::Owned,
            )),
            Self::Post { id, .. } => Some(std::borrow::Cow::Borrowed(id)),
            Self::None => None,
        }
    }
}

/// Reads the credentials of a request from its `Authorization` header and form body.
///
/// Refuses two methods at once (OAuth 2.1 §2.4: a client must not use more than one), a
/// `client_id` that contradicts the Basic credentials, and a `client_id` without a secret (no
/// public clients exist yet).
pub fn extract(authorization: Option<&str>, form: &Form) -> Result<Presented, TokenError> {
    let body_id = form.single("client_id")?;
    let body_secret = form.single("client_secret")?;
    let Some(header) = authorization else {
        return match (body_id, body_secret) {
            (Some(id), Some(secret)) => Ok(Presented::Post {
                id: id.to_owned(),
                secret: secret.to_owned(),
            }),
            (None, None) => Ok(Presented::None),
            // Only confidential clients exist: an id alone or a secret alone authenticates nothing.
            _ => Err(TokenError::InvalidClient),
        };
    };
    if body_secret.is_some() {
        return Err(TokenError::InvalidRequest(
            "use one client authentication method, not both Basic and client_secret".into(),
        ));
    }
    let (id, secret) = parse_basic(header).ok_or(TokenError::InvalidClient)?;
    if let Some(body_id) = body_id {
        if !candidates(&id).any(|c| c == body_id) {
            return Err(TokenError::InvalidClient);
        }
    }
    Ok(Presented::Basic { id, secret })
}

/// Splits `Basic base64(id:secret)`; the scheme name is case-insensitive (RFC 7235 §2.1).
fn parse_basic(header: &str) -> Option<(String, String)> {
    let (scheme, rest) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(rest.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// The forms a Basic credential may mean: form-decoded, as RFC 6749 §2.3.1 requires, and raw, as
/// many clients send it. Our generated ids and secrets read the same either way.
fn candidates(raw: &str) -> impl Iterator<Item = String> + '_ {
    let decoded = form::decode(raw.as_bytes()).ok().filter(|d| d != raw);
    std::iter::once(raw.to_owned()).chain(decoded)
}

/// Authenticates the presented credentials against the registered clients.
///
/// Every failure is [`TokenError::InvalidClient`]: an unknown client and a wrong secret look the
/// same to the caller, and the secret comparison runs in constant time.
pub async fn authenticate(
    presented: &Presented,
    clients: &dyn ClientStore,
) -> Result<Arc<Client>, TokenError> {
    let (ids, secrets): (Vec<String>, Vec<String>) = match presented {
        Presented::Basic { id, secret } => (candidates(id).collect(), candidates(secret).collect()),
        Presented::Post { id, secret } => (vec![id.clone()], vec![secret.clone()]),
        Presented::None => return Err(TokenError::InvalidClient),
    };
    for id in ids.iter().filter_map(|id| ClientId::new(id)) {
        if let Some(client) = clients.get(&id).await? {
            if secrets.iter().any(|s| client.secret_matches(s)) {
                return Ok(client);
            }
        }
    }
    Err(TokenError::InvalidClient)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{ClientRegistration, ClientSecret};
    use crate::memory::{CountingRandom, MemoryStore};
    use gatehouse_token::UnixTime;

    async fn store_with_client() -> (MemoryStore, Client, ClientSecret) {
        let store = MemoryStore::default();
        let (client, secret) = ClientRegistration {
            name: "svc".into(),
            grant_types: vec!["client_credentials".into()],
            scope: "read".into(),
            resources: vec!["https://rs.example".into()],
            access_token_lifetime: None,
            token_format: Default::default(),
            introspection: Default::default(),
        }
        .register(&CountingRandom::default(), UnixTime(0))
        .unwrap();
        ClientStore::insert(&store, client.clone()).await.unwrap();
        (store, client, secret)
    }

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    }

    fn form(body: &str) -> Form {
        Form::parse(body.as_bytes()).unwrap()
    }

    #[tokio::test]
    async fn basic_and_post_authenticate() {
        let (store, client, secret) = store_with_client().await;
        let id = client.id.as_str();
        let header = basic(id, secret.expose());
        let p = extract(Some(&header), &form("")).unwrap();
        assert_eq!(authenticate(&p, &store).await.unwrap().id, client.id);
        let body = format!("client_id={id}&client_secret={}", secret.expose());
        let p = extract(None, &form(&body)).unwrap();
        assert_eq!(authenticate(&p, &store).await.unwrap().id, client.id);
        // Lower-case scheme and a matching client_id in the body are fine.
        let header = header.replacen("Basic", "basic", 1);
        let p = extract(Some(&header), &form(&format!("client_id={id}"))).unwrap();
        assert!(authenticate(&p, &store).await.is_ok());
    }

    #[tokio::test]
    async fn url_encoded_basic_credentials_authenticate() {
        let (store, client, secret) = store_with_client().await;
        // Percent-encode every character, as a strict RFC 6749 §2.3.1 client may.
        let enc = |s: &str| s.bytes().map(|b| format!("%{b:02X}")).collect::<String>();
        let header = basic(&enc(client.id.as_str()), &enc(secret.expose()));
        let p = extract(Some(&header), &form("")).unwrap();
        assert_eq!(authenticate(&p, &store).await.unwrap().id, client.id);
    }

    #[test]
    fn one_id_in_any_encoding_is_one_id() {
        let plain = extract(Some(&basic("abc", "s")), &form("")).unwrap();
        let encoded = extract(Some(&basic("%61b%63", "s")), &form("")).unwrap();
        let post = extract(None, &form("client_id=%61bc&client_secret=s")).unwrap();
        for p in [&plain, &encoded, &post] {
            assert_eq!(p.client_id().as_deref(), Some("abc"));
        }
        assert_eq!(Presented::None.client_id(), None);
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
            (None, String::new()),
            (
                Some(basic(id, secret.expose())),
                "client_id=someone-else".to_owned(),
            ),
        ];
        for (header, body) in cases {
            let result = match extract(header.as_deref(), &form(&body)) {
                Ok(p) => authenticate(&p, &store).await.map(|_| ()),
                Err(e) => Err(e),
            };
            assert_eq!(
                result,
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
            extract(Some(&header), &form(&body)),
            Err(TokenError::InvalidRequest(_))
        ));
        assert!(matches!(
            extract(None, &form("client_id=a&client_id=b&client_secret=s")),
            Err(TokenError::InvalidRequest(_))
        ));
    }
}
