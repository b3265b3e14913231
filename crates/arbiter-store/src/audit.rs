//! The audit log in the database: entries appended inside the writer's
//! transaction, the chain head (with its Merkle frontier) in one locked row,
//! signed checkpoints, the server's signing key, and reads for export.

use crate::{Backend, Result, StoreError};
use arbiter_audit::{
    canonical_json, AuditSigningKey, ChainHead, Checkpoint, Digest, Entry, MerkleFrontier,
    NewEntry, Timestamp,
};
use sqlx::{AnyConnection, AnyPool, Row};

/// The server's checkpoint signing key.
pub type ServerKey = std::sync::Arc<AuditSigningKey>;

/// The chain head as the writer holds it during a transaction.
#[derive(Debug, Clone, Default)]
pub struct Head {
    /// Last sequence number (0: empty log).
    pub seq: u64,
    /// Last entry hash.
    pub hash: Digest,
    /// Merkle frontier over entries 1..=seq.
    pub frontier: MerkleFrontier,
    /// Last checkpointed sequence number.
    pub checkpoint_seq: u64,
    /// When the last checkpoint was made (ms).
    pub checkpoint_at: i64,
    /// Changed other than by appending (a checkpoint).
    pub dirty: bool,
}

fn corrupt(why: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        what: "audit head",
        key: "1".into(),
        why: why.to_string(),
    }
}

/// Reads the head, locking its row on PostgreSQL until the transaction ends.
pub(crate) async fn load_head(conn: &mut AnyConnection, backend: Backend) -> Result<Head> {
    let sql = format!(
        "SELECT seq, hash, frontier, checkpoint_seq, checkpoint_at FROM audit_head WHERE id = 1{}",
        backend.for_update()
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_one(&mut *conn)
        .await?;
    let seq: i64 = row.try_get("seq")?;
    let hash: String = row.try_get("hash")?;
    let frontier: String = row.try_get("frontier")?;
    let hash = if hash.is_empty() {
        Digest::ZERO
    } else {
        Digest::from_hex(&hash).map_err(corrupt)?
    };
    let frontier: MerkleFrontier = if frontier == "[]" {
        MerkleFrontier::new()
    } else {
        serde_json::from_str(&frontier).map_err(corrupt)?
    };
    if frontier.size() != seq as u64 {
        return Err(corrupt(format!(
            "frontier covers {} entries, the head says {seq}",
            frontier.size()
        )));
    }
    Ok(Head {
        seq: seq as u64,
        hash,
        frontier,
        checkpoint_seq: row.try_get::<i64, _>("checkpoint_seq")? as u64,
        checkpoint_at: row.try_get("checkpoint_at")?,
        dirty: false,
    })
}

pub(crate) async fn store_head(conn: &mut AnyConnection, head: &Head) -> Result<()> {
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2, frontier = $3, checkpoint_seq = $4, checkpoint_at = $5 WHERE id = 1")
        .bind(head.seq as i64)
        .bind(head.hash.to_hex())
        .bind(serde_json::to_string(&head.frontier).map_err(corrupt)?)
        .bind(head.checkpoint_seq as i64)
        .bind(head.checkpoint_at)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Appends one entry (inside the caller's transaction).
pub(crate) async fn append(
    conn: &mut AnyConnection,
    head: &mut Head,
    now: i64,
    actor: &str,
    action: &str,
    subject: &str,
    payload: &serde_json::Value,
) -> Result<u64> {
    let payload_text = canonical_json(payload).map_err(|e| StoreError::Audit(e.to_string()))?;
    let payload_digest = Digest::sha256(payload_text.as_bytes());
    let time = Timestamp::from_unix_millis(now.max(0) as u64)
        .map_err(|e| StoreError::Audit(e.to_string()))?;
    let entry = ChainHead {
        seq: head.seq,
        hash: head.hash,
    }
    .next(NewEntry {
        time,
        actor: actor.to_string(),
        action: action.to_string(),
        subject: subject.to_string(),
        payload_digest,
    })
    .map_err(|e| StoreError::Audit(e.to_string()))?;
    sqlx::query("INSERT INTO audit_entries (seq, subject, action, entry, payload, hash) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(entry.seq as i64)
        .bind(subject)
        .bind(action)
        .bind(serde_json::to_string(&entry).map_err(|e| StoreError::Audit(e.to_string()))?)
        .bind(&payload_text)
        .bind(entry.hash.to_hex())
        .execute(&mut *conn)
        .await?;
    head.seq = entry.seq;
    head.hash = entry.hash;
    head.frontier.push_entry_hash(&entry.hash);
    Ok(entry.seq)
}

/// Signs a checkpoint at the head (inside the caller's transaction).
pub(crate) async fn checkpoint(
    conn: &mut AnyConnection,
    head: &mut Head,
    key: &AuditSigningKey,
    now: i64,
) -> Result<u64> {
    let time = Timestamp::from_unix_millis(now.max(0) as u64)
        .map_err(|e| StoreError::Audit(e.to_string()))?;
    let cp = key.sign_checkpoint(head.seq, head.hash, head.frontier.root(), time);
    sqlx::query("INSERT INTO audit_checkpoints (seq, checkpoint, created_at) VALUES ($1, $2, $3)")
        .bind(cp.seq as i64)
        .bind(serde_json::to_string(&cp).map_err(|e| StoreError::Audit(e.to_string()))?)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    head.checkpoint_seq = head.seq;
    head.checkpoint_at = now;
    head.dirty = true;
    Ok(cp.seq)
}

/// Loads the checkpoint key from the database, creating it on first start
/// (every replica then uses the same key).
pub(crate) async fn load_or_create_key(conn: &mut AnyConnection) -> Result<ServerKey> {
    let fresh = AuditSigningKey::generate().map_err(|e| StoreError::Audit(e.to_string()))?;
    sqlx::query(
        "INSERT INTO meta (key, value) VALUES ('audit_signing_key', $1) ON CONFLICT DO NOTHING",
    )
    .bind(fresh.to_pkcs8_pem())
    .execute(&mut *conn)
    .await?;
    let pem: String = sqlx::query_scalar("SELECT value FROM meta WHERE key = 'audit_signing_key'")
        .fetch_one(&mut *conn)
        .await?;
    AuditSigningKey::from_pkcs8_pem(&pem)
        .map(std::sync::Arc::new)
        .map_err(|e| StoreError::Corrupt {
            what: "audit signing key",
            key: "meta.audit_signing_key".into(),
            why: e.to_string(),
        })
}

/// One stored entry with its payload text.
#[derive(Debug, Clone)]
pub struct StoredEntry {
    /// The entry.
    pub entry: Entry,
    /// Its payload, canonical JSON.
    pub payload: String,
}

/// Entries with `from <= seq < from + limit`, in order.
pub async fn entries(pool: &AnyPool, from: u64, limit: i64) -> Result<Vec<StoredEntry>> {
    let rows = sqlx::query(
        "SELECT seq, entry, payload FROM audit_entries WHERE seq >= $1 ORDER BY seq LIMIT $2",
    )
    .bind(from as i64)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter().map(stored_from_row).collect()
}

fn stored_from_row(r: &sqlx::any::AnyRow) -> Result<StoredEntry> {
    let seq: i64 = r.try_get("seq")?;
    let text: String = r.try_get("entry")?;
    let entry: Entry = serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
        what: "audit entry",
        key: seq.to_string(),
        why: e.to_string(),
    })?;
    Ok(StoredEntry {
        entry,
        payload: r.try_get("payload")?,
    })
}

/// Checkpoints with `from <= seq <= to`, in order.
pub async fn checkpoints(pool: &AnyPool, from: u64, to: u64) -> Result<Vec<Checkpoint>> {
    let rows = sqlx::query(
        "SELECT seq, checkpoint FROM audit_checkpoints WHERE seq >= $1 AND seq <= $2 ORDER BY seq",
    )
    .bind(from as i64)
    .bind(to.min(i64::MAX as u64) as i64)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            let seq: i64 = r.try_get("seq")?;
            let text: String = r.try_get("checkpoint")?;
            serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
                what: "audit checkpoint",
                key: seq.to_string(),
                why: e.to_string(),
            })
        })
        .collect()
}

/// The committed head: `(seq, hash)` of the last entry.
pub async fn head(pool: &AnyPool) -> Result<(u64, Digest)> {
    let row = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_one(pool)
        .await?;
    let seq: i64 = row.try_get("seq")?;
    let hash: String = row.try_get("hash")?;
    let hash = if hash.is_empty() {
        Digest::ZERO
    } else {
        Digest::from_hex(&hash).map_err(corrupt)?
    };
    Ok((seq as u64, hash))
}

/// Entries of one subject (`change_request:42`), newest first.
pub async fn by_subject(pool: &AnyPool, subject: &str, limit: i64) -> Result<Vec<StoredEntry>> {
    let rows = sqlx::query("SELECT seq, entry, payload FROM audit_entries WHERE subject = $1 ORDER BY seq DESC LIMIT $2")
        .bind(subject)
        .bind(limit)
        .fetch_all(pool)
        .await?;
    rows.iter().map(stored_from_row).collect()
}
