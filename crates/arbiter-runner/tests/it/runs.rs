//! Whole runs against the real Terraform (`terraform_data`, local-exec),
//! with the stand-in server (`fake`): a changed plan is discarded and sent
//! as a revision, the judged plan is applied through the HTTP backend,
//! secrets never reach the log, cancel stops a run, and the sandbox hides
//! the server's data directory.

use crate::fake::{Fake, BACKEND_PASSWORD};
use arbiter_api::runs::{RunPhase, RunSource};
use arbiter_runner::run::{execute, WorkerConfig};
use arbiter_runner::sandbox::Confinement;
use std::path::Path;

const SECRET: &str = "s3cr3t-db-pa55w0rd-4711";

fn bundle(fake: &Fake, dir: &Path, files: &[(&str, String)]) -> RunSource {
    let cfg = dir.join("cfg");
    let _ = std::fs::remove_dir_all(&cfg);
    std::fs::create_dir_all(&cfg).unwrap();
    for (name, text) in files {
        std::fs::write(cfg.join(name), text).unwrap();
    }
    let bytes = arbiter_runner::source::pack(&cfg).unwrap();
    let sha = arbiter_runner::source::sha256_hex(&bytes);
    fake.w().bundles.insert(sha.clone(), bytes);
    RunSource::Bundle { sha256: sha }
}

fn config(dir: &Path) -> WorkerConfig {
    let mut c = WorkerConfig::new("test-worker", &dir.join("work"));
    c.keep_log = true;
    // Offline: an (empty) provider directory; `terraform_data` is built in.
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    c.plugin_dir = Some(plugins);
    c
}

fn reset(fake: &Fake) {
    let mut w = fake.w();
    w.phase = Some(RunPhase::Preparing);
    w.reports.clear();
    w.log.clear();
}

const MAIN_TF: &str = r#"
variable "greeting" { type = string }
variable "db_password" {
  type      = string
  sensitive = true
}
resource "terraform_data" "a" {
  input = var.greeting
  provisioner "local-exec" {
    command = "echo hello from local-exec"
  }
}
output "pw" { value = nonsensitive(var.db_password) }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_plan_is_discarded_and_the_judged_plan_is_applied_with_secrets_masked() {
    std::env::set_var("TF_VAR_db_password", SECRET);
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::start().await;
    let source = bundle(&fake, dir.path(), &[("main.tf", MAIN_TF.to_string())]);
    let mut claim = fake.claim(source);
    claim.secret_env = vec!["TF_VAR_db_password".into()];
    let cfg = config(dir.path());
    let (_tx, rx) = tokio::sync::watch::channel(false);

    // Judged: a plan that changes nothing. The worker's plan creates a
    // resource: not applied, sent as a revision.
    fake.w().judged = br#"{"format_version":"1.2","resource_changes":[]}"#.to_vec();
    let o = execute(&fake.api(), &cfg, &claim, rx.clone()).await;
    assert_eq!(o.phase, RunPhase::Discarded, "{:?}\n{}", o.error, o.log);
    {
        let w = fake.w();
        let phases: Vec<_> = w.reports.iter().map(|r| r.to).collect();
        assert_eq!(
            phases,
            [
                RunPhase::Initialising,
                RunPhase::Planning,
                RunPhase::Checking,
            ]
        );
        let check = &w.reports[2];
        assert_ne!(check.judged_digest, check.planned_digest);
        let tool = w.reports[0].tool.as_ref().unwrap();
        assert!(tool.version.starts_with("1."), "{tool:?}");
        assert_eq!(w.revisions.len(), 1);
        assert_eq!(w.phase, Some(RunPhase::Discarded));
        assert_eq!(w.state_writes, 0, "nothing applied");
        assert!(w.revisions[0]["resource_changes"][0]["address"] == "terraform_data.a");
        assert!(
            w.log.contains("the plan changed since it was judged"),
            "{}",
            w.log
        );
    }

    // Judged: the worker's own plan. Applied through the HTTP backend.
    let revised = serde_json::to_vec(&fake.w().revisions[0]).unwrap();
    fake.w().judged = revised;
    reset(&fake);
    let o = execute(&fake.api(), &cfg, &claim, rx.clone()).await;
    assert_eq!(o.phase, RunPhase::Applied, "{:?}\n{}", o.error, o.log);
    let w = fake.w();
    let phases: Vec<_> = w.reports.iter().map(|r| r.to).collect();
    assert_eq!(
        phases,
        [
            RunPhase::Initialising,
            RunPhase::Planning,
            RunPhase::Checking,
            RunPhase::Applying,
            RunPhase::Applied
        ]
    );
    assert_eq!(w.reports[2].judged_digest, w.reports[2].planned_digest);
    let state: serde_json::Value = serde_json::from_slice(w.state.as_ref().unwrap()).unwrap();
    assert_eq!(state["resources"][0]["type"], "terraform_data");
    assert_eq!(
        state["resources"][0]["instances"][0]["attributes"]["input"]["value"],
        "hello"
    );
    assert!(w.lock.is_none(), "the state lock was released");
    // The server received the whole log (same as the worker kept), masked.
    assert_eq!(w.log, o.log);
    assert!(w.log.contains("hello from local-exec"), "{}", w.log);
    assert!(
        w.log.contains("init -input=false -no-color -plugin-dir="),
        "{}",
        w.log
    );
    assert!(w.log.contains("pw = \"***\""), "{}", w.log);
    for secret in [SECRET, BACKEND_PASSWORD, "lease-1"] {
        assert!(!w.log.contains(secret), "{secret} leaked:\n{}", w.log);
    }
    assert!(o.tool_time <= o.total_time);
    // The workspace is gone; the plugin cache stays.
    assert!(!cfg
        .work_dir
        .join(format!("run-1-{}", std::process::id()))
        .exists());
    assert!(cfg.plugin_cache().exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_request_stops_the_run_before_it_applies() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::start().await;
    let source = bundle(
        &fake,
        dir.path(),
        &[(
            "main.tf",
            "resource \"terraform_data\" \"a\" { input = \"x\" }\n".into(),
        )],
    );
    let claim = fake.claim(source);
    fake.w().judged = br#"{"format_version":"1.2"}"#.to_vec();
    fake.w().cancel = true;
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let o = execute(&fake.api(), &config(dir.path()), &claim, rx).await;
    assert_eq!(o.phase, RunPhase::Cancelled, "{:?}\n{}", o.error, o.log);
    let w = fake.w();
    assert_eq!(w.state_writes, 0);
    assert!(w.revisions.is_empty());
    assert!(w.log.contains("cancel"), "{}", w.log);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terraform_cannot_read_the_server_data_directory_or_the_worker_environment() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let key = "audit-signing-key-ABCDEF0123456789";
    std::fs::write(data.join("audit.key"), key).unwrap();
    std::env::set_var("ARBITER_WORKER_TOKEN", "worker-token-should-not-leak-42");
    let cfg = config(dir.path());
    assert!(
        matches!(cfg.sandbox.confinement, Confinement::Bwrap(_)),
        "bubblewrap must be usable here (.ci/run installs it)"
    );
    let fake = Fake::start().await;
    let tf = format!(
        r#"
resource "terraform_data" "probe" {{
  provisioner "local-exec" {{
    command = "id; grep -E 'NoNewPrivs|CapEff' /proc/self/status; env | sort; ls / ; cat {key}"
  }}
}}
"#,
        key = data.join("audit.key").display()
    );
    let source = bundle(&fake, dir.path(), &[("main.tf", tf)]);
    let claim = fake.claim(source);
    let (_tx, rx) = tokio::sync::watch::channel(false);
    fake.w().judged = br#"{"format_version":"1.2"}"#.to_vec();
    let o = execute(&fake.api(), &cfg, &claim, rx.clone()).await;
    assert_eq!(o.phase, RunPhase::Discarded, "{:?}\n{}", o.error, o.log);
    let revised = serde_json::to_vec(&fake.w().revisions[0]).unwrap();
    fake.w().judged = revised;
    reset(&fake);
    let o = execute(&fake.api(), &cfg, &claim, rx).await;
    // cat fails, so the provisioner and the apply fail.
    assert_eq!(o.phase, RunPhase::Failed, "{:?}\n{}", o.error, o.log);
    let log = fake.w().log.clone();
    assert!(log.contains("No such file or directory"), "{log}");
    assert!(!log.contains(key), "{log}");
    assert!(!log.contains("worker-token-should-not-leak-42"), "{log}");
    assert!(log.contains("uid=65534"), "runs unprivileged: {log}");
    assert!(
        log.contains("NoNewPrivs:\t1"),
        "setuid binaries gain nothing: {log}"
    );
    assert!(
        log.contains("CapEff:\t0000000000000000"),
        "no capabilities: {log}"
    );
    assert!(log.contains("TF_IN_AUTOMATION=1"), "{log}");
    assert!(!log.contains("WARNING"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_past_its_time_limit_or_interrupted_is_stopped_with_its_children() {
    use arbiter_runner::logs::LogSink;
    use arbiter_runner::tool::{Driver, Stop, ToolError};
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    // A "terraform" that starts a child and ignores nothing: both must go.
    let tool = dir.path().join("slow-tool");
    let marker = ws.join("still-running");
    std::fs::write(
        &tool,
        format!(
            "#!/bin/sh\n(sleep 3; touch {m}) &\nsleep 30\n",
            m = marker.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    let sandbox = arbiter_runner::Sandbox::detect();
    if let Some(uid) = sandbox.run_as {
        arbiter_runner::sandbox::give_to(&ws, uid).unwrap();
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(Stop::No);
    let mut d = Driver {
        tool: arbiter_api::runs::ToolInfo {
            kind: arbiter_api::runs::ToolKind::Terraform,
            path: tool.to_string_lossy().into_owned(),
            version: "test".into(),
        },
        dir: ws.clone(),
        rw: vec![ws.clone()],
        ro: vec![],
        plugin_dir: None,
        env: arbiter_runner::tool::base_env(&ws, None),
        sandbox,
        log: LogSink::new(vec![], true),
        stop: stop_rx,
    };
    let t0 = std::time::Instant::now();
    let e = d.init(std::time::Duration::from_secs(1)).await.unwrap_err();
    assert!(matches!(e, ToolError::Timeout { secs: 1, .. }), "{e}");
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        t0.elapsed()
    );
    let t1 = std::time::Instant::now();
    let stopper = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        stop_tx.send(Stop::Cancel).unwrap();
        stop_tx
    });
    let e = d
        .init(std::time::Duration::from_secs(60))
        .await
        .unwrap_err();
    assert!(matches!(e, ToolError::Interrupted { .. }), "{e}");
    assert!(e.to_string().contains("cancelled"), "{e}");
    assert!(t1.elapsed() < std::time::Duration::from_secs(10));
    let _tx = stopper.await.unwrap();
    // The background child was in the process group and died with it.
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    assert!(
        !marker.exists(),
        "a child of the tool outlived the interrupt"
    );
}

/// A health endpoint the test flips (served next to the stand-in server).
async fn health(up: std::sync::Arc<std::sync::atomic::AtomicBool>) -> String {
    use axum::routing::get;
    let app = axum::Router::new().route(
        "/health",
        get(move || {
            let up = up.clone();
            async move {
                if up.load(std::sync::atomic::Ordering::SeqCst) {
                    axum::http::StatusCode::OK
                } else {
                    axum::http::StatusCode::SERVICE_UNAVAILABLE
                }
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/health", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_apply_verification_holds_or_fails_and_secret_files_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::start().await;
    let tf = r#"
variable "token" {
  type      = string
  sensitive = true
}
resource "terraform_data" "a" { input = "x" }
output "t" { value = nonsensitive(var.token) }
"#;
    let source = bundle(&fake, dir.path(), &[("main.tf", tf.to_string())]);
    let secret_file = dir.path().join("token.txt");
    std::fs::write(&secret_file, "file-secret-0042\n").unwrap();
    let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let url = health(up.clone()).await;
    let mut claim = fake.claim(source);
    claim.secret_files = std::collections::BTreeMap::from([(
        "token".to_string(),
        secret_file.to_string_lossy().into_owned(),
    )]);
    claim.verification = Some(arbiter_api::runs::Verification {
        window_secs: 2,
        interval_secs: 1,
        health_url: Some(url),
        prometheus_url: None,
        promql: None,
    });
    let cfg = config(dir.path());
    let (_tx, rx) = tokio::sync::watch::channel(false);
    fake.w().judged = br#"{"format_version":"1.2"}"#.to_vec();
    let o = execute(&fake.api(), &cfg, &claim, rx.clone()).await;
    assert_eq!(o.phase, RunPhase::Discarded, "{:?}\n{}", o.error, o.log);
    let revised = serde_json::to_vec(&fake.w().revisions[0]).unwrap();
    fake.w().judged = revised.clone();
    reset(&fake);
    let o = execute(&fake.api(), &cfg, &claim, rx.clone()).await;
    assert_eq!(o.phase, RunPhase::Verified, "{:?}\n{}", o.error, o.log);
    assert!(o.log.contains("t = \"***\""), "{}", o.log);
    assert!(!o.log.contains("file-secret-0042"), "{}", o.log);
    assert!(o.log.contains("verification round 2: holds"), "{}", o.log);

    // The same change on a fresh stack, with the health check failing.
    up.store(false, std::sync::atomic::Ordering::SeqCst);
    fake.w().state = None;
    reset(&fake);
    let o = execute(&fake.api(), &cfg, &claim, rx.clone()).await;
    assert_eq!(
        o.phase,
        RunPhase::VerificationFailed,
        "{:?}\n{}",
        o.error,
        o.log
    );
    assert!(
        o.error.as_deref().unwrap().contains("HTTP 503"),
        "{:?}",
        o.error
    );
    let last = fake.w().reports.last().cloned().unwrap();
    assert_eq!(last.to, RunPhase::VerificationFailed);
    assert!(last.error.unwrap().contains("health check"));

    // A secret file that is missing fails the run before anything runs.
    claim.secret_files.insert(
        "token".into(),
        dir.path().join("nope").to_string_lossy().into_owned(),
    );
    reset(&fake);
    let o = execute(&fake.api(), &cfg, &claim, rx).await;
    assert_eq!(o.phase, RunPhase::Failed, "{:?}", o.error);
    assert!(
        o.error.as_deref().unwrap().contains("secret file"),
        "{:?}",
        o.error
    );
    assert_eq!(fake.w().reports.len(), 1, "preparing → failed only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_shutting_down_interrupts_a_run_that_has_not_applied() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::start().await;
    let source = bundle(
        &fake,
        dir.path(),
        &[(
            "main.tf",
            "resource \"terraform_data\" \"a\" { input = \"x\" }\n".into(),
        )],
    );
    let claim = fake.claim(source);
    fake.w().judged = br#"{"format_version":"1.2"}"#.to_vec();
    let (tx, rx) = tokio::sync::watch::channel(false);
    tx.send(true).unwrap();
    let o = execute(&fake.api(), &config(dir.path()), &claim, rx).await;
    assert_eq!(o.phase, RunPhase::Interrupted, "{:?}\n{}", o.error, o.log);
    assert!(o.error.unwrap().contains("shutting down"));
    assert_eq!(fake.w().state_writes, 0);
}
