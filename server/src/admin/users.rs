//! `/admin/users`: create, list, show and delete user accounts, set their passwords, disable
//! and enable them. Password changes, disabling and deleting go through [`crate::changes`]:
//! the account is written first, then the user's sessions and refresh tokens end.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatehouse_core::store::StoreError;
use gatehouse_core::user::{PasswordHash, User, UserId, Username};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::error::AdminError;
use crate::changes::Ended;
use crate::state::AppState;

/// The longest display name accepted.
const MAX_NAME_LEN: usize = 200;
/// The longest e-mail address accepted (RFC 5321 §4.5.3.1.3: a path is at most 256 octets,
/// with its angle brackets).
const MAX_EMAIL_LEN: usize = 254;

/// A user as the admin API shows it: never the password's hash.
#[derive(Debug, Serialize)]
pub struct UserView {
    user_id: String,
    username: String,
    name: Option<String>,
    email: Option<String>,
    email_verified: bool,
    disabled: bool,
    created_at: u64,
}

impl UserView {
    fn of(u: &User) -> Self {
        Self {
            user_id: u.id.to_string(),
            username: u.username.to_string(),
            name: u.name.clone(),
            email: u.email.clone(),
            email_verified: u.email_verified,
            disabled: u.disabled,
            created_at: u.created_at.0,
        }
    }
}

/// A user after a change that signed them out, and what it ended.
#[derive(Debug, Serialize)]
struct EndedView {
    #[serde(flatten)]
    user: UserView,
    sessions_ended: usize,
    refresh_token_families_revoked: usize,
}

impl EndedView {
    fn of(user: &User, ended: Ended) -> Self {
        Self {
            user: UserView::of(user),
            sessions_ended: ended.sessions,
            refresh_token_families_revoked: ended.refresh_token_families,
        }
    }
}

/// What an operator gives to create a user. An unknown member is an error naming it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    username: String,
    password: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    email_verified: bool,
}

/// A new password.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPassword {
    password: String,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .field("name", &self.name)
            .field("email", &self.email)
            .field("email_verified", &self.email_verified)
            .finish()
    }
}

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword([redacted])")
    }
}

/// 400 naming the field and its rule.
fn invalid(field: &str, rule: impl std::fmt::Display) -> AdminError {
    AdminError::new(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        format!("{field}: {rule}"),
    )
}

fn body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, AdminError> {
    body.map(|Json(t)| t)
        .map_err(|e| AdminError::refused_body(&e, "invalid_request"))
}

fn not_found(username: &str) -> AdminError {
    AdminError::not_found(&format!("user {username:?}"))
}

/// The username of a path: one that breaks the rules names nobody.
fn username_of(path: &str) -> Result<Username, AdminError> {
    Username::new(path).map_err(|_| not_found(path))
}

/// A display name: 1 to 200 printable characters (trimmed); `None` for an absent or blank one.
fn check_name(name: Option<&str>) -> Result<Option<String>, AdminError> {
    let Some(name) = name else { return Ok(None) };
    let name = name.trim();
    if name.chars().count() > MAX_NAME_LEN || name.chars().any(char::is_control) {
        return Err(invalid(
            "name",
            format!(
                "a display name is at most {MAX_NAME_LEN} characters, none of them control characters"
            ),
        ));
    }
    Ok((!name.is_empty()).then(|| name.to_owned()))
}

/// An e-mail address, checked for shape only (`local@domain`, no whitespace or control
/// characters): whether it reaches anyone is the operator's word (`email_verified`).
fn check_email(email: Option<String>) -> Result<Option<String>, AdminError> {
    let Some(email) = email else { return Ok(None) };
    let ok = email.len() <= MAX_EMAIL_LEN
        && email.chars().all(|c| !c.is_control() && !c.is_whitespace())
        && email
            .rsplit_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty());
    if !ok {
        return Err(invalid(
            "email",
            format!(
                "an address is local@domain, at most {MAX_EMAIL_LEN} characters, without whitespace"
            ),
        ));
    }
    Ok(Some(email))
}

/// Hashes `password` on the blocking pool (argon2id: ~20 MiB and tens of milliseconds).
async fn hash(app: &AppState, password: String) -> Result<PasswordHash, AdminError> {
    let random = app.random.clone();
    tokio::task::spawn_blocking(move || PasswordHash::new(&password, random.as_ref()))
        .await
        .map_err(|e| {
            AdminError::internal(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                format!("password hashing stopped: {e}"),
            )
        })?
        .map_err(AdminError::from)
}

/// `POST /admin/users`: creates a user (201 with the user, never the hash); 409 if the
/// username is taken.
pub async fn create_user(
    State(app): State<AppState>,
    new: Result<Json<NewUser>, JsonRejection>,
) -> Result<Response, AdminError> {
    let new = body(new)?;
    let username = Username::new(&new.username)?;
    let name = check_name(new.name.as_deref())?;
    let email = check_email(new.email)?;
    if new.email_verified && email.is_none() {
        return Err(invalid(
            "email_verified",
            "only an address given with it can be verified",
        ));
    }
    // Refused before the cost of hashing; the insert below is what decides.
    if app.users.get(&username).await?.is_some() {
        return Err(taken(&username));
    }
    let password = hash(&app, new.password).await?;
    let user = User {
        id: UserId::generate(app.random.as_ref()),
        username,
        password,
        name,
        email,
        email_verified: new.email_verified,
        disabled: false,
        created_at: app.clock.now(),
    };
    app.users.insert(user.clone()).await?;
    tracing::info!(user_id = %user.id, username = %user.username, "user created");
    Ok((StatusCode::CREATED, Json(UserView::of(&user))).into_response())
}

fn taken(username: &Username) -> AdminError {
    StoreError::Conflict(format!("user {username}")).into()
}

/// `GET /admin/users`: every user, ordered by username.
pub async fn list_users(State(app): State<AppState>) -> Result<Json<Vec<UserView>>, AdminError> {
    let users = app.users.list().await?;
    Ok(Json(users.iter().map(UserView::of).collect()))
}

/// `GET /admin/users/{username}`.
pub async fn show_user(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<UserView>, AdminError> {
    let username = username_of(&name)?;
    let user = app
        .users
        .get(&username)
        .await?
        .ok_or_else(|| not_found(&name))?;
    Ok(Json(UserView::of(&user)))
}

/// `DELETE /admin/users/{username}`: the account goes, and with it the user's sessions,
/// refresh tokens and consents.
pub async fn delete_user(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<serde_json::Value>, AdminError> {
    let username = username_of(&name)?;
    let (user, ended, consents) = app
        .changes
        .delete_user(&username)
        .await?
        .ok_or_else(|| not_found(&name))?;
    tracing::info!(user_id = %user.id, username = %user.username, sessions_ended = ended.sessions, refresh_token_families_revoked = ended.refresh_token_families, consents_forgotten = consents, "user deleted");
    Ok(Json(json!({
        "user_id": user.id.as_str(),
        "username": user.username.as_str(),
        "sessions_ended": ended.sessions,
        "refresh_token_families_revoked": ended.refresh_token_families,
        "consents_forgotten": consents,
    })))
}

/// `POST /admin/users/{username}/password` `{"password": ...}`: a new password; the user's
/// sessions and refresh tokens end.
pub async fn set_password(
    State(app): State<AppState>,
    Path(name): Path<String>,
    new: Result<Json<NewPassword>, JsonRejection>,
) -> Result<Json<impl Serialize>, AdminError> {
    let username = username_of(&name)?;
    let new = body(new)?;
    // Refused before the cost of hashing; the write below is what decides.
    if app.users.get(&username).await?.is_none() {
        return Err(not_found(&name));
    }
    let password = hash(&app, new.password).await?;
    let (user, ended) = app
        .changes
        .set_password(&username, password)
        .await?
        .ok_or_else(|| not_found(&name))?;
    tracing::info!(user_id = %user.id, username = %user.username, sessions_ended = ended.sessions, refresh_token_families_revoked = ended.refresh_token_families, "password changed");
    Ok(Json(EndedView::of(&user, ended)))
}

/// `POST /admin/users/{username}/disable`: the user can no longer sign in; their sessions and
/// refresh tokens end.
pub async fn disable_user(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<impl Serialize>, AdminError> {
    let username = username_of(&name)?;
    let (user, ended) = app
        .changes
        .disable_user(&username)
        .await?
        .ok_or_else(|| not_found(&name))?;
    tracing::info!(user_id = %user.id, username = %user.username, sessions_ended = ended.sessions, refresh_token_families_revoked = ended.refresh_token_families, "user disabled");
    Ok(Json(EndedView::of(&user, ended)))
}

/// `POST /admin/users/{username}/enable`: the user may sign in again.
pub async fn enable_user(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<UserView>, AdminError> {
    let username = username_of(&name)?;
    let user = app
        .changes
        .enable_user(&username)
        .await?
        .ok_or_else(|| not_found(&name))?;
    tracing::info!(user_id = %user.id, username = %user.username, "user enabled");
    Ok(Json(UserView::of(&user)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_addresses_are_checked_by_field() {
        assert_eq!(check_name(None).unwrap(), None);
        assert_eq!(check_name(Some("  ")).unwrap(), None);
        assert_eq!(
            check_name(Some(" Alice Liddell ")).unwrap().as_deref(),
            Some("Alice Liddell")
        );
        assert!(check_name(Some("a\nb")).is_err());
        assert!(check_name(Some(&"x".repeat(201))).is_err());

        assert_eq!(
            check_email(Some("a@example.com".into()))
                .unwrap()
                .as_deref(),
            Some("a@example.com")
        );
        for bad in [
            "",
            "a",
            "@example.com",
            "a@",
            "a b@example.com",
            "a@ex\nample",
        ] {
            assert!(check_email(Some(bad.into())).is_err(), "{bad:?}");
        }
        assert!(check_email(Some(format!("{}@example.com", "x".repeat(250)))).is_err());
    }
}

/// A remembered consent, as the admin API shows it.
#[derive(Debug, Serialize)]
pub struct ConsentView {
    client_id: String,
    scope: String,
    resources: Vec<String>,
    granted_at: u64,
}

/// `GET /admin/users/{username}/consents`: what the user let each client have.
pub async fn list_consents(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Vec<ConsentView>>, AdminError> {
    let username = username_of(&name)?;
    let user = app
        .users
        .get(&username)
        .await?
        .ok_or_else(|| not_found(&name))?;
    let consents = app.consents.list_user(&user.id).await?;
    Ok(Json(
        consents
            .into_iter()
            .map(|(client, c)| ConsentView {
                client_id: client.to_string(),
                scope: c.scope.to_string(),
                resources: c.resources.iter().map(ToString::to_string).collect(),
                granted_at: c.granted_at.0,
            })
            .collect(),
    ))
}

/// `DELETE /admin/users/{username}/consents/{client_id}`: the consent is forgotten, so the
/// client must ask again, and the refresh tokens the user gave it are revoked.
pub async fn revoke_consent(
    State(app): State<AppState>,
    Path((name, client)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    let username = username_of(&name)?;
    let user = app
        .users
        .get(&username)
        .await?
        .ok_or_else(|| not_found(&name))?;
    let missing = || AdminError::not_found(&format!("consent of {name:?} to {client:?}"));
    let client_id = gatehouse_core::client::ClientId::new(&client).ok_or_else(missing)?;
    let revoked = app.changes.revoke_consent(&user.id, &client_id).await?;
    if !revoked {
        return Err(missing());
    }
    tracing::info!(target: "gatehouse::security", user = %user.id, client = %client_id, "consent revoked by an operator");
    Ok(StatusCode::NO_CONTENT.into_response())
}
