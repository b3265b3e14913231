//! Load benchmark: concurrent agents submit small signed plans to a real
//! server (HTTP on loopback, real database) for a while; prints sustained
//! evaluated submissions per second, latency percentiles and errors.
//!
//! ```sh
//! cargo bench -p arbiter-server --bench load                 # SQLite, 60 s, 16 clients
//! LOAD_BACKEND=postgres cargo bench -p arbiter-server --bench load   # a throwaway cluster, fsync on
//! LOAD_SECONDS=10 LOAD_CONCURRENCY=64 cargo bench -p arbiter-server --bench load
//! LOAD_BACKEND=postgres LOAD_DATABASE_URL=postgres://… cargo bench …   # an existing empty database
//! LOAD_WEBHOOKS=3 cargo bench -p arbiter-server --bench load  # + 3 subscriptions (a receiver in this process)
//! ```
//!
//! `LOAD_WEBHOOKS=N` subscribes N webhooks to `LOAD_WEBHOOK_EVENTS` (default
//! `change_request.pending_review`) on a receiver in this process that
//! answers 200, and prints how many deliveries it received.
//!
//! The server runs in this process on its own runtime (two worker threads,
//! like `arbiter serve` on this machine); the clients on another. Targets
//! (issue #4, 2-core machine, SQLite): ≥ 300 evaluated submissions/s
//! sustained for 60 s, p99 < 150 ms, no errors.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use arbiter_api::AgentKey;
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn env_or<T: std::str::FromStr>(k: &str, d: T) -> T {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

fn main() {
    let seconds: u64 = env_or("LOAD_SECONDS", 60);
    let concurrency: usize = env_or("LOAD_CONCURRENCY", 16);
    let agents: usize = env_or("LOAD_AGENTS", 8);
    let backend = std::env::var("LOAD_BACKEND").unwrap_or_else(|_| "sqlite".into());
    let dir = tempfile::tempdir().unwrap();

    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // PostgreSQL figures are taken with the database's durability on.
    if backend == "postgres" && std::env::var_os("ARBITER_PG_DURABLE").is_none() {
        std::env::set_var("ARBITER_PG_DURABLE", "1");
    }
    let database_url = if let Ok(url) = std::env::var("LOAD_DATABASE_URL") {
        // An existing, empty PostgreSQL database.
        Some(url)
    } else if backend == "postgres" {
        Some(
            server_rt
                .block_on(arbiter_testkit::postgres_database())
                .unwrap()
                .expect("PostgreSQL is not installed"),
        )
    } else {
        None
    };
    let running = server_rt
        .block_on(arbiter_server::start(arbiter_server::ServerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().join("data"),
            database_url,
            ..Default::default()
        }))
        .unwrap();
    let base = format!("http://{}", running.addr);
    let admin = running.first_start.as_ref().unwrap().admin_token.clone();

    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let plans: Vec<Vec<u8>> = [
        "tags-only-update",
        "asg-scale-out",
        "tls-cert-rotation",
        "rds-backup-retention-up",
        "least-privilege-read-policy",
        "delete-prod-database",
    ]
    .iter()
    .map(|n| {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/scenarios")
            .join(format!("{n}.plan.json"));
        let plan: serde_json::Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
        serde_json::to_vec(&json!({"stack": "web", "plan": plan, "intent": "load test"})).unwrap()
    })
    .collect();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap();
    let keys: Vec<AgentKey> = client_rt.block_on(async {
        let r = http.post(format!("{base}/api/v1/stacks")).bearer_auth(&admin).json(&json!({"name": "web", "environment": "prod"})).send().await.unwrap();
        assert_eq!(r.status(), 201);
        let mut keys = Vec::new();
        for i in 0..agents {
            let k = AgentKey::generate().unwrap();
            let r = http
                .post(format!("{base}/api/v1/agents"))
                .bearer_auth(&admin)
                .json(&json!({"name": format!("load-{i}"), "public_key": k.public().to_base64(), "scope": {"stacks": ["web"]},
                    "limits": {"submissions_per_minute": 1_000_000, "blast_radius_per_hour": 1_000_000_000u64}}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
            keys.push(k);
        }
        keys
    });

    let hooks: usize = env_or("LOAD_WEBHOOKS", 0);
    let received = Arc::new(AtomicU64::new(0));
    if hooks > 0 {
        let events = std::env::var("LOAD_WEBHOOK_EVENTS")
            .unwrap_or_else(|_| "change_request.pending_review".into());
        let listener = client_rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let count = received.clone();
        let app = axum::Router::new().fallback(move || {
            let count = count.clone();
            async move {
                count.fetch_add(1, Ordering::Relaxed);
                "ok"
            }
        });
        client_rt.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        client_rt.block_on(async {
            for _ in 0..hooks {
                let r = http
                    .post(format!("{base}/api/v1/webhooks"))
                    .bearer_auth(&admin)
                    .json(&json!({"url": url, "events": events.split(',').collect::<Vec<_>>()}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201);
            }
        });
        println!("webhooks: {hooks} subscriptions to {events}");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let latencies: Arc<Mutex<Vec<f64>>> = Arc::new(Mutex::new(Vec::with_capacity(1 << 16)));
    let first_error: Arc<Mutex<Option<String>>> = Arc::default();
    let warmup = Duration::from_secs(2);
    println!("load: {backend}, {concurrency} clients, {agents} agents, {seconds} s (+{} s warm-up), {} on 2 cores", warmup.as_secs(), base);
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + Duration::from_secs(seconds);
    let tasks: Vec<_> = (0..concurrency)
        .map(|c| {
            let (http, base, plans, stop, ok, errors, lat, first_error) = (
                http.clone(),
                base.clone(),
                plans.clone(),
                stop.clone(),
                ok.clone(),
                errors.clone(),
                latencies.clone(),
                first_error.clone(),
            );
            let key = keys[c % keys.len()].clone();
            client_rt.spawn(async move {
                let mut i = c;
                let mut mine = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let body = &plans[i % plans.len()];
                    i += 1;
                    let t0 = Instant::now();
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .as_secs() as i64;
                    let h = key.sign_request(
                        "POST",
                        "/api/v1/change-requests",
                        now,
                        &arbiter_api::signing::new_nonce().unwrap(),
                        body,
                    );
                    let mut req = http.post(format!("{base}/api/v1/change-requests"));
                    for (name, value) in h.pairs() {
                        req = req.header(name, value);
                    }
                    let r = req
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await;
                    let good = match r {
                        Ok(r) if r.status() == 201 => {
                            let _ = r.bytes().await;
                            true
                        }
                        Ok(r) => {
                            let s = r.status();
                            let t = r.text().await.unwrap_or_default();
                            first_error
                                .lock()
                                .unwrap()
                                .get_or_insert(format!("{s}: {t}"));
                            false
                        }
                        Err(e) => {
                            first_error.lock().unwrap().get_or_insert(e.to_string());
                            false
                        }
                    };
                    let done = Instant::now();
                    if done >= measure_from && done < end {
                        if good {
                            ok.fetch_add(1, Ordering::Relaxed);
                            mine.push((done - t0).as_secs_f64() * 1e3);
                        } else {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                lat.lock().unwrap().extend(mine);
            })
        })
        .collect();
    // Progress every 10 s.
    let mut last = 0;
    while Instant::now() < end {
        std::thread::sleep(Duration::from_secs(1));
        let el = Instant::now()
            .saturating_duration_since(measure_from)
            .as_secs();
        if el >= last + 10 {
            last = el;
            let n = ok.load(Ordering::Relaxed);
            println!(
                "  {el:>3} s: {n} evaluated ({:.0}/s so far), {} errors",
                n as f64 / el.max(1) as f64,
                errors.load(Ordering::Relaxed)
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    client_rt.block_on(async {
        for t in tasks {
            let _ = t.await;
        }
    });
    let mut l = latencies.lock().unwrap().clone();
    l.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| {
        l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1)))
            .copied()
            .unwrap_or(f64::NAN)
    };
    let n = ok.load(Ordering::Relaxed);
    let e = errors.load(Ordering::Relaxed);
    let rate = n as f64 / seconds as f64;
    println!();
    println!("backend      {backend}");
    println!(
        "duration     {seconds} s (after {} s warm-up)",
        warmup.as_secs()
    );
    println!("evaluated    {n} submissions, {rate:.0}/s");
    println!(
        "latency ms   p50 {:.1}  p95 {:.1}  p99 {:.1}  max {:.1}",
        pct(0.50),
        pct(0.95),
        pct(0.99),
        l.last().copied().unwrap_or(f64::NAN)
    );
    println!("errors       {e}");
    if hooks > 0 {
        println!(
            "webhooks     {} deliveries received",
            received.load(Ordering::Relaxed)
        );
    }
    if let Some(f) = first_error.lock().unwrap().as_ref() {
        println!("first error  {f}");
    }
    let pass = rate >= 300.0 && pct(0.99) < 150.0 && e == 0;
    println!(
        "target       >= 300/s, p99 < 150 ms, no errors: {}",
        if pass { "PASS" } else { "MISS" }
    );
    server_rt.block_on(async { running.shutdown().await.unwrap() });
    if std::env::var_os("BENCH_STRICT").is_some() && !pass {
        std::process::exit(1);
    }
}
