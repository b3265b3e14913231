//! `POST /api/v1/agents/{name}/tokens`: an agent mints a short-lived bearer
//! token for `/mcp` with a signed request.
//!
//! Only the agent itself, authenticated by its signature, may mint: a
//! person cannot make a credential that acts as an agent, and a token (or
//! a tool call made through `/mcp`) cannot mint another one, so no token
//! outlives the key that signed for it by more than [`MAX_TTL_SECONDS`].

use super::ViaMcp;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::AppState;
use arbiter_api::AgentToken;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::{Extension, Json};

/// Default lifetime of an agent token.
pub const DEFAULT_TTL_SECONDS: i64 = 900;
/// Shortest lifetime.
pub const MIN_TTL_SECONDS: i64 = 60;
/// Longest lifetime.
pub const MAX_TTL_SECONDS: i64 = 3600;

/// The request body.
pub use arbiter_api::AgentTokenRequest as MintRequest;

/// The handler.
pub async fn mint(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
    via: Option<Extension<ViaMcp>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<AgentToken>)> {
    let Principal::Agent {
        name: agent,
        key_id,
        ..
    } = &p
    else {
        return Err(ApiError::forbidden(
            "only the agent itself mints its tokens, with a signed request",
        ));
    };
    if via.is_some() || headers.contains_key(header::AUTHORIZATION) {
        return Err(ApiError::forbidden(
            "agent tokens are minted with a signed request, not with a token",
        ));
    }
    if *agent != name {
        return Err(ApiError::forbidden(format!(
            "agent {agent:?} cannot mint tokens for agent {name:?}"
        )));
    }
    let req: MintRequest = if body.iter().all(u8::is_ascii_whitespace) {
        MintRequest::default()
    } else {
        crate::routes::parse_json(&body)?
    };
    let ttl = req.ttl_seconds.unwrap_or(DEFAULT_TTL_SECONDS);
    if !(MIN_TTL_SECONDS..=MAX_TTL_SECONDS).contains(&ttl) {
        return Err(ApiError::invalid(format!(
            "ttl_seconds: {ttl} is outside {MIN_TTL_SECONDS}-{MAX_TTL_SECONDS}"
        )));
    }
    if req.label.as_ref().is_some_and(|l| l.chars().count() > 200) {
        return Err(ApiError::invalid("label: longer than 200 characters"));
    }
    let (agent, key_id, label) = (agent.clone(), key_id.clone(), req.label);
    let t = app
        .store
        .write(move |cx| {
            Box::pin(async move {
                arbiter_store::agent_tokens::mint(cx, &agent, &key_id, label, ttl * 1000).await
            })
        })
        .await?;
    Ok((StatusCode::CREATED, Json(crate::convert::agent_token(t))))
}
