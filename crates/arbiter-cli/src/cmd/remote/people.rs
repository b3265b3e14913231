//! `arbiter user` and `arbiter token`: people and their API tokens.

use super::*;
use arbiter_api::{Role, Token, TokenSpec, User, UserSpec};
/// People (admin).
#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a person.
    Create {
        /// User name.
        name: String,
        /// admin, reviewer or viewer.
        #[arg(long, default_value = "reviewer")]
        role: String,
        /// Read a password for the web UI from this environment variable.
        #[arg(long, value_name = "VAR")]
        password_env: Option<String>,
    },
    /// List people.
    List,
}

/// Runs a user command.
pub fn user(cmd: UserCommand, server: &ServerArgs) -> Result<u8> {
    let c = Client::new(server, None)?;
    match cmd {
        UserCommand::Create {
            name,
            role,
            password_env,
        } => {
            let password = match password_env {
                Some(var) => Some(
                    std::env::var(&var)
                        .with_context(|| format!("environment variable {var} is not set"))?,
                ),
                None => None,
            };
            let Some(role) = Role::parse(&role) else {
                bail!("--role {role:?} must be admin, reviewer or viewer");
            };
            let body = UserSpec {
                name,
                role,
                password,
            };
            let r = c.call_with::<_, User>("POST", "/api/v1/users", &body)?;
            c.print(&r, |u| {
                format!("created user {} ({})\n", u.name, u.role.as_str())
            });
        }
        UserCommand::List => {
            let r = c.get::<Page<User>>("/api/v1/users")?;
            c.print(&r, |v| {
                table(
                    &["NAME", "ROLE", "PASSWORD", "CREATED"],
                    v.items
                        .iter()
                        .map(|u| {
                            vec![
                                u.name.clone(),
                                u.role.as_str().to_string(),
                                u.has_password.to_string(),
                                u.created_at.to_string(),
                            ]
                        })
                        .collect(),
                )
            });
        }
    }
    Ok(0)
}

/// API tokens.
#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create a token (printed once).
    Create {
        /// For this user (admins only; default: yourself).
        #[arg(long)]
        user: Option<String>,
        /// What it is for.
        #[arg(long)]
        label: Option<String>,
        /// Lifetime (e.g. 30d).
        #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
        expires_in: Option<std::time::Duration>,
    },
    /// List tokens.
    List,
    /// Revoke a token by its id.
    Revoke {
        /// Token id (tok_…).
        id: String,
    },
}

/// Runs a token command.
pub fn token(cmd: TokenCommand, server: &ServerArgs) -> Result<u8> {
    let c = Client::new(server, None)?;
    match cmd {
        TokenCommand::Create {
            user,
            label,
            expires_in,
        } => {
            let expires_in_seconds = expires_in
                .map(|d| i64::try_from(d.as_secs()))
                .transpose()
                .context("--expires-in is too long")?;
            let body = TokenSpec {
                user,
                label,
                expires_in_seconds,
            };
            let r = c.call_with::<_, Token>("POST", "/api/v1/tokens", &body)?;
            c.print(&r, |t| {
                format!(
                    "token {} for {} (shown only this once):\n{}\n",
                    t.id,
                    t.user,
                    dash(t.token.as_ref())
                )
            });
        }
        TokenCommand::List => {
            let r = c.get::<Page<Token>>("/api/v1/tokens")?;
            c.print(&r, |v| {
                table(
                    &["ID", "USER", "LABEL", "CREATED", "EXPIRES", "REVOKED"],
                    v.items
                        .iter()
                        .map(|t| {
                            vec![
                                t.id.clone(),
                                t.user.clone(),
                                dash(t.label.as_ref()),
                                t.created_at.to_string(),
                                dash(t.expires_at.as_ref()),
                                dash(t.revoked_at.as_ref()),
                            ]
                        })
                        .collect(),
                )
            });
        }
        TokenCommand::Revoke { id } => {
            c.call::<()>("DELETE", &format!("/api/v1/tokens/{}", enc(&id)))?;
            if !c.json {
                println!("revoked token {id}");
            }
        }
    }
    Ok(0)
}
