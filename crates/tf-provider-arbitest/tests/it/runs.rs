//! Runs end to end: the real server (`arbiter_server::start`), the real
//! worker (the `arbiter-runner` library that `arbiter worker` is, and for
//! the SIGKILL test a separate worker process) and the real Terraform
//! applying configurations of this provider, whose objects are files the
//! tests can count. Both databases when PostgreSQL is available.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use arbiter_api::runs::RunPhase;
use arbiter_runner::sandbox::{Confinement, Sandbox};
use arbiter_runner::{WorkerApi, WorkerConfig};
use arbiter_server::{Running, ServerConfig};
use arbiter_testkit::tfprovider;
use serde_json::{json, Value};

use crate::common::World;

/// The child-process worker of the SIGKILL test reads its settings here.
const CHILD_ENV: &str = "ARBITEST_RUNS_CHILD_WORKER";

struct Srv {
    running: Running,
    base: String,
    admin: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

async fn backends() -> Vec<&'static str> {
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

async fn spawn(backend: &str, heartbeat: Duration) -> Srv {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().join("data"),
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
        _dir: dir,
    }
}

impl Srv {
    async fn raw(&self, method: &str, path: &str, body: Option<Vec<u8>>) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut r = self
            .http
            .request(m, format!("{}{path}", self.base))
            .bearer_auth(&self.admin);
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

    async fn req(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        self.raw(method, path, body.map(|b| serde_json::to_vec(b).unwrap()))
            .await
    }

    async fn get(&self, path: &str) -> Value {
        let (s, v) = self.req("GET", path, None).await;
        assert_eq!(s, 200, "GET {path}: {v}");
        v
    }

    async fn stack(&self, name: &str) {
        let body = json!({"name": name, "environment": "dev", "monthly_budget_usd": 20000,
            "auto_apply": true});
        let (s, v) = self.req("POST", "/api/v1/stacks", Some(&body)).await;
        assert_eq!(s, 201, "{v}");
    }

    async fn pool_token(&self) -> String {
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
    async fn submit(&self, stack: &str, cfg_dir: &Path, plan: &Value) -> i64 {
        self.submit_with(stack, cfg_dir, plan, json!({})).await
    }

    async fn submit_with(&self, stack: &str, cfg_dir: &Path, plan: &Value, vars: Value) -> i64 {
        let bundle = arbiter_runner::source::pack(cfg_dir).unwrap();
        let sha = arbiter_runner::source::sha256_hex(&bundle);
        let (s, v) = self
            .raw("PUT", &format!("/api/v1/bundles/{sha}"), Some(bundle))
            .await;
        assert!(matches!(s, 200 | 201), "{v}");
        let body = json!({"stack": stack, "plan": plan, "intent": "runs with the test provider",
            "config": {"kind": "bundle", "sha256": sha}, "variables": vars});
        let (s, v) = self
            .req("POST", "/api/v1/change-requests", Some(&body))
            .await;
        assert_eq!(s, 201, "{v}");
        assert_eq!(v["status"], "approved", "{v}");
        v["id"].as_i64().unwrap()
    }

    async fn runs(&self) -> Vec<Value> {
        self.get("/api/v1/runs").await["items"]
            .as_array()
            .unwrap()
            .clone()
    }

    async fn run(&self, id: i64) -> Value {
        self.get(&format!("/api/v1/runs/{id}")).await
    }

    /// Waits until run `id` is in `phase` (fails on a final phase that is
    /// not the one awaited).
    async fn wait_phase(&self, id: i64, phase: &str, within: Duration) -> Value {
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
    async fn state_addresses(&self, stack: &str, version: i64) -> (Value, Vec<String>) {
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

    async fn states(&self, stack: &str) -> Vec<Value> {
        self.get(&format!("/api/v1/stacks/{stack}/states")).await["items"]
            .as_array()
            .unwrap()
            .clone()
    }
}

/// `main.tf` of a configuration using the provider on `objects`.
fn config(objects: &Path, provider_extra: &str, body: &str) -> String {
    format!(
        "{}\nprovider \"arbitest\" {{\n  root = \"{}\"\n  {provider_extra}\n}}\n\n{body}\n",
        tfprovider::REQUIRED_PROVIDERS,
        objects.display()
    )
}

/// Writes the configuration into `cfg_dir` and returns the plan the
/// submitter judged (real Terraform on a copy with an empty state).
fn judged(cfg_dir: &Path, main_tf: &str) -> Value {
    std::fs::create_dir_all(cfg_dir).unwrap();
    std::fs::write(cfg_dir.join("main.tf"), main_tf).unwrap();
    let w = World::new();
    std::fs::write(w.work.join("main.tf"), main_tf).unwrap();
    w.init();
    w.plan(&[])
}

/// A worker without bubblewrap (the objects directory is outside the
/// workspace; bubblewrap would hide it) and without dropping privileges.
fn worker_config(name: &str, work: &Path) -> WorkerConfig {
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

fn object_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|n| n.strip_suffix(".json").map(str::to_owned))
        .collect();
    names.sort();
    names
}

const THREE: &str = r#"
resource "arbitest_object" "first" {
  name    = "first"
  content = "v1"
}

resource "arbitest_object" "bad" {
  name       = "bad"
  depends_on = [arbitest_object.first]
}

resource "arbitest_object" "after" {
  name       = "after"
  depends_on = [arbitest_object.bad]
}
"#;

/// A failing resource: the run is `failed`, the change request
/// `apply_failed`, and what Terraform applied before the failure is the
/// stack's latest state version (origin apply, with the run).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_resource_fails_the_run_and_keeps_the_partial_state() {
    for b in backends().await {
        let srv = spawn(b, Duration::from_secs(10)).await;
        srv.stack("web").await;
        let dir = tempfile::tempdir().unwrap();
        let objects = dir.path().join("objects");
        std::fs::create_dir_all(&objects).unwrap();
        let cfg_dir = dir.path().join("config");
        let plan = judged(&cfg_dir, &config(&objects, "fail_on = \"bad\"", THREE));
        let cr = srv.submit("web", &cfg_dir, &plan).await;
        let api = WorkerApi::new(&srv.base, &srv.pool_token().await).unwrap();
        let wcfg = worker_config("w1", &dir.path().join("work"));
        let (_tx, rx) = tokio::sync::watch::channel(false);
        let out = arbiter_runner::work(&api, &wcfg, true, rx).await.unwrap();
        assert_eq!(out.len(), 1);
        let o = &out[0];
        assert_eq!(o.phase, RunPhase::Failed, "{b}: {:?}\n{}", o.error, o.log);
        assert!(
            o.log
                .contains("injected failure: create of object \"bad\" refused"),
            "{b}: {}",
            o.log
        );
        let run = srv.run(o.run).await;
        assert_eq!(run["phase"], "failed", "{b}: {run}");
        let c = srv.get(&format!("/api/v1/change-requests/{cr}")).await;
        assert_eq!(c["status"], "apply_failed", "{b}: {c}");
        // The provider wrote `first` only; the state history has it.
        assert_eq!(object_names(&objects), ["first"], "{b}");
        let states = srv.states("web").await;
        assert_eq!(states.len(), 1, "{b}: {states:?}");
        let version = states[0]["version"].as_i64().unwrap();
        let (v, addresses) = srv.state_addresses("web", version).await;
        assert_eq!(v["origin"], "apply", "{b}: {v}");
        assert_eq!(v["run"], o.run, "{b}: {v}");
        assert_eq!(addresses, ["arbitest_object.first"], "{b}: {v}");
        // Failed is final: nothing is left to claim.
        assert!(api.claim("w2", 0).await.unwrap().is_none(), "{b}");
        srv.running.shutdown().await.unwrap();
    }
}

/// Two workers (each with its own claim loop) and twenty runs on twenty
/// stacks: every run is applied exactly once, by one worker, and each
/// run's object exists once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_apply_twenty_runs_each_exactly_once() {
    const N: usize = 20;
    for b in backends().await {
        let srv = spawn(b, Duration::from_secs(10)).await;
        let dir = tempfile::tempdir().unwrap();
        let objects = dir.path().join("objects");
        std::fs::create_dir_all(&objects).unwrap();
        // One configuration; each stack's change names its own object
        // (variable `n`), judged with real Terraform.
        let cfg_dir = dir.path().join("config");
        let body = "variable \"n\" { type = string }\nresource \"arbitest_object\" \"o\" {\n  name    = \"obj-${var.n}\"\n  content = \"run ${var.n}\"\n}\n";
        let main_tf = config(&objects, "", body);
        std::fs::create_dir_all(&cfg_dir).unwrap();
        std::fs::write(cfg_dir.join("main.tf"), &main_tf).unwrap();
        let submitter = World::new();
        std::fs::write(submitter.work.join("main.tf"), &main_tf).unwrap();
        submitter.init();
        let mut crs = Vec::new();
        for i in 0..N {
            let stack = format!("s{i:02}");
            srv.stack(&stack).await;
            let n = format!("{i:02}");
            let plan = submitter.plan(&[&format!("-var=n={n}")]);
            crs.push(
                srv.submit_with(&stack, &cfg_dir, &plan, json!({ "n": n }))
                    .await,
            );
        }
        let token = srv.pool_token().await;
        let (tx, rx) = tokio::sync::watch::channel(false);
        let mut workers = Vec::new();
        for w in ["w1", "w2"] {
            let api = WorkerApi::new(&srv.base, &token).unwrap();
            let wcfg = worker_config(w, &dir.path().join(w));
            let rx = rx.clone();
            workers.push(tokio::spawn(async move {
                arbiter_runner::work(&api, &wcfg, false, rx).await.unwrap()
            }));
        }
        // Until every run has ended.
        let t0 = Instant::now();
        loop {
            let runs = srv.runs().await;
            let ended = runs
                .iter()
                .filter(|r| {
                    // Applied is not final (verification may follow);
                    // these stacks have no checks.
                    let p: RunPhase = r["phase"].as_str().unwrap().parse().unwrap();
                    p.is_final() || p == RunPhase::Applied
                })
                .count();
            if runs.len() >= N && ended == runs.len() {
                break;
            }
            for w in &workers {
                assert!(!w.is_finished(), "{b}: a worker stopped: {runs:#?}");
            }
            assert!(
                t0.elapsed() < Duration::from_secs(300),
                "{b}: runs not done: {runs:#?}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        tx.send(true).unwrap();
        let mut outcomes = Vec::new();
        for (i, w) in workers.into_iter().enumerate() {
            let o = w.await.unwrap();
            assert!(!o.is_empty(), "{b}: worker {i} applied nothing");
            outcomes.extend(o);
        }
        // Each run was carried out once, by one worker, and applied.
        let mut ids: Vec<i64> = outcomes.iter().map(|o| o.run).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), outcomes.len(), "{b}: a run was claimed twice");
        assert_eq!(outcomes.len(), N, "{b}");
        for o in &outcomes {
            assert_eq!(o.phase, RunPhase::Applied, "{b}: {:?}\n{}", o.error, o.log);
        }
        let runs = srv.runs().await;
        assert_eq!(runs.len(), N, "{b}: one run per change request: {runs:?}");
        for r in &runs {
            assert_eq!(r["phase"], "applied", "{b}: {r}");
        }
        for cr in &crs {
            let c = srv.get(&format!("/api/v1/change-requests/{cr}")).await;
            assert_eq!(c["status"], "applied", "{b}: {c}");
        }
        // Each object exists once and each stack has one state version,
        // written by its run.
        let expected: Vec<String> = (0..N).map(|i| format!("obj-{i:02}")).collect();
        assert_eq!(object_names(&objects), expected, "{b}");
        for i in 0..N {
            let stack = format!("s{i:02}");
            let states = srv.states(&stack).await;
            assert_eq!(states.len(), 1, "{b}: {stack}: {states:?}");
            assert_eq!(states[0]["origin"], "apply", "{b}: {states:?}");
        }
        srv.running.shutdown().await.unwrap();
    }
}

/// The worker process of the SIGKILL test: does nothing unless started by
/// that test (which runs it with `--ignored`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the worker process of a_worker_killed_mid_apply_leaves_the_run_interrupted (started by it)"]
async fn child_worker_process() {
    let Ok(settings) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut it = settings.splitn(3, '\n');
    let (base, token, work) = (
        it.next().unwrap(),
        it.next().unwrap(),
        PathBuf::from(it.next().unwrap()),
    );
    let api = WorkerApi::new(base, token).unwrap();
    let wcfg = worker_config("child", &work);
    let (_tx, rx) = tokio::sync::watch::channel(false);
    arbiter_runner::work(&api, &wcfg, false, rx).await.unwrap();
}

/// A worker process killed with SIGKILL while Terraform applies (each
/// write slowed by the provider's delay): the server marks the run
/// `interrupted` when its heartbeats stop, the change request
/// `apply_failed`; the objects Terraform created are what the stack's
/// state records (nothing, when Terraform never wrote its state back), and
/// a worker started afterwards does not pick the run up again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_apply_leaves_the_run_interrupted() {
    for b in backends().await {
        let srv = spawn(b, Duration::from_secs(1)).await;
        srv.stack("web").await;
        let dir = tempfile::tempdir().unwrap();
        let objects = dir.path().join("objects");
        std::fs::create_dir_all(&objects).unwrap();
        let cfg_dir = dir.path().join("config");
        let body: String = (0..4)
            .map(|i| {
                let dep = if i > 0 {
                    format!("  depends_on = [arbitest_object.o{}]\n", i - 1)
                } else {
                    String::new()
                };
                format!("resource \"arbitest_object\" \"o{i}\" {{\n  name = \"o{i}\"\n{dep}}}\n")
            })
            .collect();
        let plan = judged(&cfg_dir, &config(&objects, "delay_ms = 1500", &body));
        let cr = srv.submit("web", &cfg_dir, &plan).await;
        let token = srv.pool_token().await;
        let run_id = srv.runs().await[0]["id"].as_i64().unwrap();

        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "runs::child_worker_process",
                "--nocapture",
            ])
            .env(
                CHILD_ENV,
                format!(
                    "{}\n{token}\n{}",
                    srv.base,
                    dir.path().join("child").display()
                ),
            )
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        srv.wait_phase(run_id, "applying", Duration::from_secs(120))
            .await;
        // Terraform has started writing (the first object takes 1.5 s).
        let t0 = Instant::now();
        while object_names(&objects).is_empty() {
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "{b}: nothing written"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let run = srv
            .wait_phase(run_id, "interrupted", Duration::from_secs(30))
            .await;
        assert!(run["state_version"].is_null(), "{b}: {run}");
        let c = srv.get(&format!("/api/v1/change-requests/{cr}")).await;
        assert_eq!(c["status"], "apply_failed", "{b}: {c}");
        // Whatever is left of Terraform (the sandbox is off here, so it
        // may outlive the worker) has had time to finish.
        tokio::time::sleep(Duration::from_secs(8)).await;
        let written = object_names(&objects);
        assert!(
            !written.is_empty() && written.len() <= 4,
            "{b}: {written:?}"
        );
        // The state history holds what Terraform wrote back: its latest
        // version (if any) lists exactly the objects in the directory.
        let states = srv.states("web").await;
        if let Some(latest) = states.iter().map(|s| s["version"].as_i64().unwrap()).max() {
            let (v, addresses) = srv.state_addresses("web", latest).await;
            let expected: Vec<String> = written
                .iter()
                .map(|n| format!("arbitest_object.{n}"))
                .collect();
            assert_eq!(addresses, expected, "{b}: {v}");
        }
        // Interrupted is final: a second worker does not pick it up.
        let api = WorkerApi::new(&srv.base, &token).unwrap();
        let wcfg = worker_config("second", &dir.path().join("second"));
        let (tx, rx) = tokio::sync::watch::channel(false);
        let second = tokio::spawn(async move { arbiter_runner::work(&api, &wcfg, true, rx).await });
        tokio::time::sleep(Duration::from_secs(3)).await;
        tx.send(true).unwrap();
        let got = second.await.unwrap().unwrap();
        assert!(
            got.is_empty(),
            "{b}: the interrupted run was claimed again: {got:?}"
        );
        let run = srv.run(run_id).await;
        assert_eq!(run["phase"], "interrupted", "{b}: {run}");
        assert_eq!(srv.runs().await.len(), 1, "{b}");
        srv.running.shutdown().await.unwrap();
    }
}
