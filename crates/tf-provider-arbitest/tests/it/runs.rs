//! Runs end to end: the real server (`arbiter_server::start`), the real
//! worker (the `arbiter-runner` library that `arbiter worker` is, and for
//! the SIGKILL test a separate worker process) and the real Terraform
//! applying configurations of this provider, whose objects are files the
//! tests can count. Both databases when PostgreSQL is available.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use arbiter_api::runs::RunPhase;
use arbiter_runner::WorkerApi;
use serde_json::{json, Value};

use crate::common::World;
use crate::server::{
    backends, config, judged, object_names, processes_under, spawn, wait_processes_gone,
    worker_config,
};

/// The child-process worker of the SIGKILL test reads its settings here.
const CHILD_ENV: &str = "ARBITEST_RUNS_CHILD_WORKER";

const THREE: &str = r#"
resource "arbitest_object" "first" {
  name    = "first"
  content = "v1"
}

resource "arbitest_object" "bad" {
  name       = "bad"
  depends_on = [arbitest_object.first]
}

resource "arbitest_object" "after" {
  name       = "after"
  depends_on = [arbitest_object.bad]
}
"#;

/// A failing resource: the run is `failed`, the change request
/// `apply_failed`, and what Terraform applied before the failure is the
/// stack's latest state version (origin apply, with the run).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_resource_fails_the_run_and_keeps_the_partial_state() {
    for b in backends().await {
        let srv = spawn(b, Duration::from_secs(10)).await;
        srv.stack("web").await;
        let dir = tempfile::tempdir().unwrap();
        let objects = dir.path().join("objects");
        std::fs::create_dir_all(&objects).unwrap();
        let cfg_dir = dir.path().join("config");
        let plan = judged(&cfg_dir, &config(&objects, "fail_on = \"bad\"", THREE));
        let cr = srv.submit("web", &cfg_dir, &plan).await;
        let api = WorkerApi::new(&srv.base, &srv.pool_token().await).unwrap();
        let wcfg = worker_config("w1", &dir.path().join("work"));
        let (_tx, rx) = tokio::sync::watch::channel(false);
        let out = arbiter_runner::work(&api, &wcfg, true, rx).await.unwrap();
        assert_eq!(out.len(), 1);
        let o = &out[0];
        assert_eq!(o.phase, RunPhase::Failed, "{b}: {:?}\n{}", o.error, o.log);
        assert!(
            o.log
                .contains("injected failure: create of object \"bad\" refused"),
            "{b}: {}",
            o.log
        );
        let run = srv.run(o.run).await;
        assert_eq!(run["phase"], "failed", "{b}: {run}");
        let c = srv.get(&format!("/api/v1/change-requests/{cr}")).await;
        assert_eq!(c["status"], "apply_failed", "{b}: {c}");
        // The provider wrote `first` only; the state history has it.
        assert_eq!(object_names(&objects), ["first"], "{b}");
        let states = srv.states("web").await;
        assert_eq!(states.len(), 1, "{b}: {states:?}");
        let version = states[0]["version"].as_i64().unwrap();
        let (v, addresses) = srv.state_addresses("web", version).await;
        assert_eq!(v["origin"], "apply", "{b}: {v}");
        assert_eq!(v["run"], o.run, "{b}: {v}");
        assert_eq!(addresses, ["arbitest_object.first"], "{b}: {v}");
        // Failed is final: nothing is left to claim.
        assert!(api.claim("w2", 0).await.unwrap().is_none(), "{b}");
        srv.running.shutdown().await.unwrap();
    }
}

/// Cancel while queued and while planning, with a real worker: a run
/// cancelled while queued is never claimed; a run whose plan is slow (the
/// provider's `plan_delay_ms`, set through a variable of the run) is
/// cancelled while Terraform plans: the run ends `cancelled`, Terraform
/// and the provider are stopped, nothing is applied, the stack's lock is
/// released and the next run of the stack applies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_while_queued_and_while_planning_stops_terraform_and_frees_the_stack() {
    for b in backends().await {
        let srv = spawn(b, Duration::from_secs(1)).await;
        srv.stack("web").await;
        let dir = tempfile::tempdir().unwrap();
        let objects = dir.path().join("objects");
        std::fs::create_dir_all(&objects).unwrap();
        let cfg_dir = dir.path().join("config");
        let body = "variable \"plan_delay_ms\" {\n  type    = number\n  default = 0\n}\n\nresource \"arbitest_object\" \"slow\" {\n  name = \"slow\"\n}\n";
        // Judged without the delay; the delay is not part of the plan.
        let plan = judged(
            &cfg_dir,
            &config(&objects, "plan_delay_ms = var.plan_delay_ms", body),
        );

        // Cancelled while queued (no worker yet): at once.
        let queued_cr = srv.submit("web", &cfg_dir, &plan).await;
        let queued = srv.runs_of(queued_cr).await[0]["id"].as_i64().unwrap();
        let (s, r) = srv.cancel(queued).await;
        assert_eq!(s, 200, "{b}: {r}");
        assert_eq!(r["phase"], "cancelled", "{b}: {r}");

        // Planning takes 10 s (one plan of a create): long enough to cancel.
        let slow_cr = srv
            .submit_with("web", &cfg_dir, &plan, json!({"plan_delay_ms": "10000"}))
            .await;
        let slow = srv.runs_of(slow_cr).await[0]["id"].as_i64().unwrap();
        let work = dir.path().join("w");
        let api = WorkerApi::new(&srv.base, &srv.pool_token().await).unwrap();
        let wcfg = worker_config("w", &work);
        let (tx, rx) = tokio::sync::watch::channel(false);
        let worker =
            tokio::spawn(async move { arbiter_runner::work(&api, &wcfg, false, rx).await });
        srv.wait_phase(slow, "planning", Duration::from_secs(120))
            .await;
        // Terraform and the provider are running in the workspace.
        let t0 = Instant::now();
        while processes_under(&work).len() < 2 {
            assert!(t0.elapsed() < Duration::from_secs(30), "{b}: no terraform");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (s, r) = srv.cancel(slow).await;
        assert_eq!(s, 200, "{b}: {r}");
        assert_eq!(r["cancel_requested"], true, "{b}: {r}");
        assert_eq!(r["phase"], "planning", "{b}: {r}");
        let cancelled_at = Instant::now();
        let t0 = Instant::now();
        loop {
            let r = srv.run(slow).await;
            if r["phase"] == "cancelled" {
                break;
            }
            assert!(
                r["phase"] == "planning" && t0.elapsed() < Duration::from_secs(60),
                "{b}: {r}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Terraform and the provider are gone (SIGINT, Terraform's graceful
        // stop; SIGKILL to the process group after 15 s).
        assert!(
            processes_under(&work).is_empty(),
            "{b}: terraform still runs: {:?}",
            processes_under(&work)
        );
        assert!(
            cancelled_at.elapsed() < Duration::from_secs(25),
            "{b}: {:?}",
            cancelled_at.elapsed()
        );
        let phases: Vec<String> = srv.run(slow).await["phases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["phase"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            phases,
            [
                "queued",
                "preparing",
                "initialising",
                "planning",
                "cancelled"
            ],
            "{b}"
        );
        assert!(object_names(&objects).is_empty(), "{b}: nothing applied");
        assert!(srv.states("web").await.is_empty(), "{b}");
        let log = srv.log(slow).await;
        assert!(log.contains("cancel requested"), "{b}: {log}");
        let acts = srv.audit(&format!("run:{slow}")).await;
        assert!(
            acts.contains(&"run.cancel_requested".to_string()),
            "{b}: {acts:?}"
        );
        assert_eq!(
            acts.last().map(String::as_str),
            Some("run.cancelled"),
            "{b}: {acts:?}"
        );
        assert_eq!(srv.lock_free("web").await, Ok(()), "{b}: the lock");

        // The stack is free: its next run is claimed by the same worker
        // and applies.
        let next_cr = srv.submit("web", &cfg_dir, &plan).await;
        let next = srv.runs_of(next_cr).await[0]["id"].as_i64().unwrap();
        srv.wait_phase(next, "applied", Duration::from_secs(120))
            .await;
        assert_eq!(object_names(&objects), ["slow"], "{b}");
        let states = srv.states("web").await;
        assert_eq!(states.len(), 1, "{b}: {states:?}");
        assert_eq!(states[0]["run"], next, "{b}: {states:?}");
        tx.send(true).unwrap();
        let outcomes = worker.await.unwrap().unwrap();
        let seen: Vec<(i64, RunPhase)> = outcomes.iter().map(|o| (o.run, o.phase)).collect();
        assert_eq!(
            seen,
            [(slow, RunPhase::Cancelled), (next, RunPhase::Applied)],
            "{b}: the run cancelled while queued was never claimed"
        );
        assert_eq!(srv.run(queued).await["phase"], "cancelled", "{b}");
        srv.running.shutdown().await.unwrap();
    }
}

/// A plan past the stack's planning time limit (`runs.timeouts.planning`,
/// 2 s; the provider's plan delay, 6 s) is interrupted by the worker: the
/// run fails with the limit named, Terraform and the provider are gone,
/// nothing is applied and the stack's lock is free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_past_the_stacks_time_limit_is_stopped_and_fails_the_run() {
    for b in backends().await {
        let srv = spawn(b, Duration::from_secs(1)).await;
        srv.stack_with(
            "web",
            json!({"timeouts": {"preparing": 60, "initialising": 120, "planning": 2, "applying": 120}}),
        )
        .await;
        let dir = tempfile::tempdir().unwrap();
        let objects = dir.path().join("objects");
        std::fs::create_dir_all(&objects).unwrap();
        let cfg_dir = dir.path().join("config");
        let body = "variable \"plan_delay_ms\" {\n  type    = number\n  default = 0\n}\n\nresource \"arbitest_object\" \"slow\" {\n  name = \"slow\"\n}\n";
        let plan = judged(
            &cfg_dir,
            &config(&objects, "plan_delay_ms = var.plan_delay_ms", body),
        );
        let cr = srv
            .submit_with("web", &cfg_dir, &plan, json!({"plan_delay_ms": "6000"}))
            .await;
        let work = dir.path().join("w");
        let api = WorkerApi::new(&srv.base, &srv.pool_token().await).unwrap();
        let (_tx, rx) = tokio::sync::watch::channel(false);
        let out = arbiter_runner::work(&api, &worker_config("w", &work), true, rx)
            .await
            .unwrap();
        let o = &out[0];
        assert_eq!(o.phase, RunPhase::Failed, "{b}: {:?}\n{}", o.error, o.log);
        let run = srv.run(o.run).await;
        assert_eq!(run["phase"], "failed", "{b}: {run}");
        let error = run["error"].as_str().unwrap_or_default();
        assert!(error.contains("timed out after 2 s"), "{b}: {run}");
        let phases: Vec<String> = run["phases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["phase"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            phases,
            ["queued", "preparing", "initialising", "planning", "failed"],
            "{b}"
        );
        let log = srv.log(o.run).await;
        assert!(log.contains("ran past 2 s: interrupting"), "{b}: {log}");
        assert!(
            processes_under(&work).is_empty(),
            "{b}: {:?}",
            processes_under(&work)
        );
        assert!(object_names(&objects).is_empty(), "{b}");
        assert!(srv.states("web").await.is_empty(), "{b}");
        assert_eq!(srv.lock_free("web").await, Ok(()), "{b}");
        // Nothing was applied: the change request is not apply_failed.
        let c = srv.change_request(cr).await;
        assert_eq!(c["status"], "approved", "{b}: {c}");
        srv.running.shutdown().await.unwrap();
    }
}

/// Two workers (each with its own claim loop) and twenty runs on twenty
/// stacks: every run is applied exactly once, by one worker, and each
/// run's object exists once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_apply_twenty_runs_each_exactly_once() {
    const N: usize = 20;
    for b in backends().await {
        let srv = spawn(b, Duration::from_secs(10)).await;
        let dir = tempfile::tempdir().unwrap();
        let objects = dir.path().join("objects");
        std::fs::create_dir_all(&objects).unwrap();
        // One configuration; each stack's change names its own object
        // (variable `n`), judged with real Terraform.
        let cfg_dir = dir.path().join("config");
        let body = "variable \"n\" { type = string }\nresource \"arbitest_object\" \"o\" {\n  name    = \"obj-${var.n}\"\n  content = \"run ${var.n}\"\n}\n";
        let main_tf = config(&objects, "", body);
        std::fs::create_dir_all(&cfg_dir).unwrap();
        std::fs::write(cfg_dir.join("main.tf"), &main_tf).unwrap();
        let submitter = World::new();
        std::fs::write(submitter.work.join("main.tf"), &main_tf).unwrap();
        submitter.init();
        let mut crs = Vec::new();
        for i in 0..N {
            let stack = format!("s{i:02}");
            srv.stack(&stack).await;
            let n = format!("{i:02}");
            let plan = submitter.plan(&[&format!("-var=n={n}")]);
            crs.push(
                srv.submit_with(&stack, &cfg_dir, &plan, json!({ "n": n }))
                    .await,
            );
        }
        let token = srv.pool_token().await;
        let (tx, rx) = tokio::sync::watch::channel(false);
        let mut workers = Vec::new();
        for w in ["w1", "w2"] {
            let api = WorkerApi::new(&srv.base, &token).unwrap();
            let wcfg = worker_config(w, &dir.path().join(w));
            let rx = rx.clone();
            workers.push(tokio::spawn(async move {
                arbiter_runner::work(&api, &wcfg, false, rx).await.unwrap()
            }));
        }
        // Until every run has ended.
        let t0 = Instant::now();
        loop {
            let runs = srv.runs().await;
            let ended = runs
                .iter()
                .filter(|r| {
                    // Applied is not final (verification may follow);
                    // these stacks have no checks.
                    let p: RunPhase = r["phase"].as_str().unwrap().parse().unwrap();
                    p.is_final() || p == RunPhase::Applied
                })
                .count();
            if runs.len() >= N && ended == runs.len() {
                break;
            }
            for w in &workers {
                assert!(!w.is_finished(), "{b}: a worker stopped: {runs:#?}");
            }
            assert!(
                t0.elapsed() < Duration::from_secs(300),
                "{b}: runs not done: {runs:#?}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        tx.send(true).unwrap();
        let mut outcomes = Vec::new();
        for (i, w) in workers.into_iter().enumerate() {
            let o = w.await.unwrap();
            assert!(!o.is_empty(), "{b}: worker {i} applied nothing");
            outcomes.extend(o);
        }
        // Each run was carried out once, by one worker, and applied.
        let mut ids: Vec<i64> = outcomes.iter().map(|o| o.run).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), outcomes.len(), "{b}: a run was claimed twice");
        assert_eq!(outcomes.len(), N, "{b}");
        for o in &outcomes {
            assert_eq!(o.phase, RunPhase::Applied, "{b}: {:?}\n{}", o.error, o.log);
        }
        let runs = srv.runs().await;
        assert_eq!(runs.len(), N, "{b}: one run per change request: {runs:?}");
        for r in &runs {
            assert_eq!(r["phase"], "applied", "{b}: {r}");
        }
        for cr in &crs {
            let c = srv.get(&format!("/api/v1/change-requests/{cr}")).await;
            assert_eq!(c["status"], "applied", "{b}: {c}");
        }
        // Each object exists once and each stack has one state version,
        // written by its run.
        let expected: Vec<String> = (0..N).map(|i| format!("obj-{i:02}")).collect();
        assert_eq!(object_names(&objects), expected, "{b}");
        for i in 0..N {
            let stack = format!("s{i:02}");
            let states = srv.states(&stack).await;
            assert_eq!(states.len(), 1, "{b}: {stack}: {states:?}");
            assert_eq!(states[0]["origin"], "apply", "{b}: {states:?}");
        }
        srv.running.shutdown().await.unwrap();
    }
}

/// The worker process of the SIGKILL tests: does nothing unless started by
/// one of them (through `kill_worker_mid_apply`, with `--ignored`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the worker process of the SIGKILL tests (a_worker_killed_mid_apply_leaves_the_run_interrupted, a_terraform_outliving_its_killed_worker_writes_no_state; started by them)"]
async fn child_worker_process() {
    let Ok(settings) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut it = settings.splitn(3, '\n');
    let (base, token, work) = (
        it.next().unwrap(),
        it.next().unwrap(),
        PathBuf::from(it.next().unwrap()),
    );
    let api = WorkerApi::new(base, token).unwrap();
    let wcfg = worker_config("child", &work);
    let (_tx, rx) = tokio::sync::watch::channel(false);
    arbiter_runner::work(&api, &wcfg, false, rx).await.unwrap();
}

/// What [`kill_worker_mid_apply`] leaves.
struct Killed {
    run: i64,
    cr: i64,
    token: String,
    objects: PathBuf,
    child_work: PathBuf,
    /// When the server marked the run interrupted (its phase span).
    interrupted_at: String,
}

/// A chain of `n` objects (each created after the previous one), judged
/// and submitted on stack `web`; a worker process claims the run and is
/// killed with SIGKILL once Terraform has written the first object (each
/// write slowed by `delay_ms`); returns once the server has marked the run
/// `interrupted` (its heartbeats stopped).
async fn kill_worker_mid_apply(
    b: &str,
    srv: &crate::server::Srv,
    dir: &Path,
    n: usize,
    delay_ms: u64,
) -> Killed {
    let objects = dir.join("objects");
    std::fs::create_dir_all(&objects).unwrap();
    let cfg_dir = dir.join("config");
    let body: String = (0..n)
        .map(|i| {
            let dep = if i > 0 {
                format!("  depends_on = [arbitest_object.o{}]\n", i - 1)
            } else {
                String::new()
            };
            format!("resource \"arbitest_object\" \"o{i}\" {{\n  name = \"o{i}\"\n{dep}}}\n")
        })
        .collect();
    let plan = judged(
        &cfg_dir,
        &config(&objects, &format!("delay_ms = {delay_ms}"), &body),
    );
    let cr = srv.submit("web", &cfg_dir, &plan).await;
    let token = srv.pool_token().await;
    let run = srv.runs_of(cr).await[0]["id"].as_i64().unwrap();

    let child_work = dir.join("child");
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "runs::child_worker_process",
            "--nocapture",
        ])
        .env(
            CHILD_ENV,
            format!("{}\n{token}\n{}", srv.base, child_work.display()),
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    srv.wait_phase(run, "applying", Duration::from_secs(120))
        .await;
    // Terraform has started writing (the first object takes the delay).
    let t0 = Instant::now();
    while object_names(&objects).is_empty() {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "{b}: nothing written"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let r = srv
        .wait_phase(run, "interrupted", Duration::from_secs(30))
        .await;
    let interrupted_at = r["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["phase"] == "interrupted")
        .and_then(|p| p["started_at"].as_str())
        .unwrap_or_else(|| panic!("{b}: {r}"))
        .to_string();
    Killed {
        run,
        cr,
        token,
        objects,
        child_work,
        interrupted_at,
    }
}

/// No late writes: versions of the stack's state history written with the
/// run's credentials (origin apply, the run) all predate its interruption.
fn assert_no_version_after_interruption(b: &str, k: &Killed, states: &[Value]) {
    for s in states {
        if s["run"] == k.run || s["pushed_by"] == format!("run:{}", k.run) {
            let at = s["created_at"].as_str().unwrap();
            assert!(
                at < k.interrupted_at.as_str(),
                "{b}: version {} written by run {} at {at}, after its interruption at {}: {states:?}",
                s["version"],
                k.run,
                k.interrupted_at
            );
        }
    }
}

/// A worker process killed with SIGKILL while Terraform applies: the
/// server marks the run `interrupted` when its heartbeats stop, the change
/// request `apply_failed`; the stack's state records at most the objects
/// Terraform created (nothing, when Terraform never wrote its state back
/// while the run was applying), and no version written with the run's
/// credentials after the interruption (the sandbox is off here, so
/// Terraform could outlive the worker: the test waits for it to end); a
/// worker started afterwards does not pick the run up again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_apply_leaves_the_run_interrupted() {
    for b in backends().await {
        let srv = spawn(b, Duration::from_secs(1)).await;
        srv.stack("web").await;
        let dir = tempfile::tempdir().unwrap();
        let k = kill_worker_mid_apply(b, &srv, dir.path(), 4, 1500).await;
        let run = srv.run(k.run).await;
        assert!(run["state_version"].is_null(), "{b}: {run}");
        let c = srv.change_request(k.cr).await;
        assert_eq!(c["status"], "apply_failed", "{b}: {c}");
        // Terraform's output is a pipe to the dead worker: it dies at its
        // next line. Wait for it and the provider to end, else kill them.
        let survivors = wait_processes_gone(&k.child_work, Duration::from_secs(60)).await;
        let written = object_names(&k.objects);
        eprintln!("{b}: after the interruption: processes {survivors:?}, objects {written:?}");
        assert!(
            !written.is_empty() && written.len() <= 4,
            "{b}: {written:?}"
        );
        let states = srv.states("web").await;
        assert_no_version_after_interruption(b, &k, &states);
        // The state history holds what Terraform wrote back before then:
        // its latest version (if any) lists only objects that exist.
        if let Some(latest) = states.iter().map(|s| s["version"].as_i64().unwrap()).max() {
            let (v, addresses) = srv.state_addresses("web", latest).await;
            for a in &addresses {
                let name = a.strip_prefix("arbitest_object.").unwrap();
                assert!(written.iter().any(|n| n == name), "{b}: {a} {v}");
            }
        }
        // Interrupted is final: a second worker does not pick it up.
        let api = WorkerApi::new(&srv.base, &k.token).unwrap();
        let wcfg = worker_config("second", &dir.path().join("second"));
        let (tx, rx) = tokio::sync::watch::channel(false);
        let second = tokio::spawn(async move { arbiter_runner::work(&api, &wcfg, true, rx).await });
        tokio::time::sleep(Duration::from_secs(3)).await;
        tx.send(true).unwrap();
        let got = second.await.unwrap().unwrap();
        assert!(
            got.is_empty(),
            "{b}: the interrupted run was claimed again: {got:?}"
        );
        let run = srv.run(k.run).await;
        assert_eq!(run["phase"], "interrupted", "{b}: {run}");
        assert!(run["state_version"].is_null(), "{b}: {run}");
        assert_eq!(srv.runs().await.len(), 1, "{b}");
        srv.running.shutdown().await.unwrap();
    }
}

/// As above, but Terraform outlives the killed worker: the stack's tool is
/// a wrapper that sends Terraform's output to a file (as a worker without
/// bubblewrap whose Terraform does not write to the dead worker's pipes),
/// so Terraform finishes the apply after the run was interrupted and then
/// tries to write its state with the run's credentials. The server refuses
/// it: no version of the state history comes from after the interruption,
/// and Terraform reports that it could not save its state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terraform_outliving_its_killed_worker_writes_no_state() {
    const N: usize = 5;
    let terraform = arbiter_testkit::tfprovider::terraform_binary().unwrap();
    for b in backends().await {
        let srv = spawn(b, Duration::from_secs(1)).await;
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("tf-out");
        std::fs::create_dir_all(&out).unwrap();
        let wrapper = dir.path().join("terraform-detached");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nout={out}/terraform-$$.log\n{tf} \"$@\" >\"$out\" 2>&1\nst=$?\ncat \"$out\"\nexit $st\n",
                out = out.display(),
                tf = terraform.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        srv.stack_with("web", json!({"tool_path": wrapper.display().to_string()}))
            .await;
        // N writes of 2 s: Terraform's own state write comes ~2 × N s into
        // the apply, the interruption ~2 + 3 heartbeats (1 s) after the
        // first write.
        let k = kill_worker_mid_apply(b, &srv, dir.path(), N, 2000).await;
        let survivors = wait_processes_gone(&k.child_work, Duration::from_secs(60)).await;
        let written = object_names(&k.objects);
        eprintln!("{b}: after the interruption: processes {survivors:?}, objects {written:?}");
        assert!(
            !survivors.is_empty(),
            "{b}: terraform did not outlive the worker"
        );
        assert_eq!(
            written.len(),
            N,
            "{b}: the detached terraform finished its apply: {written:?}"
        );
        let states = srv.states("web").await;
        assert_no_version_after_interruption(b, &k, &states);
        assert!(states.is_empty(), "{b}: {states:?}");
        let run = srv.run(k.run).await;
        assert_eq!(run["phase"], "interrupted", "{b}: {run}");
        assert!(run["state_version"].is_null(), "{b}: {run}");
        // It did try, and was refused.
        let logs: String = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .collect::<Vec<_>>()
            .join("\n---\n");
        // (Today the run's credentials end with it: "HTTP remote state
        // endpoint requires auth".)
        assert!(logs.contains("Failed to save state"), "{b}: {logs}");
        // Terraform saved what it could not upload in the dead worker's
        // workspace; the next worker started on that work directory keeps
        // it and clears the workspace.
        let api = WorkerApi::new(&srv.base, &k.token).unwrap();
        let wcfg = worker_config("w-next", &k.child_work);
        let (tx, rx) = tokio::sync::watch::channel(false);
        let next = {
            let (api, wcfg) = (api.clone(), wcfg.clone());
            tokio::spawn(async move { arbiter_runner::work(&api, &wcfg, false, rx).await })
        };
        tokio::time::sleep(Duration::from_secs(1)).await;
        tx.send(true).unwrap();
        assert!(
            next.await.unwrap().unwrap().is_empty(),
            "{b}: nothing to claim"
        );
        let kept: Vec<PathBuf> = std::fs::read_dir(k.child_work.join("errored-state"))
            .unwrap_or_else(|e| panic!("{b}: no errored-state directory: {e}"))
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(kept.len(), 1, "{b}: {kept:?}");
        assert!(
            kept[0]
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("run-{}-", k.run)),
            "{b}: {kept:?}"
        );
        let state: Value = serde_json::from_slice(&std::fs::read(&kept[0]).unwrap()).unwrap();
        assert_eq!(
            state["resources"].as_array().map(Vec::len),
            Some(N),
            "{b}: the kept state lists what the detached apply made"
        );
        let leftovers: Vec<_> = std::fs::read_dir(&k.child_work)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .filter(|n| n.starts_with("run-"))
            .collect();
        assert!(leftovers.is_empty(), "{b}: {leftovers:?}");
        srv.running.shutdown().await.unwrap();
    }
}

/// A plugin directory whose arbitest provider starts with SIGINT ignored,
/// as every go-plugin provider runs (go-plugin's `Serve` swallows
/// interrupts: Terraform alone handles Ctrl-C and stops its providers over
/// gRPC, and their in-flight operations finish). The arbitest binary has
/// no SIGINT handler, so without this the worker's SIGINT to Terraform's
/// process group would kill it mid-write, which no real provider does.
fn sigint_ignoring_plugin_dir(dir: &Path) -> PathBuf {
    use arbiter_testkit::tfprovider;
    let real = tfprovider::provider_path(&tfprovider::plugin_dir().unwrap());
    let plugins = dir.join("plugins-ignoring-sigint");
    let bin = tfprovider::provider_path(&plugins);
    std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
    std::fs::write(
        &bin,
        format!("#!/bin/sh\ntrap '' INT\nexec '{}' \"$@\"\n", real.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    plugins
}

/// An apply that outlasts the stack's applying limit (5 s; two objects
/// written in parallel, 14 s each) while its worker is alive: the worker
/// interrupts Terraform at the limit, Terraform waits for the writes in
/// flight (as with any provider), and by the time it writes its state the
/// server has stopped the run (limit + 3 heartbeats of 1 s): the write is
/// refused and Terraform saves the state as `errored.tfstate`. The worker
/// moves that file, before deleting the workspace, to
/// `<work>/errored-state/run-<id>-<ms>.tfstate` (mode 0600, the worker's
/// user, directory 0700) and says so in its log, never with the state's
/// content; the file is Terraform's real state of both objects, and
/// pushing it with `terraform state push` through the stack's backend (as
/// the notice says, with admin-minted credentials) makes it the stack's
/// state: a plan from there has nothing to do. (The server holds at most
/// the empty snapshot Terraform persisted when interrupted.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apply_stopped_by_the_server_keeps_terraforms_unsaved_state() {
    for b in backends().await {
        let srv = spawn(b, Duration::from_secs(1)).await;
        srv.stack_with(
            "web",
            json!({"timeouts": {"preparing": 60, "initialising": 120, "planning": 120, "applying": 5}}),
        )
        .await;
        let dir = tempfile::tempdir().unwrap();
        let objects = dir.path().join("objects");
        std::fs::create_dir_all(&objects).unwrap();
        let cfg_dir = dir.path().join("config");
        let body = "resource \"arbitest_object\" \"a\" {\n  name = \"a\"\n}\n\nresource \"arbitest_object\" \"b\" {\n  name = \"b\"\n}\n";
        let main_tf = config(&objects, "delay_ms = 14000", body);
        let plan = judged(&cfg_dir, &main_tf);
        let cr = srv.submit("web", &cfg_dir, &plan).await;
        let work = dir.path().join("w");
        let mut wcfg = worker_config("w", &work);
        wcfg.plugin_dir = Some(sigint_ignoring_plugin_dir(dir.path()));
        let api = WorkerApi::new(&srv.base, &srv.pool_token().await).unwrap();
        let (_tx, rx) = tokio::sync::watch::channel(false);
        let out = arbiter_runner::work(&api, &wcfg, true, rx).await.unwrap();
        let o = &out[0];
        let run = srv.run(o.run).await;
        assert_eq!(run["phase"], "interrupted", "{b}: {run}\n{}", o.log);
        let error = run["error"].as_str().unwrap_or_default();
        assert!(
            error.contains("applying lasted longer than its limit of 5 s")
                && error.contains("stopped by the server"),
            "{b}: {run}"
        );
        assert_eq!(
            srv.change_request(cr).await["status"],
            "apply_failed",
            "{b}"
        );
        assert!(
            o.log.contains("ran past 5 s: interrupting"),
            "{b}: {}",
            o.log
        );
        // Terraform wrote both objects, could not save its state, and
        // saved it locally.
        assert_eq!(object_names(&objects), ["a", "b"], "{b}: {}", o.log);
        assert!(
            o.log.contains("Failed to persist state to backend"),
            "{b}: {}",
            o.log
        );
        // The server has at most the snapshot Terraform persisted when it
        // was interrupted, before the writes completed: no object.
        let states = srv.states("web").await;
        for s in &states {
            assert_eq!(s["resource_count"], 0, "{b}: {states:#?}\n{}", o.log);
        }

        // The quarantine: one file of the run, 0600, the worker's own.
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let qdir = work.join(arbiter_runner::errored_state::QUARANTINE_DIR);
        let files: Vec<PathBuf> = std::fs::read_dir(&qdir)
            .unwrap_or_else(|e| panic!("{b}: {qdir:?}: {e}\n{}", o.log))
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 1, "{b}: {files:?}");
        let kept = &files[0];
        let name = kept.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with(&format!("run-{}-", o.run)) && name.ends_with(".tfstate"),
            "{b}: {name}"
        );
        let me = std::fs::metadata("/proc/self").unwrap();
        let m = std::fs::symlink_metadata(kept).unwrap();
        assert!(m.is_file(), "{b}");
        assert_eq!(m.permissions().mode() & 0o7777, 0o600, "{b}");
        assert_eq!((m.uid(), m.gid()), (me.uid(), me.gid()), "{b}");
        let qm = std::fs::metadata(&qdir).unwrap();
        assert_eq!(qm.permissions().mode() & 0o7777, 0o700, "{b}");
        // Terraform's real state of what it created.
        let text = std::fs::read_to_string(kept).unwrap();
        let state: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(state["version"], 4, "{b}: {state}");
        let mut created: Vec<String> = state["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                assert_eq!(r["type"], "arbitest_object", "{b}: {r}");
                r["instances"][0]["attributes"]["name"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        created.sort();
        assert_eq!(created, object_names(&objects), "{b}: {state}");
        let lineage = state["lineage"].as_str().unwrap().to_string();
        assert!(lineage.len() >= 16, "{b}: {state}");
        // The same state line as the server's snapshot, newer.
        for s in &states {
            assert_eq!(s["lineage"], state["lineage"], "{b}: {s}");
            assert!(
                s["serial"].as_i64().unwrap() < state["serial"].as_i64().unwrap(),
                "{b}: {s} {}",
                state["serial"]
            );
        }
        // The workspace is gone, the file is named in the log, and no log
        // (the server's, the worker's) holds the state's content: its
        // lineage appears nowhere but in the state.
        let workspaces: Vec<String> = std::fs::read_dir(&work)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("run-"))
            .collect();
        assert!(workspaces.is_empty(), "{b}: {workspaces:?}");
        assert!(
            o.log
                .contains(&format!("the worker kept it at {}", kept.display())),
            "{b}: {}",
            o.log
        );
        let server_log = srv.log(o.run).await;
        for (what, log) in [("server", &server_log), ("worker", &o.log)] {
            assert!(!log.contains(&lineage), "{b}: the {what} log: {log}");
            assert!(!log.contains(&text), "{b}: the {what} log");
        }
        assert!(processes_under(&work).is_empty(), "{b}");

        // Recovery as the notice says: a person's terraform on the
        // stack's backend pushes the file; the stack's state is then the
        // applied one and a plan has nothing to do.
        let creds: arbiter_api::runs::BackendCredentials =
            serde_json::from_value(srv.backend_credentials("web").await).unwrap();
        let mut w = World::new();
        w.set_env("TF_HTTP_USERNAME", &creds.username);
        w.set_env("TF_HTTP_PASSWORD", &creds.password);
        std::fs::write(w.work.join("main.tf"), &main_tf).unwrap();
        std::fs::write(
            w.work.join(arbiter_runner::tool::BACKEND_OVERRIDE),
            arbiter_runner::tool::backend_override(&creds),
        )
        .unwrap();
        w.init();
        w.tf_ok(&["state", "push", &kept.display().to_string()]);
        let pushed = srv.tfstate("web").await.unwrap();
        assert_eq!(pushed["lineage"], state["lineage"], "{b}: {pushed}");
        let after = w.plan(&[]);
        let changes: Vec<&Value> = after["resource_changes"]
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        for c in &changes {
            assert_eq!(c["change"]["actions"], json!(["no-op"]), "{b}: {c}");
        }
        srv.running.shutdown().await.unwrap();
    }
}
