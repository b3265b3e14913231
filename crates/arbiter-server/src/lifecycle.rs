//! From a submission to a stored, decided change request: judging with the
//! stack's context and policy sets (the engine of `arbiter evaluate`), the
//! agent's scope, the review priority, and the velocity governor.

use crate::error::{ApiError, ApiResult};
use crate::AppState;
use arbiter_api::{
    AgentLimits, AgentScope, ChangeStatus, Environment, ErrorCode, ScopeAction, Stack, StackSpec,
};
use arbiter_judge::{IntroducedFloor, Judge, JudgeConfig, PlanInput, StackConfig};
use arbiter_policy::{ApprovalPolicy, LoadedFiles};
use arbiter_verdict::{Decision, Verdict};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Most compiled policy combinations kept in memory.
const MAX_CACHED: usize = 64;

/// A policy set version used by an evaluation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PolicyRef {
    /// Set name.
    pub name: String,
    /// Version.
    pub version: i64,
    /// Digest of its files.
    pub digest: String,
}

/// Compiled judges and approval policies, by the versions they were built
/// from (a new policy version is a new key, so nothing is ever stale).
#[derive(Default)]
pub struct Compiled {
    judges: Mutex<HashMap<String, Arc<Judge>>>,
    approvals: Mutex<HashMap<String, Arc<ApprovalPolicy>>>,
}

fn key_of(refs: &[PolicyRef]) -> String {
    refs.iter()
        .map(|r| format!("{}@{}#{}", r.name, r.version, r.digest))
        .collect::<Vec<_>>()
        .join(",")
}

fn cache_get<T>(m: &Mutex<HashMap<String, Arc<T>>>, k: &str) -> Option<Arc<T>> {
    m.lock().ok().and_then(|c| c.get(k).cloned())
}

fn cache_put<T>(m: &Mutex<HashMap<String, Arc<T>>>, k: String, v: Arc<T>) {
    if let Ok(mut c) = m.lock() {
        if c.len() >= MAX_CACHED {
            c.clear();
        }
        c.insert(k, v);
    }
}

/// Reads the latest versions of the named plan policy sets.
pub(crate) async fn policy_files(
    app: &AppState,
    names: &[String],
    kind: arbiter_api::PolicyKind,
) -> ApiResult<(
    Vec<PolicyRef>,
    Vec<std::collections::BTreeMap<String, String>>,
)> {
    let mut refs = Vec::new();
    let mut files = Vec::new();
    for n in names {
        let set = arbiter_store::policies::get(app.store.pool(), n, None)
            .await?
            .ok_or_else(|| {
                ApiError::invalid(format!(
                    "the stack uses policy set {n:?}, which does not exist"
                ))
            })?;
        if set.kind != kind {
            return Err(ApiError::invalid(format!(
                "policy set {n:?} is a {} policy set, not {kind}",
                set.kind
            )));
        }
        refs.push(PolicyRef {
            name: set.name.clone(),
            version: set.version,
            digest: set.digest.clone(),
        });
        files.push(set.files.unwrap_or_default());
    }
    Ok((refs, files))
}

/// Turns stored policy files into loaded sources, each path prefixed with
/// its set's name (so messages say `set/file.rego:3:5`).
pub fn load_sets(
    refs: &[PolicyRef],
    files: &[std::collections::BTreeMap<String, String>],
) -> Result<LoadedFiles, arbiter_policy::PolicyError> {
    let mut all = LoadedFiles::default();
    for (r, f) in refs.iter().zip(files) {
        let named: std::collections::BTreeMap<String, String> = f
            .iter()
            .map(|(p, t)| (format!("{}/{p}", r.name), t.clone()))
            .collect();
        let l = arbiter_policy::load_sources(&named, false)?;
        all.modules.extend(l.modules);
        all.data.extend(l.data);
    }
    Ok(all)
}

/// The judge for a stack's policy sets (compiled once per version set).
pub async fn judge_for(
    app: &AppState,
    spec: &StackSpec,
) -> ApiResult<(Arc<Judge>, Vec<PolicyRef>)> {
    let (refs, files) = policy_files(app, &spec.policy_sets, arbiter_api::PolicyKind::Plan).await?;
    let key = key_of(&refs);
    if let Some(j) = cache_get(&app.compiled.judges, &key) {
        return Ok((j, refs));
    }
    let r2 = refs.clone();
    let limits = app.config.policy_limits();
    let judge = tokio::task::spawn_blocking(move || {
        let loaded = load_sets(&r2, &files).map_err(|e| e.to_string())?;
        Judge::new(&JudgeConfig {
            files: Some(loaded),
            limits,
            ..JudgeConfig::default()
        })
        .map_err(|e| e.to_string())
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(|e| ApiError::invalid(format!("the stack's policies do not compile: {e}")))?;
    let judge = Arc::new(judge);
    cache_put(&app.compiled.judges, key, judge.clone());
    Ok((judge, refs))
}

/// The approval policy of a stack (its own set, or the built-in one).
pub async fn approval_for(app: &AppState, spec: &StackSpec) -> ApiResult<Arc<ApprovalPolicy>> {
    let names: Vec<String> = spec.approval_policy.iter().cloned().collect();
    let (refs, files) = policy_files(app, &names, arbiter_api::PolicyKind::Approval).await?;
    let key = key_of(&refs);
    if let Some(p) = cache_get(&app.compiled.approvals, &key) {
        return Ok(p);
    }
    // Compiling runs the policy once (its check): user Rego, as slow as
    // its author made it, so never on the async threads.
    let limits = app.config.policy_limits();
    let p = tokio::task::spawn_blocking(move || {
        if refs.is_empty() {
            ApprovalPolicy::builtin()
        } else {
            load_sets(&refs, &files).and_then(|l| ApprovalPolicy::compile_within(&l, limits))
        }
        .map(|p| p.with_limits(limits))
        .map_err(|e| e.to_string())
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(|e| ApiError::invalid(format!("the stack's approval policy does not compile: {e}")))?;
    let p = Arc::new(p);
    cache_put(&app.compiled.approvals, key, p.clone());
    Ok(p)
}

/// The judging context of a stack.
pub fn stack_config(spec: &StackSpec) -> StackConfig {
    StackConfig {
        name: Some(spec.name.clone()),
        environment: Some(spec.environment.as_str().to_string()),
        labels: spec.labels.clone(),
        monthly_budget_usd: spec.monthly_budget_usd,
        auto_apply_threshold: spec.auto_apply_threshold,
        // Validated when stored; a value that no longer parses falls back to
        // the environment's default, never to "off".
        escalate_introduced_at: spec
            .escalate_introduced_at
            .as_deref()
            .and_then(IntroducedFloor::parse),
        ..StackConfig::default()
    }
}

/// A judged plan.
pub struct Judged {
    /// The verdict.
    pub verdict: Verdict,
    /// Policy versions used.
    pub policies: Vec<PolicyRef>,
    /// Milliseconds spent judging.
    pub millis: f64,
}

/// Judges plan text for a stack, off the async threads.
///
/// `slot` (an evaluation slot, see [`crate::admission`]) is held by the
/// judging thread until it finishes, even when the request gave up on it
/// (a timeout): the slots count the work actually running.
pub async fn judge(
    app: &AppState,
    stack: &Stack,
    plan: String,
    slot: crate::admission::Slot,
) -> ApiResult<Judged> {
    let (judge, policies) = judge_for(app, &stack.spec).await?;
    let mut cfg = stack_config(&stack.spec);
    cfg.waivers = crate::routes::waivers::for_judge(app, &stack.spec.name).await?;
    let t = std::time::Instant::now();
    let verdict = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let input = PlanInput::from_vec(plan.into_bytes())
            .map_err(|e| ApiError::new(ErrorCode::InvalidPlan, format!("reading plan: {e}")))?;
        judge.evaluate(&input, &cfg).map_err(|e| match e {
            arbiter_judge::JudgeError::Plan(p) => {
                ApiError::new(ErrorCode::InvalidPlan, format!("reading plan: {p}"))
            }
            other => ApiError::invalid(format!("the plan could not be judged: {other}")),
        })
    })
    .await
    .map_err(ApiError::internal)??;
    let millis = t.elapsed().as_secs_f64() * 1e3;
    app.metrics.evaluation(millis / 1e3);
    Ok(Judged {
        verdict,
        policies,
        millis,
    })
}

/// Shell-style glob match with `*` (any run) and `?` (one character).
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let (mut star, mut mark) = (None, 0usize);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Whether an agent's scope covers a stack.
pub fn stack_in_scope(scope: &AgentScope, spec: &StackSpec) -> bool {
    scope.stacks.iter().any(|g| glob(g, &spec.name))
        || spec.labels.iter().any(|l| scope.stack_labels.contains(l))
}

/// The scope action a verdict's change needs, from the plan action's
/// one-word kind (`arbiter_plan::model::Action::kind`): `forget` removes a
/// resource from management, so it needs `delete`; reads and no-ops need
/// none. The one mapping from plan actions to [`ScopeAction`].
pub fn scope_action(kind: &str) -> Option<ScopeAction> {
    match kind {
        "forget" => Some(ScopeAction::Delete),
        k => k.parse().ok(),
    }
}

/// Every way a judged change exceeds an agent's scope, each a sentence.
pub fn scope_violations(scope: &AgentScope, spec: &StackSpec, verdict: &Verdict) -> Vec<String> {
    let mut out = Vec::new();
    if !stack_in_scope(scope, spec) {
        out.push(format!(
            "stack {:?} is outside the agent's scope (stacks {:?}, labels {:?})",
            spec.name, scope.stacks, scope.stack_labels
        ));
    }
    let mut bad_actions: Vec<String> = Vec::new();
    let mut bad_types: Vec<String> = Vec::new();
    for c in &verdict.changes {
        if let Some(action) = scope_action(&c.action) {
            if !scope.actions.contains(&action) && bad_actions.len() < 5 {
                bad_actions.push(format!("{action} {}", c.address));
            }
        }
        if !scope
            .resource_types
            .iter()
            .any(|g| glob(g, &c.resource_type))
            && bad_types.len() < 5
        {
            bad_types.push(format!("{} ({})", c.address, c.resource_type));
        }
    }
    if !bad_actions.is_empty() {
        out.push(format!(
            "actions outside the agent's scope (allowed: {}): {}",
            scope
                .actions
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            bad_actions.join(", ")
        ));
    }
    if !bad_types.is_empty() {
        out.push(format!(
            "resource types outside the agent's scope (allowed: {}): {}",
            scope.resource_types.join(", "),
            bad_types.join(", ")
        ));
    }
    let changed = verdict.summary.changing() as u64;
    if let Some(max) = scope.max_blast_radius {
        if changed > max {
            out.push(format!(
                "the change touches {changed} resources; the agent may change at most {max} per change request"
            ));
        }
    }
    if let Some(max) = scope.max_monthly_cost_increase_usd {
        if verdict.cost.computed && verdict.cost.monthly_delta_usd > max {
            out.push(format!(
                "the change adds ${:.2}/month; the agent may add at most ${max:.2}/month",
                verdict.cost.monthly_delta_usd
            ));
        }
    }
    out
}

/// Weight of an environment in the review priority: how much a change there
/// can hurt, the critics' own table ([`arbiter_critics::Environment::weight`],
/// which confidence uses too), so the queue and the score never disagree.
/// An environment the critics do not know weighs like production.
pub fn environment_weight(env: Environment) -> f64 {
    Environment::weight(Some(env))
}

/// Review priority = risk × environment weight, where risk is the share of
/// confidence lost (0–1); higher is reviewed first.
pub fn priority(verdict: &Verdict, env: Environment) -> f64 {
    let risk = ((100.0 - verdict.confidence) / 100.0).clamp(0.0, 1.0);
    (risk * environment_weight(env) * 10_000.0).round() / 10_000.0
}

/// The status a fresh change request lands in, and why.
pub fn initial_status(
    verdict: &Verdict,
    violations: &[String],
    cost_unverified: bool,
) -> (ChangeStatus, Option<String>) {
    if !violations.is_empty() {
        return (
            ChangeStatus::Rejected,
            Some(format!("scope: {}", violations.join("; "))),
        );
    }
    match verdict.decision {
        Decision::Reject => (ChangeStatus::Rejected, Some(verdict.explanation.clone())),
        Decision::Review => (ChangeStatus::PendingReview, None),
        Decision::Approve if cost_unverified => (
            ChangeStatus::PendingReview,
            Some(
                "the agent's cost limit could not be checked: the plan's cost was not computed"
                    .into(),
            ),
        ),
        Decision::Approve => (ChangeStatus::Approved, None),
    }
}

/// The governor's verdict on one more submission.
#[derive(Debug, Clone, PartialEq)]
pub enum Governor {
    /// Within the limits.
    Allowed,
    /// Over a limit: what, and seconds until a retry can pass.
    Limited {
        /// `rate` or `blast_radius`.
        kind: &'static str,
        /// What was exceeded.
        message: String,
        /// Seconds to wait.
        retry_after: u64,
    },
}

/// Checks an agent's submission rate and hourly blast radius, given its
/// submissions of the last hour as `(created_at ms, resources changed)`,
/// oldest first.
pub fn govern(limits: &AgentLimits, recent: &[(i64, i64)], now: i64, resources: i64) -> Governor {
    let minute_ago = now - 60_000;
    let in_minute: Vec<&(i64, i64)> = recent.iter().filter(|(t, _)| *t > minute_ago).collect();
    if in_minute.len() as u64 >= u64::from(limits.submissions_per_minute) {
        // The window frees a place when the oldest of the last
        // `limit` submissions leaves it.
        let k = in_minute.len() - limits.submissions_per_minute as usize;
        let t = in_minute.get(k).map(|(t, _)| *t).unwrap_or(now);
        let wait = (t + 60_000 - now).max(0);
        return Governor::Limited {
            kind: "rate",
            message: format!(
                "more than {} submissions in a minute",
                limits.submissions_per_minute
            ),
            retry_after: ((wait + 999) / 1000).max(1) as u64,
        };
    }
    let hour_ago = now - 3_600_000;
    let used: i64 = recent
        .iter()
        .filter(|(t, _)| *t > hour_ago)
        .map(|(_, r)| r)
        .sum();
    let limit = limits.blast_radius_per_hour as i64;
    if used + resources > limit {
        if resources > limit {
            return Governor::Limited {
                kind: "blast_radius",
                message: format!(
                    "this change alone touches {resources} resources, over the agent's hourly budget of {limit}"
                ),
                retry_after: 3600,
            };
        }
        // Wait until enough of the window's resources age out.
        let mut freed = 0;
        let mut at = now + 3_600_000;
        for (t, r) in recent.iter().filter(|(t, _)| *t > hour_ago) {
            freed += r;
            if used - freed + resources <= limit {
                at = t + 3_600_000;
                break;
            }
        }
        return Governor::Limited {
            kind: "blast_radius",
            message: format!(
                "{used} resources changed in the last hour; {resources} more would exceed the agent's hourly budget of {limit}"
            ),
            retry_after: (((at - now).max(0) + 999) / 1000).max(1) as u64,
        };
    }
    Governor::Allowed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_plan_action_that_changes_something_needs_a_scope_action() {
        use arbiter_plan::model::Action;
        for a in Action::ALL {
            let want = match a {
                Action::NoOp | Action::Read => None,
                Action::Create => Some(ScopeAction::Create),
                Action::Update => Some(ScopeAction::Update),
                Action::Delete | Action::Forget | Action::CreateThenForget => {
                    Some(ScopeAction::Delete)
                }
                Action::DeleteThenCreate | Action::CreateThenDelete => Some(ScopeAction::Replace),
            };
            assert_eq!(scope_action(a.kind()), want, "{a}");
            assert_eq!(want.is_some(), a.is_change(), "{a}");
        }
    }

    #[test]
    fn review_priority_orders_environments_by_weight() {
        // The weights order the queue: prod, staging, dev, ephemeral.
        let w: Vec<f64> = Environment::ALL
            .iter()
            .map(|e| environment_weight(*e))
            .collect();
        assert!(w.windows(2).all(|p| p[0] > p[1]), "{w:?}");
    }

    #[test]
    fn globs_match_like_a_shell() {
        assert!(glob("*", "anything"));
        assert!(glob("web-*", "web-prod"));
        assert!(!glob("web-*", "api-prod"));
        assert!(glob("aws_s3_*", "aws_s3_bucket_policy"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "abbc"));
        assert!(glob("*-prod", "payments-prod"));
        assert!(glob("", ""));
        assert!(!glob("", "x"));
    }

    #[test]
    fn the_governor_limits_rate_and_blast_radius_with_retry_times() {
        let limits = AgentLimits {
            submissions_per_minute: 3,
            blast_radius_per_hour: 10,
        };
        let now = 10_000_000;
        let recent = vec![(now - 50_000, 1), (now - 20_000, 1)];
        assert_eq!(govern(&limits, &recent, now, 1), Governor::Allowed);
        let recent = vec![(now - 50_000, 1), (now - 20_000, 1), (now - 1_000, 1)];
        match govern(&limits, &recent, now, 1) {
            Governor::Limited {
                kind, retry_after, ..
            } => {
                assert_eq!(kind, "rate");
                assert_eq!(retry_after, 10);
            }
            other => unreachable!("{other:?}"),
        }
        let recent = vec![(now - 3_000_000, 6), (now - 100_000, 3)];
        match govern(&limits, &recent, now, 2) {
            Governor::Limited {
                kind, retry_after, ..
            } => {
                assert_eq!(kind, "blast_radius");
                assert_eq!(retry_after, 600);
            }
            other => unreachable!("{other:?}"),
        }
        assert!(matches!(
            govern(&limits, &[], now, 11),
            Governor::Limited {
                retry_after: 3600,
                ..
            }
        ));
    }
}
