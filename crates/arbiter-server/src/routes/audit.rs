//! The audit log over HTTP: the checkpoint key, the head, a streaming export
//! in the format `arbiter audit verify` checks, and entries by subject.

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::AppState;
use arbiter_api::{ErrorCode, Role};
use arbiter_audit::{ChainHead, ExportHeader, ExportWriter, MerkleFrontier};
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use std::pin::Pin;
use std::task::{Context, Poll};

/// Entries read from the database at a time while exporting.
const PAGE: i64 = 5000;

/// `GET /api/v1/audit/key`: the public key that signs checkpoints.
pub async fn key(State(app): State<AppState>) -> Json<arbiter_audit::PublicKeyDocument> {
    Json(app.store.audit_key().public_key().to_document())
}

/// `GET /api/v1/audit/head`.
pub async fn head(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<serde_json::Value>> {
    p.require(Role::Viewer)?;
    let (seq, hash) = arbiter_store::audit::head(app.store.pool()).await?;
    let last_cp = arbiter_store::audit::checkpoints(app.store.pool(), 0, u64::MAX)
        .await?
        .pop();
    Ok(Json(
        serde_json::json!({"seq": seq, "hash": hash, "last_checkpoint": last_cp}),
    ))
}

/// Query of the export.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// First sequence number (default 1).
    since: Option<u64>,
}

/// A writer whose bytes the exporter takes out page by page.
#[derive(Clone, Default)]
struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        match self.0.lock() {
            Ok(mut v) => {
                v.extend_from_slice(b);
                Ok(b.len())
            }
            Err(_) => Err(std::io::Error::other("export buffer poisoned")),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Shared {
    fn take(&self) -> Vec<u8> {
        self.0
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}

/// A response body fed by a channel, so that a large export streams.
struct ChannelBody(tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>);

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|o| o.map(|r| r.map(http_body::Frame::data)))
    }
}

/// `GET /api/v1/audit/export[?since=N]`: JSON lines (header, entries,
/// checkpoints), up to the head at the time of the request.
pub async fn export(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    p.require(Role::Viewer)?;
    // Sign the head first, so that no exported entry is left uncovered.
    app.store.checkpoint_now().await?;
    let since = q.since.unwrap_or(1).max(1);
    let (head_seq, _) = arbiter_store::audit::head(app.store.pool()).await?;
    if since > head_seq + 1 {
        return Err(ApiError::new(
            ErrorCode::InvalidQuery,
            format!("since={since} is past the end of the log ({head_seq} entries)"),
        ));
    }
    let keys = vec![app.store.audit_key().public_key().to_document()];
    let header = if since == 1 {
        ExportHeader::full(keys)
    } else {
        // The tree state before `since`, rebuilt from the stored hashes.
        let mut tree = MerkleFrontier::new();
        let mut from = 1u64;
        let mut prev = arbiter_audit::Digest::ZERO;
        while from < since {
            let page = arbiter_store::audit::entries(
                app.store.pool(),
                from,
                PAGE.min((since - from) as i64),
            )
            .await?;
            if page.is_empty() {
                break;
            }
            for e in &page {
                tree.push_entry_hash(&e.entry.hash);
                prev = e.entry.hash;
            }
            from += page.len() as u64;
        }
        ExportHeader::since(
            ChainHead {
                seq: since - 1,
                hash: prev,
            },
            tree,
            keys,
        )
    };
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let pool = app.store.pool().clone();
    tokio::spawn(async move {
        let send_err = |m: String| std::io::Error::other(m);
        let buf = Shared::default();
        let mut w = match ExportWriter::new(buf.clone(), &header) {
            Ok(w) => w,
            Err(e) => {
                let _ = tx.send(Err(e)).await;
                return;
            }
        };
        let mut from = since;
        while from <= head_seq {
            let n = PAGE.min((head_seq - from + 1) as i64);
            let page = match arbiter_store::audit::entries(&pool, from, n).await {
                Ok(p) => p,
                Err(e) => {
                    let _ = tx.send(Err(send_err(e.to_string()))).await;
                    return;
                }
            };
            if page.is_empty() {
                break;
            }
            let last = from + page.len() as u64 - 1;
            let cps = match arbiter_store::audit::checkpoints(&pool, from, last).await {
                Ok(c) => c,
                Err(e) => {
                    let _ = tx.send(Err(send_err(e.to_string()))).await;
                    return;
                }
            };
            let mut cps = cps.into_iter().peekable();
            for e in &page {
                if let Err(err) = w.entry(&e.entry) {
                    let _ = tx.send(Err(err)).await;
                    return;
                }
                while cps.peek().is_some_and(|c| c.seq == e.entry.seq) {
                    if let Some(c) = cps.next() {
                        if let Err(err) = w.checkpoint(&c) {
                            let _ = tx.send(Err(err)).await;
                            return;
                        }
                    }
                }
            }
            from = last + 1;
            // Hand over what this page produced.
            if tx.send(Ok(Bytes::from(buf.take()))).await.is_err() {
                return;
            }
        }
        let rest = buf.take();
        if !rest.is_empty() {
            let _ = tx.send(Ok(Bytes::from(rest))).await;
        }
    });
    Ok((
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::new(ChannelBody(rx)),
    )
        .into_response())
}

/// Query of entries by subject.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubjectQuery {
    limit: Option<i64>,
}

/// `GET /api/v1/audit/subjects/{subject}`: entries about one thing
/// (`change_request:42`), newest first, with their payloads.
pub async fn by_subject(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(subject): Path<String>,
    Query(q): Query<SubjectQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    p.require(Role::Viewer)?;
    let items = arbiter_store::audit::by_subject(
        app.store.pool(),
        &subject,
        q.limit.unwrap_or(100).clamp(1, 1000),
    )
    .await?;
    let items: Vec<serde_json::Value> = items
        .into_iter()
        .map(|s| {
            let payload: serde_json::Value =
                serde_json::from_str(&s.payload).unwrap_or(serde_json::Value::Null);
            serde_json::json!({"entry": s.entry, "payload": payload})
        })
        .collect();
    Ok(Json(serde_json::json!({"items": items})))
}
