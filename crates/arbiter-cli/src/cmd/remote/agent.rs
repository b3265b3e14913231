//! `arbiter agent`: agents, their keys and scopes.

use super::*;
/// Agents and their keys.
#[derive(Subcommand, Debug)]
pub enum AgentCommand {
    /// Make an Ed25519 key pair for an agent (local; nothing is sent).
    Keygen {
        /// Where to write the private key (PKCS#8 PEM, mode 0600); the
        /// public key goes to the same path with `.pub`.
        #[arg(long, short = 'o', default_value = "agent.key")]
        out: PathBuf,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
    },
    /// Register an agent with its public key and scope.
    Create(Box<AgentCreate>),
    /// List agents.
    List,
    /// Show one agent.
    Show {
        /// Agent name.
        name: String,
    },
    /// Revoke an agent: every key is refused from now on.
    Revoke {
        /// Agent name.
        name: String,
    },
}

/// `arbiter agent create`.
#[derive(Args, Debug)]
pub struct AgentCreate {
    /// Agent name.
    pub name: String,
    /// Its public key file (from `arbiter agent keygen`).
    #[arg(long, value_name = "FILE")]
    pub public_key: PathBuf,
    /// What it is.
    #[arg(long)]
    pub description: Option<String>,
    /// Stack name or glob it may change (repeatable), e.g. 'web-*'.
    #[arg(long = "stack", value_name = "GLOB")]
    pub stacks: Vec<String>,
    /// Stacks with this label are allowed too (repeatable).
    #[arg(long = "stack-label", value_name = "LABEL")]
    pub stack_labels: Vec<String>,
    /// Allowed actions (default: all of create, update, delete, replace).
    #[arg(long = "action", value_name = "ACTION")]
    pub actions: Vec<String>,
    /// Allowed resource type globs (default '*'), e.g. 'aws_s3_*'.
    #[arg(long = "resource-type", value_name = "GLOB")]
    pub resource_types: Vec<String>,
    /// Most resources one change may touch.
    #[arg(long, value_name = "N")]
    pub max_blast_radius: Option<u64>,
    /// Largest monthly cost increase one change may cause, USD.
    #[arg(long, value_name = "USD")]
    pub max_cost_increase: Option<f64>,
    /// Its approved changes may be applied without a person.
    #[arg(long)]
    pub may_auto_apply: bool,
    /// Submissions per minute (default 60).
    #[arg(long, value_name = "N")]
    pub rate: Option<u32>,
    /// Resources changed per hour (default 500).
    #[arg(long, value_name = "N")]
    pub blast_per_hour: Option<u64>,
}

fn agent_summary(a: &Value) -> String {
    let mut out = format!("agent {}", field(a, "name"));
    if !a["revoked_at"].is_null() {
        out.push_str(&format!(" (REVOKED {})", field(a, "revoked_at")));
    }
    out.push('\n');
    for k in a["keys"].as_array().cloned().unwrap_or_default() {
        out.push_str(&format!(
            "  key {}{}\n",
            field(&k, "key_id"),
            if k["revoked_at"].is_null() {
                ""
            } else {
                " (revoked)"
            }
        ));
    }
    let s = &a["scope"];
    out.push_str(&format!(
        "  stacks: {} labels: {}\n",
        s["stacks"], s["stack_labels"]
    ));
    out.push_str(&format!(
        "  actions: {} resource types: {}\n",
        s["actions"], s["resource_types"]
    ));
    out.push_str(&format!(
        "  max blast radius: {}  max cost increase: {}  may auto-apply: {}\n",
        or_dash(&s["max_blast_radius"]),
        or_dash(&s["max_monthly_cost_increase_usd"]),
        s["may_auto_apply"]
    ));
    out.push_str(&format!(
        "  limits: {}/min, {} resources/hour\n",
        a["limits"]["submissions_per_minute"], a["limits"]["blast_radius_per_hour"]
    ));
    out
}

/// Runs an agent command.
pub fn agent(cmd: AgentCommand, server: &ServerArgs) -> Result<u8> {
    if let AgentCommand::Keygen { out, force } = &cmd {
        return keygen(out, *force);
    }
    let c = Client::new(server, None)?;
    match cmd {
        AgentCommand::Keygen { .. } => {}
        AgentCommand::Create(a) => {
            let pk = std::fs::read_to_string(&a.public_key)
                .with_context(|| format!("reading public key {}", a.public_key.display()))?;
            if a.stacks.is_empty() && a.stack_labels.is_empty() {
                bail!("give the stacks the agent may change: --stack NAME_OR_GLOB and/or --stack-label LABEL");
            }
            let mut scope = json!({"stacks": a.stacks, "stack_labels": a.stack_labels,
                "max_blast_radius": a.max_blast_radius, "max_monthly_cost_increase_usd": a.max_cost_increase,
                "may_auto_apply": a.may_auto_apply});
            if !a.actions.is_empty() {
                scope["actions"] = json!(a.actions);
            }
            if !a.resource_types.is_empty() {
                scope["resource_types"] = json!(a.resource_types);
            }
            let mut limits = json!({});
            if let Some(r) = a.rate {
                limits["submissions_per_minute"] = json!(r);
            }
            if let Some(b) = a.blast_per_hour {
                limits["blast_radius_per_hour"] = json!(b);
            }
            let body = json!({"name": a.name, "description": a.description, "public_key": pk, "scope": scope, "limits": limits});
            let v = c.call("POST", "/api/v1/agents", Some(&body))?;
            c.print(&v, |a| format!("created {}", agent_summary(a)));
        }
        AgentCommand::List => {
            let v = c.call("GET", "/api/v1/agents", None)?;
            c.print(&v, |v| {
                table(
                    &["NAME", "KEYS", "STACKS", "STATUS"],
                    items(v)
                        .iter()
                        .map(|a| {
                            vec![
                                field(a, "name").into(),
                                a["keys"]
                                    .as_array()
                                    .map(|k| k.len())
                                    .unwrap_or(0)
                                    .to_string(),
                                a["scope"]["stacks"].to_string(),
                                if a["revoked_at"].is_null() {
                                    "active".into()
                                } else {
                                    "revoked".into()
                                },
                            ]
                        })
                        .collect(),
                )
            });
        }
        AgentCommand::Show { name } => {
            let v = c.call("GET", &format!("/api/v1/agents/{}", enc(&name)), None)?;
            c.print(&v, agent_summary);
        }
        AgentCommand::Revoke { name } => {
            let v = c.call(
                "POST",
                &format!("/api/v1/agents/{}/revoke", enc(&name)),
                None,
            )?;
            c.print(&v, |a| format!("revoked {}", agent_summary(a)));
        }
    }
    Ok(0)
}

fn keygen(out: &std::path::Path, force: bool) -> Result<u8> {
    let pub_path = PathBuf::from(format!("{}.pub", out.display()));
    for p in [out, pub_path.as_path()] {
        if p.exists() && !force {
            bail!("{} exists; pass --force to overwrite", p.display());
        }
    }
    let key = arbiter_api::AgentKey::generate()?;
    write_private(out, &key.to_pem())?;
    std::fs::write(&pub_path, key.public().to_pem())
        .with_context(|| format!("writing {}", pub_path.display()))?;
    println!(
        "private key: {} (keep it secret; the agent signs with it: arbiter submit --key {})",
        out.display(),
        out.display()
    );
    println!(
        "public key:  {} (register it: arbiter agent create NAME --public-key {} --stack ...)",
        pub_path.display(),
        pub_path.display()
    );
    println!("key id:      {}", key.public().key_id());
    Ok(0)
}

fn write_private(path: &std::path::Path, pem: &str) -> Result<()> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(pem.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
