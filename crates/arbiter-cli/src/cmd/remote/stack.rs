//! `arbiter stack`: stacks on the server.

use super::*;
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
    /// How runs apply the stack's changes: a TOML file with the `runs`
    /// settings (tool, tool_path, pool, [timeouts], secret_env, [secret_files],
    /// [verification]); names of secrets only, never values.
    #[arg(long, value_name = "FILE")]
    pub runs_file: Option<PathBuf>,
}

/// Reads a `--runs-file` (TOML) into the API's run settings, checked.
fn runs_file(p: &std::path::Path) -> Result<arbiter_api::runs::StackRuns> {
    let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
    let r: arbiter_api::runs::StackRuns =
        toml::from_str(&text).with_context(|| format!("reading {}", p.display()))?;
    r.check()
        .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
    Ok(r)
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
    /// New run settings from a TOML file (see `stack create --runs-file`).
    #[arg(long, value_name = "FILE")]
    pub runs_file: Option<PathBuf>,
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
            let mut body = body;
            if let Some(p) = &a.runs_file {
                body["runs"] = serde_json::to_value(runs_file(p)?)?;
            }
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
            if let Some(p) = &a.runs_file {
                body.insert("runs".into(), serde_json::to_value(runs_file(p)?)?);
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
