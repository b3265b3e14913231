//! Stored blobs that hold sensitive values (plans, states) are sealed at
//! rest with the server's data key: ChaCha20-Poly1305, a random 96-bit
//! nonce per blob, the blob's context (what it is and its digest) as
//! associated data, so a sealed blob cannot be moved to another row.
//!
//! Layout: `MAGIC (8) | key id (8) | nonce (12) | ciphertext and tag`. The
//! key id (the first 8 bytes of SHA-256 over a domain tag and the key)
//! names the key a blob was sealed with, so that keys can be rotated:
//! blobs are sealed with the current key and opened with whichever known
//! key their id names. Rows stored before encryption (deflate streams)
//! never start with `MAGIC` (it is not a valid deflate block header: a
//! stored block whose length fields do not complement each other), so they
//! are read as before and sealed when rewritten ([`crate::rekey`]).

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::Arc;

/// Starts every sealed blob.
pub const MAGIC: &[u8; 8] = b"\0arbseal";
const ID_LEN: usize = 8;
const NONCE_LEN: usize = 12;
const HEADER: usize = MAGIC.len() + ID_LEN + NONCE_LEN;

/// Why a key could not be loaded or a blob opened.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The key file is missing, unreadable or malformed.
    #[error("data key file {path}: {why}")]
    KeyFile {
        /// The file.
        path: String,
        /// What is wrong.
        why: String,
    },
    /// The blob names a key this server was not given.
    #[error("sealed with data key {0}, which this server does not have (give it with --old-data-key-file)")]
    UnknownKey(String),
    /// The blob does not authenticate (tampered, truncated, or moved).
    #[error("does not authenticate with data key {0} (tampered or moved)")]
    Inauthentic(String),
    /// A sealed blob, but no key is configured at all.
    #[error("is sealed, and no data key is configured")]
    NoKey,
}

/// One data key.
#[derive(Clone)]
pub struct DataKey {
    id: [u8; ID_LEN],
    cipher: ChaCha20Poly1305,
}

impl DataKey {
    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> DataKey {
        let mut h = Sha256::new();
        h.update(b"arbiter data key\0");
        h.update(bytes);
        let d = h.finalize();
        let mut id = [0u8; ID_LEN];
        id.copy_from_slice(&d[..ID_LEN]);
        DataKey {
            id,
            cipher: ChaCha20Poly1305::new(&Key::from(*bytes)),
        }
    }

    /// Its id, hex (named in messages and the README's rotation steps).
    pub fn id(&self) -> String {
        hex::encode(self.id)
    }

    /// Reads a key file: 64 hex digits (whitespace around them ignored).
    pub fn read(path: &Path) -> Result<DataKey, SealError> {
        let err = |why: String| SealError::KeyFile {
            path: path.display().to_string(),
            why,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let bytes = hex::decode(text.trim())
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| err("expected 64 hex digits (a 256-bit key)".into()))?;
        Ok(DataKey::from_bytes(&bytes))
    }

    /// Reads the key file, or creates it with a new random key (mode 0600)
    /// when it does not exist.
    pub fn load_or_create(path: &Path) -> Result<DataKey, SealError> {
        if path.exists() {
            return DataKey::read(path);
        }
        let err = |why: String| SealError::KeyFile {
            path: path.display().to_string(),
            why,
        };
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| err(format!("no randomness: {e}")))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
        }
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(path).map_err(|e| err(e.to_string()))?;
        std::io::Write::write_all(&mut f, format!("{}\n", hex::encode(bytes)).as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(|e| err(e.to_string()))?;
        Ok(DataKey::from_bytes(&bytes))
    }
}

/// Seals with the current key, opens with any known one. Cheap to clone.
#[derive(Clone, Default)]
pub struct Sealer {
    keys: Option<Arc<(DataKey, Vec<DataKey>)>>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.keys {
            Some(k) => write!(f, "Sealer(current {}, {} old)", k.0.id(), k.1.len()),
            None => write!(f, "Sealer(none)"),
        }
    }
}

impl Sealer {
    /// Seals with `current`; opens blobs sealed with it or any of `old`.
    pub fn new(current: DataKey, old: Vec<DataKey>) -> Sealer {
        Sealer {
            keys: Some(Arc::new((current, old))),
        }
    }

    /// No key: blobs are stored in clear (for tests of the store alone; the
    /// server always has a key).
    pub fn none() -> Sealer {
        Sealer { keys: None }
    }

    /// The current key's id, if any.
    pub fn current_id(&self) -> Option<String> {
        self.keys.as_ref().map(|k| k.0.id())
    }

    /// Seals `clear` for `context`; in clear when no key is configured.
    pub fn seal(&self, context: &[u8], clear: &[u8]) -> Vec<u8> {
        let Some(keys) = &self.keys else {
            return clear.to_vec();
        };
        let key = &keys.0;
        let mut nonce = [0u8; NONCE_LEN];
        // Without randomness the nonce would repeat: fail closed by
        // hashing the time and content in (never an all-zero nonce reused).
        if getrandom::fill(&mut nonce).is_err() {
            let mut h = Sha256::new();
            h.update(crate::now_ms().to_le_bytes());
            h.update(clear);
            nonce.copy_from_slice(&h.finalize()[..NONCE_LEN]);
        }
        let mut out = Vec::with_capacity(HEADER + clear.len() + 16);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&key.id);
        out.extend_from_slice(&nonce);
        let aad = aad(&key.id, context);
        // ChaCha20-Poly1305 refuses only messages over 256 GiB.
        let sealed = key
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: clear,
                    aad: &aad,
                },
            )
            .unwrap_or_default();
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens a stored blob: a sealed one with the key it names, a clear one
    /// (stored before encryption) as it is.
    pub fn open(&self, context: &[u8], stored: &[u8]) -> Result<Vec<u8>, SealError> {
        let Some(id) = sealed_with(stored) else {
            return Ok(stored.to_vec());
        };
        let keys = self.keys.as_ref().ok_or(SealError::NoKey)?;
        let key = std::iter::once(&keys.0)
            .chain(keys.1.iter())
            .find(|k| k.id == id)
            .ok_or_else(|| SealError::UnknownKey(hex::encode(id)))?;
        let nonce: [u8; NONCE_LEN] = stored[MAGIC.len() + ID_LEN..HEADER]
            .try_into()
            .map_err(|_| SealError::Inauthentic(key.id()))?;
        key.cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: &stored[HEADER..],
                    aad: &aad(&key.id, context),
                },
            )
            .map_err(|_| SealError::Inauthentic(key.id()))
    }

    /// How every blob sealed with the current key starts (the magic and
    /// the key id), to find the others in SQL without reading them.
    pub fn current_prefix(&self) -> Option<Vec<u8>> {
        self.keys.as_ref().map(|k| {
            let mut p = MAGIC.to_vec();
            p.extend_from_slice(&k.0.id);
            p
        })
    }

    /// Whether a stored blob is sealed with the current key (else a rekey
    /// rewrites it). Without a key, nothing needs rewriting.
    pub fn is_current(&self, stored: &[u8]) -> bool {
        match &self.keys {
            None => true,
            Some(k) => sealed_with(stored) == Some(k.0.id),
        }
    }
}

/// The key id a blob is sealed with, or `None` for a clear blob.
fn sealed_with(stored: &[u8]) -> Option<[u8; ID_LEN]> {
    if stored.len() < HEADER || !stored.starts_with(MAGIC) {
        return None;
    }
    stored[MAGIC.len()..MAGIC.len() + ID_LEN].try_into().ok()
}

fn aad(id: &[u8; ID_LEN], context: &[u8]) -> Vec<u8> {
    let mut a = Vec::with_capacity(MAGIC.len() + ID_LEN + context.len());
    a.extend_from_slice(MAGIC);
    a.extend_from_slice(id);
    a.extend_from_slice(context);
    a
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn blobs_seal_open_and_rotate() {
        let (a, b) = (DataKey::from_bytes(&[1; 32]), DataKey::from_bytes(&[2; 32]));
        let old = Sealer::new(a.clone(), vec![]);
        let s = old.seal(b"plan:abc", b"secret value");
        assert!(s.starts_with(MAGIC));
        assert!(!s.windows(6).any(|w| w == b"secret"));
        assert_eq!(
            old.open(b"plan:abc", &s).ok(),
            Some(b"secret value".to_vec())
        );
        // Another context (another row) does not open it.
        assert!(matches!(
            old.open(b"plan:abd", &s),
            Err(SealError::Inauthentic(_))
        ));
        let mut t = s.clone();
        if let Some(x) = t.last_mut() {
            *x ^= 1;
        }
        assert!(old.open(b"plan:abc", &t).is_err());
        // Rotated: the old key still opens, new blobs use the new key.
        let rotated = Sealer::new(b.clone(), vec![a.clone()]);
        assert_eq!(
            rotated.open(b"plan:abc", &s).ok(),
            Some(b"secret value".to_vec())
        );
        assert!(!rotated.is_current(&s));
        assert!(rotated.is_current(&rotated.seal(b"x", b"y")));
        // Without the old key: told which key is missing.
        let only_new = Sealer::new(b, vec![]);
        match only_new.open(b"plan:abc", &s) {
            Err(SealError::UnknownKey(id)) => assert_eq!(id, a.id()),
            other => panic!("{other:?}"),
        }
        // Clear rows (deflate streams) read as they are.
        assert_eq!(
            rotated.open(b"plan:abc", b"\x4b\x4c\x4a").ok(),
            Some(b"\x4b\x4c\x4a".to_vec())
        );
        assert!(!rotated.is_current(b"\x4b\x4c\x4a"));
        assert!(matches!(
            Sealer::none().open(b"c", &s),
            Err(SealError::NoKey)
        ));
    }

    #[test]
    fn key_files_are_made_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/data.key");
        let k1 = DataKey::load_or_create(&p).unwrap();
        let k2 = DataKey::load_or_create(&p).unwrap();
        assert_eq!(k1.id(), k2.id());
        std::fs::write(&p, "not hex").unwrap();
        assert!(DataKey::read(&p).is_err());
    }
}

/// Rows rewritten by [`rekey`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rekeyed {
    /// Change request plans.
    pub plans: u64,
    /// State blobs.
    pub states: u64,
}

/// Opens each stale blob (row key, associated data, stored bytes) with the
/// key that sealed it and seals it again with the current key, on the
/// blocking pool; returns (row key, stored bytes, new bytes).
async fn reseal<K: std::fmt::Display + Send + 'static>(
    sealer: &Sealer,
    what: &'static str,
    stale: Vec<(K, Vec<u8>, Vec<u8>)>,
) -> crate::Result<Vec<(K, Vec<u8>, Vec<u8>)>> {
    let sealer = sealer.clone();
    tokio::task::spawn_blocking(move || {
        stale
            .into_iter()
            .map(|(key, ctx, old)| {
                let clear = sealer
                    .open(&ctx, &old)
                    .map_err(|e| crate::StoreError::Corrupt {
                        what,
                        key: key.to_string(),
                        why: e.to_string(),
                    })?;
                let new = sealer.seal(&ctx, &clear);
                Ok((key, old, new))
            })
            .collect::<crate::Result<Vec<_>>>()
    })
    .await
    .map_err(|e| crate::StoreError::WriterGone(e.to_string()))?
}

/// Rows read per round of [`rekey`].
const REKEY_BATCH: i64 = 64;

/// Seals every stored plan and state blob that is not sealed with the
/// current key (clear rows from before encryption, rows of an old key):
/// read through the pool, re-sealed on the blocking pool, written back by
/// the writer only if the row still holds the bytes that were read. Run in
/// the background at start; safe to run on several replicas at once.
pub async fn rekey(store: &crate::Store) -> crate::Result<Rekeyed> {
    let sealer = store.sealer().clone();
    let mut done = Rekeyed::default();
    let Some(prefix) = sealer.current_prefix() else {
        return Ok(done);
    };
    let plen = prefix.len();
    use sqlx::Row;
    // Plans, by id.
    let mut after = 0i64;
    loop {
        // Only rows not sealed with the current key are read.
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id, plan_digest, plan FROM change_requests WHERE id > $1 AND substr(plan, 1, {plen}) <> $3 \
             ORDER BY id LIMIT $2"
        )))
        .bind(after)
        .bind(REKEY_BATCH)
        .bind(prefix.clone())
        .fetch_all(store.pool())
        .await?;
        let Some(last) = rows.last() else { break };
        after = last.try_get("id")?;
        let mut stale = Vec::new();
        for r in &rows {
            let stored: Vec<u8> = r.try_get("plan")?;
            if !sealer.is_current(&stored) {
                stale.push((
                    r.try_get::<i64, _>("id")?,
                    r.try_get::<String, _>("plan_digest")?,
                    stored,
                ));
            }
        }
        if stale.is_empty() {
            continue;
        }
        let stale = stale
            .into_iter()
            .map(|(id, digest, old)| (id, crate::changes::plan_context(&digest), old))
            .collect();
        let resealed = reseal(&sealer, "stored plan of change request", stale).await?;
        done.plans += store
            .write(move |cx| {
                Box::pin(async move {
                    let mut n = 0;
                    for (id, old, new) in &resealed {
                        n += sqlx::query(
                            "UPDATE change_requests SET plan = $1 WHERE id = $2 AND plan = $3",
                        )
                        .bind(new)
                        .bind(id)
                        .bind(old)
                        .execute(cx.conn())
                        .await?
                        .rows_affected();
                    }
                    Ok(n)
                })
            })
            .await?;
    }
    // State blobs, by digest.
    let mut after = String::new();
    loop {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT digest, compressed FROM state_blobs WHERE digest > $1 AND substr(compressed, 1, {plen}) <> $3 \
             ORDER BY digest LIMIT $2"
        )))
        .bind(&after)
        .bind(REKEY_BATCH)
        .bind(prefix.clone())
        .fetch_all(store.pool())
        .await?;
        let Some(last) = rows.last() else { break };
        after = last.try_get("digest")?;
        let mut stale = Vec::new();
        for r in &rows {
            let stored: Vec<u8> = r.try_get("compressed")?;
            if !sealer.is_current(&stored) {
                stale.push((r.try_get::<String, _>("digest")?, stored));
            }
        }
        if stale.is_empty() {
            continue;
        }
        let stale = stale
            .into_iter()
            .map(|(digest, old)| {
                let ctx = crate::states::blob_context(&digest);
                (digest, ctx, old)
            })
            .collect();
        let resealed = reseal(&sealer, "state blob", stale).await?;
        done.states += store
            .write(move |cx| {
                Box::pin(async move {
                    let mut n = 0;
                    for (digest, old, new) in &resealed {
                        n += sqlx::query(
                            "UPDATE state_blobs SET compressed = $1, stored = $2 WHERE digest = $3 AND compressed = $4",
                        )
                        .bind(new)
                        .bind(new.len() as i64)
                        .bind(digest)
                        .bind(old)
                        .execute(cx.conn())
                        .await?
                        .rows_affected();
                    }
                    Ok(n)
                })
            })
            .await?;
    }
    Ok(done)
}

/// Refuses a key set that cannot open what the database holds: finds one
/// stored plan or state blob sealed with a key that is neither the current
/// one nor an old one (e.g. a replica that made a key of its own instead of
/// sharing the others'), and names its key id.
pub async fn check_keys(store: &crate::Store) -> crate::Result<()> {
    let sealer = store.sealer();
    let Some(keys) = &sealer.keys else {
        return Ok(());
    };
    // Byte-string literals: X'…' in SQLite, '\x…'::bytea in PostgreSQL.
    let backend = store.backend();
    let known: Vec<String> = std::iter::once(&keys.0)
        .chain(keys.1.iter())
        .map(|k| {
            let h = format!("{}{}", hex::encode(MAGIC), hex::encode(k.id));
            match backend {
                crate::Backend::Sqlite => format!("X'{h}'"),
                crate::Backend::Postgres => format!("'\\x{h}'::bytea"),
            }
        })
        .collect();
    let plen = MAGIC.len() + ID_LEN;
    let mlen = MAGIC.len();
    for (table, col) in [("change_requests", "plan"), ("state_blobs", "compressed")] {
        let sql = format!(
            "SELECT substr({col}, 1, {plen}) FROM {table} WHERE substr({col}, 1, {mlen}) = $1 \
             AND substr({col}, 1, {plen}) NOT IN ({}) LIMIT 1",
            known.join(", ")
        );
        let found: Option<Vec<u8>> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(MAGIC.to_vec())
            .fetch_optional(store.pool())
            .await?;
        if let Some(prefix) = found {
            let id = prefix.get(mlen..).map(hex::encode).unwrap_or_default();
            return Err(crate::StoreError::Config(format!(
                "the database holds {table} sealed with data key {id}, which this server was not given \
                 (its current key is {}): give every replica the same --data-key-file, and earlier keys \
                 with --old-data-key-file",
                keys.0.id()
            )));
        }
    }
    Ok(())
}
