//! API errors: the caller's fault (4xx, with a code and a message that says
//! what to fix) or ours (5xx, logged with detail, answered without it).

use arbiter_api::{ErrorBody, ErrorCode, ErrorDetail};
use arbiter_store::StoreError;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// An error answer. Its code is one of [`ErrorCode`] (the one table of
/// them, `docs/errors.md`), and its HTTP status is the code's.
#[derive(Debug)]
pub struct ApiError {
    code: ErrorCode,
    /// Message for the caller.
    pub message: String,
    /// Seconds to wait before retrying (429).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// A new error with its code's HTTP status.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            retry_after: None,
        }
    }
    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }
    /// The HTTP status (the code's).
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
    /// 403.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::Forbidden, message)
    }
    /// 404.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::NotFound, message)
    }
    /// 409.
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::Conflict, message)
    }
    /// 422: well-formed but not acceptable.
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::Invalid, message)
    }
    /// 500, logging the detail.
    pub fn internal(detail: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %detail, "internal error");
        ApiError::new(
            ErrorCode::Internal,
            "internal error; the server log has the details",
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::NotFound { .. } => ApiError::not_found(e.to_string()),
            StoreError::Conflict(m) => ApiError::conflict(m),
            StoreError::WriterGone(_) => {
                tracing::error!(error = %e, "database writer");
                ApiError::new(
                    ErrorCode::Unavailable,
                    "the database is unavailable; nothing was changed, retry later",
                )
            }
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.as_str().to_string(),
                message: self.message,
            },
        };
        let mut r = (status, axum::Json(body)).into_response();
        if let Some(s) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
                r.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
            }
        }
        r
    }
}

/// Shorthand for handlers.
pub type ApiResult<T> = Result<T, ApiError>;
