//! Configuration bundles: `PUT /api/v1/bundles/{sha256}` (a tar.gz of the
//! working directory, checked against its address and validated on upload)
//! and `GET` of the same (workers).

use crate::auth::{Principal, Worker};
use crate::error::{ApiError, ApiResult};
use crate::AppState;
use arbiter_api::runs::BundleInfo;
use arbiter_api::ErrorCode;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use std::io::Read;

/// A bundle address: 64 lowercase hex digits.
pub fn check_sha(sha: &str) -> ApiResult<()> {
    if sha.len() == 64
        && sha
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::InvalidBundle,
            format!(
                "bundle address {:?} must be the SHA-256 of the tar.gz: 64 lowercase hex digits",
                sha.chars().take(80).collect::<String>()
            ),
        ))
    }
}

/// Inflates a gzip stream, refusing more than `limit` bytes out.
pub fn gunzip(bytes: &[u8], limit: u64) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut d = flate2::read::GzDecoder::new(bytes).take(limit + 1);
    d.read_to_end(&mut out)
        .map_err(|e| format!("the bundle is not a valid gzip stream: {e}"))?;
    if out.len() as u64 > limit {
        return Err(format!("the bundle inflates to more than {limit} bytes"));
    }
    Ok(out)
}

/// Validates a bundle's bytes (gzip, tar, every entry) and counts its
/// regular files.
pub fn validate(bytes: &[u8], max_bytes: usize) -> Result<i64, String> {
    // A compressed archive inflating far beyond the upload limit is
    // refused (a gzip bomb); configurations compress about 3-10x.
    let tar = gunzip(bytes, (max_bytes as u64).saturating_mul(8))?;
    let entries = arbiter_api::bundle::validate(&tar).map_err(|e| e.to_string())?;
    Ok(entries
        .iter()
        .filter(|e| e.kind == arbiter_api::bundle::EntryKind::File)
        .count() as i64)
}

/// `PUT /api/v1/bundles/{sha256}`: stores a bundle (201; 200 when it was
/// stored already).
pub async fn put(
    State(app): State<AppState>,
    p: Option<Extension<Principal>>,
    Path(sha): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let Some(Extension(p)) = p else {
        return Err(ApiError::forbidden("workers cannot upload bundles"));
    };
    if let Principal::User { .. } = &p {
        p.require(arbiter_api::Role::Reviewer)?;
    }
    check_sha(&sha)?;
    if body.len() > app.config.bundle_max_bytes {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!(
                "the bundle has {} bytes; at most {} are accepted (--bundle-max-bytes)",
                body.len(),
                app.config.bundle_max_bytes
            ),
        ));
    }
    let actual = arbiter_api::signing::sha256_hex(&body);
    if actual != sha {
        return Err(ApiError::new(
            ErrorCode::DigestMismatch,
            format!("the body's SHA-256 is {actual}, not {sha}"),
        ));
    }
    let max = app.config.bundle_max_bytes;
    let b2 = body.clone();
    let files = tokio::task::spawn_blocking(move || validate(&b2, max))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| ApiError::new(ErrorCode::InvalidBundle, e))?;
    let by = p.id();
    let (info, new): (BundleInfo, bool) = app
        .store
        .write(move |cx| {
            Box::pin(
                async move { arbiter_store::runs::put_bundle(cx, &sha, files, &body, &by).await },
            )
        })
        .await
        .map(|(row, new)| (crate::convert::bundle(row), new))?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(info)).into_response())
}

/// `GET /api/v1/bundles/{sha256}` (workers): the tar.gz, only when it is
/// the source of a run the worker's pool holds and that is not finished;
/// any other bundle is "not found" (whether it is stored is not said).
pub async fn get(
    State(app): State<AppState>,
    w: Option<Extension<Worker>>,
    Path(sha): Path<String>,
) -> ApiResult<Response> {
    let Some(Extension(w)) = w else {
        return Err(ApiError::forbidden(
            "this is a worker endpoint: send `Authorization: Bearer` with a worker-pool token",
        ));
    };
    check_sha(&sha)?;
    let bytes = arbiter_store::runs::bundle_for_pool(app.store.pool(), &w.pool, &sha)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "bundle {sha} not found (a worker reads only the bundle of a run its pool holds)"
            ))
        })?;
    Ok(([(header::CONTENT_TYPE, "application/gzip")], bytes).into_response())
}
