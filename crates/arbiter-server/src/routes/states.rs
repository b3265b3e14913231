//! State history: pushing a stack's Terraform states, listing and reading
//! versions (sensitive values masked), diffs between versions, and rollback
//! (a change request whose plan returns the stack to an earlier version,
//! judged and governed like any submission).

use super::changes::{propose, AfterInsert, Proposal};
use super::parse_json;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::AppState;
use arbiter_api::{
    AttributeDiff, ChangeSource, ErrorCode, OutputDiff, Page, ResourceDiff, Role, Rollback,
    RollbackAnswer, RollbackRequest, RollbackResource, Stack, StateDiffSummary, StateDiffView,
    StateOutputView, StatePush, StateResourceView, StateSnapshot, StateVersion,
};
use arbiter_plan::{DeltaKind, DiffValue, ResourceMode, State as TfState, StateForm};
use arbiter_store::states::{self, NewStateVersion, PushOutcome, StateFacts};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

/// Longest commit reference accepted.
const MAX_COMMIT: usize = 200;

/// Longest intent text accepted with a rollback.
const MAX_INTENT: usize = 10_000;

/// People with the reviewer role, or agents whose scope covers the stack.
/// The role is checked before anything is looked up, so a viewer learns
/// nothing from the answer.
fn may_change_precheck(p: &Principal) -> ApiResult<()> {
    match p {
        Principal::User { .. } => p.require(Role::Reviewer),
        Principal::Agent { .. } => Ok(()),
    }
}

fn may_change(p: &Principal, stack: &Stack) -> ApiResult<()> {
    match p {
        Principal::User { .. } => p.require(Role::Reviewer),
        Principal::Agent { scope, name, .. } => {
            if crate::lifecycle::stack_in_scope(scope, &stack.spec) {
                Ok(())
            } else {
                Err(ApiError::forbidden(format!(
                    "stack {:?} is outside the scope of agent {name}",
                    stack.spec.name
                )))
            }
        }
    }
}

/// The stack, if the caller may see it (agents: only in their scope).
async fn visible_stack(app: &AppState, p: &Principal, name: &str) -> ApiResult<Stack> {
    let stack = arbiter_store::stacks::get(app.store.pool(), name)
        .await?
        .map(crate::convert::stack)
        .filter(|s| match p {
            Principal::User { .. } => true,
            Principal::Agent { scope, .. } => crate::lifecycle::stack_in_scope(scope, &s.spec),
        })
        .ok_or_else(|| ApiError::not_found(format!("stack {name:?} not found")))?;
    Ok(stack)
}

fn check_commit(commit: &Option<String>) -> ApiResult<()> {
    if let Some(c) = commit {
        if c.is_empty()
            || c.len() > MAX_COMMIT
            || c.chars().any(|ch| ch.is_control() || ch.is_whitespace())
        {
            return Err(ApiError::invalid(format!(
                "commit must be 1-{MAX_COMMIT} characters without spaces or control characters"
            )));
        }
    }
    Ok(())
}

fn form_name(f: StateForm) -> &'static str {
    match f {
        StateForm::RawV4 => "raw_v4",
        StateForm::ShowJson => "show_json",
    }
}

fn mode_name(m: ResourceMode) -> &'static str {
    match m {
        ResourceMode::Managed => "managed",
        ResourceMode::Data => "data",
    }
}

/// Reads a state off the async threads.
async fn read_state(bytes: Vec<u8>) -> ApiResult<TfState> {
    tokio::task::spawn_blocking(move || arbiter_plan::read_state(&bytes))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| ApiError::new(ErrorCode::InvalidState, format!("reading the state: {e}")))
}

/// A stored version's state, parsed. A stored state that no longer reads
/// is our fault (500), not the caller's.
async fn stored_state(app: &AppState, v: &StateVersion) -> ApiResult<TfState> {
    let bytes = states::content(app.store.pool(), app.store.sealer(), &v.digest).await?;
    tokio::task::spawn_blocking(move || arbiter_plan::read_state(&bytes))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| ApiError::internal(format!("stored state {}: {e}", v.digest)))
}

async fn version_of(app: &AppState, stack: &str, version: i64) -> ApiResult<StateVersion> {
    states::get(app.store.pool(), stack, version)
        .await?
        .map(crate::convert::state_version)
        .ok_or_else(|| {
            ApiError::not_found(format!("stack {stack:?} has no state version {version}"))
        })
}

async fn latest_of(app: &AppState, stack: &str) -> ApiResult<StateVersion> {
    states::latest(app.store.pool(), stack)
        .await?
        .map(crate::convert::state_version)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "stack {stack:?} has no state history yet (arbiter state push)"
            ))
        })
}

fn parse_version(s: &str) -> ApiResult<i64> {
    s.parse::<i64>().ok().filter(|v| *v >= 1).ok_or_else(|| {
        ApiError::new(
            ErrorCode::InvalidVersion,
            format!("state version {s:?} must be a whole number from 1"),
        )
    })
}

/// `POST /api/v1/stacks/{name}/states`: stores a state as the stack's next
/// version (201), or answers the latest version (200) when the content is
/// the same. A different lineage or an older serial is refused (409) unless
/// `force`.
pub async fn push(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    may_change_precheck(&p)?;
    let req: StatePush = crate::intake::parse_json(body.clone()).await?;
    let stack = visible_stack(&app, &p, &name).await?;
    may_change(&p, &stack)?;
    check_commit(&req.commit)?;
    let text = req.state.get().as_bytes().to_vec();
    let state = read_state(text.clone()).await?;
    let serial = state
        .serial
        .map(|s| {
            arbiter_api::bounds::counter("serial", s).map_err(|e| {
                ApiError::new(
                    ErrorCode::InvalidState,
                    format!("reading the state: serial {s} is out of range ({e})"),
                )
            })
        })
        .transpose()?;
    let facts = StateFacts {
        form: form_name(state.form).into(),
        serial,
        lineage: state.lineage.clone(),
        terraform_version: state.terraform_version.clone(),
        resources: state.resources.len() as i64,
    };
    drop(state);
    let (stack_name, pushed_by, commit, force) = (
        stack.spec.name.clone(),
        p.id(),
        req.commit.clone(),
        req.force,
    );
    let sealer = app.store.sealer().clone();
    let new = tokio::task::spawn_blocking(move || {
        NewStateVersion::new(
            &sealer,
            &stack_name,
            &text,
            facts,
            commit,
            &pushed_by,
            arbiter_api::StateOrigin::Push,
            force,
        )
    })
    .await
    .map_err(ApiError::internal)?;
    let outcome = app
        .store
        .write(move |cx| Box::pin(async move { states::push(cx, &new).await }))
        .await?;
    match outcome {
        PushOutcome::Created { version, .. } => {
            let version = crate::convert::state_version(version);
            let mut r = (StatusCode::CREATED, Json(&version)).into_response();
            let loc = format!(
                "/api/v1/stacks/{}/states/{}",
                version.stack, version.version
            );
            if let Ok(v) = HeaderValue::from_str(&loc) {
                r.headers_mut().insert(axum::http::header::LOCATION, v);
            }
            Ok(r)
        }
        PushOutcome::Unchanged(v) => {
            Ok((StatusCode::OK, Json(crate::convert::state_version(v))).into_response())
        }
        PushOutcome::LineageChanged { latest, lineage } => Err(ApiError::new(ErrorCode::LineageMismatch,
            format!(
                "the state's lineage {lineage} differs from version {}'s ({}): is it another workspace's state? Push with force (--force) to store it anyway",
                latest.version,
                latest.lineage.as_deref().unwrap_or("-")
            ),
        )),
        PushOutcome::SerialNotNewer { latest, serial } => Err(ApiError::new(ErrorCode::StaleSerial,
            format!(
                "the state's serial {serial} is not newer than version {}'s ({}) of the same lineage: an older state? Push with force (--force) to store it anyway",
                latest.version,
                latest.serial.unwrap_or(0)
            ),
        )),
    }
}

/// Query of `GET /api/v1/stacks/{name}/states`.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    before: Option<i64>,
    limit: Option<i64>,
}

/// `GET /api/v1/stacks/{name}/states`: versions, newest first.
pub async fn list(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Page<StateVersion>>> {
    let stack = visible_stack(&app, &p, &name).await?;
    let items = states::list(
        app.store.pool(),
        &stack.spec.name,
        q.before,
        q.limit.unwrap_or(100),
    )
    .await?;
    let items = crate::convert::state_versions(items);
    Ok(Json(Page { items }))
}

/// `GET /api/v1/stacks/{name}/states/{version}`: one version with its
/// resources and outputs, sensitive values masked.
pub async fn show(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((name, version)): Path<(String, String)>,
) -> ApiResult<Json<StateSnapshot>> {
    let stack = visible_stack(&app, &p, &name).await?;
    let v = version_of(&app, &stack.spec.name, parse_version(&version)?).await?;
    let state = stored_state(&app, &v).await?;
    let snapshot = tokio::task::spawn_blocking(move || {
        let redactor = arbiter_plan::StateRedactor::for_states(&[&state]);
        let resources = state
            .resources
            .iter()
            .map(|r| StateResourceView {
                address: r.address.clone(),
                mode: mode_name(r.mode).into(),
                resource_type: r.resource_type.clone(),
                name: r.name.clone(),
                index: r.index.as_ref().and_then(|i| serde_json::to_value(i).ok()),
                provider: r.provider_name.clone(),
                values: redactor.resource_values(r),
            })
            .collect();
        let outputs = state
            .outputs
            .iter()
            .map(|(k, o)| {
                (
                    k.clone(),
                    StateOutputView {
                        value: redactor.output_value(o),
                        sensitive: o.sensitive,
                    },
                )
            })
            .collect();
        StateSnapshot {
            version: v,
            resources,
            outputs,
        }
    })
    .await
    .map_err(ApiError::internal)?;
    Ok(Json(snapshot))
}

/// Query of `GET /api/v1/stacks/{name}/states/diff`.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DiffQuery {
    from: Option<i64>,
    to: Option<i64>,
}

fn side(v: &DiffValue) -> Option<serde_json::Value> {
    match v {
        DiffValue::Absent => None,
        other => Some(other.render()),
    }
}

/// `GET /api/v1/stacks/{name}/states/diff?from=V1&to=V2`: what changed
/// from V1 to V2 (default: the latest version and the one before it),
/// resource by resource and attribute by attribute, sensitive values masked.
pub async fn diff(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    Query(q): Query<DiffQuery>,
) -> ApiResult<Json<StateDiffView>> {
    let stack = visible_stack(&app, &p, &name).await?;
    let name = stack.spec.name.clone();
    let to = match q.to {
        Some(v) => version_of(&app, &name, v).await?,
        None => latest_of(&app, &name).await?,
    };
    let from = match q.from {
        Some(v) => version_of(&app, &name, v).await?,
        None => version_of(&app, &name, (to.version - 1).max(1)).await?,
    };
    let (old, new) = (
        stored_state(&app, &from).await?,
        stored_state(&app, &to).await?,
    );
    let view = tokio::task::spawn_blocking(move || {
        let d = arbiter_plan::diff_states(&old, &new);
        let summary = StateDiffSummary {
            added: d.count(DeltaKind::Added),
            removed: d.count(DeltaKind::Removed),
            changed: d.count(DeltaKind::Changed),
            unchanged: d.unchanged,
        };
        let resources = d
            .resources
            .iter()
            .map(|r| ResourceDiff {
                address: r.address.clone(),
                mode: mode_name(r.mode).into(),
                resource_type: r.resource_type.clone(),
                change: r.kind.as_str().into(),
                replaced: r.replaced,
                attributes: r
                    .attributes
                    .iter()
                    .map(|a| AttributeDiff {
                        path: a.path.to_string(),
                        before: side(&a.before),
                        after: side(&a.after),
                    })
                    .collect(),
            })
            .collect();
        let outputs = d
            .outputs
            .iter()
            .map(|o| OutputDiff {
                name: o.name.clone(),
                change: o.kind.as_str().into(),
                sensitive: o.sensitive,
                before: side(&o.before),
                after: side(&o.after),
            })
            .collect();
        StateDiffView {
            from,
            to,
            summary,
            resources,
            outputs,
        }
    })
    .await
    .map_err(ApiError::internal)?;
    Ok(Json(view))
}

fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .map(str::trim)
            .filter(|s| !s.is_empty() && s.len() <= 200)
            .map(|s| Some(s.to_string()))
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::InvalidIdempotencyKey,
                    "Idempotency-Key must be 1-200 visible ASCII characters",
                )
            }),
    }
}

/// `POST /api/v1/stacks/{name}/rollback`: opens a change request whose plan
/// returns the stack from its latest state version to version `to` (create
/// what was removed, delete what was added, update or replace what changed).
/// It goes through the same path as any submission: rule pack, critics,
/// cost, the agent's scope and limits, approvals. The change request records
/// the target version, its commit and the instances that differ.
pub async fn rollback(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    may_change_precheck(&p)?;
    let idem = idempotency_key(&headers)?;
    let req: RollbackRequest = parse_json(&body)?;
    let (answer, replayed) = open_rollback_inner(
        &app,
        &p,
        &name,
        &req,
        idem,
        arbiter_api::signing::sha256_hex(&body),
    )
    .await?;
    let id = answer.change_request.id;
    let status = if replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let mut r = (status, Json(answer)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/change-requests/{id}")) {
        r.headers_mut().insert(axum::http::header::LOCATION, v);
    }
    Ok(r)
}

/// Opens a rollback change request (the path of `POST …/rollback`, also
/// taken by the server itself after a failed verification).
pub async fn open_rollback(
    app: &AppState,
    p: &Principal,
    name: &str,
    req: &RollbackRequest,
    idem: Option<String>,
    request_digest: String,
) -> ApiResult<RollbackAnswer> {
    open_rollback_inner(app, p, name, req, idem, request_digest)
        .await
        .map(|(a, _)| a)
}

async fn open_rollback_inner(
    app: &AppState,
    p: &Principal,
    name: &str,
    req: &RollbackRequest,
    idem: Option<String>,
    request_digest: String,
) -> ApiResult<(RollbackAnswer, bool)> {
    let app = app.clone();
    let p = p.clone();
    req.check_ranges()
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    if req.intent.as_ref().is_some_and(|i| i.len() > MAX_INTENT) {
        return Err(ApiError::invalid(format!(
            "intent is longer than {MAX_INTENT} bytes"
        )));
    }
    let stack = visible_stack(&app, &p, name).await?;
    may_change(&p, &stack)?;
    let name = stack.spec.name.clone();
    let latest = latest_of(&app, &name).await?;
    let target = version_of(&app, &name, req.to).await?;
    if target.version == latest.version {
        return Err(ApiError::new(
            ErrorCode::NothingToRollBack,
            format!("version {} is the stack's latest state", target.version),
        ));
    }
    if let (Some(a), Some(b)) = (&latest.lineage, &target.lineage) {
        if a != b && !req.force {
            return Err(ApiError::new(ErrorCode::LineageMismatch,
                format!(
                    "version {}'s lineage {b} differs from the latest version {}'s ({a}): rolling back across workspaces is refused unless forced (--force)",
                    target.version, latest.version
                ),
            ));
        }
    }
    let (current, then) = (
        stored_state(&app, &latest).await?,
        stored_state(&app, &target).await?,
    );
    let restore = tokio::task::spawn_blocking(move || arbiter_plan::restore_plan(&current, &then))
        .await
        .map_err(ApiError::internal)?;
    if restore.changes.is_empty() && restore.outputs_changed == 0 {
        return Err(ApiError::new(
            ErrorCode::NothingToRollBack,
            format!(
                "version {} has the same resources and outputs as the latest version {}",
                target.version, latest.version
            ),
        ));
    }
    let resources: Vec<RollbackResource> = restore
        .changes
        .iter()
        .map(|(address, action)| RollbackResource {
            address: address.clone(),
            action: action.kind().into(),
        })
        .collect();
    let count = |k: &str| resources.iter().filter(|r| r.action == k).count();
    let mut intent = format!(
        "Roll back stack {name} from state version {} to version {}{}: {} to create, {} to update, {} to replace, {} to delete",
        latest.version,
        target.version,
        target
            .commit
            .as_ref()
            .map(|c| format!(" (commit {c})"))
            .unwrap_or_default(),
        count("create"),
        count("update"),
        count("replace"),
        count("delete"),
    );
    if let Some(why) = &req.intent {
        intent.push_str("\n\n");
        intent.push_str(why);
    }
    let record = Rollback {
        stack: name.clone(),
        change_request: 0,
        from_version: latest.version,
        to_version: target.version,
        commit: target.commit.clone(),
        resources,
        requested_by: p.id(),
        // The store records its own time; the answer takes the change
        // request's.
        created_at: arbiter_api::Timestamp::from_unix_ms(0),
    };
    let stored = crate::convert::rollback_row(record.clone());
    let after: AfterInsert = Box::new(move |cx, id| {
        Box::pin(async move {
            let mut r = stored;
            r.change_request = id;
            states::record_rollback(cx, &r).await
        })
    });
    // A run can apply the rollback only with the configuration recorded
    // with the target version (written by an Arbiter run).
    let recorded = states::run_source(app.store.pool(), &name, target.version).await?;
    let (run, run_note) = match recorded
        .as_deref()
        .map(serde_json::from_str::<arbiter_api::runs::RunSource>)
    {
        Some(Ok(source)) => (
            Some(arbiter_store::runs::RunConfig {
                kind: arbiter_api::runs::RunKind::Rollback {
                    target_version: target.version,
                },
                source,
                variables: Default::default(),
                may_auto_apply: false,
            }),
            None,
        ),
        _ => (
            None,
            Some(format!(
                "state version {} of stack {name} has no recorded configuration (it was not written by an Arbiter run), so this rollback cannot be applied by a run: apply it with your own terraform and push the state",
                target.version
            )),
        ),
    };
    let plan = restore.document;
    let proposal = Proposal {
        stack,
        plan,
        intent: Some(intent),
        source: Some(ChangeSource {
            commit: target.commit.clone(),
            ..ChangeSource::default()
        }),
        idempotency_key: idem,
        request_digest,
        run,
    };
    let proposed = propose(&app, &p, proposal, Some(after)).await?;
    let id = proposed.change_request.id;
    let rollback = if proposed.replayed {
        states::rollback(app.store.pool(), id)
            .await?
            .map(crate::convert::rollback)
            .ok_or_else(|| {
                ApiError::conflict(format!(
                "this Idempotency-Key was used for change request {id}, which is not a rollback"
            ))
            })?
    } else {
        Rollback {
            change_request: id,
            created_at: proposed.change_request.created_at,
            ..record
        }
    };
    Ok((
        RollbackAnswer {
            change_request: proposed.change_request,
            rollback,
            run_note,
        },
        proposed.replayed,
    ))
}
