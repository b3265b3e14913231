//! Stacks.

use super::{check_name, parse_json};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::AppState;
use arbiter_api::{Page, Role, Stack, StackSpec, StackUpdate, ENVIRONMENTS};
use arbiter_judge::IntroducedFloor;
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
    if let Some(f) = &spec.escalate_introduced_at {
        floor(f)?;
    }
    if let Some(r) = &spec.runs {
        r.check()?;
    }
    Ok(())
}

/// Parses `escalate_introduced_at`, naming the field when it is wrong.
fn floor(text: &str) -> Result<IntroducedFloor, String> {
    IntroducedFloor::parse(text).ok_or_else(|| {
        format!(
            "escalate_introduced_at {text:?} must be one of critical, high, medium, low, info, off"
        )
    })
}

/// Stores the floor in its canonical spelling (`HIGH`, `none` → `high`,
/// `off`); a wrong value is a 422 naming the field.
fn canonical_floor(f: &mut Option<String>) -> ApiResult<()> {
    if let Some(text) = f.as_mut() {
        *text = floor(text).map_err(ApiError::invalid)?.as_str().to_string();
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
    let mut spec: StackSpec = parse_json(&body)?;
    check_name("stack", &spec.name)?;
    canonical_floor(&mut spec.escalate_introduced_at)?;
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
    let mut up: StackUpdate = parse_json(&body)?;
    up.check_ranges()
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    if let Some(f) = up.escalate_introduced_at.as_mut() {
        canonical_floor(f)?;
    }
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
