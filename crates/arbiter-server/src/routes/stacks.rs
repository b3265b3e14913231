//! Stacks.

use super::{check_name, parse_json};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::AppState;
use arbiter_api::{Page, Role, Stack, StackSpec, StackUpdate};
use arbiter_judge::IntroducedFloor;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};

/// Checks a stack's values.
pub fn validate(spec: &StackSpec) -> Result<(), String> {
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

/// An environment the API does not know is a value to fix (422, naming the
/// accepted ones), not malformed JSON (400): checked before the body is
/// read as a typed [`StackSpec`] or [`StackUpdate`], whose field refuses it.
fn check_environment(body: &[u8]) -> ApiResult<()> {
    #[derive(serde::Deserialize)]
    struct Env<'a> {
        #[serde(borrow, default)]
        environment: Option<std::borrow::Cow<'a, str>>,
    }
    match serde_json::from_slice::<Env>(body) {
        Ok(Env {
            environment: Some(e),
        }) => e
            .parse::<arbiter_api::Environment>()
            .map(drop)
            .map_err(|e| ApiError::invalid(e.to_string())),
        // Absent, or not a string or not JSON: the typed parse says what is wrong.
        _ => Ok(()),
    }
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
        .await
        .map(crate::convert::stacks)?
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
    check_environment(&body)?;
    let mut spec: StackSpec = parse_json(&body)?;
    check_name("stack", &spec.name)?;
    canonical_floor(&mut spec.escalate_introduced_at)?;
    validate(&spec).map_err(ApiError::invalid)?;
    let actor = p.id();
    let doc = crate::convert::stack_doc(spec);
    let s = app
        .store
        .write(move |cx| {
            Box::pin(async move { arbiter_store::stacks::create(cx, &doc, &actor).await })
        })
        .await?;
    Ok((StatusCode::CREATED, Json(crate::convert::stack(s))))
}

/// `GET /api/v1/stacks/{name}`.
pub async fn show(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
) -> ApiResult<Json<Stack>> {
    let s = arbiter_store::stacks::get(app.store.pool(), &name)
        .await?
        .map(crate::convert::stack)
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
    // As before the field was typed: an update to an unknown environment is
    // refused like any update that fails validation (409).
    check_environment(&body).map_err(|e| ApiError::conflict(e.message))?;
    let mut up: StackUpdate = parse_json(&body)?;
    up.check_ranges()
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    if let Some(f) = up.escalate_introduced_at.as_mut() {
        canonical_floor(f)?;
    }
    let actor = p.id();
    let audited = serde_json::to_value(&up).map_err(ApiError::internal)?;
    let s = app
        .store
        .write(move |cx| {
            Box::pin(async move {
                let apply = |doc: &mut arbiter_store::stacks::StackDoc| {
                    let mut spec = crate::convert::stack_spec(doc.clone());
                    apply_update(&mut spec, &up);
                    validate(&spec)?;
                    *doc = crate::convert::stack_doc(spec);
                    Ok(())
                };
                arbiter_store::stacks::update(cx, &name, up.if_version, apply, &audited, &actor)
                    .await
            })
        })
        .await?;
    Ok(Json(crate::convert::stack(s)))
}

/// Applies a partial update to a stack's settings (absent fields stay).
fn apply_update(spec: &mut StackSpec, up: &StackUpdate) {
    if let Some(e) = up.environment {
        spec.environment = e;
    }
    if let Some(l) = &up.labels {
        spec.labels = l.clone();
    }
    if let Some(b) = up.monthly_budget_usd {
        spec.monthly_budget_usd = b;
    }
    if let Some(t) = up.auto_apply_threshold {
        spec.auto_apply_threshold = t;
    }
    if let Some(a) = up.auto_apply {
        spec.auto_apply = a;
    }
    if let Some(p) = &up.policy_sets {
        spec.policy_sets = p.clone();
    }
    if let Some(p) = &up.approval_policy {
        spec.approval_policy = p.clone();
    }
    if let Some(t) = up.ttl_seconds {
        spec.ttl_seconds = t;
    }
    if let Some(f) = &up.escalate_introduced_at {
        spec.escalate_introduced_at = f.clone();
    }
    if let Some(r) = &up.runs {
        spec.runs = r.clone();
    }
}
