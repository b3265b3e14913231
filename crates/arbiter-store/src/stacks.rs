//! Stacks: one document per stack, versioned for optimistic updates.

use crate::{parse_doc, to_doc, Result, StoreError, WriteCtx};
use arbiter_api::{rfc3339, Stack, StackSpec, StackUpdate};
use sqlx::{AnyPool, Row};

fn expires(spec: &StackSpec, created_at: i64) -> Option<i64> {
    spec.ttl_seconds
        .map(|t| created_at.saturating_add(t.saturating_mul(1000)))
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<Stack> {
    let name: String = row.try_get("name")?;
    let spec: StackSpec = parse_doc("stack", &name, &row.try_get::<String, _>("spec")?)?;
    let expires_at: Option<i64> = row.try_get("expires_at")?;
    Ok(Stack {
        spec,
        version: row.try_get("version")?,
        created_at: rfc3339(row.try_get("created_at")?),
        updated_at: rfc3339(row.try_get("updated_at")?),
        expires_at: expires_at.map(rfc3339),
    })
}

const COLUMNS: &str = "name, spec, version, created_at, updated_at, expires_at";

/// Creates a stack; a stack of that name must not exist.
pub async fn create(cx: &mut WriteCtx, spec: &StackSpec, actor: &str) -> Result<Stack> {
    let now = cx.now_ms();
    let exp = expires(spec, now);
    let r = sqlx::query(
        "INSERT INTO stacks (name, spec, version, created_at, updated_at, expires_at) VALUES ($1, $2, 1, $3, $3, $4)",
    )
    .bind(&spec.name)
    .bind(to_doc(spec))
    .bind(now)
    .bind(exp)
    .execute(cx.conn())
    .await;
    if let Err(e) = r {
        let e = StoreError::from(e);
        return Err(if e.is_unique_violation() {
            StoreError::Conflict(format!("stack {:?} exists already", spec.name))
        } else {
            e
        });
    }
    cx.audit(
        actor,
        "stack.created",
        &format!("stack:{}", spec.name),
        &serde_json::to_value(spec).unwrap_or_default(),
    )
    .await?;
    Ok(Stack {
        spec: spec.clone(),
        version: 1,
        created_at: rfc3339(now),
        updated_at: rfc3339(now),
        expires_at: exp.map(rfc3339),
    })
}

/// Applies a partial update, checked by `validate` before it is stored.
pub async fn update(
    cx: &mut WriteCtx,
    name: &str,
    up: &StackUpdate,
    actor: &str,
    validate: impl FnOnce(&StackSpec) -> std::result::Result<(), String> + Send,
) -> Result<Stack> {
    let sql = format!(
        "SELECT {COLUMNS} FROM stacks WHERE name = $1{}",
        cx.backend().for_update()
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(name)
        .fetch_optional(cx.conn())
        .await?
        .ok_or_else(|| StoreError::NotFound {
            what: "stack",
            key: name.into(),
        })?;
    let current = from_row(&row)?;
    let created_ms: i64 = row.try_get("created_at")?;
    if let Some(v) = up.if_version {
        if v != current.version {
            return Err(StoreError::Conflict(format!(
                "stack {name:?} is at version {}, not {v}: re-read it and retry",
                current.version
            )));
        }
    }
    let mut spec = current.spec.clone();
    if let Some(e) = &up.environment {
        spec.environment = e.clone();
    }
    if let Some(l) = &up.labels {
        spec.labels = l.clone();
    }
    if let Some(b) = up.monthly_budget_usd {
        spec.monthly_budget_usd = b;
    }
    if let Some(t) = up.auto_apply_threshold {
        spec.auto_apply_threshold = t;
    }
    if let Some(a) = up.auto_apply {
        spec.auto_apply = a;
    }
    if let Some(p) = &up.policy_sets {
        spec.policy_sets = p.clone();
    }
    if let Some(p) = &up.approval_policy {
        spec.approval_policy = p.clone();
    }
    if let Some(t) = up.ttl_seconds {
        spec.ttl_seconds = t;
    }
    if let Some(f) = &up.escalate_introduced_at {
        spec.escalate_introduced_at = f.clone();
    }
    if let Some(r) = &up.runs {
        spec.runs = r.clone();
    }
    validate(&spec).map_err(StoreError::Conflict)?;
    let now = cx.now_ms();
    let exp = expires(&spec, created_ms);
    let version = current.version + 1;
    sqlx::query("UPDATE stacks SET spec = $1, version = $2, updated_at = $3, expires_at = $4 WHERE name = $5")
        .bind(to_doc(&spec))
        .bind(version)
        .bind(now)
        .bind(exp)
        .bind(name)
        .execute(cx.conn())
        .await?;
    cx.audit(
        actor,
        "stack.updated",
        &format!("stack:{name}"),
        &serde_json::json!({"version": version, "update": up}),
    )
    .await?;
    Ok(Stack {
        spec,
        version,
        created_at: current.created_at,
        updated_at: rfc3339(now),
        expires_at: exp.map(rfc3339),
    })
}

/// One stack.
pub async fn get(pool: &AnyPool, name: &str) -> Result<Option<Stack>> {
    let sql = format!("SELECT {COLUMNS} FROM stacks WHERE name = $1");
    match sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(name)
        .fetch_optional(pool)
        .await?
    {
        Some(row) => from_row(&row).map(Some),
        None => Ok(None),
    }
}

/// All stacks, by name.
pub async fn list(pool: &AnyPool) -> Result<Vec<Stack>> {
    let sql = format!("SELECT {COLUMNS} FROM stacks ORDER BY name");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(pool)
        .await?;
    rows.iter().map(from_row).collect()
}
