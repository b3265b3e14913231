//! `arbiter worker`: carries out runs for a worker pool (see the
//! `arbiter-runner` crate). An API client of the server, authenticated by
//! the pool's token; never a database client.

use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::PathBuf;

/// Apply approved change requests: claim runs of a pool from a server and
/// carry them out with Terraform (or OpenTofu) in a sandbox.
#[derive(Args, Debug)]
#[command(
    after_help = "The pool's token comes from ARBITER_WORKER_TOKEN (an admin mints it with \
POST /api/v1/worker-pools).\n\nTerraform runs inside bubblewrap (Debian's `bubblewrap`) as an \
unprivileged user with a clean environment; without bwrap every run's log starts with a warning. \
Secrets named by a stack (`secret_env`) are read from this process's environment and masked in \
logs.\n\nSIGTERM (or Ctrl-C): no new claims; a run that has not started applying is stopped and \
reported interrupted, an apply in progress is finished first."
)]
pub struct WorkerArgs {
    /// Server URL.
    #[arg(long, value_name = "URL", env = "ARBITER_SERVER")]
    pub server: String,
    /// The worker pool (its token must be in ARBITER_WORKER_TOKEN).
    #[arg(long, value_name = "NAME", default_value = arbiter_api::runs::DEFAULT_POOL)]
    pub pool: String,
    /// Provider directory for offline `terraform init -plugin-dir`
    /// (registry layout: HOSTNAME/NAMESPACE/TYPE/VERSION/OS_ARCH/).
    #[arg(long, value_name = "DIR")]
    pub plugin_dir: Option<PathBuf>,
    /// Where run workspaces and the shared plugin cache live [default: arbiter-worker in the
    /// system's temporary directory].
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// Carry out one run, then exit.
    #[arg(long)]
    pub once: bool,
    /// Keep each run's workspace after it ends (debugging).
    #[arg(long)]
    pub keep_workspaces: bool,
}

/// Runs the worker until SIGTERM/Ctrl-C (or one run with `--once`).
pub fn run(args: WorkerArgs) -> Result<u8> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ARBITER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    if !args.server.starts_with("http://") && !args.server.starts_with("https://") {
        bail!(
            "--server {:?} must start with http:// or https://",
            args.server
        );
    }
    let token = std::env::var("ARBITER_WORKER_TOKEN")
        .ok()
        .filter(|t| !t.is_empty())
        .context("ARBITER_WORKER_TOKEN is not set (the worker pool's token)")?;
    if let Some(p) = &args.plugin_dir {
        if !p.is_dir() {
            bail!("--plugin-dir {} is not a directory", p.display());
        }
    }
    let work_dir = match &args.work_dir {
        Some(d) => absolute(d)?,
        None => std::env::temp_dir().join("arbiter-worker"),
    };
    let plugin_dir = args.plugin_dir.as_deref().map(absolute).transpose()?;
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "worker".into());
    let name = format!("{host}/{}/{}", args.pool, std::process::id());
    let mut cfg = arbiter_runner::WorkerConfig::new(&name, &work_dir);
    cfg.plugin_dir = plugin_dir;
    cfg.keep_workspaces = args.keep_workspaces;
    if let Some(w) = cfg.sandbox.warning() {
        eprintln!("{w}");
    }
    let api = arbiter_runner::WorkerApi::new(&args.server, &token)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let (tx, rx) = tokio::sync::watch::channel(false);
        let tx = std::sync::Arc::new(tx);
        // Started by `arbiter serve` (the embedded worker), stdin is a pipe
        // the server holds: end-of-file means the server is gone.
        if stdin_is_pipe() {
            let tx = tx.clone();
            tokio::task::spawn_blocking(move || {
                use std::io::Read;
                let mut buf = [0u8; 256];
                let mut stdin = std::io::stdin();
                while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
                eprintln!("arbiter worker: the server that started this worker is gone: shutting down");
                let _ = tx.send(true);
            });
        }
        tokio::spawn(async move {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(_) => return,
                };
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            eprintln!("arbiter worker: shutting down: no new claims; finishing or interrupting the current run");
            let _ = tx.send(true);
        });
        eprintln!("arbiter worker: {name} polling {} (pool {})", args.server, args.pool);
        let outcomes = arbiter_runner::work(&api, &cfg, args.once, rx).await?;
        let failed = outcomes.iter().any(|o| {
            matches!(
                o.phase,
                arbiter_api::runs::RunPhase::Failed | arbiter_api::runs::RunPhase::VerificationFailed
            )
        });
        Ok(if args.once && failed { 1 } else { 0 })
    })
}

/// Whether stdin is a pipe (not a terminal, a file or /dev/null).
fn stdin_is_pipe() -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata("/proc/self/fd/0").is_ok_and(|m| m.file_type().is_fifo())
}

fn absolute(p: &std::path::Path) -> Result<PathBuf> {
    if p.is_absolute() {
        return Ok(p.to_path_buf());
    }
    Ok(std::env::current_dir()
        .context("current directory")?
        .join(p))
}
