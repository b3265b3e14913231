//! Carrying out one claimed run, and the worker's claim loop.

use crate::api::{ApiError, WorkerApi};
use crate::logs::LogSink;
use crate::sandbox::Sandbox;
use crate::source::{self, Limits};
use crate::tool::{self, Driver, Stop, ToolError};
use arbiter_api::runs::{Claim, PhaseReport, RevisedPlan, RunPhase, RunSource, ToolInfo};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// A worker's configuration.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Shown on the runs it claims (host and process).
    pub name: String,
    /// Workspaces are made under it (`run-ID`), and the plugin cache.
    pub work_dir: PathBuf,
    /// Provider directory for `init -plugin-dir` (offline installs).
    pub plugin_dir: Option<PathBuf>,
    /// The confinement.
    pub sandbox: Sandbox,
    /// Bundle limits.
    pub limits: Limits,
    /// Keep workspaces after a run (debugging).
    pub keep_workspaces: bool,
    /// Keep the whole masked log in memory (tests, benchmarks).
    pub keep_log: bool,
}

impl WorkerConfig {
    /// Defaults for a work directory.
    pub fn new(name: &str, work_dir: &Path) -> WorkerConfig {
        WorkerConfig {
            name: name.to_string(),
            work_dir: work_dir.to_path_buf(),
            plugin_dir: None,
            sandbox: Sandbox::detect(),
            limits: Limits::default(),
            keep_workspaces: false,
            keep_log: false,
        }
    }

    /// The plugin cache shared between runs.
    pub fn plugin_cache(&self) -> PathBuf {
        self.work_dir.join("plugin-cache")
    }
}

/// How a run ended, as far as this worker knows.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The run.
    pub run: i64,
    /// Its last phase as reported (or the phase the worker was in when the
    /// server stopped accepting reports).
    pub phase: RunPhase,
    /// Why it failed, was discarded, cancelled or lost.
    pub error: Option<String>,
    /// The tool used.
    pub tool: Option<ToolInfo>,
    /// The masked log (when [`WorkerConfig::keep_log`]).
    pub log: String,
    /// Time spent in Terraform itself (init, plan, show, apply).
    pub tool_time: Duration,
    /// Time of the whole run on the worker.
    pub total_time: Duration,
}

/// Why a step ended the run.
enum StepEnd {
    /// Report this final phase with this error.
    To(RunPhase, String),
    /// The server refused a report (cancelled, interrupted, lease lost):
    /// stop without further reports.
    Lost(String),
    /// The server moved the run to this final phase itself (a revision
    /// discards the run): nothing to report.
    Ended(RunPhase, String),
}

struct Ctx<'a> {
    api: &'a WorkerApi,
    claim: &'a Claim,
    log: LogSink,
    phase: RunPhase,
    tool: Option<ToolInfo>,
    tool_time: Duration,
    /// Terraform's working directory, once known (where it leaves
    /// `errored.tfstate`).
    tool_dir: Option<PathBuf>,
}

impl Ctx<'_> {
    async fn report(
        &mut self,
        to: RunPhase,
        fill: impl FnOnce(&mut PhaseReport),
    ) -> Result<(), StepEnd> {
        let mut r = PhaseReport {
            lease: self.claim.lease.clone(),
            from: self.phase,
            to,
            error: None,
            tool: None,
            judged_digest: None,
            planned_digest: None,
        };
        fill(&mut r);
        // A final phase ends the lease: the server takes no log after it,
        // so its line goes before the report.
        let last = to.is_final();
        if last {
            self.log
                .line(&format!("[arbiter] phase {} → {to}", self.phase));
        }
        // The log up to this point is on the server before the phase
        // changes (people following a run see why it moved on).
        if let Err(e) = self
            .log
            .flush(self.api, self.claim.run.id, &self.claim.lease)
            .await
        {
            tracing::warn!("run {}: log upload failed: {e}", self.claim.run.id);
        }
        let mut delay = Duration::from_millis(500);
        for attempt in 0..6 {
            match self.api.phase(self.claim.run.id, &r).await {
                Ok(_) => {
                    if !last {
                        self.log
                            .line(&format!("[arbiter] phase {} → {to}", self.phase));
                    }
                    self.phase = to;
                    return Ok(());
                }
                Err(e) if e.is_transient() && attempt < 5 => {
                    tracing::warn!(
                        "run {}: phase report failed, retrying: {e}",
                        self.claim.run.id
                    );
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                Err(e) => {
                    return Err(StepEnd::Lost(format!(
                        "the server refused {} → {to}: {e}",
                        self.phase
                    )))
                }
            }
        }
        Err(StepEnd::Lost(format!(
            "cannot report {} → {to}",
            self.phase
        )))
    }
}

fn tool_end(e: ToolError, phase: RunPhase) -> StepEnd {
    match &e {
        ToolError::Interrupted { why, .. }
            if why.contains("cancelled") && phase.is_cancellable() =>
        {
            StepEnd::To(RunPhase::Cancelled, e.to_string())
        }
        ToolError::Interrupted { .. } => StepEnd::To(RunPhase::Interrupted, e.to_string()),
        // The server's rule for a phase past its limit: an apply stopped
        // part-way may have changed the stack, so it is `interrupted`.
        ToolError::Timeout { .. } => StepEnd::To(
            phase.on_timeout().unwrap_or(RunPhase::Failed),
            e.to_string(),
        ),
        _ => StepEnd::To(RunPhase::Failed, e.to_string()),
    }
}

/// The secret values of a claim, read from this worker's environment and
/// files, as (environment variable, value).
fn secrets(claim: &Claim) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for name in &claim.secret_env {
        match std::env::var(name) {
            Ok(v) => out.push((name.clone(), v)),
            Err(_) => {
                return Err(format!(
                    "secret environment variable {name} named by the stack is not set on worker"
                ))
            }
        }
    }
    for (var, path) in &claim.secret_files {
        let v = std::fs::read_to_string(path)
            .map_err(|e| format!("secret file {path} (variable {var}): {e}"))?;
        out.push((
            format!("TF_VAR_{var}"),
            v.trim_end_matches(['\n', '\r']).to_string(),
        ));
    }
    Ok(out)
}

/// Carries out a claimed run to its end. `shutdown` turning true makes it
/// stop before applying (interrupted); an apply in progress is finished.
pub async fn execute(
    api: &WorkerApi,
    cfg: &WorkerConfig,
    claim: &Claim,
    shutdown: watch::Receiver<bool>,
) -> Outcome {
    let started = std::time::Instant::now();
    let run = claim.run.id;
    let secret_pairs = secrets(claim);
    let mut secret_values: Vec<String> = secret_pairs
        .as_ref()
        .map(|p| p.iter().map(|(_, v)| v.clone()).collect())
        .unwrap_or_default();
    secret_values.push(claim.backend.password.clone());
    secret_values.push(claim.lease.clone());
    let log = LogSink::new(secret_values, cfg.keep_log);
    let pump = tokio::spawn(log.clone().pump(
        api.clone(),
        run,
        claim.lease.clone(),
        Duration::from_millis(500),
    ));
    if let Some(w) = cfg.sandbox.warning() {
        log.line(&w);
    }
    log.line(&format!(
        "[arbiter] run {run} (change request {} revision {}) on worker {}",
        claim.run.change_request, claim.run.revision, cfg.name
    ));

    // Heartbeats, cancellation and shutdown → one stop signal.
    let (stop_tx, stop_rx) = watch::channel(Stop::No);
    let stop_tx = Arc::new(stop_tx);
    let applying = Arc::new(AtomicBool::new(false));
    let hb = {
        let api = api.clone();
        let lease = claim.lease.clone();
        let every = Duration::from_secs(claim.heartbeat_secs.max(1));
        let stop_tx = stop_tx.clone();
        let applying = applying.clone();
        let log = log.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                match api.heartbeat(run, &lease).await {
                    Ok(ack) if ack.cancel_requested && !applying.load(Ordering::SeqCst) => {
                        if *stop_tx.borrow() == Stop::No {
                            log.line("[arbiter] cancel requested");
                            let _ = stop_tx.send(Stop::Cancel);
                        }
                    }
                    Ok(_) => {}
                    Err(e) if e.is_conflict() => {
                        log.line(&format!(
                            "[arbiter] the server no longer knows this claim: {e}"
                        ));
                        if !applying.load(Ordering::SeqCst) {
                            let _ = stop_tx.send(Stop::Shutdown);
                        }
                        return;
                    }
                    Err(e) => tracing::warn!("run {run}: heartbeat failed: {e}"),
                }
            }
        })
    };
    let sd = {
        let mut shutdown = shutdown.clone();
        let stop_tx = stop_tx.clone();
        let applying = applying.clone();
        tokio::spawn(async move {
            loop {
                if *shutdown.borrow() {
                    // Finish an apply; stop anything before it.
                    while applying.load(Ordering::SeqCst) {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    let _ = stop_tx.send(Stop::Shutdown);
                    return;
                }
                if shutdown.changed().await.is_err() {
                    return;
                }
            }
        })
    };

    // Unique per worker process: workers of several servers may share a
    // work directory (and its plugin cache).
    let workspace = cfg
        .work_dir
        .join(format!("run-{run}-{}", std::process::id()));
    let mut ctx = Ctx {
        api,
        claim,
        log: log.clone(),
        phase: RunPhase::Preparing,
        tool: None,
        tool_time: Duration::ZERO,
        tool_dir: None,
    };
    let end = steps(
        &mut ctx,
        cfg,
        &workspace,
        secret_pairs,
        stop_rx,
        &applying,
        &shutdown,
    )
    .await;
    // Whatever the outcome: Terraform's unsaved state leaves the workspace
    // before it is deleted (and before the final report, whose log flush
    // takes the notice to the server while it still takes logs).
    let keep_workspace = keep_errored_state(cfg, claim, &workspace, ctx.tool_dir.as_deref(), &log);
    let (phase, error) = match end {
        Ok(()) => (ctx.phase, None),
        Err(StepEnd::To(to, msg)) => {
            log.line(&format!("[arbiter] {to}: {msg}"));
            let m = msg.clone();
            match ctx.report(to, |r| r.error = Some(m)).await {
                Ok(()) => (to, Some(msg)),
                Err(StepEnd::Lost(l)) | Err(StepEnd::To(_, l)) | Err(StepEnd::Ended(_, l)) => {
                    log.line(&format!("[arbiter] {l}"));
                    (ctx.phase, Some(format!("{msg}; {l}")))
                }
            }
        }
        Err(StepEnd::Lost(msg)) => {
            log.line(&format!("[arbiter] stopped: {msg}"));
            (ctx.phase, Some(msg))
        }
        Err(StepEnd::Ended(phase, msg)) => {
            log.line(&format!("[arbiter] {phase}: {msg}"));
            (phase, Some(msg))
        }
    };
    hb.abort();
    sd.abort();
    log.close();
    let mut pump = pump;
    if tokio::time::timeout(Duration::from_secs(30), &mut pump)
        .await
        .is_err()
    {
        pump.abort();
        tracing::warn!("run {run}: the end of the log could not be delivered in 30 s");
    }
    if !cfg.keep_workspaces && !keep_workspace {
        let _ = std::fs::remove_dir_all(&workspace);
    }
    Outcome {
        run,
        phase,
        error,
        tool: ctx.tool.clone(),
        log: log.text(),
        tool_time: ctx.tool_time,
        total_time: started.elapsed(),
    }
}

/// Moves Terraform's `errored.tfstate` (if any) to the worker's quarantine
/// directory ([`crate::errored_state`]) and says so loudly: in the run's
/// log (delivered if the server still takes it) and always on the worker's
/// own log, since the file is on this machine. Returns whether the
/// workspace must be kept (the file could not be moved out of it).
fn keep_errored_state(
    cfg: &WorkerConfig,
    claim: &Claim,
    workspace: &Path,
    dir: Option<&Path>,
    log: &LogSink,
) -> bool {
    let Some(dir) = dir else {
        return false;
    };
    let run = claim.run.id;
    match crate::errored_state::quarantine(workspace, dir, &cfg.work_dir, run) {
        Ok(None) => false,
        Ok(Some(kept)) => {
            let line = crate::errored_state::kept_notice(&kept, run, &claim.run.stack);
            log.line(&line);
            tracing::error!("{line}");
            false
        }
        Err(e) => {
            let line = crate::errored_state::lost_notice(&e, run, workspace);
            log.line(&line);
            tracing::error!("{line}");
            true
        }
    }
}

fn io_end(what: &str, e: impl std::fmt::Display) -> StepEnd {
    StepEnd::To(RunPhase::Failed, format!("{what}: {e}"))
}

#[allow(clippy::too_many_arguments)]
async fn steps(
    ctx: &mut Ctx<'_>,
    cfg: &WorkerConfig,
    workspace: &Path,
    secret_pairs: Result<Vec<(String, String)>, String>,
    stop: watch::Receiver<Stop>,
    applying: &AtomicBool,
    shutdown: &watch::Receiver<bool>,
) -> Result<(), StepEnd> {
    let claim = ctx.claim;
    let run = claim.run.id;
    let secret_pairs = secret_pairs.map_err(|e| StepEnd::To(RunPhase::Failed, e))?;
    let timeouts = &claim.timeouts;
    // preparing: the source.
    let _ = std::fs::remove_dir_all(workspace);
    let src = workspace.join("src");
    let prep = Duration::from_secs(timeouts.preparing.max(1));
    let dir = match &claim.run.source {
        RunSource::Bundle { sha256 } => {
            let bytes = tokio::time::timeout(prep, ctx.api.bundle(sha256))
                .await
                .map_err(|_| io_end("preparing", "fetching the bundle timed out"))?
                .map_err(|e| io_end("fetching the bundle", e))?;
            let limits = cfg.limits;
            let dest = src.clone();
            let stats = tokio::task::spawn_blocking(move || source::unpack(&bytes, &dest, &limits))
                .await
                .map_err(|e| io_end("unpacking", e))?
                .map_err(|e| io_end("unpacking", e))?;
            ctx.log.line(&format!(
                "[arbiter] bundle {sha256}: {} files, {} bytes",
                stats.files, stats.bytes
            ));
            src.clone()
        }
        RunSource::Git { url, commit, path } => {
            source::git_fetch(url, commit, &src, prep)
                .await
                .map_err(|e| io_end("fetching the repository", e))?;
            ctx.log.line(&format!("[arbiter] git {url} at {commit}"));
            let d = source::subdir(&src, path.as_deref()).map_err(|e| io_end("source", e))?;
            if !d.is_dir() {
                return Err(io_end(
                    "source",
                    format!(
                        "{} is not a directory in the repository",
                        path.as_deref().unwrap_or(".")
                    ),
                ));
            }
            d
        }
    };
    let home = workspace.join(".home");
    std::fs::create_dir_all(&home).map_err(|e| io_end("workspace", e))?;
    let cache = cfg.plugin_cache();
    std::fs::create_dir_all(&cache).map_err(|e| io_end("plugin cache", e))?;
    if let Some(uid) = cfg.sandbox.run_as {
        crate::sandbox::give_to(workspace, uid).map_err(|e| io_end("workspace owner", e))?;
        crate::sandbox::give_to(&cache, uid).map_err(|e| io_end("plugin cache owner", e))?;
    }
    let tool = tool::find_tool(claim.tool, claim.tool_path.as_deref())
        .await
        .map_err(|e| io_end("tool", e))?;
    ctx.log.line(&format!(
        "[arbiter] {} {} at {}",
        tool_name(&tool),
        tool.version,
        tool.path
    ));
    ctx.tool = Some(tool.clone());
    let t = tool.clone();
    ctx.report(RunPhase::Initialising, |r| r.tool = Some(t))
        .await?;

    // initialising.
    let mut env = tool::base_env(&home, Some(&cache));
    env.insert("TF_HTTP_USERNAME".into(), claim.backend.username.clone());
    env.insert("TF_HTTP_PASSWORD".into(), claim.backend.password.clone());
    for (k, v) in &claim.variables {
        env.insert(format!("TF_VAR_{k}"), v.clone());
    }
    for (k, v) in secret_pairs {
        env.insert(k, v);
    }
    let mut ro = Vec::new();
    if let Some(p) = &cfg.plugin_dir {
        ro.push(p.clone());
    }
    ctx.tool_dir = Some(dir.clone());
    let mut driver = Driver {
        tool: tool.clone(),
        dir: dir.clone(),
        rw: vec![workspace.to_path_buf(), cache.clone()],
        ro,
        plugin_dir: cfg.plugin_dir.clone(),
        env,
        sandbox: cfg.sandbox.clone(),
        log: ctx.log.clone(),
        stop,
    };
    driver
        .write_override(&claim.backend)
        .map_err(|e| io_end("workspace", e))?;
    let t0 = std::time::Instant::now();
    let r = driver
        .init(Duration::from_secs(timeouts.initialising.max(1)))
        .await;
    ctx.tool_time += t0.elapsed();
    r.map_err(|e| tool_end(e, ctx.phase))?;
    ctx.report(RunPhase::Planning, |_| {}).await?;

    // planning.
    let t0 = std::time::Instant::now();
    let r = driver
        .plan(Duration::from_secs(timeouts.planning.max(1)))
        .await;
    ctx.tool_time += t0.elapsed();
    let plan_json = r.map_err(|e| tool_end(e, ctx.phase))?;
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&plan_json) {
        ctx.log.add_secrets(tool::sensitive_values(&v));
    }
    let planned =
        arbiter_plan::digest::change_digest(&plan_json).map_err(|e| io_end("the new plan", e))?;
    let judged_json = ctx
        .api
        .judged_plan(run, &claim.lease)
        .await
        .map_err(|e| io_end("fetching the judged plan", e))?;
    let judged = arbiter_plan::digest::change_digest(&judged_json)
        .map_err(|e| io_end("the judged plan", e))?;
    let (j, p) = (judged.clone(), planned.clone());
    ctx.report(RunPhase::Checking, |r| {
        r.judged_digest = Some(j);
        r.planned_digest = Some(p);
    })
    .await?;

    // checking.
    if judged != planned {
        ctx.log.line(&format!(
            "[arbiter] the plan changed since it was judged (judged {judged}, now {planned}): sending it as a new revision"
        ));
        // Taking the revision discards the run, and the server takes no
        // log after that: the log so far goes first.
        if let Err(e) = ctx.log.flush(ctx.api, run, &claim.lease).await {
            tracing::warn!("run {run}: log upload failed: {e}");
        }
        let text = String::from_utf8(plan_json).map_err(|e| io_end("the new plan", e))?;
        let raw = serde_json::value::RawValue::from_string(text)
            .map_err(|e| io_end("the new plan", e))?;
        let ack = ctx
            .api
            .revision(
                run,
                &RevisedPlan {
                    lease: claim.lease.clone(),
                    plan: raw,
                },
            )
            .await
            .map_err(|e| io_end("sending the new revision", e))?;
        // The server discards this run when it takes the revision.
        return Err(StepEnd::Ended(
            RunPhase::Discarded,
            format!(
                "the plan changed since it was judged; revision {} of change request {} was made (decision {})",
                ack.revision, ack.change_request, ack.decision
            ),
        ));
    }
    ctx.log.line(&format!(
        "[arbiter] the plan is the judged plan ({planned})"
    ));
    if *driver.stop.borrow() != Stop::No || *shutdown.borrow() {
        let cancel = *driver.stop.borrow() == Stop::Cancel;
        return Err(if cancel {
            StepEnd::To(RunPhase::Cancelled, "cancelled before applying".into())
        } else {
            StepEnd::To(
                RunPhase::Interrupted,
                "the worker shut down before applying".into(),
            )
        });
    }
    applying.store(true, Ordering::SeqCst);
    ctx.report(RunPhase::Applying, |_| {}).await?;
    let t0 = std::time::Instant::now();
    let r = driver
        .apply(Duration::from_secs(timeouts.applying.max(1)))
        .await;
    ctx.tool_time += t0.elapsed();
    applying.store(false, Ordering::SeqCst);
    r.map_err(|e| tool_end(e, ctx.phase))?;
    ctx.report(RunPhase::Applied, |_| {}).await?;

    // verification.
    if let Some(v) = &claim.verification {
        ctx.report(RunPhase::Verifying, |_| {}).await?;
        match crate::verify::verify(v, &ctx.log).await {
            Ok(()) => ctx.report(RunPhase::Verified, |_| {}).await?,
            Err(e) => return Err(StepEnd::To(RunPhase::VerificationFailed, e.to_string())),
        }
    }
    Ok(())
}

fn tool_name(t: &ToolInfo) -> &'static str {
    match t.kind {
        arbiter_api::runs::ToolKind::Terraform => "terraform",
        arbiter_api::runs::ToolKind::Tofu => "tofu",
    }
}

/// The claim loop: long-polls for runs and carries them out one at a time
/// until `shutdown` turns true (or after one run with `once`).
pub async fn work(
    api: &WorkerApi,
    cfg: &WorkerConfig,
    once: bool,
    shutdown: watch::Receiver<bool>,
) -> Result<Vec<Outcome>, ApiError> {
    // The work directory is made by the first run (a worker that never
    // gets one leaves nothing behind). What workers killed outright left
    // there is cleared first, their unsaved states kept (not when
    // workspaces are kept for debugging).
    if !cfg.keep_workspaces {
        sweep_leftovers(&cfg.work_dir);
    }
    let mut outcomes = Vec::new();
    let mut backoff = Duration::from_secs(1);
    loop {
        if *shutdown.borrow() {
            return Ok(outcomes);
        }
        let mut sd = shutdown.clone();
        let claimed = tokio::select! {
            c = api.claim(&cfg.name, 20) => c,
            _ = sd.changed() => return Ok(outcomes),
        };
        match claimed {
            Ok(Some(claim)) => {
                backoff = Duration::from_secs(1);
                tracing::info!("claimed run {}", claim.run.id);
                let o = execute(api, cfg, &claim, shutdown.clone()).await;
                tracing::info!(
                    "run {}: {}{}",
                    o.run,
                    o.phase,
                    o.error
                        .as_deref()
                        .map(|e| format!(" ({e})"))
                        .unwrap_or_default()
                );
                outcomes.push(o);
                if once {
                    return Ok(outcomes);
                }
            }
            Ok(None) => {}
            Err(e) if e.is_transient() => {
                tracing::warn!("claim failed, retrying in {} s: {e}", backoff.as_secs());
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Clears the workspaces of killed workers ([`crate::errored_state::sweep`])
/// and says what it kept, loudly.
fn sweep_leftovers(work_dir: &Path) {
    let swept = crate::errored_state::sweep(work_dir);
    for (run, kept) in &swept.kept {
        tracing::error!("{}", crate::errored_state::swept_notice(kept, *run));
    }
    for ws in &swept.removed {
        tracing::info!(
            "removed the leftover workspace {} of a killed worker",
            ws.display()
        );
    }
    for (ws, why) in &swept.left {
        tracing::warn!(
            "left the workspace {} of a killed worker alone: {why}",
            ws.display()
        );
    }
}
