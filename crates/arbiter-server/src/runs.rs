//! Runs: when an approved change request gets a run, what a claim hands a
//! worker, the interruption of runs whose worker went silent, and what
//! follows a failed verification (a rollback change request).
//!
//! Architecture invariant: the phases and their legal moves are
//! [`arbiter_api::runs::RunPhase`]'s; the store enforces them. This module
//! decides only *whether* a run is queued and whether a person must
//! confirm it.

use crate::error::{ApiError, ApiResult};
use crate::AppState;
use arbiter_api::runs::{BackendCredentials, Claim, Confirmation, Run, RunKind, StackRuns};
use arbiter_api::StackSpec;
use arbiter_store::runs::{NewRun, RunConfig};
use arbiter_store::WriteCtx;
use std::sync::Arc;

/// In-memory state of the run queue (per replica).
#[derive(Default)]
pub struct RunsState {
    /// Woken when a run may have become claimable here (queued,
    /// confirmed), so long-polling claims answer at once; other replicas'
    /// runs are found by polling.
    pub queued: tokio::sync::Notify,
}

/// Prefix of worker-pool tokens.
pub const WORKER_TOKEN_PREFIX: &str = "arbw_";
/// Prefix of run leases.
pub const LEASE_PREFIX: &str = "arbl_";

/// A random secret with a prefix.
pub fn secret(prefix: &str) -> ApiResult<String> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| ApiError::internal(format!("no randomness: {e}")))?;
    Ok(format!("{prefix}{}", hex::encode(b)))
}

/// Stored form of a secret (SHA-256, hex): secrets carry 256 random bits.
pub fn hash(secret: &str) -> String {
    arbiter_store::principals::token_hash(secret)
}

/// The stack's run settings (defaults when absent).
pub fn settings(spec: &StackSpec) -> StackRuns {
    spec.runs.clone().unwrap_or_default()
}

/// Whether a run needs a person: not when the stack allows auto-apply *and*
/// the submitter's scope says `may_auto_apply` (whoever approved it).
pub fn confirmation_for(spec: &StackSpec, may_auto_apply: bool) -> Confirmation {
    if spec.auto_apply && may_auto_apply {
        Confirmation::NotNeeded
    } else {
        Confirmation::Awaiting
    }
}

/// Queues a run for an approved change request that carries a
/// configuration, in the writer's transaction (the caller's). `None` when
/// it carries none (nothing to run).
pub async fn queue_in(
    cx: &mut WriteCtx,
    change_request: i64,
    spec: &StackSpec,
    actor: &str,
) -> arbiter_store::Result<Option<Run>> {
    let Some((cfg, revision)) = arbiter_store::runs::run_config(cx, change_request).await? else {
        return Ok(None);
    };
    let new = NewRun {
        change_request,
        revision,
        stack: spec.name.clone(),
        kind: cfg.kind.clone(),
        source: cfg.source.clone(),
        variables: cfg.variables.clone(),
        confirmation: confirmation_for(spec, cfg.may_auto_apply),
        pool: settings(spec).pool().to_string(),
    };
    arbiter_store::runs::create(cx, &new, actor)
        .await
        .map(|r| Some(crate::convert::run(r)))
}

/// What a run of a submission applies, checked: a bundle must be stored
/// already, a git source must use an allowed transport and a full commit.
pub async fn run_config_of(
    app: &AppState,
    sub_config: Option<arbiter_api::runs::RunSource>,
    variables: std::collections::BTreeMap<String, String>,
    may_auto_apply: bool,
) -> ApiResult<Option<RunConfig>> {
    let Some(source) = sub_config else {
        if !variables.is_empty() {
            return Err(ApiError::invalid(
                "variables were sent without a configuration (config): nothing would use them",
            ));
        }
        return Ok(None);
    };
    check_source(app, &source).await?;
    for (k, v) in &variables {
        let ok = !k.is_empty()
            && k.len() <= 128
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !ok || v.len() > 64 * 1024 {
            return Err(ApiError::invalid(format!(
                "variable {k:?}: names are 1-128 characters of A-Z a-z 0-9 _ -, values at most 64 KiB"
            )));
        }
    }
    Ok(Some(RunConfig {
        kind: RunKind::Apply,
        source,
        variables,
        may_auto_apply,
    }))
}

/// Checks a run source (bundle stored; git URL transport and commit).
pub async fn check_source(app: &AppState, source: &arbiter_api::runs::RunSource) -> ApiResult<()> {
    use arbiter_api::runs::RunSource;
    match source {
        RunSource::Bundle { sha256 } => {
            crate::routes::bundles::check_sha(sha256)?;
            if !arbiter_store::runs::bundle_exists(app.store.pool(), sha256).await? {
                return Err(ApiError::invalid(format!(
                    "configuration bundle {sha256} is not stored: upload it first (PUT /api/v1/bundles/{sha256})"
                )));
            }
        }
        RunSource::Git { url, commit, path } => {
            arbiter_api::bundle::check_git_url(url).map_err(ApiError::invalid)?;
            arbiter_api::bundle::check_commit(commit).map_err(ApiError::invalid)?;
            if let Some(p) = path {
                arbiter_api::bundle::check_entry(p, arbiter_api::bundle::EntryKind::Directory)
                    .map_err(|e| ApiError::invalid(format!("git path: {e}")))?;
            }
        }
    }
    Ok(())
}

/// Builds the claim a worker gets, minting the run's backend credentials
/// in the same transaction as the claim.
pub async fn claim(
    app: &AppState,
    pool: &str,
    worker: &str,
    token_hash: &str,
) -> ApiResult<Option<Claim>> {
    let lease = secret(LEASE_PREFIX)?;
    let password = secret("")?;
    let (lease_hash, pw_hash) = (hash(&lease), hash(&password));
    let (pool_name, worker_name) = (pool.to_string(), worker.to_string());
    let token_hash = token_hash.to_string();
    let run = app
        .store
        .write(move |cx| {
            Box::pin(async move {
                arbiter_store::runs::touch_pool_token(cx, &token_hash).await?;
                let Some(run) =
                    arbiter_store::runs::claim(cx, &pool_name, &worker_name, &lease_hash).await?
                else {
                    return Ok(None);
                };
                // The limits the server holds the run to are the ones the
                // claim hands the worker: the stack's settings as read here.
                let stack = arbiter_store::stacks::get_in(cx, &run.stack)
                    .await?
                    .map(|s| settings(&crate::convert::stack_spec(s.doc)));
                let limits = phase_limits(&stack.clone().unwrap_or_default());
                arbiter_store::runs::set_limits(cx, run.id, &limits).await?;
                arbiter_store::runs::add_backend_credentials(
                    cx,
                    &format!("run-{}", run.id),
                    &pw_hash,
                    &run.stack,
                    Some(run.id),
                    &format!("worker:{pool_name}/{worker_name}"),
                )
                .await?;
                Ok(Some((run, stack)))
            })
        })
        .await?;
    let Some((run, stack)) = run else {
        return Ok(None);
    };
    let run = crate::convert::run(run);
    app.metrics.run_claimed();
    let s = stack
        .ok_or_else(|| ApiError::conflict(format!("stack {:?} no longer exists", run.stack)))?;
    let variables = arbiter_store::runs::source_and_variables(app.store.pool(), run.id)
        .await?
        .map(|(_, v)| v)
        .unwrap_or_default();
    let base = app
        .config
        .webhooks
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", app.config.listen));
    Ok(Some(Claim {
        backend: BackendCredentials {
            address: format!(
                "{}/api/v1/stacks/{}/tfstate",
                base.trim_end_matches('/'),
                run.stack
            ),
            username: format!("run-{}", run.id),
            password,
        },
        run,
        lease,
        variables,
        secret_env: s.secret_env.clone(),
        secret_files: s.secret_files.clone(),
        tool: s.tool,
        tool_path: s.tool_path.clone(),
        timeouts: s.timeouts.clone().unwrap_or_default(),
        verification: s.verification.clone(),
        heartbeat_secs: app.config.run_heartbeat.as_secs().max(1),
    }))
}

/// The time limit of each phase of a run of a stack with these settings
/// ([`arbiter_api::runs::PhaseTimeouts::limit_secs`]).
pub fn phase_limits(s: &StackRuns) -> arbiter_store::runs::PhaseLimits {
    let t = s.timeouts.clone().unwrap_or_default();
    arbiter_api::runs::RUN_PHASES
        .into_iter()
        .filter_map(|p| {
            t.limit_secs(p, s.verification.as_ref())
                .map(|secs| (p, secs))
        })
        .collect()
}

/// Stops runs whose current phase lasted longer than its limit plus a
/// grace of three heartbeat intervals, even if their worker still
/// heart-beats (background): `failed` before applying, `interrupted` from
/// applying or verifying. Audited (`run.failed`, `run.interrupted`, so
/// webhooks `run.*`) with the reason; the worker learns it at its next
/// heartbeat or phase report (409 `lease_lost`, naming the reason).
pub async fn stop_overdue(app: &AppState) {
    let grace = app.config.run_heartbeat.as_millis() as i64 * 3;
    let defaults = phase_limits(&StackRuns::default());
    let now = arbiter_store::now_ms();
    match app
        .store
        .write(move |cx| {
            Box::pin(
                async move { arbiter_store::runs::stop_overdue(cx, now, grace, &defaults).await },
            )
        })
        .await
    {
        Ok(stopped) if !stopped.is_empty() => {
            for s in &stopped {
                tracing::warn!(run = s.id, phase = %s.from, to = %s.to, "stopped a run whose phase outlasted its time limit");
            }
            // Their stacks may be free for their next runs.
            app.runs.queued.notify_waiters();
        }
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "stopping runs past their time limits"),
    }
}

/// Interrupts runs whose worker missed three heartbeats (background).
pub async fn interrupt_silent(app: &AppState) {
    let missed = app.config.run_heartbeat.as_millis() as i64 * 3;
    let before = arbiter_store::now_ms() - missed;
    match app
        .store
        .write(move |cx| {
            Box::pin(async move { arbiter_store::runs::interrupt_silent(cx, before).await })
        })
        .await
    {
        Ok(ids) if !ids.is_empty() => {
            tracing::warn!(runs = ?ids, "interrupted runs whose worker stopped heart-beating")
        }
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "interrupting silent runs"),
    }
}

/// After a failed verification: a rollback change request to the state
/// version before the one the run wrote (judged like any change).
pub async fn open_verification_rollback(app: &AppState, run: &Run) -> ApiResult<Option<i64>> {
    let Some(written) = run.state_version else {
        tracing::warn!(
            run = run.id,
            "verification failed but the run recorded no state version: no rollback opened"
        );
        return Ok(None);
    };
    if written <= 1 {
        tracing::warn!(
            run = run.id,
            "verification failed on the stack's first state version: nothing to roll back to"
        );
        return Ok(None);
    }
    let p = crate::auth::Principal::User {
        name: "arbiter".into(),
        role: arbiter_api::Role::Reviewer,
        token_id: None,
    };
    let req = arbiter_api::RollbackRequest {
        to: written - 1,
        intent: Some(format!(
            "Opened because run {} failed its verification after applying change request {}: {}",
            run.id,
            run.change_request,
            run.error.as_deref().unwrap_or("no reason given")
        )),
        force: false,
    };
    let answer = crate::routes::states::open_rollback(
        app,
        &p,
        &run.stack,
        &req,
        Some(format!("verification-rollback-run-{}", run.id)),
        arbiter_api::signing::sha256_hex(format!("run:{}", run.id).as_bytes()),
    )
    .await?;
    Ok(Some(answer.change_request.id))
}

/// Characters of a worker-pool token shown by the token list
/// (`arbw_` and 7 hex digits: 28 of its 256 random bits).
const TOKEN_PREFIX_LEN: usize = WORKER_TOKEN_PREFIX.len() + 7;

/// Creates a pool if needed and stores a new token for it; returns the
/// token's id and the token.
pub async fn mint_pool_token(app: &AppState, pool: &str, by: &str) -> ApiResult<(String, String)> {
    let token = secret(WORKER_TOKEN_PREFIX)?;
    let prefix: String = token.chars().take(TOKEN_PREFIX_LEN).collect();
    let (h, pool, by) = (hash(&token), pool.to_string(), by.to_string());
    let id = app
        .store
        .write(move |cx| {
            Box::pin(async move {
                arbiter_store::runs::add_pool_token(cx, &pool, &h, &prefix, &by).await
            })
        })
        .await?;
    Ok((id, token))
}

/// Environment variables the embedded worker does not inherit: the
/// server's own configuration and credentials.
fn withheld(name: &str) -> bool {
    (name.starts_with("ARBITER_") && !name.starts_with("ARBITER_WORKER_"))
        || name == "DATABASE_URL"
        || name.starts_with("PG")
}

/// Starts the embedded worker: this executable's `worker` subcommand as a
/// separate process (`worker --server URL --pool embedded`), with a pool
/// token minted now in `ARBITER_WORKER_TOKEN` and without the server's
/// own settings in its environment (`ARBITER_*`, `PG*`). Its exit is
/// logged; it is killed when the server stops, and its stdin (a pipe held
/// by the server) reaches end-of-file if the server dies.
pub async fn start_embedded_worker(
    app: &AppState,
    server_url: &str,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> ApiResult<()> {
    let (_, token) = mint_pool_token(app, arbiter_api::runs::DEFAULT_POOL, "system").await?;
    let exe = std::env::current_exe()
        .map_err(|e| ApiError::internal(format!("finding this executable: {e}")))?;
    let mut cmd = tokio::process::Command::new(&exe);
    cmd.arg("worker")
        .arg("--server")
        .arg(server_url)
        .arg("--pool")
        .arg(arbiter_api::runs::DEFAULT_POOL)
        .env_clear()
        .envs(std::env::vars_os().filter(|(k, _)| !k.to_str().is_some_and(withheld)))
        .env("ARBITER_WORKER_TOKEN", &token)
        // A pipe the server never writes to: the worker sees end-of-file
        // on its stdin when the server is gone (even killed), and should
        // then stop.
        .stdin(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|e| {
        ApiError::internal(format!(
            "starting the embedded worker ({} worker): {e}",
            exe.display()
        ))
    })?;
    tracing::info!(
        pid = child.id(),
        pool = arbiter_api::runs::DEFAULT_POOL,
        "started the embedded worker"
    );
    let stdin = child.stdin.take();
    tokio::spawn(async move {
        let _stdin = stdin;
        tokio::select! {
            status = child.wait() => match status {
                Ok(s) => tracing::error!(status = %s, "the embedded worker exited; runs of the `embedded` pool wait for another worker (arbiter worker --pool embedded)"),
                Err(e) => tracing::error!(error = %e, "waiting for the embedded worker"),
            },
            _ = async {
                while stop.changed().await.is_ok() {
                    let stopping = *stop.borrow();
                    if stopping {
                        break;
                    }
                }
            } => {
                let _ = child.kill().await;
            }
        }
    });
    Ok(())
}

/// Shared between the handlers.
pub type Shared = Arc<RunsState>;
