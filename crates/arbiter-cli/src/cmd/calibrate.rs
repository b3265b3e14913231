//! `arbiter calibrate DIR...`: measure the judge against labelled plans.
//!
//! Every plan listed in a directory's `expected.tsv` is judged with the same
//! library judge as `arbiter evaluate`; the outcomes are compared with the
//! labels and summed up as a confusion table, the automation rate, the risky
//! changes that would have been applied, and per environment the lowest
//! approval threshold that would have approved none of them.

use crate::output::emit;
use anyhow::{bail, Context};
use arbiter_judge::{Judge, JudgeConfig, PlanInput, StackConfig};
use arbiter_verdict::{ChangeRelation, Decision, Effect, Verdict};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What `arbiter calibrate --help` teaches first.
pub const LONG_ABOUT: &str = "\
Measure the judge on labelled plans before letting agents apply changes on their own.

A platform team collects plans it has judged by hand: routine changes that should go \
through, risky ones a person must see, blatant ones that must be refused. It labels them \
in an expected.tsv beside the plans and stack files and runs `arbiter calibrate` on the \
directory, with the same --policy directories as in production. The report shows how the \
current rules, stack files and thresholds treat them: a confusion table (expected \
approve/escalate/reject against got approve/review/reject), the automation rate (routine \
plans approved), the risky plans that would have been auto-applied (must be none), the \
blatant ones rejected, the findings that decided each miss, and per environment the \
lowest auto_apply_threshold at which no risky plan is approved, with the routine \
automation it leaves. A risky plan with no rule finding at all cannot be held by any \
threshold without holding routine changes of the same size: it needs a rule (or a \
policy of yours). Run it in CI on the corpus so that a rule, weight or threshold change \
that lets a risky change through fails the build.";

/// Arguments of `calibrate` (its help text is [`LONG_ABOUT`]).
#[derive(clap::Args)]
#[command(after_help = "\
Layout of a directory (subdirectories with their own expected.tsv are included):
  expected.tsv        tab-separated, with a header line:
                        name  expect  [environment  monthly_budget_usd]
                      expect: approve | escalate (anything but approve; `review` is a
                      synonym) | reject. environment and budget are informational when
                      the stack file exists (they must agree with it) and build the
                      stack when it does not.
  NAME.plan.json      terraform show -json output
  NAME.stack.toml     the stack it is judged against (as for `arbiter evaluate --stack`)

Exit code: 0 when no risky plan is approved and every `reject` plan is rejected;
3 otherwise (like a rejection); 1 on error.

Examples:
  arbiter calibrate tests/scenarios tests/scenarios-extra
  arbiter calibrate corpus/ --policy policies/ --format markdown > calibration.md
  arbiter calibrate corpus/ --format json | jq '.thresholds'")]
pub struct CalibrateArgs {
    /// Directories holding expected.tsv, NAME.plan.json and NAME.stack.toml.
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Directory or .rego file of your own policies (repeatable), as for
    /// `arbiter evaluate --policy`.
    #[arg(long = "policy", short = 'p', value_name = "DIR")]
    pub policies: Vec<PathBuf>,
    /// Output format: text (aligned tables), json (see README, "Calibrating
    /// thresholds") or markdown.
    #[arg(long, short = 'f', value_enum, default_value = "text")]
    pub format: CalibrateFormat,
    /// Write the report to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Output formats of `calibrate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CalibrateFormat {
    /// Aligned tables for a terminal.
    Text,
    /// The machine contract (`"format": "arbiter-calibration/1"`).
    Json,
    /// Tables for a pull request or a wiki page.
    Markdown,
}

/// What a labelled plan should get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Expectation {
    /// Routine: must be approved.
    Approve,
    /// Risky: anything but approve.
    Escalate,
    /// Blatant: must be rejected.
    Reject,
}

impl Expectation {
    const ALL: [Expectation; 3] = [
        Expectation::Approve,
        Expectation::Escalate,
        Expectation::Reject,
    ];

    pub(crate) fn parse(s: &str) -> Option<Expectation> {
        match s.trim().to_ascii_lowercase().as_str() {
            "approve" => Some(Expectation::Approve),
            "escalate" | "review" => Some(Expectation::Escalate),
            "reject" => Some(Expectation::Reject),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Expectation::Approve => "approve",
            Expectation::Escalate => "escalate",
            Expectation::Reject => "reject",
        }
    }

    /// Whether `decision` meets the expectation.
    fn met_by(self, decision: Decision) -> bool {
        match self {
            Expectation::Approve => decision == Decision::Approve,
            Expectation::Escalate => decision != Decision::Approve,
            Expectation::Reject => decision == Decision::Reject,
        }
    }
}

/// One labelled plan, as read from expected.tsv.
pub(crate) struct Row {
    /// Directory of the expected.tsv.
    pub(crate) dir: PathBuf,
    pub(crate) name: String,
    pub(crate) expect: Expectation,
    environment: Option<String>,
    budget: Option<f64>,
    /// `FILE:LINE` of the row, for messages.
    pub(crate) at: String,
}

const DECISIONS: [Decision; 3] = [Decision::Approve, Decision::Review, Decision::Reject];

/// The findings that decided a verdict, in the report.
#[derive(Debug, Clone, Serialize)]
pub struct DecidingFinding {
    pub rule_id: String,
    /// `builtin`, your policy's source, or `critic:NAME`.
    pub source: String,
    pub severity: String,
    pub effect: String,
    pub relation: String,
    /// Confidence points the finding cost.
    pub points: f64,
    pub address: Option<String>,
}

/// One judged plan.
#[derive(Debug, Clone, Serialize)]
pub struct PlanResult {
    /// `DIR/NAME` as given on the command line.
    pub plan: String,
    pub expected: Expectation,
    pub got: Decision,
    pub confidence: f64,
    /// The approval threshold the stack used.
    pub threshold: f64,
    /// The stack's environment, `unknown` when it has none.
    pub environment: String,
    /// Not approved at any threshold: a deny or escalate finding (or the
    /// judge's floor for introduced weaknesses) holds it whatever the score.
    pub held_by_findings: bool,
    /// Some rule (built-in or yours), not only a critic's points, saw
    /// something that is not `info`.
    pub rule_findings: bool,
    /// Deny/escalate findings and those that cost points, most important
    /// first (at most five).
    pub findings: Vec<DecidingFinding>,
}

impl PlanResult {
    fn ok(&self) -> bool {
        self.expected.met_by(self.got)
    }
}

/// A risky plan that only its score keeps out (or lets in).
#[derive(Debug, Clone, Serialize)]
pub struct ScoreOnlyRisky {
    pub plan: String,
    pub confidence: f64,
    pub rule_findings: bool,
    pub reason: String,
}

/// The threshold study of one environment.
#[derive(Debug, Clone, Serialize)]
pub struct EnvThreshold {
    pub environment: String,
    /// The threshold its stacks use now (`null` when they differ).
    pub current: Option<f64>,
    pub plans: usize,
    pub routine: usize,
    pub routine_approved_now: usize,
    pub risky: usize,
    pub risky_approved_now: usize,
    /// Risky plans held whatever the threshold (deny/escalate/floor).
    pub risky_held_by_findings: usize,
    /// The lowest threshold at which no risky plan of this environment is
    /// approved (`null` when no threshold up to 100 does it).
    pub lowest_safe_threshold: Option<f64>,
    /// Routine plans approved at that threshold.
    pub routine_approved_at_lowest: usize,
    /// Risky plans that only the threshold can hold, highest score first.
    pub score_only_risky: Vec<ScoreOnlyRisky>,
    pub note: String,
}

/// Counts of a confusion-table row: got approve / review / reject.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Got {
    pub approve: usize,
    pub review: usize,
    pub reject: usize,
}

impl Got {
    fn add(&mut self, d: Decision) {
        match d {
            Decision::Approve => self.approve += 1,
            Decision::Review => self.review += 1,
            Decision::Reject => self.reject += 1,
        }
    }

    fn get(&self, d: Decision) -> usize {
        match d {
            Decision::Approve => self.approve,
            Decision::Review => self.review,
            Decision::Reject => self.reject,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Confusion {
    pub approve: Got,
    pub escalate: Got,
    pub reject: Got,
}

impl Confusion {
    fn row(&self, e: Expectation) -> &Got {
        match e {
            Expectation::Approve => &self.approve,
            Expectation::Escalate => &self.escalate,
            Expectation::Reject => &self.reject,
        }
    }

    fn row_mut(&mut self, e: Expectation) -> &mut Got {
        match e {
            Expectation::Approve => &mut self.approve,
            Expectation::Escalate => &mut self.escalate,
            Expectation::Reject => &mut self.reject,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Automation {
    pub routine: usize,
    pub approved: usize,
    /// approved / routine (1.0 when there is no routine plan).
    pub rate: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RiskyApproved {
    /// Plans expected `escalate` or `reject`.
    pub risky: usize,
    /// Of those, approved (must be 0).
    pub approved: usize,
    pub plans: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BlatantRejected {
    pub blatant: usize,
    pub rejected: usize,
    /// Expected `reject`, got something else.
    pub plans: Vec<String>,
}

/// The whole report; its JSON form is the `--format json` contract.
#[derive(Debug, Clone, Serialize)]
pub struct Calibration {
    /// `arbiter-calibration/1`.
    pub format: &'static str,
    /// The directories read, in order (with the subdirectories found).
    pub directories: Vec<String>,
    pub plans: usize,
    /// No risky plan approved and every blatant one rejected.
    pub ok: bool,
    pub confusion: Confusion,
    pub automation: Automation,
    pub risky_approved: RiskyApproved,
    pub blatant_rejected: BlatantRejected,
    pub misses: Vec<PlanResult>,
    pub thresholds: Vec<EnvThreshold>,
    pub results: Vec<PlanResult>,
}

pub fn run(args: CalibrateArgs) -> anyhow::Result<u8> {
    let mut dirs = Vec::new();
    for d in &args.dirs {
        if !d.is_dir() {
            bail!("{}: not a directory", d.display());
        }
        let before = dirs.len();
        find_dirs(d, &mut dirs)?;
        if dirs.len() == before {
            bail!(
                "{}: no expected.tsv in it or in its subdirectories",
                d.display()
            );
        }
    }
    let mut rows = Vec::new();
    for d in &dirs {
        rows.extend(read_rows(d)?);
    }
    let cfg = JudgeConfig {
        policy_paths: args.policies.clone(),
        ..JudgeConfig::default()
    };
    let judge = Judge::new(&cfg).context("loading policies")?;
    let mut results = Vec::with_capacity(rows.len());
    for row in &rows {
        results.push(judge_row(&judge, row)?);
    }
    let report = summarize(
        dirs.iter().map(|d| d.display().to_string()).collect(),
        results,
    );
    let text = match args.format {
        CalibrateFormat::Text => render_text(&report),
        CalibrateFormat::Markdown => render_markdown(&report),
        CalibrateFormat::Json => {
            let mut s = serde_json::to_string_pretty(&report).context("serialising the report")?;
            s.push('\n');
            s
        }
    };
    emit(&text, args.output.as_deref())?;
    Ok(if report.ok { 0 } else { 3 })
}

/// `dir` if it has an expected.tsv, then its subdirectories (sorted) that
/// have one at any depth.
pub(crate) fn find_dirs(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    if dir.join("expected.tsv").is_file() {
        out.push(dir.to_path_buf());
    }
    let mut subs: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    subs.sort();
    for s in subs {
        find_dirs(&s, out)?;
    }
    Ok(())
}

pub(crate) fn read_rows(dir: &Path) -> anyhow::Result<Vec<Row>> {
    let path = dir.join("expected.tsv");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    let Some((_, header)) = lines.next() else {
        bail!("{}: empty (expected a header line)", path.display());
    };
    let header: Vec<&str> = header.split('\t').map(str::trim).collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let (Some(n), Some(e)) = (col("name"), col("expect")) else {
        bail!(
            "{}:1: the header needs the columns name and expect (tab-separated), got {:?}",
            path.display(),
            header
        );
    };
    let (env_col, budget_col) = (col("environment"), col("monthly_budget_usd"));
    let mut rows = Vec::new();
    for (i, line) in lines {
        let at = format!("{}:{}", path.display(), i + 1);
        let cells: Vec<&str> = line.split('\t').map(str::trim).collect();
        let cell = |c: Option<usize>| {
            c.and_then(|c| cells.get(c))
                .copied()
                .filter(|s| !s.is_empty())
        };
        let Some(name) = cell(Some(n)) else {
            bail!("{at}: no name");
        };
        let Some(expect_text) = cell(Some(e)) else {
            bail!("{at}: no expectation for {name}");
        };
        let Some(expect) = Expectation::parse(expect_text) else {
            bail!(
                "{at}: unknown expectation {expect_text:?} (approve, escalate, review or reject)"
            );
        };
        let budget =
            match cell(budget_col) {
                None => None,
                Some(b) => Some(b.parse::<f64>().map_err(|_| {
                    anyhow::anyhow!("{at}: monthly_budget_usd {b:?} is not a number")
                })?),
            };
        rows.push(Row {
            dir: dir.to_path_buf(),
            name: name.to_string(),
            expect,
            environment: cell(env_col).map(str::to_string),
            budget,
            at,
        });
    }
    Ok(rows)
}

/// The stack of a row: its stack file, which the table's columns must agree
/// with; or, without a stack file, one built from the columns.
pub(crate) fn stack_of(row: &Row) -> anyhow::Result<StackConfig> {
    let path = row.dir.join(format!("{}.stack.toml", row.name));
    if !path.exists() {
        return Ok(StackConfig {
            name: Some(row.name.clone()),
            environment: row.environment.clone(),
            monthly_budget_usd: row.budget,
            ..StackConfig::default()
        });
    }
    let stack = StackConfig::from_file(&path).map_err(anyhow::Error::msg)?;
    if let Some(env) = &row.environment {
        if stack.environment.as_deref() != Some(env.as_str()) {
            bail!(
                "{}: environment {env:?} disagrees with {} ({:?})",
                row.at,
                path.display(),
                stack.environment
            );
        }
    }
    if let Some(b) = row.budget {
        if stack.monthly_budget_usd != Some(b) {
            bail!(
                "{}: monthly_budget_usd {b} disagrees with {} ({:?})",
                row.at,
                path.display(),
                stack.monthly_budget_usd
            );
        }
    }
    stack.validate().map_err(anyhow::Error::msg)?;
    Ok(stack)
}

fn judge_row(judge: &Judge, row: &Row) -> anyhow::Result<PlanResult> {
    let plan_path = row.dir.join(format!("{}.plan.json", row.name));
    let input = PlanInput::from_file(&plan_path)
        .with_context(|| format!("{}: reading plan {}", row.at, plan_path.display()))?;
    let stack = stack_of(row)?;
    let v = judge
        .evaluate(&input, &stack)
        .with_context(|| format!("{}: evaluating {}", row.at, plan_path.display()))?;
    let threshold = v.stack.auto_apply_threshold;
    // Held whatever the threshold? A rejection always is; a review with a
    // score at or above the threshold was held by a finding; otherwise the
    // judge answers the question itself with the threshold at 0.
    let held_by_findings = match v.decision {
        Decision::Reject => true,
        Decision::Approve => false,
        Decision::Review if v.confidence >= threshold => true,
        Decision::Review => {
            let mut zero = stack.clone();
            zero.auto_apply_threshold = Some(0.0);
            judge
                .evaluate(&input, &zero)
                .with_context(|| format!("{}: evaluating {}", row.at, plan_path.display()))?
                .decision
                != Decision::Approve
        }
    };
    Ok(PlanResult {
        plan: row.dir.join(&row.name).display().to_string(),
        expected: row.expect,
        got: v.decision,
        confidence: v.confidence,
        threshold,
        environment: v
            .stack
            .environment
            .clone()
            .unwrap_or_else(|| "unknown".into()),
        held_by_findings,
        rule_findings: has_rule_findings(&v),
        findings: deciding_findings(&v),
    })
}

/// A finding of a rule (built-in or user policy), as opposed to a critic's.
fn is_rule_finding(f: &arbiter_verdict::Finding) -> bool {
    !f.source.starts_with("critic:")
}

fn has_rule_findings(v: &Verdict) -> bool {
    v.findings.iter().any(|f| {
        is_rule_finding(f) && f.effect != Effect::Info && f.relation != ChangeRelation::Fixed
    })
}

fn deciding_findings(v: &Verdict) -> Vec<DecidingFinding> {
    // The verdict lists findings most important first (effect, then points).
    v.findings
        .iter()
        .filter(|f| {
            (matches!(f.effect, Effect::Deny | Effect::Escalate)
                && f.relation != ChangeRelation::Fixed)
                || f.confidence_cost > 0.0
                || (is_rule_finding(f)
                    && f.relation == ChangeRelation::Introduced
                    && f.effect != Effect::Info)
        })
        .take(5)
        .map(|f| DecidingFinding {
            rule_id: f.rule_id.clone(),
            source: f.source.clone(),
            severity: f.severity.as_str().to_string(),
            effect: f.effect.as_str().to_string(),
            relation: f.relation.as_str().to_string(),
            points: (f.confidence_cost * 100.0).round() / 100.0,
            address: f.address.clone(),
        })
        .collect()
}

/// The smallest one-decimal threshold strictly above `c` (confidences are
/// reported with one decimal).
fn threshold_above(c: f64) -> f64 {
    let mut t = ((c * 10.0).floor() + 1.0) / 10.0;
    if t <= c {
        t += 0.1;
    }
    (t * 10.0).round() / 10.0
}

fn env_threshold(environment: &str, plans: &[&PlanResult]) -> EnvThreshold {
    let routine: Vec<&&PlanResult> = plans
        .iter()
        .filter(|p| p.expected == Expectation::Approve)
        .collect();
    let risky: Vec<&&PlanResult> = plans
        .iter()
        .filter(|p| p.expected != Expectation::Approve)
        .collect();
    let mut thresholds: Vec<f64> = plans.iter().map(|p| p.threshold).collect();
    thresholds.sort_by(f64::total_cmp);
    thresholds.dedup();
    let current = match thresholds.as_slice() {
        [t] => Some(*t),
        _ => None,
    };
    let mut score_only: Vec<&&PlanResult> = risky
        .iter()
        .filter(|p| !p.held_by_findings)
        .copied()
        .collect();
    score_only.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    let lowest = match score_only.first() {
        None => Some(0.0),
        Some(p) => Some(threshold_above(p.confidence)).filter(|t| *t <= 100.0),
    };
    let approved_at = |t: f64| {
        routine
            .iter()
            .filter(|p| !p.held_by_findings && p.confidence >= t)
            .count()
    };
    let routine_approved_at_lowest = lowest.map_or(0, approved_at);
    let unsaveable = score_only.iter().filter(|p| !p.rule_findings).count();
    let note = if risky.is_empty() {
        "no risky plan in this environment: add some before trusting its threshold".to_string()
    } else if score_only.is_empty() {
        "every risky plan is held by its findings whatever the threshold; the threshold only decides how many routine plans are automated".to_string()
    } else if unsaveable > 0 {
        format!(
            "{unsaveable} risky plan(s) have no rule finding at all: only the critics' points (size of the change, cost) tell them from routine changes, so a threshold that holds them also holds routine changes of the same size; they need a rule"
        )
    } else {
        "the risky plans that only their score holds all carry rule findings: the judge's floor for introduced weaknesses (or a higher severity) holds them without raising the threshold".to_string()
    };
    EnvThreshold {
        environment: environment.to_string(),
        current,
        plans: plans.len(),
        routine: routine.len(),
        routine_approved_now: routine.iter().filter(|p| p.got == Decision::Approve).count(),
        risky: risky.len(),
        risky_approved_now: risky.iter().filter(|p| p.got == Decision::Approve).count(),
        risky_held_by_findings: risky.iter().filter(|p| p.held_by_findings).count(),
        lowest_safe_threshold: lowest,
        routine_approved_at_lowest,
        score_only_risky: score_only
            .iter()
            .map(|p| ScoreOnlyRisky {
                plan: p.plan.clone(),
                confidence: p.confidence,
                rule_findings: p.rule_findings,
                reason: if p.rule_findings {
                    let ids: Vec<&str> = p
                        .findings
                        .iter()
                        .filter(|f| f.effect != "info" && !f.source.starts_with("critic:"))
                        .map(|f| f.rule_id.as_str())
                        .collect();
                    format!(
                        "only its score ({:.1}) decides: {} cost points but neither deny nor escalate",
                        p.confidence,
                        ids.join(", ")
                    )
                } else {
                    format!(
                        "no rule finding: it scores {:.1} like a routine change; no threshold tells them apart",
                        p.confidence
                    )
                },
            })
            .collect(),
        note,
    }
}

fn summarize(directories: Vec<String>, results: Vec<PlanResult>) -> Calibration {
    let mut confusion = Confusion::default();
    for r in &results {
        confusion.row_mut(r.expected).add(r.got);
    }
    let routine = results
        .iter()
        .filter(|r| r.expected == Expectation::Approve)
        .count();
    let routine_approved = confusion.approve.approve;
    let risky_approved: Vec<String> = results
        .iter()
        .filter(|r| r.expected != Expectation::Approve && r.got == Decision::Approve)
        .map(|r| r.plan.clone())
        .collect();
    let blatant_missed: Vec<String> = results
        .iter()
        .filter(|r| r.expected == Expectation::Reject && r.got != Decision::Reject)
        .map(|r| r.plan.clone())
        .collect();
    let blatant = results
        .iter()
        .filter(|r| r.expected == Expectation::Reject)
        .count();
    let mut by_env: BTreeMap<&str, Vec<&PlanResult>> = BTreeMap::new();
    for r in &results {
        by_env.entry(r.environment.as_str()).or_default().push(r);
    }
    let thresholds = by_env
        .iter()
        .map(|(env, plans)| env_threshold(env, plans))
        .collect();
    Calibration {
        format: "arbiter-calibration/1",
        directories,
        plans: results.len(),
        ok: risky_approved.is_empty() && blatant_missed.is_empty(),
        automation: Automation {
            routine,
            approved: routine_approved,
            rate: if routine == 0 {
                1.0
            } else {
                routine_approved as f64 / routine as f64
            },
        },
        risky_approved: RiskyApproved {
            risky: results.len() - routine,
            approved: risky_approved.len(),
            plans: risky_approved,
        },
        blatant_rejected: BlatantRejected {
            blatant,
            rejected: blatant - blatant_missed.len(),
            plans: blatant_missed,
        },
        misses: results.iter().filter(|r| !r.ok()).cloned().collect(),
        thresholds,
        confusion,
        results,
    }
}

fn pct(rate: f64) -> String {
    format!("{:.1} %", rate * 100.0)
}

fn opt_threshold(t: Option<f64>) -> String {
    t.map_or("-".into(), |t| format!("{t:.1}"))
}

fn finding_line(f: &DecidingFinding) -> String {
    format!(
        "{} {} {} {} -{:.2}",
        f.rule_id, f.severity, f.effect, f.relation, f.points
    )
}

/// Pads the columns of `rows` (first row = header) to a common width.
fn aligned(rows: &[Vec<String>], right_from: usize) -> String {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let cells: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let w = widths.get(i).copied().unwrap_or(0);
                if i >= right_from {
                    format!("{c:>w$}")
                } else {
                    format!("{c:<w$}")
                }
            })
            .collect();
        let _ = writeln!(out, "  {}", cells.join("  ").trim_end());
    }
    out
}

fn confusion_rows(c: &Confusion) -> Vec<Vec<String>> {
    let mut rows = vec![vec![
        "expected \\ got".to_string(),
        "approve".into(),
        "review".into(),
        "reject".into(),
        "total".into(),
    ]];
    for e in Expectation::ALL {
        let g = c.row(e);
        let mut row = vec![e.as_str().to_string()];
        row.extend(DECISIONS.iter().map(|d| g.get(*d).to_string()));
        row.push((g.approve + g.review + g.reject).to_string());
        rows.push(row);
    }
    rows
}

fn threshold_rows(c: &Calibration) -> Vec<Vec<String>> {
    let mut rows = vec![vec![
        "environment".to_string(),
        "now".into(),
        "plans".into(),
        "routine approved".into(),
        "risky approved".into(),
        "risky held by findings".into(),
        "lowest safe threshold".into(),
        "routine approved then".into(),
    ]];
    for t in &c.thresholds {
        rows.push(vec![
            t.environment.clone(),
            opt_threshold(t.current),
            t.plans.to_string(),
            format!("{}/{}", t.routine_approved_now, t.routine),
            format!("{}/{}", t.risky_approved_now, t.risky),
            format!("{}/{}", t.risky_held_by_findings, t.risky),
            opt_threshold(t.lowest_safe_threshold),
            format!("{}/{}", t.routine_approved_at_lowest, t.routine),
        ]);
    }
    rows
}

fn verdict_line(c: &Calibration) -> String {
    if c.ok {
        "PASS: no risky plan approved, every blatant plan rejected".into()
    } else {
        let mut why = Vec::new();
        if c.risky_approved.approved > 0 {
            why.push(format!(
                "{} risky plan(s) approved",
                c.risky_approved.approved
            ));
        }
        if !c.blatant_rejected.plans.is_empty() {
            why.push(format!(
                "{} blatant plan(s) not rejected",
                c.blatant_rejected.plans.len()
            ));
        }
        format!("FAIL: {}", why.join(", "))
    }
}

fn render_text(c: &Calibration) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Calibration of {} plans from {}\n",
        c.plans,
        c.directories.join(", ")
    );
    s.push_str(&aligned(&confusion_rows(&c.confusion), 1));
    let _ = writeln!(
        s,
        "\n  automation      {}/{} routine plans approved ({})",
        c.automation.approved,
        c.automation.routine,
        pct(c.automation.rate)
    );
    let _ = writeln!(
        s,
        "  risky approved  {} of {} (must be 0)",
        c.risky_approved.approved, c.risky_approved.risky
    );
    let _ = writeln!(
        s,
        "  blatant         {}/{} rejected",
        c.blatant_rejected.rejected, c.blatant_rejected.blatant
    );
    if !c.misses.is_empty() {
        let _ = writeln!(s, "\nMisses ({}):", c.misses.len());
        for m in &c.misses {
            let _ = writeln!(
                s,
                "  {}  expected {}, got {} (confidence {:.1}, threshold {:.0}, {})",
                m.plan,
                m.expected.as_str(),
                m.got.as_str(),
                m.confidence,
                m.threshold,
                m.environment
            );
            if m.findings.is_empty() {
                let _ = writeln!(s, "      no finding cost points or blocked it");
            }
            for f in &m.findings {
                let _ = writeln!(s, "      {}", finding_line(f));
            }
        }
    }
    let _ = writeln!(
        s,
        "\nThresholds per environment (a plan is approved when confidence >= threshold):"
    );
    s.push_str(&aligned(&threshold_rows(c), 1));
    for t in &c.thresholds {
        let _ = writeln!(s, "  {}: {}", t.environment, t.note);
        for r in &t.score_only_risky {
            let _ = writeln!(s, "      {}  {}", r.plan, r.reason);
        }
    }
    let _ = writeln!(s, "\n{}", verdict_line(c));
    s
}

fn md_table(rows: &[Vec<String>]) -> String {
    let mut s = String::new();
    for (i, r) in rows.iter().enumerate() {
        let _ = writeln!(s, "| {} |", r.join(" | "));
        if i == 0 {
            let _ = writeln!(s, "|{}", " --- |".repeat(r.len()));
        }
    }
    s
}

fn render_markdown(c: &Calibration) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "## Arbiter calibration\n");
    let _ = writeln!(
        s,
        "{} plans from {}. **{}**\n",
        c.plans,
        c.directories
            .iter()
            .map(|d| format!("`{d}`"))
            .collect::<Vec<_>>()
            .join(", "),
        verdict_line(c)
    );
    s.push_str(&md_table(&confusion_rows(&c.confusion)));
    let _ = writeln!(
        s,
        "\n- Automation: {}/{} routine plans approved ({})",
        c.automation.approved,
        c.automation.routine,
        pct(c.automation.rate)
    );
    let _ = writeln!(
        s,
        "- Risky approved: {} of {} (must be 0)",
        c.risky_approved.approved, c.risky_approved.risky
    );
    let _ = writeln!(
        s,
        "- Blatant rejected: {}/{}",
        c.blatant_rejected.rejected, c.blatant_rejected.blatant
    );
    if !c.misses.is_empty() {
        let _ = writeln!(s, "\n### Misses\n");
        let mut rows = vec![vec![
            "plan".to_string(),
            "expected".into(),
            "got".into(),
            "confidence".into(),
            "environment".into(),
            "findings that decided it".into(),
        ]];
        for m in &c.misses {
            let f: Vec<String> = m
                .findings
                .iter()
                .map(|f| format!("`{}`", finding_line(f)))
                .collect();
            rows.push(vec![
                format!("`{}`", m.plan),
                m.expected.as_str().into(),
                m.got.as_str().into(),
                format!("{:.1}", m.confidence),
                m.environment.clone(),
                if f.is_empty() {
                    "none".into()
                } else {
                    f.join("<br>")
                },
            ]);
        }
        s.push_str(&md_table(&rows));
    }
    let _ = writeln!(s, "\n### Thresholds per environment\n");
    s.push_str(&md_table(&threshold_rows(c)));
    s.push('\n');
    for t in &c.thresholds {
        let _ = writeln!(s, "- **{}**: {}", t.environment, t.note);
        for r in &t.score_only_risky {
            let _ = writeln!(s, "  - `{}`: {}", r.plan, r.reason);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expectations_parse_with_review_as_synonym() {
        assert_eq!(Expectation::parse("review"), Some(Expectation::Escalate));
        assert_eq!(Expectation::parse(" Reject"), Some(Expectation::Reject));
        assert_eq!(Expectation::parse("maybe"), None);
        assert!(Expectation::Escalate.met_by(Decision::Reject));
        assert!(!Expectation::Reject.met_by(Decision::Review));
    }

    #[test]
    fn threshold_above_is_strictly_above() {
        assert_eq!(threshold_above(97.5), 97.6);
        assert_eq!(threshold_above(96.0), 96.1);
        assert!(threshold_above(99.95) > 99.95);
        assert!(threshold_above(100.0) > 100.0);
    }
}
