//! `evaluate(plan, stack, policies) → Verdict`: the one entry point for judging
//! a change. Reads nothing from disk but what it is given, prints nothing.
//!
//! Pipeline: plan model → dependency graph → built-in rule pack → blast radius
//! → user policies (which may read the critics' results) → security and policy
//! critics → confidence → tiered decision → explanation → redaction of every
//! sensitive value.
//!
//! Architecture invariant: the decision is made here and only here; a
//! policy or critic error is an error (fail closed), never an approval.

pub mod counterfactual;
pub mod stack;
pub mod waiver;

use arbiter_critics::{
    combine, Critic, CriticOutput, Environment, ReviewContext, Setup, StackContext, Stage,
};
use arbiter_plan::sensitive::Redactor;
use arbiter_plan::{
    attribute_changes_masked, Action, DependencyGraph, Plan, PlanError, ResourceChange,
};
use arbiter_policy::{LoadedFiles, PolicyError, RuleOverrides, RulePack, UserPolicies};
use arbiter_verdict::{
    ActionSummary, AttributeDelta, ChangeRelation, ChangeView, CriticReport, Decision, Effect,
    Finding, PlanInfo, Severity, StackInfo, Verdict,
};
pub use stack::{IntroducedFloor, StackConfig};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use thiserror::Error;
pub use waiver::Waiver;

/// Most attribute changes listed per resource in a verdict.
pub const MAX_ATTRIBUTES_PER_CHANGE: usize = 50;

/// Largest plan (resource changes) that gets a counterfactual: judging it
/// again costs a second evaluation, a few milliseconds for the tens of
/// changes an agent's change usually has; a larger plan's verdict has none.
pub const COUNTERFACTUAL_MAX_CHANGES: usize = 256;

/// Most resources (and unpriced resources) a verdict's cost section lists;
/// the totals always cover every resource (`arbiter cost` shows them all).
pub const MAX_COST_RESOURCES: usize = 25;

/// Why a change could not be judged.
#[derive(Debug, Error)]
pub enum JudgeError {
    /// The plan could not be read.
    #[error("reading plan: {0}")]
    Plan(#[from] PlanError),
    /// Policies could not be loaded or evaluated.
    #[error("{0}")]
    Policy(#[from] PolicyError),
    /// The stack configuration is invalid.
    #[error("{0}")]
    Stack(String),
    /// The mechanical fixes could not be applied to the plan.
    #[error("{0}")]
    Fix(#[from] counterfactual::FixPlanError),
}

/// Cumulative milliseconds at the end of each phase of an evaluation.
pub type PhaseTimings = Vec<(&'static str, f64)>;

/// What to load besides the built-in rule pack.
#[derive(Debug, Clone, Default)]
pub struct JudgeConfig {
    /// `--policy` directories or files.
    pub policy_paths: Vec<PathBuf>,
    /// Conftest-style packages to evaluate (default `main`).
    pub namespaces: Vec<String>,
    /// Skip the built-in rule pack entirely.
    pub no_builtin_rules: bool,
    /// Compile only the built-in rules for these resource types (see
    /// [`plan_types`]); `None` compiles every rule. A judge built this way
    /// refuses plans with other rule-relevant types.
    pub only_types: Option<BTreeSet<String>>,
    /// Policy files already in memory (a server's stored policy sets), used
    /// with those read from `policy_paths`.
    pub files: Option<LoadedFiles>,
    /// Budgets of each evaluation (time); a policy over budget is an error.
    pub limits: arbiter_policy::Limits,
}

pub use arbiter_policy::plan_types;

/// A plan ready to judge: the model and, for policies that want the whole
/// document, its text.
pub struct PlanInput {
    /// Decoded JSON text of the plan, shared with the values the model keeps
    /// as text (no copy of them).
    pub text: std::sync::Arc<String>,
    /// The parsed model.
    pub plan: Plan,
}

impl PlanInput {
    /// Decodes and parses plan bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<PlanInput, PlanError> {
        let text = std::sync::Arc::new(arbiter_plan::read::decode_plan(bytes)?.into_owned());
        let plan = arbiter_plan::read_plan_shared(&text)?;
        Ok(PlanInput { text, plan })
    }

    /// Like [`PlanInput::from_bytes`], reusing the buffer as the text when it
    /// is plain UTF-8 (no copy of a large plan).
    pub fn from_vec(bytes: Vec<u8>) -> Result<PlanInput, PlanError> {
        let plain = !bytes.starts_with(&[0xEF, 0xBB, 0xBF])
            && bytes.get(1) != Some(&0)
            && bytes.first() != Some(&0);
        if plain {
            return match String::from_utf8(bytes) {
                Ok(text) => {
                    let text = std::sync::Arc::new(text);
                    let plan = arbiter_plan::read_plan_shared(&text)?;
                    Ok(PlanInput { text, plan })
                }
                // UTF-16 with a byte-order mark, or garbage: the decoder
                // handles the one and explains the other.
                Err(e) => PlanInput::from_bytes(&e.into_bytes()),
            };
        }
        PlanInput::from_bytes(&bytes)
    }

    /// Reads a plan file (size-limited).
    pub fn from_file(path: &std::path::Path) -> Result<PlanInput, PlanError> {
        PlanInput::from_vec(arbiter_plan::read::read_limited(path)?).map_err(|e| e.in_file(path))
    }
}

/// Compiled policies and critics; build once, judge many plans.
#[derive(Clone)]
pub struct Judge {
    pack: Option<RulePack>,
    user: Option<UserPolicies>,
    cost: arbiter_cost::CostEngine,
    clock: Option<chrono::DateTime<chrono::Utc>>,
}

impl Judge {
    /// Loads and compiles the rule pack and the user's policies.
    pub fn new(cfg: &JudgeConfig) -> Result<Judge, JudgeError> {
        let mut files = if cfg.policy_paths.is_empty() {
            LoadedFiles::default()
        } else {
            arbiter_policy::load_paths(&cfg.policy_paths, false)?
        };
        if let Some(extra) = &cfg.files {
            files.modules.extend(extra.modules.iter().cloned());
            files.data.extend(extra.data.iter().cloned());
        }
        let replacements: Vec<_> = files
            .modules
            .iter()
            .filter(|m| {
                arbiter_policy::rulepack::package_of(&m.text).is_some_and(|p| {
                    p.starts_with("arbiter.rules.") || p.starts_with("arbiter.lib")
                })
            })
            .cloned()
            .collect();
        let pack = if cfg.no_builtin_rules {
            None
        } else {
            Some(
                RulePack::for_types(&replacements, cfg.only_types.as_ref())?
                    .with_limits(cfg.limits),
            )
        };
        let user = UserPolicies::compile(&files, &cfg.namespaces)?.with_limits(cfg.limits);
        Ok(Judge {
            pack,
            user: if user.is_empty() { None } else { Some(user) },
            cost: arbiter_cost::CostEngine::embedded(),
            clock: None,
        })
    }

    /// Prices plans with `engine` (a user catalogue, a usage file, a region)
    /// instead of the embedded catalogue alone.
    pub fn with_cost_engine(mut self, engine: arbiter_cost::CostEngine) -> Judge {
        self.cost = engine;
        self
    }

    /// Judges as if the time were `now` (waiver expiry); the system clock
    /// otherwise. Makes verdicts with waivers reproducible.
    pub fn with_clock(mut self, now: chrono::DateTime<chrono::Utc>) -> Judge {
        self.clock = Some(now);
        self
    }

    /// The rule pack in use, if any.
    pub fn rule_pack(&self) -> Option<&RulePack> {
        self.pack.as_ref()
    }

    /// Judges a plan against a stack. Deterministic for the same inputs.
    pub fn evaluate(&self, input: &PlanInput, stack: &StackConfig) -> Result<Verdict, JudgeError> {
        self.evaluate_timed(input, stack).map(|(v, _)| v)
    }

    /// Like [`Judge::evaluate`], also returning the cumulative milliseconds at
    /// the end of each stage of [`STAGES`].
    ///
    /// When some finding that matters has a mechanical fix (and the plan has
    /// at most [`COUNTERFACTUAL_MAX_CHANGES`] changes), the verdict also
    /// carries the counterfactual: every fix applied to the plan's
    /// after-values and the result judged again (not part of the timings).
    pub fn evaluate_timed(
        &self,
        input: &PlanInput,
        stack: &StackConfig,
    ) -> Result<(Verdict, PhaseTimings), JudgeError> {
        let (mut verdict, phases) = self.evaluate_once(input, stack)?;
        if input.plan.resource_changes.len() <= COUNTERFACTUAL_MAX_CHANGES
            && counterfactual::wanted(&verdict.findings)
        {
            // The verdict stands on its own: a counterfactual that cannot be
            // made is a warning, never an error of the evaluation.
            match self.counterfactual(input, stack, &verdict.findings) {
                Ok(Some(cf)) => verdict.counterfactual = Some(cf),
                Ok(None) => {}
                Err(e) => verdict.warnings.push(format!(
                    "the counterfactual (every mechanical fix applied) could not be judged: {e}"
                )),
            }
        }
        Ok((verdict, phases))
    }

    /// Judges a plan without the counterfactual: for callers that need only
    /// the decision (policy backtests replay thousands of plans).
    pub fn evaluate_without_counterfactual(
        &self,
        input: &PlanInput,
        stack: &StackConfig,
    ) -> Result<Verdict, JudgeError> {
        self.evaluate_once(input, stack).map(|(v, _)| v)
    }

    /// The plan with every fix applied, judged again; `None` when the plan
    /// has no `resource_changes` to apply them to.
    fn counterfactual(
        &self,
        input: &PlanInput,
        stack: &StackConfig,
        findings: &[Finding],
    ) -> Result<Option<arbiter_verdict::Counterfactual>, JudgeError> {
        let fixes = counterfactual::fixes_by_address(findings);
        let Some((text, steps)) = counterfactual::apply_fixes(&input.text, &fixes)? else {
            return Ok(None);
        };
        let fixed_input = PlanInput::from_vec(text.into_bytes())?;
        let (fixed, _) = self.evaluate_once(&fixed_input, stack)?;
        Ok(Some(counterfactual::summarize(findings, &fixed, steps)))
    }

    /// One evaluation, without the counterfactual.
    fn evaluate_once(
        &self,
        input: &PlanInput,
        stack: &StackConfig,
    ) -> Result<(Verdict, PhaseTimings), JudgeError> {
        stack.validate().map_err(JudgeError::Stack)?;
        let plan = &input.plan;
        let cx = EvalContext::new(self, input, stack)?;
        let tm = std::time::Instant::now();
        let mut phases: PhaseTimings = Vec::with_capacity(STAGES.len());
        let mut mark = |i: usize| phases.push((STAGES[i], tm.elapsed().as_secs_f64() * 1e3));

        // 1. The rule pack, with what does not depend on it beside it.
        let mut beside = self.rules_graph_cost(&cx)?;
        mark(0);
        let critics: Vec<Box<dyn Critic>> = arbiter_critics::registry()
            .into_iter()
            .filter(|c| {
                c.wanted(&Setup {
                    user_policies: self.user.is_some(),
                })
            })
            .collect();
        let empty: Vec<Finding> = Vec::new();
        let mut outputs: Vec<Option<CriticOutput>> = vec![None; critics.len()];
        // 2. The critics that read the plan, the graph and the cost
        // estimate (the full breakdown, trimmed afterwards for the policy
        // input and the verdict).
        {
            let ctx = beside.review_context(&cx, &empty);
            for (i, c) in critics.iter().enumerate() {
                if c.stage() == Stage::BeforePolicies {
                    outputs[i] = Some(waive_output(c.review(&ctx), &stack.waivers, cx.now));
                }
            }
        }
        beside.cost.truncate(MAX_COST_RESOURCES);
        mark(1);
        // 3. The user's policies, which read the critics so far.
        let policy_findings = self.user_policies(&cx, &beside, &critics, &outputs)?;
        mark(2);
        // 4. The critics on the findings.
        {
            let ctx = beside.review_context(&cx, &policy_findings);
            for (i, c) in critics.iter().enumerate() {
                if c.stage() == Stage::OnFindings {
                    outputs[i] = Some(waive_output(c.review(&ctx), &stack.waivers, cx.now));
                }
            }
        }
        mark(3);
        // 5. Confidence, and each finding's share of the lost points.
        let named: Vec<(&'static str, CriticOutput)> = critics
            .iter()
            .zip(outputs)
            .filter_map(|(c, o)| o.map(|o| (c.name(), o)))
            .collect();
        let (confidence, mut findings, critic_reports) = combine_outputs(named);
        mark(4);
        // 6. The tiered decision.
        let floor = stack.introduced_floor();
        let decision = self.decide(&mut findings, confidence, cx.threshold, floor);
        mark(5);
        // 7. The explanation and the verdict.
        let explanation = explain(
            decision,
            confidence,
            cx.threshold,
            &findings,
            &cx.summary,
            &cx.ctx_stack,
            floor,
        );
        let mut verdict = Verdict {
            decision,
            confidence,
            summary: cx.summary,
            warnings: verdict_warnings(plan, &findings),
            counterfactual: None,
            findings,
            critics: critic_reports,
            cost: beside.cost,
            explanation,
            stack: StackInfo {
                name: stack.name.clone(),
                environment: stack.environment.clone(),
                labels: stack.labels.clone(),
                monthly_budget_usd: stack.monthly_budget_usd,
                auto_apply_threshold: cx.threshold,
                escalate_introduced_at: floor.severity(),
            },
            plan: PlanInfo {
                format_version: plan.format_version_text.clone(),
                terraform_version: plan.terraform_version.clone(),
            },
            changes: beside.changes,
        };
        // Errored or incomplete plans are never approved.
        if verdict.decision == Decision::Approve && (plan.errored || plan.complete == Some(false)) {
            verdict.decision = Decision::Review;
            verdict.explanation = format!(
                "Needs review: the plan is incomplete or errored. {}",
                verdict.explanation
            );
        }
        mark(6);
        // 8. No sensitive value leaves the judge.
        redact(&mut verdict, &beside.redactor);
        mark(7);
        Ok((verdict, phases))
    }

    /// Stage 1: the built-in rules (waivers marked) and, on another core for
    /// large plans, the dependency graph, the sensitive values, the change
    /// views and the cost estimate.
    fn rules_graph_cost(&self, cx: &EvalContext<'_>) -> Result<Beside, JudgeError> {
        let plan = &cx.input.plan;
        let (rule_findings, (graph, redactor, changes, cost)) = concurrently(
            plan.resource_changes.len() >= PARALLEL_CHANGES,
            || match &self.pack {
                Some(pack) => pack.evaluate(plan, &cx.stack_json, &cx.overrides),
                None => Ok(Vec::new()),
            },
            || {
                let (graph, redactor, changes) = independent_of_rules(plan);
                let cost = self.cost.estimate(plan, Some(&graph));
                (graph, redactor, changes, cost)
            },
        );
        let mut rule_findings = rule_findings?;
        waiver::apply(&cx.stack.waivers, &mut rule_findings, cx.now);
        Ok(Beside {
            rule_findings,
            graph,
            redactor,
            changes,
            cost,
        })
    }

    /// Stage 3: the user's policies, with the evaluation context (stack,
    /// summary, cost, the critics so far, the rule pack's findings);
    /// waivers marked.
    fn user_policies(
        &self,
        cx: &EvalContext<'_>,
        beside: &Beside,
        critics: &[Box<dyn Critic>],
        outputs: &[Option<CriticOutput>],
    ) -> Result<Vec<Finding>, JudgeError> {
        let Some(user) = &self.user else {
            return Ok(Vec::new());
        };
        let mut so_far = serde_json::Map::new();
        for (c, o) in critics.iter().zip(outputs) {
            if let Some(o) = o {
                so_far.insert(
                    c.name().to_string(),
                    serde_json::json!({"risk": o.risk, "summary": o.summary}),
                );
            }
        }
        let context = serde_json::json!({
            "stack": cx.stack_json,
            "summary": cx.summary,
            "cost": beside.cost,
            "critics": so_far,
            "rules": {"findings": beside.rule_findings.iter().filter(|f| f.relation == ChangeRelation::Introduced).map(|f| serde_json::json!({
                "rule_id": f.rule_id, "effect": f.effect, "severity": f.severity, "address": f.address, "waived": f.is_waived()})).collect::<Vec<_>>()},
            "principal": null,
        });
        let doc = arbiter_policy::plan_document(&cx.input.text)?;
        let mut found = user.evaluate(
            &doc,
            &context,
            &spacelift_metadata(&cx.input.plan, cx.stack),
        )?;
        waiver::apply(&cx.stack.waivers, &mut found, cx.now);
        Ok(found)
    }

    /// Stage 6: marks the findings the floor holds and decides: any deny →
    /// reject; any escalation, confidence below the threshold or a finding
    /// at the floor → review; otherwise approve. Waived and fixed findings
    /// block nothing.
    fn decide(
        &self,
        findings: &mut [Finding],
        confidence: f64,
        threshold: f64,
        floor: IntroducedFloor,
    ) -> Decision {
        for f in findings.iter_mut() {
            // Cost rules live in the pack too, but spending is the cost
            // critic's and the budget's business, not a weakness.
            // The rule's metadata is looked up only for findings the floor
            // would hold (a linear search over the pack, per finding).
            f.held_by_floor = held_by_floor(f, floor)
                && self
                    .pack
                    .as_ref()
                    .and_then(|p| p.rule(&f.rule_id))
                    .is_none_or(|r| r.category != "cost");
        }
        let blocking = |e: Effect| findings.iter().any(|f| counts(f) && f.effect == e);
        if blocking(Effect::Deny) {
            Decision::Reject
        } else if blocking(Effect::Escalate)
            || confidence < threshold
            || findings.iter().any(|f| f.held_by_floor)
        {
            Decision::Review
        } else {
            Decision::Approve
        }
    }
}

/// The stages of an evaluation, in order, as [`Judge::evaluate_timed`]
/// names them: the data flow of the judge in one place.
pub const STAGES: [&str; 8] = [
    "rules, graph, views and cost estimate",
    "critics before policies (blast radius, cost)",
    "user policies",
    "critics on findings (security, policy)",
    "combine",
    "decide",
    "explain",
    "redact",
];

/// What every stage reads: the input and the stack's settings, prepared once.
struct EvalContext<'a> {
    input: &'a PlanInput,
    stack: &'a StackConfig,
    overrides: RuleOverrides,
    ctx_stack: StackContext,
    stack_json: serde_json::Value,
    summary: ActionSummary,
    threshold: f64,
    now: chrono::DateTime<chrono::Utc>,
}

impl<'a> EvalContext<'a> {
    fn new(
        judge: &Judge,
        input: &'a PlanInput,
        stack: &'a StackConfig,
    ) -> Result<EvalContext<'a>, JudgeError> {
        let overrides = overrides(stack)?;
        if let Some(pack) = &judge.pack {
            overrides.check_against(pack)?;
        }
        Ok(EvalContext {
            input,
            stack,
            overrides,
            ctx_stack: StackContext {
                name: stack.name.clone(),
                environment: stack.environment_kind(),
                labels: stack.labels.clone(),
                monthly_budget_usd: stack.monthly_budget_usd,
            },
            stack_json: serde_json::json!({
                "name": stack.name,
                "environment": stack.environment,
                "labels": stack.labels,
                "monthly_budget_usd": stack.monthly_budget_usd,
                "auto_apply_threshold": stack.threshold(),
            }),
            summary: summarize(&input.plan),
            threshold: stack.threshold(),
            now: judge.clock.unwrap_or_else(chrono::Utc::now),
        })
    }
}

/// The results of stage 1.
struct Beside {
    rule_findings: Vec<Finding>,
    graph: DependencyGraph,
    redactor: Redactor,
    changes: Vec<ChangeView>,
    cost: arbiter_verdict::CostSummary,
}

impl Beside {
    fn review_context<'a>(
        &'a self,
        cx: &'a EvalContext<'_>,
        policy_findings: &'a [Finding],
    ) -> ReviewContext<'a> {
        ReviewContext {
            plan: &cx.input.plan,
            graph: &self.graph,
            stack: &cx.ctx_stack,
            rule_findings: &self.rule_findings,
            policy_findings,
            cost: &self.cost,
        }
    }
}

/// Stage 5: confidence over the critics, the findings with the points each
/// costs (most important first), and one report per critic.
fn combine_outputs(
    outputs: Vec<(&'static str, CriticOutput)>,
) -> (f64, Vec<Finding>, Vec<CriticReport>) {
    let critic_outputs: Vec<CriticOutput> = outputs.iter().map(|(_, o)| o.clone()).collect();
    let (confidence, contributions) = combine(&critic_outputs);
    let mut costs: BTreeMap<(usize, usize), f64> = BTreeMap::new();
    for c in contributions {
        costs.insert((c.critic, c.finding), c.points);
    }
    let mut findings = Vec::new();
    let mut critics = Vec::new();
    for (ci, (name, out)) in outputs.into_iter().enumerate() {
        critics.push(CriticReport {
            name: name.to_string(),
            risk: out.risk,
            findings: out.findings.len(),
            summary: out.summary,
        });
        for (fi, wf) in out.findings.into_iter().enumerate() {
            let mut f = wf.finding;
            f.confidence_cost = costs.get(&(ci, fi)).copied().unwrap_or(0.0);
            findings.push(f);
        }
    }
    findings.sort_by(|a, b| {
        a.effect
            .cmp(&b.effect)
            .then(b.confidence_cost.total_cmp(&a.confidence_cost))
            .then(a.severity.cmp(&b.severity))
            .then(a.rule_id.cmp(&b.rule_id))
            .then(a.address.cmp(&b.address))
            .then(a.message.cmp(&b.message))
    });
    (confidence, findings, critics)
}

/// The plan's own warnings, an errored plan, and every waiver that matched
/// but has expired.
fn verdict_warnings(plan: &Plan, findings: &[Finding]) -> Vec<String> {
    let mut warnings = plan.warnings.clone();
    if plan.errored {
        warnings.push(
            "the plan reports that Terraform errored while planning; it may be incomplete".into(),
        );
    }
    let mut expired: BTreeSet<String> = BTreeSet::new();
    for f in findings {
        if let Some(w) = f.waiver.as_ref().filter(|w| w.expired) {
            expired.insert(format!(
                "the waiver of {} on {} (owner {}) expired on {}: its findings count again",
                w.rule, w.address, w.owner, w.expires
            ));
        }
    }
    warnings.extend(expired);
    warnings
}

fn overrides(stack: &StackConfig) -> Result<RuleOverrides, JudgeError> {
    let mut o = RuleOverrides {
        disabled: stack.rules.disable.iter().cloned().collect(),
        ..Default::default()
    };
    for (id, s) in &stack.rules.severity {
        let sev = Severity::parse(s).ok_or_else(|| {
            JudgeError::Stack(format!(
                "rules.severity.{id}: {s:?} is not critical|high|medium|low|info"
            ))
        })?;
        o.severity.insert(id.clone(), sev);
    }
    for (id, e) in &stack.rules.effect {
        let eff = Effect::parse(e).ok_or_else(|| {
            JudgeError::Stack(format!(
                "rules.effect.{id}: {e:?} is not deny|escalate|warn|info"
            ))
        })?;
        o.effect.insert(id.clone(), eff);
    }
    Ok(o)
}

/// Counts changes per action.
pub fn summarize(plan: &Plan) -> ActionSummary {
    let mut s = ActionSummary::default();
    for rc in &plan.resource_changes {
        match rc.action {
            Action::Create => s.create += 1,
            Action::Update => s.update += 1,
            Action::Delete => s.delete += 1,
            Action::DeleteThenCreate | Action::CreateThenDelete => s.replace += 1,
            Action::NoOp => s.no_op += 1,
            Action::Read => s.read += 1,
            Action::Forget | Action::CreateThenForget => s.forget += 1,
        }
    }
    s
}

fn spacelift_metadata(plan: &Plan, stack: &StackConfig) -> serde_json::Value {
    let changes: Vec<serde_json::Value> = plan
        .changing()
        .map(|rc| {
            let action = match rc.action {
                Action::Create => "added",
                Action::Update => "changed",
                Action::Delete => "deleted",
                Action::DeleteThenCreate | Action::CreateThenDelete => "replaced",
                Action::Forget | Action::CreateThenForget => "forgotten",
                _ => "unchanged",
            };
            serde_json::json!({"action": action, "phase": "plan",
                "entity": {"address": rc.address, "name": rc.name, "type": rc.resource_type, "entity_type": "resource"}})
        })
        .collect();
    serde_json::json!({
        "run": {"type": "PROPOSED", "state": "UNCONFIRMED", "changes": changes},
        "stack": {"name": stack.name, "labels": stack.labels, "autodeploy": false},
    })
}

/// Whether a finding can block: not about a weakness the change fixes, and
/// not covered by an unexpired waiver.
fn counts(f: &Finding) -> bool {
    f.relation != ChangeRelation::Fixed && !f.is_waived()
}

/// Whether a finding reaches the stack's floor for introduced weaknesses: a
/// built-in rule's finding (the security critic's; user policies count by
/// their own effect) that the change introduces, that is not informational,
/// not waived, and at least as severe as the floor.
fn held_by_floor(f: &Finding, floor: IntroducedFloor) -> bool {
    f.source == "builtin"
        && f.relation == ChangeRelation::Introduced
        && matches!(f.effect, Effect::Warn | Effect::Escalate)
        && !f.is_waived()
        && floor.holds(f.severity)
}

/// Zeroes the weight of every finding of a critic that an unexpired waiver
/// covers (marking it) and recomputes the critic's risk.
fn waive_output(
    out: CriticOutput,
    waivers: &[Waiver],
    now: chrono::DateTime<chrono::Utc>,
) -> CriticOutput {
    if waivers.is_empty() {
        return out;
    }
    let mut fs: Vec<Finding> = out.findings.iter().map(|w| w.finding.clone()).collect();
    waiver::apply(waivers, &mut fs, now);
    if fs.iter().all(|f| f.waiver.is_none()) {
        return out;
    }
    let weighted = out
        .findings
        .into_iter()
        .zip(fs)
        .map(|(w, f)| arbiter_critics::WeightedFinding {
            weight: if f.is_waived() { 0.0 } else { w.weight },
            finding: f,
        })
        .collect();
    CriticOutput::from_findings(weighted, out.summary)
}

fn explain(
    decision: Decision,
    confidence: f64,
    threshold: f64,
    findings: &[Finding],
    summary: &ActionSummary,
    stack: &StackContext,
    floor: IntroducedFloor,
) -> String {
    let live = |e: Effect| findings.iter().filter(move |f| f.effect == e && counts(f));
    let cite = |f: &Finding| match &f.address {
        Some(a) => format!("{} at {a}: {}", f.rule_id, f.message),
        None => format!("{}: {}", f.rule_id, f.message),
    };
    let scope = format!(
        "{} change(s) in {}",
        summary.changing(),
        Environment::name(stack.environment)
    );
    match decision {
        Decision::Reject => {
            let denies: Vec<&Finding> = live(Effect::Deny).collect();
            let mut s = format!(
                "Rejected: {} finding(s) deny this change ({scope}).",
                denies.len()
            );
            s.push_str(&cite_grouped(&denies, &cite));
            s
        }
        Decision::Review => {
            let esc: Vec<&Finding> = live(Effect::Escalate).collect();
            let held: Vec<&Finding> = findings.iter().filter(|f| f.held_by_floor).collect();
            let mut s = if esc.is_empty() && confidence >= threshold && !held.is_empty() {
                let mut s = format!(
                    "Needs review: {} weakness(es) introduced by this change are {} or worse, and in {} such a change is never auto-approved, whatever the points (escalate_introduced_at = \"{}\"; confidence {confidence:.1}).",
                    held.len(),
                    floor.as_str(),
                    Environment::name(stack.environment),
                    floor.as_str(),
                );
                s.push_str(&cite_grouped(&held, &cite));
                return s;
            } else if esc.is_empty() {
                format!("Needs review: confidence {confidence:.1} is below the threshold {threshold:.0} ({scope}).")
            } else {
                format!("Needs review: {} finding(s) require a person ({scope}; confidence {confidence:.1}).", esc.len())
            };
            s.push_str(&cite_grouped(&esc, &cite));
            if !held.is_empty() {
                s.push_str(&format!(
                    " Also held by the floor for introduced weaknesses ({} or worse in {}):",
                    floor.as_str(),
                    Environment::name(stack.environment)
                ));
                s.push_str(&cite_grouped(&held, &cite));
            }
            s.push_str(&top_costs(findings, &esc));
            s
        }
        Decision::Approve => {
            let mut s = format!("Approved: confidence {confidence:.1} ≥ {threshold:.0}, no deny or escalate findings ({scope}).");
            s.push_str(&top_costs(findings, &[]));
            s
        }
    }
}

/// Cites the first findings of each (rule, address) group, at most three
/// groups: " R at A: message (and 3 more like it). …"
fn cite_grouped(findings: &[&Finding], cite: &dyn Fn(&Finding) -> String) -> String {
    let mut groups: Vec<(&Finding, usize)> = Vec::new();
    for f in findings {
        match groups
            .iter_mut()
            .find(|(g, _)| g.rule_id == f.rule_id && g.address == f.address)
        {
            Some((_, n)) => *n += 1,
            None => groups.push((f, 0)),
        }
    }
    let mut s = String::new();
    for (f, more) in groups.iter().take(3) {
        s.push_str(&format!(" {}", cite(f)));
        if *more > 0 {
            s.push_str(&format!(" (and {more} more like it)"));
        }
        s.push('.');
    }
    if groups.len() > 3 {
        s.push_str(&format!(
            " And {} more.",
            groups[3..].iter().map(|(_, n)| n + 1).sum::<usize>()
        ));
    }
    s
}

/// " Largest factors: X (−3.2), Y (−1.0)." for the findings that cost most.
fn top_costs(findings: &[Finding], already: &[&Finding]) -> String {
    let mut by_cost: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.confidence_cost >= 0.05 && !already.iter().any(|a| std::ptr::eq(*a, *f)))
        .collect();
    by_cost.sort_by(|a, b| b.confidence_cost.total_cmp(&a.confidence_cost));
    if by_cost.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = by_cost
        .iter()
        .take(3)
        .map(|f| match &f.address {
            Some(a) => format!("{} at {a} (−{:.1})", f.rule_id, f.confidence_cost),
            None => format!("{} (−{:.1})", f.message, f.confidence_cost),
        })
        .collect();
    format!(" Largest factors: {}.", parts.join("; "))
}

/// Plans with at least this many changes compute what does not depend on the
/// rule pack on another thread while the rules run.
const PARALLEL_CHANGES: usize = 256;

/// Runs `a` here and `b` on another thread when `parallel`, else one after
/// the other; the results are the same either way.
fn concurrently<A: Send, B: Send>(
    parallel: bool,
    a: impl FnOnce() -> A + Send,
    b: impl Fn() -> B + Send + Sync,
) -> (A, B) {
    if !parallel {
        return (a(), b());
    }
    std::thread::scope(|s| {
        let h = s.spawn(&b);
        let ra = a();
        // A thread that died is redone here, so that its failure shows.
        let rb = h.join().unwrap_or_else(|_| b());
        (ra, rb)
    })
}

/// The dependency graph, the redactor of the plan's sensitive values and the
/// change views: everything of a verdict that the rule pack does not affect.
fn independent_of_rules(plan: &Plan) -> (DependencyGraph, Redactor, Vec<ChangeView>) {
    let graph = plan
        .configuration
        .as_ref()
        .map(DependencyGraph::from_configuration)
        .unwrap_or_default();
    let redactor = Redactor::new(&arbiter_plan::sensitive::sensitive_strings(plan));
    let changes = change_views(plan, &redactor);
    (graph, redactor, changes)
}

/// The changes as shown to a reviewer; attribute values are masked and
/// redacted with the plan's sensitive values.
fn change_views(plan: &Plan, redactor: &Redactor) -> Vec<ChangeView> {
    let changing: Vec<&ResourceChange> = plan.changing().collect();
    // Diffs parse before/after values: split the work over two threads.
    if changing.len() < 256 {
        return changing
            .iter()
            .map(|rc| change_view(rc, redactor))
            .collect();
    }
    let (a, b) = changing.split_at(changing.len() / 2);
    std::thread::scope(|s| {
        let h = s.spawn(|| {
            b.iter()
                .map(|rc| change_view(rc, redactor))
                .collect::<Vec<_>>()
        });
        let mut first: Vec<ChangeView> = a.iter().map(|rc| change_view(rc, redactor)).collect();
        match h.join() {
            Ok(second) => first.extend(second),
            Err(_) => first.extend(b.iter().map(|rc| change_view(rc, redactor))),
        }
        first
    })
}

fn change_view(rc: &ResourceChange, redactor: &Redactor) -> ChangeView {
    let attributes = if matches!(
        rc.action,
        Action::Update | Action::DeleteThenCreate | Action::CreateThenDelete
    ) {
        attribute_changes_masked(&rc.change, redactor)
            .into_iter()
            .filter(|a| {
                !(rc.action != Action::Update
                    && a.after == arbiter_plan::DiffValue::Unknown
                    && a.path.root() == Some("id"))
            })
            .take(MAX_ATTRIBUTES_PER_CHANGE)
            .map(|a| AttributeDelta {
                path: a.path.to_string(),
                before: a.before.render(),
                after: a.after.render(),
            })
            .collect()
    } else {
        Vec::new()
    };
    ChangeView {
        address: rc.address.clone(),
        resource_type: rc.resource_type.clone(),
        action: rc.action.kind().to_string(),
        previous_address: rc.previous_address.clone(),
        attributes,
    }
}

/// Removes every sensitive value of the plan from every string of the
/// verdict (the change views were redacted when they were made).
fn redact(v: &mut Verdict, r: &Redactor) {
    if r.is_empty() {
        return;
    }
    v.explanation = r.text(&v.explanation);
    for f in &mut v.findings {
        f.message = r.text(&f.message);
        if let Some(rem) = &f.remediation {
            f.remediation = Some(r.text(rem));
        }
        r.json(&mut f.evidence);
    }
    for c in &mut v.critics {
        c.summary = r.text(&c.summary);
    }
    arbiter_cost::redact(&mut v.cost, r);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_and_sequential_evaluation_agree() -> Result<(), JudgeError> {
        // Over PARALLEL_CHANGES changes, with findings, secrets and updates.
        let changes: Vec<String> = (0..300)
            .map(|i| match i % 3 {
                0 => format!(r#"{{"address":"aws_security_group_rule.r{i}","type":"aws_security_group_rule","change":{{"actions":["create"],"after":{{"type":"ingress","from_port":22,"to_port":22,"protocol":"tcp","cidr_blocks":["0.0.0.0/0"]}}}}}}"#),
                1 => format!(r#"{{"address":"aws_db_instance.d{i}","type":"aws_db_instance","change":{{"actions":["update"],"before":{{"password":"hunter2-{i}","publicly_accessible":false}},"after":{{"password":"hunter3-{i}","publicly_accessible":true}},"before_sensitive":{{"password":true}},"after_sensitive":{{"password":true}}}}}}"#),
                _ => format!(r#"{{"address":"aws_s3_bucket.b{i}","type":"aws_s3_bucket","change":{{"actions":["delete"],"before":{{"bucket":"b{i}"}},"after":null}}}}"#),
            })
            .collect();
        let text = format!(
            r#"{{"format_version":"1.2","resource_changes":[{}],"configuration":{{"root_module":{{"resources":[{{"address":"aws_db_instance.d1","expressions":{{}}}},{{"address":"aws_s3_bucket.b2","expressions":{{"bucket":{{"references":["aws_db_instance.d1.id","aws_db_instance.d1"]}}}}}}]}}}}}}"#,
            changes.join(",")
        );
        let input = PlanInput::from_bytes(text.as_bytes())?;
        let plan = &input.plan;
        assert!(plan.resource_changes.len() >= PARALLEL_CHANGES);
        let judge = Judge::new(&JudgeConfig::default())?;
        let pack = judge
            .rule_pack()
            .ok_or_else(|| JudgeError::Stack("no pack".into()))?;
        let stack = serde_json::json!({"environment": "prod"});
        let run = |parallel: bool| {
            let (findings, (graph, redactor, views, cost)) = concurrently(
                parallel,
                || pack.evaluate(plan, &stack, &RuleOverrides::default()),
                || {
                    let (graph, redactor, views) = independent_of_rules(plan);
                    let cost = judge.cost.estimate(plan, Some(&graph));
                    (graph, redactor, views, cost)
                },
            );
            (
                findings,
                graph.dependants("aws_db_instance.d1").len(),
                redactor.text("hunter2-1"),
                views,
                cost,
            )
        };
        let (f1, g1, r1, v1, c1) = run(true);
        let (f2, g2, r2, v2, c2) = run(false);
        let (f1, f2) = (f1?, f2?);
        assert!(!f1.is_empty() && g1 > 0 && r1 == "(sensitive)" && v1.len() == 300);
        assert!(c1.computed && !c1.resources.is_empty(), "{c1:?}");
        assert_eq!((f1, g1, r1, v1, c1), (f2, g2, r2, v2, c2));
        Ok(())
    }

    #[test]
    fn a_judge_for_a_plans_types_compiles_only_their_rules() -> Result<(), JudgeError> {
        let input = PlanInput::from_bytes(
            br#"{"format_version":"1.2","resource_changes":[{"address":"aws_security_group_rule.ssh","type":"aws_security_group_rule",
               "change":{"actions":["create"],"after":{"type":"ingress","from_port":22,"to_port":22,"protocol":"tcp","cidr_blocks":["0.0.0.0/0"]}}}],
               "configuration":{"provider_config":{"aws":{"name":"aws","expressions":{"access_key":{"constant_value":"AKIAIOSFODNN7EXAMPLE"}}}}}}"#,
        )?;
        let types = plan_types(&input.plan);
        assert!(
            types.contains("aws_security_group_rule") && types.contains("provider.aws"),
            "{types:?}"
        );
        let judge = Judge::new(&JudgeConfig {
            only_types: Some(types),
            ..Default::default()
        })?;
        let pack = judge
            .rule_pack()
            .ok_or_else(|| JudgeError::Stack("no pack".into()))?;
        let compiled = pack.rules().iter().filter(|r| r.compiled).count();
        assert!(
            compiled > 0 && compiled < 10,
            "{compiled} of {} rules compiled",
            pack.rules().len()
        );
        let v = judge.evaluate(&input, &StackConfig::default())?;
        let ids = v.rule_ids();
        assert!(
            ids.contains("ARB-AWS-NET-001") && ids.contains("ARB-AWS-SECRET-005"),
            "{ids:?}"
        );
        assert!(!serde_json::to_string(&v)
            .unwrap_or_default()
            .contains("AKIAIOSFODNN7EXAMPLE"));
        Ok(())
    }
}
