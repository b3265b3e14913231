//! A run's log: masked as it is written, shipped to the server in chunks
//! with byte offsets (idempotent: a chunk is re-sent with the same offset
//! until the server has it).

use crate::api::WorkerApi;
use crate::mask::Masker;
use arbiter_api::runs::LogChunk;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Largest chunk sent at once.
const CHUNK: usize = 64 * 1024;

#[derive(Default)]
struct Inner {
    masker: Masker,
    /// Masked text not yet acknowledged by the server.
    unsent: String,
    /// Offset of `unsent` in the whole log.
    offset: u64,
    /// The whole masked log, when kept (tests, benchmarks).
    all: Option<String>,
    closed: bool,
}

/// Where a run writes its log. Cheap to clone.
#[derive(Clone, Default)]
pub struct LogSink {
    inner: Arc<Mutex<Inner>>,
    /// One sender at a time (the pump and a flush before a phase report).
    sending: Arc<tokio::sync::Mutex<()>>,
}

impl LogSink {
    /// A sink masking these secret values.
    pub fn new(secrets: Vec<String>, keep_all: bool) -> LogSink {
        let inner = Inner {
            masker: Masker::new(secrets),
            all: keep_all.then(String::new),
            ..Inner::default()
        };
        LogSink {
            inner: Arc::new(Mutex::new(inner)),
            sending: Arc::default(),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        let mut g = match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        f(&mut g)
    }

    /// Adds secret values found during the run (sensitive values of the plan).
    pub fn add_secrets(&self, secrets: Vec<String>) {
        let short = self.with(|i| i.masker.add(secrets));
        if short > 0 {
            self.line(&format!(
                "[arbiter] note: {short} sensitive value(s) shorter than {} characters are not masked",
                crate::mask::MIN_SECRET_LEN
            ));
        }
    }

    /// Writes text (masked before it is kept anywhere).
    pub fn write(&self, text: &str) {
        self.with(|i| {
            let out = i.masker.push(text);
            if let Some(a) = &mut i.all {
                a.push_str(&out);
            }
            i.unsent.push_str(&out);
        });
    }

    /// Writes one line.
    pub fn line(&self, text: &str) {
        self.write(&format!("{text}\n"));
    }

    /// Ends the stream: releases what the masker held back.
    pub fn close(&self) {
        self.with(|i| {
            let out = i.masker.finish();
            if let Some(a) = &mut i.all {
                a.push_str(&out);
            }
            i.unsent.push_str(&out);
            i.closed = true;
        });
    }

    /// The whole masked log so far (when kept).
    pub fn text(&self) -> String {
        self.with(|i| i.all.clone().unwrap_or_default())
    }

    /// The next chunk to send: offset and text (up to [`CHUNK`] bytes, at a
    /// character boundary).
    fn pending(&self) -> Option<(u64, String)> {
        self.with(|i| {
            if i.unsent.is_empty() {
                return None;
            }
            let mut end = i.unsent.len().min(CHUNK);
            while !i.unsent.is_char_boundary(end) {
                end -= 1;
            }
            Some((i.offset, i.unsent[..end].to_string()))
        })
    }

    fn acknowledge(&self, len: usize) {
        self.with(|i| {
            i.unsent.drain(..len);
            i.offset += len as u64;
        });
    }

    fn is_closed_and_empty(&self) -> bool {
        self.with(|i| i.closed && i.unsent.is_empty())
    }

    /// Sends everything pending; stops at the first failure (kept for later).
    pub async fn flush(
        &self,
        api: &WorkerApi,
        run: i64,
        lease: &str,
    ) -> Result<(), crate::api::ApiError> {
        let _one = self.sending.lock().await;
        while let Some((offset, text)) = self.pending() {
            let len = text.len();
            api.log(
                run,
                &LogChunk {
                    lease: lease.to_string(),
                    offset,
                    text,
                },
            )
            .await?;
            self.acknowledge(len);
        }
        Ok(())
    }

    /// Ships the log every `every` until the sink is closed and empty.
    pub async fn pump(self, api: WorkerApi, run: i64, lease: String, every: Duration) {
        loop {
            if let Err(e) = self.flush(&api, run, &lease).await {
                if !e.is_transient() {
                    tracing::warn!("run {run}: log upload failed: {e}");
                    if e.is_conflict() {
                        return;
                    }
                }
            }
            if self.is_closed_and_empty() {
                return;
            }
            tokio::time::sleep(every).await;
        }
    }
}
