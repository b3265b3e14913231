//! `arbiter evaluate PLAN.json`.

use crate::output::{emit, ColorChoice};
use anyhow::Context;
use arbiter_judge::{Judge, JudgeConfig, PlanInput, StackConfig};
use arbiter_report::{render, Format, RenderOptions};
use std::path::PathBuf;
use std::time::Instant;

/// Judge a Terraform/OpenTofu plan offline.
///
/// Reads the JSON printed by `terraform show -json PLANFILE` (or `tofu show
/// -json`), in UTF-8 or UTF-16, and prints the decision, the confidence score
/// (0–100) and every finding with its resource address, evidence and remedy.
/// Exit code: 0 approve, 2 review, 3 reject, 1 error.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  arbiter evaluate plan.json\n  arbiter evaluate plan.json --stack prod.toml --policy policies/ --format markdown > comment.md\n  arbiter evaluate plan.json --format sarif --output arbiter.sarif\n\n\
STACK.toml keys (all optional): name, environment (prod|staging|dev|ephemeral), labels = [..],\n\
monthly_budget_usd, auto_apply_threshold (default 95), and [rules] disable = [IDs],\n\
[rules.severity] ID = \"low\", [rules.effect] ID = \"warn\"."
)]
pub struct EvaluateArgs {
    /// Plan JSON from `terraform show -json PLANFILE`.
    pub plan: PathBuf,
    /// Stack file (TOML) giving environment, budget, threshold and rule overrides.
    #[arg(long, value_name = "STACK.toml")]
    pub stack: Option<PathBuf>,
    /// Directory or .rego file of your own policies (repeatable). `package main`
    /// gets the plan as input (conftest style), `package spacelift` gets
    /// {spacelift, terraform} (Spacelift style); `package arbiter.rules.*`
    /// replaces the built-in rule of the same package.
    #[arg(long = "policy", short = 'p', value_name = "DIR")]
    pub policies: Vec<PathBuf>,
    /// Conftest-style package to evaluate instead of `main` (repeatable), e.g.
    /// `--namespace terraform.aws`.
    #[arg(long = "namespace", value_name = "PACKAGE")]
    pub namespaces: Vec<String>,
    /// Output format: text (terminal), json (the machine contract), sarif
    /// (GitHub code scanning), markdown (a PR comment).
    #[arg(long, short = 'f', default_value = "text", value_parser = parse_format)]
    pub format: Format,
    /// Write the report to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Environment, overriding the stack file's.
    #[arg(long = "environment", visible_alias = "env", value_name = "ENV")]
    pub environment: Option<String>,
    /// Confidence needed for approval (0–100), overriding the stack file's.
    #[arg(long, value_name = "N")]
    pub threshold: Option<f64>,
    /// Disable a built-in rule by ID (repeatable).
    #[arg(long = "disable-rule", value_name = "ID")]
    pub disable_rules: Vec<String>,
    /// Do not run the built-in rule pack (only your policies and the critics).
    #[arg(long)]
    pub no_builtin_rules: bool,
    /// Time budget of the policy evaluation (built-in rules and --policy
    /// files); a policy that exceeds it is an error, never an approval.
    #[arg(long, default_value = "10s", value_parser = crate::cmd::client::parse_duration, value_name = "DURATION")]
    pub policy_timeout: std::time::Duration,
    /// Colour in text output.
    #[arg(long, value_enum, default_value = "auto")]
    pub color: ColorChoice,
    /// Print timings of each phase to stderr.
    #[arg(long, short = 'v')]
    pub verbose: bool,
    #[command(flatten)]
    pub cost: crate::cmd::cost::CostOptions,
}

/// Plans smaller than this are read before compiling policies (see `run`).
const SMALL_PLAN_BYTES: u64 = 512 * 1024;

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse::<Format>()
        .map_err(|_| format!("unknown format {s:?}; use text, json, sarif or markdown"))
}

pub fn run(args: EvaluateArgs) -> anyhow::Result<u8> {
    let t0 = Instant::now();
    let mut stack = match &args.stack {
        Some(p) => StackConfig::from_file(p).map_err(anyhow::Error::msg)?,
        None => StackConfig::default(),
    };
    if let Some(env) = &args.environment {
        stack.environment = Some(env.clone());
    }
    if let Some(t) = args.threshold {
        stack.auto_apply_threshold = Some(t);
    }
    stack
        .rules
        .disable
        .extend(args.disable_rules.iter().cloned());
    stack.validate().map_err(anyhow::Error::msg)?;

    let mut cfg = JudgeConfig {
        policy_paths: args.policies.clone(),
        namespaces: args.namespaces.clone(),
        no_builtin_rules: args.no_builtin_rules,
        only_types: None,
        files: None,
        limits: arbiter_policy::Limits::with_timeout(args.policy_timeout),
    };
    // Small plans (most agent changes): read first, then compile only the
    // rules for the plan's resource types. Large plans: compile every rule
    // on the other core while the plan is read.
    let small = std::fs::metadata(&args.plan)
        .map(|m| m.len() < SMALL_PLAN_BYTES)
        .unwrap_or(false);
    let (judge, input) = if small {
        let input = PlanInput::from_file(&args.plan)
            .with_context(|| format!("reading plan {}", args.plan.display()))?;
        cfg.only_types = Some(arbiter_judge::plan_types(&input.plan));
        (Judge::new(&cfg), Ok(input))
    } else {
        std::thread::scope(|s| {
            let h = s.spawn(|| Judge::new(&cfg));
            let input = PlanInput::from_file(&args.plan);
            let judge = h.join().unwrap_or_else(|_| {
                Err(arbiter_judge::JudgeError::Stack(
                    "policy loading crashed".into(),
                ))
            });
            (judge, input)
        })
    };
    let input = input.with_context(|| format!("reading plan {}", args.plan.display()))?;
    let judge = judge.context("loading policies")?;
    let judge = if args.cost.is_default() {
        judge
    } else {
        judge.with_cost_engine(args.cost.engine()?)
    };
    let t_read = t0.elapsed();
    let (verdict, phases) = judge.evaluate_timed(&input, &stack).context("evaluating")?;
    let t_eval = t0.elapsed();
    let opts = RenderOptions {
        color: args.format == Format::Text && args.output.is_none() && args.color.enabled(),
        plan_path: Some(args.plan.display().to_string()),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        max_findings: None,
    };
    let text = render(&verdict, args.format, &opts);
    emit(&text, args.output.as_deref())?;
    for w in &verdict.warnings {
        eprintln!("warning: {w}");
    }
    if args.verbose {
        let p: Vec<String> = phases
            .iter()
            .map(|(n, ms)| format!("{n} {ms:.1}"))
            .collect();
        eprintln!("evaluate phases (cumulative ms): {}", p.join(", "));
        eprintln!(
            "timings: read+compile {:.1} ms, evaluate {:.1} ms, render {:.1} ms; {} resource changes",
            t_read.as_secs_f64() * 1e3,
            (t_eval - t_read).as_secs_f64() * 1e3,
            (t0.elapsed() - t_eval).as_secs_f64() * 1e3,
            input.plan.resource_changes.len()
        );
    }
    let code = crate::exit::decision(verdict.decision);
    // The process ends here: freeing tens of megabytes of plan, policy engine
    // and verdict piece by piece would only cost time.
    std::mem::forget((input, judge, verdict));
    Ok(code)
}
