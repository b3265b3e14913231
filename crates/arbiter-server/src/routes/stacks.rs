//! Stacks.

use super::{check_name, parse_json};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::AppState;
use arbiter_api::{Page, Role, Stack, StackSpec, StackUpdate, ENVIRONMENTS};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};

/// Checks a stack's values.
pub fn validate(spec: &StackSpec) -> Result<(), String> {
    if !ENVIRONMENTS.contains(&spec.environment.as_str()) {
        return Err(format!(
            "environment {:?} must be one of {}",
            spec.environment,
            ENVIRONMENTS.join(", ")
        ));
    }
    spec.check_ranges().map_err(|e| e.to_string())?;
    if spec.labels.iter().any(|l| l.is_empty() || l.len() > 200) {
        return Err("labels must be 1-200 characters each".into());
    }
    Ok(())
}

/// Agents see only the stacks in their scope.
fn visible(p: &Principal, s: &Stack) -> bool {
    match p {
        Principal::User { .. } => true,
        Principal::Agent { scope, .. } => crate::lifecycle::stack_in_scope(scope, &s.spec),
    }
}

/// `GET /api/v1/stacks`.
pub async fn list(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<Page<Stack>>> {
    let items = arbiter_store::stacks::list(app.store.pool())
        .await?
        .into_iter()
        .filter(|s| visible(&p, s))
        .collect();
    Ok(Json(Page { items }))
}

/// `POST /api/v1/stacks` (admin).
pub async fn create(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Stack>)> {
    p.require(Role::Admin)?;
    let spec: StackSpec = parse_json(&body)?;
    check_name("stack", &spec.name)?;
    validate(&spec).map_err(ApiError::invalid)?;
    let actor = p.id();
    let s = app
        .store
        .write(move |cx| {
            Box::pin(async move { arbiter_store::stacks::create(cx, &spec, &actor).await })
        })
        .await?;
    Ok((StatusCode::CREATED, Json(s)))
}

/// `GET /api/v1/stacks/{name}`.
pub async fn show(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
) -> ApiResult<Json<Stack>> {
    let s = arbiter_store::stacks::get(app.store.pool(), &name)
        .await?
        .filter(|s| visible(&p, s))
        .ok_or_else(|| ApiError::not_found(format!("stack {name:?} not found")))?;
    Ok(Json(s))
}

/// `PATCH /api/v1/stacks/{name}` (admin).
pub async fn update(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Stack>> {
    p.require(Role::Admin)?;
    let up: StackUpdate = parse_json(&body)?;
    up.check_ranges()
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    let actor = p.id();
    let s = app
        .store
        .write(move |cx| {
            Box::pin(async move {
                arbiter_store::stacks::update(cx, &name, &up, &actor, validate).await
            })
        })
        .await?;
    Ok(Json(s))
}
