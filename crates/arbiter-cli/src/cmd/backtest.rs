//! `arbiter policy backtest`: how a candidate policy set, threshold or stack
//! configuration would have decided past changes.
//!
//! On the server (`POST /api/v1/backtests`, the default): over the stored
//! change requests of a window, which never leave the server. Offline
//! (`--plans DIR`): over a directory of plans, against the same judge with
//! the baseline policies, and against the labels of its `expected.tsv` (the
//! format of `arbiter calibrate`) when it has one. Both produce the same
//! report ([`arbiter_api::BacktestReport`]), counted by the same code.
//!
//! Also the confirmation step of `arbiter policy-set push --backtest`.

use crate::cmd::calibrate::{self, Expectation};
use crate::cmd::client::{parse_duration, Client, ServerArgs};
use crate::output::emit;
use anyhow::{bail, Context};
use arbiter_api::{
    BacktestItem, BacktestReport, BacktestRequest, CandidateSummary, DecisionChange, PeopleDecision,
};
use arbiter_judge::{Judge, JudgeConfig, PlanInput, StackConfig};
use arbiter_verdict::{ChangeRelation, Decision, Effect, Verdict};
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Arguments of `policy backtest`.
#[derive(clap::Args)]
#[command(after_help = "\
On the server (default): the candidate is sent to POST /api/v1/backtests (reviewer or admin)
and replayed over the stored change requests of the window; only the report comes back.
  --replaces NAME   the candidate stands in for policy set NAME: only stacks using NAME are
                    replayed. Without it the candidate is evaluated with every stack's sets.

Offline (--plans DIR): every NAME.plan.json of DIR (with NAME.stack.toml beside it when
present), or the rows of DIR/expected.tsv (as for `arbiter calibrate`; its labels stand for
what people decided: approve = approved, escalate/reject = rejected). The decision before is
the judge's with --baseline-policy (default: the built-in rules only).

--stack-config FILE is a stack file (as for `arbiter evaluate --stack`): the keys it sets
(auto_apply_threshold, monthly_budget_usd, environment, escalate_introduced_at, labels,
[rules], waivers) override each replayed stack's; its `name`, if any, selects that stack.

Exit code: 0; 3 when the candidate would auto-approve a change people rejected; 1 on error.

Examples:
  arbiter policy backtest --policy policies/ --replaces guard --since 30d
  arbiter policy backtest --stack-config strict.toml --stack payments --format json
  arbiter policy backtest --policy policies/ --plans tests/scenarios")]
pub struct BacktestArgs {
    /// Directory or .rego file of the candidate policies (repeatable).
    #[arg(long = "policy", short = 'p', value_name = "DIR")]
    pub policies: Vec<PathBuf>,
    /// A candidate stack file whose keys override each stack's.
    #[arg(long, value_name = "FILE")]
    pub stack_config: Option<PathBuf>,
    /// Change requests of the last DURATION (server; 30d by default, at most 366d).
    #[arg(long, default_value = "30d", value_parser = parse_duration, value_name = "DURATION")]
    pub since: std::time::Duration,
    /// Only this stack (server).
    #[arg(long, value_name = "NAME")]
    pub stack: Option<String>,
    /// The policy set the candidate stands in for (server).
    #[arg(long, value_name = "NAME")]
    pub replaces: Option<String>,
    /// At most this many change requests, newest first (server).
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Offline: a directory of plans instead of the server's change requests.
    #[arg(long, value_name = "DIR")]
    pub plans: Option<PathBuf>,
    /// Offline: the policies the decisions before are judged with (repeatable).
    #[arg(long = "baseline-policy", value_name = "DIR", requires = "plans")]
    pub baseline: Vec<PathBuf>,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value = "text")]
    pub format: BacktestFormat,
    /// Write the report to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Output formats of `policy backtest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BacktestFormat {
    /// Tables for a terminal.
    Text,
    /// The report as JSON (`"format": "arbiter-backtest/1"`).
    Json,
}

/// Runs `policy backtest`.
pub fn run(args: BacktestArgs) -> anyhow::Result<u8> {
    if args.policies.is_empty() && args.stack_config.is_none() {
        bail!("nothing to backtest: give candidate policies (--policy DIR), a stack file (--stack-config FILE), or both");
    }
    let report = match &args.plans {
        Some(dir) => {
            for (flag, set) in [
                ("--stack", args.stack.is_some()),
                ("--replaces", args.replaces.is_some()),
                ("--limit", args.limit.is_some()),
            ] {
                if set {
                    bail!("{flag} applies to the server's change requests, not to --plans");
                }
            }
            offline(&args, dir)?
        }
        None => {
            let mut files = std::collections::BTreeMap::new();
            for p in &args.policies {
                let mut these = std::collections::BTreeMap::new();
                crate::cmd::remote::collect_files(p, p, &mut these)?;
                if these.is_empty() {
                    bail!("{} has no .rego, data.json or data.yaml files", p.display());
                }
                for (k, v) in these {
                    if files.insert(k.clone(), v).is_some() {
                        bail!("two candidate files are named {k:?} (from different --policy directories)");
                    }
                }
            }
            let stack_config = args
                .stack_config
                .as_ref()
                .map(|p| {
                    // Checked here for a message naming the file; the
                    // server checks it again.
                    StackConfig::from_file(p).map_err(anyhow::Error::msg)?;
                    std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))
                })
                .transpose()?;
            let req = BacktestRequest {
                files,
                replaces: args.replaces.clone(),
                stack_config,
                stack: args.stack.clone(),
                since_seconds: Some(args.since.as_secs().max(1)),
                limit: args.limit,
            };
            let c = Client::new(&args.server, None)?;
            remote(&c, &req)?
        }
    };
    let json = args.format == BacktestFormat::Json || args.server.json;
    let text = if json {
        let mut s = serde_json::to_string_pretty(&report).context("serialising the report")?;
        s.push('\n');
        s
    } else {
        render_text(&report)
    };
    emit(&text, args.output.as_deref())?;
    Ok(exit_code(&report))
}

/// 3 when the candidate would auto-approve a change people rejected.
pub fn exit_code(r: &BacktestReport) -> u8 {
    crate::exit::decision(if r.people.auto_approved_but_rejected > 0 {
        Decision::Reject
    } else {
        Decision::Approve
    })
}

/// Asks the server.
pub fn remote(c: &Client, req: &BacktestRequest) -> anyhow::Result<BacktestReport> {
    Ok(
        c.call_with::<_, BacktestReport>("POST", "/api/v1/backtests", req)?
            .data,
    )
}

/// One plan of the offline corpus.
struct OfflinePlan {
    path: PathBuf,
    stack: StackConfig,
    people: Option<PeopleDecision>,
    /// `FILE:LINE` of its expected.tsv row, or the plan's path.
    at: String,
}

/// The plans of `dir`: the rows of its expected.tsv files (as `arbiter
/// calibrate` reads them) when it has any, else every `*.plan.json`.
fn corpus(dir: &Path) -> anyhow::Result<Vec<OfflinePlan>> {
    if !dir.is_dir() {
        bail!("{}: not a directory", dir.display());
    }
    let mut dirs = Vec::new();
    calibrate::find_dirs(dir, &mut dirs)?;
    let mut out = Vec::new();
    if !dirs.is_empty() {
        for d in &dirs {
            for row in calibrate::read_rows(d)? {
                out.push(OfflinePlan {
                    path: row.dir.join(format!("{}.plan.json", row.name)),
                    stack: calibrate::stack_of(&row)?,
                    people: Some(match row.expect {
                        Expectation::Approve => PeopleDecision::Approved,
                        Expectation::Escalate | Expectation::Reject => PeopleDecision::Rejected,
                    }),
                    at: row.at.clone(),
                });
            }
        }
        return Ok(out);
    }
    let mut plans: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(".plan.json"))
        })
        .collect();
    plans.sort();
    if plans.is_empty() {
        bail!(
            "{}: no expected.tsv and no NAME.plan.json files",
            dir.display()
        );
    }
    for path in plans {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .trim_end_matches(".plan.json")
            .to_string();
        let stack_file = dir.join(format!("{name}.stack.toml"));
        let stack = if stack_file.exists() {
            StackConfig::from_file(&stack_file).map_err(anyhow::Error::msg)?
        } else {
            StackConfig {
                name: Some(name),
                ..StackConfig::default()
            }
        };
        out.push(OfflinePlan {
            at: path.display().to_string(),
            path,
            stack,
            people: None,
        });
    }
    Ok(out)
}

/// The rules that hold or reject a verdict (at most five).
fn reasons(v: &Verdict) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for f in &v.findings {
        let holds = (matches!(f.effect, Effect::Deny | Effect::Escalate)
            && f.relation != ChangeRelation::Fixed
            && f.waiver.is_none())
            || f.held_by_floor;
        if holds && !out.contains(&f.rule_id) {
            out.push(f.rule_id.clone());
            if out.len() == 5 {
                break;
            }
        }
    }
    out
}

fn offline(args: &BacktestArgs, dir: &Path) -> anyhow::Result<BacktestReport> {
    let started = std::time::Instant::now();
    let candidate_stack = args
        .stack_config
        .as_ref()
        .map(|p| StackConfig::from_file(p).map_err(anyhow::Error::msg))
        .transpose()?;
    let mut plans = corpus(dir)?;
    if let Some(name) = candidate_stack.as_ref().and_then(|s| s.name.clone()) {
        plans.retain(|p| p.stack.name.as_deref() == Some(name.as_str()));
    }
    let baseline = Judge::new(&JudgeConfig {
        policy_paths: args.baseline.clone(),
        ..JudgeConfig::default()
    })
    .context("loading the baseline policies")?;
    let candidate = Judge::new(&JudgeConfig {
        policy_paths: args.policies.clone(),
        ..JudgeConfig::default()
    })
    .context("loading the candidate policies")?;
    let judge_one = |p: &OfflinePlan| -> anyhow::Result<BacktestItem> {
        let input = PlanInput::from_file(&p.path)
            .with_context(|| format!("{}: reading plan {}", p.at, p.path.display()))?;
        let before = baseline
            .evaluate_without_counterfactual(&input, &p.stack)
            .with_context(|| {
                format!(
                    "{}: evaluating {} with the baseline",
                    p.at,
                    p.path.display()
                )
            })?;
        let cstack = match &candidate_stack {
            Some(c) => p.stack.overlay(c),
            None => p.stack.clone(),
        };
        let (after, error) = match candidate.evaluate_without_counterfactual(&input, &cstack) {
            Ok(v) => (Some(v), None),
            Err(e) => (None, Some(e.to_string())),
        };
        Ok(BacktestItem {
            id: None,
            plan: Some(p.path.display().to_string()),
            stack: p.stack.name.clone().unwrap_or_else(|| "(unnamed)".into()),
            before: before.decision,
            before_confidence: Some(before.confidence),
            after: after.as_ref().map(|v| v.decision),
            after_confidence: after.as_ref().map(|v| v.confidence),
            change: after.as_ref().map_or(DecisionChange::Failed, |v| {
                DecisionChange::between(before.decision, v.decision)
            }),
            people: p.people,
            reasons: after.as_ref().map(reasons).unwrap_or_default(),
            error,
        })
    };
    // The plans on every core; the report keeps their order.
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(plans.len().max(1));
    let chunk = plans.len().div_ceil(threads).max(1);
    let results: Vec<anyhow::Result<BacktestItem>> = std::thread::scope(|s| {
        let handles: Vec<_> = plans
            .chunks(chunk)
            .map(|c| s.spawn(|| c.iter().map(judge_one).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|_| vec![Err(anyhow::anyhow!("a judging thread failed"))])
            })
            .collect()
    });
    let items = results.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
    let mut report = BacktestReport::summarize(
        CandidateSummary {
            policy_files: policy_files(&args.policies)?,
            policy_digest: None,
            replaces: None,
            stack_config: candidate_stack.is_some(),
        },
        items,
    );
    report.seconds = (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
    Ok(report)
}

/// How many policy files the candidate directories hold.
fn policy_files(paths: &[PathBuf]) -> anyhow::Result<usize> {
    let mut n = 0;
    for p in paths {
        let mut files = std::collections::BTreeMap::new();
        crate::cmd::remote::collect_files(p, p, &mut files)?;
        n += files.len();
    }
    Ok(n)
}

fn decision_name(d: Option<Decision>) -> &'static str {
    d.map_or("error", Decision::as_str)
}

fn table(out: &mut String, headers: &[&str], rows: &[Vec<String>]) {
    let mut w: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(x) = w.get_mut(i) {
                *x = (*x).max(c.chars().count());
            }
        }
    }
    let mut line = |cells: Vec<&str>| {
        let mut s = String::from(" ");
        for (i, c) in cells.iter().enumerate() {
            let pad = w.get(i).copied().unwrap_or(0);
            let _ = write!(s, " {c:<pad$}");
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(headers.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
}

/// The report for a terminal.
pub fn render_text(r: &BacktestReport) -> String {
    let mut o = String::new();
    let c = &r.candidate;
    let mut what = Vec::new();
    if c.policy_files > 0 {
        let mut s = format!("{} policy file(s)", c.policy_files);
        if let Some(n) = &c.replaces {
            let _ = write!(s, " in place of policy set {n}");
        }
        what.push(s);
    }
    if c.stack_config {
        what.push("a stack configuration".into());
    }
    let _ = writeln!(o, "Backtest of {}", what.join(" and "));
    if let Some(d) = &c.policy_digest {
        let _ = writeln!(o, "candidate digest: {d}");
    }
    if let (Some(s), Some(u)) = (&r.since, &r.until) {
        let _ = writeln!(o, "window: {s} to {u}");
    }
    let _ = write!(
        o,
        "replayed {} of {} in {:.2} s",
        r.totals.replayed, r.considered, r.seconds
    );
    if r.skipped > 0 {
        let _ = write!(
            o,
            " ({} skipped: stack gone or not using the replaced set)",
            r.skipped
        );
    }
    o.push('\n');
    if let Some(why) = &r.incomplete {
        let _ = writeln!(o, "INCOMPLETE: {why}");
    }
    let t = &r.totals;
    let _ = writeln!(o, "\nDecisions");
    table(
        &mut o,
        &["", "count"],
        &[
            vec!["newly rejected".into(), t.newly_rejected.to_string()],
            vec![
                "newly sent to review".into(),
                t.newly_sent_to_review.to_string(),
            ],
            vec!["newly approved".into(), t.newly_approved.to_string()],
            vec!["failed (errors)".into(), t.failed.to_string()],
            vec!["unchanged".into(), t.unchanged.to_string()],
        ],
    );
    let changed: Vec<&arbiter_api::StackCounts> =
        r.stacks.iter().filter(|s| s.counts.changed() > 0).collect();
    let _ = writeln!(
        o,
        "\nPer stack ({} of {} with changes)",
        changed.len(),
        r.stacks.len()
    );
    if !changed.is_empty() {
        let rows: Vec<Vec<String>> = changed
            .iter()
            .map(|s| {
                let k = &s.counts;
                vec![
                    s.stack.clone(),
                    k.replayed.to_string(),
                    k.newly_rejected.to_string(),
                    k.newly_sent_to_review.to_string(),
                    k.newly_approved.to_string(),
                    k.failed.to_string(),
                    k.unchanged.to_string(),
                ]
            })
            .collect();
        table(
            &mut o,
            &[
                "stack",
                "replayed",
                "->reject",
                "->review",
                "->approve",
                "failed",
                "unchanged",
            ],
            &rows,
        );
    }
    let p = &r.people;
    let _ = writeln!(
        o,
        "\nAgainst what people decided ({} decided: {} approved, {} rejected)",
        p.decided, p.approved, p.rejected
    );
    let list = |l: &[String], n: usize| {
        if l.is_empty() {
            String::new()
        } else {
            let more = if n > l.len() { ", ..." } else { "" };
            format!(": {}{more}", l.join(", "))
        }
    };
    let _ = writeln!(
        o,
        "  would auto-approve what people rejected: {}{}",
        p.auto_approved_but_rejected,
        list(
            &p.auto_approved_but_rejected_list,
            p.auto_approved_but_rejected
        )
    );
    let _ = writeln!(
        o,
        "  would hold what people approved:         {}{}",
        p.held_but_approved,
        list(&p.held_but_approved_list, p.held_but_approved)
    );
    if !r.changes.is_empty() {
        let _ = writeln!(o, "\nChanges");
        let rows: Vec<Vec<String>> = r
            .changes
            .iter()
            .map(|i| {
                let conf = |c: Option<f64>| c.map_or("-".into(), |c| format!("{c:.1}"));
                vec![
                    i.label(),
                    i.stack.clone(),
                    format!("{} -> {}", i.before.as_str(), decision_name(i.after)),
                    format!(
                        "{} -> {}",
                        conf(i.before_confidence),
                        conf(i.after_confidence)
                    ),
                    match i.people {
                        Some(PeopleDecision::Approved) => "approved".into(),
                        Some(PeopleDecision::Rejected) => "rejected".into(),
                        None => "-".into(),
                    },
                    match &i.error {
                        Some(e) => e.clone(),
                        None => i.reasons.join(", "),
                    },
                ]
            })
            .collect();
        table(
            &mut o,
            &["change", "stack", "decision", "confidence", "people", "why"],
            &rows,
        );
        if !r.changes_complete {
            let _ = writeln!(
                o,
                "  (the first {} changes are listed; the counts cover all)",
                r.changes.len()
            );
        }
    }
    o
}

/// `policy-set push --backtest`: the report before the push, then the
/// go-ahead: `--yes`, or a question on a terminal; never a question when
/// stdin is not a terminal (CI): that fails, asking for `--yes`.
pub fn confirm_push(
    c: &Client,
    name: &str,
    files: &std::collections::BTreeMap<String, String>,
    since: std::time::Duration,
    yes: bool,
) -> anyhow::Result<BacktestReport> {
    let req = BacktestRequest {
        files: files.clone(),
        replaces: Some(name.to_string()),
        since_seconds: Some(since.as_secs().max(1)),
        ..BacktestRequest::default()
    };
    let report = remote(c, &req)?;
    if c.json {
        eprint!("{}", render_text(&report));
    } else {
        print!("{}", render_text(&report));
    }
    if yes {
        return Ok(report);
    }
    if !std::io::stdin().is_terminal() {
        bail!("policy set {name:?} not pushed: confirm with --yes (stdin is not a terminal, so the question cannot be asked)");
    }
    eprint!("Push policy set {name:?} now? [y/N] ");
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .context("reading the answer")?;
    if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        bail!("policy set {name:?} not pushed");
    }
    Ok(report)
}
