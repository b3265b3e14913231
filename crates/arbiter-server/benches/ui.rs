//! Web UI benchmark: how long the pages take on a real server (HTTP on
//! loopback, SQLite), with a large change request and a long audit log.
//! Prints the median and 95th percentile time and the size of each page.
//!
//! ```sh
//! cargo bench -p arbiter-server --bench ui                        # 1,000 changes, 20,000 audit entries
//! UI_CHANGES=10000 UI_AUDIT_ENTRIES=100000 cargo bench -p arbiter-server --bench ui
//! ```
//!
//! The change request page renders the verdict of a plan with `UI_CHANGES`
//! resource changes (one in ten opens SSH to the world, so there are many
//! findings); the audit page is timed twice: as usually served (the last
//! verification reused while the head does not move) and with a fresh
//! verification of the whole log (`?verify=now`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn env_or<T: std::str::FromStr>(k: &str, d: T) -> T {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

/// A plan with `n` changes: instance updates (type and tags), and every
/// tenth change a security group rule open to the world on port 22.
fn plan(n: usize) -> Value {
    let changes: Vec<Value> = (0..n)
        .map(|i| {
            if i % 10 == 0 {
                json!({"address": format!("aws_security_group_rule.ssh_{i}"), "type": "aws_security_group_rule",
                    "name": format!("ssh_{i}"), "mode": "managed", "provider_name": "registry.terraform.io/hashicorp/aws",
                    "change": {"actions": ["create"], "before": null,
                        "after": {"type": "ingress", "from_port": 22, "to_port": 22, "protocol": "tcp",
                            "cidr_blocks": ["0.0.0.0/0"], "security_group_id": "sg-0123456789abcdef0", "description": "debug"},
                        "after_unknown": {"id": true}, "before_sensitive": false, "after_sensitive": {}}})
            } else {
                json!({"address": format!("aws_instance.web_{i}"), "type": "aws_instance", "name": format!("web_{i}"),
                    "mode": "managed", "provider_name": "registry.terraform.io/hashicorp/aws",
                    "change": {"actions": ["update"],
                        "before": {"ami": "ami-0abcdef1234567890", "instance_type": "t3.small", "tags": {"Name": format!("web-{i}"), "team": "web"}},
                        "after": {"ami": "ami-0abcdef1234567890", "instance_type": "t3.medium", "tags": {"Name": format!("web-{i}"), "team": "web", "cost_centre": "cc-42"}},
                        "after_unknown": {}, "before_sensitive": {}, "after_sensitive": {}}})
            }
        })
        .collect();
    json!({"format_version": "1.2", "terraform_version": "1.11.4", "resource_changes": changes})
}

struct Timing {
    median: Duration,
    p95: Duration,
    bytes: usize,
}

async fn time_page(http: &reqwest::Client, url: &str, token: &str, runs: usize) -> Timing {
    // One untimed request first: the steady state is what a reviewer sees
    // (the audit page's first view verifies the log; timed separately).
    let r = http.get(url).bearer_auth(token).send().await.unwrap();
    assert_eq!(r.status(), 200, "{url}");
    let _ = r.bytes().await;
    let mut times = Vec::with_capacity(runs);
    let mut bytes = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let r = http.get(url).bearer_auth(token).send().await.unwrap();
        assert_eq!(r.status(), 200, "{url}");
        bytes = r.bytes().await.unwrap().len();
        times.push(t.elapsed());
    }
    times.sort();
    Timing {
        median: times[times.len() / 2],
        p95: times[(times.len() * 95 / 100).min(times.len() - 1)],
        bytes,
    }
}

fn main() {
    let changes: usize = env_or("UI_CHANGES", 1000);
    let entries: usize = env_or("UI_AUDIT_ENTRIES", 20_000);
    let runs: usize = env_or("UI_RUNS", 20);
    let dir = tempfile::tempdir().unwrap();
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let running = server_rt
        .block_on(arbiter_server::start(arbiter_server::ServerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().join("data"),
            ..Default::default()
        }))
        .unwrap();
    let base = format!("http://{}", running.addr);
    let admin = running.first_start.as_ref().unwrap().admin_token.clone();
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    client_rt.block_on(async {
        let http = reqwest::Client::new();
        let post = |path: &str, body: Value| {
            let http = http.clone();
            let url = format!("{base}{path}");
            let admin = admin.clone();
            async move {
                let r = http
                    .post(url)
                    .bearer_auth(admin)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                let v: Value = r.json().await.unwrap_or(Value::Null);
                assert!(status < 300, "{status} {v}");
                v
            }
        };
        post(
            "/api/v1/stacks",
            json!({"name": "web", "environment": "prod", "monthly_budget_usd": 20000}),
        )
        .await;
        post("/api/v1/users", json!({"name": "rita", "role": "reviewer"})).await;
        let t = Instant::now();
        let cr = post(
            "/api/v1/change-requests",
            json!({"stack": "web", "plan": plan(changes), "intent": "benchmark"}),
        )
        .await;
        let id = cr["id"].as_i64().unwrap();
        eprintln!(
            "submitted a {changes}-change plan in {:.0} ms ({} findings)",
            t.elapsed().as_secs_f64() * 1e3,
            cr["verdict"]["findings"].as_array().map_or(0, |f| f.len())
        );
        // A long audit log: tokens are the cheapest audited writes.
        let t = Instant::now();
        let mut made = 0;
        while made < entries {
            let batch: Vec<_> = (0..64.min(entries - made))
                .map(|_| post("/api/v1/tokens", json!({"user": "rita"})))
                .collect();
            made += batch.len();
            for f in batch {
                f.await;
            }
        }
        eprintln!(
            "added {entries} audit entries in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        println!("page (GET, {runs} runs, bearer token)           median     p95      size");
        for (name, path) in [
            ("review queue /", "/".to_string()),
            ("change request (big verdict)", format!("/changes/{id}")),
            ("changes /changes", "/changes".to_string()),
            ("stacks /stacks", "/stacks".to_string()),
            ("audit log /audit (reused check)", "/audit".to_string()),
        ] {
            let t = time_page(&http, &format!("{base}{path}"), &admin, runs).await;
            println!(
                "{name:<44} {:>7.1} ms {:>7.1} ms {:>6} KB",
                t.median.as_secs_f64() * 1e3,
                t.p95.as_secs_f64() * 1e3,
                t.bytes / 1024
            );
        }
        let t = time_page(
            &http,
            &format!("{base}/audit?verify=now"),
            &admin,
            runs.min(5),
        )
        .await;
        let head: Value = http
            .get(format!("{base}/api/v1/audit/head"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        println!(
            "{:<44} {:>7.1} ms {:>7.1} ms {:>6} KB",
            format!("audit log, verifying {} entries", head["seq"]),
            t.median.as_secs_f64() * 1e3,
            t.p95.as_secs_f64() * 1e3,
            t.bytes / 1024
        );
    });
    server_rt.block_on(running.shutdown()).unwrap();
}
