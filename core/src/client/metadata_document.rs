//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document, "CIMD"; MCP
//! authorization since 2025-11-25, SEP-991 and SEP-1125): a client whose `client_id` is an
//! https URL describes itself in the JSON document served there.
//!
//! Two pure steps, no I/O and no clock (the server fetches the document through the hardened
//! fetcher and passes `now`):
//! - [`DocumentUrl::parse`]: whether a `client_id` is a URL this server will fetch (CIMD §3).
//! - [`client`]: the fetched document, validated into a public [`Client`] (CIMD §4.1, SPEC-1125).
//!
//! Decisions where the draft leaves room:
//! - A `client_id` is URL-shaped when it starts with `https://`; such an id that breaks a rule of
//!   §3 is refused (never looked up as an ordinary id), so a typo cannot reach another client.
//! - A query is refused (§3 says it SHOULD NOT be there): one document, one URL, one cache key.
//! - The URL must be written as the WHATWG URL parser writes it back (lowercase scheme and host,
//!   no default port, an IDN host in punycode): the document's `client_id` is compared to
//!   it byte for byte (§4.1, no normalisation), so two spellings of one URL cannot be two clients.
//! - Loopback redirect URIs match on any port, as everywhere (RFC 8252 §7.3): real documents
//!   register portless `http://localhost/callback` (shared/reference/mcp-auth.md §2.3, §7.12).
//! - Members with a key-based method (`private_key_jwt` + `jwks_uri`) are refused for now, with
//!   a message saying so; members this server does not use are ignored (RFC 7591 §2).
//! - A member given twice is refused: parsers disagree on which one wins.

use std::collections::BTreeMap;
use std::fmt;

use gatehouse_token::UnixTime;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use url::Url;

use super::redirect::{ApplicationType, BadRedirectUri, MAX_REDIRECT_URIS, RedirectUri};
use super::{
    Client, ClientId, ClientKind, ClientOrigin, GrantType, Introspection, MAX_CLIENT_ID_LEN,
    TokenFormat,
};
use crate::scope::Scope;

/// The size the draft recommends documents stay under (CIMD §6.6): 5 KB. The server's fetch cap
/// defaults to it.
pub const RECOMMENDED_MAX_BYTES: usize = 5 * 1024;
/// The largest document [`client`] reads whatever the fetch cap: a document is a handful of
/// members, and a bound keeps validation cheap.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;
/// The longest `client_name`, in characters.
pub const MAX_CLIENT_NAME_CHARS: usize = 100;
/// The longest URI-valued member (`client_uri`, `logo_uri`, …).
const MAX_URI_LEN: usize = 2048;

/// A `client_id` that is a Client ID Metadata Document URL (CIMD §3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DocumentUrl {
    text: String,
    url: Url,
}

impl DocumentUrl {
    /// Whether `client_id` claims to be a document URL: it starts with `https://` (ASCII case
    /// ignored, so `HTTPS://…` is refused by [`parse`](Self::parse) rather than looked up as an
    /// ordinary id). Cheap, for routing an id to the right store.
    pub fn is_url_shaped(client_id: &str) -> bool {
        client_id
            .get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
    }

    /// Checks a URL-shaped `client_id` against CIMD §3: the https scheme, a host, a path other
    /// than `/`, no fragment, no userinfo, no dot segments (`.`, `..`, also percent-encoded),
    /// no query (our choice, see the module docs), at most [`MAX_CLIENT_ID_LEN`] characters,
    /// and written exactly as a URL parser writes it back.
    pub fn parse(client_id: &str) -> Result<Self, DocumentError> {
        let bad = |reason: &'static str| Err(DocumentError::BadUrl(reason));
        if client_id.len() > MAX_CLIENT_ID_LEN {
            return bad("it is longer than 256 characters");
        }
        if client_id
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\' || !c.is_ascii())
        {
            return bad("it contains spaces, control characters, backslashes or non-ASCII text");
        }
        if !client_id.starts_with("https://") {
            return bad("it must start with https:// (in lowercase)");
        }
        if client_id.contains('#') {
            return bad("it must not have a fragment");
        }
        if client_id.contains('?') {
            return bad("it must not have a query");
        }
        let after_scheme = &client_id["https://".len()..];
        let (authority, path) = after_scheme.split_once('/').unwrap_or((after_scheme, ""));
        if authority.contains('@') {
            return bad("it must not carry a user name or password");
        }
        if path.is_empty() {
            return bad("it must have a path (https://host/path), not just a host");
        }
        let dot_segment = path.split('/').any(|segment| {
            let s = segment.to_ascii_lowercase().replace("%2e", ".");
            s == "." || s == ".."
        });
        if dot_segment {
            return bad("it must not contain . or .. path segments");
        }
        let Ok(url) = Url::parse(client_id) else {
            return bad("it is not a valid URL");
        };
        if url.host_str().is_none_or(str::is_empty) {
            return bad("it has no host");
        }
        if url.as_str() != client_id {
            return bad("it is not written in its normal form (lowercase host, no default port)");
        }
        Ok(Self {
            text: client_id.to_owned(),
            url,
        })
    }

    /// The URL's text, which is the client's id.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The URL, parsed.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The host the document is served from, as the consent page shows it (CIMD §6.4).
    pub fn host(&self) -> &str {
        self.url.host_str().unwrap_or_default()
    }
}

impl fmt::Display for DocumentUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Why a `client_id` URL or its document cannot identify a client. The messages are for the
/// person on the error page and the client's developer; none repeats the document's content
/// beyond a member name or a value the client chose (security-matrix §5 item 15).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DocumentError {
    /// The `client_id` is not a URL this server fetches (CIMD §3).
    #[error("The client_id URL cannot be used: {0}.")]
    BadUrl(&'static str),
    /// The document is larger than [`MAX_DOCUMENT_BYTES`].
    #[error("The client metadata document is too large.")]
    TooLarge,
    /// The body is not JSON, or gives a member twice.
    #[error("The client metadata document is not valid JSON: {0}.")]
    NotJson(String),
    /// The JSON is not an object (CIMD §4.1).
    #[error("The client metadata document is not a JSON object.")]
    NotObject,
    /// A required member is missing (SPEC-1125: `client_id`, `client_name`, `redirect_uris`).
    #[error("The client metadata document has no {0}.")]
    Missing(&'static str),
    /// A member has the wrong JSON type or an unusable value.
    #[error("The client metadata document's {member} is not valid: {reason}.")]
    Invalid {
        /// The member.
        member: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The document's `client_id` is not the URL it was fetched from (CIMD §4.1).
    #[error("The client metadata document's client_id is not the URL it was fetched from.")]
    ClientIdMismatch,
    /// A shared secret was declared (CIMD §4.1, §6.2: a document is public, so no secret in
    /// it is one).
    #[error(
        "The client metadata document declares a client secret ({0}); a client identified by a \
         metadata document cannot use a shared secret."
    )]
    SharedSecret(String),
    /// `private_key_jwt` (CIMD §4.1 allows it with `jwks_uri`); not supported yet.
    #[error(
        "The client metadata document asks for private_key_jwt authentication, which this server \
         does not support for metadata-document clients yet; use token_endpoint_auth_method \
         \"none\"."
    )]
    KeyBasedNotSupported,
    /// A `token_endpoint_auth_method` other than `none`.
    #[error(
        "The client metadata document's token_endpoint_auth_method {0:?} is not supported; use \
         \"none\"."
    )]
    UnsupportedAuthMethod(String),
    /// A redirect URI that may not be registered.
    #[error("The client metadata document's redirect URI {uri:?} is not allowed: {reason}.")]
    RedirectUri {
        /// The URI as the document gave it (cut to 100 characters).
        uri: String,
        /// Why.
        reason: BadRedirectUri,
    },
}

fn invalid(member: &'static str, reason: impl Into<String>) -> DocumentError {
    DocumentError::Invalid {
        member,
        reason: reason.into(),
    }
}

/// A JSON object whose members are each given once.
struct Members(BTreeMap<String, Value>);

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Object;
        impl<'de> Visitor<'de> for Object {
            type Value = Option<Members>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = BTreeMap::new();
                while let Some((name, value)) = map.next_entry::<String, Value>()? {
                    if members.contains_key(&name) {
                        return Err(serde::de::Error::custom(format_args!(
                            "the member {name:?} is given twice"
                        )));
                    }
                    members.insert(name, value);
                }
                Ok(Some(Members(members)))
            }
            // Any other JSON value: well-formed, but not an object.
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(None)
            }
        }
        d.deserialize_any(Object)
            .and_then(|m| m.ok_or_else(|| serde::de::Error::custom(NOT_AN_OBJECT)))
    }
}

const NOT_AN_OBJECT: &str = "not a JSON object";

impl Members {
    fn parse(body: &[u8]) -> Result<Self, DocumentError> {
        serde_json::from_slice(body).map_err(|e| {
            if e.to_string().starts_with(NOT_AN_OBJECT) {
                DocumentError::NotObject
            } else {
                DocumentError::NotJson(e.to_string())
            }
        })
    }

    fn string(&self, member: &'static str) -> Result<Option<&str>, DocumentError> {
        match self.0.get(member) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(invalid(member, "it is not a string")),
        }
    }

    fn strings(&self, member: &'static str) -> Result<Option<Vec<&str>>, DocumentError> {
        match self.0.get(member) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .ok_or_else(|| invalid(member, "not every item is a string"))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(invalid(member, "it is not an array of strings")),
        }
    }
}

/// The first 100 characters of a value the document chose, for a message.
fn cut(text: &str) -> String {
    text.chars().take(100).collect()
}

/// The document fetched from `url`, validated into the client it describes (CIMD §4.1,
/// SPEC-1125), as of `now`. The client is public (`token_endpoint_auth_method` `none`), has no
/// scope and no resources of its own (the scope policy for self-registered clients applies),
/// and is never stored.
pub fn client(url: &DocumentUrl, body: &[u8], now: UnixTime) -> Result<Client, DocumentError> {
    if body.len() > MAX_DOCUMENT_BYTES {
        return Err(DocumentError::TooLarge);
    }
    let doc = Members::parse(body)?;

    // CIMD §4.1: "client_id ... MUST match the URL of the document using simple string
    // comparison" (RFC 3986 §6.2.1), no normalisation.
    match doc.string("client_id")? {
        None => return Err(DocumentError::Missing("client_id")),
        Some(id) if id != url.as_str() => return Err(DocumentError::ClientIdMismatch),
        Some(_) => {}
    }

    // CIMD §4.1, §6.2: no shared secret of any kind; only `none` (or, later, private_key_jwt).
    for member in ["client_secret", "client_secret_expires_at"] {
        if doc.0.contains_key(member) {
            return Err(DocumentError::SharedSecret(member.to_owned()));
        }
    }
    match doc.string("token_endpoint_auth_method")? {
        None | Some("none") => {}
        Some(m) if m.starts_with("client_secret") => {
            return Err(DocumentError::SharedSecret(cut(m)));
        }
        Some("private_key_jwt") => return Err(DocumentError::KeyBasedNotSupported),
        Some(other) => return Err(DocumentError::UnsupportedAuthMethod(cut(other))),
    }

    // SPEC-1125: `client_name` is required; shown on the consent page, so printable and short.
    let name = doc
        .string("client_name")?
        .ok_or(DocumentError::Missing("client_name"))?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_CLIENT_NAME_CHARS {
        return Err(invalid(
            "client_name",
            format!("it must be 1 to {MAX_CLIENT_NAME_CHARS} characters"),
        ));
    }
    // Bidirectional overrides and zero-width characters would let a name pass for another.
    if name
        .chars()
        .any(|c| c.is_control() || crate::user::invisible(c))
    {
        return Err(invalid(
            "client_name",
            "it contains control, invisible or bidirectional-control characters",
        ));
    }

    let redirect_uris =
        uri_list(&doc, "redirect_uris")?.ok_or(DocumentError::Missing("redirect_uris"))?;
    if redirect_uris.is_empty() {
        return Err(invalid("redirect_uris", "it is empty"));
    }
    let post_logout_redirect_uris =
        uri_list(&doc, "post_logout_redirect_uris")?.unwrap_or_default();
    // OIDC Registration §2 `application_type`, declared or inferred (mcp-auth.md §7.12).
    ApplicationType::of(doc.string("application_type")?, &redirect_uris)
        .map_err(|e| invalid("application_type", e.0))?;

    let grant_types = grant_types(&doc)?;
    // RFC 7591 §2.1: `response_types` must agree with the grants; only `code` is possible here.
    if let Some(types) = doc.strings("response_types")? {
        if types.iter().any(|t| *t != "code") {
            return Err(invalid("response_types", "only \"code\" is supported"));
        }
    }
    // Security-matrix §5 item 11: any URI-valued metadata is https. None of these is fetched.
    for member in [
        "client_uri",
        "logo_uri",
        "tos_uri",
        "policy_uri",
        "jwks_uri",
    ] {
        if let Some(uri) = doc.string(member)? {
            let https = uri.len() <= MAX_URI_LEN
                && Url::parse(uri).is_ok_and(|u| u.scheme() == "https" && u.host().is_some());
            if !https {
                return Err(invalid(member, "it is not an https URL"));
            }
        }
    }

    Ok(Client {
        id: ClientId::new(url.as_str()).ok_or(DocumentError::BadUrl("it is not a client id"))?,
        name: name.to_owned(),
        kind: ClientKind::Public,
        grant_types,
        scope: Scope::default(),
        resources: Vec::new(),
        redirect_uris,
        post_logout_redirect_uris,
        require_pushed_authorization_requests: false,
        binding: crate::binding::BindingPolicy::default(),
        // Self-registered clients follow the server's profile.
        security_profile: crate::profile::SecurityProfile::default(),
        access_token_lifetime: None,
        token_format: TokenFormat::Jwt,
        introspection: Introspection::None,
        created_at: now,
        origin: ClientOrigin::MetadataDocument,
        // A metadata-document client is public (`none`): keys it lists are not used.
        keys: None,
    })
}

/// A list of redirect URIs, each checked by [`RedirectUri::register`].
fn uri_list(
    doc: &Members,
    member: &'static str,
) -> Result<Option<Vec<RedirectUri>>, DocumentError> {
    let Some(texts) = doc.strings(member)? else {
        return Ok(None);
    };
    if texts.len() > MAX_REDIRECT_URIS {
        return Err(invalid(
            member,
            format!("it lists more than {MAX_REDIRECT_URIS} URIs"),
        ));
    }
    let mut uris: Vec<RedirectUri> = Vec::with_capacity(texts.len());
    for text in texts {
        let uri = RedirectUri::register(text).map_err(|reason| DocumentError::RedirectUri {
            uri: cut(text),
            reason,
        })?;
        if !uris.contains(&uri) {
            uris.push(uri);
        }
    }
    Ok(Some(uris))
}

/// `grant_types` ⊆ {authorization_code, refresh_token}, with `authorization_code` (a document
/// client starts at the authorization endpoint); absent: both (RFC 7591 §2 defaults to
/// `authorization_code`; refresh tokens are what MCP clients expect).
fn grant_types(doc: &Members) -> Result<Vec<GrantType>, DocumentError> {
    let Some(names) = doc.strings("grant_types")? else {
        return Ok(vec![GrantType::AuthorizationCode, GrantType::RefreshToken]);
    };
    let mut grants = Vec::new();
    for name in names {
        match GrantType::parse(name) {
            Some(g @ (GrantType::AuthorizationCode | GrantType::RefreshToken)) => {
                if !grants.contains(&g) {
                    grants.push(g);
                }
            }
            _ => {
                return Err(invalid(
                    "grant_types",
                    format!(
                        "{:?} is not available to a metadata-document client \
                         (authorization_code and refresh_token are)",
                        cut(name)
                    ),
                ));
            }
        }
    }
    if !grants.contains(&GrantType::AuthorizationCode) {
        return Err(invalid("grant_types", "it must include authorization_code"));
    }
    grants.sort();
    Ok(grants)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: UnixTime = UnixTime(1_800_000_000);
    const CLAUDE: &str = "https://claude.ai/oauth/claude-code-client-metadata";

    fn url(text: &str) -> DocumentUrl {
        DocumentUrl::parse(text).unwrap()
    }

    fn check(id: &str, doc: &serde_json::Value) -> Result<Client, DocumentError> {
        client(&url(id), doc.to_string().as_bytes(), NOW)
    }

    fn minimal(id: &str) -> serde_json::Value {
        serde_json::json!({
            "client_id": id,
            "client_name": "Example",
            "redirect_uris": ["http://127.0.0.1/callback"],
        })
    }

    fn with(id: &str, member: &str, value: serde_json::Value) -> Result<Client, DocumentError> {
        let mut doc = minimal(id);
        doc[member] = value;
        check(id, &doc)
    }

    const ID: &str = "https://app.example/client.json";

    #[test]
    fn url_shape_is_decided_by_the_scheme_prefix() {
        assert!(DocumentUrl::is_url_shaped(CLAUDE));
        assert!(DocumentUrl::is_url_shaped("HTTPS://app.example/x"));
        assert!(!DocumentUrl::is_url_shaped("http://app.example/x"));
        assert!(!DocumentUrl::is_url_shaped("aXK3v9_random-id"));
        assert!(!DocumentUrl::is_url_shaped("https:/"));
        assert!(!DocumentUrl::is_url_shaped("httpsé://"));
    }

    /// CIMD §3, security-matrix §5 items 1 and 2: refused before any fetch.
    #[test]
    fn bad_urls_are_refused() {
        for (id, why) in [
            ("https://app.example", "path"),
            ("https://app.example/", "path"),
            ("https://app.example/a#frag", "fragment"),
            ("https://app.example/a#", "fragment"),
            ("https://user:pw@app.example/a", "user name"),
            ("https://user@app.example/a", "user name"),
            ("https://app.example/./a", ". or .."),
            ("https://app.example/a/../b", ". or .."),
            ("https://app.example/a/%2e%2E/b", ". or .."),
            ("https://app.example/a/%2e", ". or .."),
            ("https://app.example/a/..", ". or .."),
            ("https://app.example/a?x=1", "query"),
            ("https://app.example/a?", "query"),
            ("https://app.example/a b", "spaces"),
            ("https://app.example/a\\b", "backslash"),
            ("https://app.example/a\tb", "control"),
            ("https://app.exämple/a", "non-ASCII"),
            ("HTTPS://app.example/a", "lowercase"),
            ("http://app.example/a", "https://"),
            ("https://App.Example/a", "normal form"),
            ("https://app.example:443/a", "normal form"),
            ("https:///a", "normal form"),
            ("https://:443/a", "valid URL"),
        ] {
            let err = DocumentUrl::parse(id).unwrap_err();
            assert!(err.to_string().contains(why), "{id}: {err}");
        }
        let long = format!("https://app.example/{}", "a".repeat(240));
        let err = DocumentUrl::parse(&long).unwrap_err();
        assert!(err.to_string().contains("256"), "{err}");
        let at_max = format!("https://app.example/{}", "a".repeat(256 - 20));
        assert_eq!(at_max.len(), 256);
        assert!(DocumentUrl::parse(&at_max).is_ok());
    }

    #[test]
    fn good_urls_are_accepted() {
        for id in [
            CLAUDE,
            "https://chatgpt.com/oauth/codex/client.json",
            "https://opencode.ai/oauth/opencode/client.json",
            "https://app.example:8443/client",
            "https://app.example/a/",
            "https://127.0.0.1:3000/doc",
            "https://[::1]:3000/doc",
            "https://app.example/a..b/.c",
        ] {
            let u = DocumentUrl::parse(id).unwrap_or_else(|e| panic!("{id}: {e}"));
            assert_eq!(u.as_str(), id);
        }
        assert_eq!(url(CLAUDE).host(), "claude.ai");
        assert_eq!(url("https://[::1]:3000/doc").host(), "[::1]");
    }

    /// Claude Code's document (mcp-auth.md §2.3, §7.12): portless loopback URIs, no
    /// application_type; it is native and any port matches.
    #[test]
    fn claude_codes_document() {
        let doc = serde_json::json!({
            "client_id": CLAUDE,
            "client_name": "Claude Code",
            "client_uri": "https://claude.ai",
            "redirect_uris": ["http://localhost/callback", "http://127.0.0.1/callback"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        });
        let c = check(CLAUDE, &doc).unwrap();
        assert_eq!(c.id.as_str(), CLAUDE);
        assert_eq!(c.name, "Claude Code");
        assert_eq!(c.kind, ClientKind::Public);
        assert_eq!(c.origin, ClientOrigin::MetadataDocument);
        assert_eq!(
            c.grant_types,
            [GrantType::AuthorizationCode, GrantType::RefreshToken]
        );
        assert!(c.scope.is_empty());
        assert!(c.resources.is_empty());
        assert_eq!(c.created_at, NOW);
        assert_eq!(c.introspection, Introspection::None);
        assert!(
            c.redirect_uri(Some("http://localhost:53682/callback"))
                .is_some()
        );
        assert!(
            c.redirect_uri(Some("http://127.0.0.1:4000/callback"))
                .is_some()
        );
        assert!(
            c.redirect_uri(Some("http://127.0.0.1:4000/other"))
                .is_none()
        );
        assert!(
            c.redirect_uri(Some("https://evil.example/callback"))
                .is_none()
        );
    }

    /// A VS Code-like document: https and loopback and a private-use scheme, native declared,
    /// plus members this server does not use.
    #[test]
    fn a_vs_code_like_document_with_extra_members() {
        let id = "https://vscode.dev/oauth/client-metadata.json";
        let doc = serde_json::json!({
            "client_id": id,
            "client_name": "Visual Studio Code",
            "application_type": "native",
            "redirect_uris": [
                "https://vscode.dev/redirect",
                "http://127.0.0.1:33418/",
                "vscode://vscode.github-authentication/did-authenticate",
            ],
            "logo_uri": "https://vscode.dev/logo.png",
            "software_id": "vscode",
            "software_version": "1.104.0",
            "contacts": ["security@vscode.example"],
            "scope": "openid profile",
            "nested": {"anything": [1, 2, {"x": null}]},
        });
        let c = check(id, &doc).unwrap();
        assert_eq!(c.redirect_uris.len(), 3);
        assert!(
            c.scope.is_empty(),
            "the document's scope is not the client's"
        );
        assert!(c.redirect_uri(Some("http://127.0.0.1:9999/")).is_some());
    }

    #[test]
    fn the_minimal_document_defaults() {
        let c = check(ID, &minimal(ID)).unwrap();
        assert_eq!(
            c.grant_types,
            [GrantType::AuthorizationCode, GrantType::RefreshToken]
        );
        assert!(c.post_logout_redirect_uris.is_empty());
        assert_eq!(c.token_format, TokenFormat::Jwt);
        assert!(!c.require_pushed_authorization_requests);
    }

    /// CIMD §4.1: simple string comparison, security-matrix §5 item 10.
    #[test]
    fn client_id_must_be_byte_identical() {
        for other in [
            "https://app.example/client.json/",
            "https://APP.example/client.json",
            "https://app.example:443/client.json",
            "https://app.example/client.json?",
            "https://app.example/Client.json",
            "https://app.example/client%2Ejson",
            "https://other.example/client.json",
            " https://app.example/client.json",
        ] {
            let err = with(ID, "client_id", other.into()).unwrap_err();
            assert_eq!(err, DocumentError::ClientIdMismatch, "{other}");
        }
        let err = with(ID, "client_id", 7.into()).unwrap_err();
        assert!(matches!(
            err,
            DocumentError::Invalid {
                member: "client_id",
                ..
            }
        ));
    }

    /// SPEC-1125.
    #[test]
    fn required_members() {
        for member in ["client_id", "client_name", "redirect_uris"] {
            let mut doc = minimal(ID);
            doc.as_object_mut().unwrap().remove(member);
            assert_eq!(check(ID, &doc).unwrap_err(), DocumentError::Missing(member));
        }
        let err = with(ID, "redirect_uris", serde_json::json!([])).unwrap_err();
        assert!(err.to_string().contains("empty"), "{err}");
    }

    /// CIMD §4.1, §6.2; security-matrix §5 item 11.
    #[test]
    fn shared_secrets_are_refused() {
        for method in [
            "client_secret_basic",
            "client_secret_post",
            "client_secret_jwt",
        ] {
            let err = with(ID, "token_endpoint_auth_method", method.into()).unwrap_err();
            assert_eq!(err, DocumentError::SharedSecret(method.to_owned()));
            assert!(err.to_string().contains("shared secret"), "{err}");
        }
        for member in ["client_secret", "client_secret_expires_at"] {
            let err = with(ID, member, "x".into()).unwrap_err();
            assert_eq!(err, DocumentError::SharedSecret(member.to_owned()));
        }
        let err = with(ID, "client_secret", serde_json::Value::Null).unwrap_err();
        assert!(matches!(err, DocumentError::SharedSecret(_)));
    }

    #[test]
    fn auth_methods() {
        assert!(with(ID, "token_endpoint_auth_method", "none".into()).is_ok());
        let err = with(ID, "token_endpoint_auth_method", "private_key_jwt".into()).unwrap_err();
        assert_eq!(err, DocumentError::KeyBasedNotSupported);
        assert!(err.to_string().contains("does not support"), "{err}");
        for other in ["tls_client_auth", "", "None"] {
            let err = with(ID, "token_endpoint_auth_method", other.into()).unwrap_err();
            assert!(
                matches!(err, DocumentError::UnsupportedAuthMethod(_)),
                "{other}: {err}"
            );
        }
        let err = with(ID, "token_endpoint_auth_method", true.into()).unwrap_err();
        assert!(matches!(err, DocumentError::Invalid { .. }), "{err}");
    }

    #[test]
    fn redirect_uris_follow_the_registration_rules() {
        for bad in [
            "http://app.example/cb",
            "javascript:alert(1)",
            "https://app.example/cb#x",
            "https://*.example/cb",
            "myapp:/cb",
        ] {
            let err = with(ID, "redirect_uris", serde_json::json!([bad])).unwrap_err();
            assert!(
                matches!(err, DocumentError::RedirectUri { .. }),
                "{bad}: {err}"
            );
        }
        let err = with(
            ID,
            "redirect_uris",
            serde_json::json!(["https://a.example/cb", 1]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("not every item"), "{err}");
        let err = with(ID, "redirect_uris", "https://a.example/cb".into()).unwrap_err();
        assert!(err.to_string().contains("not an array"), "{err}");
        let many: Vec<String> = (0..17).map(|i| format!("https://a.example/{i}")).collect();
        let err = with(ID, "redirect_uris", serde_json::json!(many)).unwrap_err();
        assert!(err.to_string().contains("more than 16"), "{err}");
        let c = with(
            ID,
            "redirect_uris",
            serde_json::json!(["https://a.example/cb", "https://a.example/cb"]),
        )
        .unwrap();
        assert_eq!(c.redirect_uris.len(), 1);
        let c = with(
            ID,
            "post_logout_redirect_uris",
            serde_json::json!(["https://a.example/bye"]),
        )
        .unwrap();
        assert_eq!(c.post_logout_redirect_uris.len(), 1);
        let err = with(
            ID,
            "post_logout_redirect_uris",
            serde_json::json!(["http://a.example/"]),
        )
        .unwrap_err();
        assert!(matches!(err, DocumentError::RedirectUri { .. }), "{err}");
    }

    #[test]
    fn application_type_is_declared_or_inferred() {
        assert!(with(ID, "application_type", "native".into()).is_ok());
        let err = with(ID, "application_type", "web".into()).unwrap_err();
        assert!(matches!(
            err,
            DocumentError::Invalid {
                member: "application_type",
                ..
            }
        ));
        let err = with(ID, "application_type", "desktop".into()).unwrap_err();
        assert!(matches!(
            err,
            DocumentError::Invalid {
                member: "application_type",
                ..
            }
        ));
        let mut doc = minimal(ID);
        doc["redirect_uris"] = serde_json::json!(["https://a.example/cb"]);
        doc["application_type"] = "web".into();
        assert!(check(ID, &doc).is_ok());
    }

    #[test]
    fn grant_types_are_limited() {
        let ok = |v: serde_json::Value| with(ID, "grant_types", v).unwrap().grant_types;
        assert_eq!(
            ok(serde_json::json!(["authorization_code"])),
            [GrantType::AuthorizationCode]
        );
        assert_eq!(
            ok(serde_json::json!([
                "refresh_token",
                "authorization_code",
                "refresh_token"
            ])),
            [GrantType::AuthorizationCode, GrantType::RefreshToken]
        );
        for bad in [
            serde_json::json!(["client_credentials", "authorization_code"]),
            serde_json::json!(["implicit", "authorization_code"]),
            serde_json::json!(["refresh_token"]),
            serde_json::json!([]),
            serde_json::json!("authorization_code"),
        ] {
            let err = with(ID, "grant_types", bad.clone()).unwrap_err();
            assert!(
                matches!(
                    err,
                    DocumentError::Invalid {
                        member: "grant_types",
                        ..
                    }
                ),
                "{bad}: {err}"
            );
        }
        assert!(with(ID, "response_types", serde_json::json!(["code"])).is_ok());
        let err = with(ID, "response_types", serde_json::json!(["token"])).unwrap_err();
        assert!(matches!(
            err,
            DocumentError::Invalid {
                member: "response_types",
                ..
            }
        ));
    }

    #[test]
    fn uri_members_are_https() {
        for member in [
            "client_uri",
            "logo_uri",
            "tos_uri",
            "policy_uri",
            "jwks_uri",
        ] {
            assert!(
                with(ID, member, "https://app.example/x".into()).is_ok(),
                "{member}"
            );
            for bad in [
                "http://app.example/x",
                "javascript:alert(1)",
                "data:,x",
                "nope",
            ] {
                let err = with(ID, member, bad.into()).unwrap_err();
                assert!(
                    matches!(err, DocumentError::Invalid { .. }),
                    "{member} {bad}: {err}"
                );
            }
            let err = with(ID, member, 1.into()).unwrap_err();
            assert!(
                matches!(err, DocumentError::Invalid { .. }),
                "{member}: {err}"
            );
        }
        let long = format!("https://app.example/{}", "x".repeat(2048));
        assert!(with(ID, "logo_uri", long.into()).is_err());
    }

    #[test]
    fn client_name_rules() {
        assert_eq!(
            with(ID, "client_name", " Spaced ".into()).unwrap().name,
            "Spaced"
        );
        for bad in [
            serde_json::json!(""),
            serde_json::json!("   "),
            serde_json::json!("a\u{7}b"),
            serde_json::json!("x".repeat(101)),
            serde_json::json!(["x"]),
            serde_json::Value::Null,
        ] {
            let err = with(ID, "client_name", bad.clone()).unwrap_err();
            assert!(
                matches!(
                    err,
                    DocumentError::Invalid {
                        member: "client_name",
                        ..
                    }
                ),
                "{bad}: {err}"
            );
        }
        assert!(with(ID, "client_name", "é".repeat(100).into()).is_ok());
    }

    /// Security-matrix §5 item 9 and the JSON itself.
    #[test]
    fn not_json_objects() {
        let u = url(ID);
        for body in [
            &b"[]"[..],
            b"\"x\"",
            b"1",
            b"null",
            b"true",
            b"[{\"client_id\":1}]",
        ] {
            assert_eq!(
                client(&u, body, NOW).unwrap_err(),
                DocumentError::NotObject,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        for body in [
            &b""[..],
            b"<html></html>",
            b"{",
            b"{\"a\":1,}",
            b"\xff\xfe",
            b"{} {}",
        ] {
            let err = client(&u, body, NOW).unwrap_err();
            assert!(matches!(err, DocumentError::NotJson(_)), "{err}");
        }
        let twice = format!(
            r#"{{"client_id":"{ID}","client_name":"A","client_name":"B","redirect_uris":["https://a.example/cb"]}}"#
        );
        let err = client(&u, twice.as_bytes(), NOW).unwrap_err();
        assert!(err.to_string().contains("given twice"), "{err}");
        let twice_id = format!(
            r#"{{"client_id":"https://evil.example/x","client_id":"{ID}","client_name":"A","redirect_uris":["https://a.example/cb"]}}"#
        );
        assert!(matches!(
            client(&u, twice_id.as_bytes(), NOW).unwrap_err(),
            DocumentError::NotJson(_)
        ));
    }

    #[test]
    fn size_is_bounded() {
        let mut doc = minimal(ID);
        doc["padding"] = "x".repeat(MAX_DOCUMENT_BYTES).into();
        assert_eq!(check(ID, &doc).unwrap_err(), DocumentError::TooLarge);
        let mut doc = minimal(ID);
        doc["padding"] = "x".repeat(4000).into();
        assert!(check(ID, &doc).is_ok());
    }

    /// Messages never carry more than a short cut of what the document said.
    #[test]
    fn messages_are_short() {
        let long = "client_secret_".to_owned() + &"z".repeat(5000);
        let err = with(ID, "token_endpoint_auth_method", long.into()).unwrap_err();
        assert!(err.to_string().len() < 300, "{err}");
        let err = with(ID, "redirect_uris", serde_json::json!(["x".repeat(3000)])).unwrap_err();
        assert!(err.to_string().len() < 400, "{err}");
    }
}
