//! Policy sets: Rego stored and versioned in the database.

use super::{check_name, parse_json};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::AppState;
use arbiter_api::{Page, PolicyKind, PolicySet, PolicySetSpec, Role};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::{Extension, Json};

/// Largest total size of a policy set's files.
pub(crate) const MAX_SET_BYTES: usize = 4 * 1024 * 1024;

/// `GET /api/v1/policy-sets`.
pub async fn list(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<Page<PolicySet>>> {
    p.require(Role::Viewer)?;
    Ok(Json(Page {
        items: arbiter_store::policies::list(app.store.pool())
            .await?
            .into_iter()
            .map(crate::convert::policy_set)
            .collect(),
    }))
}

/// `?version=N`.
#[derive(serde::Deserialize)]
pub struct VersionQuery {
    version: Option<i64>,
}

/// `GET /api/v1/policy-sets/{name}[?version=N]`.
pub async fn show(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    Query(q): Query<VersionQuery>,
) -> ApiResult<Json<PolicySet>> {
    p.require(Role::Viewer)?;
    arbiter_store::policies::get(app.store.pool(), &name, q.version)
        .await?
        .map(|s| Json(crate::convert::policy_set(s)))
        .ok_or_else(|| ApiError::not_found(format!("policy set {name:?} not found")))
}

/// `PUT /api/v1/policy-sets/{name}` (admin): stores a new version after
/// compiling it, so a broken policy never reaches an evaluation.
pub async fn put(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult<Json<PolicySet>> {
    p.require(Role::Admin)?;
    check_name("policy set", &name)?;
    let spec: PolicySetSpec = parse_json(&body)?;
    if spec.files.is_empty() {
        return Err(ApiError::invalid("a policy set needs at least one file"));
    }
    let total: usize = spec.files.iter().map(|(k, v)| k.len() + v.len()).sum();
    if total > MAX_SET_BYTES {
        return Err(ApiError::invalid(format!(
            "the files total {total} bytes; at most {MAX_SET_BYTES}"
        )));
    }
    let refs = vec![crate::lifecycle::PolicyRef {
        name: name.clone(),
        version: 0,
        digest: String::new(),
    }];
    let files = vec![spec.files.clone()];
    let kind = spec.kind.clone();
    let limits = app.config.policy_limits();
    let kind = tokio::task::spawn_blocking(move || -> Result<PolicyKind, String> {
        let loaded = crate::lifecycle::load_sets(&refs, &files).map_err(|e| e.to_string())?;
        let k = kind.parse::<PolicyKind>();
        match k {
            Ok(PolicyKind::Plan) => arbiter_judge::Judge::new(&arbiter_judge::JudgeConfig {
                files: Some(loaded),
                no_builtin_rules: true,
                ..Default::default()
            })
            .map(|_| PolicyKind::Plan)
            .map_err(|e| e.to_string()),
            Ok(PolicyKind::Approval) => {
                arbiter_policy::ApprovalPolicy::compile_within(&loaded, limits)
                    .map(|_| PolicyKind::Approval)
                    .map_err(|e| e.to_string())
            }
            Err(_) => Err(format!("kind {kind:?} must be `plan` or `approval`")),
        }
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(|e| ApiError::invalid(format!("policy set {name:?} does not compile: {e}")))?;
    let actor = p.id();
    let set = app
        .store
        .write(move |cx| {
            Box::pin(async move {
                arbiter_store::policies::put(cx, &name, kind, &spec.files, &actor).await
            })
        })
        .await?;
    Ok(Json(crate::convert::policy_set(set)))
}
