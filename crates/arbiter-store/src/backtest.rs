//! Reads for policy backtests: the evaluated change requests of a window,
//! newest first, a page at a time with their stored (sealed) plans, and what
//! reviewers decided about them. Reads only, through the pool: a backtest
//! never takes the writer.

use crate::Result;
use sqlx::{AnyPool, Row};
use std::collections::HashMap;

/// Which change requests a backtest replays.
#[derive(Debug, Clone, Default)]
pub struct Window {
    /// Created at or after this instant (ms).
    pub since_ms: i64,
    /// Only this stack.
    pub stack: Option<String>,
}

/// One change request to replay, with its plan as stored.
#[derive(Debug, Clone)]
pub struct ReplayRow {
    /// Its number.
    pub id: i64,
    /// Its stack.
    pub stack: String,
    /// Its status now.
    pub status: String,
    /// The engine's decision then.
    pub decision: String,
    /// Its confidence then.
    pub confidence: Option<f64>,
    /// SHA-256 of the plan text (what the sealed blob is bound to).
    pub plan_digest: String,
    /// The plan as stored: open it with [`crate::changes::open_plan`].
    pub plan: Vec<u8>,
}

fn filters(w: &Window, first: usize) -> String {
    let mut s = format!(" AND created_at >= ${first} AND decision IS NOT NULL");
    if w.stack.is_some() {
        s.push_str(&format!(" AND stack = ${}", first + 1));
    }
    s
}

/// How many evaluated change requests the window holds.
pub async fn count(pool: &AnyPool, w: &Window) -> Result<i64> {
    let sql = format!(
        "SELECT COUNT(*) FROM change_requests WHERE 1 = 1{}",
        filters(w, 1)
    );
    let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(w.since_ms);
    if let Some(s) = &w.stack {
        q = q.bind(s);
    }
    Ok(q.fetch_one(pool).await?)
}

/// The next page of the window: change requests numbered below `before`,
/// newest first, at most `limit` (1–1000).
pub async fn page(pool: &AnyPool, w: &Window, before: i64, limit: i64) -> Result<Vec<ReplayRow>> {
    let sql = format!(
        "SELECT id, stack, status, decision, confidence, plan_digest, plan FROM change_requests WHERE id < $1{} ORDER BY id DESC LIMIT {}",
        filters(w, 2),
        limit.clamp(1, 1000)
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(before)
        .bind(w.since_ms);
    if let Some(s) = &w.stack {
        q = q.bind(s);
    }
    q.fetch_all(pool)
        .await?
        .iter()
        .map(|r| {
            Ok(ReplayRow {
                id: r.try_get("id")?,
                stack: r.try_get("stack")?,
                status: r.try_get("status")?,
                decision: r.try_get("decision")?,
                confidence: r.try_get("confidence")?,
                plan_digest: r.try_get("plan_digest")?,
                plan: r.try_get("plan")?,
            })
        })
        .collect()
}

/// The reviews' decisions (`approve` / `reject`) of the window's change
/// requests, by change request.
pub async fn reviews(pool: &AnyPool, w: &Window) -> Result<HashMap<i64, Vec<String>>> {
    let mut sql = String::from(
        "SELECT r.change_request, r.decision FROM reviews r JOIN change_requests c ON c.id = r.change_request \
         WHERE c.created_at >= $1 AND c.decision IS NOT NULL",
    );
    if w.stack.is_some() {
        sql.push_str(" AND c.stack = $2");
    }
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(w.since_ms);
    if let Some(s) = &w.stack {
        q = q.bind(s);
    }
    let mut out: HashMap<i64, Vec<String>> = HashMap::new();
    for r in q.fetch_all(pool).await? {
        out.entry(r.try_get("change_request")?)
            .or_default()
            .push(r.try_get("decision")?);
    }
    Ok(out)
}
