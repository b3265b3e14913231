//! `arbiter agent`: agents, their keys and scopes.

use super::*;
use arbiter_api::{Agent, AgentLimits, AgentScope, AgentSpec, ScopeAction};
use clap::builder::TypedValueParser as _;
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
    /// Allowed action (repeatable; default: all four).
    #[arg(long = "action", value_name = "ACTION", value_parser = scope_action())]
    pub actions: Vec<ScopeAction>,
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

/// `--action`: one of the scope's actions, listed by `--help`.
fn scope_action() -> impl clap::builder::TypedValueParser<Value = ScopeAction> {
    clap::builder::PossibleValuesParser::new(ScopeAction::ALL.map(ScopeAction::as_str))
        .try_map(|s| s.parse::<ScopeAction>())
}

fn agent_summary(a: &Agent) -> String {
    let mut out = format!("agent {}", a.name);
    if let Some(r) = &a.revoked_at {
        out.push_str(&format!(" (REVOKED {r})"));
    }
    out.push('\n');
    for k in &a.keys {
        out.push_str(&format!(
            "  key {}{}\n",
            k.key_id,
            if k.revoked_at.is_none() {
                ""
            } else {
                " (revoked)"
            }
        ));
    }
    let s = &a.scope;
    out.push_str(&format!(
        "  stacks: {} labels: {}\n",
        js(&s.stacks),
        js(&s.stack_labels)
    ));
    out.push_str(&format!(
        "  actions: {} resource types: {}\n",
        js(&s.actions),
        js(&s.resource_types)
    ));
    out.push_str(&format!(
        "  max blast radius: {}  max cost increase: {}  may auto-apply: {}\n",
        dash(s.max_blast_radius.as_ref()),
        dash(s.max_monthly_cost_increase_usd.as_ref()),
        s.may_auto_apply
    ));
    out.push_str(&format!(
        "  limits: {}/min, {} resources/hour\n",
        a.limits.submissions_per_minute, a.limits.blast_radius_per_hour
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
            let defaults = AgentScope::default();
            let scope = AgentScope {
                stacks: a.stacks,
                stack_labels: a.stack_labels,
                actions: if a.actions.is_empty() {
                    defaults.actions
                } else {
                    a.actions
                },
                resource_types: if a.resource_types.is_empty() {
                    defaults.resource_types
                } else {
                    a.resource_types
                },
                max_blast_radius: a.max_blast_radius,
                max_monthly_cost_increase_usd: a.max_cost_increase,
                may_auto_apply: a.may_auto_apply,
                ..defaults
            };
            let default_limits = AgentLimits::default();
            let limits = AgentLimits {
                submissions_per_minute: a.rate.unwrap_or(default_limits.submissions_per_minute),
                blast_radius_per_hour: a
                    .blast_per_hour
                    .unwrap_or(default_limits.blast_radius_per_hour),
            };
            let body = AgentSpec {
                name: a.name,
                description: a.description,
                public_key: pk,
                scope,
                limits,
            };
            let r = c.call_with::<_, Agent>("POST", "/api/v1/agents", &body)?;
            c.print(&r, |a| format!("created {}", agent_summary(a)));
        }
        AgentCommand::List => {
            let r = c.get::<Page<Agent>>("/api/v1/agents")?;
            c.print(&r, |v| {
                table(
                    &["NAME", "KEYS", "STACKS", "STATUS"],
                    v.items
                        .iter()
                        .map(|a| {
                            vec![
                                a.name.clone(),
                                a.keys.len().to_string(),
                                js(&a.scope.stacks),
                                if a.revoked_at.is_none() {
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
            let r = c.get::<Agent>(&format!("/api/v1/agents/{}", enc(&name)))?;
            c.print(&r, agent_summary);
        }
        AgentCommand::Revoke { name } => {
            let r = c.call::<Agent>("POST", &format!("/api/v1/agents/{}/revoke", enc(&name)))?;
            c.print(&r, |a| format!("revoked {}", agent_summary(a)));
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
