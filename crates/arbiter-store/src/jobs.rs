//! Background work that any replica may pick up, claimed so that exactly one
//! does it: rows are claimed with `FOR UPDATE SKIP LOCKED` (PostgreSQL) or
//! by the single writer (SQLite), with a lease that expires if the claimer
//! dies.

use crate::{Result, WriteCtx};
use sqlx::Row;

/// A claimed job.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// Identifier.
    pub id: String,
    /// Kind (`webhook.delivery`, …).
    pub kind: String,
    /// JSON payload.
    pub payload: String,
    /// Attempts so far, this one included.
    pub attempts: i64,
}

/// Queues a job to run at `run_at` (ms).
pub async fn enqueue(
    cx: &mut WriteCtx,
    id: &str,
    kind: &str,
    payload: &str,
    run_at: i64,
) -> Result<()> {
    sqlx::query("INSERT INTO jobs (id, kind, payload, run_at, attempts) VALUES ($1, $2, $3, $4, 0) ON CONFLICT DO NOTHING")
        .bind(id)
        .bind(kind)
        .bind(payload)
        .bind(run_at)
        .execute(cx.conn())
        .await?;
    Ok(())
}

/// Claims up to `limit` due jobs of a kind for `lease_ms`.
pub async fn claim(
    cx: &mut WriteCtx,
    kind: &str,
    worker: &str,
    limit: i64,
    lease_ms: i64,
) -> Result<Vec<Claimed>> {
    let now = cx.now_ms();
    let sql = format!(
        "SELECT id, kind, payload, attempts FROM jobs WHERE kind = $1 AND done_at IS NULL AND run_at <= $2 \
         AND (claimed_until IS NULL OR claimed_until < $2) ORDER BY run_at LIMIT {}{}",
        limit.clamp(1, 1000),
        cx.backend().skip_locked()
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(kind)
        .bind(now)
        .fetch_all(cx.conn())
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let id: String = r.try_get("id")?;
        let attempts: i64 = r.try_get::<i64, _>("attempts")? + 1;
        sqlx::query(
            "UPDATE jobs SET claimed_by = $1, claimed_until = $2, attempts = $3 WHERE id = $4",
        )
        .bind(worker)
        .bind(now + lease_ms)
        .bind(attempts)
        .bind(&id)
        .execute(cx.conn())
        .await?;
        out.push(Claimed {
            id,
            kind: r.try_get("kind")?,
            payload: r.try_get("payload")?,
            attempts,
        });
    }
    Ok(out)
}

/// Marks a job done.
pub async fn complete(cx: &mut WriteCtx, id: &str) -> Result<()> {
    sqlx::query("UPDATE jobs SET done_at = $1, claimed_until = NULL WHERE id = $2")
        .bind(cx.now_ms())
        .bind(id)
        .execute(cx.conn())
        .await?;
    Ok(())
}

/// Releases a job to run again at `run_at`, recording why it failed.
pub async fn retry(cx: &mut WriteCtx, id: &str, run_at: i64, error: &str) -> Result<()> {
    sqlx::query("UPDATE jobs SET run_at = $1, claimed_until = NULL, claimed_by = NULL, last_error = $2 WHERE id = $3")
        .bind(run_at)
        .bind(error)
        .bind(id)
        .execute(cx.conn())
        .await?;
    Ok(())
}

/// Gives up on a job.
pub async fn fail(cx: &mut WriteCtx, id: &str, error: &str) -> Result<()> {
    sqlx::query(
        "UPDATE jobs SET done_at = $1, claimed_until = NULL, last_error = $2 WHERE id = $3",
    )
    .bind(cx.now_ms())
    .bind(error)
    .bind(id)
    .execute(cx.conn())
    .await?;
    Ok(())
}
