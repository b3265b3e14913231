//! Web sessions (cookies) for the reviewers' UI.

use crate::auth::Principal;
use crate::error::ApiResult;
use crate::AppState;
use axum::http::HeaderMap;

/// The principal of a valid session cookie, if the request carries one.
pub async fn from_cookie(_app: &AppState, _headers: &HeaderMap) -> ApiResult<Option<Principal>> {
    Ok(None)
}
