//! Policy sets: named, versioned bundles of Rego files. A put never changes
//! a stored version; it adds the next one.

use crate::{parse_doc, to_doc, Result, StoreError, WriteCtx};
use arbiter_api::{PolicyKind, Timestamp};
use sha2::{Digest, Sha256};
use sqlx::{AnyPool, Row};
use std::collections::BTreeMap;

/// Hex SHA-256 over the files: each name and content length-prefixed, in
/// name order.
pub fn digest(files: &BTreeMap<String, String>) -> String {
    let mut h = Sha256::new();
    for (name, text) in files {
        h.update((name.len() as u64).to_be_bytes());
        h.update(name.as_bytes());
        h.update((text.len() as u64).to_be_bytes());
        h.update(text.as_bytes());
    }
    hex::encode(h.finalize())
}

/// A stored version of a policy set (the API's `PolicySet`).
#[derive(Debug, Clone, PartialEq)]
pub struct PolicySetRow {
    /// Name.
    pub name: String,
    /// 1, 2, … (each put adds one).
    pub version: i64,
    /// `plan` or `approval`.
    pub kind: PolicyKind,
    /// Hex SHA-256 over the files.
    pub digest: String,
    /// Who stored it.
    pub created_by: String,
    /// When it was stored.
    pub created_at: Timestamp,
    /// The files (not read for lists).
    pub files: Option<BTreeMap<String, String>>,
}

fn from_row(row: &sqlx::any::AnyRow, with_files: bool) -> Result<PolicySetRow> {
    let name: String = row.try_get("name")?;
    let files = if with_files {
        Some(parse_doc(
            "policy set",
            &name,
            &row.try_get::<String, _>("files")?,
        )?)
    } else {
        None
    };
    Ok(PolicySetRow {
        version: row.try_get("version")?,
        kind: crate::parse_col(row, "kind", "policy set", &name)?,
        digest: row.try_get("digest")?,
        created_by: row.try_get("created_by")?,
        created_at: Timestamp::from_unix_ms(row.try_get("created_at")?),
        files,
        name,
    })
}

/// Stores a new version of a policy set. A set keeps its kind.
pub async fn put(
    cx: &mut WriteCtx,
    name: &str,
    kind: PolicyKind,
    files: &BTreeMap<String, String>,
    actor: &str,
) -> Result<PolicySetRow> {
    let sql = format!(
        "SELECT version, kind FROM policy_sets WHERE name = $1 ORDER BY version DESC LIMIT 1{}",
        cx.backend().for_update()
    );
    let last = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(name)
        .fetch_optional(cx.conn())
        .await?;
    let version = match &last {
        Some(r) => {
            let k: String = r.try_get("kind")?;
            if k != kind.as_str() {
                return Err(StoreError::Conflict(format!(
                    "policy set {name:?} is of kind {k:?}, not {:?}",
                    kind.as_str()
                )));
            }
            r.try_get::<i64, _>("version")? + 1
        }
        None => 1,
    };
    let now = cx.now_ms();
    let d = digest(files);
    sqlx::query("INSERT INTO policy_sets (name, version, kind, files, digest, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(name)
        .bind(version)
        .bind(kind.as_str())
        .bind(to_doc(files))
        .bind(&d)
        .bind(actor)
        .bind(now)
        .execute(cx.conn())
        .await?;
    cx.audit(
        actor,
        arbiter_api::AuditAction::PolicySetUpdated,
        &format!("policy_set:{name}"),
        &serde_json::json!({"version": version, "kind": kind, "digest": d, "files": files.keys().collect::<Vec<_>>()}),
    )
    .await?;
    Ok(PolicySetRow {
        name: name.into(),
        version,
        kind,
        digest: d,
        created_by: actor.into(),
        created_at: Timestamp::from_unix_ms(now),
        files: Some(files.clone()),
    })
}

const COLUMNS: &str = "name, version, kind, files, digest, created_by, created_at";

/// A version of a set (the latest when `version` is `None`), with its files.
pub async fn get(pool: &AnyPool, name: &str, version: Option<i64>) -> Result<Option<PolicySetRow>> {
    let row = match version {
        Some(v) => {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM policy_sets WHERE name = $1 AND version = $2"
            )))
            .bind(name)
            .bind(v)
            .fetch_optional(pool)
            .await?
        }
        None => {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM policy_sets WHERE name = $1 ORDER BY version DESC LIMIT 1"
            )))
            .bind(name)
            .fetch_optional(pool)
            .await?
        }
    };
    row.as_ref().map(|r| from_row(r, true)).transpose()
}

/// The latest version of every set, without files.
pub async fn list(pool: &AnyPool) -> Result<Vec<PolicySetRow>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM policy_sets p WHERE version = (SELECT MAX(version) FROM policy_sets q WHERE q.name = p.name) ORDER BY name"
    )))
    .fetch_all(pool)
    .await?;
    rows.iter().map(|r| from_row(r, false)).collect()
}

/// Every version of one set, newest first, without files.
pub async fn versions(pool: &AnyPool, name: &str) -> Result<Vec<PolicySetRow>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM policy_sets WHERE name = $1 ORDER BY version DESC"
    )))
    .bind(name)
    .fetch_all(pool)
    .await?;
    rows.iter().map(|r| from_row(r, false)).collect()
}
