//! Runs (issue 12): the queue of approved change requests to apply, their
//! phases, logs, leases and heartbeats; configuration bundles; worker pools
//! and their tokens; the state backend's credentials and locks; and the
//! revisions of a change request whose plan changed before it was applied.
//!
//! Every phase change is a conditional update (`… WHERE phase = $from`)
//! allowed by [`RunPhase::can_move_to`] (the one definition of the legal
//! transitions), made through the writer with its audit entry (`run.PHASE`;
//! the claim is `run.started`) in the same transaction. One applying run
//! per stack is a unique index. A claim takes a queued run with
//! `FOR UPDATE SKIP LOCKED` (PostgreSQL; SQLite has one writer) and moves
//! it with a conditional update, so each run is claimed exactly once
//! across workers and replicas.

use crate::{parse_doc, to_doc, Result, StoreError, WriteCtx};
use arbiter_api::runs::{Confirmation, RunKind, RunPhase, RunSource, ToolKind};
use arbiter_api::{AuditAction, ChangeStatus, Decision, Timestamp};
use sqlx::{AnyPool, Row};
use std::collections::BTreeMap;

/// What a change request's runs apply (stored with the change request).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunConfig {
    /// What the run does.
    pub kind: RunKind,
    /// The configuration.
    pub source: RunSource,
    /// Non-secret variables.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// Whether the submitter's scope allows applying without a person.
    pub may_auto_apply: bool,
}

/// Records what a change request's runs will apply.
pub async fn set_run_config(cx: &mut WriteCtx, change_request: i64, c: &RunConfig) -> Result<()> {
    sqlx::query("UPDATE change_requests SET run_config = $1 WHERE id = $2")
        .bind(to_doc(c))
        .bind(change_request)
        .execute(cx.conn())
        .await?;
    Ok(())
}

/// What a change request's runs apply and its current revision.
pub async fn run_config(
    cx: &mut WriteCtx,
    change_request: i64,
) -> Result<Option<(RunConfig, i64)>> {
    let row = sqlx::query("SELECT run_config, revision FROM change_requests WHERE id = $1")
        .bind(change_request)
        .fetch_optional(cx.conn())
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let text: Option<String> = row.try_get("run_config")?;
    let rev: i64 = row.try_get("revision")?;
    text.map(|t| {
        parse_doc::<RunConfig>(
            "run configuration of change request",
            &change_request.to_string(),
            &t,
        )
        .map(|c| (c, rev))
    })
    .transpose()
}

/// A stored run (the API's `Run` is made from it in the server's
/// `convert`). The domain enums (`RunKind`, `RunPhase`, `RunSource`,
/// `Confirmation`) are shared with the API; the JSON documents keep the
/// wire spelling, so stored rows read as before.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    /// Number.
    pub id: i64,
    /// The change request it applies.
    pub change_request: i64,
    /// The change request's revision it applies.
    pub revision: i64,
    /// The stack.
    pub stack: String,
    /// What it does.
    pub kind: RunKind,
    /// Where it is.
    pub phase: RunPhase,
    /// The configuration it applies.
    pub source: RunSource,
    /// Whether a person must confirm it first.
    pub confirmation: Confirmation,
    /// The worker pool.
    pub pool: String,
    /// The worker that claimed it.
    pub worker: Option<String>,
    /// The tool, once the worker found it.
    pub tool: Option<ToolDoc>,
    /// Digest of the judged plan.
    pub judged_digest: Option<String>,
    /// Digest of the worker's new plan.
    pub planned_digest: Option<String>,
    /// The state version its apply wrote.
    pub state_version: Option<i64>,
    /// Why it failed, was discarded or interrupted.
    pub error: Option<String>,
    /// A person asked to cancel it.
    pub cancel_requested: bool,
    /// Phases so far, in order.
    pub phases: Vec<PhaseSpanRow>,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
}

/// The tool a run used (the `tool` column, JSON in the wire spelling).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ToolDoc {
    /// Which tool.
    pub kind: ToolKind,
    /// The binary's path on the worker.
    pub path: String,
    /// Its version.
    pub version: String,
}

/// When a run entered and left a phase (a `run_phases` row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhaseSpanRow {
    /// The phase.
    pub phase: RunPhase,
    /// Entered.
    pub started_at: Timestamp,
    /// Left (`None` while in it).
    pub ended_at: Option<Timestamp>,
}

/// A stored configuration bundle (without its bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleRow {
    /// Hex SHA-256 of the tar.gz.
    pub sha256: String,
    /// Size, bytes.
    pub size_bytes: i64,
    /// Regular files in it.
    pub files: i64,
    /// First stored.
    pub created_at: Timestamp,
}

/// A run to queue.
#[derive(Debug, Clone)]
pub struct NewRun {
    /// The change request.
    pub change_request: i64,
    /// Its revision.
    pub revision: i64,
    /// The stack.
    pub stack: String,
    /// What it does.
    pub kind: RunKind,
    /// The configuration.
    pub source: RunSource,
    /// Non-secret variables.
    pub variables: BTreeMap<String, String>,
    /// `NotNeeded` or `Awaiting`.
    pub confirmation: Confirmation,
    /// Worker pool.
    pub pool: String,
}

const COLUMNS: &str =
    "id, change_request, revision, stack, kind, phase, source, confirmation, pool, worker, tool, \
     judged_digest, planned_digest, state_version, error, cancel_requested, created_at, updated_at";

fn phase_of(id: i64, s: &str) -> Result<RunPhase> {
    s.parse().map_err(
        |e: arbiter_api::runs::UnknownRunPhase| StoreError::Corrupt {
            what: "run",
            key: id.to_string(),
            why: e.to_string(),
        },
    )
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<RunRow> {
    let id: i64 = row.try_get("id")?;
    let key = id.to_string();
    let tool: Option<String> = row.try_get("tool")?;
    Ok(RunRow {
        id,
        change_request: row.try_get("change_request")?,
        revision: row.try_get("revision")?,
        stack: row.try_get("stack")?,
        kind: parse_doc("run kind", &key, &row.try_get::<String, _>("kind")?)?,
        phase: phase_of(id, &row.try_get::<String, _>("phase")?)?,
        source: parse_doc("run source", &key, &row.try_get::<String, _>("source")?)?,
        confirmation: parse_doc(
            "run confirmation",
            &key,
            &row.try_get::<String, _>("confirmation")?,
        )?,
        pool: row.try_get("pool")?,
        worker: row.try_get("worker")?,
        tool: tool
            .map(|t| parse_doc::<ToolDoc>("run tool", &key, &t))
            .transpose()?,
        judged_digest: row.try_get("judged_digest")?,
        planned_digest: row.try_get("planned_digest")?,
        state_version: row.try_get("state_version")?,
        error: row.try_get("error")?,
        cancel_requested: row.try_get::<i64, _>("cancel_requested")? != 0,
        phases: Vec::new(),
        created_at: Timestamp::from_unix_ms(row.try_get("created_at")?),
        updated_at: Timestamp::from_unix_ms(row.try_get("updated_at")?),
    })
}

async fn phases_of<'e, E>(ex: E, id: i64) -> Result<Vec<PhaseSpanRow>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let rows = sqlx::query(
        "SELECT phase, started_at, ended_at FROM run_phases WHERE run = $1 ORDER BY seq",
    )
    .bind(id)
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(PhaseSpanRow {
                phase: phase_of(id, &r.try_get::<String, _>("phase")?)?,
                started_at: Timestamp::from_unix_ms(r.try_get("started_at")?),
                ended_at: r
                    .try_get::<Option<i64>, _>("ended_at")?
                    .map(Timestamp::from_unix_ms),
            })
        })
        .collect()
}

/// A run with its phases.
pub async fn get(pool: &AnyPool, id: i64) -> Result<Option<RunRow>> {
    let sql = format!("SELECT {COLUMNS} FROM runs WHERE id = $1");
    let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(pool)
        .await?
    else {
        return Ok(None);
    };
    let mut run = from_row(&row)?;
    run.phases = phases_of(pool, id).await?;
    Ok(Some(run))
}

/// Same, in the writer's transaction (locked on PostgreSQL).
pub async fn get_in(cx: &mut WriteCtx, id: i64) -> Result<RunRow> {
    let sql = format!(
        "SELECT {COLUMNS} FROM runs WHERE id = $1{}",
        cx.backend().for_update()
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(cx.conn())
        .await?
        .ok_or_else(|| StoreError::NotFound {
            what: "run",
            key: id.to_string(),
        })?;
    let mut run = from_row(&row)?;
    run.phases = phases_of(cx.conn(), id).await?;
    Ok(run)
}

/// Filters of [`list`].
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this stack.
    pub stack: Option<String>,
    /// Only this phase.
    pub phase: Option<RunPhase>,
    /// Only this change request's.
    pub change_request: Option<i64>,
    /// At most (default 100, at most 1000).
    pub limit: Option<i64>,
}

/// Runs, newest first, with their phases.
pub async fn list(pool: &AnyPool, f: &Filter) -> Result<Vec<RunRow>> {
    let mut sql = format!("SELECT {COLUMNS} FROM runs WHERE 1 = 1");
    let mut n = 0;
    if f.stack.is_some() {
        n += 1;
        sql.push_str(&format!(" AND stack = ${n}"));
    }
    if f.phase.is_some() {
        n += 1;
        sql.push_str(&format!(" AND phase = ${n}"));
    }
    if f.change_request.is_some() {
        n += 1;
        sql.push_str(&format!(" AND change_request = ${n}"));
    }
    sql.push_str(&format!(
        " ORDER BY id DESC LIMIT {}",
        f.limit.unwrap_or(100).clamp(1, 1000)
    ));
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    if let Some(s) = &f.stack {
        q = q.bind(s);
    }
    if let Some(p) = f.phase {
        q = q.bind(p.as_str());
    }
    if let Some(c) = f.change_request {
        q = q.bind(c);
    }
    let rows = q.fetch_all(pool).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let mut run = from_row(r)?;
        run.phases = phases_of(pool, run.id).await?;
        out.push(run);
    }
    Ok(out)
}

/// Count of runs per phase (metrics).
pub async fn count_by_phase(pool: &AnyPool) -> Result<Vec<(String, i64)>> {
    let rows = sqlx::query("SELECT phase, COUNT(*) AS n FROM runs GROUP BY phase ORDER BY phase")
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("phase")?, r.try_get("n")?)))
        .collect()
}

async fn open_span(cx: &mut WriteCtx, id: i64, phase: RunPhase) -> Result<()> {
    let now = cx.now_ms();
    sqlx::query("UPDATE run_phases SET ended_at = $1 WHERE run = $2 AND ended_at IS NULL")
        .bind(now)
        .bind(id)
        .execute(cx.conn())
        .await?;
    let seq: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(MAX(seq), 0) + 1 AS BIGINT) FROM run_phases WHERE run = $1",
    )
    .bind(id)
    .fetch_one(cx.conn())
    .await?;
    // A final phase (and `applied`, which ends the work unless checks
    // follow) is an instant.
    let closed = phase.is_final() || phase == RunPhase::Applied;
    sqlx::query(
        "INSERT INTO run_phases (run, seq, phase, started_at, ended_at) VALUES ($1, $2, $3, $4, CASE WHEN $5 = 1 THEN $4 END)",
    )
    .bind(id)
    .bind(seq)
    .bind(phase.as_str())
    .bind(now)
    .bind(closed as i64)
    .execute(cx.conn())
    .await?;
    Ok(())
}

/// Queues a run (`run.queued` in the audit log). Returns it.
pub async fn create(cx: &mut WriteCtx, new: &NewRun, actor: &str) -> Result<RunRow> {
    let id: i64 = sqlx::query_scalar(
        "UPDATE counters SET value = value + 1 WHERE name = 'run' RETURNING value",
    )
    .fetch_one(cx.conn())
    .await?;
    let now = cx.now_ms();
    let awaiting = matches!(new.confirmation, Confirmation::Awaiting);
    sqlx::query(
        "INSERT INTO runs (id, change_request, revision, stack, kind, phase, source, variables, confirmation, awaiting, pool, \
         cancel_requested, log_size, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'queued', $6, $7, $8, $9, $10, 0, 0, $11, $11)",
    )
    .bind(id)
    .bind(new.change_request)
    .bind(new.revision)
    .bind(&new.stack)
    .bind(to_doc(&new.kind))
    .bind(to_doc(&new.source))
    .bind(to_doc(&new.variables))
    .bind(to_doc(&new.confirmation))
    .bind(awaiting as i64)
    .bind(&new.pool)
    .bind(now)
    .execute(cx.conn())
    .await?;
    open_span(cx, id, RunPhase::Queued).await?;
    cx.audit(
        actor,
        AuditAction::Run(RunPhase::Queued),
        &format!("run:{id}"),
        &serde_json::json!({
            "change_request": new.change_request,
            "revision": new.revision,
            "stack": new.stack,
            "kind": new.kind,
            "source": new.source,
            // Names only: values may be sensitive to someone.
            "variables": new.variables.keys().collect::<Vec<_>>(),
            "confirmation": new.confirmation,
            "pool": new.pool,
        }),
    )
    .await?;
    get_in(cx, id).await
}

/// What a phase change records besides the phase.
#[derive(Debug, Clone, Default)]
pub struct PhaseUpdate {
    /// Why (failed, discarded, interrupted, verification_failed).
    pub error: Option<String>,
    /// The tool found.
    pub tool: Option<ToolDoc>,
    /// Digest of the judged plan.
    pub judged_digest: Option<String>,
    /// Digest of the new plan.
    pub planned_digest: Option<String>,
    /// The claiming worker (claim only).
    pub worker: Option<String>,
    /// Hash of the lease (claim only).
    pub lease_hash: Option<String>,
}

/// Moves a run from `from` to `to` if it is still in `from` and the move
/// is legal; records the phase span and the audit entry, and makes the
/// change request follow (`applied`; `apply_failed` when it fails or is
/// interrupted while applying). 409 ([`StoreError::Conflict`]) otherwise.
pub async fn transition(
    cx: &mut WriteCtx,
    id: i64,
    from: RunPhase,
    to: RunPhase,
    actor: &str,
    up: PhaseUpdate,
) -> Result<RunRow> {
    if !from.can_move_to(to) {
        return Err(StoreError::Conflict(format!(
            "run {id}: {from} → {to} is not a legal phase change"
        )));
    }
    let now = cx.now_ms();
    let heartbeat = up.lease_hash.is_some().then_some(now);
    let r = sqlx::query(
        "UPDATE runs SET phase = $1, updated_at = $2, error = COALESCE($3, error), tool = COALESCE($4, tool), \
         judged_digest = COALESCE($5, judged_digest), planned_digest = COALESCE($6, planned_digest), \
         worker = COALESCE($7, worker), lease_hash = COALESCE($8, lease_hash), heartbeat_at = COALESCE($9, heartbeat_at) \
         WHERE id = $10 AND phase = $11",
    )
    .bind(to.as_str())
    .bind(now)
    .bind(&up.error)
    .bind(up.tool.as_ref().map(to_doc))
    .bind(&up.judged_digest)
    .bind(&up.planned_digest)
    .bind(&up.worker)
    .bind(&up.lease_hash)
    .bind(heartbeat)
    .bind(id)
    .bind(from.as_str())
    .execute(cx.conn())
    .await
    .map_err(|e| {
        let e = StoreError::from(e);
        if e.is_unique_violation() {
            StoreError::Conflict(format!(
                "run {id} cannot start applying: another run of its stack is applying"
            ))
        } else {
            e
        }
    })?;
    if r.rows_affected() == 0 {
        let now_phase: Option<String> = sqlx::query_scalar("SELECT phase FROM runs WHERE id = $1")
            .bind(id)
            .fetch_optional(cx.conn())
            .await?;
        return Err(match now_phase {
            None => StoreError::NotFound {
                what: "run",
                key: id.to_string(),
            },
            Some(p) => StoreError::Conflict(format!(
                "run {id} is {p}, not {from}: the phase change to {to} is stale"
            )),
        });
    }
    open_span(cx, id, to).await?;
    let action = AuditAction::Run(to);
    let run = get_in(cx, id).await?;
    cx.audit(
        actor,
        action,
        &format!("run:{id}"),
        &serde_json::json!({
            "from": from, "to": to, "change_request": run.change_request, "stack": run.stack,
            "error": up.error, "tool": up.tool, "judged_digest": up.judged_digest,
            "planned_digest": up.planned_digest, "worker": up.worker,
        }),
    )
    .await?;
    let cr_status = match (from, to) {
        (_, RunPhase::Applied) => Some(ChangeStatus::Applied),
        (RunPhase::Applying, RunPhase::Failed | RunPhase::Interrupted) => {
            Some(ChangeStatus::ApplyFailed)
        }
        _ => None,
    };
    if let Some(status) = cr_status {
        let current: Option<String> =
            sqlx::query_scalar("SELECT status FROM change_requests WHERE id = $1")
                .bind(run.change_request)
                .fetch_optional(cx.conn())
                .await?;
        if current.as_deref() == Some(ChangeStatus::Approved.as_str()) {
            crate::changes::transition(
                cx,
                run.change_request,
                ChangeStatus::Approved,
                status,
                Some(&format!("run {id} {to}")),
                "system",
            )
            .await?;
        }
    }
    if to.is_final() {
        // A run that is over holds no backend credentials, and no state
        // lock (a worker that died mid-apply never unlocks).
        sqlx::query(
            "UPDATE backend_credentials SET revoked_at = $1 WHERE run = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .execute(cx.conn())
        .await?;
        let released = sqlx::query("DELETE FROM state_locks WHERE stack = $1 AND held_by = $2")
            .bind(&run.stack)
            .bind(format!("run:{id}"))
            .execute(cx.conn())
            .await?;
        if released.rows_affected() > 0 {
            cx.audit(
                "system",
                AuditAction::StateUnlocked,
                &format!("stack:{}", run.stack),
                &serde_json::json!({"run": id, "reason": format!("run {id} is {to}")}),
            )
            .await?;
        }
    }
    Ok(run)
}

/// Claims the oldest claimable run of a pool (queued, confirmed or not
/// needing confirmation, no other run of its stack active): moves it to
/// `preparing` with the worker's name and the lease's hash.
pub async fn claim(
    cx: &mut WriteCtx,
    pool: &str,
    worker: &str,
    lease_hash: &str,
) -> Result<Option<RunRow>> {
    let sql = format!(
        "SELECT id FROM runs WHERE pool = $1 AND phase = 'queued' AND awaiting = 0 AND cancel_requested = 0 \
         AND NOT EXISTS (SELECT 1 FROM runs a WHERE a.stack = runs.stack AND a.phase IN \
         ('preparing', 'initialising', 'planning', 'checking', 'applying', 'verifying')) \
         ORDER BY id LIMIT 5{}",
        cx.backend().skip_locked()
    );
    let ids: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(pool)
        .fetch_all(cx.conn())
        .await?;
    for id in ids {
        let up = PhaseUpdate {
            worker: Some(worker.to_string()),
            lease_hash: Some(lease_hash.to_string()),
            ..PhaseUpdate::default()
        };
        match transition(
            cx,
            id,
            RunPhase::Queued,
            RunPhase::Preparing,
            &format!("worker:{pool}/{worker}"),
            up,
        )
        .await
        {
            Ok(run) => return Ok(Some(run)),
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// The run a lease holds, if it still holds it (the run is active, or
/// applied and about to be verified).
pub async fn check_lease(pool: &AnyPool, id: i64, lease_hash: &str) -> Result<Option<RunRow>> {
    let run = get(pool, id).await?;
    let held: Option<String> = sqlx::query_scalar("SELECT lease_hash FROM runs WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?
        .flatten();
    Ok(run.filter(|r| {
        held.as_deref() == Some(lease_hash) && (r.phase.is_active() || r.phase == RunPhase::Applied)
    }))
}

/// The run a lease was given for, whatever its phase now (to tell a worker
/// why its lease no longer holds it).
pub async fn leased_run(pool: &AnyPool, id: i64, lease_hash: &str) -> Result<Option<RunRow>> {
    let held: Option<String> = sqlx::query_scalar("SELECT lease_hash FROM runs WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?
        .flatten();
    if held.as_deref() != Some(lease_hash) {
        return Ok(None);
    }
    get(pool, id).await
}

/// Records a heartbeat; returns whether a person asked to cancel, or
/// `None` when the lease no longer holds the run.
pub async fn heartbeat(cx: &mut WriteCtx, id: i64, lease_hash: &str) -> Result<Option<bool>> {
    let r = sqlx::query(
        "UPDATE runs SET heartbeat_at = $1 WHERE id = $2 AND lease_hash = $3 AND phase IN \
         ('preparing', 'initialising', 'planning', 'checking', 'applying', 'applied', 'verifying')",
    )
    .bind(cx.now_ms())
    .bind(id)
    .bind(lease_hash)
    .execute(cx.conn())
    .await?;
    if r.rows_affected() == 0 {
        return Ok(None);
    }
    let c: i64 = sqlx::query_scalar("SELECT cancel_requested FROM runs WHERE id = $1")
        .bind(id)
        .fetch_one(cx.conn())
        .await?;
    Ok(Some(c != 0))
}

/// Interrupts active runs whose last heartbeat is older than `before`
/// (ms): their worker is gone. Never re-queued. Returns their ids.
pub async fn interrupt_silent(cx: &mut WriteCtx, before: i64) -> Result<Vec<i64>> {
    let sql = format!(
        "SELECT id, phase FROM runs WHERE phase IN ('preparing', 'initialising', 'planning', 'checking', 'applying', 'verifying') \
         AND heartbeat_at < $1 ORDER BY id LIMIT 100{}",
        cx.backend().skip_locked()
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(before)
        .fetch_all(cx.conn())
        .await?;
    let mut out = Vec::new();
    for r in rows {
        let id: i64 = r.try_get("id")?;
        let from = phase_of(id, &r.try_get::<String, _>("phase")?)?;
        let up = PhaseUpdate {
            error: Some(format!(
                "its worker stopped heart-beating while {from}; the run is not retried (check the stack's state before applying again)"
            )),
            ..PhaseUpdate::default()
        };
        match transition(cx, id, from, RunPhase::Interrupted, "system", up).await {
            Ok(_) => out.push(id),
            Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// The time limit of each phase of a run, seconds (stored with the run
/// when it is claimed; phases absent have none).
pub type PhaseLimits = BTreeMap<RunPhase, u64>;

/// Records the phase limits of a claimed run.
pub async fn set_limits(cx: &mut WriteCtx, id: i64, limits: &PhaseLimits) -> Result<()> {
    sqlx::query("UPDATE runs SET limits = $1 WHERE id = $2")
        .bind(to_doc(limits))
        .bind(id)
        .execute(cx.conn())
        .await?;
    Ok(())
}

/// A run the server stopped because its phase outlasted its limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overdue {
    /// The run.
    pub id: i64,
    /// The phase that lasted too long.
    pub from: RunPhase,
    /// Where it went (`RunPhase::on_timeout`).
    pub to: RunPhase,
}

/// Stops active runs whose current phase started more than its limit plus
/// `grace_ms` before `now` (ms), whether or not their worker still
/// heart-beats: `failed` before applying, `interrupted` from applying or
/// verifying ([`RunPhase::on_timeout`]), with the reason as the run's
/// error and in its audit entry. Runs claimed before limits were stored
/// use `defaults`. Never re-queued.
pub async fn stop_overdue(
    cx: &mut WriteCtx,
    now: i64,
    grace_ms: i64,
    defaults: &PhaseLimits,
) -> Result<Vec<Overdue>> {
    let sql = format!(
        "SELECT r.id, r.phase, r.limits, p.started_at FROM runs r JOIN run_phases p ON p.run = r.id AND p.ended_at IS NULL \
         WHERE r.phase IN ('preparing', 'initialising', 'planning', 'checking', 'applying', 'verifying') \
         ORDER BY r.id LIMIT 500{}",
        cx.backend().skip_locked()
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(cx.conn())
        .await?;
    let mut due = Vec::new();
    for r in rows {
        let id: i64 = r.try_get("id")?;
        let from = phase_of(id, &r.try_get::<String, _>("phase")?)?;
        let started: i64 = r.try_get("started_at")?;
        let stored: Option<String> = r.try_get("limits")?;
        // Absent (claimed before limits were stored) or unreadable: the
        // defaults, so one bad row does not stop the others being checked.
        let limits = stored
            .and_then(|t| parse_doc::<PhaseLimits>("run phase limits", &id.to_string(), &t).ok())
            .unwrap_or_else(|| defaults.clone());
        let (Some(limit), Some(to)) = (limits.get(&from), from.on_timeout()) else {
            continue;
        };
        let limit_ms = i64::try_from(*limit)
            .unwrap_or(i64::MAX)
            .saturating_mul(1000);
        if now.saturating_sub(started) > limit_ms.saturating_add(grace_ms) {
            due.push((id, from, to, *limit));
        }
    }
    let mut out = Vec::new();
    for (id, from, to, limit) in due {
        let after = if to == RunPhase::Interrupted {
            "; it may have changed the stack in part or whole: check the stack's state before applying again"
        } else {
            ""
        };
        let up = PhaseUpdate {
            error: Some(format!(
                "{from} lasted longer than its limit of {limit} s (the stack's runs.timeouts): stopped by the server{after}"
            )),
            ..PhaseUpdate::default()
        };
        match transition(cx, id, from, to, "system", up).await {
            Ok(_) => out.push(Overdue { id, from, to }),
            Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// A person asks to cancel a run: a queued one is cancelled at once; one
/// a worker holds (before applying) is flagged and its worker stops at its
/// next heartbeat. Returns the run.
pub async fn request_cancel(cx: &mut WriteCtx, id: i64, actor: &str) -> Result<RunRow> {
    let run = get_in(cx, id).await?;
    if run.phase == RunPhase::Queued {
        return transition(
            cx,
            id,
            RunPhase::Queued,
            RunPhase::Cancelled,
            actor,
            PhaseUpdate {
                error: Some(format!("cancelled by {actor}")),
                ..PhaseUpdate::default()
            },
        )
        .await;
    }
    if !run.phase.is_cancellable() {
        return Err(StoreError::Conflict(format!(
            "run {id} is {}: only a run that has not started applying can be cancelled",
            run.phase
        )));
    }
    sqlx::query("UPDATE runs SET cancel_requested = 1, updated_at = $1 WHERE id = $2")
        .bind(cx.now_ms())
        .bind(id)
        .execute(cx.conn())
        .await?;
    cx.audit(
        actor,
        AuditAction::RunCancelRequested,
        &format!("run:{id}"),
        &serde_json::json!({"phase": run.phase}),
    )
    .await?;
    get_in(cx, id).await
}

/// A person confirms a run waiting for it.
pub async fn confirm(cx: &mut WriteCtx, id: i64, by: &str) -> Result<RunRow> {
    let run = get_in(cx, id).await?;
    if run.confirmation != Confirmation::Awaiting {
        return Err(StoreError::Conflict(format!(
            "run {id} does not wait for a confirmation"
        )));
    }
    if run.phase != RunPhase::Queued {
        return Err(StoreError::Conflict(format!("run {id} is {}", run.phase)));
    }
    let c = Confirmation::Confirmed {
        by: by.to_string(),
        at: Timestamp::from_unix_ms(cx.now_ms()),
    };
    let r = sqlx::query(
        "UPDATE runs SET confirmation = $1, awaiting = 0, updated_at = $2 WHERE id = $3 AND awaiting = 1 AND phase = 'queued'",
    )
    .bind(to_doc(&c))
    .bind(cx.now_ms())
    .bind(id)
    .execute(cx.conn())
    .await?;
    if r.rows_affected() == 0 {
        return Err(StoreError::Conflict(format!("run {id} changed meanwhile")));
    }
    cx.audit(
        by,
        AuditAction::RunConfirmed,
        &format!("run:{id}"),
        &serde_json::json!({}),
    )
    .await?;
    get_in(cx, id).await
}

/// Discards the queued and unclaimed runs of a change request (when it is
/// revised or cancelled).
pub async fn discard_queued(cx: &mut WriteCtx, change_request: i64, why: &str) -> Result<Vec<i64>> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM runs WHERE change_request = $1 AND phase = 'queued' ORDER BY id",
    )
    .bind(change_request)
    .fetch_all(cx.conn())
    .await?;
    for id in &ids {
        transition(
            cx,
            *id,
            RunPhase::Queued,
            RunPhase::Discarded,
            "system",
            PhaseUpdate {
                error: Some(why.to_string()),
                ..PhaseUpdate::default()
            },
        )
        .await?;
    }
    Ok(ids)
}

/// A change request's run that is applying or applied it (and may be
/// verifying), if any.
pub async fn applying_run(cx: &mut WriteCtx, change_request: i64) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM runs WHERE change_request = $1 AND phase IN ('applying', 'applied', 'verifying') ORDER BY id LIMIT 1",
    )
    .bind(change_request)
    .fetch_optional(cx.conn())
    .await?)
}

/// A change request was cancelled: its queued runs are discarded, and
/// those a worker holds (before applying) are asked to stop.
pub async fn cancel_for_change(cx: &mut WriteCtx, change_request: i64, actor: &str) -> Result<()> {
    discard_queued(
        cx,
        change_request,
        &format!("change request {change_request} was cancelled by {actor}"),
    )
    .await?;
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM runs WHERE change_request = $1 AND cancel_requested = 0 AND phase IN          ('preparing', 'initialising', 'planning', 'checking') ORDER BY id",
    )
    .bind(change_request)
    .fetch_all(cx.conn())
    .await?;
    for id in ids {
        request_cancel(cx, id, actor).await?;
    }
    Ok(())
}

/// Records the state version an applying run wrote.
pub async fn set_state_version(cx: &mut WriteCtx, id: i64, version: i64) -> Result<()> {
    sqlx::query("UPDATE runs SET state_version = $1, updated_at = $2 WHERE id = $3")
        .bind(version)
        .bind(cx.now_ms())
        .bind(id)
        .execute(cx.conn())
        .await?;
    Ok(())
}

/// What a run applies: its source and variables.
pub async fn source_and_variables(
    pool: &AnyPool,
    id: i64,
) -> Result<Option<(RunSource, BTreeMap<String, String>)>> {
    let row = sqlx::query("SELECT source, variables FROM runs WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let key = id.to_string();
    Ok(Some((
        parse_doc("run source", &key, &row.try_get::<String, _>("source")?)?,
        parse_doc(
            "run variables",
            &key,
            &row.try_get::<String, _>("variables")?,
        )?,
    )))
}

// ---------------------------------------------------------------- logs

/// Longest log kept per run; appends beyond it are refused.
pub const MAX_LOG_BYTES: i64 = 64 * 1024 * 1024;

/// Appends text at `offset`: idempotent, so a chunk sent again (the whole
/// or a part already stored) adds only what lies beyond the log's end. A
/// chunk starting past the end (a gap) is refused. Returns the new size.
pub async fn append_log(cx: &mut WriteCtx, id: i64, offset: u64, text: &str) -> Result<u64> {
    let size: i64 = sqlx::query_scalar("SELECT log_size FROM runs WHERE id = $1")
        .bind(id)
        .fetch_optional(cx.conn())
        .await?
        .ok_or_else(|| StoreError::NotFound {
            what: "run",
            key: id.to_string(),
        })?;
    let size_u = size as u64;
    if offset > size_u {
        return Err(StoreError::Conflict(format!(
            "run {id}: log chunk at offset {offset} leaves a gap (the log has {size} bytes)"
        )));
    }
    let end = offset + text.len() as u64;
    if end <= size_u {
        return Ok(size_u);
    }
    let skip = (size_u - offset) as usize;
    let Some(rest) = text.get(skip..) else {
        return Err(StoreError::Conflict(format!(
            "run {id}: log chunk at offset {offset} overlaps the stored log in the middle of a character"
        )));
    };
    if end as i64 > MAX_LOG_BYTES {
        return Err(StoreError::Conflict(format!(
            "run {id}: the log would exceed {MAX_LOG_BYTES} bytes"
        )));
    }
    sqlx::query("INSERT INTO run_logs (run, start_at, end_at, text) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(size)
        .bind(end as i64)
        .bind(rest)
        .execute(cx.conn())
        .await?;
    sqlx::query("UPDATE runs SET log_size = $1 WHERE id = $2")
        .bind(end as i64)
        .bind(id)
        .execute(cx.conn())
        .await?;
    Ok(end)
}

/// The log from `offset` (at most about `max` bytes): the text, where it
/// starts and where the next read starts.
pub async fn read_log(
    pool: &AnyPool,
    id: i64,
    offset: u64,
    max: usize,
) -> Result<(u64, String, u64)> {
    let rows = sqlx::query(
        "SELECT start_at, end_at, text FROM run_logs WHERE run = $1 AND end_at > $2 ORDER BY start_at",
    )
    .bind(id)
    .bind(offset as i64)
    .fetch_all(pool)
    .await?;
    let mut text = String::new();
    let mut start = offset;
    let mut next = offset;
    for (i, r) in rows.iter().enumerate() {
        let s: i64 = r.try_get("start_at")?;
        let e: i64 = r.try_get("end_at")?;
        let t: String = r.try_get("text")?;
        let s = s as u64;
        let piece = if s < offset {
            // Start inside this chunk, at a character boundary.
            let mut k = (offset - s) as usize;
            while k < t.len() && !t.is_char_boundary(k) {
                k += 1;
            }
            if i == 0 {
                start = s + k as u64;
            }
            t.get(k..).unwrap_or("").to_string()
        } else {
            if i == 0 {
                start = s;
            }
            t
        };
        text.push_str(&piece);
        next = e as u64;
        if text.len() >= max {
            break;
        }
    }
    Ok((start, text, next))
}

// ------------------------------------------------------------- bundles

/// Stores a bundle under its SHA-256 (once: the same bytes again change
/// nothing). Returns what is stored and whether it was new.
pub async fn put_bundle(
    cx: &mut WriteCtx,
    sha256: &str,
    files: i64,
    content: &[u8],
    by: &str,
) -> Result<(BundleRow, bool)> {
    let r = sqlx::query(
        "INSERT INTO bundles (sha256, size, files, content, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (sha256) DO NOTHING",
    )
    .bind(sha256)
    .bind(content.len() as i64)
    .bind(files)
    .bind(content)
    .bind(by)
    .bind(cx.now_ms())
    .execute(cx.conn())
    .await?;
    let new = r.rows_affected() > 0;
    if new {
        cx.audit(
            by,
            AuditAction::BundleStored,
            &format!("bundle:{sha256}"),
            &serde_json::json!({"size": content.len(), "files": files}),
        )
        .await?;
    }
    let row = sqlx::query("SELECT size, files, created_at FROM bundles WHERE sha256 = $1")
        .bind(sha256)
        .fetch_one(cx.conn())
        .await?;
    Ok((
        BundleRow {
            sha256: sha256.to_string(),
            size_bytes: row.try_get("size")?,
            files: row.try_get("files")?,
            created_at: Timestamp::from_unix_ms(row.try_get("created_at")?),
        },
        new,
    ))
}

/// A bundle's bytes.
pub async fn bundle(pool: &AnyPool, sha256: &str) -> Result<Option<Vec<u8>>> {
    Ok(
        sqlx::query_scalar("SELECT content FROM bundles WHERE sha256 = $1")
            .bind(sha256)
            .fetch_optional(pool)
            .await?,
    )
}

/// Whether a bundle is stored.
pub async fn bundle_exists(pool: &AnyPool, sha256: &str) -> Result<bool> {
    let n: Option<i64> = sqlx::query_scalar("SELECT 1 FROM bundles WHERE sha256 = $1")
        .bind(sha256)
        .fetch_optional(pool)
        .await?;
    Ok(n.is_some())
}

// --------------------------------------------------------- worker pools

/// A worker-pool token as stored (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerTokenRow {
    /// First 16 hex digits of the token's SHA-256.
    pub id: String,
    /// The pool.
    pub pool: String,
    /// The token's first characters (`None` before migration 0009).
    pub prefix: Option<String>,
    /// Who minted it.
    pub created_by: String,
    /// Minted.
    pub created_at: Timestamp,
    /// Its last claim request (long-polls included; to the minute).
    pub last_used_at: Option<Timestamp>,
    /// Revoked.
    pub revoked_at: Option<Timestamp>,
    /// Who revoked it.
    pub revoked_by: Option<String>,
}

/// The id of a worker-pool token, from its hash.
pub fn worker_token_id(token_hash: &str) -> String {
    token_hash.chars().take(16).collect()
}

const TOKEN_COLUMNS: &str =
    "id, pool, prefix, created_by, created_at, last_used_at, revoked_at, revoked_by";

fn token_row(r: &sqlx::any::AnyRow) -> Result<WorkerTokenRow> {
    Ok(WorkerTokenRow {
        id: r.try_get("id")?,
        pool: r.try_get("pool")?,
        prefix: r.try_get("prefix")?,
        created_by: r.try_get("created_by")?,
        created_at: Timestamp::from_unix_ms(r.try_get("created_at")?),
        last_used_at: r
            .try_get::<Option<i64>, _>("last_used_at")?
            .map(Timestamp::from_unix_ms),
        revoked_at: r
            .try_get::<Option<i64>, _>("revoked_at")?
            .map(Timestamp::from_unix_ms),
        revoked_by: r.try_get("revoked_by")?,
    })
}

/// A pool's tokens, oldest first; `None` when there is no such pool.
pub async fn pool_tokens(pool: &AnyPool, name: &str) -> Result<Option<Vec<WorkerTokenRow>>> {
    let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM worker_pools WHERE name = $1")
        .bind(name)
        .fetch_optional(pool)
        .await?;
    if exists.is_none() {
        return Ok(None);
    }
    let sql = format!(
        "SELECT {TOKEN_COLUMNS} FROM worker_tokens WHERE pool = $1 ORDER BY created_at, id"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(name)
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(token_row)
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

/// Revokes a pool's token (refused from the next request on). Revoking a
/// revoked token answers it as it is and records nothing; only the first
/// revocation is audited (`worker_pool.token_revoked`).
pub async fn revoke_pool_token(
    cx: &mut WriteCtx,
    pool: &str,
    id: &str,
    by: &str,
) -> Result<WorkerTokenRow> {
    let now = cx.now_ms();
    let r = sqlx::query(
        "UPDATE worker_tokens SET revoked_at = $1, revoked_by = $2 WHERE pool = $3 AND id = $4 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(by)
    .bind(pool)
    .bind(id)
    .execute(cx.conn())
    .await?;
    if r.rows_affected() > 0 {
        cx.audit(
            by,
            AuditAction::WorkerPoolTokenRevoked,
            &format!("worker_pool:{pool}"),
            &serde_json::json!({"token": id}),
        )
        .await?;
    }
    let sql = format!("SELECT {TOKEN_COLUMNS} FROM worker_tokens WHERE pool = $1 AND id = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(pool)
        .bind(id)
        .fetch_optional(cx.conn())
        .await?
        .ok_or_else(|| StoreError::NotFound {
            what: "worker-pool token",
            key: format!("{pool}/{id}"),
        })?;
    token_row(&row)
}

/// Records a token's use (its claims), at most once a minute.
pub async fn touch_pool_token(cx: &mut WriteCtx, token_hash: &str) -> Result<()> {
    let now = cx.now_ms();
    sqlx::query(
        "UPDATE worker_tokens SET last_used_at = $1 WHERE token_hash = $2 AND (last_used_at IS NULL OR last_used_at < $3)",
    )
    .bind(now)
    .bind(token_hash)
    .bind(now - 60_000)
    .execute(cx.conn())
    .await?;
    Ok(())
}

/// A bundle's bytes for a worker of `pool`: only when it is the source of
/// a run of that pool that a worker holds and that is not finished
/// (otherwise `None`, as if it did not exist).
pub async fn bundle_for_pool(
    pool: &AnyPool,
    pool_name: &str,
    sha256: &str,
) -> Result<Option<Vec<u8>>> {
    let rows = sqlx::query(
        "SELECT id, source FROM runs WHERE pool = $1 AND phase IN \
         ('preparing', 'initialising', 'planning', 'checking', 'applying', 'applied', 'verifying')",
    )
    .bind(pool_name)
    .fetch_all(pool)
    .await?;
    let mut wanted = false;
    for r in &rows {
        let id: i64 = r.try_get("id")?;
        let source: RunSource = parse_doc(
            "run source",
            &id.to_string(),
            &r.try_get::<String, _>("source")?,
        )?;
        if matches!(&source, RunSource::Bundle { sha256: s } if s == sha256) {
            wanted = true;
            break;
        }
    }
    if !wanted {
        return Ok(None);
    }
    bundle(pool, sha256).await
}

/// Creates a pool if needed and stores a new token for it (by hash, with
/// its id and first characters). Returns the token's id.
pub async fn add_pool_token(
    cx: &mut WriteCtx,
    pool: &str,
    token_hash: &str,
    prefix: &str,
    by: &str,
) -> Result<String> {
    let now = cx.now_ms();
    sqlx::query(
        "INSERT INTO worker_pools (name, created_by, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
    )
    .bind(pool)
    .bind(by)
    .bind(now)
    .execute(cx.conn())
    .await?;
    let id = worker_token_id(token_hash);
    sqlx::query("INSERT INTO worker_tokens (token_hash, pool, created_by, created_at, id, prefix) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(token_hash)
        .bind(pool)
        .bind(by)
        .bind(now)
        .bind(&id)
        .bind(prefix)
        .execute(cx.conn())
        .await?;
    cx.audit(
        by,
        AuditAction::WorkerPoolTokenCreated,
        &format!("worker_pool:{pool}"),
        &serde_json::json!({"token": id}),
    )
    .await?;
    Ok(id)
}

/// The pool of a (hashed) worker token, if it is valid.
pub async fn pool_of_token(pool: &AnyPool, token_hash: &str) -> Result<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT pool FROM worker_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
    )
    .bind(token_hash)
    .fetch_optional(pool)
    .await?)
}

// ------------------------------------------------------ state backend

/// Stores backend credentials for a stack (a run's when `run` is set).
pub async fn add_backend_credentials(
    cx: &mut WriteCtx,
    username: &str,
    password_hash: &str,
    stack: &str,
    run: Option<i64>,
    by: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO backend_credentials (username, password_hash, stack, run, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(username)
    .bind(password_hash)
    .bind(stack)
    .bind(run)
    .bind(by)
    .bind(cx.now_ms())
    .execute(cx.conn())
    .await?;
    if run.is_none() {
        cx.audit(
            by,
            AuditAction::StackBackendCredentialsCreated,
            &format!("stack:{stack}"),
            &serde_json::json!({"username": username}),
        )
        .await?;
    }
    Ok(())
}

/// Who backend credentials belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendLogin {
    /// The stack they open.
    pub stack: String,
    /// The run they were minted for (`None`: a person's own).
    pub run: Option<i64>,
    /// Who minted them.
    pub created_by: String,
    /// A run's credentials revoked when the run ended: they open nothing,
    /// but a write made with them is refused with the run's phase named
    /// (and audited) rather than as unknown credentials.
    pub ended: bool,
}

/// Who backend credentials are, if valid; a run's are also answered
/// after its end (`ended`), a person's revoked ones are not.
pub async fn backend_login(
    pool: &AnyPool,
    username: &str,
    password_hash: &str,
) -> Result<Option<BackendLogin>> {
    let row = sqlx::query(
        "SELECT stack, run, created_by, revoked_at FROM backend_credentials WHERE username = $1 AND password_hash = $2 \
         AND (revoked_at IS NULL OR run IS NOT NULL)",
    )
    .bind(username)
    .bind(password_hash)
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        Ok(BackendLogin {
            stack: r.try_get("stack")?,
            run: r.try_get("run")?,
            created_by: r.try_get("created_by")?,
            ended: r.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
        })
    })
    .transpose()
}

/// Records a state write refused because the run whose credentials made
/// it no longer writes state (`state.write_refused`, subject the run).
pub async fn state_write_refused(
    cx: &mut WriteCtx,
    run: i64,
    stack: &str,
    method: &str,
    phase: RunPhase,
    reason: &str,
) -> Result<()> {
    cx.audit(
        &format!("run:{run}"),
        AuditAction::StateWriteRefused,
        &format!("run:{run}"),
        &serde_json::json!({"stack": stack, "method": method, "phase": phase, "reason": reason}),
    )
    .await?;
    Ok(())
}

/// Outcome of a lock or unlock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockOutcome {
    /// Done.
    Done,
    /// Someone else holds the lock: its info.
    Held(String),
    /// Nothing to unlock.
    NotLocked,
}

/// Takes a stack's state lock.
pub async fn lock(
    cx: &mut WriteCtx,
    stack: &str,
    lock_id: &str,
    info: &str,
    by: &str,
) -> Result<LockOutcome> {
    let sql = format!(
        "SELECT lock_id, info FROM state_locks WHERE stack = $1{}",
        cx.backend().for_update()
    );
    if let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(stack)
        .fetch_optional(cx.conn())
        .await?
    {
        let held: String = row.try_get("lock_id")?;
        if held == lock_id {
            return Ok(LockOutcome::Done);
        }
        return Ok(LockOutcome::Held(row.try_get("info")?));
    }
    let r = sqlx::query(
        "INSERT INTO state_locks (stack, lock_id, info, held_by, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (stack) DO NOTHING",
    )
    .bind(stack)
    .bind(lock_id)
    .bind(info)
    .bind(by)
    .bind(cx.now_ms())
    .execute(cx.conn())
    .await?;
    if r.rows_affected() == 0 {
        let info: String = sqlx::query_scalar("SELECT info FROM state_locks WHERE stack = $1")
            .bind(stack)
            .fetch_one(cx.conn())
            .await?;
        return Ok(LockOutcome::Held(info));
    }
    cx.audit(
        by,
        AuditAction::StateLocked,
        &format!("stack:{stack}"),
        &serde_json::json!({"lock_id": lock_id}),
    )
    .await?;
    Ok(LockOutcome::Done)
}

/// Releases a stack's state lock if `lock_id` holds it.
pub async fn unlock(
    cx: &mut WriteCtx,
    stack: &str,
    lock_id: &str,
    by: &str,
) -> Result<LockOutcome> {
    let row = sqlx::query("SELECT lock_id, info FROM state_locks WHERE stack = $1")
        .bind(stack)
        .fetch_optional(cx.conn())
        .await?;
    let Some(row) = row else {
        return Ok(LockOutcome::NotLocked);
    };
    let held: String = row.try_get("lock_id")?;
    if held != lock_id {
        return Ok(LockOutcome::Held(row.try_get("info")?));
    }
    sqlx::query("DELETE FROM state_locks WHERE stack = $1 AND lock_id = $2")
        .bind(stack)
        .bind(lock_id)
        .execute(cx.conn())
        .await?;
    cx.audit(
        by,
        AuditAction::StateUnlocked,
        &format!("stack:{stack}"),
        &serde_json::json!({"lock_id": lock_id}),
    )
    .await?;
    Ok(LockOutcome::Done)
}

/// The lock of a stack: `(lock id, info)`.
pub async fn lock_of(cx: &mut WriteCtx, stack: &str) -> Result<Option<(String, String)>> {
    let row = sqlx::query("SELECT lock_id, info FROM state_locks WHERE stack = $1")
        .bind(stack)
        .fetch_optional(cx.conn())
        .await?;
    row.map(|r| Ok((r.try_get("lock_id")?, r.try_get("info")?)))
        .transpose()
}

// ------------------------------------------------------------ revisions

/// A change request's next revision, judged.
#[derive(Debug, Clone)]
pub struct NewRevision {
    /// Hex SHA-256 of the plan text.
    pub plan_digest: String,
    /// The plan as stored (sealed, see [`crate::changes::seal_plan`]).
    pub plan: Vec<u8>,
    /// New status (`approved`, `pending_review`, `rejected`).
    pub status: ChangeStatus,
    /// Decision.
    pub decision: Decision,
    /// Confidence.
    pub confidence: f64,
    /// Review priority.
    pub priority: f64,
    /// Resources changed.
    pub resources_changed: i64,
    /// Reason.
    pub reason: Option<String>,
    /// Review expiry (ms).
    pub expires_at: Option<i64>,
    /// Verdict JSON.
    pub verdict: String,
    /// Policy versions JSON.
    pub policy_versions: String,
    /// Engine version.
    pub engine_version: String,
    /// Judging time.
    pub duration_ms: f64,
    /// The run whose plan differed.
    pub run: i64,
}

/// Makes `new` the change request's next revision: the current one is
/// kept in `change_request_revisions` with its reviews (which leave
/// `reviews`: an approval of one plan never counts for the next), the
/// change request takes the new plan, evaluation and status (audited
/// `change_request.revised` and the status). Returns the new revision
/// number.
pub async fn revise(cx: &mut WriteCtx, id: i64, new: &NewRevision) -> Result<i64> {
    let cr = crate::changes::get_for_update(cx, id).await?;
    let row = sqlx::query("SELECT revision, plan_digest FROM change_requests WHERE id = $1")
        .bind(id)
        .fetch_one(cx.conn())
        .await?;
    let rev: i64 = row.try_get("revision")?;
    let old_digest: String = row.try_get("plan_digest")?;
    let verdict: Option<String> =
        sqlx::query_scalar("SELECT verdict FROM evaluations WHERE change_request = $1")
            .bind(id)
            .fetch_optional(cx.conn())
            .await?;
    let now = cx.now_ms();
    // The reviews were given to the plan being replaced: they stay with
    // that revision and count for nothing in the next one.
    let reviews: Vec<serde_json::Value> = cr
        .reviews
        .iter()
        .map(|r| {
            serde_json::json!({"reviewer": r.reviewer, "decision": r.decision.as_str(),
                "comment": r.comment, "created_at": r.created_at})
        })
        .collect();
    let reviews_json = serde_json::Value::Array(reviews).to_string();
    sqlx::query(
        "INSERT INTO change_request_revisions (change_request, revision, plan_digest, status, decision, verdict, replaced_by_run, created_at, reviews) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id)
    .bind(rev)
    .bind(&old_digest)
    .bind(cr.status.as_str())
    .bind(cr.decision.map(Decision::as_str))
    .bind(verdict)
    .bind(new.run)
    .bind(now)
    .bind(&reviews_json)
    .execute(cx.conn())
    .await?;
    sqlx::query("DELETE FROM reviews WHERE change_request = $1")
        .bind(id)
        .execute(cx.conn())
        .await?;
    let next = rev + 1;
    sqlx::query(
        "UPDATE change_requests SET revision = $1, plan_digest = $2, plan = $3, status = $4, decision = $5, confidence = $6, \
         priority = $7, resources_changed = $8, reason = $9, expires_at = $10, updated_at = $11, auto_apply = 0 WHERE id = $12",
    )
    .bind(next)
    .bind(&new.plan_digest)
    .bind(&new.plan)
    .bind(new.status.as_str())
    .bind(new.decision.as_str())
    .bind(new.confidence)
    .bind(new.priority)
    .bind(new.resources_changed)
    .bind(&new.reason)
    .bind(new.expires_at)
    .bind(now)
    .bind(id)
    .execute(cx.conn())
    .await?;
    sqlx::query("DELETE FROM evaluations WHERE change_request = $1")
        .bind(id)
        .execute(cx.conn())
        .await?;
    sqlx::query("INSERT INTO evaluations (change_request, verdict, policy_versions, engine_version, duration_ms, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(id)
        .bind(&new.verdict)
        .bind(&new.policy_versions)
        .bind(&new.engine_version)
        .bind(new.duration_ms)
        .bind(now)
        .execute(cx.conn())
        .await?;
    let subject = format!("change_request:{id}");
    cx.audit(
        "system",
        AuditAction::ChangeRequestRevised,
        &subject,
        &serde_json::json!({"revision": next, "previous_plan_digest": old_digest, "plan_digest": new.plan_digest, "run": new.run,
            "reviews_retired": cr.reviews.len()}),
    )
    .await?;
    cx.audit(
        "system",
        AuditAction::ChangeRequestEvaluated,
        &subject,
        &serde_json::json!({"revision": next, "decision": new.decision, "confidence": new.confidence,
            "verdict_digest": arbiter_api::signing::sha256_hex(new.verdict.as_bytes())}),
    )
    .await?;
    cx.audit(
        "system",
        AuditAction::ChangeRequest(new.status),
        &subject,
        &serde_json::json!({"from": cr.status, "revision": next, "reason": new.reason}),
    )
    .await?;
    Ok(next)
}

/// A change request's current revision.
pub async fn revision_of(pool: &AnyPool, id: i64) -> Result<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT revision FROM change_requests WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?,
    )
}

/// Same, in the writer's transaction.
pub async fn revision_of_in(cx: &mut WriteCtx, id: i64) -> Result<i64> {
    sqlx::query_scalar("SELECT revision FROM change_requests WHERE id = $1")
        .bind(id)
        .fetch_optional(cx.conn())
        .await?
        .ok_or_else(|| StoreError::NotFound {
            what: "change request",
            key: id.to_string(),
        })
}
