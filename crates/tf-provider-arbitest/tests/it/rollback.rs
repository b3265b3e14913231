//! A rollback carried out by the real worker: two runs write versions 1
//! and 2 of a stack's state with real objects of this provider; a rollback
//! to version 1 is judged, planned from version 1's recorded configuration
//! against the current state (the synthesized restore plan was its
//! preview, so a different real plan is judged again as a revision) and
//! applied, and the objects are as version 1 left them. Both databases.

use std::path::Path;
use std::time::Duration;

use arbiter_api::runs::RunPhase;
use arbiter_runner::{Outcome, WorkerApi, WorkerConfig};
use serde_json::{json, Value};

use crate::server::{backends, config, judged, object_names, spawn, worker_config, Srv};

const V1: &str = r#"
resource "arbitest_object" "one" {
  name    = "one"
  content = "v1"
}

resource "arbitest_object" "two" {
  name    = "two"
  content = "v1"
}
"#;

const V2: &str = r#"
resource "arbitest_object" "one" {
  name    = "one"
  content = "v1"
}

resource "arbitest_object" "three" {
  name    = "three"
  content = "v2"
}
"#;

/// Carries out the next queued run (one must be queued).
async fn next_run(api: &WorkerApi, wcfg: &WorkerConfig) -> Outcome {
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let mut out = tokio::time::timeout(
        Duration::from_secs(120),
        arbiter_runner::work(api, wcfg, true, rx),
    )
    .await
    .expect("a queued run within 120 s")
    .unwrap();
    assert_eq!(out.len(), 1);
    out.remove(0)
}

/// Runs the change request's queued runs until one is applied, through
/// revisions (a plan that differs from the judged one is judged again and,
/// when approved, applied by a new run); returns the applied run.
async fn apply_through_revisions(
    srv: &Srv,
    api: &WorkerApi,
    wcfg: &WorkerConfig,
    cr: i64,
    b: &str,
) -> Outcome {
    for _ in 0..3 {
        let o = next_run(api, wcfg).await;
        match o.phase {
            RunPhase::Applied => return o,
            RunPhase::Discarded => {
                let c = srv.change_request(cr).await;
                if c["status"] == "pending_review" {
                    srv.approve(cr).await;
                }
                assert_eq!(
                    srv.change_request(cr).await["status"],
                    "approved",
                    "{b}: the revision must be approved to go on"
                );
            }
            other => panic!("{b}: run {} ended {other}: {:?}\n{}", o.run, o.error, o.log),
        }
    }
    panic!("{b}: no run of change request {cr} applied in three tries")
}

/// The state version a run wrote.
fn version_of_run(states: &[Value], run: i64) -> i64 {
    states
        .iter()
        .find(|s| s["run"] == run)
        .unwrap_or_else(|| panic!("no state version written by run {run}: {states:?}"))["version"]
        .as_i64()
        .unwrap()
}

fn write_config(dir: &Path, objects: &Path, body: &str) -> Value {
    judged(dir, &config(objects, "", body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_run_applies_the_configuration_recorded_with_its_target() {
    for b in backends().await {
        let srv = spawn(b, Duration::from_secs(10)).await;
        srv.stack("web").await;
        let dir = tempfile::tempdir().unwrap();
        let objects = dir.path().join("objects");
        std::fs::create_dir_all(&objects).unwrap();
        let api = WorkerApi::new(&srv.base, &srv.pool_token().await).unwrap();
        let wcfg = worker_config("w1", &dir.path().join("work"));

        // Version 1: objects one and two.
        let plan1 = write_config(&dir.path().join("v1"), &objects, V1);
        let cr1 = srv.submit("web", &dir.path().join("v1"), &plan1).await;
        let run1 = apply_through_revisions(&srv, &api, &wcfg, cr1, b).await;
        assert_eq!(object_names(&objects), ["one", "two"], "{b}");
        // Version 2: two goes, three comes (the judged plan, made from an
        // empty state, differs from the real one: judged again, applied).
        let plan2 = write_config(&dir.path().join("v2"), &objects, V2);
        let cr2 = srv.submit("web", &dir.path().join("v2"), &plan2).await;
        let run2 = apply_through_revisions(&srv, &api, &wcfg, cr2, b).await;
        assert_eq!(object_names(&objects), ["one", "three"], "{b}");
        let states = srv.states("web").await;
        let v1 = version_of_run(&states, run1.run);
        let v2 = version_of_run(&states, run2.run);
        assert!(v2 > v1, "{b}: {states:?}");

        // Back to the version run 1 wrote.
        let (s, r) = srv
            .req(
                "POST",
                "/api/v1/stacks/web/rollback",
                Some(&json!({"to": v1, "intent": "three misbehaves"})),
            )
            .await;
        assert_eq!(s, 201, "{b}: {r}");
        assert!(r.get("run_note").is_none(), "{b}: {r}");
        let cr = r["change_request"]["id"].as_i64().unwrap();
        if r["change_request"]["status"] == "pending_review" {
            srv.approve(cr).await;
        }
        let runs = srv.runs_of(cr).await;
        assert_eq!(runs.len(), 1, "{b}: {runs:?}");
        assert_eq!(runs[0]["kind"], "rollback", "{b}");
        assert_eq!(runs[0]["target_version"], v1, "{b}");
        let run1_source = srv.run(run1.run).await["source"].clone();
        assert_eq!(
            runs[0]["source"], run1_source,
            "{b}: the rollback applies version {v1}'s recorded configuration"
        );
        let applied = apply_through_revisions(&srv, &api, &wcfg, cr, b).await;
        assert_eq!(
            object_names(&objects),
            ["one", "two"],
            "{b}: the objects are as version {v1} left them"
        );
        let c = srv.change_request(cr).await;
        assert_eq!(c["status"], "applied", "{b}: {c}");
        let states = srv.states("web").await;
        let v3 = version_of_run(&states, applied.run);
        assert!(v3 > v2, "{b}: a new version, history kept: {states:?}");
        let (_, addresses) = srv.state_addresses("web", v3).await;
        assert_eq!(
            addresses,
            ["arbitest_object.one", "arbitest_object.two"],
            "{b}"
        );
        srv.running.shutdown().await.unwrap();
    }
}
