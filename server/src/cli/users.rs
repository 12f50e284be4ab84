//! `gatehouse user ...`: user accounts through the admin API. Passwords never come from the
//! command line (where `ps` and shell histories would keep them): they are read from the
//! terminal without echo, twice, or from one line of standard input when it is not a terminal
//! (`printf '%s\n' "$PASSWORD" | gatehouse user create alice`).

use std::io::{BufRead, IsTerminal as _, Read as _};

use clap::Subcommand;
use gatehouse_core::user::MAX_PASSWORD_LEN;
use serde_json::json;

use super::admin_client::{AdminClient, CliError, segment};
use super::{output, print};
use crate::config::Config;

#[derive(Debug, Subcommand)]
pub(super) enum UserCommand {
    /// Create a user. The password is asked for on the terminal (twice, without echo), or read
    /// from one line of standard input when that is not a terminal.
    Create {
        /// The name they sign in with (1 to 64 characters, no whitespace; case-insensitive).
        username: String,
        /// A display name (OIDC `name`).
        #[arg(long)]
        name: Option<String>,
        /// An e-mail address (OIDC `email`).
        #[arg(long)]
        email: Option<String>,
        /// Vouch for the e-mail address (OIDC `email_verified`).
        #[arg(long, requires = "email")]
        email_verified: bool,
    },
    /// List users.
    List,
    /// Show one user.
    Show {
        /// The username.
        username: String,
    },
    /// Delete a user: their sessions and refresh tokens end, their consents are forgotten.
    Delete {
        /// The username.
        username: String,
    },
    /// Set a user's password (read as for `create`); their sessions and refresh tokens end.
    Passwd {
        /// The username.
        username: String,
    },
    /// Stop a user from signing in; their sessions and refresh tokens end.
    Disable {
        /// The username.
        username: String,
    },
    /// Let a disabled user sign in again.
    Enable {
        /// The username.
        username: String,
    },
    /// List what the user let each client have (remembered consents).
    Consents {
        /// The username.
        username: String,
    },
    /// Forget a user's consent to a client: it must ask again, and the refresh tokens the user
    /// gave it are revoked.
    RevokeConsent {
        /// The username.
        username: String,
        /// The client's id (a generated one may begin with `-`).
        #[arg(allow_hyphen_values = true)]
        client_id: String,
    },
}

/// Runs a `user` command.
pub(super) fn run(
    cmd: UserCommand,
    config: &Config,
    url: Option<String>,
    json_mode: bool,
) -> Result<(), CliError> {
    let admin = AdminClient::new(config, url)?;
    let path = |username: &str, action: &str| format!("/admin/users/{}{action}", segment(username));
    match cmd {
        UserCommand::Create {
            username,
            name,
            email,
            email_verified,
        } => {
            let password = read_password()?;
            let body = json!({
                "username": username,
                "password": password,
                "name": name,
                "email": email,
                "email_verified": email_verified,
            });
            let created = admin.post("/admin/users", &body)?;
            print(json_mode, &created, output::created_user)?;
        }
        UserCommand::List => {
            let users = admin.get("/admin/users")?;
            print(json_mode, &users, output::user_table)?;
        }
        UserCommand::Show { username } => {
            let user = admin.get(&path(&username, ""))?;
            print(json_mode, &user, output::user_details)?;
        }
        UserCommand::Delete { username } => {
            let done = admin.delete(&path(&username, ""))?;
            print(json_mode, &done, output::deleted_user)?;
        }
        UserCommand::Passwd { username } => {
            let password = read_password()?;
            let done = admin.post(
                &path(&username, "/password"),
                &json!({ "password": password }),
            )?;
            print(json_mode, &done, |d| {
                output::signed_out("Changed the password of", d)
            })?;
        }
        UserCommand::Disable { username } => {
            let done = admin.post(&path(&username, "/disable"), &json!({}))?;
            print(json_mode, &done, |d| output::signed_out("Disabled", d))?;
        }
        UserCommand::Enable { username } => {
            let done = admin.post(&path(&username, "/enable"), &json!({}))?;
            print(json_mode, &done, |u| {
                format!(
                    "Enabled user {}: they may sign in again\n",
                    output::text(&u["username"])
                )
            })?;
        }
        UserCommand::Consents { username } => {
            let consents = admin.get(&path(&username, "/consents"))?;
            print(json_mode, &consents, output::consent_table)?;
        }
        UserCommand::RevokeConsent {
            username,
            client_id,
        } => {
            let action = format!("/consents/{}", segment(&client_id));
            admin.delete(&path(&username, &action))?;
            let done = json!({ "username": username, "client_id": client_id, "revoked": true });
            print(json_mode, &done, |_| {
                format!(
                    "Revoked the consent of {username} to {client_id}: it will be asked again, and the refresh tokens it got are revoked\n"
                )
            })?;
        }
    }
    Ok(())
}

/// The new password: from the terminal when standard input is one, else one line of it.
fn read_password() -> Result<String, CliError> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let refused = |e: std::io::Error| CliError::Password(format!("cannot read it: {e}"));
        let first = rpassword::prompt_password("Password: ").map_err(refused)?;
        let again = rpassword::prompt_password("Repeat the password: ").map_err(refused)?;
        if first != again {
            return Err(CliError::Password(
                "the two entries differ; nothing was changed".to_owned(),
            ));
        }
        return Ok(first);
    }
    password_line(&mut stdin.lock())
}

/// One line of `input` without its line ending (LF or CRLF), refused when empty or longer than
/// a password may be (never cut short: a truncated password would be a different one).
fn password_line(input: &mut impl BufRead) -> Result<String, CliError> {
    let limit = MAX_PASSWORD_LEN + 2; // the password and a CRLF
    let mut line = String::new();
    input
        .take(limit as u64 + 1)
        .read_line(&mut line)
        .map_err(|e| CliError::Password(format!("cannot read it from standard input: {e}")))?;
    let password = line
        .strip_suffix('\n')
        .map_or(line.as_str(), |l| l.strip_suffix('\r').unwrap_or(l));
    if password.is_empty() {
        return Err(CliError::Password(
            "none on standard input: run the command in a terminal, or give the password as one line of standard input (printf '%s\\n' \"$PASSWORD\" | gatehouse user ...)".to_owned(),
        ));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(CliError::Password(format!(
            "longer than {MAX_PASSWORD_LEN} bytes"
        )));
    }
    Ok(password.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(input: &str) -> Result<String, String> {
        password_line(&mut std::io::Cursor::new(input.as_bytes().to_vec()))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn one_line_of_standard_input_without_its_ending() {
        assert_eq!(line("correct horse\n").unwrap(), "correct horse");
        assert_eq!(line("correct horse\r\n").unwrap(), "correct horse");
        assert_eq!(line("correct horse").unwrap(), "correct horse");
        assert_eq!(line("first\nsecond\n").unwrap(), "first");
        assert_eq!(line(" spaces kept \n").unwrap(), " spaces kept ");
    }

    #[test]
    fn an_empty_or_overlong_password_is_refused_never_cut() {
        assert!(line("").unwrap_err().contains("none on standard input"));
        assert!(line("\n").unwrap_err().contains("none on standard input"));
        let longest = "x".repeat(MAX_PASSWORD_LEN);
        assert_eq!(line(&format!("{longest}\r\n")).unwrap(), longest);
        for long in [
            format!("{longest}x"),
            format!("{longest}x\n"),
            format!("{longest}xx\r\n"),
            "x".repeat(10 * MAX_PASSWORD_LEN),
        ] {
            assert!(
                line(&long).unwrap_err().contains("longer than"),
                "{}",
                long.len()
            );
        }
    }
}
