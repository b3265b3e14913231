//! Reading a request's body, once its sender is known.
//!
//! The body is read only after authentication (tokens, sessions and
//! signature headers are checked first), within a size limit (the
//! configured one for a known principal, [`ANONYMOUS_BODY_LIMIT`] for
//! anyone else), refused at once when its `Content-Length` says it is over
//! the limit, and streamed: the read stops as soon as it passes the limit or
//! its declared length. A body over `large_body_bytes` holds a large-body
//! slot (see [`crate::admission`]) before it is read. When the request
//! carries a signed `X-Arbiter-Content-SHA256`, the running digest is
//! compared with it at the end of the stream.

use crate::admission::Slot;
use crate::error::ApiError;
use crate::AppState;
use arbiter_api::ErrorCode;
use axum::body::{Body, Bytes};
use http_body::Body as _;
use sha2::{Digest, Sha256};

/// Largest body accepted from a caller who is not known (the web UI's
/// sign-in form is well under it).
pub const ANONYMOUS_BODY_LIMIT: usize = 64 * 1024;

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("the request body is larger than the server's limit of {limit} bytes"),
    )
}

/// What to read.
pub struct Intake<'a> {
    /// The `Content-Length` header, if any.
    pub declared: Option<u64>,
    /// Most bytes accepted.
    pub limit: usize,
    /// Who sends it (`user:…`, `agent:…`, or an address for anonymous
    /// callers), for the fair share of large-body slots.
    pub principal: &'a str,
    /// The signed digest the body must have, and the key that signed it.
    pub digest: Option<(&'a str, &'a str)>,
}

/// Reads the body; returns it with the large-body slot it holds, if any
/// (keep the slot until the answer is written).
pub async fn read(
    app: &AppState,
    body: &mut Body,
    what: Intake<'_>,
) -> Result<(Bytes, Option<Slot>), ApiError> {
    let limit = what.limit;
    if what.declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    let large = app.config.large_body_bytes;
    let admission = &app.admission;
    let mut slot = None;
    if what.declared.is_some_and(|n| n > large as u64) {
        slot = Some(admission.slot(&admission.bodies, what.principal).await?);
    }
    let mut hasher = what.digest.map(|_| Sha256::new());
    let cap = what.declared.unwrap_or(0).min(large as u64) as usize;
    let mut buf: Vec<u8> = Vec::with_capacity(cap);
    loop {
        let frame = std::future::poll_fn(|cx| std::pin::Pin::new(&mut *body).poll_frame(cx)).await;
        let Some(frame) = frame else { break };
        let frame = frame.map_err(|e| {
            ApiError::new(ErrorCode::BadBody, format!("reading the request body: {e}"))
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let n = buf.len() + data.len();
        if n > limit {
            return Err(too_large(limit));
        }
        if what.declared.is_some_and(|d| n as u64 > d) {
            return Err(ApiError::new(
                ErrorCode::BadBody,
                "the request body is longer than its Content-Length",
            ));
        }
        if slot.is_none() && n > large {
            slot = Some(admission.slot(&admission.bodies, what.principal).await?);
        }
        if let Some(h) = hasher.as_mut() {
            h.update(&data);
        }
        buf.extend_from_slice(&data);
    }
    if let (Some(h), Some((want, key_id))) = (hasher, what.digest) {
        if hex::encode(h.finalize()) != want {
            let e = arbiter_api::SigningError::ContentMismatch(key_id.to_string());
            return Err(ApiError::new(e.code(), e.to_string()));
        }
    }
    Ok((Bytes::from(buf), slot))
}

/// Reads what is left of a refused request's body and throws it away, at
/// most `limit` bytes and for at most `within`, so that the client, still
/// sending, gets the refusal rather than a broken connection (a "lingering
/// close"). Nothing is kept: the memory used does not grow with the body.
pub fn discard(mut body: Body, limit: usize, within: std::time::Duration) {
    tokio::spawn(async move {
        let drain = async {
            let mut n = 0usize;
            loop {
                let frame =
                    std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await;
                match frame {
                    Some(Ok(f)) => {
                        n += f.data_ref().map_or(0, |d| d.len());
                        if n > limit {
                            return;
                        }
                    }
                    _ => return,
                }
            }
        };
        let _ = tokio::time::timeout(within, drain).await;
    });
}

/// Parses a JSON body like [`crate::routes::parse_json`], on a blocking
/// thread when it is large (a plan or a state), so that the async threads
/// keep answering other requests (`/healthz` among them) meanwhile.
pub async fn parse_json<T: serde::de::DeserializeOwned + Send + 'static>(
    body: Bytes,
) -> Result<T, ApiError> {
    if body.len() < 256 * 1024 {
        return crate::routes::parse_json(&body);
    }
    tokio::task::spawn_blocking(move || crate::routes::parse_json(&body))
        .await
        .map_err(ApiError::internal)?
}
