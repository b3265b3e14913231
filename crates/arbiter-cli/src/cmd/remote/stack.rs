//! `arbiter stack`: stacks on the server.

use super::*;
use arbiter_api::{Stack, StackSpec, StackUpdate};
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
    pub environment: arbiter_api::Environment,
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
    pub environment: Option<arbiter_api::Environment>,
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

fn stack_summary(s: &Stack) -> String {
    let spec = &s.spec;
    let mut out = format!(
        "{} ({}), version {}\n",
        spec.name, spec.environment, s.version
    );
    out.push_str(&format!("  labels: {}\n", js(&spec.labels)));
    out.push_str(&format!(
        "  budget: {}  threshold: {}  auto-apply: {}\n",
        dash(spec.monthly_budget_usd.as_ref()),
        dash(spec.auto_apply_threshold.as_ref()),
        spec.auto_apply
    ));
    out.push_str(&format!(
        "  policy sets: {}  approval policy: {}\n",
        js(&spec.policy_sets),
        dash(spec.approval_policy.as_ref())
    ));
    out.push_str(&format!(
        "  holds introduced weaknesses from: {}\n",
        match &spec.escalate_introduced_at {
            Some(f) => f.to_string(),
            None => "the environment's default".into(),
        }
    ));
    if let Some(e) = &s.expires_at {
        out.push_str(&format!("  expires: {e}\n"));
    }
    out
}

/// Runs a stack command.
pub fn stack(cmd: StackCommand, server: &ServerArgs) -> Result<u8> {
    let c = Client::new(server, None)?;
    match cmd {
        StackCommand::Create(a) => {
            let ttl_seconds = a
                .ttl
                .map(|d| i64::try_from(d.as_secs()))
                .transpose()
                .context("--ttl is too long")?;
            let body = StackSpec {
                name: a.name,
                environment: a.environment,
                labels: a.labels,
                monthly_budget_usd: a.budget,
                auto_apply_threshold: a.threshold,
                auto_apply: a.auto_apply,
                policy_sets: a.policy_sets,
                approval_policy: a.approval_policy,
                ttl_seconds,
                escalate_introduced_at: a.escalate_introduced_at,
                runs: a.runs_file.as_deref().map(runs_file).transpose()?,
            };
            let r = c.call_with::<_, Stack>("POST", "/api/v1/stacks", &body)?;
            c.print(&r, |s| format!("created stack {}\n", stack_summary(s)));
        }
        StackCommand::List => {
            let r = c.get::<Page<Stack>>("/api/v1/stacks")?;
            c.print(&r, |v| {
                table(
                    &["NAME", "ENV", "BUDGET", "THRESHOLD", "AUTO-APPLY", "LABELS"],
                    v.items
                        .iter()
                        .map(|s| {
                            let spec = &s.spec;
                            vec![
                                spec.name.clone(),
                                spec.environment.to_string(),
                                dash(spec.monthly_budget_usd.as_ref()),
                                dash(spec.auto_apply_threshold.as_ref()),
                                spec.auto_apply.to_string(),
                                spec.labels.join(","),
                            ]
                        })
                        .collect(),
                )
            });
        }
        StackCommand::Show { name } => {
            let r = c.get::<Stack>(&format!("/api/v1/stacks/{}", enc(&name)))?;
            c.print(&r, stack_summary);
        }
        StackCommand::Update(a) => {
            let body = StackUpdate {
                environment: a.environment,
                labels: a.labels,
                monthly_budget_usd: a.budget.map(Some),
                auto_apply_threshold: a.threshold.map(Some),
                auto_apply: a.auto_apply,
                policy_sets: a.policy_sets,
                escalate_introduced_at: a
                    .escalate_introduced_at
                    .map(|f| (f != "default").then_some(f)),
                runs: a
                    .runs_file
                    .as_deref()
                    .map(|p| runs_file(p).map(Some))
                    .transpose()?,
                if_version: a.if_version,
                ..StackUpdate::default()
            };
            if body == StackUpdate::default() {
                bail!("nothing to change: give at least one option (see --help)");
            }
            let r = c.call_with::<_, Stack>(
                "PATCH",
                &format!("/api/v1/stacks/{}", enc(&a.name)),
                &body,
            )?;
            c.print(&r, |s| format!("updated stack {}\n", stack_summary(s)));
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
