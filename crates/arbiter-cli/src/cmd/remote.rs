//! Client commands for a running server: `stack`, `agent`, `submit`,
//! `review`, `user`, `token`.

use super::client::{field, parse_duration, Client, ServerArgs};
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::path::PathBuf;

fn or_dash(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut w: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(x) = w.get_mut(i) {
                *x = (*x).max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            let pad = w.get(i).copied().unwrap_or(0);
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<pad$}  "));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(headers.iter().map(|h| h.to_string()).collect());
    if rows.is_empty() {
        out.push_str("(none)\n");
    }
    for r in rows {
        out.push_str(&line(r));
    }
    out
}

fn items(v: &Value) -> Vec<Value> {
    v["items"].as_array().cloned().unwrap_or_default()
}

// ---------------------------------------------------------------- stacks

/// Stacks on the server.
#[derive(Subcommand, Debug)]
pub enum StackCommand {
    /// Create a stack.
    Create(StackCreate),
    /// List stacks.
    List,
    /// Show one stack.
    Show {
        /// Stack name.
        name: String,
    },
    /// Change a stack (only the options given).
    Update(StackUpdateArgs),
}

/// `arbiter stack create`.
#[derive(Args, Debug)]
pub struct StackCreate {
    /// Stack name.
    pub name: String,
    /// prod, staging, dev or ephemeral.
    #[arg(long, short = 'e')]
    pub environment: String,
    /// Label (repeatable), e.g. team:payments.
    #[arg(long = "label", value_name = "LABEL")]
    pub labels: Vec<String>,
    /// Monthly budget, USD.
    #[arg(long, value_name = "USD")]
    pub budget: Option<f64>,
    /// Confidence needed to approve (default 95).
    #[arg(long, value_name = "0-100")]
    pub threshold: Option<f64>,
    /// Apply approved changes without a person.
    #[arg(long)]
    pub auto_apply: bool,
    /// Plan policy set to evaluate (repeatable).
    #[arg(long = "policy-set", value_name = "NAME")]
    pub policy_sets: Vec<String>,
    /// Approval policy set (default: built-in, two approvals in prod).
    #[arg(long, value_name = "NAME")]
    pub approval_policy: Option<String>,
    /// Lifetime of an ephemeral stack (e.g. 72h).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub ttl: Option<std::time::Duration>,
    /// Severity from which a weakness the change introduces keeps it out
    /// of auto-approve whatever the points (critical, high, medium, low,
    /// info or off; default: medium in prod, high in staging, off in dev).
    #[arg(long, value_name = "LEVEL")]
    pub escalate_introduced_at: Option<String>,
}

/// `arbiter stack update`.
#[derive(Args, Debug)]
pub struct StackUpdateArgs {
    /// Stack name.
    pub name: String,
    /// New environment.
    #[arg(long, short = 'e')]
    pub environment: Option<String>,
    /// New labels (repeatable; replaces all).
    #[arg(long = "label", value_name = "LABEL")]
    pub labels: Option<Vec<String>>,
    /// New monthly budget, USD.
    #[arg(long, value_name = "USD")]
    pub budget: Option<f64>,
    /// New threshold.
    #[arg(long, value_name = "0-100")]
    pub threshold: Option<f64>,
    /// Turn auto-apply on or off.
    #[arg(long, value_name = "BOOL")]
    pub auto_apply: Option<bool>,
    /// New plan policy sets (repeatable; replaces all).
    #[arg(long = "policy-set", value_name = "NAME")]
    pub policy_sets: Option<Vec<String>>,
    /// New floor for introduced weaknesses (critical, high, medium, low,
    /// info, off; `default` restores the environment's default).
    #[arg(long, value_name = "LEVEL")]
    pub escalate_introduced_at: Option<String>,
    /// Only if the stack is still at this version.
    #[arg(long, value_name = "N")]
    pub if_version: Option<i64>,
}

fn stack_summary(s: &Value) -> String {
    let mut out = format!(
        "{} ({}), version {}\n",
        field(s, "name"),
        field(s, "environment"),
        field(s, "version")
    );
    out.push_str(&format!("  labels: {}\n", s["labels"]));
    out.push_str(&format!(
        "  budget: {}  threshold: {}  auto-apply: {}\n",
        or_dash(&s["monthly_budget_usd"]),
        or_dash(&s["auto_apply_threshold"]),
        s["auto_apply"]
    ));
    out.push_str(&format!(
        "  policy sets: {}  approval policy: {}\n",
        s["policy_sets"],
        or_dash(&s["approval_policy"])
    ));
    out.push_str(&format!(
        "  holds introduced weaknesses from: {}\n",
        match s["escalate_introduced_at"].as_str() {
            Some(f) => f.to_string(),
            None => "the environment's default".into(),
        }
    ));
    if !s["expires_at"].is_null() {
        out.push_str(&format!("  expires: {}\n", field(s, "expires_at")));
    }
    out
}

/// Runs a stack command.
pub fn stack(cmd: StackCommand, server: &ServerArgs) -> Result<u8> {
    let c = Client::new(server, None)?;
    match cmd {
        StackCommand::Create(a) => {
            let body = json!({"name": a.name, "environment": a.environment, "labels": a.labels,
                "monthly_budget_usd": a.budget, "auto_apply_threshold": a.threshold, "auto_apply": a.auto_apply,
                "policy_sets": a.policy_sets, "approval_policy": a.approval_policy, "ttl_seconds": a.ttl.map(|d| d.as_secs()),
                "escalate_introduced_at": a.escalate_introduced_at});
            let v = c.call("POST", "/api/v1/stacks", Some(&body))?;
            c.print(&v, |s| format!("created stack {}\n", stack_summary(s)));
        }
        StackCommand::List => {
            let v = c.call("GET", "/api/v1/stacks", None)?;
            c.print(&v, |v| {
                table(
                    &["NAME", "ENV", "BUDGET", "THRESHOLD", "AUTO-APPLY", "LABELS"],
                    items(v)
                        .iter()
                        .map(|s| {
                            vec![
                                field(s, "name").into(),
                                field(s, "environment").into(),
                                or_dash(&s["monthly_budget_usd"]),
                                or_dash(&s["auto_apply_threshold"]),
                                s["auto_apply"].to_string(),
                                s["labels"]
                                    .as_array()
                                    .map(|l| l.iter().map(or_dash).collect::<Vec<_>>().join(","))
                                    .unwrap_or_default(),
                            ]
                        })
                        .collect(),
                )
            });
        }
        StackCommand::Show { name } => {
            let v = c.call("GET", &format!("/api/v1/stacks/{}", enc(&name)), None)?;
            c.print(&v, stack_summary);
        }
        StackCommand::Update(a) => {
            let mut body = serde_json::Map::new();
            if let Some(e) = a.environment {
                body.insert("environment".into(), json!(e));
            }
            if let Some(l) = a.labels {
                body.insert("labels".into(), json!(l));
            }
            if let Some(b) = a.budget {
                body.insert("monthly_budget_usd".into(), json!(b));
            }
            if let Some(t) = a.threshold {
                body.insert("auto_apply_threshold".into(), json!(t));
            }
            if let Some(x) = a.auto_apply {
                body.insert("auto_apply".into(), json!(x));
            }
            if let Some(p) = a.policy_sets {
                body.insert("policy_sets".into(), json!(p));
            }
            if let Some(f) = a.escalate_introduced_at {
                let f = (f != "default").then_some(f);
                body.insert("escalate_introduced_at".into(), json!(f));
            }
            if let Some(v) = a.if_version {
                body.insert("if_version".into(), json!(v));
            }
            if body.is_empty() {
                bail!("nothing to change: give at least one option (see --help)");
            }
            let v = c.call(
                "PATCH",
                &format!("/api/v1/stacks/{}", enc(&a.name)),
                Some(&Value::Object(body)),
            )?;
            c.print(&v, |s| format!("updated stack {}\n", stack_summary(s)));
        }
    }
    Ok(0)
}

/// Percent-encodes a path segment.
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// ---------------------------------------------------------------- agents

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

// ---------------------------------------------------------------- submit

/// `arbiter submit`.
#[derive(Args, Debug)]
#[command(
    after_help = "Exit codes: 0 approved, 2 pending review, 3 rejected, 1 error.\n\n\
As an agent: arbiter submit plan.json --stack web --key agent.key (the request is signed; no token).\n\
As a person or CI: with ARBITER_TOKEN set."
)]
pub struct SubmitArgs {
    /// The plan (`terraform show -json PLANFILE > plan.json`).
    pub plan: PathBuf,
    /// Target stack.
    #[arg(long, short = 's')]
    pub stack: String,
    /// What the change is for.
    #[arg(long)]
    pub intent: Option<String>,
    /// Sign as an agent with this private key (from `arbiter agent keygen`).
    #[arg(long, value_name = "FILE", env = "ARBITER_AGENT_KEY")]
    pub key: Option<PathBuf>,
    /// Idempotency key: a retry with the same key returns the same change request.
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
    /// Source commit.
    #[arg(long)]
    pub commit: Option<String>,
    /// Source repository.
    #[arg(long)]
    pub repository: Option<String>,
    /// Only ask whether it would be approved (nothing is stored).
    #[arg(long)]
    pub dry_run: bool,
}

fn cr_summary(cr: &Value) -> String {
    let mut out = format!(
        "change request {} on {}: {} (decision {}, confidence {})\n",
        field(cr, "id"),
        field(cr, "stack"),
        field(cr, "status"),
        field(cr, "decision"),
        cr["confidence"]
            .as_f64()
            .map(|c| format!("{c:.1}"))
            .unwrap_or_else(|| "-".into())
    );
    if let Some(r) = cr["reason"].as_str() {
        out.push_str(&format!("  reason: {r}\n"));
    }
    if let Some(e) = cr["verdict"]["explanation"].as_str() {
        out.push_str(&format!("  {e}\n"));
    }
    if let Some(d) = cr["cost_delta_usd"].as_f64() {
        out.push_str(&format!("  cost: {d:+.2} USD/month\n"));
    }
    for r in cr["reviews"].as_array().cloned().unwrap_or_default() {
        out.push_str(&format!(
            "  review: {} {}{}\n",
            field(&r, "reviewer"),
            field(&r, "decision"),
            r["comment"]
                .as_str()
                .map(|c| format!(": {c}"))
                .unwrap_or_default()
        ));
    }
    out
}

/// Runs `arbiter submit`.
pub fn submit(a: SubmitArgs, server: &ServerArgs) -> Result<u8> {
    let bytes = arbiter_plan::read::read_limited(&a.plan)
        .with_context(|| format!("reading plan {}", a.plan.display()))?;
    let text = arbiter_plan::read::decode_plan(&bytes)
        .map_err(|e| e.in_file(&a.plan))
        .with_context(|| format!("reading plan {}", a.plan.display()))?;
    let plan: Box<serde_json::value::RawValue> = match serde_json::from_str(&text) {
        Ok(plan) => plan,
        Err(e) => {
            let e = match arbiter_plan::read::not_plan_json(text.as_bytes()) {
                Some(kind) => anyhow::Error::new(arbiter_plan::PlanError::NotPlanJson {
                    kind,
                    file: Some(a.plan.display().to_string()),
                }),
                None => anyhow::Error::new(e),
            };
            return Err(e.context(format!("reading plan {}", a.plan.display())));
        }
    };
    let source = (a.commit.is_some() || a.repository.is_some())
        .then(|| json!({"commit": a.commit, "repository": a.repository}));
    let body = json!({"stack": a.stack, "plan": plan, "intent": a.intent, "source": source});
    let c = Client::new(server, a.key.as_deref())?;
    let bytes = serde_json::to_vec(&body)?;
    let mut headers = Vec::new();
    if let Some(k) = &a.idempotency_key {
        headers.push(("idempotency-key", k.clone()));
    }
    let path = if a.dry_run {
        "/api/v1/evaluate"
    } else {
        "/api/v1/change-requests"
    };
    let v = c.send("POST", path, Some(bytes), &headers)?.ok()?;
    if a.dry_run {
        c.print(&v, |v| {
            let mut s = format!("would be {}", field(v, "status"));
            if let Some(r) = v["reason"].as_str() {
                s.push_str(&format!(": {r}"));
            }
            s.push('\n');
            if let Some(e) = v["verdict"]["explanation"].as_str() {
                s.push_str(&format!("  {e}\n"));
            }
            s
        });
        return Ok(crate::exit::status(v["status"].as_str().unwrap_or("")));
    }
    c.print(&v, cr_summary);
    Ok(crate::exit::status(v["status"].as_str().unwrap_or("")))
}

// ---------------------------------------------------------------- review

/// The review queue.
#[derive(Subcommand, Debug)]
pub enum ReviewCommand {
    /// Change requests waiting for a person, highest priority first.
    List,
    /// One change request with its verdict.
    Show {
        /// Change request number.
        id: i64,
    },
    /// Approve a change request.
    Approve {
        /// Change request number.
        id: i64,
        /// Why, for the record (shown with the review and kept in the audit log).
        #[arg(long, short = 'm')]
        comment: Option<String>,
    },
    /// Reject a change request.
    Reject {
        /// Change request number.
        id: i64,
        /// Why, for the record (shown with the review and kept in the audit log).
        #[arg(long, short = 'm')]
        comment: Option<String>,
    },
}

/// Runs a review command.
pub fn review(cmd: ReviewCommand, server: &ServerArgs) -> Result<u8> {
    let c = Client::new(server, None)?;
    match cmd {
        ReviewCommand::List => {
            let v = c.call("GET", "/api/v1/reviews", None)?;
            c.print(&v, |v| {
                table(
                    &[
                        "ID",
                        "PRIORITY",
                        "STACK",
                        "SUBMITTER",
                        "CONFIDENCE",
                        "COST/MONTH",
                        "SINCE",
                    ],
                    items(v)
                        .iter()
                        .map(|cr| {
                            vec![
                                field(cr, "id").into(),
                                cr["priority"]
                                    .as_f64()
                                    .map(|p| format!("{p:.3}"))
                                    .unwrap_or_default(),
                                field(cr, "stack").into(),
                                field(cr, "submitter").into(),
                                cr["confidence"]
                                    .as_f64()
                                    .map(|c| format!("{c:.1}"))
                                    .unwrap_or_default(),
                                cr["cost_delta_usd"]
                                    .as_f64()
                                    .map(|d| format!("{d:+.2}"))
                                    .unwrap_or_else(|| "-".into()),
                                field(cr, "created_at").into(),
                            ]
                        })
                        .collect(),
                )
            });
        }
        ReviewCommand::Show { id } => {
            let v = c.call("GET", &format!("/api/v1/change-requests/{id}"), None)?;
            c.print(&v, cr_summary);
        }
        ReviewCommand::Approve { id, comment } => {
            let v = c.call(
                "POST",
                &format!("/api/v1/change-requests/{id}/approve"),
                Some(&json!({"comment": comment})),
            )?;
            c.print(&v, cr_summary);
        }
        ReviewCommand::Reject { id, comment } => {
            let v = c.call(
                "POST",
                &format!("/api/v1/change-requests/{id}/reject"),
                Some(&json!({"comment": comment})),
            )?;
            c.print(&v, cr_summary);
        }
    }
    Ok(0)
}

// ---------------------------------------------------------------- people

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

// ---------------------------------------------------------------- policy sets

/// Policy sets stored on the server (versioned Rego).
#[derive(Subcommand, Debug)]
pub enum PolicySetCommand {
    /// Upload a directory of .rego files (and data.json/data.yaml) as a new version.
    Push {
        /// Set name.
        name: String,
        /// Directory (or one file).
        dir: PathBuf,
        /// `plan` (evaluated like --policy) or `approval` (decides reviews).
        #[arg(long, default_value = "plan", value_parser = ["plan", "approval"])]
        kind: String,
    },
    /// List sets (latest versions).
    List,
    /// Show a set with its files.
    Show {
        /// Set name.
        name: String,
        /// Which version (default: the latest).
        #[arg(value_name = "VERSION")]
        number: Option<i64>,
    },
}

fn collect_files(
    base: &std::path::Path,
    dir: &std::path::Path,
    out: &mut serde_json::Map<String, Value>,
) -> Result<()> {
    let meta = std::fs::metadata(dir).with_context(|| format!("reading {}", dir.display()))?;
    if meta.is_file() {
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        out.insert(
            name,
            Value::String(
                std::fs::read_to_string(dir)
                    .with_context(|| format!("reading {}", dir.display()))?,
            ),
        );
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if name.starts_with('.') {
            continue;
        }
        if p.is_dir() {
            collect_files(base, &p, out)?;
        } else if name.ends_with(".rego")
            || matches!(name.as_str(), "data.json" | "data.yaml" | "data.yml")
        {
            let rel = p
                .strip_prefix(base)
                .unwrap_or(&p)
                .to_string_lossy()
                .replace('\\', "/");
            out.insert(
                rel,
                Value::String(
                    std::fs::read_to_string(&p)
                        .with_context(|| format!("reading {}", p.display()))?,
                ),
            );
        }
    }
    Ok(())
}

/// Runs a policy-set command.
pub fn policy_set(cmd: PolicySetCommand, server: &ServerArgs) -> Result<u8> {
    let c = Client::new(server, None)?;
    match cmd {
        PolicySetCommand::Push { name, dir, kind } => {
            let mut files = serde_json::Map::new();
            collect_files(&dir, &dir, &mut files)?;
            if files.is_empty() {
                bail!(
                    "{} has no .rego, data.json or data.yaml files",
                    dir.display()
                );
            }
            let v = c.call(
                "PUT",
                &format!("/api/v1/policy-sets/{}", enc(&name)),
                Some(&json!({"kind": kind, "files": files})),
            )?;
            c.print(&v, |s| {
                format!(
                    "stored policy set {} version {} ({} files, digest {})\n",
                    field(s, "name"),
                    field(s, "version"),
                    files.len(),
                    field(s, "digest")
                )
            });
        }
        PolicySetCommand::List => {
            let v = c.call("GET", "/api/v1/policy-sets", None)?;
            c.print(&v, |v| {
                table(
                    &["NAME", "KIND", "VERSION", "BY", "CREATED"],
                    items(v)
                        .iter()
                        .map(|s| {
                            vec![
                                field(s, "name").into(),
                                field(s, "kind").into(),
                                field(s, "version").into(),
                                field(s, "created_by").into(),
                                field(s, "created_at").into(),
                            ]
                        })
                        .collect(),
                )
            });
        }
        PolicySetCommand::Show { name, number } => {
            let q = number.map(|v| format!("?version={v}")).unwrap_or_default();
            let v = c.call(
                "GET",
                &format!("/api/v1/policy-sets/{}{q}", enc(&name)),
                None,
            )?;
            c.print(&v, |s| {
                let mut out = format!(
                    "policy set {} version {} ({}), by {} at {}\n",
                    field(s, "name"),
                    field(s, "version"),
                    field(s, "kind"),
                    field(s, "created_by"),
                    field(s, "created_at")
                );
                if let Some(f) = s["files"].as_object() {
                    for (k, t) in f {
                        out.push_str(&format!("--- {k}\n{}\n", t.as_str().unwrap_or_default()));
                    }
                }
                out
            });
        }
    }
    Ok(0)
}
