//! The worker (`arbiter_runner`, the code of `arbiter worker`) against the
//! real server, with the real Terraform and `terraform_data` (no provider):
//! a changed plan is discarded and sent back as a revision, the judged plan
//! is applied through the server's state backend, secrets never reach the
//! log, a cancel stops a run before it applies, the sandbox hides the
//! server's data directory, verification holds or fails, and a worker
//! shutting down interrupts a run that has not applied. Everything is
//! observed through the server's API (runs and their phases, logs, state
//! history, the state backend, audit), on both databases.
//!
//! These tests claim with [`WorkerApi::claim`] and carry the run out with
//! [`execute`] (what `arbiter worker`'s loop does), so that they know the
//! claim's lease and backend password and can check that neither leaks.

use std::time::Duration;

use arbiter_api::runs::RunPhase;
use arbiter_runner::sandbox::Confinement;
use arbiter_runner::{execute, WorkerApi};
use serde_json::{json, Value};

use crate::server::{backends, judged, judged_with, sandboxed_worker_config, spawn, Srv};

const SECRET: &str = "s3cr3t-db-pa55w0rd-4711";

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

const ONE: &str = "resource \"terraform_data\" \"a\" { input = \"x\" }\n";

/// The run of the change request the server queued, claimed by a worker.
async fn claim(api: &WorkerApi, srv: &Srv, cr: i64) -> arbiter_api::runs::Claim {
    let Some(c) = api.claim("test-worker", 5).await.unwrap() else {
        panic!("no run to claim: {:?}", srv.runs().await);
    };
    assert_eq!(c.run.change_request, cr);
    c
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_plan_is_discarded_and_the_judged_plan_is_applied_with_secrets_masked() {
    std::env::set_var("TF_VAR_db_password", SECRET);
    for b in backends().await {
        let srv = spawn(b, Duration::from_secs(1)).await;
        srv.stack_with("web", json!({"secret_env": ["TF_VAR_db_password"]}))
            .await;
        let dir = tempfile::tempdir().unwrap();
        let cfg_dir = dir.path().join("config");
        // Judged with greeting "judged"; the change request's variables
        // say "hello": the worker's plan differs from the judged one.
        let plan = judged_with(
            &cfg_dir,
            MAIN_TF,
            &[("greeting", "judged"), ("db_password", "not-the-secret")],
        );
        let c = srv
            .submit_any("web", &cfg_dir, &plan, json!({"greeting": "hello"}))
            .await;
        // The provisioner holds it for a person (ARB-TF-EXEC-001).
        assert_eq!(c["status"], "pending_review", "{b}: {c}");
        let cr = c["id"].as_i64().unwrap();
        srv.approve(cr).await;
        let api = WorkerApi::new(&srv.base, &srv.pool_token().await).unwrap();
        let cfg = sandboxed_worker_config("test-worker", dir.path());
        let (_tx, rx) = tokio::sync::watch::channel(false);

        // Not applied: sent back as a revision, the run discarded.
        let first = claim(&api, &srv, cr).await;
        let id1 = first.run.id;
        let o = execute(&api, &cfg, &first, rx.clone()).await;
        assert_eq!(
            o.phase,
            RunPhase::Discarded,
            "{b}: {:?}\n{}",
            o.error,
            o.log
        );
        let run1 = srv.run(id1).await;
        assert_eq!(run1["phase"], "discarded", "{b}: {run1}");
        assert_eq!(
            srv.phases(id1).await,
            strings(&[
                "queued",
                "preparing",
                "initialising",
                "planning",
                "checking",
                "discarded"
            ]),
            "{b}"
        );
        assert!(run1["judged_digest"].is_string(), "{b}: {run1}");
        assert_ne!(run1["judged_digest"], run1["planned_digest"], "{b}: {run1}");
        let version = run1["tool"]["version"].as_str().unwrap();
        assert!(version.starts_with("1."), "{b}: {run1}");
        assert!(srv.states("web").await.is_empty(), "{b}: nothing applied");
        let log1 = srv.log(id1).await;
        assert!(
            log1.contains("the plan changed since it was judged"),
            "{b}: {log1}"
        );
        // The server has the log up to the revision (taking it discarded
        // the run and ended the lease); the worker's own last line follows.
        let rest = o.log.strip_prefix(log1.as_str()).unwrap_or_else(|| {
            panic!(
                "{b}: the server's log is not the worker's:\n{log1}\n---\n{}",
                o.log
            )
        });
        assert!(
            rest.lines().count() == 1 && rest.starts_with("[arbiter] discarded: "),
            "{b}: {rest:?}"
        );
        let acts = srv.audit(&format!("run:{id1}")).await;
        assert!(acts.contains(&"run.checking".to_string()), "{b}: {acts:?}");
        assert!(!acts.contains(&"run.applying".to_string()), "{b}: {acts:?}");

        // The worker's plan is revision 2, judged from scratch: the
        // provisioner holds it again; nothing runs until it is approved.
        let c = srv.change_request(cr).await;
        assert_eq!(c["revision"], 2, "{b}: {c}");
        assert_eq!(c["status"], "pending_review", "{b}: {c}");
        assert!(api.claim("test-worker", 0).await.unwrap().is_none(), "{b}");
        // Reviews belong to their revision: the person who approved
        // revision 1 reviews revision 2 afresh.
        srv.approve(cr).await;
        let second = claim(&api, &srv, cr).await;
        let id2 = second.run.id;
        assert_eq!(second.run.revision, 2, "{b}");
        // What revision 2 judged is the worker's plan of the first run.
        let judged2: Value =
            serde_json::from_slice(&api.judged_plan(id2, &second.lease).await.unwrap()).unwrap();
        let rc = &judged2["resource_changes"][0];
        assert_eq!(rc["address"], "terraform_data.a", "{b}: {judged2}");
        assert_eq!(rc["change"]["after"]["input"], "hello", "{b}: {judged2}");

        // Applied through the server's state backend.
        let o = execute(&api, &cfg, &second, rx.clone()).await;
        assert_eq!(o.phase, RunPhase::Applied, "{b}: {:?}\n{}", o.error, o.log);
        let run2 = srv.run(id2).await;
        assert_eq!(run2["phase"], "applied", "{b}: {run2}");
        assert_eq!(
            srv.phases(id2).await,
            strings(&[
                "queued",
                "preparing",
                "initialising",
                "planning",
                "checking",
                "applying",
                "applied"
            ]),
            "{b}"
        );
        assert_eq!(run2["judged_digest"], run2["planned_digest"], "{b}: {run2}");
        let v = run2["state_version"]
            .as_i64()
            .expect("the version it wrote");
        let states = srv.states("web").await;
        assert_eq!(states.len(), 1, "{b}: {states:?}");
        let (sv, addresses) = srv.state_addresses("web", v).await;
        assert_eq!(sv["origin"], "apply", "{b}: {sv}");
        assert_eq!(sv["run"], id2, "{b}: {sv}");
        assert_eq!(addresses, ["terraform_data.a"], "{b}: {sv}");
        let state = srv.tfstate("web").await.expect("a state");
        assert_eq!(state["resources"][0]["type"], "terraform_data", "{b}");
        assert_eq!(
            state["resources"][0]["instances"][0]["attributes"]["input"]["value"], "hello",
            "{b}: {state}"
        );
        assert_eq!(
            srv.lock_free("web").await,
            Ok(()),
            "{b}: the lock was released"
        );
        assert_eq!(srv.change_request(cr).await["status"], "applied", "{b}");
        let acts = srv.audit(&format!("run:{id2}")).await;
        assert_eq!(
            acts.last().map(String::as_str),
            Some("run.applied"),
            "{b}: {acts:?}"
        );

        // The server has the whole log (as the worker kept it), masked.
        let log = srv.log(id2).await;
        assert_eq!(log, o.log, "{b}");
        assert!(log.contains("hello from local-exec"), "{b}: {log}");
        assert!(
            log.contains("init -input=false -no-color -plugin-dir="),
            "{b}: {log}"
        );
        assert!(log.contains("pw = \"***\""), "{b}: {log}");
        for secret in [
            SECRET,
            second.backend.password.as_str(),
            second.lease.as_str(),
            first.backend.password.as_str(),
            first.lease.as_str(),
        ] {
            assert!(!log.contains(secret), "{b}: {secret} leaked:\n{log}");
            assert!(!log1.contains(secret), "{b}: {secret} leaked:\n{log1}");
        }
        assert!(o.tool_time <= o.total_time);
        // The workspace is gone; the plugin cache stays.
        assert!(!cfg
            .work_dir
            .join(format!("run-{id2}-{}", std::process::id()))
            .exists());
        assert!(cfg.plugin_cache().exists());
        srv.running.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_request_stops_the_run_before_it_applies() {
    for b in backends().await {
        let srv = spawn(b, Duration::from_secs(1)).await;
        srv.stack("web").await;
        let dir = tempfile::tempdir().unwrap();
        let cfg_dir = dir.path().join("config");
        // The judged plan is the plan the worker makes: without the cancel
        // the run would apply.
        let plan = judged(&cfg_dir, ONE);
        let cr = srv.submit("web", &cfg_dir, &plan).await;
        let api = WorkerApi::new(&srv.base, &srv.pool_token().await).unwrap();
        let c = claim(&api, &srv, cr).await;
        let id = c.run.id;
        let (s, r) = srv.cancel(id).await;
        assert_eq!(s, 200, "{b}: {r}");
        assert_eq!(r["cancel_requested"], true, "{b}: {r}");
        assert_eq!(r["phase"], "preparing", "{b}: {r}");
        let (_tx, rx) = tokio::sync::watch::channel(false);
        let o = execute(&api, &sandboxed_worker_config("w", dir.path()), &c, rx).await;
        assert_eq!(
            o.phase,
            RunPhase::Cancelled,
            "{b}: {:?}\n{}",
            o.error,
            o.log
        );
        let run = srv.run(id).await;
        assert_eq!(run["phase"], "cancelled", "{b}: {run}");
        let phases = srv.phases(id).await;
        assert_eq!(phases.last().unwrap(), "cancelled", "{b}: {phases:?}");
        assert!(!phases.contains(&"applying".to_string()), "{b}: {phases:?}");
        assert!(srv.states("web").await.is_empty(), "{b}: nothing applied");
        let c = srv.change_request(cr).await;
        // (`revision` is shown from 2 on.)
        assert_eq!(
            c["revision"].as_i64().unwrap_or(1),
            1,
            "{b}: no revision was made: {c}"
        );
        assert_ne!(c["status"], "applied", "{b}: {c}");
        let log = srv.log(id).await;
        assert!(log.contains("cancel"), "{b}: {log}");
        let acts = srv.audit(&format!("run:{id}")).await;
        assert!(
            acts.contains(&"run.cancel_requested".to_string()),
            "{b}: {acts:?}"
        );
        assert_eq!(
            acts.last().map(String::as_str),
            Some("run.cancelled"),
            "{b}: {acts:?}"
        );
        assert_eq!(srv.lock_free("web").await, Ok(()), "{b}");
        assert!(api.claim("w", 0).await.unwrap().is_none(), "{b}");
        srv.running.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terraform_cannot_read_the_server_data_directory_or_the_worker_environment() {
    for b in backends().await {
        let srv = spawn(b, Duration::from_secs(1)).await;
        srv.stack("web").await;
        // The server's own data directory and its data key.
        let key_file = srv.data_dir.join("data.key");
        let key = std::fs::read_to_string(&key_file).unwrap();
        let key = key.trim();
        assert!(key.len() >= 32, "{b}: {key_file:?}");
        let token = srv.pool_token().await;
        // `arbiter worker` reads its token from here; Terraform must not.
        std::env::set_var("ARBITER_WORKER_TOKEN", &token);
        let dir = tempfile::tempdir().unwrap();
        let cfg = sandboxed_worker_config("w", dir.path());
        assert!(
            matches!(cfg.sandbox.confinement, Confinement::Bwrap(_)),
            "bubblewrap must be usable here (.ci/run installs it)"
        );
        let tf = format!(
            r#"
resource "terraform_data" "probe" {{
  provisioner "local-exec" {{
    command = "id; grep -E 'NoNewPrivs|CapEff' /proc/self/status; env | sort; ls / ; cat {key}"
  }}
}}
"#,
            key = key_file.display()
        );
        let cfg_dir = dir.path().join("config");
        let plan = judged(&cfg_dir, &tf);
        let c = srv.submit_any("web", &cfg_dir, &plan, json!({})).await;
        assert_eq!(c["status"], "pending_review", "{b}: {c}");
        let cr = c["id"].as_i64().unwrap();
        srv.approve(cr).await;
        let api = WorkerApi::new(&srv.base, &token).unwrap();
        let claimed = claim(&api, &srv, cr).await;
        let id = claimed.run.id;
        let (_tx, rx) = tokio::sync::watch::channel(false);
        let o = execute(&api, &cfg, &claimed, rx).await;
        // cat fails, so the provisioner and the apply fail.
        assert_eq!(o.phase, RunPhase::Failed, "{b}: {:?}\n{}", o.error, o.log);
        let run = srv.run(id).await;
        assert_eq!(run["phase"], "failed", "{b}: {run}");
        assert_eq!(
            srv.change_request(cr).await["status"],
            "apply_failed",
            "{b}"
        );
        let log = srv.log(id).await;
        assert!(log.contains("No such file or directory"), "{b}: {log}");
        assert!(!log.contains(key), "{b}: {log}");
        assert!(!log.contains(&token), "{b}: {log}");
        assert!(log.contains("uid=65534"), "{b}: runs unprivileged: {log}");
        assert!(
            log.contains("NoNewPrivs:\t1"),
            "{b}: setuid binaries gain nothing: {log}"
        );
        assert!(
            log.contains("CapEff:\t0000000000000000"),
            "{b}: no capabilities: {log}"
        );
        assert!(log.contains("TF_IN_AUTOMATION=1"), "{b}: {log}");
        assert!(!log.contains("WARNING"), "{b}: {log}");
        srv.running.shutdown().await.unwrap();
    }
}

/// A health endpoint the test flips.
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
    const TF: &str = r#"
variable "token" {
  type      = string
  sensitive = true
}
resource "terraform_data" "a" { input = "x" }
output "t" { value = nonsensitive(var.token) }
"#;
    for b in backends().await {
        let srv = spawn(b, Duration::from_secs(1)).await;
        let dir = tempfile::tempdir().unwrap();
        let secret_file = dir.path().join("token.txt");
        std::fs::write(&secret_file, "file-secret-0042\n").unwrap();
        let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let url = health(up.clone()).await;
        let runs = |file: &std::path::Path| {
            json!({
                "secret_files": {"token": file.display().to_string()},
                "verification": {"window_secs": 2, "interval_secs": 1, "health_url": url},
            })
        };
        let cfg_dir = dir.path().join("config");
        let plan = judged_with(&cfg_dir, TF, &[("token", "judged-placeholder")]);
        let api = WorkerApi::new(&srv.base, &srv.pool_token().await).unwrap();
        let cfg = sandboxed_worker_config("w", dir.path());
        let (_tx, rx) = tokio::sync::watch::channel(false);

        // Holds for the whole window.
        srv.stack_with("web", runs(&secret_file)).await;
        let cr = srv.submit("web", &cfg_dir, &plan).await;
        let c = claim(&api, &srv, cr).await;
        let o = execute(&api, &cfg, &c, rx.clone()).await;
        assert_eq!(o.phase, RunPhase::Verified, "{b}: {:?}\n{}", o.error, o.log);
        let run = srv.run(c.run.id).await;
        assert_eq!(run["phase"], "verified", "{b}: {run}");
        let phases = srv.phases(c.run.id).await;
        assert_eq!(
            phases[phases.len() - 4..],
            strings(&["applying", "applied", "verifying", "verified"]),
            "{b}"
        );
        let log = srv.log(c.run.id).await;
        assert_eq!(log, o.log, "{b}");
        assert!(log.contains("t = \"***\""), "{b}: {log}");
        assert!(!log.contains("file-secret-0042"), "{b}: {log}");
        assert!(log.contains("verification round 2: holds"), "{b}: {log}");
        let acts = srv.audit(&format!("run:{}", c.run.id)).await;
        assert_eq!(
            acts.last().map(String::as_str),
            Some("run.verified"),
            "{b}: {acts:?}"
        );

        // The same change on a fresh stack, with the health check failing.
        up.store(false, std::sync::atomic::Ordering::SeqCst);
        srv.stack_with("web2", runs(&secret_file)).await;
        let cr = srv.submit("web2", &cfg_dir, &plan).await;
        let c = claim(&api, &srv, cr).await;
        let o = execute(&api, &cfg, &c, rx.clone()).await;
        assert_eq!(
            o.phase,
            RunPhase::VerificationFailed,
            "{b}: {:?}\n{}",
            o.error,
            o.log
        );
        assert!(
            o.error.as_deref().unwrap().contains("HTTP 503"),
            "{b}: {:?}",
            o.error
        );
        let run = srv.run(c.run.id).await;
        assert_eq!(run["phase"], "verification_failed", "{b}: {run}");
        let error = run["error"].as_str().unwrap_or_default();
        assert!(error.contains("health check"), "{b}: {run}");
        let acts = srv.audit(&format!("run:{}", c.run.id)).await;
        assert_eq!(
            acts.last().map(String::as_str),
            Some("run.verification_failed"),
            "{b}: {acts:?}"
        );

        // A secret file that is missing fails the run before anything runs.
        srv.stack_with("web3", runs(&dir.path().join("nope"))).await;
        let cr = srv.submit("web3", &cfg_dir, &plan).await;
        let c = claim(&api, &srv, cr).await;
        let o = execute(&api, &cfg, &c, rx).await;
        assert_eq!(o.phase, RunPhase::Failed, "{b}: {:?}", o.error);
        assert!(
            o.error.as_deref().unwrap().contains("secret file"),
            "{b}: {:?}",
            o.error
        );
        let run = srv.run(c.run.id).await;
        assert!(
            run["error"]
                .as_str()
                .unwrap_or_default()
                .contains("secret file"),
            "{b}: {run}"
        );
        assert_eq!(
            srv.phases(c.run.id).await,
            strings(&["queued", "preparing", "failed"]),
            "{b}: preparing → failed only"
        );
        assert!(srv.states("web3").await.is_empty(), "{b}");
        srv.running.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_shutting_down_interrupts_a_run_that_has_not_applied() {
    for b in backends().await {
        let srv = spawn(b, Duration::from_secs(1)).await;
        srv.stack("web").await;
        let dir = tempfile::tempdir().unwrap();
        let cfg_dir = dir.path().join("config");
        let plan = judged(&cfg_dir, ONE);
        let cr = srv.submit("web", &cfg_dir, &plan).await;
        let api = WorkerApi::new(&srv.base, &srv.pool_token().await).unwrap();
        let c = claim(&api, &srv, cr).await;
        let (tx, rx) = tokio::sync::watch::channel(false);
        tx.send(true).unwrap();
        let o = execute(&api, &sandboxed_worker_config("w", dir.path()), &c, rx).await;
        assert_eq!(
            o.phase,
            RunPhase::Interrupted,
            "{b}: {:?}\n{}",
            o.error,
            o.log
        );
        assert!(o.error.unwrap().contains("shutting down"), "{b}");
        let run = srv.run(c.run.id).await;
        assert_eq!(run["phase"], "interrupted", "{b}: {run}");
        assert!(
            !srv.phases(c.run.id).await.contains(&"applying".to_string()),
            "{b}"
        );
        assert!(srv.states("web").await.is_empty(), "{b}: nothing applied");
        // Never applied: the change request is not apply_failed, and the
        // run is not claimed again.
        assert_eq!(srv.change_request(cr).await["status"], "approved", "{b}");
        assert!(api.claim("w", 0).await.unwrap().is_none(), "{b}");
        srv.running.shutdown().await.unwrap();
    }
}
