//! Verification against a real Prometheus (Debian's `prometheus` binary)
//! scraping a target this test serves and flips, and a health URL.

use arbiter_api::runs::Verification;
use arbiter_runner::logs::LogSink;
use arbiter_runner::verify::{verify, VerifyError};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Prometheus(std::process::Child);
impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn query_holds(base: &str, expr: &str) -> bool {
    let v = Verification {
        window_secs: 0,
        interval_secs: 1,
        health_url: None,
        prometheus_url: Some(base.into()),
        promql: Some(expr.into()),
    };
    let http = reqwest::Client::new();
    arbiter_runner::verify::check_once(&v, &http).await.is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promql_and_health_checks_hold_then_fail_when_the_target_flips() {
    let up = Arc::new(AtomicU64::new(1));
    let app = Router::new()
        .route(
            "/metrics",
            get(|State(u): State<Arc<AtomicU64>>| async move {
                format!(
                    "# TYPE arbitest_up gauge\narbitest_up {}\n",
                    u.load(Ordering::SeqCst)
                )
            }),
        )
        .route(
            "/health",
            get(|State(u): State<Arc<AtomicU64>>| async move {
                if u.load(Ordering::SeqCst) == 1 {
                    StatusCode::OK
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                }
            }),
        )
        .with_state(up.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let conf = dir.path().join("prometheus.yml");
    std::fs::write(
        &conf,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: arbitest\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    let child = std::process::Command::new("prometheus")
        .arg(format!("--config.file={}", conf.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("Debian's prometheus binary");
    let _guard = Prometheus(child);
    let base = format!("http://127.0.0.1:{port}");
    let expr = "arbitest_up == 1";
    let mut ok = false;
    for _ in 0..60 {
        if query_holds(&base, expr).await {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(ok, "prometheus never scraped the target");

    let v = Verification {
        window_secs: 3,
        interval_secs: 1,
        health_url: Some(format!("http://{target}/health")),
        prometheus_url: Some(base.clone()),
        promql: Some(expr.into()),
    };
    let log = LogSink::new(vec![], true);
    verify(&v, &log).await.unwrap();
    assert!(log.text().matches("holds").count() >= 3, "{}", log.text());

    // The target goes down: the health URL fails at once…
    up.store(0, Ordering::SeqCst);
    let e = verify(&v, &log).await.unwrap_err();
    assert!(matches!(e, VerifyError::Health { .. }), "{e}");
    assert!(e.to_string().contains("HTTP 503"), "{e}");
    // …and the PromQL expression once Prometheus has scraped it again.
    let prom_only = Verification {
        health_url: None,
        ..v.clone()
    };
    let mut failed = None;
    for _ in 0..20 {
        match verify(&prom_only, &log).await {
            Err(e) => {
                failed = Some(e);
                break;
            }
            Ok(()) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
    let e = failed.expect("the PromQL check kept holding after the metric flipped");
    assert!(matches!(e, VerifyError::Promql { .. }), "{e}");
    assert!(e.to_string().contains("empty result"), "{e}");
    // A broken expression is a failure with Prometheus's reason.
    let bad = Verification {
        promql: Some("arbitest_up ==".into()),
        ..prom_only
    };
    let e = verify(&bad, &log).await.unwrap_err();
    assert!(e.to_string().contains("query failed"), "{e}");
}
