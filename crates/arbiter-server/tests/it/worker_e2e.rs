//! End to end with the real worker (`arbiter-runner`, the code of `arbiter
//! worker`) and the real Terraform, both databases: a configuration bundle
//! submitted with its plan is judged, auto-applied by a worker through the
//! server's state backend, and the state version records origin `apply`
//! and the run; the log on the server is masked; a second run of the same
//! change is not made.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::{backends, pool_token, spawn, App};
use arbiter_api::runs::RunPhase;
use serde_json::{json, Value};
use std::path::Path;

const SECRET: &str = "e2e-s3cret-value-8731";

const MAIN_TF: &str = r#"
variable "greeting" { type = string }
variable "db_password" {
  type      = string
  sensitive = true
}
resource "terraform_data" "hello" {
  input = var.greeting
}
output "pw" { value = nonsensitive(var.db_password) }
"#;

/// The plan the submitter judged: real Terraform on a copy of the
/// configuration with an empty local state (the stack has none yet).
fn judged_plan(cfg: &Path, work: &Path) -> Value {
    let copy = work.join("submitter");
    std::fs::create_dir_all(&copy).unwrap();
    std::fs::copy(cfg.join("main.tf"), copy.join("main.tf")).unwrap();
    let tf = |args: &[&str]| {
        let out = std::process::Command::new("terraform")
            .args(args)
            .current_dir(&copy)
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_VAR_greeting", "hello")
            .env("TF_VAR_db_password", SECRET)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "terraform {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    tf(&["init", "-input=false", "-no-color"]);
    tf(&["plan", "-input=false", "-no-color", "-out=judged.tfplan"]);
    serde_json::from_slice(&tf(&["show", "-json", "judged.tfplan"])).unwrap()
}

/// What both tests start from: stack `web` (auto-apply, the secret's
/// name), `MAIN_TF` in `dir/config` judged with an empty state, its bundle
/// uploaded as `arbiter submit --config DIR` packs it, and a submission of
/// the judged plan with `greeting` (approved). Returns the bundle's SHA-256
/// and the change request.
async fn submit_judged(
    app: &App,
    b: &str,
    dir: &Path,
    greeting: &str,
    intent: &str,
) -> (String, Value) {
    app.stack(
        "web",
        "dev",
        json!({"auto_apply": true, "runs": {"secret_env": ["TF_VAR_db_password"]}}),
    )
    .await;
    let cfg_dir = dir.join("config");
    std::fs::create_dir_all(&cfg_dir).unwrap();
    std::fs::write(cfg_dir.join("main.tf"), MAIN_TF).unwrap();
    let plan = judged_plan(&cfg_dir, dir);
    let bundle = arbiter_runner::source::pack(&cfg_dir).unwrap();
    let sha = arbiter_runner::source::sha256_hex(&bundle);
    let r = app
        .raw(
            "PUT",
            &format!("/api/v1/bundles/{sha}"),
            Some(&app.admin),
            Some(bundle),
            &[],
        )
        .await;
    assert!(matches!(r.status, 200 | 201), "{b}: {:?}", r.body);
    let body = json!({"stack": "web", "plan": plan, "intent": intent,
        "config": {"kind": "bundle", "sha256": sha}, "variables": {"greeting": greeting}});
    let r = app
        .req(
            "POST",
            "/api/v1/change-requests",
            Some(&app.admin),
            Some(&body),
        )
        .await;
    assert_eq!(r.status, 201, "{b}: {:?}", r.body);
    assert_eq!(r.body["status"], "approved", "{b}: {}", r.body);
    (sha, r.body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submitted_configuration_is_judged_and_applied_by_the_worker() {
    std::env::set_var("TF_VAR_db_password", SECRET);
    for b in backends().await {
        let app = spawn(b, |_| {}).await;
        let dir = tempfile::tempdir().unwrap();
        let (sha, c) = submit_judged(&app, b, dir.path(), "hello", "worker e2e").await;
        let cr = c["id"].as_i64().unwrap();

        // The same configuration with a local-exec provisioner: the
        // built-in rule holds it for a person (no run is queued).
        let with_exec = MAIN_TF.replace(
            "input = var.greeting\n}",
            "input = var.greeting\n  provisioner \"local-exec\" {\n    command = \"echo hi\"\n  }\n}",
        );
        assert!(with_exec.contains("local-exec"));
        let exec_dir = dir.path().join("exec");
        std::fs::create_dir_all(&exec_dir).unwrap();
        std::fs::write(exec_dir.join("main.tf"), &with_exec).unwrap();
        let exec_plan = judged_plan(&exec_dir, &dir.path().join("exec-work"));
        app.stack("web2", "dev", json!({"auto_apply": true})).await;
        let body = json!({"stack": "web2", "plan": exec_plan, "intent": "worker e2e",
            "config": {"kind": "bundle", "sha256": sha}, "variables": {"greeting": "hello"}});
        let r = app
            .req(
                "POST",
                "/api/v1/change-requests",
                Some(&app.admin),
                Some(&body),
            )
            .await;
        assert_eq!(r.status, 201, "{b}: {:?}", r.body);
        assert_eq!(r.body["status"], "pending_review", "{b}: {}", r.body);
        assert!(
            r.body.to_string().contains("ARB-TF-EXEC-001"),
            "{b}: {}",
            r.body
        );

        let token = pool_token(&app, arbiter_api::runs::DEFAULT_POOL).await;
        let api = arbiter_runner::WorkerApi::new(&app.base, &token).unwrap();
        let mut wcfg = arbiter_runner::WorkerConfig::new("e2e-worker", &dir.path().join("work"));
        wcfg.keep_log = true;
        let (_tx, rx) = tokio::sync::watch::channel(false);
        let outcomes = arbiter_runner::work(&api, &wcfg, true, rx).await.unwrap();
        assert_eq!(outcomes.len(), 1);
        let o = &outcomes[0];
        assert_eq!(o.phase, RunPhase::Applied, "{b}: {:?}\n{}", o.error, o.log);

        let run = app
            .req(
                "GET",
                &format!("/api/v1/runs/{}", o.run),
                Some(&app.admin),
                None,
            )
            .await
            .body;
        assert_eq!(run["phase"], "applied", "{b}: {run}");
        assert_eq!(run["change_request"], cr);
        assert_eq!(run["judged_digest"], run["planned_digest"], "{b}: {run}");
        assert!(
            run["tool"]["version"].as_str().unwrap().starts_with("1."),
            "{run}"
        );
        let version = run["state_version"]
            .as_i64()
            .expect("the state version it wrote");
        let v = app
            .req(
                "GET",
                &format!("/api/v1/stacks/web/states/{version}"),
                Some(&app.admin),
                None,
            )
            .await;
        assert_eq!(v.status, 200, "{b}: {:?}", v.body);
        assert_eq!(v.body["origin"], "apply", "{b}: {:?}", v.body);
        assert_eq!(v.body["run"], o.run);
        let c = app
            .req(
                "GET",
                &format!("/api/v1/change-requests/{cr}"),
                Some(&app.admin),
                None,
            )
            .await;
        assert_eq!(c.body["status"], "applied", "{b}: {}", c.body);
        // The log as people read it: Terraform's output, secrets masked.
        let logs = app
            .req(
                "GET",
                &format!("/api/v1/runs/{}/logs", o.run),
                Some(&app.admin),
                None,
            )
            .await;
        let text = logs.body["text"].as_str().unwrap();
        assert!(
            text.contains("Apply complete! Resources: 1 added"),
            "{b}: {text}"
        );
        assert!(text.contains("pw = \"***\""), "{b}: {text}");
        assert!(!text.contains(SECRET), "{b}: {text}");
        assert_eq!(text, o.log, "{b}: the server has the whole log");
        // Nothing left to claim: the change was applied once.
        assert!(api.claim("e2e-worker", 0).await.unwrap().is_none());
        app.running.shutdown().await.unwrap();
    }
}

/// The judged plan says `greeting = "hello"`; the configuration's variables
/// give "changed": the worker's plan differs, so nothing is applied, the new
/// plan becomes revision 2 judged from scratch (approved here: a new run
/// is queued), and that run applies it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_that_changed_since_judging_is_not_applied_but_judged_again() {
    std::env::set_var("TF_VAR_db_password", SECRET);
    for b in backends().await {
        let app = spawn(b, |_| {}).await;
        let dir = tempfile::tempdir().unwrap();
        let (_, c) = submit_judged(&app, b, dir.path(), "changed", "changed since judging").await;
        let cr = c["id"].as_i64().unwrap();
        let token = pool_token(&app, arbiter_api::runs::DEFAULT_POOL).await;
        let api = arbiter_runner::WorkerApi::new(&app.base, &token).unwrap();
        let mut wcfg = arbiter_runner::WorkerConfig::new("e2e-worker", &dir.path().join("work"));
        wcfg.keep_log = true;
        let (_tx, rx) = tokio::sync::watch::channel(false);
        let first = arbiter_runner::work(&api, &wcfg, true, rx.clone())
            .await
            .unwrap();
        assert_eq!(
            first[0].phase,
            RunPhase::Discarded,
            "{b}: {:?}\n{}",
            first[0].error,
            first[0].log
        );
        let run1 = app
            .req(
                "GET",
                &format!("/api/v1/runs/{}", first[0].run),
                Some(&app.admin),
                None,
            )
            .await
            .body;
        assert_eq!(run1["phase"], "discarded", "{b}: {run1}");
        assert_ne!(run1["judged_digest"], run1["planned_digest"], "{b}: {run1}");
        let c = app
            .req(
                "GET",
                &format!("/api/v1/change-requests/{cr}"),
                Some(&app.admin),
                None,
            )
            .await
            .body;
        assert_eq!(c["revision"], 2, "{b}: {c}");
        // Nothing was applied by the first run.
        let states = app
            .req("GET", "/api/v1/stacks/web/states", Some(&app.admin), None)
            .await;
        assert_eq!(states.status, 200, "{b}: {:?}", states.body);
        assert!(
            states.body["items"]
                .as_array()
                .is_some_and(|a| a.is_empty()),
            "{b}: {:?}",
            states.body
        );
        // Revision 2 was approved: its run applies what it judged.
        let second = arbiter_runner::work(&api, &wcfg, true, rx).await.unwrap();
        assert_eq!(
            second[0].phase,
            RunPhase::Applied,
            "{b}: {:?}\n{}",
            second[0].error,
            second[0].log
        );
        let run2 = app
            .req(
                "GET",
                &format!("/api/v1/runs/{}", second[0].run),
                Some(&app.admin),
                None,
            )
            .await
            .body;
        assert_eq!(run2["revision"], 2, "{b}: {run2}");
        assert_eq!(run2["judged_digest"], run2["planned_digest"]);
        app.running.shutdown().await.unwrap();
    }
}
