//! Persistence for the control plane: one schema on SQLite (embedded, the
//! default) and PostgreSQL (for several replicas), through sqlx.
//!
//! Reads go through a connection pool. **Writes go through one writer per
//! process** ([`Store::write`]): jobs queued by concurrent requests are run
//! back to back in one database transaction (each inside its own savepoint,
//! so one failing job does not undo the others) and acknowledged only after
//! that transaction commits. This is group commit: with SQLite in WAL mode
//! and `synchronous=FULL`, one fsync covers a whole batch, so an
//! acknowledged write survives a crash of the process or the machine.
//!
//! Every writer transaction starts by locking the audit chain's head row
//! (`SELECT … FOR UPDATE` on PostgreSQL; SQLite has a single writer anyway),
//! so appends to the audit log are serialised across replicas and each
//! change is recorded in the same transaction as the change itself: if the
//! audit write fails, the change does not happen.
//!
//! Architecture invariant: knows SQL and the stored documents; knows nothing
//! of HTTP, Rego or how a decision is made.

pub mod agent_tokens;
pub mod audit;
pub mod backtest;
pub mod changes;
pub mod jobs;
pub mod policies;
pub mod principals;
pub mod runs;
pub mod sealed;
pub mod sessions;
pub mod stacks;
pub mod states;
pub mod waivers;
pub mod webhooks;
mod writer;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyConnection, AnyPool, ConnectOptions, Connection, Executor};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};

pub use writer::{BoxFuture, WriteCtx};

/// Which database engine is behind a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite (WAL mode).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl Backend {
    /// `" FOR UPDATE"` where row locks exist (PostgreSQL), else nothing:
    /// SQLite serialises writers on its own.
    pub fn for_update(self) -> &'static str {
        match self {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        }
    }

    /// `" FOR UPDATE SKIP LOCKED"` on PostgreSQL, for claiming work.
    pub fn skip_locked(self) -> &'static str {
        match self {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        }
    }
}

/// Why a storage operation failed.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The database refused or failed.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// Schema migration failed.
    #[error("migrating the database schema: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Nothing with that key.
    #[error("{what} {key:?} not found")]
    NotFound {
        /// Kind of thing.
        what: &'static str,
        /// Its key.
        key: String,
    },
    /// It exists already, or was changed concurrently.
    #[error("{0}")]
    Conflict(String),
    /// A stored document does not parse: the database was edited by hand or
    /// by another program.
    #[error("stored {what} {key:?} is corrupt: {why}")]
    Corrupt {
        /// Kind of thing.
        what: &'static str,
        /// Its key.
        key: String,
        /// The parse error.
        why: String,
    },
    /// The database URL or options are wrong.
    #[error("{0}")]
    Config(String),
    /// The writer stopped (the process is shutting down or the database is
    /// unreachable).
    #[error("the database writer has stopped: {0}")]
    WriterGone(String),
    /// The audit log could not be extended (so the change was not made).
    #[error("audit log: {0}")]
    Audit(String),
    /// The write job panicked: its writes were undone and the writer went
    /// on with the next job.
    #[error("internal error: a database write job panicked (its writes were undone)")]
    JobPanicked,
}

impl StoreError {
    /// Whether the error is a unique-constraint violation.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            StoreError::Db(sqlx::Error::Database(e)) => {
                e.kind() == sqlx::error::ErrorKind::UniqueViolation
            }
            _ => false,
        }
    }
}

/// Shorthand.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// How to open a store.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// `sqlite:///path/to/arbiter.db` or `postgres://user@host:port/db`.
    pub url: String,
    /// Read pool size.
    pub read_connections: u32,
    /// Most jobs committed in one writer transaction.
    pub max_batch: usize,
    /// An audit checkpoint is signed every this many entries…
    pub checkpoint_every_entries: u64,
    /// A checkpoint is also made when this much time passed since the last
    /// one and entries were added.
    pub checkpoint_every: Duration,
    /// Seals plans and states at rest (the server always gives a key).
    pub sealer: sealed::Sealer,
}

impl StoreConfig {
    /// Defaults for a URL.
    pub fn new(url: impl Into<String>) -> StoreConfig {
        StoreConfig {
            url: url.into(),
            read_connections: 8,
            max_batch: 128,
            checkpoint_every_entries: 1000,
            checkpoint_every: Duration::from_secs(60),
            sealer: sealed::Sealer::none(),
        }
    }

    /// The SQLite URL of a database file in a data directory.
    pub fn sqlite_in(dir: &std::path::Path) -> StoreConfig {
        StoreConfig::new(format!("sqlite://{}", dir.join("arbiter.db").display()))
    }
}

/// A handle on the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    read: AnyPool,
    writer: mpsc::Sender<writer::Job>,
    audit_key: crate::audit::ServerKey,
    deliveries: Arc<tokio::sync::Notify>,
    sealer: sealed::Sealer,
}

fn backend_of(url: &str) -> Result<Backend> {
    if url.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Backend::Postgres)
    } else {
        Err(StoreError::Config(format!(
            "unsupported database URL {:?}: use sqlite://PATH or postgres://…",
            redact_url(url)
        )))
    }
}

/// The URL with any password replaced by `***`, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            match userinfo.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &userinfo[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

async fn sqlite_pragmas(conn: &mut AnyConnection, writer: bool) -> Result<(), sqlx::Error> {
    conn.execute("PRAGMA busy_timeout = 10000").await?;
    conn.execute("PRAGMA foreign_keys = ON").await?;
    if writer {
        conn.execute("PRAGMA journal_mode = WAL").await?;
        // FULL: a commit is on disk when it returns (group commit keeps
        // this cheap); NORMAL would lose the last commits on power loss.
        conn.execute("PRAGMA synchronous = FULL").await?;
    } else {
        conn.execute("PRAGMA query_only = ON").await?;
    }
    Ok(())
}

impl Store {
    /// Opens (and creates, for SQLite) the database, applies migrations and
    /// starts the writer.
    pub async fn open(cfg: &StoreConfig) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = backend_of(&cfg.url)?;
        let mut url = cfg.url.clone();
        if backend == Backend::Sqlite && !url.contains("mode=") {
            url.push_str(if url.contains('?') {
                "&mode=rwc"
            } else {
                "?mode=rwc"
            });
        }
        let opts = AnyConnectOptions::from_str(&url)
            .map_err(|e| StoreError::Config(format!("database URL {}: {e}", redact_url(&url))))?
            .disable_statement_logging();
        let mut conn = AnyConnection::connect_with(&opts).await?;
        if backend == Backend::Sqlite {
            sqlite_pragmas(&mut conn, true).await?;
        }
        migrator().run(&mut conn).await?;
        let read = AnyPoolOptions::new()
            .max_connections(cfg.read_connections.max(1))
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |c, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        sqlite_pragmas(c, false).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(opts.clone())
            .await?;
        let audit_key = audit::load_or_create_key(&mut conn).await?;
        let (tx, rx) = mpsc::channel(4096);
        let deliveries = Arc::new(tokio::sync::Notify::new());
        let w = writer::Writer::new(
            conn,
            opts,
            backend,
            audit_key.clone(),
            cfg.max_batch.max(1),
            cfg.checkpoint_every_entries.max(1),
            cfg.checkpoint_every,
            deliveries.clone(),
        );
        tokio::spawn(w.run(rx));
        Ok(Store {
            inner: Arc::new(Inner {
                backend,
                read,
                writer: tx,
                audit_key,
                deliveries,
                sealer: cfg.sealer.clone(),
            }),
        })
    }

    /// The database engine.
    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    /// The read pool.
    pub fn pool(&self) -> &AnyPool {
        &self.inner.read
    }

    /// The key that signs audit checkpoints.
    pub fn sealer(&self) -> &sealed::Sealer {
        &self.inner.sealer
    }

    /// The audit checkpoint key.
    pub fn audit_key(&self) -> &crate::audit::ServerKey {
        &self.inner.audit_key
    }

    /// Notified after a commit that inserted webhook deliveries (in this
    /// process), so the delivery worker need not wait for its next poll.
    pub fn deliveries_enqueued(&self) -> &tokio::sync::Notify {
        &self.inner.deliveries
    }

    /// Runs `job` in the writer's transaction and returns its result once
    /// that transaction has committed. If the job fails, its own writes are
    /// rolled back (a savepoint) and the error is returned; other jobs of the
    /// batch are unaffected. If the commit fails, every job of the batch
    /// gets the error and none of their writes exist.
    pub async fn write<T, F>(&self, job: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a mut WriteCtx) -> BoxFuture<'a, Result<T>> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = writer::Job::new(job, reply);
        self.inner
            .writer
            .send(job)
            .await
            .map_err(|_| StoreError::WriterGone("queue closed".into()))?;
        let out = answer
            .await
            .map_err(|_| StoreError::WriterGone("no answer".into()))??;
        out.downcast::<T>()
            .map(|b| *b)
            .map_err(|_| StoreError::WriterGone("answer of the wrong type".into()))
    }

    /// Asks the writer to sign a checkpoint now if entries were added since
    /// the last one.
    pub async fn checkpoint_now(&self) -> Result<Option<u64>> {
        self.write(|cx| Box::pin(async move { cx.checkpoint_if_needed(true).await }))
            .await
    }
}

/// The embedded schema migrations: every `migrations/NNNN_name.sql`, in
/// order (build.rs lists them; adding a migration is adding a file).
pub fn migrator() -> sqlx::migrate::Migrator {
    use sqlx::migrate::{Migration, MigrationType, Migrator};
    use std::borrow::Cow;
    // (version, description, SQL) of every file in migrations/, by build.rs.
    let files: &[(i64, &str, &str)] = include!(concat!(env!("OUT_DIR"), "/migrations.rs"));
    let migrations: Vec<Migration> = files
        .iter()
        .map(|(v, d, sql)| {
            Migration::new(
                *v,
                Cow::Borrowed(*d),
                MigrationType::Simple,
                sqlx::SqlSafeStr::into_sql_str(*sql),
                false,
            )
        })
        .collect();
    Migrator {
        migrations: Cow::Owned(migrations),
        ..Migrator::DEFAULT
    }
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Parses a stored JSON document, naming what it is on failure.
pub(crate) fn parse_doc<T: serde::de::DeserializeOwned>(
    what: &'static str,
    key: &str,
    text: &str,
) -> Result<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        what,
        key: key.to_string(),
        why: e.to_string(),
    })
}

/// Reads a text column holding a vocabulary value (a status, a decision, …)
/// as its type; a spelling the type does not know is a corrupt row.
pub(crate) fn parse_col<T>(
    row: &sqlx::any::AnyRow,
    column: &str,
    what: &'static str,
    key: &dyn std::fmt::Display,
) -> Result<T>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let text: String = sqlx::Row::try_get(row, column)?;
    text.parse().map_err(|e: T::Err| StoreError::Corrupt {
        what,
        key: key.to_string(),
        why: format!("{column}: {e}"),
    })
}

/// Like [`parse_col`] for a nullable column.
pub(crate) fn parse_col_opt<T>(
    row: &sqlx::any::AnyRow,
    column: &str,
    what: &'static str,
    key: &dyn std::fmt::Display,
) -> Result<Option<T>>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let text: Option<String> = sqlx::Row::try_get(row, column)?;
    text.map(|t| {
        t.parse().map_err(|e: T::Err| StoreError::Corrupt {
            what,
            key: key.to_string(),
            why: format!("{column}: {e}"),
        })
    })
    .transpose()
}

/// Serialises a document for storage.
pub(crate) fn to_doc<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_recognised_and_passwords_hidden() {
        assert_eq!(backend_of("sqlite:///x.db").ok(), Some(Backend::Sqlite));
        assert_eq!(backend_of("postgres://a@b/c").ok(), Some(Backend::Postgres));
        assert!(backend_of("mysql://x").is_err());
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
    }
}
