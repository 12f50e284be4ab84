//! Pushed authorization requests (RFC 9126): the client posts its authorization request to
//! `/par` with client authentication, gets back a `request_uri` valid for [`PAR_LIFETIME`]
//! seconds, and sends the browser to `/authorize` with only `client_id` and `request_uri`.
//! The request is checked when pushed, as at the authorization endpoint, and again when used.

use gatehouse_token::{SecretDigest, UnixTime, b64};

use super::{AuthorizeError, Checks, parse};
use crate::client::Client;
use crate::error::TokenError;
use crate::form::Form;
use crate::ports::{Random, random_bytes};
use crate::store::{ParStore, PushedRequest};

/// RFC 9126 §2.2: the prefix of every `request_uri`.
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";
/// How long a `request_uri` can be used, seconds (RFC 9126 §2.2: short-lived).
pub const PAR_LIFETIME: u64 = 90;
/// The client-authentication parameters a pushed request may carry (RFC 6749 §2.3.1, RFC 7521
/// §4.2): dropped before the request is stored.
const CLIENT_AUTHENTICATION: [&str; 3] =
    ["client_secret", "client_assertion", "client_assertion_type"];

/// The digest a pushed request is stored under: of its `request_uri` *and* its client, so that
/// a `request_uri` presented with another `client_id` finds nothing and claims nothing.
fn key(client_id: &str, id: &str) -> SecretDigest {
    SecretDigest::of(&format!("{client_id}\n{id}"))
}
/// The most a pushed request may weigh, form-encoded: an authorization request is far smaller,
/// and what is stored for anyone who knows a public client's id must stay small.
pub const MAX_PUSHED_LEN: usize = 8192;

/// A pushed request, accepted: its `request_uri` and seconds to expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// The `request_uri`.
    pub request_uri: String,
    /// Its lifetime, seconds.
    pub expires_in: u64,
}

/// Checks and stores an authorization request pushed by the authenticated `client` (RFC 9126
/// §2.1). Errors are the token endpoint's (§2.3): what the authorization endpoint would have
/// redirected or shown is answered here as JSON.
///
/// A DPoP proof sent with the push (its key's thumbprint `proof_jkt`) binds the request, and
/// so its code, to that key (RFC 9449 §10): `dpop_jkt` is set to it, and a `dpop_jkt` sent
/// with another value is refused.
pub async fn push(
    form: &Form,
    proof_jkt: Option<&str>,
    client: &Client,
    checks: Checks<'_>,
    pushed: &dyn ParStore,
    random: &dyn Random,
    now: UnixTime,
) -> Result<Pushed, TokenError> {
    // §2.1: a request_uri cannot be pushed; the client_id, if sent, is the authenticated one.
    if form.single("request_uri")?.is_some() {
        return Err(TokenError::InvalidRequest(
            "request_uri cannot be pushed".into(),
        ));
    }
    if form.single("client_id")? != Some(client.id.as_str()) {
        return Err(TokenError::InvalidRequest(
            "client_id must be the authenticated client's".into(),
        ));
    }
    match parse(form, checks).await {
        Ok(_) => {}
        Err(AuthorizeError::Page { message, .. }) => {
            return Err(TokenError::InvalidRequest(message));
        }
        Err(AuthorizeError::Unavailable) => {
            return Err(TokenError::TemporarilyUnavailable(
                "the client store cannot be reached".into(),
            ));
        }
        Err(AuthorizeError::Redirect(reply)) => {
            let param = |name: &str| {
                reply
                    .params
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            let description = param("error_description");
            return Err(match param("error").as_str() {
                "invalid_scope" => TokenError::InvalidScope(description),
                "invalid_target" => TokenError::InvalidTarget(description),
                "unauthorized_client" => TokenError::UnauthorizedClient(description),
                "temporarily_unavailable" => TokenError::TemporarilyUnavailable(description),
                _ => TokenError::InvalidRequest(description),
            });
        }
    }
    // What is kept is the authorization request alone: never the client's credentials, which
    // a confidential client may have sent in the same body (RFC 9126 §2.1).
    let mut kept = form.without(&CLIENT_AUTHENTICATION);
    match (form.single("dpop_jkt")?, proof_jkt) {
        (Some(asked), Some(proved)) if asked != proved => {
            return Err(TokenError::InvalidDpopProof(
                "dpop_jkt is not the thumbprint of the DPoP proof's key".into(),
            ));
        }
        (None, Some(proved)) => kept = kept.with("dpop_jkt", proved),
        _ => {}
    }
    let params = kept.encode();
    if params.len() > MAX_PUSHED_LEN {
        return Err(TokenError::InvalidRequest(format!(
            "a pushed request is at most {MAX_PUSHED_LEN} bytes"
        )));
    }
    let id = b64::encode(random_bytes::<32>(random));
    let request = PushedRequest {
        client_id: client.id.clone(),
        params,
        expires_at: now.plus(PAR_LIFETIME),
        claimed_by: None,
    };
    pushed.insert(key(client.id.as_str(), &id), request).await?;
    Ok(Pushed {
        request_uri: format!("{REQUEST_URI_PREFIX}{id}"),
        expires_in: PAR_LIFETIME,
    })
}

/// What the authorization endpoint works on: the request's own parameters, or, for a
/// `request_uri`, the pushed ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Sent in the query.
    Direct(Form),
    /// Pushed before, and now claimed by this browser.
    /// The digest it is stored under goes with it, to complete it once a code is issued
    /// ([`ParStore::complete`]).
    Pushed(Form, SecretDigest),
}

/// Resolves a `request_uri` (RFC 9126 §4): the pushed request of the same client, unexpired,
/// claimed by `browser` (the digest of its cookie): the first browser to use it owns it, and
/// may use it again until it expires (a reload of the sign-in page, which RFC 9126 §4 allows);
/// any other browser cannot. Failures are pages: nothing is known good yet.
pub async fn resolve(
    form: Form,
    pushed: &dyn ParStore,
    browser: SecretDigest,
    now: UnixTime,
) -> Result<Source, AuthorizeError> {
    let page = |message: &str| AuthorizeError::Page {
        message: message.into(),
        unknown_client: false,
    };
    let malformed = |_| page("The request is malformed.");
    let Some(uri) = form.single("request_uri").map_err(malformed)? else {
        return Ok(Source::Direct(form));
    };
    let gone = || {
        page(
            "This sign-in link has expired or was used already. Go back to the application and start again.",
        )
    };
    let id = uri.strip_prefix(REQUEST_URI_PREFIX).ok_or_else(gone)?;
    let client_id = form
        .single("client_id")
        .map_err(malformed)?
        .ok_or_else(|| page("The request names no client (client_id is missing)."))?;
    let stored_as = key(client_id, id);
    let request = pushed
        .claim(&stored_as, browser)
        .await
        .map_err(|_| AuthorizeError::Unavailable)?
        .ok_or_else(gone)?;
    if request.client_id.as_str() != client_id || now >= request.expires_at {
        return Err(gone());
    }
    Form::parse(request.params.as_bytes())
        .map(|form| Source::Pushed(form, stored_as))
        .map_err(malformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryStore;
    use crate::resource::ResourceRegistry;
    use crate::store::ClientStore;
    use crate::testing::{ClientBuilder, CountingRandom};

    static NO_RESOURCES: ResourceRegistry = ResourceRegistry::EMPTY;

    fn checks(store: &MemoryStore) -> Checks<'_> {
        Checks {
            clients: store,
            resources: &NO_RESOURCES,
            issuer: "https://as",
        }
    }

    const BROWSER: SecretDigest = SecretDigest([7; 32]);
    const Q: &str = "response_type=code&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&state=s";

    async fn setup() -> (MemoryStore, Client) {
        let store = MemoryStore::default();
        let client = ClientBuilder::new().code_flow().client();
        ClientStore::insert(&store, client.clone()).await.unwrap();
        (store, client)
    }

    fn form(text: &str) -> Form {
        Form::parse(text.as_bytes()).unwrap()
    }

    #[tokio::test]
    async fn a_pushed_request_is_used_once_by_its_client_before_it_expires() {
        let (store, client) = setup().await;
        let random = CountingRandom::default();
        let body = format!("{Q}&client_id={}", client.id);
        let pushed = push(
            &form(&body),
            None,
            &client,
            checks(&store),
            &store,
            &random,
            UnixTime(10),
        )
        .await
        .unwrap();
        assert!(pushed.request_uri.starts_with(REQUEST_URI_PREFIX));
        // Presented with another client's id, it is not found, and not used up either.
        let uri: String =
            url::form_urlencoded::byte_serialize(pushed.request_uri.as_bytes()).collect();
        assert!(
            resolve(
                form(&format!("client_id=other&request_uri={uri}")),
                &store,
                BROWSER,
                UnixTime(11)
            )
            .await
            .is_err()
        );
        assert_eq!(pushed.expires_in, PAR_LIFETIME);
        let uri: String =
            url::form_urlencoded::byte_serialize(pushed.request_uri.as_bytes()).collect();
        let query = format!("client_id={}&request_uri={uri}", client.id);
        let Source::Pushed(resolved, _) = resolve(form(&query), &store, BROWSER, UnixTime(11))
            .await
            .unwrap()
        else {
            panic!("not pushed")
        };
        assert_eq!(resolved.single("state").unwrap(), Some("s"));
        // The browser that used it may again (a reload); no other browser can.
        assert!(matches!(
            resolve(form(&query), &store, BROWSER, UnixTime(12)).await,
            Ok(Source::Pushed(..))
        ));
        assert!(
            matches!(
                resolve(form(&query), &store, SecretDigest([8; 32]), UnixTime(12)).await,
                Err(AuthorizeError::Page { .. })
            ),
            "claimed by the first browser"
        );
        // Another client's, and an expired one.
        let pushed = push(
            &form(&body),
            None,
            &client,
            checks(&store),
            &store,
            &random,
            UnixTime(10),
        )
        .await
        .unwrap();
        let uri: String =
            url::form_urlencoded::byte_serialize(pushed.request_uri.as_bytes()).collect();
        assert!(
            resolve(
                form(&format!("client_id=other&request_uri={uri}")),
                &store,
                BROWSER,
                UnixTime(11)
            )
            .await
            .is_err()
        );
        let pushed = push(
            &form(&body),
            None,
            &client,
            checks(&store),
            &store,
            &random,
            UnixTime(10),
        )
        .await
        .unwrap();
        let uri: String =
            url::form_urlencoded::byte_serialize(pushed.request_uri.as_bytes()).collect();
        let late = UnixTime(10 + PAR_LIFETIME);
        assert!(
            resolve(
                form(&format!("client_id={}&request_uri={uri}", client.id)),
                &store,
                BROWSER,
                late
            )
            .await
            .is_err()
        );
        assert!(matches!(
            resolve(
                form(&format!("client_id={}", client.id)),
                &store,
                BROWSER,
                late
            )
            .await,
            Ok(Source::Direct(_))
        ));
    }

    #[tokio::test]
    async fn client_credentials_in_the_body_are_never_stored() {
        let (store, client) = setup().await;
        let random = CountingRandom::default();
        let body = format!(
            "{Q}&client_id={}&client_secret=TOPSECRET&client_assertion=x&client_assertion_type=y",
            client.id
        );
        let pushed = push(
            &form(&body),
            None,
            &client,
            checks(&store),
            &store,
            &random,
            UnixTime(10),
        )
        .await
        .unwrap();
        let uri: String =
            url::form_urlencoded::byte_serialize(pushed.request_uri.as_bytes()).collect();
        let query = format!("client_id={}&request_uri={uri}", client.id);
        let Source::Pushed(resolved, _) = resolve(form(&query), &store, BROWSER, UnixTime(11))
            .await
            .unwrap()
        else {
            panic!("not pushed")
        };
        let text = resolved.encode();
        assert!(
            !text.contains("TOPSECRET") && !text.contains("client_assertion"),
            "{text}"
        );
        assert_eq!(resolved.single("state").unwrap(), Some("s"));
    }

    #[tokio::test]
    async fn a_bad_push_is_a_json_error_and_stores_nothing() {
        let (store, client) = setup().await;
        let random = CountingRandom::default();
        let cases = [
            (Q.to_owned(), "client_id missing"),
            (format!("{Q}&client_id=other"), "another client_id"),
            (
                format!("{Q}&client_id={}&request_uri=urn%3Ax", client.id),
                "request_uri",
            ),
            (
                format!(
                    "{Q}&client_id={}&redirect_uri=https%3A%2F%2Fevil.example",
                    client.id
                ),
                "redirect",
            ),
            (
                format!("client_id={}&response_type=code", client.id),
                "no PKCE",
            ),
        ];
        for (body, why) in cases {
            let e = push(
                &form(&body),
                None,
                &client,
                checks(&store),
                &store,
                &random,
                UnixTime(0),
            )
            .await;
            assert!(
                matches!(e, Err(TokenError::InvalidRequest(_))),
                "{why}: {e:?}"
            );
        }
        let e = push(
            &form(&format!("{Q}&client_id={}&scope=admin", client.id)),
            None,
            &client,
            checks(&store),
            &store,
            &random,
            UnixTime(0),
        )
        .await;
        assert!(matches!(e, Err(TokenError::InvalidScope(_))), "{e:?}");
        let big = format!(
            "{Q}&client_id={}&extra={}",
            client.id,
            "x".repeat(MAX_PUSHED_LEN)
        );
        assert!(matches!(
            push(
                &form(&big),
                None,
                &client,
                checks(&store),
                &store,
                &random,
                UnixTime(0)
            )
            .await,
            Err(TokenError::InvalidRequest(_))
        ));
        assert_eq!(
            ParStore::purge_expired(&store, UnixTime(u64::MAX))
                .await
                .unwrap(),
            0
        );
    }
}
