//! State history: the Terraform states of each stack, numbered 1, 2, … per
//! stack, stored content-addressed (the SHA-256 of the state's bytes names
//! a blob; equal contents share one) and deflate-compressed; and the
//! rollbacks asked for (which change request returns a stack to which
//! version).
//!
//! A push is checked against the latest version in the writer's
//! transaction: the same content again is not a new version; a different
//! lineage (another workspace's state) or a serial that is not newer is
//! refused unless forced. Every stored version and every rollback is in the
//! audit log, in the same transaction.

use crate::{parse_doc, to_doc, Result, StoreError, WriteCtx};
use arbiter_api::{StateOrigin, Timestamp};
use sha2::{Digest, Sha256};
use sqlx::{AnyPool, Row};
use std::io::{Read, Write};

/// A state version to store. Build it with [`NewStateVersion::new`] (off the
/// async threads for large states: it hashes and compresses).
#[derive(Debug, Clone)]
pub struct NewStateVersion {
    /// The stack.
    pub stack: String,
    /// Hex SHA-256 of the state's bytes.
    pub digest: String,
    /// Size of the state, bytes.
    pub size: i64,
    /// The state, deflate-compressed and sealed with the data key.
    pub compressed: Vec<u8>,
    /// `raw_v4` or `show_json`.
    pub form: String,
    /// Terraform's serial.
    pub serial: Option<i64>,
    /// Terraform's lineage.
    pub lineage: Option<String>,
    /// Terraform version that wrote it.
    pub terraform_version: Option<String>,
    /// Number of resource instances.
    pub resources: i64,
    /// The commit it came from.
    pub commit: Option<String>,
    /// Who stores it.
    pub pushed_by: String,
    /// `push` or `apply`.
    pub origin: StateOrigin,
    /// Store it over a lineage or serial refusal.
    pub force: bool,
    /// The run that wrote it and the configuration it applied (RunSource
    /// JSON), for origin `apply`.
    pub run: Option<(i64, String)>,
}

/// Facts about a state, read by the caller (the store does not parse states).
#[derive(Debug, Clone, Default)]
pub struct StateFacts {
    /// `raw_v4` or `show_json`.
    pub form: String,
    /// Terraform's serial.
    pub serial: Option<i64>,
    /// Terraform's lineage.
    pub lineage: Option<String>,
    /// Terraform version that wrote it.
    pub terraform_version: Option<String>,
    /// Number of resource instances.
    pub resources: i64,
}

impl NewStateVersion {
    /// Hashes, compresses and seals `bytes`, the state exactly as received.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        sealer: &crate::sealed::Sealer,
        stack: &str,
        bytes: &[u8],
        facts: StateFacts,
        commit: Option<String>,
        pushed_by: &str,
        origin: StateOrigin,
        force: bool,
    ) -> NewStateVersion {
        let digest = digest(bytes);
        NewStateVersion {
            stack: stack.to_string(),
            compressed: sealer.seal(&blob_context(&digest), &compress(bytes)),
            digest,
            size: bytes.len() as i64,
            form: facts.form,
            serial: facts.serial,
            lineage: facts.lineage,
            terraform_version: facts.terraform_version,
            resources: facts.resources,
            commit,
            pushed_by: pushed_by.to_string(),
            origin,
            force,
            run: None,
        }
    }
}

/// What a stored state blob is bound to (its associated data).
pub(crate) fn blob_context(digest: &str) -> Vec<u8> {
    format!("state_blob:{digest}").into_bytes()
}

/// Hex SHA-256 of a state's bytes: its content address.
pub fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn compress(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = e.write_all(bytes);
    e.finish().unwrap_or_default()
}

/// One stored version of a stack's state (the API's `StateVersion`).
#[derive(Debug, Clone, PartialEq)]
pub struct StateVersionRow {
    /// The stack.
    pub stack: String,
    /// 1, 2, … per stack.
    pub version: i64,
    /// Hex SHA-256 of the state's bytes.
    pub digest: String,
    /// Size of the state, bytes.
    pub size_bytes: i64,
    /// Size as stored (compressed), bytes.
    pub stored_bytes: i64,
    /// `raw_v4` or `show_json`.
    pub form: String,
    /// Terraform's serial (raw states only).
    pub serial: Option<i64>,
    /// Terraform's lineage (raw states only).
    pub lineage: Option<String>,
    /// Terraform version that wrote it.
    pub terraform_version: Option<String>,
    /// Number of resource instances.
    pub resource_count: i64,
    /// The commit it came from.
    pub commit: Option<String>,
    /// Who pushed it.
    pub pushed_by: String,
    /// How it came.
    pub origin: StateOrigin,
    /// The run that wrote it (origin `apply`).
    pub run: Option<i64>,
    /// Stored with `force` over a lineage or serial check.
    pub forced: bool,
    /// When it was stored.
    pub created_at: Timestamp,
}

/// A resource instance a rollback changes, as stored in the rollback's
/// `resources` document (the wire spelling, so stored rows are unchanged).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RollbackResourceRow {
    /// Full address.
    pub address: String,
    /// `create`, `update`, `delete` or `replace`.
    pub action: String,
}

/// A stored rollback (the API's `Rollback`).
#[derive(Debug, Clone, PartialEq)]
pub struct RollbackRow {
    /// The stack.
    pub stack: String,
    /// The change request that carries it.
    pub change_request: i64,
    /// The latest version when it was asked for.
    pub from_version: i64,
    /// The version it returns to.
    pub to_version: i64,
    /// The commit of the target version.
    pub commit: Option<String>,
    /// The instances that differ.
    pub resources: Vec<RollbackResourceRow>,
    /// Who asked.
    pub requested_by: String,
    /// When it was recorded.
    pub created_at: Timestamp,
}

/// What a push did.
#[derive(Debug, Clone)]
pub enum PushOutcome {
    /// A new version was stored.
    Created {
        /// The version.
        version: StateVersionRow,
        /// Whether its content was new (else an existing blob is shared).
        new_blob: bool,
    },
    /// The content is the latest version's: nothing was stored.
    Unchanged(StateVersionRow),
    /// Refused: the lineage differs from the latest version's.
    LineageChanged {
        /// The latest version.
        latest: StateVersionRow,
        /// The pushed state's lineage.
        lineage: String,
    },
    /// Refused: same lineage, but the serial is not newer than the latest's.
    SerialNotNewer {
        /// The latest version.
        latest: StateVersionRow,
        /// The pushed state's serial.
        serial: i64,
    },
}

const COLUMNS: &str =
    "v.stack, v.version, v.digest, v.form, v.serial, v.lineage, v.terraform_version, v.resources, \
     v.commit_sha, v.pushed_by, v.origin, v.forced, v.created_at, v.run_id, b.size, b.stored";

fn from_row(row: &sqlx::any::AnyRow) -> Result<StateVersionRow> {
    let stack: String = row.try_get("stack")?;
    let version: i64 = row.try_get("version")?;
    let key = format!("{stack} v{version}");
    Ok(StateVersionRow {
        origin: crate::parse_col(row, "origin", "state version", &key)?,
        stack,
        version,
        digest: row.try_get("digest")?,
        size_bytes: row.try_get("size")?,
        stored_bytes: row.try_get("stored")?,
        form: row.try_get("form")?,
        serial: row.try_get("serial")?,
        lineage: row.try_get("lineage")?,
        terraform_version: row.try_get("terraform_version")?,
        resource_count: row.try_get("resources")?,
        commit: row.try_get("commit_sha")?,
        pushed_by: row.try_get("pushed_by")?,
        forced: row.try_get::<i64, _>("forced")? != 0,
        run: row.try_get("run_id")?,
        created_at: Timestamp::from_unix_ms(row.try_get("created_at")?),
    })
}

/// Stores a state as the stack's next version, unless it is the latest
/// version's content again or fails the lineage and serial checks (see
/// [`PushOutcome`]); audits `state.pushed` when it stores one.
pub async fn push(cx: &mut WriteCtx, new: &NewStateVersion) -> Result<PushOutcome> {
    let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM stacks WHERE name = $1")
        .bind(&new.stack)
        .fetch_optional(cx.conn())
        .await?;
    if exists.is_none() {
        return Err(StoreError::NotFound {
            what: "stack",
            key: new.stack.clone(),
        });
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM state_versions v JOIN state_blobs b ON b.digest = v.digest \
         WHERE v.stack = $1 ORDER BY v.version DESC LIMIT 1{}",
        cx.backend().for_update()
    );
    let latest = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&new.stack)
        .fetch_optional(cx.conn())
        .await?
        .as_ref()
        .map(from_row)
        .transpose()?;
    let mut overridden: Vec<&str> = Vec::new();
    if let Some(l) = &latest {
        if l.digest == new.digest {
            return Ok(PushOutcome::Unchanged(l.clone()));
        }
        let same_lineage = match (&l.lineage, &new.lineage) {
            (Some(a), Some(b)) if a != b => {
                if !new.force {
                    return Ok(PushOutcome::LineageChanged {
                        latest: l.clone(),
                        lineage: b.clone(),
                    });
                }
                overridden.push("lineage");
                false
            }
            _ => true,
        };
        if let (true, Some(a), Some(b)) = (same_lineage, l.serial, new.serial) {
            if b <= a {
                if !new.force {
                    return Ok(PushOutcome::SerialNotNewer {
                        latest: l.clone(),
                        serial: b,
                    });
                }
                overridden.push("serial");
            }
        }
    }
    let now = cx.now_ms();
    let stored = new.compressed.len() as i64;
    // Content-addressed: a blob already stored under this digest is shared.
    let r = sqlx::query(
        "INSERT INTO state_blobs (digest, size, stored, compressed, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (digest) DO NOTHING",
    )
    .bind(&new.digest)
    .bind(new.size)
    .bind(stored)
    .bind(&new.compressed)
    .bind(now)
    .execute(cx.conn())
    .await?;
    let new_blob = r.rows_affected() > 0;
    let version = latest.as_ref().map_or(1, |l| l.version + 1);
    let forced = !overridden.is_empty();
    sqlx::query(
        "INSERT INTO state_versions (stack, version, digest, form, serial, lineage, terraform_version, resources, \
         commit_sha, pushed_by, origin, forced, created_at, run_id, run_source) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(&new.stack)
    .bind(version)
    .bind(&new.digest)
    .bind(&new.form)
    .bind(new.serial)
    .bind(&new.lineage)
    .bind(&new.terraform_version)
    .bind(new.resources)
    .bind(&new.commit)
    .bind(&new.pushed_by)
    .bind(new.origin.as_str())
    .bind(forced as i64)
    .bind(now)
    .bind(new.run.as_ref().map(|r| r.0))
    .bind(new.run.as_ref().map(|r| r.1.clone()))
    .execute(cx.conn())
    .await?;
    let mut payload = serde_json::json!({
        "version": version,
        "digest": new.digest,
        "size": new.size,
        "form": new.form,
        "serial": new.serial,
        "lineage": new.lineage,
        "terraform_version": new.terraform_version,
        "resources": new.resources,
        "commit": new.commit,
        "origin": new.origin,
        "forced_over": overridden,
        "previous": latest.as_ref().map(|l| serde_json::json!({"version": l.version, "digest": l.digest, "lineage": l.lineage, "serial": l.serial})),
    });
    if let (Some((run, _)), Some(o)) = (&new.run, payload.as_object_mut()) {
        o.insert("run".into(), serde_json::json!(run));
    }
    cx.audit(
        &new.pushed_by,
        arbiter_api::AuditAction::StatePushed,
        &format!("stack:{}", new.stack),
        &payload,
    )
    .await?;
    let stored_bytes = if new_blob {
        stored
    } else {
        sqlx::query_scalar("SELECT stored FROM state_blobs WHERE digest = $1")
            .bind(&new.digest)
            .fetch_one(cx.conn())
            .await?
    };
    Ok(PushOutcome::Created {
        version: StateVersionRow {
            stack: new.stack.clone(),
            version,
            digest: new.digest.clone(),
            size_bytes: new.size,
            stored_bytes,
            form: new.form.clone(),
            serial: new.serial,
            lineage: new.lineage.clone(),
            terraform_version: new.terraform_version.clone(),
            resource_count: new.resources,
            commit: new.commit.clone(),
            pushed_by: new.pushed_by.clone(),
            origin: new.origin,
            run: new.run.as_ref().map(|r| r.0),
            forced,
            created_at: Timestamp::from_unix_ms(now),
        },
        new_blob,
    })
}

/// One version of a stack's state.
pub async fn get(pool: &AnyPool, stack: &str, version: i64) -> Result<Option<StateVersionRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM state_versions v JOIN state_blobs b ON b.digest = v.digest WHERE v.stack = $1 AND v.version = $2"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(stack)
        .bind(version)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// The latest version of a stack's state.
pub async fn latest(pool: &AnyPool, stack: &str) -> Result<Option<StateVersionRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM state_versions v JOIN state_blobs b ON b.digest = v.digest WHERE v.stack = $1 \
         ORDER BY v.version DESC LIMIT 1"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(stack)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Versions of a stack's state, newest first: below `before` when given, at
/// most `limit` (1–1000).
pub async fn list(
    pool: &AnyPool,
    stack: &str,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<StateVersionRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM state_versions v JOIN state_blobs b ON b.digest = v.digest WHERE v.stack = $1 AND v.version < $2 \
         ORDER BY v.version DESC LIMIT {}",
        limit.clamp(1, 1000)
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(stack)
        .bind(before.unwrap_or(i64::MAX))
        .fetch_all(pool)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// The bytes of a stored state, exactly as pushed. Fails (`Corrupt`) when
/// the stored blob does not decompress to content with its digest and size.
pub async fn content(
    pool: &AnyPool,
    sealer: &crate::sealed::Sealer,
    digest_hex: &str,
) -> Result<Vec<u8>> {
    let row = sqlx::query("SELECT size, compressed FROM state_blobs WHERE digest = $1")
        .bind(digest_hex)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| StoreError::NotFound {
            what: "state blob",
            key: digest_hex.to_string(),
        })?;
    let size: i64 = row.try_get("size")?;
    let compressed: Vec<u8> = row.try_get("compressed")?;
    // Opening, inflating and hashing are CPU work: on the blocking pool.
    let (sealer, digest_hex) = (sealer.clone(), digest_hex.to_string());
    tokio::task::spawn_blocking(move || open_blob(&sealer, &digest_hex, size, &compressed))
        .await
        .map_err(|e| StoreError::WriterGone(format!("opening a state blob: {e}")))?
}

/// Opens a stored blob and checks it against its digest and size.
fn open_blob(
    sealer: &crate::sealed::Sealer,
    digest_hex: &str,
    size: i64,
    compressed: &[u8],
) -> Result<Vec<u8>> {
    let corrupt = |why: String| StoreError::Corrupt {
        what: "state blob",
        key: digest_hex.to_string(),
        why,
    };
    let compressed = sealer
        .open(&blob_context(digest_hex), compressed)
        .map_err(|e| corrupt(e.to_string()))?;
    let limit = u64::try_from(size).map_err(|_| corrupt(format!("size {size}")))?;
    let mut out = Vec::with_capacity(limit.min(1 << 30) as usize);
    // Never more than the recorded size (plus one byte to notice more).
    flate2::read::DeflateDecoder::new(compressed.as_slice())
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| corrupt(e.to_string()))?;
    if out.len() as u64 != limit {
        return Err(corrupt(format!(
            "decompresses to {} bytes, recorded {size}",
            out.len()
        )));
    }
    if digest(&out) != digest_hex {
        return Err(corrupt("its content does not hash to its digest".into()));
    }
    Ok(out)
}

/// The configuration (RunSource JSON) recorded with a state version written
/// by a run; `None` when the version was not written by a run.
pub async fn run_source(pool: &AnyPool, stack: &str, version: i64) -> Result<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT run_source FROM state_versions WHERE stack = $1 AND version = $2",
    )
    .bind(stack)
    .bind(version)
    .fetch_optional(pool)
    .await?
    .flatten())
}

/// Number of distinct state contents stored (all stacks).
pub async fn blob_count(pool: &AnyPool) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM state_blobs")
        .fetch_one(pool)
        .await?)
}

/// Records the rollback a change request carries and audits it
/// (`state.rollback_requested` on the stack, naming the change request).
pub async fn record_rollback(cx: &mut WriteCtx, r: &RollbackRow) -> Result<()> {
    let now = cx.now_ms();
    sqlx::query(
        "INSERT INTO state_rollbacks (change_request, stack, from_version, to_version, commit_sha, resources, requested_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(r.change_request)
    .bind(&r.stack)
    .bind(r.from_version)
    .bind(r.to_version)
    .bind(&r.commit)
    .bind(to_doc(&r.resources))
    .bind(&r.requested_by)
    .bind(now)
    .execute(cx.conn())
    .await?;
    cx.audit(
        &r.requested_by,
        arbiter_api::AuditAction::StateRollbackRequested,
        &format!("stack:{}", r.stack),
        &serde_json::json!({
            "change_request": r.change_request,
            "from_version": r.from_version,
            "to_version": r.to_version,
            "commit": r.commit,
            "resources": r.resources,
        }),
    )
    .await?;
    Ok(())
}

fn rollback_from_row(row: &sqlx::any::AnyRow) -> Result<RollbackRow> {
    let id: i64 = row.try_get("change_request")?;
    let resources: Vec<RollbackResourceRow> = parse_doc(
        "rollback resources of change request",
        &id.to_string(),
        &row.try_get::<String, _>("resources")?,
    )?;
    Ok(RollbackRow {
        stack: row.try_get("stack")?,
        change_request: id,
        from_version: row.try_get("from_version")?,
        to_version: row.try_get("to_version")?,
        commit: row.try_get("commit_sha")?,
        resources,
        requested_by: row.try_get("requested_by")?,
        created_at: Timestamp::from_unix_ms(row.try_get("created_at")?),
    })
}

const ROLLBACK_COLUMNS: &str =
    "change_request, stack, from_version, to_version, commit_sha, resources, requested_by, created_at";

/// The rollback a change request carries, if it is one.
pub async fn rollback(pool: &AnyPool, change_request: i64) -> Result<Option<RollbackRow>> {
    let sql = format!("SELECT {ROLLBACK_COLUMNS} FROM state_rollbacks WHERE change_request = $1");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(change_request)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(rollback_from_row)
        .transpose()
}

/// A stack's rollbacks, newest first.
pub async fn rollbacks(pool: &AnyPool, stack: &str, limit: i64) -> Result<Vec<RollbackRow>> {
    let sql = format!(
        "SELECT {ROLLBACK_COLUMNS} FROM state_rollbacks WHERE stack = $1 ORDER BY change_request DESC LIMIT {}",
        limit.clamp(1, 1000)
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(stack)
        .fetch_all(pool)
        .await?
        .iter()
        .map(rollback_from_row)
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn digests_are_sha256_hex() {
        assert_eq!(
            super::digest(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
