//! Policy backtests: a candidate plan policy set and/or stack configuration
//! replayed over the stored change requests of a window, on the server (the
//! plans never leave it; only the report does).
//!
//! How it runs: the candidate is checked like a policy-set push; each stack
//! met is resolved once (its other policy sets, the candidate, its context
//! with the candidate's stack configuration laid over it, its waivers) and
//! compiled once per backtest; an async reader streams the window newest
//! first, a page of sealed plans at a time, to workers on the blocking pool,
//! each holding an evaluation slot (the first waited for like any
//! evaluation, the others only taken when free and nobody waits, at most
//! half the pool). Each worker opens, reads and judges plans under the
//! server's evaluation budgets; nothing is written. The whole run stops at
//! the request's time budget (just under the server's request timeout) and
//! says so in the report.

use crate::error::{ApiError, ApiResult};
use crate::lifecycle::{self, PolicyRef};
use crate::AppState;
use arbiter_api::backtest::{
    BacktestItem, BacktestReport, BacktestRequest, CandidateSummary, DecisionChange,
    PeopleDecision, DEFAULT_SINCE_SECONDS, MAX_CHANGE_REQUESTS, MAX_SINCE_SECONDS,
};
use arbiter_judge::{Judge, JudgeConfig, PlanInput, StackConfig};
use arbiter_store::backtest::{ReplayRow, Window};
use arbiter_verdict::{ChangeRelation, Decision, Effect, Verdict};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Largest candidate stack configuration (TOML).
const MAX_STACK_CONFIG_BYTES: usize = 64 * 1024;
/// Plans read from the database at a time.
const PAGE: i64 = 64;
/// Name of candidate files added to the stacks' sets (messages say
/// `candidate/file.rego:3:5`).
const CANDIDATE: &str = "candidate";

/// The candidate, checked.
struct Candidate {
    files: BTreeMap<String, String>,
    digest: Option<String>,
    replaces: Option<String>,
    stack: Option<StackConfig>,
}

/// What a stack's change requests are judged with under the candidate.
struct StackCtx {
    judge: Arc<Judge>,
    config: StackConfig,
}

/// One plan to replay.
struct Job {
    row: ReplayRow,
    ctx: Arc<StackCtx>,
    people: Option<PeopleDecision>,
}

fn parse_decision(s: &str) -> Option<Decision> {
    match s {
        "approve" => Some(Decision::Approve),
        "review" => Some(Decision::Review),
        "reject" => Some(Decision::Reject),
        _ => None,
    }
}

/// SHA-256 over the files' paths and texts, each length-prefixed.
fn files_digest(files: &BTreeMap<String, String>) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for (p, t) in files {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
        h.update((t.len() as u64).to_be_bytes());
        h.update(t.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Checks a request: bounds, names, the stack configuration, and the
/// candidate files compiled alone (as a policy-set push does), so a broken
/// candidate is refused before anything is replayed.
async fn check(req: &BacktestRequest) -> ApiResult<Candidate> {
    if req.files.is_empty() && req.stack_config.is_none() {
        return Err(ApiError::invalid(
            "a backtest needs a candidate: policy files, a stack configuration, or both",
        ));
    }
    if let Some(s) = req.since_seconds {
        if s == 0 || s > MAX_SINCE_SECONDS {
            return Err(ApiError::invalid(format!(
                "since_seconds must be between 1 and {MAX_SINCE_SECONDS} (366 days), got {s}"
            )));
        }
    }
    if let Some(l) = req.limit {
        if l == 0 || l > MAX_CHANGE_REQUESTS {
            return Err(ApiError::invalid(format!(
                "limit must be between 1 and {MAX_CHANGE_REQUESTS}, got {l}"
            )));
        }
    }
    if let Some(s) = &req.stack {
        crate::routes::check_name("stack", s)?;
    }
    if let Some(n) = &req.replaces {
        crate::routes::check_name("policy set", n)?;
        if req.files.is_empty() {
            return Err(ApiError::invalid(format!(
                "replaces names policy set {n:?}, but no candidate files were given"
            )));
        }
    }
    let total: usize = req.files.iter().map(|(k, v)| k.len() + v.len()).sum();
    let max = crate::routes::policies::MAX_SET_BYTES;
    if total > max {
        return Err(ApiError::invalid(format!(
            "the candidate files total {total} bytes; at most {max}"
        )));
    }
    let stack = match &req.stack_config {
        None => None,
        Some(t) if t.len() > MAX_STACK_CONFIG_BYTES => {
            return Err(ApiError::invalid(format!(
                "stack_config is {} bytes; at most {MAX_STACK_CONFIG_BYTES}",
                t.len()
            )))
        }
        Some(t) => Some(
            StackConfig::from_toml(t)
                .map_err(|e| ApiError::invalid(format!("stack_config: {e}")))?,
        ),
    };
    if let (Some(name), Some(cfg)) = (&req.stack, &stack) {
        if cfg.name.as_ref().is_some_and(|n| n != name) {
            return Err(ApiError::invalid(format!(
                "stack_config names stack {:?}, but the backtest is of stack {name:?}",
                cfg.name.as_deref().unwrap_or_default()
            )));
        }
    }
    let digest = (!req.files.is_empty()).then(|| files_digest(&req.files));
    if !req.files.is_empty() {
        let refs = vec![PolicyRef {
            name: req.replaces.clone().unwrap_or_else(|| CANDIDATE.into()),
            version: 0,
            digest: String::new(),
        }];
        let files = vec![req.files.clone()];
        tokio::task::spawn_blocking(move || -> Result<(), String> {
            let loaded = lifecycle::load_sets(&refs, &files).map_err(|e| e.to_string())?;
            Judge::new(&JudgeConfig {
                files: Some(loaded),
                no_builtin_rules: true,
                ..Default::default()
            })
            .map(|_| ())
            .map_err(|e| e.to_string())
        })
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| ApiError::invalid(format!("the candidate policies do not compile: {e}")))?;
    }
    Ok(Candidate {
        files: req.files.clone(),
        digest,
        replaces: req.replaces.clone(),
        stack,
    })
}

/// Resolves a stack for the backtest; `None`: not replayed (gone, or it
/// does not use the replaced set). Compiled judges are shared between
/// stacks with the same policy sets through `judges`.
async fn resolve(
    app: &AppState,
    cand: &Candidate,
    name: &str,
    judges: &mut HashMap<String, Arc<Judge>>,
) -> ApiResult<Option<Arc<StackCtx>>> {
    let Some(stack) = arbiter_store::stacks::get(app.store.pool(), name).await? else {
        return Ok(None);
    };
    let stack = crate::convert::stack(stack);
    let spec = &stack.spec;
    if let Some(r) = &cand.replaces {
        if !spec.policy_sets.iter().any(|s| s == r) {
            return Ok(None);
        }
    }
    let judge = if cand.files.is_empty() {
        lifecycle::judge_for(app, spec).await?.0
    } else {
        let others: Vec<String> = spec
            .policy_sets
            .iter()
            .filter(|s| Some(*s) != cand.replaces.as_ref())
            .cloned()
            .collect();
        let (mut refs, mut files) =
            lifecycle::policy_files(app, &others, arbiter_api::PolicyKind::Plan).await?;
        refs.push(PolicyRef {
            name: cand.replaces.clone().unwrap_or_else(|| CANDIDATE.into()),
            version: 0,
            digest: cand.digest.clone().unwrap_or_default(),
        });
        files.push(cand.files.clone());
        let key = refs
            .iter()
            .map(|r| format!("{}@{}#{}", r.name, r.version, r.digest))
            .collect::<Vec<_>>()
            .join(",");
        match judges.get(&key) {
            Some(j) => j.clone(),
            None => {
                let limits = app.config.policy_limits();
                let j = tokio::task::spawn_blocking(move || {
                    let loaded = lifecycle::load_sets(&refs, &files).map_err(|e| e.to_string())?;
                    Judge::new(&JudgeConfig {
                        files: Some(loaded),
                        limits,
                        ..JudgeConfig::default()
                    })
                    .map_err(|e| e.to_string())
                })
                .await
                .map_err(ApiError::internal)?
                .map_err(|e| {
                    ApiError::invalid(format!(
                        "the candidate does not compile with the policy sets of stack {name:?}: {e}"
                    ))
                })?;
                let j = Arc::new(j);
                judges.insert(key, j.clone());
                j
            }
        }
    };
    let mut config = lifecycle::stack_config(spec);
    config.waivers = crate::routes::waivers::for_judge(app, name).await?;
    if let Some(c) = &cand.stack {
        config = config.overlay(c);
    }
    Ok(Some(Arc::new(StackCtx { judge, config })))
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

/// Replays one change request (on a blocking thread).
fn replay(sealer: &arbiter_store::sealed::Sealer, job: Job, before: Decision) -> BacktestItem {
    let Job { row, ctx, people } = job;
    let judged = arbiter_store::changes::open_plan(sealer, row.id, &row.plan_digest, &row.plan)
        .map_err(|e| e.to_string())
        .and_then(|text| {
            PlanInput::from_vec(text.into_bytes()).map_err(|e| format!("reading plan: {e}"))
        })
        .and_then(|input| {
            ctx.judge
                .evaluate_without_counterfactual(&input, &ctx.config)
                .map_err(|e| e.to_string())
        });
    let (after, after_confidence, reasons, error) = match judged {
        Ok(v) => (
            Some(v.decision),
            Some(v.confidence),
            reasons(&v),
            None::<String>,
        ),
        Err(e) => (None, None, Vec::new(), Some(e)),
    };
    BacktestItem {
        id: Some(row.id),
        plan: None,
        stack: row.stack,
        before,
        before_confidence: row.confidence,
        after,
        after_confidence,
        change: after.map_or(DecisionChange::Failed, |a| {
            DecisionChange::between(before, a)
        }),
        people,
        reasons,
        error,
    }
}

/// Runs a backtest for `principal` (already checked to be a reviewer or an
/// admin).
pub async fn run(
    app: &AppState,
    principal: &str,
    req: BacktestRequest,
) -> ApiResult<BacktestReport> {
    let started = Instant::now();
    let cand = check(&req).await?;
    let timeout = app.config.request_timeout;
    let margin = (timeout / 10).max(Duration::from_secs(1)).min(timeout / 2);
    let deadline = started + timeout.saturating_sub(margin);
    let now = arbiter_store::now_ms();
    let since = req.since_seconds.unwrap_or(DEFAULT_SINCE_SECONDS);
    let limit = req.limit.unwrap_or(MAX_CHANGE_REQUESTS) as usize;
    let stack_filter = req
        .stack
        .clone()
        .or_else(|| cand.stack.as_ref().and_then(|s| s.name.clone()));
    if let Some(s) = &stack_filter {
        if arbiter_store::stacks::get(app.store.pool(), s)
            .await?
            .is_none()
        {
            return Err(ApiError::not_found(format!("stack {s:?} not found")));
        }
    }
    let window = Window {
        since_ms: now.saturating_sub((since as i64).saturating_mul(1000)),
        stack: stack_filter,
    };
    let considered = arbiter_store::backtest::count(app.store.pool(), &window).await? as usize;
    let mut reviews = arbiter_store::backtest::reviews(app.store.pool(), &window).await?;

    // Workers, each holding an evaluation slot.
    let pool = &app.admission.evaluations;
    let first = app.admission.slot(pool, principal).await?;
    let want = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min((pool.cap() / 2).max(1));
    let mut slots = vec![first];
    while slots.len() < want {
        match pool.try_acquire(principal) {
            Some(s) => slots.push(s),
            None => break,
        }
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<(Job, Decision)>(slots.len() * 8);
    let rx = Arc::new(Mutex::new(rx));
    // Replayed items land here as they are made, so that a worker still
    // judging at the deadline (up to one evaluation budget) does not hold
    // back what the others did.
    let done: Arc<Mutex<Vec<BacktestItem>>> = Arc::new(Mutex::new(Vec::new()));
    let mut workers = Vec::new();
    for slot in slots {
        let rx = rx.clone();
        let done = done.clone();
        let sealer = app.store.sealer().clone();
        workers.push(tokio::task::spawn_blocking(move || {
            let _slot = slot;
            loop {
                let next = match rx.lock() {
                    Ok(mut r) => r.blocking_recv(),
                    Err(_) => None,
                };
                let Some((job, before)) = next else { break };
                if Instant::now() >= deadline {
                    // The budget is spent.
                    break;
                }
                let item = replay(&sealer, job, before);
                if let Ok(mut d) = done.lock() {
                    d.push(item);
                }
            }
        }));
    }

    // The reader: the window newest first, a page at a time.
    let mut ctxs: HashMap<String, Option<Arc<StackCtx>>> = HashMap::new();
    let mut judges: HashMap<String, Arc<Judge>> = HashMap::new();
    let mut skipped = 0usize;
    let mut sent = 0usize;
    let mut out_of_time = false;
    let mut before_id = i64::MAX;
    let read: ApiResult<()> = async {
        'pages: loop {
            let rows =
                arbiter_store::backtest::page(app.store.pool(), &window, before_id, PAGE).await?;
            let Some(last) = rows.last() else { break };
            before_id = last.id;
            for row in rows {
                if sent >= limit {
                    break 'pages;
                }
                if Instant::now() >= deadline {
                    out_of_time = true;
                    break 'pages;
                }
                let Some(before) = parse_decision(&row.decision) else {
                    skipped += 1;
                    continue;
                };
                let ctx = match ctxs.get(&row.stack) {
                    Some(c) => c.clone(),
                    None => {
                        let c = resolve(app, &cand, &row.stack, &mut judges).await?;
                        ctxs.insert(row.stack.clone(), c.clone());
                        c
                    }
                };
                let Some(ctx) = ctx else {
                    skipped += 1;
                    continue;
                };
                let people = reviews.remove(&row.id).and_then(|r| {
                    PeopleDecision::from_reviews(&row.status, r.iter().map(String::as_str))
                });
                let job = Job { row, ctx, people };
                let sending = tx.send((job, before));
                match tokio::time::timeout_at(deadline.into(), sending).await {
                    Ok(Ok(())) => sent += 1,
                    // The workers stopped (their budget is spent) or are
                    // all still busy at the deadline.
                    Ok(Err(_)) | Err(_) => {
                        out_of_time = true;
                        break 'pages;
                    }
                }
            }
        }
        Ok(())
    }
    .await;
    drop(tx);
    // Workers finish what they judge; one still busy past the deadline is
    // left to finish on its own (it holds its slot until then).
    let grace = deadline + margin / 2;
    for w in workers {
        match tokio::time::timeout_at(grace.into(), w).await {
            Ok(r) => r.map_err(ApiError::internal)?,
            Err(_) => {
                out_of_time = true;
                break;
            }
        }
    }
    read?;
    let mut items = match done.lock() {
        Ok(mut d) => std::mem::take(&mut *d),
        Err(_) => return Err(ApiError::internal("a backtest worker panicked")),
    };
    if items.len() < sent {
        out_of_time = true;
    }
    items.sort_by_key(|i| std::cmp::Reverse(i.id));
    let replayed = items.len();
    let mut report = BacktestReport::summarize(
        CandidateSummary {
            policy_files: cand.files.len(),
            policy_digest: cand.digest.clone(),
            replaces: cand.replaces.clone(),
            stack_config: cand.stack.is_some(),
        },
        items,
    );
    report.since = Some(arbiter_api::Timestamp::from_unix_ms(window.since_ms));
    report.until = Some(arbiter_api::Timestamp::from_unix_ms(now));
    report.considered = considered;
    report.skipped = skipped;
    report.complete = replayed + skipped >= considered;
    report.incomplete = if out_of_time {
        Some(format!(
            "the time budget ({:.0} s, under the server's request timeout) ran out after {replayed} of {considered} change requests (newest first); narrow the window or the stack, or raise the server's --request-timeout",
            timeout.saturating_sub(margin).as_secs_f64()
        ))
    } else if !report.complete {
        Some(format!(
            "the limit of {limit} change requests was reached: the newest {replayed} of {considered} were replayed"
        ))
    } else {
        None
    };
    report.seconds = (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
    tracing::info!(
        considered,
        replayed,
        skipped,
        seconds = report.seconds,
        "backtest"
    );
    Ok(report)
}
