//! `arbiter fix PLAN.json --config DIR [--write]`: the mechanical fixes of a
//! plan's findings as patches of its Terraform configuration.

use anyhow::Context;
use arbiter_fix::{FixOutcome, Patcher};
use arbiter_judge::{Judge, JudgeConfig, PlanInput, StackConfig};
use std::path::PathBuf;

/// Patch the Terraform configuration with the mechanical fixes of a plan's findings.
///
/// Judges the plan as `arbiter evaluate` does, then turns the fix of every
/// finding that has one (`arbiter rules list`, column FIX) into an edit of the
/// resource's block in the configuration: comments and formatting are kept,
/// modules with a local `source` are followed, a `count`/`for_each` block is
/// edited once for all its instances. A value that comes from a variable, a
/// module input or another expression is reported, not guessed. Prints a
/// unified diff on stdout (apply it with `patch -p0` in DIR) and what was done
/// for each finding on stderr; `--write` edits the files instead.
/// Exit code: the decision the change gets with the fixes applied (0 approve,
/// 2 review, 3 reject), 1 error.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  arbiter fix plan.json --config infra/ > fixes.patch && (cd infra && patch -p0 < ../fixes.patch)\n  arbiter fix plan.json --config infra/ --stack prod.toml --write\n  arbiter fix plan.json --config infra/ --format json"
)]
pub struct FixArgs {
    /// Plan JSON from `terraform show -json PLANFILE`.
    pub plan: PathBuf,
    /// The Terraform configuration directory the plan was made from (the root module).
    #[arg(long, value_name = "DIR")]
    pub config: PathBuf,
    /// Write the patched files instead of printing the diff.
    #[arg(long)]
    pub write: bool,
    /// Stack file (TOML), as for `arbiter evaluate`.
    #[arg(long, value_name = "STACK.toml")]
    pub stack: Option<PathBuf>,
    /// Directory or .rego file of your own policies (repeatable), as for `arbiter evaluate`.
    #[arg(long = "policy", short = 'p', value_name = "DIR")]
    pub policies: Vec<PathBuf>,
    /// Environment, overriding the stack file's.
    #[arg(long = "environment", visible_alias = "env", value_name = "ENV")]
    pub environment: Option<String>,
    /// Output: text (diff on stdout, report on stderr) or json (one document on stdout).
    #[arg(long, short = 'f', default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
}

pub fn run(args: FixArgs) -> anyhow::Result<u8> {
    let mut stack = match &args.stack {
        Some(p) => StackConfig::from_file(p).map_err(anyhow::Error::msg)?,
        None => StackConfig::default(),
    };
    if let Some(env) = &args.environment {
        stack.environment = Some(env.clone());
    }
    stack.validate().map_err(anyhow::Error::msg)?;
    if !args.config.is_dir() {
        anyhow::bail!(
            "--config {}: not a directory (give the Terraform root module the plan was made from)",
            args.config.display()
        );
    }
    let input = PlanInput::from_file(&args.plan)
        .with_context(|| format!("reading plan {}", args.plan.display()))?;
    let cfg = JudgeConfig {
        policy_paths: args.policies.clone(),
        only_types: Some(arbiter_judge::plan_types(&input.plan)),
        ..JudgeConfig::default()
    };
    let judge = Judge::new(&cfg).context("loading policies")?;
    let verdict = judge.evaluate(&input, &stack).context("evaluating")?;
    let mut patcher = Patcher::new(&args.config);
    let outcomes = patcher
        .apply_findings(&verdict.findings)
        .context("patching the configuration")?;
    let diff = patcher.diff();
    let written = if args.write {
        patcher.write().context("writing the patched files")?
    } else {
        Vec::new()
    };
    let rel = |p: &std::path::Path| {
        p.strip_prefix(&args.config)
            .unwrap_or(p)
            .display()
            .to_string()
    };
    let decision = verdict
        .counterfactual
        .as_ref()
        .map_or(verdict.decision, |c| c.decision);
    if args.format == "json" {
        let doc = serde_json::json!({
            "decision": verdict.decision,
            "confidence": verdict.confidence,
            "counterfactual": verdict.counterfactual,
            "fixes": outcomes.iter().map(|o| outcome_json(o, &rel)).collect::<Vec<_>>(),
            "diff": diff,
            "written": written.iter().map(|p| rel(p)).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(crate::exit::decision(decision));
    }
    if outcomes.is_empty() {
        eprintln!("No finding of this plan has a mechanical fix.");
    }
    for o in &outcomes {
        eprintln!("{}", outcome_line(o, &rel));
    }
    if args.write {
        for p in &written {
            eprintln!("wrote {}", p.display());
        }
    } else {
        print!("{diff}");
    }
    let by_hand: usize = outcomes.iter().map(|o| o.unlocated.len()).sum();
    if by_hand > 0 {
        eprintln!(
            "{by_hand} fix step(s) could not be patched (NOT PATCHED above): make them by hand for the counterfactual below to hold."
        );
    }
    match &verdict.counterfactual {
        Some(cf) => eprintln!(
            "Now: {} at {:.1}. With the mechanical fixes: {}",
            verdict.decision.as_str(),
            verdict.confidence,
            cf.summary()
        ),
        None => eprintln!(
            "Now: {} at {:.1}.",
            verdict.decision.as_str(),
            verdict.confidence
        ),
    }
    Ok(crate::exit::decision(decision))
}

fn outcome_line(o: &FixOutcome, rel: &dyn Fn(&std::path::Path) -> String) -> String {
    let mut line = format!("{} {}: ", o.rule_id, o.address);
    let file = o.file.as_deref().map(rel).unwrap_or_default();
    let mut parts = Vec::new();
    if !o.applied.is_empty() {
        parts.push(format!("patched {file} ({})", o.applied.join("; ")));
    }
    if !o.already.is_empty() {
        parts.push(format!("already so in {file} ({})", o.already.join("; ")));
    }
    for u in &o.unlocated {
        parts.push(format!("NOT PATCHED: {u}"));
    }
    if o.all_instances && !o.applied.is_empty() {
        parts.push("the block has count/for_each: every instance changes".into());
    }
    line.push_str(&parts.join("; "));
    line
}

fn outcome_json(o: &FixOutcome, rel: &dyn Fn(&std::path::Path) -> String) -> serde_json::Value {
    serde_json::json!({
        "rule_id": o.rule_id,
        "address": o.address,
        "file": o.file.as_deref().map(rel),
        "applied": o.applied,
        "already": o.already,
        "not_patched": o.unlocated.iter().map(|u| u.to_string()).collect::<Vec<_>>(),
        "all_instances": o.all_instances,
    })
}
