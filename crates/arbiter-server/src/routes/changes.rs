//! Change requests: submission, the review queue, reviews, cancellation.

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::lifecycle::{self, Governor};
use crate::AppState;
use arbiter_api::{
    ChangeRequest, ChangeSource, ChangeStatus, Decision, DryRun, ErrorCode, Page, ReviewOutcome,
    Role, Stack, Submission, Timestamp,
};
use arbiter_store::changes::{Filter, NewChangeRequest};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

/// Version of the engine recorded with every evaluation.
pub const ENGINE_VERSION: &str = concat!("arbiter ", env!("CARGO_PKG_VERSION"));

/// Longest intent text accepted.
const MAX_INTENT: usize = 10_000;

fn may_submit(p: &Principal) -> ApiResult<()> {
    match p {
        Principal::Agent { .. } => Ok(()),
        Principal::User { .. } => p.require(Role::Reviewer),
    }
}

/// May `p` see this change request? People: yes; agents: their own.
fn may_see(p: &Principal, cr: &ChangeRequest) -> bool {
    match p {
        Principal::User { .. } => true,
        Principal::Agent { .. } => cr.submitter == p.id(),
    }
}

fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(v) => {
            let s = v
                .to_str()
                .ok()
                .map(str::trim)
                .filter(|s| !s.is_empty() && s.len() <= 200)
                .ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::InvalidIdempotencyKey,
                        "Idempotency-Key must be 1-200 visible ASCII characters",
                    )
                })?;
            Ok(Some(s.to_string()))
        }
    }
}

/// The stack named `name` as the caller may know it. To an agent, a stack
/// outside its scope does not exist: `None`, exactly as for a missing one,
/// so that no answer (status, body, timing of judging) tells them apart.
async fn visible_stack(app: &AppState, p: &Principal, name: &str) -> ApiResult<Option<Stack>> {
    Ok(arbiter_store::stacks::get(app.store.pool(), name)
        .await?
        .map(crate::convert::stack)
        .filter(|s| match p {
            Principal::User { .. } => true,
            Principal::Agent { scope, .. } => lifecycle::stack_in_scope(scope, &s.spec),
        }))
}

fn stack_not_found(name: &str) -> ApiError {
    ApiError::not_found(format!("stack {name:?} not found"))
}

/// Why an agent's submission to a stack it may not see (missing, or
/// outside its scope: the same words for both) was rejected.
pub fn hidden_stack_reason(name: &str) -> String {
    format!("scope: stack {name:?} does not exist or is outside the agent's scope")
}

async fn fetch(app: &AppState, id: i64, with_verdict: bool) -> ApiResult<ChangeRequest> {
    arbiter_store::changes::get(app.store.pool(), id, with_verdict)
        .await?
        .map(crate::convert::change_request)
        .ok_or_else(|| ApiError::not_found(format!("change request {id} not found")))
}

enum Outcome {
    /// Id and commit time.
    Created(i64, i64),
    Existing(i64, String),
    Limited(Governor),
}

/// `POST /api/v1/change-requests`: judge a plan and store the change
/// request with its decision. 201 once it is durably stored.
pub async fn submit(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    may_submit(&p)?;
    let idem = idempotency_key(&headers)?;
    let submitter = p.id();
    let request_digest = arbiter_api::signing::sha256_hex(&body);
    if let Some(k) = &idem {
        if let Some((id, digest)) =
            arbiter_store::changes::by_idempotency_key(app.store.pool(), &submitter, k).await?
        {
            return replayed(&app, id, &digest, &request_digest)
                .await
                .map(IntoResponse::into_response);
        }
    }
    let sub: Submission = crate::intake::parse_json(body.clone()).await?;
    if sub.intent.as_ref().is_some_and(|i| i.len() > MAX_INTENT) {
        return Err(ApiError::invalid(format!(
            "intent is longer than {MAX_INTENT} bytes"
        )));
    }
    let run =
        crate::runs::run_config_of(&app, sub.config.clone(), sub.variables.clone(), false).await?;
    let Some(stack) = visible_stack(&app, &p, &sub.stack).await? else {
        if !matches!(p, Principal::Agent { .. }) {
            return Err(stack_not_found(&sub.stack));
        }
        // The attempt is recorded and rejected without judging (a verdict
        // would tell the stack's context), alike for a missing stack and
        // one outside the agent's scope.
        let unjudged = Unjudged {
            stack: sub.stack,
            plan: sub.plan.get().to_string(),
            intent: sub.intent,
            source: sub.source,
            idempotency_key: idem,
            request_digest,
        };
        return refuse_hidden(&app, &p, unjudged)
            .await
            .map(IntoResponse::into_response);
    };
    let proposal = Proposal {
        stack,
        plan: sub.plan.get().to_string(),
        intent: sub.intent,
        source: sub.source,
        idempotency_key: idem,
        request_digest,
        run,
    };
    propose(&app, &p, proposal, None)
        .await
        .map(IntoResponse::into_response)
}

/// A plan to turn into a change request: what `POST /api/v1/change-requests`
/// received, or a plan the server built (a rollback).
pub struct Proposal {
    /// The target stack.
    pub stack: Stack,
    /// The plan JSON text.
    pub plan: String,
    /// Intent.
    pub intent: Option<String>,
    /// Source.
    pub source: Option<ChangeSource>,
    /// The client's `Idempotency-Key`.
    pub idempotency_key: Option<String>,
    /// Hex SHA-256 of the request body.
    pub request_digest: String,
    /// What a run applies once it is approved (`may_auto_apply` is set
    /// from the submitter here); `None`: nothing to run.
    pub run: Option<arbiter_store::runs::RunConfig>,
}

/// Work done in the transaction that stores a new change request, given its
/// id (recording what the change request carries, e.g. a rollback): if it
/// fails, the change request is not stored either.
pub type AfterInsert = Box<
    dyn for<'a> FnOnce(
            &'a mut arbiter_store::WriteCtx,
            i64,
        ) -> arbiter_store::BoxFuture<'a, arbiter_store::Result<()>>
        + Send,
>;

/// A change request made by [`propose`].
pub struct Proposed {
    /// The change request, with its verdict.
    pub change_request: ChangeRequest,
    /// An earlier request with the same Idempotency-Key and body.
    pub replayed: bool,
}

impl IntoResponse for Proposed {
    fn into_response(self) -> Response {
        let id = self.change_request.id;
        if self.replayed {
            let mut r = (StatusCode::OK, Json(self.change_request)).into_response();
            r.headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            return r;
        }
        let mut r = (StatusCode::CREATED, Json(self.change_request)).into_response();
        if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/change-requests/{id}")) {
            r.headers_mut().insert(axum::http::header::LOCATION, v);
        }
        r
    }
}

/// The one path from a plan to a stored, decided change request: judged
/// with the stack's policies, checked against an agent's scope and velocity
/// limits, stored with its evaluation and audit entries (and `after`) in one
/// transaction.
pub async fn propose(
    app: &AppState,
    p: &Principal,
    proposal: Proposal,
    after: Option<AfterInsert>,
) -> ApiResult<Proposed> {
    let Proposal {
        stack,
        plan: plan_text,
        intent,
        source,
        idempotency_key: idem,
        request_digest,
        run,
    } = proposal;
    let submitter = p.id();
    let plan_digest = arbiter_api::signing::sha256_hex(plan_text.as_bytes());
    let slot = app
        .admission
        .slot(&app.admission.evaluations, &submitter)
        .await?;
    let judged = lifecycle::judge(app, &stack, plan_text.clone(), slot).await?;
    let plan_stored = seal_plan(app, &plan_digest, plan_text).await?;
    let verdict = &judged.verdict;

    let (violations, limits, may_auto, key_id) = match p {
        Principal::Agent {
            scope,
            limits,
            key_id,
            ..
        } => (
            lifecycle::scope_violations(scope, &stack.spec, verdict),
            Some(limits.clone()),
            scope.may_auto_apply,
            Some(key_id.clone()),
        ),
        Principal::User { .. } => (Vec::new(), None, true, None),
    };
    let cost_unverified = matches!(p, Principal::Agent { scope, .. }
        if scope.max_monthly_cost_increase_usd.is_some() && !verdict.cost.computed);
    let (status, reason) = lifecycle::initial_status(verdict, &violations, cost_unverified);
    let resources = verdict.summary.changing() as i64;
    let now = arbiter_store::now_ms();
    let new = NewChangeRequest {
        stack: stack.spec.name.clone(),
        submitter: submitter.clone(),
        key_id,
        idempotency_key: idem.clone(),
        request_digest: request_digest.clone(),
        intent,
        source: source.map(crate::convert::source_doc),
        plan_digest,
        plan: plan_stored,
        status,
        decision: Some(verdict.decision),
        confidence: Some(verdict.confidence),
        priority: lifecycle::priority(verdict, stack.spec.environment),
        cost_delta_usd: verdict
            .cost
            .computed
            .then_some(verdict.cost.monthly_delta_usd),
        resources_changed: resources,
        reason,
        auto_apply: status == ChangeStatus::Approved && stack.spec.auto_apply && may_auto,
        expires_at: (status == ChangeStatus::PendingReview)
            .then(|| now + app.config.review_ttl.as_millis() as i64),
        verdict: Some(serde_json::to_string(verdict).map_err(ApiError::internal)?),
        policy_versions: serde_json::to_string(&judged.policies).map_err(ApiError::internal)?,
        engine_version: ENGINE_VERSION.into(),
        duration_ms: judged.millis,
    };
    let answer = answer_of(&new);
    let verdict_value = serde_json::to_value(&judged.verdict).map_err(ApiError::internal)?;
    let decision = judged.verdict.decision;
    let run = run.map(|mut r| {
        r.may_auto_apply = may_auto;
        (r, stack.spec.clone())
    });
    record(
        app,
        new,
        limits,
        answer,
        after,
        Some((decision, verdict_value)),
        run,
    )
    .await
}

/// A plan's text as stored (compressed, sealed with the data key), made
/// on the blocking pool: CPU work stays off the async threads and out of
/// the writer.
async fn seal_plan(app: &AppState, plan_digest: &str, text: String) -> ApiResult<Vec<u8>> {
    let sealer = app.store.sealer().clone();
    let digest = plan_digest.to_string();
    tokio::task::spawn_blocking(move || arbiter_store::changes::seal_plan(&sealer, &digest, &text))
        .await
        .map_err(ApiError::internal)
}

/// A submission not judged: its stack is hidden from the agent.
struct Unjudged {
    stack: String,
    plan: String,
    intent: Option<String>,
    source: Option<ChangeSource>,
    idempotency_key: Option<String>,
    request_digest: String,
}

/// Records an agent's submission to a stack it may not see (missing or
/// outside its scope) as a rejected change request, without judging it;
/// its velocity limits apply as to any submission.
async fn refuse_hidden(app: &AppState, p: &Principal, u: Unjudged) -> ApiResult<Proposed> {
    let (limits, key_id) = match p {
        Principal::Agent { limits, key_id, .. } => (Some(limits.clone()), Some(key_id.clone())),
        Principal::User { .. } => (None, None),
    };
    let reason = Some(hidden_stack_reason(&u.stack));
    let plan_digest = arbiter_api::signing::sha256_hex(u.plan.as_bytes());
    let plan = seal_plan(app, &plan_digest, u.plan).await?;
    let new = NewChangeRequest {
        stack: u.stack,
        submitter: p.id(),
        key_id,
        idempotency_key: u.idempotency_key,
        request_digest: u.request_digest,
        intent: u.intent,
        source: u.source.map(crate::convert::source_doc),
        plan_digest,
        reason,
        plan,
        status: ChangeStatus::Rejected,
        decision: None,
        confidence: None,
        priority: 0.0,
        cost_delta_usd: None,
        resources_changed: 0,
        auto_apply: false,
        expires_at: None,
        verdict: None,
        policy_versions: "[]".into(),
        engine_version: ENGINE_VERSION.into(),
        duration_ms: 0.0,
    };
    let answer = answer_of(&new);
    record(app, new, limits, answer, None, None, None).await
}

/// The answer to a new change request, built from what is stored without
/// reading it back (the id and times are set once it is committed).
fn answer_of(new: &NewChangeRequest) -> ChangeRequest {
    ChangeRequest {
        id: 0,
        revision: 1,
        stack: new.stack.clone(),
        submitter: new.submitter.clone(),
        status: new.status,
        decision: new.decision,
        confidence: new.confidence,
        priority: new.priority,
        cost_delta_usd: new.cost_delta_usd,
        resources_changed: new.resources_changed,
        reason: new.reason.clone(),
        auto_apply: new.auto_apply,
        intent: new.intent.clone(),
        source: new.source.clone().map(crate::convert::source),
        reviews: Vec::new(),
        // Set from the commit's clock once stored.
        created_at: Timestamp::from_unix_ms(0),
        updated_at: Timestamp::from_unix_ms(0),
        expires_at: new.expires_at.map(Timestamp::from_unix_ms),
        verdict: None,
    }
}

/// Stores a new change request through the writer, after the idempotency
/// and velocity checks, and answers it. `judged` is the engine's decision
/// and verdict (none for a submission refused before judging).
async fn record(
    app: &AppState,
    new: NewChangeRequest,
    limits: Option<arbiter_api::AgentLimits>,
    mut answer: ChangeRequest,
    after: Option<AfterInsert>,
    judged: Option<(Decision, serde_json::Value)>,
    run: Option<(arbiter_store::runs::RunConfig, arbiter_api::StackSpec)>,
) -> ApiResult<Proposed> {
    let request_digest = new.request_digest.clone();
    let status = new.status;
    let outcome = app
        .store
        .write(move |cx| {
            Box::pin(async move {
                if let Some(k) = &new.idempotency_key {
                    if let Some((id, d)) =
                        arbiter_store::changes::by_idempotency_key_in(cx, &new.submitter, k).await?
                    {
                        return Ok(Outcome::Existing(id, d));
                    }
                }
                if let Some(limits) = &limits {
                    let now = cx.now_ms();
                    let hour_ago = now - 3_600_000;
                    // Counters first (cheap, bounded); the rows only when a
                    // limit may be reached, for the exact decision and
                    // Retry-After.
                    let (in_minute, in_hour) =
                        arbiter_store::changes::velocity(cx, &new.submitter, now).await?;
                    let over = in_minute >= i64::from(limits.submissions_per_minute)
                        || in_hour + new.resources_changed > limits.blast_radius_per_hour as i64;
                    if over {
                        let recent =
                            arbiter_store::changes::recent(cx, &new.submitter, hour_ago).await?;
                        let g = lifecycle::govern(limits, &recent, now, new.resources_changed);
                        if let Governor::Limited { kind, message, .. } = &g {
                            let agent = new.submitter.trim_start_matches("agent:").to_string();
                            arbiter_store::changes::governor_event(cx, &agent, kind, message)
                                .await?;
                            return Ok(Outcome::Limited(g));
                        }
                    }
                }
                let id = arbiter_store::changes::insert(cx, &new).await?;
                if let Some(after) = after {
                    after(cx, id).await?;
                }
                if let Some((cfg, spec)) = &run {
                    arbiter_store::runs::set_run_config(cx, id, cfg).await?;
                    if new.status == ChangeStatus::Approved {
                        crate::runs::queue_in(cx, id, spec, "system").await?;
                    }
                }
                Ok(Outcome::Created(id, cx.now_ms()))
            })
        })
        .await?;
    match outcome {
        Outcome::Created(id, at) => {
            app.runs.queued.notify_waiters();
            app.metrics.submission();
            if let Some((decision, _)) = &judged {
                app.metrics.decision(*decision, status);
            }
            answer.id = id;
            answer.created_at = Timestamp::from_unix_ms(at);
            answer.updated_at = answer.created_at;
            answer.verdict = judged.map(|(_, v)| v);
            Ok(Proposed {
                change_request: answer,
                replayed: false,
            })
        }
        Outcome::Existing(id, digest) => replayed(app, id, &digest, &request_digest).await,
        Outcome::Limited(Governor::Limited {
            kind,
            message,
            retry_after,
        }) => {
            app.metrics.rate_limited(kind);
            let mut e = ApiError::new(
                if kind == "rate" {
                    ErrorCode::RateLimited
                } else {
                    ErrorCode::BlastRadiusExceeded
                },
                format!("velocity limit: {message}; retry in {retry_after} s"),
            );
            e.retry_after = Some(retry_after);
            Err(e)
        }
        Outcome::Limited(Governor::Allowed) => {
            Err(ApiError::internal("governor allowed yet limited"))
        }
    }
}

/// The answer to a retried submission: the original change request (200),
/// unless the key was reused for a different body (422).
async fn replayed(app: &AppState, id: i64, stored: &str, digest: &str) -> ApiResult<Proposed> {
    if stored != digest {
        return Err(ApiError::new(
            ErrorCode::IdempotencyKeyReused,
            format!("this Idempotency-Key was used for change request {id} with a different body"),
        ));
    }
    Ok(Proposed {
        change_request: fetch(app, id, true).await?,
        replayed: true,
    })
}

/// `POST /api/v1/evaluate`: "would this be approved, and why?" Judges the
/// plan for the stack (and the agent's scope) without storing anything.
pub async fn dry_run(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
    body: Bytes,
) -> ApiResult<Json<DryRun>> {
    may_submit(&p)?;
    if let Principal::Agent { limits, .. } = &p {
        // Dry runs store nothing, so the governor's counters never see
        // them: the agent's per-minute limit applies here, per replica.
        let per_minute = limits.submissions_per_minute;
        let seen = app
            .admission
            .dry_runs
            .check(&p.id(), per_minute, std::time::Instant::now());
        if let Err(retry_after) = seen {
            app.metrics.rate_limited("rate");
            let mut e = ApiError::new(ErrorCode::RateLimited,
                format!(
                    "velocity limit: more than {per_minute} dry runs in a minute; retry in {retry_after} s"
                ),
            );
            e.retry_after = Some(retry_after);
            return Err(e);
        }
    }
    let sub: Submission = crate::intake::parse_json(body.clone()).await?;
    let stack = visible_stack(&app, &p, &sub.stack)
        .await?
        .ok_or_else(|| stack_not_found(&sub.stack))?;
    let slot = app
        .admission
        .slot(&app.admission.evaluations, &p.id())
        .await?;
    let judged = lifecycle::judge(&app, &stack, sub.plan.get().to_string(), slot).await?;
    let violations = match &p {
        Principal::Agent { scope, .. } => {
            lifecycle::scope_violations(scope, &stack.spec, &judged.verdict)
        }
        Principal::User { .. } => Vec::new(),
    };
    let (status, reason) = lifecycle::initial_status(&judged.verdict, &violations, false);
    Ok(Json(DryRun {
        reason,
        scope_violations: violations,
        status,
        verdict: serde_json::to_value(&judged.verdict).map_err(ApiError::internal)?,
    }))
}

/// Query of `GET /api/v1/change-requests`.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    status: Option<String>,
    stack: Option<String>,
    submitter: Option<String>,
    before: Option<i64>,
    limit: Option<i64>,
}

/// `GET /api/v1/change-requests`: newest first; agents see their own.
pub async fn list(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Page<ChangeRequest>>> {
    let status = q
        .status
        .as_deref()
        .map(str::parse::<ChangeStatus>)
        .transpose()
        .map_err(|e| ApiError::new(ErrorCode::InvalidQuery, e.to_string()))?;
    let submitter = match &p {
        Principal::Agent { .. } => Some(p.id()),
        Principal::User { .. } => q.submitter,
    };
    let items = arbiter_store::changes::list(
        app.store.pool(),
        &Filter {
            status,
            stack: q.stack,
            submitter,
            before_id: q.before,
            limit: q.limit,
        },
    )
    .await
    .map(crate::convert::change_requests)?;
    Ok(Json(Page { items }))
}

/// `GET /api/v1/change-requests/{id}` with its verdict.
pub async fn show(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
) -> ApiResult<Json<ChangeRequest>> {
    let cr = fetch(&app, id, true).await?;
    if !may_see(&p, &cr) {
        return Err(ApiError::not_found(format!(
            "change request {id} not found"
        )));
    }
    Ok(Json(cr))
}

/// `GET /api/v1/reviews`: the review queue, highest priority first.
pub async fn queue(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<Page<ChangeRequest>>> {
    p.require(Role::Viewer)?;
    Ok(Json(Page {
        items: crate::convert::change_requests(
            arbiter_store::changes::queue(app.store.pool(), 500).await?,
        ),
    }))
}

/// `POST /api/v1/change-requests/{id}/approve`.
pub async fn approve(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
    body: Bytes,
) -> ApiResult<Json<ChangeRequest>> {
    review(app, p, id, body, ReviewOutcome::Approve).await
}

/// `POST /api/v1/change-requests/{id}/reject`.
pub async fn reject(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
    body: Bytes,
) -> ApiResult<Json<ChangeRequest>> {
    review(app, p, id, body, ReviewOutcome::Reject).await
}

/// Records a review and lets the stack's approval policy decide (see
/// [`crate::review`]: evaluated outside the writer, committed only if what
/// it read still holds).
pub async fn review(
    app: AppState,
    p: Principal,
    id: i64,
    body: Bytes,
    decision: ReviewOutcome,
) -> ApiResult<Json<ChangeRequest>> {
    crate::review::review(&app, &p, id, &body, decision)
        .await
        .map(Json)
}

/// `POST /api/v1/change-requests/{id}/cancel`: by its submitter or an admin,
/// while it is not yet applied.
pub async fn cancel(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
) -> ApiResult<Json<ChangeRequest>> {
    let cr = fetch(&app, id, false).await?;
    if !may_see(&p, &cr) {
        return Err(ApiError::not_found(format!(
            "change request {id} not found"
        )));
    }
    if cr.submitter != p.id() {
        p.require(Role::Admin)?;
    }
    if !matches!(
        cr.status,
        ChangeStatus::PendingReview | ChangeStatus::Approved
    ) {
        return Err(ApiError::conflict(format!(
            "change request {id} is {}; only pending or approved requests can be cancelled",
            cr.status
        )));
    }
    let actor = p.id();
    let from = cr.status;
    app.store
        .write(move |cx| {
            Box::pin(async move {
                if let Some(run) = arbiter_store::runs::applying_run(cx, id).await? {
                    return Err(arbiter_store::StoreError::Conflict(format!(
                        "change request {id} is being applied by run {run}: it can no longer be cancelled"
                    )));
                }
                arbiter_store::changes::transition(
                    cx,
                    id,
                    from,
                    ChangeStatus::Cancelled,
                    Some("cancelled"),
                    &actor,
                )
                .await?;
                // Its runs not yet claimed will never apply it; those a
                // worker holds stop at their next heartbeat.
                arbiter_store::runs::cancel_for_change(cx, id, &actor).await?;
                Ok(())
            })
        })
        .await?;
    Ok(Json(fetch(&app, id, true).await?))
}
