//! Hostile-load benchmark: what a flood of large requests costs a real
//! `arbiter serve` process (issue 10, findings 4 and 5).
//!
//! Scenarios, each against a fresh server (SQLite, its own data directory):
//!
//! 1. `uploads`: 40 concurrent unauthenticated 32 MiB uploads to
//!    `POST /api/v1/change-requests`: the server's RSS before, at its peak
//!    (VmHWM) and 3 s after.
//! 2. `evaluations/1`: 32 concurrent signed dry runs (`POST /api/v1/evaluate`)
//!    of a compact 50,000-change plan (~30 MB) by one agent;
//! 3. `evaluations/8`: the same spread over 8 agents;
//! 4. `runaway/4`: an admin pushes a policy with a 14,000 × 14,000 loop and
//!    runs 4 concurrent dry runs of a one-change plan against it: the time
//!    until each is refused (the policy time budget, `--policy-timeout`);
//!
//! each with the server's peak RSS, `/healthz` latency measured every
//! 100 ms meanwhile (median and worst), the answers by status, and the wall
//! time. The server is a separate process (its RSS is its own), so any
//! build of `arbiter` can be measured, e.g. before and after a change:
//!
//! ```sh
//! cargo build --release -p arbiter-cli
//! cargo bench -p arbiter-server --bench hostile                    # target/release/arbiter
//! ARBITER_BIN=/path/to/old/arbiter cargo bench -p arbiter-server --bench hostile
//! HOSTILE_CHANGES=10000 HOSTILE_CONCURRENCY=16 HOSTILE_SCENARIOS=evaluations/1 cargo bench …
//! HOSTILE_SERVE_ARGS="--max-evaluations 4" cargo bench …          # extra `arbiter serve` flags
//! ```
//!
//! `HOSTILE_MAX_RSS_MB` (default 12000) stops a scenario, killing the
//! server, when its RSS passes that much (reported as such), so that a
//! server without limits cannot take the machine down.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use arbiter_api::AgentKey;
use serde_json::json;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn env_or<T: std::str::FromStr>(k: &str, d: T) -> T {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

/// A running `arbiter serve`.
struct Server {
    child: Child,
    base: String,
    token: String,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start(bin: &str, extra: &[String]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(bin)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path().join("data"))
            .args(extra)
            .env("ARBITER_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                std::fs::File::create(dir.path().join("server.log")).unwrap(),
            ))
            .spawn()
            .unwrap_or_else(|e| panic!("starting {bin}: {e}"));
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let (mut base, mut token) = (String::new(), String::new());
        for line in out.by_ref() {
            let line = line.unwrap();
            if let Some(rest) = line.trim().strip_prefix("export ARBITER_SERVER=") {
                let mut it = rest.split(" ARBITER_TOKEN=");
                base = it.next().unwrap().to_string();
                token = it.next().unwrap().to_string();
                break;
            }
        }
        // Keep reading its output: a closed pipe would stop the server.
        std::thread::spawn(move || for _ in out {});
        assert!(!token.is_empty(), "no admin token printed by {bin}");
        Server {
            child,
            base,
            token,
            _dir: dir,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// (VmRSS, VmHWM) in MB.
    fn rss(&self) -> (f64, f64) {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        let kb = |key: &str| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
                / 1024.0
        };
        (kb("VmRSS:"), kb("VmHWM:"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A compact plan: `n` created SQS queues, ~600 bytes each.
fn plan(n: usize) -> serde_json::Value {
    let changes: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            let tags = json!({"team": "bench", "service": format!("svc-{}", i % 97), "owner": "platform", "cost-center": format!("cc-{}", i % 13)});
            json!({
                "address": format!("aws_sqs_queue.q[{i}]"),
                "mode": "managed", "type": "aws_sqs_queue", "name": "q", "index": i,
                "provider_name": "registry.terraform.io/hashicorp/aws",
                "change": {
                    "actions": ["create"], "before": null,
                    "after": {"name": format!("bench-queue-{i}"), "delay_seconds": 0, "max_message_size": 262144,
                        "message_retention_seconds": 345600, "sqs_managed_sse_enabled": true,
                        "visibility_timeout_seconds": 30, "tags": tags, "tags_all": tags},
                    "after_unknown": {"arn": true, "id": true, "url": true},
                    "before_sensitive": false, "after_sensitive": {"tags": {}, "tags_all": {}}
                }
            })
        })
        .collect();
    json!({"format_version": "1.2", "terraform_version": "1.11.4", "resource_changes": changes})
}

#[derive(Default)]
struct Tally {
    statuses: Mutex<std::collections::BTreeMap<String, usize>>,
}

impl Tally {
    fn add(&self, k: String) {
        *self.statuses.lock().unwrap().entry(k).or_insert(0) += 1;
    }
    fn show(&self) -> String {
        self.statuses
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}×{v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Samples the server's RSS and `/healthz` latency until stopped; kills the
/// server when it passes the RSS ceiling.
struct Watch {
    stop: Arc<AtomicBool>,
    peak_rss: Arc<AtomicU64>,
    killed: Arc<AtomicBool>,
    health: Arc<Mutex<Vec<f64>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Watch {
    fn start(server: &Server, max_rss_mb: f64) -> Watch {
        let stop = Arc::new(AtomicBool::new(false));
        let peak_rss = Arc::new(AtomicU64::new(0));
        let killed = Arc::new(AtomicBool::new(false));
        let health = Arc::new(Mutex::new(Vec::new()));
        let pid = server.pid();
        let (s, p, k) = (stop.clone(), peak_rss.clone(), killed.clone());
        let sampler = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                let st = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
                let rss = st
                    .lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0);
                p.fetch_max(rss, Ordering::Relaxed);
                if rss as f64 / 1024.0 > max_rss_mb && !k.swap(true, Ordering::Relaxed) {
                    let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let (s, h, url) = (
            stop.clone(),
            health.clone(),
            format!("{}/healthz", server.base),
        );
        let prober = std::thread::spawn(move || {
            // Plain HTTP/1.1, a new connection each time (as a load balancer's check).
            let addr = url
                .trim_start_matches("http://")
                .trim_end_matches("/healthz")
                .to_string();
            while !s.load(Ordering::Relaxed) {
                let t = Instant::now();
                let ok = (|| -> std::io::Result<()> {
                    use std::io::{Read, Write};
                    let mut c = std::net::TcpStream::connect(&addr)?;
                    c.set_read_timeout(Some(Duration::from_secs(60)))?;
                    c.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")?;
                    let mut buf = Vec::new();
                    c.read_to_end(&mut buf)?;
                    if buf.starts_with(b"HTTP/1.1 200") {
                        Ok(())
                    } else {
                        Err(std::io::Error::other("not 200"))
                    }
                })();
                let ms = t.elapsed().as_secs_f64() * 1e3;
                h.lock()
                    .unwrap()
                    .push(if ok.is_ok() { ms } else { f64::INFINITY });
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        Watch {
            stop,
            peak_rss,
            killed,
            health,
            threads: vec![sampler, prober],
        }
    }

    fn finish(self) -> (f64, bool, String) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
        let mut h = self.health.lock().unwrap().clone();
        h.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let failed = h.iter().filter(|v| v.is_infinite()).count();
        let ok: Vec<f64> = h.iter().copied().filter(|v| v.is_finite()).collect();
        let med = ok.get(ok.len() / 2).copied().unwrap_or(f64::NAN);
        let max = ok.last().copied().unwrap_or(f64::NAN);
        let health = format!(
            "/healthz {} probes: median {med:.1} ms, worst {max:.1} ms, failed {failed}",
            h.len()
        );
        (
            self.peak_rss.load(Ordering::Relaxed) as f64 / 1024.0,
            self.killed.load(Ordering::Relaxed),
            health,
        )
    }
}

fn main() {
    let bin = std::env::var("ARBITER_BIN").unwrap_or_else(|_| {
        // target/<profile>/deps/hostile-… → target/<profile>/arbiter
        let exe = std::env::current_exe().unwrap();
        exe.parent()
            .and_then(|d| d.parent())
            .map(|d| d.join("arbiter").display().to_string())
            .unwrap()
    });
    assert!(
        std::path::Path::new(&bin).exists(),
        "{bin} does not exist: build it (cargo build --release -p arbiter-cli) or set ARBITER_BIN"
    );
    let changes: usize = env_or("HOSTILE_CHANGES", 50_000);
    let concurrency: usize = env_or("HOSTILE_CONCURRENCY", 32);
    let uploads: usize = env_or("HOSTILE_UPLOADS", 40);
    let max_rss_mb: f64 = env_or("HOSTILE_MAX_RSS_MB", 12_000.0);
    let extra: Vec<String> = std::env::var("HOSTILE_SERVE_ARGS")
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect();
    let scenarios = std::env::var("HOSTILE_SCENARIOS")
        .unwrap_or_else(|_| "uploads,evaluations/1,evaluations/8,runaway/4".into());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!("binary: {bin}");
    let plan_body = if scenarios.contains("evaluations") {
        let body = serde_json::to_vec(&json!({"stack": "bench", "plan": plan(changes)})).unwrap();
        println!(
            "plan: {changes} changes, {:.1} MB request body",
            body.len() as f64 / 1e6
        );
        axum::body::Bytes::from(body)
    } else {
        axum::body::Bytes::new()
    };
    for scenario in scenarios.split(',') {
        let server = Server::start(&bin, &extra);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(600))
            .build()
            .unwrap();
        let (before, _) = server.rss();
        let tally = Arc::new(Tally::default());
        let t0;
        let watch;
        if scenario == "uploads" {
            let body = axum::body::Bytes::from(vec![b' '; 32 * 1024 * 1024]);
            watch = Watch::start(&server, max_rss_mb);
            t0 = Instant::now();
            rt.block_on(async {
                let mut set = tokio::task::JoinSet::new();
                for _ in 0..uploads {
                    let (http, url, body, tally) = (
                        http.clone(),
                        format!("{}/api/v1/change-requests", server.base),
                        body.clone(),
                        tally.clone(),
                    );
                    set.spawn(async move {
                        let r = http
                            .post(url)
                            .header("content-type", "application/json")
                            .body(body)
                            .send()
                            .await;
                        tally.add(match r {
                            Ok(r) => r.status().as_u16().to_string(),
                            Err(_) => "connection-closed".into(),
                        });
                    });
                }
                while set.join_next().await.is_some() {}
            });
        } else if let Some(n) = scenario.strip_prefix("runaway/") {
            // A runaway policy (a 14,000 × 14,000 loop) pushed by an admin
            // and evaluated by `n` concurrent dry runs of a one-change plan:
            // how long until each is refused, and /healthz meanwhile.
            let n: usize = n.parse().unwrap_or(4);
            rt.block_on(async {
                let admin = |m: reqwest::Method, p: &str| {
                    http.request(m, format!("{}{p}", server.base))
                        .bearer_auth(&server.token)
                };
                let r = admin(reqwest::Method::PUT, "/api/v1/policy-sets/runaway")
                    .json(&json!({"kind": "plan", "files": {"loop.rego":
                        "package main\nimport rego.v1\nwarn contains msg if {\n  n := count([1 | some i in numbers.range(1, 14000); some j in numbers.range(1, 14000)])\n  msg := sprintf(\"%d\", [n])\n}\n"}}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
                let r = admin(reqwest::Method::POST, "/api/v1/stacks")
                    .json(&json!({"name": "bench", "environment": "dev", "policy_sets": ["runaway"]}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201);
            });
            let small = serde_json::to_vec(&json!({"stack": "bench", "plan": plan(1)})).unwrap();
            let times = Arc::new(Mutex::new(Vec::new()));
            watch = Watch::start(&server, max_rss_mb);
            t0 = Instant::now();
            rt.block_on(async {
                let mut set = tokio::task::JoinSet::new();
                for _ in 0..n {
                    let (http, url, body, tally, token, times) = (
                        http.clone(),
                        format!("{}/api/v1/evaluate", server.base),
                        small.clone(),
                        tally.clone(),
                        server.token.clone(),
                        times.clone(),
                    );
                    set.spawn(async move {
                        let t = Instant::now();
                        let r = http
                            .post(url)
                            .bearer_auth(token)
                            .header("content-type", "application/json")
                            .body(body)
                            .send()
                            .await;
                        let what = match r {
                            Ok(r) => {
                                let s = r.status().as_u16();
                                let text = r.text().await.unwrap_or_default();
                                if text.contains("budget") || text.contains("time") {
                                    format!("{s} over budget")
                                } else {
                                    s.to_string()
                                }
                            }
                            Err(_) => "connection-closed".into(),
                        };
                        times.lock().unwrap().push(t.elapsed().as_secs_f64());
                        tally.add(what);
                    });
                }
                while set.join_next().await.is_some() {}
            });
            let mut t = times.lock().unwrap().clone();
            t.sort_by(f64::total_cmp);
            if let (Some(first), Some(last)) = (t.first(), t.last()) {
                println!(
                    "{scenario:<14} time to refuse the runaway policy: first {first:.1} s, median {:.1} s, last {last:.1} s",
                    t[t.len() / 2]
                );
            }
        } else {
            let principals: usize = scenario
                .strip_prefix("evaluations/")
                .and_then(|n| n.parse().ok())
                .unwrap_or(1);
            let keys: Vec<AgentKey> = rt.block_on(async {
                let admin = |m: reqwest::Method, p: &str| {
                    http.request(m, format!("{}{p}", server.base))
                        .bearer_auth(&server.token)
                };
                let r = admin(reqwest::Method::POST, "/api/v1/stacks")
                    .json(&json!({"name": "bench", "environment": "dev", "monthly_budget_usd": 1e6}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201);
                let mut keys = Vec::new();
                for i in 0..principals {
                    let key = AgentKey::from_seed([i as u8 + 1; 32]);
                    let r = admin(reqwest::Method::POST, "/api/v1/agents")
                        .json(&json!({"name": format!("bot-{i}"), "public_key": key.public().to_pem(),
                            "scope": {"stacks": ["*"]},
                            "limits": {"submissions_per_minute": 100000, "blast_radius_per_hour": 1000000000}}))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
                    keys.push(key);
                }
                keys
            });
            // Sign every request first: the load is the server's, not the signing.
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64;
            let signed: Vec<Vec<(&'static str, String)>> = (0..concurrency)
                .map(|i| {
                    let nonce = arbiter_api::signing::new_nonce().unwrap();
                    keys[i % principals]
                        .sign_request("POST", "/api/v1/evaluate", now, &nonce, &plan_body)
                        .pairs()
                })
                .collect();
            watch = Watch::start(&server, max_rss_mb);
            t0 = Instant::now();
            rt.block_on(async {
                let mut set = tokio::task::JoinSet::new();
                for h in signed {
                    let (http, url, body, tally) = (
                        http.clone(),
                        format!("{}/api/v1/evaluate", server.base),
                        plan_body.clone(),
                        tally.clone(),
                    );
                    set.spawn(async move {
                        let mut req = http.post(url).header("content-type", "application/json");
                        for (k, v) in h {
                            req = req.header(k, v);
                        }
                        let r = req.body(body).send().await;
                        tally.add(match r {
                            Ok(r) => {
                                let s = r.status().as_u16();
                                let _ = r.bytes().await;
                                s.to_string()
                            }
                            Err(_) => "connection-closed".into(),
                        });
                    });
                }
                while set.join_next().await.is_some() {}
            });
        }
        let wall = t0.elapsed().as_secs_f64();
        let (peak, killed, health) = watch.finish();
        std::thread::sleep(Duration::from_secs(3));
        let (after, hwm) = server.rss();
        println!(
            "{scenario:<14} wall {wall:>6.1} s  RSS before {before:>7.1} MB, peak {:>8.1} MB{}, 3 s after {after:>7.1} MB  answers: {}  {health}",
            peak.max(hwm),
            if killed { format!(" (killed over {max_rss_mb} MB)") } else { String::new() },
            tally.show()
        );
    }
}
