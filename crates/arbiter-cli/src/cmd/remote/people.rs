//! `arbiter user` and `arbiter token`: people and their API tokens.

use super::*;
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
            let v = c.call(
                "POST",
                "/api/v1/users",
                Some(&json!({"name": name, "role": role, "password": password})),
            )?;
            c.print(&v, |u| {
                format!("created user {} ({})\n", field(u, "name"), field(u, "role"))
            });
        }
        UserCommand::List => {
            let v = c.call("GET", "/api/v1/users", None)?;
            c.print(&v, |v| {
                table(
                    &["NAME", "ROLE", "PASSWORD", "CREATED"],
                    items(v)
                        .iter()
                        .map(|u| {
                            vec![
                                field(u, "name").into(),
                                field(u, "role").into(),
                                u["has_password"].to_string(),
                                field(u, "created_at").into(),
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
            let v = c.call(
                "POST",
                "/api/v1/tokens",
                Some(&json!({"user": user, "label": label, "expires_in_seconds": expires_in.map(|d| d.as_secs())})),
            )?;
            c.print(&v, |t| {
                format!(
                    "token {} for {} (shown only this once):\n{}\n",
                    field(t, "id"),
                    field(t, "user"),
                    field(t, "token")
                )
            });
        }
        TokenCommand::List => {
            let v = c.call("GET", "/api/v1/tokens", None)?;
            c.print(&v, |v| {
                table(
                    &["ID", "USER", "LABEL", "CREATED", "EXPIRES", "REVOKED"],
                    items(v)
                        .iter()
                        .map(|t| {
                            vec![
                                field(t, "id").into(),
                                field(t, "user").into(),
                                field(t, "label").into(),
                                field(t, "created_at").into(),
                                field(t, "expires_at").into(),
                                field(t, "revoked_at").into(),
                            ]
                        })
                        .collect(),
                )
            });
        }
        TokenCommand::Revoke { id } => {
            c.call("DELETE", &format!("/api/v1/tokens/{}", enc(&id)), None)?;
            if !c.json {
                println!("revoked token {id}");
            }
        }
    }
    Ok(0)
}
