//! Stacks: one document per stack, versioned for optimistic updates.

use crate::{parse_doc, to_doc, Result, StoreError, WriteCtx};
use arbiter_api::{Environment, Timestamp};
use serde::{Deserialize, Serialize};
use sqlx::{AnyPool, Row};

/// A stack's settings as stored (the `spec` document; its JSON is the
/// stored text, so its fields keep their names and order). Unknown fields
/// of a stored document are ignored, so a database written by a later
/// version still reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackDoc {
    /// Unique name.
    pub name: String,
    /// Environment.
    pub environment: Environment,
    /// Labels.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Monthly budget, USD.
    #[serde(default)]
    pub monthly_budget_usd: Option<f64>,
    /// Confidence needed to approve.
    #[serde(default)]
    pub auto_apply_threshold: Option<f64>,
    /// Whether approved changes may be applied without a person.
    #[serde(default)]
    pub auto_apply: bool,
    /// Plan policy sets.
    #[serde(default)]
    pub policy_sets: Vec<String>,
    /// Approval policy set.
    #[serde(default)]
    pub approval_policy: Option<String>,
    /// Lifetime of an ephemeral stack, seconds from creation.
    #[serde(default)]
    pub ttl_seconds: Option<i64>,
    /// Floor for introduced weaknesses (its canonical text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalate_introduced_at: Option<String>,
    /// How runs apply the stack's changes; defaults when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runs: Option<StackRunsDoc>,
}

/// A stack's runs settings as stored (the `runs` object of [`StackDoc`];
/// its JSON keeps the API's spelling, field for field). Unlike the API's
/// spec, which refuses unknown fields in a request, a stored document
/// ignores them, like the rest of `StackDoc`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StackRunsDoc {
    /// `terraform` or `tofu`.
    #[serde(default)]
    pub tool: arbiter_api::runs::ToolKind,
    /// The tool's binary on the worker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_path: Option<String>,
    /// The worker pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
    /// Per-phase time limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeouts: Option<PhaseTimeoutsDoc>,
    /// Environment variable names passed to the tool.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_env: Vec<String>,
    /// Variable name → file on the worker.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub secret_files: std::collections::BTreeMap<String, String>,
    /// Checks after an apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<VerificationDoc>,
}

/// Stored per-phase time limits, seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseTimeoutsDoc {
    /// Fetch and unpack.
    pub preparing: u64,
    /// `init`.
    pub initialising: u64,
    /// `plan`.
    pub planning: u64,
    /// `apply`.
    pub applying: u64,
}

/// Stored checks after an apply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerificationDoc {
    /// How long the checks must hold, seconds.
    pub window_secs: u64,
    /// Interval between checks, seconds.
    pub interval_secs: u64,
    /// A URL that must answer 2xx.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_url: Option<String>,
    /// Prometheus HTTP API base URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus_url: Option<String>,
    /// A PromQL expression that must keep returning a result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promql: Option<String>,
}

/// A stored stack: its settings and versioning.
#[derive(Debug, Clone, PartialEq)]
pub struct StackRow {
    /// The settings.
    pub doc: StackDoc,
    /// Bumped by every update.
    pub version: i64,
    /// Created.
    pub created_at: Timestamp,
    /// Last updated.
    pub updated_at: Timestamp,
    /// When an ephemeral stack expires, from its TTL.
    pub expires_at: Option<Timestamp>,
}

fn expires(spec: &StackDoc, created_at: i64) -> Option<i64> {
    spec.ttl_seconds
        .map(|t| created_at.saturating_add(t.saturating_mul(1000)))
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<StackRow> {
    let name: String = row.try_get("name")?;
    let doc: StackDoc = parse_doc("stack", &name, &row.try_get::<String, _>("spec")?)?;
    let expires_at: Option<i64> = row.try_get("expires_at")?;
    Ok(StackRow {
        doc,
        version: row.try_get("version")?,
        created_at: Timestamp::from_unix_ms(row.try_get("created_at")?),
        updated_at: Timestamp::from_unix_ms(row.try_get("updated_at")?),
        expires_at: expires_at.map(Timestamp::from_unix_ms),
    })
}

const COLUMNS: &str = "name, spec, version, created_at, updated_at, expires_at";

/// Creates a stack; a stack of that name must not exist.
pub async fn create(cx: &mut WriteCtx, spec: &StackDoc, actor: &str) -> Result<StackRow> {
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
        arbiter_api::AuditAction::StackCreated,
        &format!("stack:{}", spec.name),
        &serde_json::to_value(spec).unwrap_or_default(),
    )
    .await?;
    Ok(StackRow {
        doc: spec.clone(),
        version: 1,
        created_at: Timestamp::from_unix_ms(now),
        updated_at: Timestamp::from_unix_ms(now),
        expires_at: exp.map(Timestamp::from_unix_ms),
    })
}

/// Applies an update: `apply` changes the stored settings (and refuses
/// what does not validate, as a conflict), only if the stack is still at
/// `if_version` when given; `audited` is the update as the audit entry
/// records it.
pub async fn update(
    cx: &mut WriteCtx,
    name: &str,
    if_version: Option<i64>,
    apply: impl FnOnce(&mut StackDoc) -> std::result::Result<(), String> + Send,
    audited: &serde_json::Value,
    actor: &str,
) -> Result<StackRow> {
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
    if let Some(v) = if_version {
        if v != current.version {
            return Err(StoreError::Conflict(format!(
                "stack {name:?} is at version {}, not {v}: re-read it and retry",
                current.version
            )));
        }
    }
    let mut spec = current.doc.clone();
    apply(&mut spec).map_err(StoreError::Conflict)?;
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
        arbiter_api::AuditAction::StackUpdated,
        &format!("stack:{name}"),
        &serde_json::json!({"version": version, "update": audited}),
    )
    .await?;
    Ok(StackRow {
        doc: spec,
        version,
        created_at: current.created_at,
        updated_at: Timestamp::from_unix_ms(now),
        expires_at: exp.map(Timestamp::from_unix_ms),
    })
}

/// One stack.
pub async fn get(pool: &AnyPool, name: &str) -> Result<Option<StackRow>> {
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

/// Same, in the writer's transaction.
pub async fn get_in(cx: &mut WriteCtx, name: &str) -> Result<Option<StackRow>> {
    let sql = format!("SELECT {COLUMNS} FROM stacks WHERE name = $1");
    match sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(name)
        .fetch_optional(cx.conn())
        .await?
    {
        Some(row) => from_row(&row).map(Some),
        None => Ok(None),
    }
}

/// All stacks, by name.
pub async fn list(pool: &AnyPool) -> Result<Vec<StackRow>> {
    let sql = format!("SELECT {COLUMNS} FROM stacks ORDER BY name");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(pool)
        .await?;
    rows.iter().map(from_row).collect()
}
