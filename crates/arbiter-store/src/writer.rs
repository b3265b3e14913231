//! The writer: one connection, one transaction per batch of queued jobs,
//! one savepoint per job, acknowledgements after the commit.

use crate::audit::{self, Head};
use crate::{Backend, Result, StoreError};
use arbiter_api::AuditAction;
use sqlx::any::AnyConnectOptions;
use sqlx::{AnyConnection, ConnectOptions, Executor};
use std::any::Any;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// A boxed, sendable future borrowing for `'a`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

type AnyBox = Box<dyn Any + Send>;

trait ErasedJob: Send {
    fn run<'a>(self: Box<Self>, cx: &'a mut WriteCtx) -> BoxFuture<'a, Result<AnyBox>>;
}

struct Typed<F, T>(F, PhantomData<fn() -> T>);

impl<T, F> ErasedJob for Typed<F, T>
where
    T: Send + 'static,
    F: for<'a> FnOnce(&'a mut WriteCtx) -> BoxFuture<'a, Result<T>> + Send + 'static,
{
    fn run<'a>(self: Box<Self>, cx: &'a mut WriteCtx) -> BoxFuture<'a, Result<AnyBox>> {
        let fut = (self.0)(cx);
        Box::pin(async move { fut.await.map(|t| Box::new(t) as AnyBox) })
    }
}

/// Polls a future, turning a panic while polling into an `Err` with the
/// panic's payload (what `futures::FutureExt::catch_unwind` does).
struct CatchUnwind<F>(F);

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = std::thread::Result<F::Output>;

    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let inner = &mut self.0;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Pin::new(inner).poll(cx))) {
            Ok(std::task::Poll::Ready(v)) => std::task::Poll::Ready(Ok(v)),
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Err(payload) => std::task::Poll::Ready(Err(payload)),
        }
    }
}

/// A queued write.
pub(crate) struct Job {
    run: Box<dyn ErasedJob>,
    reply: oneshot::Sender<Result<AnyBox>>,
    /// The caller's span (a request's, with its id): the job's log lines
    /// carry it although the writer runs on its own task.
    span: tracing::Span,
}

impl Job {
    pub(crate) fn new<T, F>(f: F, reply: oneshot::Sender<Result<AnyBox>>) -> Job
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a mut WriteCtx) -> BoxFuture<'a, Result<T>> + Send + 'static,
    {
        Job {
            run: Box::new(Typed(f, PhantomData)),
            reply,
            span: tracing::Span::current(),
        }
    }
}

/// What a write job sees: the connection inside the open transaction, the
/// transaction's clock, and the audit chain.
pub struct WriteCtx {
    conn: AnyConnection,
    backend: Backend,
    now: i64,
    head: Head,
    key: crate::audit::ServerKey,
    checkpoint_every_entries: u64,
    checkpoint_every_ms: i64,
    hooks: crate::webhooks::Cache,
}

impl WriteCtx {
    /// The connection, inside the batch's transaction and the job's savepoint.
    pub fn conn(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }

    /// The database engine (for the few statements that differ).
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The time of this transaction, Unix milliseconds; the same for every
    /// write of the batch, so that rows and audit entries agree.
    pub fn now_ms(&self) -> i64 {
        self.now
    }

    /// Appends an entry to the audit log, in this transaction. `payload` is
    /// stored beside the entry; the entry carries its digest. The entry is an
    /// event: the deliveries of the webhook subscriptions it matches are
    /// inserted in the same transaction (see [`crate::webhooks`]).
    pub async fn audit(
        &mut self,
        actor: &str,
        action: AuditAction,
        subject: &str,
        payload: &serde_json::Value,
    ) -> Result<u64> {
        let action = action.as_str();
        let seq = audit::append(
            &mut self.conn,
            &mut self.head,
            self.now,
            actor,
            action,
            subject,
            payload,
        )
        .await?;
        crate::webhooks::enqueue(
            &mut self.conn,
            &mut self.hooks,
            self.now,
            seq,
            action,
            subject,
        )
        .await?;
        Ok(seq)
    }

    pub(crate) fn hooks_mut(&mut self) -> &mut crate::webhooks::Cache {
        &mut self.hooks
    }

    /// Signs a checkpoint over the chain if it grew by the configured number
    /// of entries or time passed (or `force` and anything is uncovered).
    /// Returns the sequence number covered.
    pub async fn checkpoint_if_needed(&mut self, force: bool) -> Result<Option<u64>> {
        let uncovered = self.head.seq.saturating_sub(self.head.checkpoint_seq);
        if uncovered == 0 {
            return Ok(None);
        }
        let due = force
            || uncovered >= self.checkpoint_every_entries
            || self.now - self.head.checkpoint_at >= self.checkpoint_every_ms;
        if !due {
            return Ok(None);
        }
        audit::checkpoint(&mut self.conn, &mut self.head, &self.key, self.now)
            .await
            .map(Some)
    }
}

pub(crate) struct Writer {
    cx: WriteCtx,
    opts: AnyConnectOptions,
    max_batch: usize,
    /// Woken after a commit that inserted webhook deliveries.
    deliveries: std::sync::Arc<tokio::sync::Notify>,
}

fn is_connection_error(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Db(
            sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::Protocol(_)
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed
        )
    )
}

impl Writer {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        conn: AnyConnection,
        opts: AnyConnectOptions,
        backend: Backend,
        key: crate::audit::ServerKey,
        max_batch: usize,
        checkpoint_every_entries: u64,
        checkpoint_every: Duration,
        deliveries: std::sync::Arc<tokio::sync::Notify>,
    ) -> Writer {
        Writer {
            cx: WriteCtx {
                conn,
                backend,
                now: 0,
                head: Head::default(),
                key,
                checkpoint_every_entries,
                checkpoint_every_ms: checkpoint_every.as_millis() as i64,
                hooks: crate::webhooks::Cache::new(),
            },
            opts,
            max_batch,
            deliveries,
        }
    }

    pub(crate) async fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        let mut batch = Vec::with_capacity(self.max_batch);
        loop {
            match rx.recv().await {
                Some(j) => batch.push(j),
                None => return,
            }
            while batch.len() < self.max_batch {
                match rx.try_recv() {
                    Ok(j) => batch.push(j),
                    Err(_) => break,
                }
            }
            let jobs = std::mem::take(&mut batch);
            if let Err(e) = self.run_batch(jobs).await {
                tracing::error!(error = %e, "database write batch failed");
                if is_connection_error(&e) {
                    self.reconnect().await;
                }
            }
        }
    }

    async fn reconnect(&mut self) {
        let mut wait = Duration::from_millis(100);
        for _ in 0..8 {
            tokio::time::sleep(wait).await;
            match self.opts.connect().await {
                Ok(mut c) => {
                    if self.cx.backend == Backend::Sqlite {
                        if let Err(e) = crate::sqlite_pragmas(&mut c, true).await {
                            tracing::error!(error = %e, "reconnecting the writer");
                            continue;
                        }
                    }
                    self.cx.conn = c;
                    tracing::warn!("database writer reconnected");
                    return;
                }
                Err(e) => tracing::error!(error = %e, "reconnecting the writer"),
            }
            wait = (wait * 2).min(Duration::from_secs(5));
        }
    }

    async fn exec(&mut self, sql: &'static str) -> Result<()> {
        self.cx.conn.execute(sql).await?;
        Ok(())
    }

    /// Runs the jobs in one transaction. Errors of single jobs go to their
    /// callers; an `Err` here means the whole batch failed (and every caller
    /// was told so).
    async fn run_batch(&mut self, jobs: Vec<Job>) -> Result<()> {
        let mut done: Vec<(oneshot::Sender<Result<AnyBox>>, AnyBox)> =
            Vec::with_capacity(jobs.len());
        let count = jobs.len();
        let span = tracing::debug_span!("writer_batch", jobs = count);
        let t = std::time::Instant::now();
        let outcome =
            tracing::Instrument::instrument(self.batch_inner(jobs, &mut done), span.clone()).await;
        span.in_scope(|| {
            tracing::debug!(
                ok = outcome.is_ok(),
                ms = t.elapsed().as_secs_f64() * 1e3,
                "write batch"
            );
        });
        match outcome {
            Ok(()) => {
                for (reply, v) in done {
                    let _ = reply.send(Ok(v));
                }
                if self.cx.hooks.enqueued > 0 {
                    self.deliveries.notify_one();
                }
                Ok(())
            }
            Err((e, pending)) => {
                let _ = self.exec("ROLLBACK").await;
                // The copy of the subscriptions may hold what was rolled back.
                self.cx.hooks.stale = true;
                let msg = e.to_string();
                for (reply, _) in done {
                    let _ = reply.send(Err(StoreError::WriterGone(format!(
                        "the transaction did not commit: {msg}"
                    ))));
                }
                for job in pending {
                    let _ = job.reply.send(Err(StoreError::WriterGone(format!(
                        "the transaction did not commit: {msg}"
                    ))));
                }
                Err(e)
            }
        }
    }

    #[allow(clippy::type_complexity)]
    async fn batch_inner(
        &mut self,
        jobs: Vec<Job>,
        done: &mut Vec<(oneshot::Sender<Result<AnyBox>>, AnyBox)>,
    ) -> std::result::Result<(), (StoreError, Vec<Job>)> {
        self.cx.now = crate::now_ms();
        let begin = match self.cx.backend {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        };
        let mut jobs = jobs.into_iter();
        if let Err(e) = self.exec(begin).await {
            return Err((e, jobs.collect()));
        }
        match audit::load_head(&mut self.cx.conn, self.cx.backend).await {
            Ok(h) => self.cx.head = h,
            Err(e) => return Err((e, jobs.collect())),
        }
        if let Err(e) = crate::webhooks::refresh(&mut self.cx.conn, &mut self.cx.hooks).await {
            return Err((e, jobs.collect()));
        }
        let start_seq = self.cx.head.seq;
        while let Some(job) = jobs.next() {
            if let Err(e) = self.exec("SAVEPOINT job").await {
                let mut rest = vec![job];
                rest.extend(jobs);
                return Err((e, rest));
            }
            let saved = self.cx.head.clone();
            let (hooks_epoch, enqueued) = (self.cx.hooks.epoch, self.cx.hooks.enqueued);
            // A panic inside a job must not end the writer (every later
            // write would fail until a restart): it fails this job alone.
            let span = job.span.clone();
            let result = match tracing::Instrument::instrument(
                CatchUnwind(job.run.run(&mut self.cx)),
                span,
            )
            .await
            {
                Ok(r) => r,
                Err(payload) => {
                    // Only a literal message is logged: a formatted one may
                    // hold request data.
                    let what = payload
                        .downcast_ref::<&'static str>()
                        .copied()
                        .unwrap_or("(message withheld: it may hold request data)");
                    tracing::error!(panic = what, "a database write job panicked; its writes are undone and the writer goes on");
                    Err(StoreError::JobPanicked)
                }
            };
            match result {
                Ok(v) => {
                    if let Err(e) = self.exec("RELEASE SAVEPOINT job").await {
                        done.push((job.reply, v));
                        return Err((e, jobs.collect()));
                    }
                    done.push((job.reply, v));
                }
                Err(e) => {
                    let undo = match self.exec("ROLLBACK TO SAVEPOINT job").await {
                        Ok(()) => self.exec("RELEASE SAVEPOINT job").await,
                        Err(u) => Err(u),
                    };
                    self.cx.head = saved;
                    self.cx.hooks.enqueued = enqueued;
                    if self.cx.hooks.epoch != hooks_epoch {
                        self.cx.hooks.stale = true;
                    }
                    let broken = is_connection_error(&e);
                    let _ = job.reply.send(Err(e));
                    if let Err(u) = undo {
                        return Err((u, jobs.collect()));
                    }
                    if broken {
                        return Err((
                            StoreError::WriterGone("the database connection broke".into()),
                            jobs.collect(),
                        ));
                    }
                }
            }
        }
        if let Err(e) = self.cx.checkpoint_if_needed(false).await {
            return Err((e, Vec::new()));
        }
        if self.cx.head.seq != start_seq || self.cx.head.dirty {
            if let Err(e) = audit::store_head(&mut self.cx.conn, &self.cx.head).await {
                return Err((e, Vec::new()));
            }
        }
        if let Err(e) = self.exec("COMMIT").await {
            return Err((e, Vec::new()));
        }
        Ok(())
    }
}
