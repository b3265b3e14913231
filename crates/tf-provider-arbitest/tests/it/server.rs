//! The real server for the runs tests (`runs`, `worker`): started in
//! process (`arbiter_server::start`) on SQLite or a throwaway PostgreSQL
//! database, and read only through its API (runs and their phases, logs,
//! state history, the state backend, audit).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use arbiter_api::runs::RunPhase;
use arbiter_runner::sandbox::{Confinement, Sandbox};
use arbiter_runner::WorkerConfig;
use arbiter_server::{Running, ServerConfig};
use arbiter_testkit::tfprovider;
use serde_json::{json, Value};

use crate::common::World;

pub struct Srv {
    pub running: Running,
    pub base: String,
    pub admin: String,
    pub http: reqwest::Client,
    /// The server's data directory (its data key is there).
    pub data_dir: PathBuf,
    _dir: tempfile::TempDir,
}

/// SQLite always; PostgreSQL when a cluster can be started (see
/// `arbiter_testkit::postgres_database`).
pub async fn backends() -> Vec<&'static str> {
    let mut v = vec!["sqlite"];
    if arbiter_testkit::postgres_database()
        .await
        .unwrap()
        .is_some()
    {
        v.push("postgres");
    }
    v
}

pub async fn spawn(backend: &str, heartbeat: Duration) -> Srv {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let mut cfg = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data_dir.clone(),
        tick: Duration::from_millis(200),
        run_heartbeat: heartbeat,
        ..ServerConfig::default()
    };
    if backend == "postgres" {
        cfg.database_url = Some(
            arbiter_testkit::postgres_database()
                .await
                .unwrap()
                .expect("postgres"),
        );
    }
    let running = arbiter_server::start(cfg).await.unwrap();
    let admin = running.first_start.as_ref().unwrap().admin_token.clone();
    Srv {
        base: format!("http://{}", running.addr),
        admin,
        running,
        http: reqwest::Client::new(),
        data_dir,
        _dir: dir,
    }
}

impl Srv {
    pub async fn raw(&self, method: &str, path: &str, body: Option<Vec<u8>>) -> (u16, Value) {
        self.raw_as(&self.admin, method, path, body).await
    }

    /// A request with another person's token.
    pub async fn raw_as(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut r = self
            .http
            .request(m, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(b) = body {
            r = r.header("content-type", "application/json").body(b);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn req(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        self.raw(method, path, body.map(|b| serde_json::to_vec(b).unwrap()))
            .await
    }

    pub async fn get(&self, path: &str) -> Value {
        let (s, v) = self.req("GET", path, None).await;
        assert_eq!(s, 200, "GET {path}: {v}");
        v
    }

    /// A stack that auto-applies.
    pub async fn stack(&self, name: &str) {
        self.stack_with(name, Value::Null).await
    }

    /// A stack that auto-applies, with these `runs` settings (none: null).
    pub async fn stack_with(&self, name: &str, runs: Value) {
        let mut body = json!({"name": name, "environment": "dev", "monthly_budget_usd": 20000,
            "auto_apply": true});
        if !runs.is_null() {
            body["runs"] = runs;
        }
        let (s, v) = self.req("POST", "/api/v1/stacks", Some(&body)).await;
        assert_eq!(s, 201, "{v}");
    }

    pub async fn pool_token(&self) -> String {
        let (s, v) = self
            .req(
                "POST",
                "/api/v1/worker-pools",
                Some(&json!({"name": arbiter_api::runs::DEFAULT_POOL})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        v["token"].as_str().unwrap().to_string()
    }

    /// Uploads the configuration directory as a bundle, submits the plan
    /// the submitter judged with it; returns the change request (approved
    /// and auto-applied: its run is queued).
    pub async fn submit(&self, stack: &str, cfg_dir: &Path, plan: &Value) -> i64 {
        self.submit_with(stack, cfg_dir, plan, json!({})).await
    }

    pub async fn submit_with(&self, stack: &str, cfg_dir: &Path, plan: &Value, vars: Value) -> i64 {
        let c = self.submit_any(stack, cfg_dir, plan, vars).await;
        assert_eq!(c["status"], "approved", "{c}");
        c["id"].as_i64().unwrap()
    }

    /// As [`Srv::submit_with`], whatever the decision; returns the change
    /// request.
    pub async fn submit_any(
        &self,
        stack: &str,
        cfg_dir: &Path,
        plan: &Value,
        vars: Value,
    ) -> Value {
        let bundle = arbiter_runner::source::pack(cfg_dir).unwrap();
        let sha = arbiter_runner::source::sha256_hex(&bundle);
        let (s, v) = self
            .raw("PUT", &format!("/api/v1/bundles/{sha}"), Some(bundle))
            .await;
        assert!(matches!(s, 200 | 201), "{v}");
        let body = json!({"stack": stack, "plan": plan, "intent": "runs with the real worker",
            "config": {"kind": "bundle", "sha256": sha}, "variables": vars});
        let (s, v) = self
            .req("POST", "/api/v1/change-requests", Some(&body))
            .await;
        assert_eq!(s, 201, "{v}");
        v
    }

    /// A reviewer (a person, the user `rita`) approves a change request
    /// held for review (its submitter, the admin, cannot).
    pub async fn approve(&self, cr: i64) {
        self.approve_as("rita", cr).await
    }

    /// The reviewer `name` (made on first use) approves a change request.
    pub async fn approve_as(&self, name: &str, cr: i64) {
        let token = self.reviewer(name).await;
        let (s, v) = self
            .raw_as(
                &token,
                "POST",
                &format!("/api/v1/change-requests/{cr}/approve"),
                Some(b"{}".to_vec()),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["status"], "approved", "{v}");
    }

    async fn reviewer(&self, name: &str) -> String {
        let (s, v) = self
            .req(
                "POST",
                "/api/v1/users",
                Some(&json!({"name": name, "role": "reviewer"})),
            )
            .await;
        assert!(s == 201 || s == 409, "{s} {v}");
        let (s, v) = self
            .req("POST", "/api/v1/tokens", Some(&json!({"user": name})))
            .await;
        assert_eq!(s, 201, "{v}");
        v["token"].as_str().unwrap().to_string()
    }

    pub async fn change_request(&self, cr: i64) -> Value {
        self.get(&format!("/api/v1/change-requests/{cr}")).await
    }

    pub async fn runs(&self) -> Vec<Value> {
        self.get("/api/v1/runs").await["items"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// The runs of a change request, oldest first.
    pub async fn runs_of(&self, cr: i64) -> Vec<Value> {
        let mut v = self.get(&format!("/api/v1/runs?change_request={cr}")).await["items"]
            .as_array()
            .unwrap()
            .clone();
        v.sort_by_key(|r| r["id"].as_i64());
        v
    }

    pub async fn run(&self, id: i64) -> Value {
        self.get(&format!("/api/v1/runs/{id}")).await
    }

    /// The phases a run went through, as the server recorded them.
    pub async fn phases(&self, id: i64) -> Vec<String> {
        self.run(id).await["phases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["phase"].as_str().unwrap().to_string())
            .collect()
    }

    /// A person asks to cancel a run.
    pub async fn cancel(&self, id: i64) -> (u16, Value) {
        self.req("POST", &format!("/api/v1/runs/{id}/cancel"), None)
            .await
    }

    /// The whole log of a run as people read it.
    pub async fn log(&self, id: i64) -> String {
        let mut text = String::new();
        let mut offset = 0;
        loop {
            let v = self
                .get(&format!("/api/v1/runs/{id}/logs?offset={offset}"))
                .await;
            text.push_str(v["text"].as_str().unwrap());
            let next = v["next_offset"].as_u64().unwrap();
            if next == offset || v["text"].as_str().unwrap().is_empty() {
                return text;
            }
            offset = next;
        }
    }

    /// The audit actions about `subject` (`run:7`), oldest first.
    pub async fn audit(&self, subject: &str) -> Vec<String> {
        let v = self.get(&format!("/api/v1/audit/subjects/{subject}")).await;
        let mut a: Vec<String> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["entry"]["action"].as_str().unwrap().to_string())
            .collect();
        a.reverse();
        a
    }

    /// Waits until run `id` is in `phase` (fails on a final phase that is
    /// not the one awaited).
    pub async fn wait_phase(&self, id: i64, phase: &str, within: Duration) -> Value {
        let t0 = Instant::now();
        loop {
            let r = self.run(id).await;
            if r["phase"] == phase {
                return r;
            }
            let p: RunPhase = r["phase"].as_str().unwrap().parse().unwrap();
            assert!(!p.is_final(), "run {id} ended {p}, not {phase}: {r}");
            assert!(
                t0.elapsed() < within,
                "run {id} not {phase} after {within:?}: {r}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The resource addresses of a state version.
    pub async fn state_addresses(&self, stack: &str, version: i64) -> (Value, Vec<String>) {
        let v = self
            .get(&format!("/api/v1/stacks/{stack}/states/{version}"))
            .await;
        let mut a: Vec<String> = v["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["address"].as_str().unwrap().to_string())
            .collect();
        a.sort();
        (v, a)
    }

    pub async fn states(&self, stack: &str) -> Vec<Value> {
        self.get(&format!("/api/v1/stacks/{stack}/states")).await["items"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// Backend credentials for someone's own terraform (admin-minted).
    pub async fn backend_credentials(&self, stack: &str) -> Value {
        let (s, v) = self
            .req(
                "POST",
                &format!("/api/v1/stacks/{stack}/backend-credentials"),
                None,
            )
            .await;
        assert_eq!(s, 201, "{v}");
        v["credentials"].clone()
    }

    /// A call to the state backend with `creds`: (status, body).
    pub async fn backend(
        &self,
        method: &str,
        creds: &Value,
        body: Option<Vec<u8>>,
    ) -> (u16, String) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut r = self
            .http
            .request(m, creds["address"].as_str().unwrap())
            .basic_auth(
                creds["username"].as_str().unwrap(),
                Some(creds["password"].as_str().unwrap()),
            );
        if let Some(b) = body {
            r = r.body(b);
        }
        let resp = r.send().await.unwrap();
        let s = resp.status().as_u16();
        (s, resp.text().await.unwrap())
    }

    /// The stack's current state through the backend (`GET`), parsed.
    pub async fn tfstate(&self, stack: &str) -> Option<Value> {
        let creds = self.backend_credentials(stack).await;
        let (s, text) = self.backend("GET", &creds, None).await;
        match s {
            200 if !text.is_empty() => Some(serde_json::from_str(&text).unwrap()),
            200 | 204 => None,
            _ => panic!("GET state of {stack}: {s} {text}"),
        }
    }

    /// Whether the stack's state lock is free: a second client takes it
    /// (and gives it back). The holder's lock info when it is held.
    pub async fn lock_free(&self, stack: &str) -> Result<(), String> {
        let creds = self.backend_credentials(stack).await;
        let info = json!({"ID": "probe-lock", "Operation": "OperationTypePlan",
            "Who": "test@probe", "Version": "1.11.0", "Path": ""})
        .to_string();
        let (s, text) = self
            .backend("LOCK", &creds, Some(info.clone().into_bytes()))
            .await;
        match s {
            200 => {
                let (s, t) = self
                    .backend("UNLOCK", &creds, Some(info.into_bytes()))
                    .await;
                assert_eq!(s, 200, "UNLOCK: {t}");
                Ok(())
            }
            423 => Err(text),
            _ => panic!("LOCK of {stack}: {s} {text}"),
        }
    }
}

/// `main.tf` of a configuration using the provider on `objects`.
pub fn config(objects: &Path, provider_extra: &str, body: &str) -> String {
    format!(
        "{}\nprovider \"arbitest\" {{\n  root = \"{}\"\n  {provider_extra}\n}}\n\n{body}\n",
        tfprovider::REQUIRED_PROVIDERS,
        objects.display()
    )
}

/// Writes the configuration into `cfg_dir` and returns the plan the
/// submitter judged (real Terraform on a copy with an empty state).
pub fn judged(cfg_dir: &Path, main_tf: &str) -> Value {
    judged_with(cfg_dir, main_tf, &[])
}

/// As [`judged`], with these Terraform variables (`TF_VAR_name`).
pub fn judged_with(cfg_dir: &Path, main_tf: &str, vars: &[(&str, &str)]) -> Value {
    std::fs::create_dir_all(cfg_dir).unwrap();
    std::fs::write(cfg_dir.join("main.tf"), main_tf).unwrap();
    let mut w = World::new();
    for (k, v) in vars {
        w.set_env(&format!("TF_VAR_{k}"), v);
    }
    std::fs::write(w.work.join("main.tf"), main_tf).unwrap();
    w.init();
    w.plan(&[])
}

/// A worker without bubblewrap (the objects directory is outside the
/// workspace; bubblewrap would hide it) and without dropping privileges.
pub fn worker_config(name: &str, work: &Path) -> WorkerConfig {
    let mut c = WorkerConfig::new(name, work);
    c.plugin_dir = Some(tfprovider::plugin_dir().unwrap_or_else(|e| panic!("{e}")));
    c.sandbox = Sandbox {
        confinement: Confinement::EnvOnly,
        run_as: None,
        setpriv: None,
    };
    c.keep_log = true;
    c
}

/// A worker as `arbiter worker` starts by default (bubblewrap when the
/// machine has it, uid 65534 when root), for configurations of
/// `terraform_data` only: its provider directory is empty.
pub fn sandboxed_worker_config(name: &str, dir: &Path) -> WorkerConfig {
    let mut c = WorkerConfig::new(name, &dir.join("work"));
    c.keep_log = true;
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    c.plugin_dir = Some(plugins);
    c
}

pub fn object_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|n| n.strip_suffix(".json").map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// Processes whose working directory is under `dir` (a worker's Terraform
/// and its providers run in the worker's workspaces), from /proc.
pub fn processes_under(dir: &Path) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd.starts_with(dir))
        })
        .collect()
}

/// Waits up to `within` for the processes under `dir` to end; kills (by
/// pid, SIGKILL) those still there then. Returns the pids seen at first.
pub async fn wait_processes_gone(dir: &Path, within: Duration) -> Vec<u32> {
    let seen = processes_under(dir);
    let t0 = Instant::now();
    loop {
        let left = processes_under(dir);
        if left.is_empty() {
            return seen;
        }
        if t0.elapsed() > within {
            for pid in &left {
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            assert!(
                processes_under(dir).is_empty(),
                "processes under {dir:?} survive SIGKILL"
            );
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
