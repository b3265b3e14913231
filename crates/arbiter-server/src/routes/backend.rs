//! Terraform's HTTP state backend: `GET|POST|LOCK|UNLOCK
//! /api/v1/stacks/{name}/tfstate`, with basic-auth credentials scoped to
//! one stack (a run's, from its claim; or a person's own, minted by an
//! admin). Every state written lands in the stack's state history with its
//! origin: `apply` (a run, with its id and the configuration it applied)
//! or `backend` (someone's own terraform).
//!
//! Protocol (Terraform's `http` backend): GET answers the state (200) or
//! nothing yet (204); POST stores it, with `?ID=` naming the lock held;
//! LOCK takes the lock with Terraform's lock info JSON as the body (200),
//! or answers 423 with the holder's lock info; UNLOCK releases it.

use crate::auth::{BackendUser, Principal};
use crate::error::{ApiError, ApiResult};
use crate::AppState;
use arbiter_api::runs::{BackendCredentials, BackendCredentialsCreated, Run};
use arbiter_api::ErrorCode;
use arbiter_store::runs::LockOutcome;
use arbiter_store::states::{NewStateVersion, PushOutcome, StateFacts};
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

/// What a backend request does with the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// GET.
    Read,
    /// LOCK.
    Lock,
    /// POST.
    Write,
    /// UNLOCK.
    Unlock,
}

impl Access {
    fn method(self) -> &'static str {
        match self {
            Access::Read => "GET",
            Access::Lock => "LOCK",
            Access::Write => "POST",
            Access::Unlock => "UNLOCK",
        }
    }
}

/// The caller, checked: credentials of this stack, and for a run's, a run
/// that may still do this. A run reads and unlocks while its credentials
/// last (they end with the run), locks only while active up to applying
/// and writes only while applying ([`RunPhase::may_lock_state`],
/// [`RunPhase::may_write_state`]); a refused lock or write is 409
/// `state_write_refused`, audited on the run (`state.write_refused`): a
/// terraform left running after its worker died, or after the server
/// stopped the run, must not change the stack's state.
async fn backend_user(
    app: &AppState,
    b: Option<Extension<BackendUser>>,
    stack: &str,
    access: Access,
) -> ApiResult<(BackendUser, Option<Run>)> {
    let Some(Extension(b)) = b else {
        return Err(ApiError::forbidden(
            "the state backend takes basic-auth credentials scoped to the stack (a run's, or minted by an admin: POST /api/v1/stacks/NAME/backend-credentials)",
        ));
    };
    if b.stack != stack {
        // Credentials of another stack: as if the stack did not exist.
        return Err(ApiError::not_found(format!("stack {stack:?} not found")));
    }
    let Some(id) = b.run else {
        return Ok((b, None));
    };
    let ended = || {
        ApiError::new(
            ErrorCode::InvalidCredentials,
            format!("the state backend credentials of run {id} ended with the run"),
        )
    };
    let run = arbiter_store::runs::get(app.store.pool(), id)
        .await?
        .map(crate::convert::run)
        .ok_or_else(ended)?;
    let allowed = match access {
        Access::Read | Access::Unlock => !b.ended,
        Access::Lock => !b.ended && run.phase.may_lock_state(),
        Access::Write => !b.ended && run.phase.may_write_state(),
    };
    if allowed {
        return Ok((b, Some(run)));
    }
    if matches!(access, Access::Read | Access::Unlock) {
        return Err(ended());
    }
    let why = match &run.error {
        Some(e) if run.phase.is_final() => format!("run {id} is {}: {e}", run.phase),
        _ => format!("run {id} is {}", run.phase),
    };
    let rule = if access == Access::Write {
        "a run writes state only while applying"
    } else {
        "a run locks state only while it is active, up to applying"
    };
    let reason = format!(
        "{} refused: {why}; {rule} (a terraform still running after its run ended must stop)",
        access.method()
    );
    let (stack, phase, method, r2) = (
        run.stack.clone(),
        run.phase,
        access.method(),
        reason.clone(),
    );
    app.store
        .write(move |cx| {
            Box::pin(async move {
                arbiter_store::runs::state_write_refused(cx, id, &stack, method, phase, &r2).await
            })
        })
        .await?;
    tracing::warn!(run = id, method, phase = %phase, "refused a state write by a run that no longer writes state");
    Err(ApiError::new(ErrorCode::StateWriteRefused, reason))
}

fn who(b: &BackendUser) -> String {
    match b.run {
        Some(run) => format!("run:{run}"),
        None => format!("backend:{}", b.username),
    }
}

fn locked(info: String) -> Response {
    (
        StatusCode::LOCKED,
        [(header::CONTENT_TYPE, "application/json")],
        info,
    )
        .into_response()
}

/// `GET /api/v1/stacks/{name}/tfstate`.
pub async fn get(
    State(app): State<AppState>,
    b: Option<Extension<BackendUser>>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    backend_user(&app, b, &name, Access::Read).await?;
    let Some(latest) = arbiter_store::states::latest(app.store.pool(), &name).await? else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    if latest.form != "raw_v4" {
        return Err(ApiError::conflict(format!(
            "stack {name:?}'s latest state (version {}) was pushed as `terraform show -json` output, which terraform cannot read back as a state; push a raw state (terraform.tfstate) first",
            latest.version
        )));
    }
    let bytes =
        arbiter_store::states::content(app.store.pool(), app.store.sealer(), &latest.digest)
            .await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], bytes).into_response())
}

/// Query of a state write.
#[derive(serde::Deserialize, Default)]
pub struct WriteQuery {
    #[serde(rename = "ID")]
    id: Option<String>,
}

/// `POST /api/v1/stacks/{name}/tfstate[?ID=lock]`.
pub async fn post(
    State(app): State<AppState>,
    b: Option<Extension<BackendUser>>,
    Path(name): Path<String>,
    Query(q): Query<WriteQuery>,
    body: Bytes,
) -> ApiResult<Response> {
    // A run writes state only while it applies what was judged.
    let (b, run) = backend_user(&app, b, &name, Access::Write).await?;
    let text = body.to_vec();
    let t2 = text.clone();
    let state = tokio::task::spawn_blocking(move || arbiter_plan::read_state(&t2))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| ApiError::new(ErrorCode::InvalidState, format!("reading the state: {e}")))?;
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
        form: "raw_v4".into(),
        serial,
        lineage: state.lineage.clone(),
        terraform_version: state.terraform_version.clone(),
        resources: state.resources.len() as i64,
    };
    drop(state);
    let (origin, pushed_by) = match &run {
        Some(r) => (arbiter_api::StateOrigin::Apply, format!("run:{}", r.id)),
        None => (arbiter_api::StateOrigin::Backend, who(&b)),
    };
    let run_rec = match &run {
        Some(r) => Some((
            r.id,
            serde_json::to_string(&r.source).map_err(ApiError::internal)?,
        )),
        None => None,
    };
    let sealer = app.store.sealer().clone();
    let stack = name.clone();
    let mut new = tokio::task::spawn_blocking(move || {
        NewStateVersion::new(
            &sealer, &stack, &text, facts, None, &pushed_by, origin, false,
        )
    })
    .await
    .map_err(ApiError::internal)?;
    new.run = run_rec;
    let lock_id = q.id;
    let stack = name.clone();
    let outcome = app
        .store
        .write(move |cx| {
            Box::pin(async move {
                if let Some((held, info)) = arbiter_store::runs::lock_of(cx, &stack).await? {
                    if lock_id.as_deref() != Some(held.as_str()) {
                        return Ok(Err(info));
                    }
                }
                let o = arbiter_store::states::push(cx, &new).await?;
                if let (Some((run, _)), PushOutcome::Created { version, .. }) = (&new.run, &o) {
                    arbiter_store::runs::set_state_version(cx, *run, version.version).await?;
                }
                Ok(Ok(o))
            })
        })
        .await?;
    match outcome {
        Err(info) => Ok(locked(info)),
        Ok(PushOutcome::Created { .. } | PushOutcome::Unchanged(_)) => {
            Ok(StatusCode::OK.into_response())
        }
        Ok(PushOutcome::LineageChanged { latest, lineage }) => Err(ApiError::conflict(format!(
            "the state's lineage {lineage} differs from version {}'s: refused",
            latest.version
        ))),
        Ok(PushOutcome::SerialNotNewer { latest, serial }) => Err(ApiError::conflict(format!(
            "the state's serial {serial} is not newer than version {}'s ({}): refused",
            latest.version,
            latest.serial.unwrap_or(0)
        ))),
    }
}

/// Terraform's lock info (only the id is read; the rest is kept as sent).
#[derive(serde::Deserialize)]
struct LockInfo {
    #[serde(rename = "ID")]
    id: String,
}

/// `LOCK` and `UNLOCK` on `/api/v1/stacks/{name}/tfstate` (methods axum
/// has no filter for: served as the path's fallback).
pub async fn lock_or_unlock(
    State(app): State<AppState>,
    b: Option<Extension<BackendUser>>,
    Path(name): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    let method = req.method().as_str().to_string();
    if method != "LOCK" && method != "UNLOCK" {
        return Err(ApiError::new(
            ErrorCode::MethodNotAllowed,
            format!("{method} is not served here (GET, POST, LOCK, UNLOCK)"),
        ));
    }
    let access = if method == "LOCK" {
        Access::Lock
    } else {
        Access::Unlock
    };
    let (b, _) = backend_user(&app, b, &name, access).await?;
    let body = axum::body::to_bytes(req.into_body(), 1024 * 1024)
        .await
        .map_err(|e| ApiError::new(ErrorCode::BadBody, e.to_string()))?;
    let info_text = String::from_utf8(body.to_vec())
        .map_err(|_| ApiError::new(ErrorCode::InvalidJson, "lock info must be UTF-8 JSON"))?;
    let info: LockInfo = crate::routes::parse_json(info_text.as_bytes())?;
    if info.id.is_empty() || info.id.len() > 200 {
        return Err(ApiError::invalid("lock ID must be 1-200 characters"));
    }
    let by = who(&b);
    let stack = name.clone();
    let id = info.id.clone();
    let outcome = app
        .store
        .write(move |cx| {
            Box::pin(async move {
                if method == "LOCK" {
                    arbiter_store::runs::lock(cx, &stack, &id, &info_text, &by).await
                } else {
                    arbiter_store::runs::unlock(cx, &stack, &id, &by).await
                }
            })
        })
        .await?;
    match outcome {
        LockOutcome::Done | LockOutcome::NotLocked => Ok(StatusCode::OK.into_response()),
        LockOutcome::Held(info) => Ok(locked(info)),
    }
}

/// `POST /api/v1/stacks/{name}/backend-credentials` (admins): credentials
/// for someone's own terraform (password shown once).
pub async fn create_credentials(
    State(app): State<AppState>,
    p: Option<Extension<Principal>>,
    Path(name): Path<String>,
) -> ApiResult<(StatusCode, Json<BackendCredentialsCreated>)> {
    let Some(Extension(p)) = p else {
        return Err(ApiError::forbidden("only admins mint backend credentials"));
    };
    p.require(arbiter_api::Role::Admin)?;
    let stack = arbiter_store::stacks::get(app.store.pool(), &name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("stack {name:?} not found")))?;
    let stack = crate::convert::stack(stack);
    let password = crate::runs::secret("")?;
    let suffix = &crate::runs::secret("")?[..12];
    let username = format!("{}-{suffix}", stack.spec.name);
    let (u, h, s, by) = (
        username.clone(),
        crate::runs::hash(&password),
        stack.spec.name.clone(),
        p.id(),
    );
    app.store
        .write(move |cx| {
            Box::pin(async move {
                arbiter_store::runs::add_backend_credentials(cx, &u, &h, &s, None, &by).await
            })
        })
        .await?;
    let base = app
        .config
        .webhooks
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", app.config.listen));
    Ok((
        StatusCode::CREATED,
        Json(BackendCredentialsCreated {
            stack: stack.spec.name.clone(),
            credentials: BackendCredentials {
                address: format!(
                    "{}/api/v1/stacks/{}/tfstate",
                    base.trim_end_matches('/'),
                    stack.spec.name
                ),
                username,
                password,
            },
        }),
    ))
}
