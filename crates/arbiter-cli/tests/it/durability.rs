//! Once the API answered 201, the change request survives: the real
//! `arbiter serve` is killed with SIGKILL in the middle of a storm of
//! concurrent signed submissions and restarted; every acknowledged request
//! must be there with its evaluation, and the audit log must still verify.
//! Runs on SQLite and, when installed, PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::{free_port, serve};

use arbiter_api::AgentKey;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

async fn wait_ready(http: &reqwest::Client, base: &str) {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(30) {
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await {
            if r.status() == 200 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server at {base} did not come up");
}

fn plan(name: &str) -> Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/scenarios")
        .join(format!("{name}.plan.json"));
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

async fn signed_post(
    http: &reqwest::Client,
    base: &str,
    key: &AgentKey,
    path: &str,
    body: &[u8],
) -> reqwest::Result<(u16, Value)> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let h = key.sign_request(
        "POST",
        path,
        now,
        &arbiter_api::signing::new_nonce().unwrap(),
        body,
    );
    let r = http
        .post(format!("{base}{path}"))
        .header(arbiter_api::HEADER_KEY_ID, h.key_id)
        .header(arbiter_api::HEADER_TIMESTAMP, h.timestamp.to_string())
        .header(arbiter_api::HEADER_NONCE, h.nonce)
        .header(arbiter_api::HEADER_SIGNATURE, h.signature)
        .header("content-type", "application/json")
        .body(body.to_vec())
        .send()
        .await?;
    let status = r.status().as_u16();
    let body = r.json::<Value>().await.unwrap_or(Value::Null);
    Ok((status, body))
}

async fn storm_and_kill(db: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let (mut child, token) = serve(dir.path(), port, db.as_deref());
    let token = token.expect("first start prints the admin token");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    wait_ready(&http, &base).await;
    let r = http
        .post(format!("{base}/api/v1/stacks"))
        .bearer_auth(&token)
        .json(&json!({"name": "web", "environment": "prod"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let key = AgentKey::from_seed([42; 32]);
    let r = http
        .post(format!("{base}/api/v1/agents"))
        .bearer_auth(&token)
        .json(&json!({"name": "storm", "public_key": key.public().to_pem(), "scope": {"stacks": ["web"]},
            "limits": {"submissions_per_minute": 1000000, "blast_radius_per_hour": 100000000}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    let plans: Vec<Vec<u8>> = [
        "tags-only-update",
        "delete-prod-database",
        "ssh-open-to-world",
        "asg-scale-out",
    ]
    .iter()
    .map(|p| serde_json::to_vec(&json!({"stack": "web", "plan": plan(p)})).unwrap())
    .collect();
    let acked: Arc<Mutex<Vec<(i64, String)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..16 {
        let (http, base, key, plans, acked, stop) = (
            http.clone(),
            base.clone(),
            key.clone(),
            plans.clone(),
            acked.clone(),
            stop.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut i = w;
            while !stop.load(Ordering::Relaxed) {
                let body = &plans[i % plans.len()];
                i += 1;
                match signed_post(&http, &base, &key, "/api/v1/change-requests", body).await {
                    Ok((201, v)) => acked.lock().unwrap().push((
                        v["id"].as_i64().unwrap(),
                        v["status"].as_str().unwrap().to_string(),
                    )),
                    Ok((s, v)) => panic!("unexpected answer {s}: {v}"),
                    Err(_) => return, // the server is gone
                }
            }
        }));
    }
    // Let the storm run, then kill the server mid-flight.
    let t = Instant::now();
    while acked.lock().unwrap().len() < 150 && t.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 150,
        "only {} acknowledged before the kill",
        acked.len()
    );

    // Restart on the same data and check every acknowledged request.
    let (mut child, again) = serve(dir.path(), port, db.as_deref());
    assert!(again.is_none(), "a restart is not a first start");
    wait_ready(&http, &base).await;
    for (id, status) in &acked {
        let r = http
            .get(format!("{base}/api/v1/change-requests/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            200,
            "acknowledged change request {id} is missing after the crash"
        );
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["status"].as_str(), Some(status.as_str()), "{id}");
        assert!(
            v["verdict"]["decision"].is_string(),
            "{id} lost its evaluation: {v}"
        );
    }
    // The audit log survived the crash intact.
    let export = http
        .get(format!("{base}/api/v1/audit/export"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let report =
        arbiter_audit::verify_reader(export.as_bytes(), &arbiter_audit::VerifyOptions::default());
    assert!(report.valid, "{:?}", report.problem);
    assert!(report.entries >= 3 * acked.len() as u64);
    // And the server still works.
    let (s, v) = signed_post(&http, &base, &key, "/api/v1/change-requests", &plans[0])
        .await
        .unwrap();
    assert_eq!(s, 201, "{v}");
    child.kill().unwrap();
    child.wait().unwrap();
    eprintln!(
        "{} acknowledged submissions survived SIGKILL ({})",
        acked.len(),
        if db.is_some() { "postgres" } else { "sqlite" }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_change_requests_survive_sigkill_on_sqlite() {
    storm_and_kill(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_change_requests_survive_sigkill_on_postgres() {
    let Some(url) = arbiter_testkit::postgres_database().await.unwrap() else {
        return;
    };
    storm_and_kill(Some(url)).await;
}
