//! Runs: listing, showing, logs, confirming and cancelling (people), and
//! the worker endpoints (claim, judged plan, heartbeat, phase reports, log
//! appends, revisions). Worker-pool tokens are accepted here only (see
//! [`crate::auth::is_worker_route`]); every worker call after the claim
//! carries the claim's lease, checked against the run on every call.

use crate::auth::{Principal, Worker};
use crate::error::{ApiError, ApiResult};
use crate::lifecycle;
use crate::AppState;
use arbiter_api::runs::{
    ClaimRequest, Heartbeat, HeartbeatAck, LogChunk, LogSlice, PhaseReport, RevisedPlan,
    RevisionAck, Run, RunPhase, WorkerPoolCreate, WorkerPoolToken, WorkerPoolTokenInfo,
};
use arbiter_api::ErrorCode;
use arbiter_api::{Page, Role};
use arbiter_store::runs::{NewRevision, PhaseUpdate};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

/// Longest a claim waits for a run.
const MAX_WAIT_SECS: u32 = 30;
/// Most log bytes answered at once.
const LOG_PAGE: usize = 1024 * 1024;
/// Longest error text kept from a worker.
const MAX_ERROR: usize = 8 * 1024;

fn worker_only(w: Option<Extension<Worker>>) -> ApiResult<Worker> {
    w.map(|Extension(w)| w).ok_or_else(|| {
        ApiError::forbidden(
            "this is a worker endpoint: send `Authorization: Bearer` with a worker-pool token",
        )
    })
}

fn people_only(p: Option<Extension<Principal>>, min: Role) -> ApiResult<Principal> {
    let Some(Extension(p)) = p else {
        return Err(ApiError::forbidden("workers cannot do this"));
    };
    p.require(min)?;
    Ok(p)
}

/// A run the caller may read: people with the viewer role read every run;
/// an agent reads the runs of the change requests it submitted (others are
/// "not found", as its change requests are); workers read none here.
async fn readable(app: &AppState, p: Option<Extension<Principal>>, id: i64) -> ApiResult<Run> {
    let Some(Extension(p)) = p else {
        return Err(ApiError::forbidden("workers cannot do this"));
    };
    let run = fetch(app, id).await?;
    if let Principal::Agent { .. } = &p {
        let own = arbiter_store::changes::get(app.store.pool(), run.change_request, false)
            .await?
            .is_some_and(|cr| cr.submitter == p.id());
        if !own {
            return Err(ApiError::not_found(format!("run {id} not found")));
        }
    } else {
        p.require(Role::Viewer)?;
    }
    Ok(run)
}

async fn fetch(app: &AppState, id: i64) -> ApiResult<Run> {
    arbiter_store::runs::get(app.store.pool(), id)
        .await?
        .map(crate::convert::run)
        .ok_or_else(|| ApiError::not_found(format!("run {id} not found")))
}

/// The run a worker's lease holds, or 409 `lease_lost` (naming the run's
/// phase and why it ended, to the worker whose lease it was).
async fn leased(app: &AppState, w: &Worker, id: i64, lease: &str) -> ApiResult<Run> {
    let h = crate::runs::hash(lease);
    let run = arbiter_store::runs::check_lease(app.store.pool(), id, &h)
        .await?
        .filter(|r| r.pool == w.pool)
        .map(crate::convert::run);
    match run {
        Some(r) => Ok(r),
        None => Err(lease_lost(app, w, id, &h).await),
    }
}

/// Why a lease no longer holds its run.
async fn lease_lost(app: &AppState, w: &Worker, id: i64, lease_hash: &str) -> ApiError {
    let mut msg = format!(
        "run {id} is not held by this lease (finished, interrupted or claimed by another worker)"
    );
    if let Ok(Some(run)) = arbiter_store::runs::leased_run(app.store.pool(), id, lease_hash).await {
        if run.pool == w.pool {
            msg = format!("run {id} is {}: this lease no longer holds it", run.phase);
            if let Some(e) = run.error.filter(|_| run.phase.is_final()) {
                msg.push_str(&format!(" ({e})"));
            }
        }
    }
    ApiError::new(ErrorCode::LeaseLost, msg)
}

/// Query of `GET /api/v1/runs`.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    stack: Option<String>,
    phase: Option<String>,
    change_request: Option<i64>,
    limit: Option<i64>,
}

/// `GET /api/v1/runs`.
pub async fn list(
    State(app): State<AppState>,
    p: Option<Extension<Principal>>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Page<Run>>> {
    people_only(p, Role::Viewer)?;
    let phase = q
        .phase
        .map(|s| s.parse::<RunPhase>())
        .transpose()
        .map_err(|e| ApiError::new(ErrorCode::InvalidQuery, e.to_string()))?;
    let items = arbiter_store::runs::list(
        app.store.pool(),
        &arbiter_store::runs::Filter {
            stack: q.stack,
            phase,
            change_request: q.change_request,
            limit: q.limit,
        },
    )
    .await?;
    Ok(Json(Page {
        items: crate::convert::runs(items),
    }))
}

/// `GET /api/v1/runs/{id}`.
pub async fn show(
    State(app): State<AppState>,
    p: Option<Extension<Principal>>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Run>> {
    Ok(Json(readable(&app, p, id).await?))
}

/// Query of the log endpoints.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    #[serde(default)]
    offset: u64,
}

/// `GET /api/v1/runs/{id}/logs?offset=N`.
pub async fn logs(
    State(app): State<AppState>,
    p: Option<Extension<Principal>>,
    Path(id): Path<i64>,
    Query(q): Query<LogQuery>,
) -> ApiResult<Json<LogSlice>> {
    let run = readable(&app, p, id).await?;
    let (offset, text, next) =
        arbiter_store::runs::read_log(app.store.pool(), id, q.offset, LOG_PAGE).await?;
    let more = arbiter_store::runs::read_log(app.store.pool(), id, next, 1)
        .await?
        .1;
    Ok(Json(LogSlice {
        offset,
        next_offset: next,
        text,
        complete: run.phase.is_final() && more.is_empty(),
    }))
}

/// `POST /api/v1/runs/{id}/confirm` (reviewers, admins).
pub async fn confirm(
    State(app): State<AppState>,
    p: Option<Extension<Principal>>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Run>> {
    let p = people_only(p, Role::Reviewer)?;
    let by = p.id();
    fetch(&app, id).await?;
    let run = app
        .store
        .write(move |cx| Box::pin(async move { arbiter_store::runs::confirm(cx, id, &by).await }))
        .await
        .map(crate::convert::run)?;
    app.runs.queued.notify_waiters();
    Ok(Json(run))
}

/// `POST /api/v1/runs/{id}/cancel` (reviewers, admins): a queued run is
/// cancelled at once; a claimed one stops at its worker's next heartbeat.
pub async fn cancel(
    State(app): State<AppState>,
    p: Option<Extension<Principal>>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Run>> {
    let p = people_only(p, Role::Reviewer)?;
    let by = p.id();
    fetch(&app, id).await?;
    let run = app
        .store
        .write(move |cx| {
            Box::pin(async move { arbiter_store::runs::request_cancel(cx, id, &by).await })
        })
        .await
        .map(crate::convert::run)?;
    Ok(Json(run))
}

/// `POST /api/v1/worker-pools` (admins): creates the pool if needed and
/// mints a token for it (shown once).
pub async fn create_pool(
    State(app): State<AppState>,
    p: Option<Extension<Principal>>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<WorkerPoolToken>)> {
    let p = people_only(p, Role::Admin)?;
    let req: WorkerPoolCreate = crate::routes::parse_json(&body)?;
    arbiter_api::runs::check_pool_name(&req.name).map_err(ApiError::invalid)?;
    let (id, token) = crate::runs::mint_pool_token(&app, &req.name, &p.id()).await?;
    Ok((
        StatusCode::CREATED,
        Json(WorkerPoolToken {
            pool: req.name,
            id,
            token,
        }),
    ))
}

/// `GET /api/v1/worker-pools/{name}/tokens` (admins): the pool's tokens,
/// oldest first, without their secrets.
pub async fn list_pool_tokens(
    State(app): State<AppState>,
    p: Option<Extension<Principal>>,
    Path(name): Path<String>,
) -> ApiResult<Json<Page<WorkerPoolTokenInfo>>> {
    people_only(p, Role::Admin)?;
    let rows = arbiter_store::runs::pool_tokens(app.store.pool(), &name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("worker pool {name:?} not found")))?;
    Ok(Json(Page {
        items: rows.into_iter().map(crate::convert::worker_token).collect(),
    }))
}

/// `DELETE /api/v1/worker-pools/{name}/tokens/{id}` (admins): revokes a
/// token; workers holding it are refused from their next request on
/// (claims, heartbeats, phase reports, bundles). Idempotent.
pub async fn revoke_pool_token(
    State(app): State<AppState>,
    p: Option<Extension<Principal>>,
    Path((name, id)): Path<(String, String)>,
) -> ApiResult<Json<WorkerPoolTokenInfo>> {
    let p = people_only(p, Role::Admin)?;
    if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::not_found(format!(
            "worker-pool token {id:?} of pool {name:?} not found (ids are 16 hex digits: arbiter worker-pool tokens POOL)"
        )));
    }
    let by = p.id();
    let row = app
        .store
        .write(move |cx| {
            Box::pin(
                async move { arbiter_store::runs::revoke_pool_token(cx, &name, &id, &by).await },
            )
        })
        .await?;
    Ok(Json(crate::convert::worker_token(row)))
}

/// `POST /api/v1/runs/claim` (workers): a claim (200) or nothing to do
/// (204) after waiting up to `wait_secs` (at most 30).
pub async fn claim(
    State(app): State<AppState>,
    w: Option<Extension<Worker>>,
    body: Bytes,
) -> ApiResult<Response> {
    let w = worker_only(w)?;
    let req: ClaimRequest = crate::routes::parse_json(&body)?;
    if req.worker.is_empty() || req.worker.len() > 200 || req.worker.chars().any(|c| c.is_control())
    {
        return Err(ApiError::invalid(
            "worker must be 1-200 characters without control characters",
        ));
    }
    let wait = std::time::Duration::from_secs(u64::from(req.wait_secs.min(MAX_WAIT_SECS)));
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        // Registered before looking, so a run queued meanwhile wakes us.
        let woken = app.runs.queued.notified();
        if let Some(claim) = crate::runs::claim(&app, &w.pool, &req.worker, &w.token_hash).await? {
            return Ok((StatusCode::OK, Json(claim)).into_response());
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        // Other replicas' runs are found by polling.
        let nap = (deadline - now).min(std::time::Duration::from_millis(1000));
        let _ = tokio::time::timeout(nap, woken).await;
    }
}

/// Query carrying a lease.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaseQuery {
    lease: Option<String>,
}

/// `GET /api/v1/runs/{id}/judged-plan?lease=` (workers): the plan that was
/// judged, as submitted.
pub async fn judged_plan(
    State(app): State<AppState>,
    w: Option<Extension<Worker>>,
    Path(id): Path<i64>,
    Query(q): Query<LeaseQuery>,
) -> ApiResult<Response> {
    let w = worker_only(w)?;
    let lease = q
        .lease
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidQuery, "lease is required"))?;
    let run = leased(&app, &w, id, &lease).await?;
    let current = arbiter_store::runs::revision_of(app.store.pool(), run.change_request).await?;
    if current != Some(run.revision) {
        return Err(ApiError::conflict(format!(
            "change request {} moved on to another revision; run {id} applies revision {}",
            run.change_request, run.revision
        )));
    }
    let plan =
        arbiter_store::changes::plan(app.store.pool(), app.store.sealer(), run.change_request)
            .await?
            .ok_or_else(|| {
                ApiError::not_found(format!("change request {} not found", run.change_request))
            })?;
    Ok(([(header::CONTENT_TYPE, "application/json")], plan).into_response())
}

/// `POST /api/v1/runs/{id}/heartbeat` (workers).
pub async fn heartbeat(
    State(app): State<AppState>,
    w: Option<Extension<Worker>>,
    Path(id): Path<i64>,
    body: Bytes,
) -> ApiResult<Json<HeartbeatAck>> {
    let w = worker_only(w)?;
    let hb: Heartbeat = crate::routes::parse_json(&body)?;
    leased(&app, &w, id, &hb.lease).await?;
    let h = crate::runs::hash(&hb.lease);
    let ack = app
        .store
        .write(move |cx| Box::pin(async move { arbiter_store::runs::heartbeat(cx, id, &h).await }))
        .await?;
    match ack {
        Some(cancel_requested) => Ok(Json(HeartbeatAck { cancel_requested })),
        None => Err(lease_lost(&app, &w, id, &crate::runs::hash(&hb.lease)).await),
    }
}

fn clip(s: Option<String>) -> Option<String> {
    s.map(|e| {
        if e.len() <= MAX_ERROR {
            e
        } else {
            let mut end = MAX_ERROR;
            while !e.is_char_boundary(end) {
                end -= 1;
            }
            format!("{}…", &e[..end])
        }
    })
}

/// `POST /api/v1/runs/{id}/phase` (workers): moves the run (409 when the
/// move is illegal or the run is no longer in `from`).
pub async fn phase(
    State(app): State<AppState>,
    w: Option<Extension<Worker>>,
    Path(id): Path<i64>,
    body: Bytes,
) -> ApiResult<Json<Run>> {
    let w = worker_only(w)?;
    let rep: PhaseReport = crate::routes::parse_json(&body)?;
    let run = leased(&app, &w, id, &rep.lease).await?;
    if rep.to == RunPhase::Preparing {
        return Err(ApiError::conflict("runs enter preparing by being claimed"));
    }
    if !rep.from.can_move_to(rep.to) {
        return Err(ApiError::conflict(format!(
            "run {id}: {} → {} is not a legal phase change",
            rep.from, rep.to
        )));
    }
    for d in [&rep.judged_digest, &rep.planned_digest]
        .into_iter()
        .flatten()
    {
        if d.len() > 128 || !d.bytes().all(|b| b.is_ascii_alphanumeric() || b == b':') {
            return Err(ApiError::invalid(
                "digests are at most 128 characters of A-Z a-z 0-9 :",
            ));
        }
    }
    let actor = format!(
        "worker:{}/{}",
        w.pool,
        run.worker.clone().unwrap_or_default()
    );
    let up = PhaseUpdate {
        error: clip(rep.error.clone()),
        tool: rep.tool.clone().map(crate::convert::tool_doc),
        judged_digest: rep.judged_digest.clone(),
        planned_digest: rep.planned_digest.clone(),
        ..PhaseUpdate::default()
    };
    let (from, to) = (rep.from, rep.to);
    let run = app
        .store
        .write(move |cx| {
            Box::pin(
                async move { arbiter_store::runs::transition(cx, id, from, to, &actor, up).await },
            )
        })
        .await
        .map(crate::convert::run)?;
    if to == RunPhase::VerificationFailed {
        match crate::runs::open_verification_rollback(&app, &run).await {
            Ok(Some(cr)) => tracing::warn!(
                run = id,
                change_request = cr,
                "verification failed: rollback change request opened"
            ),
            Ok(None) => {}
            Err(e) => {
                tracing::error!(run = id, error = %e.message, "verification failed, and opening the rollback change request failed")
            }
        }
    }
    if to.is_final() || to == RunPhase::Applied {
        // The stack may be free for its next run.
        app.runs.queued.notify_waiters();
    }
    Ok(Json(fetch(&app, id).await?))
}

/// `POST /api/v1/runs/{id}/logs` (workers): appends (idempotent by offset).
pub async fn append_log(
    State(app): State<AppState>,
    w: Option<Extension<Worker>>,
    Path(id): Path<i64>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let w = worker_only(w)?;
    let chunk: LogChunk = crate::routes::parse_json(&body)?;
    leased(&app, &w, id, &chunk.lease).await?;
    let (offset, text) = (chunk.offset, chunk.text);
    app.store
        .write(move |cx| {
            Box::pin(async move { arbiter_store::runs::append_log(cx, id, offset, &text).await })
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/runs/{id}/revision` (workers): the plan changed between
/// judging and applying. The new plan becomes the change request's next
/// revision, judged from scratch; the run is discarded; if the new
/// revision is approved, a new run is queued (confirmed by a person unless
/// the stack and the submitter allow auto-apply).
pub async fn revision(
    State(app): State<AppState>,
    w: Option<Extension<Worker>>,
    Path(id): Path<i64>,
    body: Bytes,
) -> ApiResult<Json<RevisionAck>> {
    let w = worker_only(w)?;
    let rev: RevisedPlan = crate::intake::parse_json(body).await?;
    let run = leased(&app, &w, id, &rev.lease).await?;
    if run.phase != RunPhase::Checking {
        return Err(ApiError::conflict(format!(
            "run {id} is {}: a revision is made while checking",
            run.phase
        )));
    }
    let cr = arbiter_store::changes::get(app.store.pool(), run.change_request, false)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!("change request {} not found", run.change_request))
        })?;
    if cr.status != arbiter_api::ChangeStatus::Approved {
        return Err(ApiError::conflict(format!(
            "change request {} is {}, not approved",
            cr.id, cr.status
        )));
    }
    let stack = arbiter_store::stacks::get(app.store.pool(), &run.stack)
        .await?
        .ok_or_else(|| ApiError::conflict(format!("stack {:?} no longer exists", run.stack)))?;
    let stack = crate::convert::stack(stack);
    let plan_text = rev.plan.get().to_string();
    let plan_digest = arbiter_api::signing::sha256_hex(plan_text.as_bytes());
    let slot = app
        .admission
        .slot(&app.admission.evaluations, &cr.submitter)
        .await?;
    let judged = lifecycle::judge(&app, &stack, plan_text.clone(), slot).await?;
    // The submitter's scope applies to the revision as to the original.
    let violations = match cr.submitter.strip_prefix("agent:") {
        Some(agent) => match arbiter_store::principals::get_agent(app.store.pool(), agent).await? {
            Some(a) => lifecycle::scope_violations(
                &crate::convert::agent_scope(a.scope),
                &stack.spec,
                &judged.verdict,
            ),
            None => vec![format!("agent {agent} no longer exists")],
        },
        None => Vec::new(),
    };
    let (status, reason) = lifecycle::initial_status(&judged.verdict, &violations, false);
    let sealer = app.store.sealer().clone();
    let (d2, t2) = (plan_digest.clone(), plan_text);
    let plan =
        tokio::task::spawn_blocking(move || arbiter_store::changes::seal_plan(&sealer, &d2, &t2))
            .await
            .map_err(ApiError::internal)?;
    let now = arbiter_store::now_ms();
    let decision = judged.verdict.decision;
    let new = NewRevision {
        plan_digest,
        plan,
        status,
        decision,
        confidence: judged.verdict.confidence,
        priority: lifecycle::priority(&judged.verdict, stack.spec.environment),
        resources_changed: judged.verdict.summary.changing() as i64,
        reason,
        expires_at: (status == arbiter_api::ChangeStatus::PendingReview)
            .then(|| now + app.config.review_ttl.as_millis() as i64),
        verdict: serde_json::to_string(&judged.verdict).map_err(ApiError::internal)?,
        policy_versions: serde_json::to_string(&judged.policies).map_err(ApiError::internal)?,
        engine_version: crate::routes::changes::ENGINE_VERSION.into(),
        duration_ms: judged.millis,
        run: id,
    };
    let (cr_id, spec) = (cr.id, stack.spec.clone());
    let actor = format!(
        "worker:{}/{}",
        w.pool,
        run.worker.clone().unwrap_or_default()
    );
    let (revision, queued) = app
        .store
        .write(move |cx| {
            Box::pin(async move {
                let next = arbiter_store::runs::revision_of_in(cx, cr_id).await? + 1;
                arbiter_store::runs::transition(
                    cx,
                    id,
                    RunPhase::Checking,
                    RunPhase::Discarded,
                    &actor,
                    PhaseUpdate {
                        error: Some(format!(
                            "the plan differs from the judged one: it became revision {next} of change request {cr_id}, judged from scratch"
                        )),
                        ..PhaseUpdate::default()
                    },
                )
                .await?;
                let revision = arbiter_store::runs::revise(cx, cr_id, &new).await?;
                let queued = if new.status == arbiter_api::ChangeStatus::Approved {
                    crate::runs::queue_in(cx, cr_id, &spec, "system").await?
                } else {
                    None
                };
                Ok((revision, queued))
            })
        })
        .await?;
    app.runs.queued.notify_waiters();
    Ok(Json(RevisionAck {
        change_request: cr_id,
        revision,
        decision,
        // The contract names the run only when it needs no person.
        run: queued
            .filter(|r| r.confirmation == arbiter_api::runs::Confirmation::NotNeeded)
            .map(|r| r.id),
    }))
}
