//! Change requests, their evaluations and reviews, the review queue, and
//! the velocity governor's records.

use crate::{parse_col, parse_col_opt, parse_doc, to_doc, Result, StoreError, WriteCtx};
use arbiter_api::{ChangeStatus, Decision, ReviewOutcome, Timestamp};
use serde::{Deserialize, Serialize};

/// Where a change came from, as stored (the `source` document of a change
/// request; its JSON is the stored text, so its fields keep their names).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceDoc {
    /// Repository URL or name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// Commit SHA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Unified diff of the source change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

/// A stored change request (the `change_requests` row with its reviews and,
/// when asked, its evaluation). The server turns it into the API's
/// `ChangeRequest`; a change to the JSON does not reshape this.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeRow {
    /// Number, unique per server.
    pub id: i64,
    /// Current revision (1, 2, …; a plan that changed before it was
    /// applied makes the next).
    pub revision: i64,
    /// Target stack.
    pub stack: String,
    /// `agent:NAME` or `user:NAME`.
    pub submitter: String,
    /// Lifecycle state.
    pub status: ChangeStatus,
    /// The engine's decision, once evaluated.
    pub decision: Option<Decision>,
    /// Confidence 0–100, once evaluated.
    pub confidence: Option<f64>,
    /// Review priority.
    pub priority: f64,
    /// Monthly cost change, USD, when priced.
    pub cost_delta_usd: Option<f64>,
    /// Resources the plan changes.
    pub resources_changed: i64,
    /// Why it was rejected or expired.
    pub reason: Option<String>,
    /// Whether it may be applied without a person.
    pub auto_apply: bool,
    /// Intent text.
    pub intent: Option<String>,
    /// Source.
    pub source: Option<SourceDoc>,
    /// Reviews, oldest first (filled by [`get`] and [`get_for_update`]).
    pub reviews: Vec<ReviewRow>,
    /// When it was stored.
    pub created_at: Timestamp,
    /// Last status change.
    pub updated_at: Timestamp,
    /// When a pending review expires.
    pub expires_at: Option<Timestamp>,
    /// The stored verdict (by [`get`] with `with_verdict`).
    pub verdict: Option<serde_json::Value>,
}

/// A stored review.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewRow {
    /// Who (`user:NAME`).
    pub reviewer: String,
    /// Approve or reject.
    pub decision: ReviewOutcome,
    /// Why.
    pub comment: Option<String>,
    /// When.
    pub created_at: Timestamp,
}
use sqlx::{AnyPool, Row};
use std::io::{Read, Write};

/// Everything stored when a change request is created (already evaluated).
#[derive(Debug, Clone)]
pub struct NewChangeRequest {
    /// Target stack.
    pub stack: String,
    /// `agent:NAME` or `user:NAME`.
    pub submitter: String,
    /// The signing key, for agents.
    pub key_id: Option<String>,
    /// The client's `Idempotency-Key`.
    pub idempotency_key: Option<String>,
    /// Hex SHA-256 of the request body (to tell a retry from a different
    /// request under the same idempotency key).
    pub request_digest: String,
    /// Intent text.
    pub intent: Option<String>,
    /// Source.
    pub source: Option<SourceDoc>,
    /// Hex SHA-256 of the plan text.
    pub plan_digest: String,
    /// The plan as stored: compressed and sealed by [`seal_plan`] (off the
    /// async threads and before the writer: it is CPU work).
    pub plan: Vec<u8>,
    /// Initial status (`approved`, `pending_review` or `rejected`).
    pub status: ChangeStatus,
    /// The engine's decision.
    pub decision: Option<Decision>,
    /// Confidence.
    pub confidence: Option<f64>,
    /// Review priority.
    pub priority: f64,
    /// Monthly cost change, USD.
    pub cost_delta_usd: Option<f64>,
    /// Resources changed.
    pub resources_changed: i64,
    /// Why it was rejected, beyond the verdict (scope violations).
    pub reason: Option<String>,
    /// Whether it may be applied without a person.
    pub auto_apply: bool,
    /// When a pending review expires (ms).
    pub expires_at: Option<i64>,
    /// The verdict JSON; `None` for a submission rejected before it was
    /// judged (no evaluation is stored).
    pub verdict: Option<String>,
    /// Policy set versions used, JSON.
    pub policy_versions: String,
    /// Version of the engine that judged.
    pub engine_version: String,
    /// How long judging took.
    pub duration_ms: f64,
}

fn compress(text: &str) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    // Writing to a Vec cannot fail.
    let _ = e.write_all(text.as_bytes());
    e.finish().unwrap_or_default()
}

/// What a stored plan is bound to (its associated data): a sealed plan
/// opens only for the digest it was sealed with.
pub(crate) fn plan_context(plan_digest: &str) -> Vec<u8> {
    format!("change_request.plan:{plan_digest}").into_bytes()
}

/// A plan's text as stored: deflate-compressed, then sealed with the data key.
pub fn seal_plan(sealer: &crate::sealed::Sealer, plan_digest: &str, text: &str) -> Vec<u8> {
    sealer.seal(&plan_context(plan_digest), &compress(text))
}

/// The text of a stored plan (sealed, or clear from before encryption).
pub fn open_plan(
    sealer: &crate::sealed::Sealer,
    id: i64,
    plan_digest: &str,
    stored: &[u8],
) -> Result<String> {
    let compressed = sealer
        .open(&plan_context(plan_digest), stored)
        .map_err(|e| StoreError::Corrupt {
            what: "stored plan of change request",
            key: id.to_string(),
            why: e.to_string(),
        })?;
    decompress(id, &compressed)
}

fn decompress(id: i64, bytes: &[u8]) -> Result<String> {
    let mut out = String::new();
    flate2::read::DeflateDecoder::new(bytes)
        .read_to_string(&mut out)
        .map_err(|e| StoreError::Corrupt {
            what: "stored plan of change request",
            key: id.to_string(),
            why: e.to_string(),
        })?;
    Ok(out)
}

/// Allocates the next change request number (gap-free per committed
/// transaction; the row lock serialises replicas).
async fn next_id(cx: &mut WriteCtx) -> Result<i64> {
    let id: i64 = sqlx::query_scalar(
        "UPDATE counters SET value = value + 1 WHERE name = 'change_request' RETURNING value",
    )
    .fetch_one(cx.conn())
    .await?;
    Ok(id)
}

/// Stores a new change request with its evaluation and records the
/// submission, evaluation and decision in the audit log. Returns its id.
pub async fn insert(cx: &mut WriteCtx, cr: &NewChangeRequest) -> Result<i64> {
    let id = next_id(cx).await?;
    let now = cx.now_ms();
    let source = cr.source.as_ref().map(to_doc);
    sqlx::query(
        "INSERT INTO change_requests (id, stack, submitter, key_id, idempotency_key, request_digest, intent, source, plan_digest, plan, \
         status, decision, confidence, priority, cost_delta_usd, resources_changed, reason, auto_apply, created_at, updated_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, CASE WHEN $21 = 1 THEN $13 END, $14, CASE WHEN $22 = 1 THEN $15 END, $16, $17, $18, $19, $19, $20)",
    )
    .bind(id)
    .bind(&cr.stack)
    .bind(&cr.submitter)
    .bind(&cr.key_id)
    .bind(&cr.idempotency_key)
    .bind(&cr.request_digest)
    .bind(&cr.intent)
    .bind(source)
    .bind(&cr.plan_digest)
    .bind(&cr.plan)
    .bind(cr.status.as_str())
    .bind(cr.decision.map(Decision::as_str))
    // Never a NULL float parameter: sqlx's Any driver sends it to
    // PostgreSQL as a `real`, and the cached statement then refuses the
    // `double precision` of the next insert. A flag says which are absent.
    .bind(cr.confidence.unwrap_or(0.0))
    .bind(cr.priority)
    .bind(cr.cost_delta_usd.unwrap_or(0.0))
    .bind(cr.resources_changed)
    .bind(&cr.reason)
    .bind(cr.auto_apply as i64)
    .bind(now)
    .bind(cr.expires_at)
    .bind(cr.confidence.is_some() as i64)
    .bind(cr.cost_delta_usd.is_some() as i64)
    .execute(cx.conn())
    .await
    .map_err(|e| {
        let e = StoreError::from(e);
        if e.is_unique_violation() {
            StoreError::Conflict("a change request with this Idempotency-Key exists already".into())
        } else {
            e
        }
    })?;
    sqlx::query(
        "INSERT INTO velocity_buckets (submitter, minute, submissions, resources) VALUES ($1, $2, 1, $3) \
         ON CONFLICT (submitter, minute) DO UPDATE SET submissions = velocity_buckets.submissions + 1, \
         resources = velocity_buckets.resources + excluded.resources",
    )
    .bind(&cr.submitter)
    .bind(now.div_euclid(60_000))
    .bind(cr.resources_changed)
    .execute(cx.conn())
    .await?;
    let subject = format!("change_request:{id}");
    if let Some(verdict) = &cr.verdict {
        sqlx::query("INSERT INTO evaluations (change_request, verdict, policy_versions, engine_version, duration_ms, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(id)
            .bind(verdict)
            .bind(&cr.policy_versions)
            .bind(&cr.engine_version)
            .bind(cr.duration_ms)
            .bind(now)
            .execute(cx.conn())
            .await?;
    }
    cx.audit(
        &cr.submitter,
        arbiter_api::AuditAction::ChangeRequestSubmitted,
        &subject,
        &serde_json::json!({"stack": cr.stack, "plan_digest": cr.plan_digest, "request_digest": cr.request_digest,
            "key_id": cr.key_id, "intent": cr.intent, "source": cr.source.as_ref().map(|s| serde_json::json!({"repository": s.repository, "commit": s.commit, "branch": s.branch}))}),
    )
    .await?;
    if let Some(verdict) = &cr.verdict {
        cx.audit(
            "system",
            arbiter_api::AuditAction::ChangeRequestEvaluated,
            &subject,
            &serde_json::json!({"decision": cr.decision, "confidence": cr.confidence, "verdict_digest": arbiter_api::signing::sha256_hex(verdict.as_bytes()),
                "policy_versions": serde_json::from_str::<serde_json::Value>(&cr.policy_versions).unwrap_or_default(), "engine_version": cr.engine_version}),
        )
        .await?;
    }
    cx.audit(
        "system",
        arbiter_api::AuditAction::ChangeRequest(cr.status),
        &subject,
        &serde_json::json!({"reason": cr.reason, "priority": cr.priority, "auto_apply": cr.auto_apply}),
    )
    .await?;
    Ok(id)
}

/// The change request an idempotency key already names: `(id, request digest)`.
pub async fn by_idempotency_key(
    pool: &AnyPool,
    submitter: &str,
    key: &str,
) -> Result<Option<(i64, String)>> {
    let row = sqlx::query("SELECT id, request_digest FROM change_requests WHERE submitter = $1 AND idempotency_key = $2")
        .bind(submitter)
        .bind(key)
        .fetch_optional(pool)
        .await?;
    row.map(|r| Ok((r.try_get("id")?, r.try_get("request_digest")?)))
        .transpose()
}

/// Same, inside the writer's transaction (authoritative).
pub async fn by_idempotency_key_in(
    cx: &mut WriteCtx,
    submitter: &str,
    key: &str,
) -> Result<Option<(i64, String)>> {
    let row = sqlx::query("SELECT id, request_digest FROM change_requests WHERE submitter = $1 AND idempotency_key = $2")
        .bind(submitter)
        .bind(key)
        .fetch_optional(cx.conn())
        .await?;
    row.map(|r| Ok((r.try_get("id")?, r.try_get("request_digest")?)))
        .transpose()
}

/// Upper bounds of a submitter's velocity, from its per-minute counters
/// (`velocity_buckets`: at most 61 rows, however many submissions the hour
/// holds): its submissions in the last minute and the resources it changed
/// in the last hour, each counting the whole minute its window starts in,
/// so never less than the exact figure. The governor checks these on every
/// submission and reads the rows ([`recent`]) only when a limit may be
/// reached, for the exact decision and `Retry-After`.
pub async fn velocity(cx: &mut WriteCtx, submitter: &str, now: i64) -> Result<(i64, i64)> {
    let row = sqlx::query(
        "SELECT CAST(COALESCE(SUM(CASE WHEN minute >= $2 THEN submissions ELSE 0 END), 0) AS BIGINT) AS n, \
         CAST(COALESCE(SUM(resources), 0) AS BIGINT) AS r FROM velocity_buckets WHERE submitter = $1 AND minute >= $3",
    )
    .bind(submitter)
    .bind((now - 60_000).div_euclid(60_000))
    .bind((now - 3_600_000).div_euclid(60_000))
    .fetch_one(cx.conn())
    .await?;
    Ok((row.try_get("n")?, row.try_get("r")?))
}

/// Forgets velocity counters of minutes before `before` (ms): the governor
/// looks one hour back.
pub async fn purge_velocity(cx: &mut WriteCtx, before: i64) -> Result<u64> {
    let r = sqlx::query("DELETE FROM velocity_buckets WHERE minute < $1")
        .bind(before.div_euclid(60_000))
        .execute(cx.conn())
        .await?;
    Ok(r.rows_affected())
}

/// Creation times of a submitter's requests since `since`, oldest first,
/// with the resources each changed (for sliding-window limits).
pub async fn recent(cx: &mut WriteCtx, submitter: &str, since: i64) -> Result<Vec<(i64, i64)>> {
    let rows = sqlx::query("SELECT created_at, resources_changed FROM change_requests WHERE submitter = $1 AND created_at > $2 ORDER BY created_at")
        .bind(submitter)
        .bind(since)
        .fetch_all(cx.conn())
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("created_at")?, r.try_get("resources_changed")?)))
        .collect()
}

/// Records a refusal by the velocity governor (and audits it).
pub async fn governor_event(
    cx: &mut WriteCtx,
    agent: &str,
    kind: &str,
    detail: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO governor_events (agent_name, kind, detail, at) VALUES ($1, $2, $3, $4)",
    )
    .bind(agent)
    .bind(kind)
    .bind(detail)
    .bind(cx.now_ms())
    .execute(cx.conn())
    .await?;
    cx.audit(
        &format!("agent:{agent}"),
        arbiter_api::AuditAction::AgentRateLimited,
        &format!("agent:{agent}"),
        &serde_json::json!({"kind": kind, "detail": detail}),
    )
    .await?;
    Ok(())
}

/// Number of governor refusals of an agent.
pub async fn governor_count(pool: &AnyPool, agent: &str) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM governor_events WHERE agent_name = $1")
            .bind(agent)
            .fetch_one(pool)
            .await?,
    )
}

const COLUMNS: &str = "id, stack, submitter, status, decision, confidence, priority, cost_delta_usd, resources_changed, reason, auto_apply, intent, source, created_at, updated_at, expires_at, revision";

fn from_row(row: &sqlx::any::AnyRow) -> Result<ChangeRow> {
    let id: i64 = row.try_get("id")?;
    let source: Option<String> = row.try_get("source")?;
    let source = source
        .map(|s| parse_doc::<SourceDoc>("change request source", &id.to_string(), &s))
        .transpose()?;
    let exp: Option<i64> = row.try_get("expires_at")?;
    Ok(ChangeRow {
        id,
        revision: row.try_get("revision")?,
        stack: row.try_get("stack")?,
        submitter: row.try_get("submitter")?,
        status: parse_col(row, "status", "change request", &id)?,
        decision: parse_col_opt(row, "decision", "change request", &id)?,
        confidence: row.try_get("confidence")?,
        priority: row.try_get("priority")?,
        cost_delta_usd: row.try_get("cost_delta_usd")?,
        resources_changed: row.try_get("resources_changed")?,
        reason: row.try_get("reason")?,
        auto_apply: row.try_get::<i64, _>("auto_apply")? != 0,
        intent: row.try_get("intent")?,
        source,
        reviews: Vec::new(),
        created_at: Timestamp::from_unix_ms(row.try_get("created_at")?),
        updated_at: Timestamp::from_unix_ms(row.try_get("updated_at")?),
        expires_at: exp.map(Timestamp::from_unix_ms),
        verdict: None,
    })
}

fn review_from_row(row: &sqlx::any::AnyRow) -> Result<ReviewRow> {
    let reviewer: String = row.try_get("reviewer")?;
    Ok(ReviewRow {
        decision: parse_col(row, "decision", "review", &reviewer)?,
        reviewer,
        comment: row.try_get("comment")?,
        created_at: Timestamp::from_unix_ms(row.try_get("created_at")?),
    })
}

/// One change request with its reviews and (if asked) its verdict.
pub async fn get(pool: &AnyPool, id: i64, with_verdict: bool) -> Result<Option<ChangeRow>> {
    let Some(row) = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM change_requests WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let mut cr = from_row(&row)?;
    cr.reviews = sqlx::query("SELECT reviewer, decision, comment, created_at FROM reviews WHERE change_request = $1 ORDER BY created_at, reviewer")
        .bind(id)
        .fetch_all(pool)
        .await?
        .iter()
        .map(review_from_row)
        .collect::<Result<_>>()?;
    if with_verdict {
        let v: Option<String> =
            sqlx::query_scalar("SELECT verdict FROM evaluations WHERE change_request = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?;
        cr.verdict = v
            .map(|t| parse_doc::<serde_json::Value>("verdict", &id.to_string(), &t))
            .transpose()?;
    }
    Ok(Some(cr))
}

/// The plan JSON text of a change request.
pub async fn plan(
    pool: &AnyPool,
    sealer: &crate::sealed::Sealer,
    id: i64,
) -> Result<Option<String>> {
    let row = sqlx::query("SELECT plan_digest, plan FROM change_requests WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let digest: String = row.try_get("plan_digest")?;
    let stored: Vec<u8> = row.try_get("plan")?;
    // Opening and inflating are CPU work: on the blocking pool.
    let sealer = sealer.clone();
    tokio::task::spawn_blocking(move || open_plan(&sealer, id, &digest, &stored))
        .await
        .map_err(|e| StoreError::WriterGone(format!("opening a stored plan: {e}")))?
        .map(Some)
}

/// Filters for listing change requests.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this status.
    pub status: Option<ChangeStatus>,
    /// Only this stack.
    pub stack: Option<String>,
    /// Only this submitter.
    pub submitter: Option<String>,
    /// Only ids below this (paging backwards).
    pub before_id: Option<i64>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<i64>,
}

/// Change requests, newest first.
pub async fn list(pool: &AnyPool, f: &Filter) -> Result<Vec<ChangeRow>> {
    let mut sql = format!("SELECT {COLUMNS} FROM change_requests WHERE 1 = 1");
    let mut n = 0;
    let mut next = |col: &str, sql: &mut String, op: &str| {
        n += 1;
        sql.push_str(&format!(" AND {col} {op} ${n}"));
    };
    if f.status.is_some() {
        next("status", &mut sql, "=");
    }
    if f.stack.is_some() {
        next("stack", &mut sql, "=");
    }
    if f.submitter.is_some() {
        next("submitter", &mut sql, "=");
    }
    if f.before_id.is_some() {
        next("id", &mut sql, "<");
    }
    sql.push_str(&format!(
        " ORDER BY id DESC LIMIT {}",
        f.limit.unwrap_or(100).clamp(1, 1000)
    ));
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    if let Some(s) = f.status {
        q = q.bind(s.as_str());
    }
    if let Some(s) = &f.stack {
        q = q.bind(s);
    }
    if let Some(s) = &f.submitter {
        q = q.bind(s);
    }
    if let Some(b) = f.before_id {
        q = q.bind(b);
    }
    q.fetch_all(pool).await?.iter().map(from_row).collect()
}

/// The review queue: pending change requests, highest priority first, then
/// oldest first.
pub async fn queue(pool: &AnyPool, limit: i64) -> Result<Vec<ChangeRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM change_requests WHERE status = 'pending_review' ORDER BY priority DESC, id ASC LIMIT {}",
        limit.clamp(1, 1000)
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(pool)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// Count of change requests per status.
pub async fn count_by_status(pool: &AnyPool) -> Result<Vec<(ChangeStatus, i64)>> {
    let rows = sqlx::query(
        "SELECT status, COUNT(*) AS n FROM change_requests GROUP BY status ORDER BY status",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            let status: String = r.try_get("status")?;
            Ok((
                parse_col(r, "status", "change request status", &status)?,
                r.try_get("n")?,
            ))
        })
        .collect()
}

/// A change request as the writer sees it, locked for the transaction.
pub async fn get_for_update(cx: &mut WriteCtx, id: i64) -> Result<ChangeRow> {
    let sql = format!(
        "SELECT {COLUMNS} FROM change_requests WHERE id = $1{}",
        cx.backend().for_update()
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(cx.conn())
        .await?
        .ok_or_else(|| StoreError::NotFound {
            what: "change request",
            key: id.to_string(),
        })?;
    let mut cr = from_row(&row)?;
    cr.reviews = sqlx::query("SELECT reviewer, decision, comment, created_at FROM reviews WHERE change_request = $1 ORDER BY created_at, reviewer")
        .bind(id)
        .fetch_all(cx.conn())
        .await?
        .iter()
        .map(review_from_row)
        .collect::<Result<_>>()?;
    Ok(cr)
}

/// Adds a review (one per reviewer and change request) and audits it.
pub async fn add_review(
    cx: &mut WriteCtx,
    id: i64,
    reviewer: &str,
    decision: ReviewOutcome,
    comment: Option<&str>,
) -> Result<ReviewRow> {
    let now = cx.now_ms();
    sqlx::query("INSERT INTO reviews (change_request, reviewer, decision, comment, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(id)
        .bind(reviewer)
        .bind(decision.as_str())
        .bind(comment)
        .bind(now)
        .execute(cx.conn())
        .await
        .map_err(|e| {
            let e = StoreError::from(e);
            if e.is_unique_violation() {
                StoreError::Conflict(format!("{reviewer} has reviewed change request {id} already"))
            } else {
                e
            }
        })?;
    cx.audit(
        reviewer,
        arbiter_api::AuditAction::Review(decision),
        &format!("change_request:{id}"),
        &serde_json::json!({"comment": comment}),
    )
    .await?;
    Ok(ReviewRow {
        reviewer: reviewer.into(),
        decision,
        comment: comment.map(String::from),
        created_at: Timestamp::from_unix_ms(now),
    })
}

/// Moves a change request from one status to another (only if it is still
/// in `from`: no lost updates) and audits the transition.
pub async fn transition(
    cx: &mut WriteCtx,
    id: i64,
    from: ChangeStatus,
    to: ChangeStatus,
    reason: Option<&str>,
    actor: &str,
) -> Result<()> {
    let r = sqlx::query("UPDATE change_requests SET status = $1, reason = COALESCE($2, reason), updated_at = $3 WHERE id = $4 AND status = $5")
        .bind(to.as_str())
        .bind(reason)
        .bind(cx.now_ms())
        .bind(id)
        .bind(from.as_str())
        .execute(cx.conn())
        .await?;
    if r.rows_affected() == 0 {
        return Err(StoreError::Conflict(format!(
            "change request {id} is no longer {from}"
        )));
    }
    cx.audit(
        actor,
        arbiter_api::AuditAction::ChangeRequest(to),
        &format!("change_request:{id}"),
        &serde_json::json!({"from": from, "reason": reason}),
    )
    .await?;
    Ok(())
}

/// Sets whether a change request may be applied without a person.
pub async fn set_auto_apply(cx: &mut WriteCtx, id: i64, on: bool) -> Result<()> {
    sqlx::query("UPDATE change_requests SET auto_apply = $1 WHERE id = $2")
        .bind(on as i64)
        .bind(id)
        .execute(cx.conn())
        .await?;
    Ok(())
}

/// Expires pending reviews whose time has passed; returns their ids. On
/// PostgreSQL, rows another replica is handling are skipped.
pub async fn expire_due(cx: &mut WriteCtx, limit: i64) -> Result<Vec<i64>> {
    let now = cx.now_ms();
    let sql = format!(
        "SELECT id FROM change_requests WHERE status = 'pending_review' AND expires_at IS NOT NULL AND expires_at <= $1 ORDER BY id LIMIT {}{}",
        limit.clamp(1, 10_000),
        cx.backend().skip_locked()
    );
    let ids: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(now)
        .fetch_all(cx.conn())
        .await?;
    for id in &ids {
        transition(
            cx,
            *id,
            ChangeStatus::PendingReview,
            ChangeStatus::Expired,
            Some("the review window passed without a decision"),
            "system",
        )
        .await?;
    }
    Ok(ids)
}

/// Serialised verdict of a change request (for re-checks).
pub async fn verdict_text(pool: &AnyPool, id: i64) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT verdict FROM evaluations WHERE change_request = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?,
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn plans_round_trip_through_compression() {
        let text = "{\"format_version\":\"1.2\"}".repeat(100);
        let c = super::compress(&text);
        assert!(c.len() < text.len() / 4);
        assert_eq!(
            super::decompress(1, &c).ok().as_deref(),
            Some(text.as_str())
        );
        assert!(super::decompress(1, b"garbage").is_err());
    }
}
