//! Waivers of a stack: created and revoked through the writer, each with its
//! audit entry (`waiver.created`, `waiver.revoked`, subject `stack:NAME`,
//! the waiver as payload) in the same transaction. Rows are never deleted:
//! a revoked waiver keeps who revoked it and when.
//!
//! The store does not parse expiry dates: the caller gives the canonical
//! text and the instant it ends, and `expired` is that instant compared
//! with the time of the read.

use crate::{now_ms, Result, StoreError, WriteCtx};
use arbiter_api::Timestamp;
use sqlx::{AnyPool, Row};

/// A checked waiver to store.
#[derive(Debug, Clone)]
pub struct NewWaiver {
    /// The stack (must exist).
    pub stack: String,
    /// Rule ID.
    pub rule: String,
    /// Address glob.
    pub address: String,
    /// Why.
    pub reason: String,
    /// Who owns the decision.
    pub owner: String,
    /// Canonical expiry text (`YYYY-MM-DD` or RFC 3339).
    pub expires: String,
    /// The first instant (Unix ms) at which it no longer counts.
    pub expires_at: i64,
}

const COLUMNS: &str = "id, stack, rule, address, reason, owner, expires, expires_at, created_by, created_at, revoked_at, revoked_by";

/// A stored waiver (the API's `Waiver`). It is also the detail of its audit
/// entries (`waiver.created`, `waiver.revoked`), so it serialises in the
/// wire spelling and field order: audit entries did not change.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct WaiverRow {
    /// Identifier, unique per server.
    pub id: i64,
    /// The stack it applies to.
    pub stack: String,
    /// The waived rule.
    pub rule: String,
    /// Address glob.
    pub address: String,
    /// Why.
    pub reason: String,
    /// Who owns the decision.
    pub owner: String,
    /// Canonical expiry: `YYYY-MM-DD` or RFC 3339.
    pub expires: String,
    /// Who created it.
    pub created_by: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was revoked.
    pub revoked_at: Option<Timestamp>,
    /// Who revoked it.
    pub revoked_by: Option<String>,
    /// Whether it had expired at the time of the read.
    pub expired: bool,
}

fn from_row(r: &sqlx::any::AnyRow, now: i64) -> Result<WaiverRow> {
    let expires_at: i64 = r.try_get("expires_at")?;
    let revoked_at: Option<i64> = r.try_get("revoked_at")?;
    Ok(WaiverRow {
        id: r.try_get("id")?,
        stack: r.try_get("stack")?,
        rule: r.try_get("rule")?,
        address: r.try_get("address")?,
        reason: r.try_get("reason")?,
        owner: r.try_get("owner")?,
        expires: r.try_get("expires")?,
        created_by: r.try_get("created_by")?,
        created_at: Timestamp::from_unix_ms(r.try_get("created_at")?),
        revoked_at: revoked_at.map(Timestamp::from_unix_ms),
        revoked_by: r.try_get("revoked_by")?,
        expired: now >= expires_at,
    })
}

/// Creates a waiver and records `waiver.created`.
pub async fn create(cx: &mut WriteCtx, w: &NewWaiver, actor: &str) -> Result<WaiverRow> {
    let exists: Option<String> = sqlx::query_scalar("SELECT name FROM stacks WHERE name = $1")
        .bind(&w.stack)
        .fetch_optional(cx.conn())
        .await?;
    if exists.is_none() {
        return Err(StoreError::NotFound {
            what: "stack",
            key: w.stack.clone(),
        });
    }
    let id: i64 = sqlx::query_scalar(
        "UPDATE counters SET value = value + 1 WHERE name = 'waiver' RETURNING value",
    )
    .fetch_one(cx.conn())
    .await?;
    let now = cx.now_ms();
    sqlx::query(
        "INSERT INTO waivers (id, stack, rule, address, reason, owner, expires, expires_at, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(id)
    .bind(&w.stack)
    .bind(&w.rule)
    .bind(&w.address)
    .bind(&w.reason)
    .bind(&w.owner)
    .bind(&w.expires)
    .bind(w.expires_at)
    .bind(actor)
    .bind(now)
    .execute(cx.conn())
    .await?;
    let waiver = WaiverRow {
        id,
        stack: w.stack.clone(),
        rule: w.rule.clone(),
        address: w.address.clone(),
        reason: w.reason.clone(),
        owner: w.owner.clone(),
        expires: w.expires.clone(),
        created_by: actor.into(),
        created_at: Timestamp::from_unix_ms(now),
        revoked_at: None,
        revoked_by: None,
        expired: now >= w.expires_at,
    };
    cx.audit(
        actor,
        arbiter_api::AuditAction::WaiverCreated,
        &format!("stack:{}", w.stack),
        &serde_json::to_value(&waiver).unwrap_or_default(),
    )
    .await?;
    Ok(waiver)
}

/// Revokes a waiver of a stack and records `waiver.revoked`. Revoking a
/// revoked waiver changes nothing and records nothing: the answer is the
/// waiver as the first revocation left it.
pub async fn revoke(cx: &mut WriteCtx, stack: &str, id: i64, actor: &str) -> Result<WaiverRow> {
    let now = cx.now_ms();
    let n = sqlx::query(
        "UPDATE waivers SET revoked_at = $1, revoked_by = $2 WHERE id = $3 AND stack = $4 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(actor)
    .bind(id)
    .bind(stack)
    .execute(cx.conn())
    .await?
    .rows_affected();
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM waivers WHERE id = $1 AND stack = $2"
    )))
    .bind(id)
    .bind(stack)
    .fetch_optional(cx.conn())
    .await?
    .ok_or_else(|| StoreError::NotFound {
        what: "waiver",
        key: format!("{stack}/{id}"),
    })?;
    let waiver = from_row(&row, now)?;
    if n > 0 {
        cx.audit(
            actor,
            arbiter_api::AuditAction::WaiverRevoked,
            &format!("stack:{stack}"),
            &serde_json::to_value(&waiver).unwrap_or_default(),
        )
        .await?;
    }
    Ok(waiver)
}

/// One waiver of a stack (revoked ones too).
pub async fn get(pool: &AnyPool, stack: &str, id: i64) -> Result<Option<WaiverRow>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM waivers WHERE id = $1 AND stack = $2"
    )))
    .bind(id)
    .bind(stack)
    .fetch_optional(pool)
    .await?;
    row.map(|r| from_row(&r, now_ms())).transpose()
}

/// The waivers of a stack, oldest first: unrevoked ones (expired ones
/// included, so a verdict can say a waiver expired), and revoked ones too
/// when `include_revoked`.
pub async fn list(pool: &AnyPool, stack: &str, include_revoked: bool) -> Result<Vec<WaiverRow>> {
    let filter = if include_revoked {
        ""
    } else {
        " AND revoked_at IS NULL"
    };
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM waivers WHERE stack = $1{filter} ORDER BY id"
    )))
    .bind(stack)
    .fetch_all(pool)
    .await?;
    let now = now_ms();
    rows.iter().map(|r| from_row(r, now)).collect()
}
