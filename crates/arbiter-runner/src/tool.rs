//! The Terraform/OpenTofu driver: one workspace per run, the HTTP backend
//! forced by an override file, `init` offline against a provider directory,
//! `plan -out`, `show -json`, `apply` of the saved plan — each in the
//! sandbox, with a time limit, its output in the run's (masked) log, and
//! interruptible (SIGINT to the process group, then SIGKILL).

use crate::logs::LogSink;
use crate::sandbox::Sandbox;
use arbiter_api::runs::{BackendCredentials, ToolInfo, ToolKind};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::sync::watch;

/// The override file the worker writes into the workspace.
pub const BACKEND_OVERRIDE: &str = "zz_arbiter_backend_override.tf";
/// The saved plan.
pub const PLAN_FILE: &str = "arbiter.tfplan";
/// Time Terraform gets after SIGINT before SIGKILL.
pub const GRACE: Duration = Duration::from_secs(15);

/// Why a tool step failed.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The binary is missing or does not answer `-version -json`.
    #[error("{tool} not usable at {path}: {message}")]
    NotFound {
        /// terraform or tofu.
        tool: &'static str,
        /// Where it was looked for.
        path: String,
        /// What happened.
        message: String,
    },
    /// It could not be started.
    #[error("cannot start {step}: {source}")]
    Spawn {
        /// Which step.
        step: String,
        /// Why.
        source: std::io::Error,
    },
    /// It exited with an error.
    #[error("{step} failed ({status})")]
    Failed {
        /// Which step.
        step: String,
        /// Its exit status.
        status: String,
    },
    /// It ran past its time limit and was stopped.
    #[error("{step} timed out after {secs} s and was stopped")]
    Timeout {
        /// Which step.
        step: String,
        /// The limit.
        secs: u64,
    },
    /// A person cancelled the run (or the worker shut down) and it was stopped.
    #[error("{step} was interrupted: {why}")]
    Interrupted {
        /// Which step.
        step: String,
        /// Cancelled or shutting down.
        why: String,
    },
    /// Writing into the workspace failed.
    #[error("{path}: {source}")]
    Io {
        /// Where.
        path: PathBuf,
        /// What.
        source: std::io::Error,
    },
}

/// Why a running step should stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Stop {
    /// Keep going.
    #[default]
    No,
    /// A person cancelled the run.
    Cancel,
    /// The worker is shutting down.
    Shutdown,
}

/// Finds the tool and its version.
pub async fn find_tool(kind: ToolKind, path: Option<&str>) -> Result<ToolInfo, ToolError> {
    let name = match kind {
        ToolKind::Terraform => "terraform",
        ToolKind::Tofu => "tofu",
    };
    let not_found = |p: &str, m: String| ToolError::NotFound {
        tool: name,
        path: p.to_string(),
        message: m,
    };
    let candidate = match path {
        Some(p) => PathBuf::from(p),
        None => {
            let search = std::env::var_os("PATH").unwrap_or_default();
            std::env::split_paths(&search)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
                .ok_or_else(|| not_found(name, "not on PATH".into()))?
        }
    };
    let real = std::fs::canonicalize(&candidate)
        .map_err(|e| not_found(&candidate.to_string_lossy(), e.to_string()))?;
    let out = tokio::process::Command::new(&real)
        .args(["-version", "-json"])
        .env_clear()
        .env("CHECKPOINT_DISABLE", "1")
        .env("HOME", "/nonexistent")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(30), out)
        .await
        .map_err(|_| not_found(&real.to_string_lossy(), "-version timed out".into()))?
        .map_err(|e| not_found(&real.to_string_lossy(), e.to_string()))?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| {
        not_found(
            &real.to_string_lossy(),
            format!("`-version -json` is not JSON: {e}"),
        )
    })?;
    let version = v
        .get("terraform_version")
        .and_then(|x| x.as_str())
        .ok_or_else(|| not_found(&real.to_string_lossy(), "no terraform_version".into()))?;
    Ok(ToolInfo {
        kind,
        path: real.to_string_lossy().into_owned(),
        version: version.to_string(),
    })
}

/// The backend override file's text (no credentials: they travel in
/// `TF_HTTP_USERNAME`/`TF_HTTP_PASSWORD`).
pub fn backend_override(b: &BackendCredentials) -> String {
    let q = |s: &str| serde_json::Value::String(s.to_string()).to_string();
    format!(
        "# Written by the Arbiter worker: Arbiter is this run's state backend.\n\
         terraform {{\n  backend \"http\" {{\n    address        = {a}\n    lock_address   = {a}\n    unlock_address = {a}\n    lock_method    = \"LOCK\"\n    unlock_method  = \"UNLOCK\"\n  }}\n}}\n",
        a = q(&b.address)
    )
}

/// One run's Terraform.
pub struct Driver {
    /// The tool.
    pub tool: ToolInfo,
    /// The configuration directory (inside the workspace).
    pub dir: PathBuf,
    /// Writable directories bound into the sandbox (workspace, plugin cache).
    pub rw: Vec<PathBuf>,
    /// Read-only ones (provider directory).
    pub ro: Vec<PathBuf>,
    /// The provider directory for `init -plugin-dir`.
    pub plugin_dir: Option<PathBuf>,
    /// The environment, complete.
    pub env: BTreeMap<String, String>,
    /// The confinement.
    pub sandbox: Sandbox,
    /// The log.
    pub log: LogSink,
    /// Set when the step should stop.
    pub stop: watch::Receiver<Stop>,
}

/// The base environment of every tool process (the caller adds the
/// backend credentials, variables and secrets).
pub fn base_env(home: &Path, plugin_cache: Option<&Path>) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    env.insert("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into());
    env.insert("HOME".into(), home.to_string_lossy().into_owned());
    env.insert("TF_IN_AUTOMATION".into(), "1".into());
    env.insert("TF_INPUT".into(), "0".into());
    env.insert("CHECKPOINT_DISABLE".into(), "1".into());
    env.insert("RUST_LIB_BACKTRACE".into(), "0".into());
    env.insert("LANG".into(), "C.UTF-8".into());
    if let Some(c) = plugin_cache {
        env.insert(
            "TF_PLUGIN_CACHE_DIR".into(),
            c.to_string_lossy().into_owned(),
        );
    }
    env
}

impl Driver {
    fn name(&self) -> &'static str {
        match self.tool.kind {
            ToolKind::Terraform => "terraform",
            ToolKind::Tofu => "tofu",
        }
    }

    /// Writes the backend override into the configuration directory.
    pub fn write_override(&self, backend: &BackendCredentials) -> Result<(), ToolError> {
        let p = self.dir.join(BACKEND_OVERRIDE);
        std::fs::write(&p, backend_override(backend)).map_err(|source| ToolError::Io {
            path: p.clone(),
            source,
        })?;
        if let Some(uid) = self.sandbox.run_as {
            crate::sandbox::give_to(&p, uid).map_err(|source| ToolError::Io { path: p, source })?;
        }
        Ok(())
    }

    /// `init -input=false [-plugin-dir DIR]`.
    pub async fn init(&mut self, timeout: Duration) -> Result<(), ToolError> {
        let mut args = vec![
            "init".to_string(),
            "-input=false".into(),
            "-no-color".into(),
        ];
        if let Some(p) = &self.plugin_dir {
            args.push(format!("-plugin-dir={}", p.display()));
        }
        self.run("init", &args, timeout, false).await.map(|_| ())
    }

    /// `plan -out`, then `show -json` of it: the plan JSON (not logged).
    pub async fn plan(&mut self, timeout: Duration) -> Result<Vec<u8>, ToolError> {
        let args = [
            "plan",
            "-input=false",
            "-no-color",
            "-lock-timeout=60s",
            &format!("-out={PLAN_FILE}"),
        ]
        .map(String::from);
        self.run("plan", &args, timeout, false).await?;
        let args = ["show", "-json", "-no-color", PLAN_FILE].map(String::from);
        self.run("show", &args, timeout, true).await
    }

    /// `apply` of the saved plan (Terraform refuses it if the state changed
    /// since it was made).
    pub async fn apply(&mut self, timeout: Duration) -> Result<(), ToolError> {
        let args = [
            "apply",
            "-input=false",
            "-no-color",
            "-lock-timeout=60s",
            "-auto-approve",
            PLAN_FILE,
        ]
        .map(String::from);
        self.run("apply", &args, timeout, false).await.map(|_| ())
    }

    /// Runs one step; streams stderr (and stdout unless `capture`) to the
    /// log; returns stdout when `capture`.
    async fn run(
        &mut self,
        step: &str,
        args: &[String],
        timeout: Duration,
        capture: bool,
    ) -> Result<Vec<u8>, ToolError> {
        let label = format!("{} {step}", self.name());
        let why = match *self.stop.borrow() {
            Stop::No => None,
            Stop::Cancel => Some("the run was cancelled"),
            Stop::Shutdown => Some("the worker is shutting down"),
        };
        if let Some(why) = why {
            return Err(ToolError::Interrupted {
                step: label,
                why: why.into(),
            });
        }
        self.log
            .line(&format!("[arbiter] $ {} {}", self.name(), args.join(" ")));
        let program = PathBuf::from(&self.tool.path);
        let mut cmd = self
            .sandbox
            .command(&program, args, &self.dir, &self.env, &self.rw, &self.ro);
        let mut child = cmd.spawn().map_err(|source| ToolError::Spawn {
            step: label.clone(),
            source,
        })?;
        let pid = child.id();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let log_err = self.log.clone();
        let err_task = tokio::spawn(async move {
            if let Some(e) = stderr {
                let mut lines = BufReader::new(e).lines();
                while let Ok(Some(l)) = lines.next_line().await {
                    log_err.line(&l);
                }
            }
        });
        let log_out = self.log.clone();
        let out_task = tokio::spawn(async move {
            let mut captured = Vec::new();
            if let Some(o) = stdout {
                if capture {
                    let mut r = o;
                    let _ = r.read_to_end(&mut captured).await;
                } else {
                    let mut lines = BufReader::new(o).lines();
                    while let Ok(Some(l)) = lines.next_line().await {
                        log_out.line(&l);
                    }
                }
            }
            captured
        });
        let deadline = tokio::time::Instant::now() + timeout;
        let mut stopped: Option<ToolError> = None;
        let mut stop_open = true;
        let status: std::io::Result<ExitStatus> = loop {
            tokio::select! {
                s = child.wait() => break s,
                _ = tokio::time::sleep_until(deadline), if stopped.is_none() => {
                    self.log.line(&format!("[arbiter] {label} ran past {} s: interrupting", timeout.as_secs()));
                    stopped = Some(ToolError::Timeout { step: label.clone(), secs: timeout.as_secs() });
                    signal_group(pid, true);
                }
                r = self.stop.changed(), if stopped.is_none() && stop_open => {
                    if r.is_err() {
                        stop_open = false;
                        continue;
                    }
                    let why = match *self.stop.borrow() {
                        Stop::Cancel => "the run was cancelled",
                        Stop::Shutdown => "the worker is shutting down",
                        Stop::No => continue,
                    };
                    self.log.line(&format!("[arbiter] {why}: interrupting {label}"));
                    stopped = Some(ToolError::Interrupted { step: label.clone(), why: why.into() });
                    signal_group(pid, true);
                }
                _ = tokio::time::sleep(GRACE), if stopped.is_some() => {
                    self.log.line(&format!("[arbiter] {label} still running {} s after SIGINT: killing it", GRACE.as_secs()));
                    signal_group(pid, false);
                }
            }
        };
        let captured = out_task.await.unwrap_or_default();
        let _ = err_task.await;
        if let Some(e) = stopped {
            return Err(e);
        }
        let status = status.map_err(|source| ToolError::Spawn {
            step: label.clone(),
            source,
        })?;
        if !status.success() {
            return Err(ToolError::Failed {
                step: label,
                status: status.to_string(),
            });
        }
        Ok(captured)
    }
}

/// SIGINT (or SIGKILL) to the step's process group.
fn signal_group(pid: Option<u32>, interrupt: bool) {
    let Some(pid) = pid.and_then(|p| rustix::process::Pid::from_raw(p as i32)) else {
        return;
    };
    let sig = if interrupt {
        rustix::process::Signal::INT
    } else {
        rustix::process::Signal::KILL
    };
    let _ = rustix::process::kill_process_group(pid, sig);
}

/// Collects the values Terraform marks sensitive in a plan (known values
/// under `after_sensitive` paths, sensitive root variables and outputs),
/// so that the log masks them too.
pub fn sensitive_values(plan: &serde_json::Value) -> Vec<String> {
    use serde_json::Value;
    fn walk(v: &Value, mask: &Value, out: &mut Vec<String>) {
        match (v, mask) {
            (_, Value::Bool(true)) => leaves(v, out),
            (Value::Object(o), Value::Object(m)) => {
                for (k, x) in o {
                    if let Some(mm) = m.get(k) {
                        walk(x, mm, out);
                    }
                }
            }
            (Value::Array(a), Value::Array(m)) => {
                for (x, mm) in a.iter().zip(m) {
                    walk(x, mm, out);
                }
            }
            _ => {}
        }
    }
    fn leaves(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Number(n) => out.push(n.to_string()),
            Value::Array(a) => a.iter().for_each(|x| leaves(x, out)),
            Value::Object(o) => o.values().for_each(|x| leaves(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for rc in plan
        .get("resource_changes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let c = &rc["change"];
        walk(&c["after"], &c["after_sensitive"], &mut out);
        walk(&c["before"], &c["before_sensitive"], &mut out);
    }
    let vars = &plan["configuration"]["root_module"]["variables"];
    if let Some(vs) = plan.get("variables").and_then(Value::as_object) {
        for (name, v) in vs {
            if vars[name]["sensitive"] == Value::Bool(true) {
                leaves(&v["value"], &mut out);
            }
        }
    }
    if let Some(os) = plan.get("output_changes").and_then(Value::as_object) {
        for o in os.values() {
            walk(&o["after"], &o["after_sensitive"], &mut out);
        }
    }
    out.sort();
    out.dedup();
    out
}
