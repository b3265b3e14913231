//! Runs benchmark (issue 12 "Speed"): Arbiter's own overhead per run —
//! claim, bundle fetch and unpack, phase reports, log storage, workspace
//! clean-up — beyond the time Terraform itself takes (init, plan, show,
//! apply; Terraform's state download and upload to the server's backend
//! happen inside those and are counted as Terraform's), median over N runs
//! with one worker; then N runs on N stacks with two concurrent workers,
//! which must all be applied without errors.
//!
//! `cargo bench -p arbiter-server --bench runs` (N: ARBITER_BENCH_RUNS,
//! default 10). SQLite in a temporary directory; the real Terraform.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Value};
use std::time::{Duration, Instant};

const MAIN_TF: &str = r#"
variable "n" { type = string }
resource "terraform_data" "a" { input = var.n }
resource "terraform_data" "b" { input = "${var.n}-b" }
"#;

struct Api {
    base: String,
    admin: String,
    http: reqwest::Client,
}

impl Api {
    async fn call(&self, method: &str, path: &str, body: Option<Vec<u8>>) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut r = self
            .http
            .request(m, format!("{}{path}", self.base))
            .bearer_auth(&self.admin);
        if let Some(b) = body {
            r = r.header("content-type", "application/json").body(b);
        }
        let resp = r.send().await.unwrap();
        let s = resp.status().as_u16();
        let t = resp.text().await.unwrap();
        (s, serde_json::from_str(&t).unwrap_or(Value::String(t)))
    }
    async fn json(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        self.call(method, path, Some(serde_json::to_vec(&body).unwrap()))
            .await
    }
}

fn judged_plan(dir: &std::path::Path) -> Value {
    let tf = |args: &[&str]| {
        let out = std::process::Command::new("terraform")
            .args(args)
            .current_dir(dir)
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_VAR_n", "bench")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    tf(&["init", "-input=false"]);
    tf(&["plan", "-input=false", "-out=p.tfplan"]);
    serde_json::from_slice(&tf(&["show", "-json", "p.tfplan"])).unwrap()
}

async fn queue(api: &Api, stack: &str, plan: &Value, sha: &str) {
    let (s, b) = api
        .json(
            "POST",
            "/api/v1/stacks",
            json!({"name": stack, "environment": "dev", "auto_apply": true}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = api
        .json(
            "POST",
            "/api/v1/change-requests",
            json!({"stack": stack, "plan": plan, "intent": "bench",
            "config": {"kind": "bundle", "sha256": sha}, "variables": {"n": "bench"}}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["status"], "approved", "{b}");
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let n: usize = std::env::var("ARBITER_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let running = arbiter_server::start(arbiter_server::ServerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().join("data"),
            ..arbiter_server::ServerConfig::default()
        })
        .await
        .unwrap();
        let api = Api {
            base: format!("http://{}", running.addr),
            admin: running.first_start.as_ref().unwrap().admin_token.clone(),
            http: reqwest::Client::new(),
        };
        let cfg = dir.path().join("config");
        std::fs::create_dir_all(&cfg).unwrap();
        std::fs::write(cfg.join("main.tf"), MAIN_TF).unwrap();
        let bundle = arbiter_runner::source::pack(&cfg).unwrap();
        let sha = arbiter_runner::source::sha256_hex(&bundle);
        let plan = judged_plan(&cfg);
        let (s, b) = api.call("PUT", &format!("/api/v1/bundles/{sha}"), Some(bundle)).await;
        assert!(matches!(s, 200 | 201), "{b}");
        let (s, b) = api
            .json("POST", "/api/v1/worker-pools", json!({"name": arbiter_api::runs::DEFAULT_POOL}))
            .await;
        assert_eq!(s, 201, "{b}");
        let token = b["token"].as_str().unwrap().to_string();
        let worker_api = arbiter_runner::WorkerApi::new(&api.base, &token).unwrap();

        // 1. Overhead, one worker, one run at a time.
        let mut overhead = Vec::new();
        let mut tool = Vec::new();
        for i in 0..n {
            queue(&api, &format!("seq-{i}"), &plan, &sha).await;
            let wcfg = arbiter_runner::WorkerConfig::new("bench", &dir.path().join("w1"));
            let (_tx, rx) = tokio::sync::watch::channel(false);
            let t0 = Instant::now();
            let out = arbiter_runner::work(&worker_api, &wcfg, true, rx).await.unwrap();
            let wall = t0.elapsed();
            let o = &out[0];
            assert_eq!(o.phase, arbiter_api::runs::RunPhase::Applied, "{:?}", o.error);
            overhead.push(wall.saturating_sub(o.tool_time));
            tool.push(o.tool_time);
        }
        let worst = *overhead.iter().max().unwrap();
        println!(
            "runs: {n} runs, Arbiter overhead per run median {:.0} ms (worst {:.0} ms), Terraform median {:.0} ms",
            median(overhead).as_secs_f64() * 1e3,
            worst.as_secs_f64() * 1e3,
            median(tool).as_secs_f64() * 1e3
        );

        // 2. n runs on n stacks, two workers at once.
        for i in 0..n {
            queue(&api, &format!("par-{i}"), &plan, &sha).await;
        }
        let (tx, rx) = tokio::sync::watch::channel(false);
        let t0 = Instant::now();
        let mut workers = Vec::new();
        for w in 0..2 {
            let wa = worker_api.clone();
            let rx = rx.clone();
            let wdir = dir.path().join(format!("par-w{w}"));
            workers.push(tokio::spawn(async move {
                let wcfg = arbiter_runner::WorkerConfig::new(&format!("bench-{w}"), &wdir);
                arbiter_runner::work(&wa, &wcfg, false, rx).await.unwrap()
            }));
        }
        loop {
            let (_, b) = api.call("GET", "/api/v1/runs?phase=applied", None).await;
            let applied = b["items"].as_array().map_or(0, |a| a.len());
            if applied >= 2 * n || t0.elapsed() > Duration::from_secs(600) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        tx.send(true).unwrap();
        let mut all = Vec::new();
        for w in workers {
            all.extend(w.await.unwrap());
        }
        let ok = all.iter().filter(|o| o.phase == arbiter_api::runs::RunPhase::Applied).count();
        println!(
            "runs: {n} runs on 2 concurrent workers: {ok} applied, {} other, {:.1} s",
            all.len() - ok,
            t0.elapsed().as_secs_f64()
        );
        assert_eq!(ok, n, "every run applied once: {:?}", all.iter().map(|o| (o.run, o.phase, o.error.clone())).collect::<Vec<_>>());
        running.shutdown().await.unwrap();
    });
}
