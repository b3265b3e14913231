//! The one-command start applies changes: `arbiter serve` starts its
//! embedded worker (`arbiter worker --pool embedded`, a separate process),
//! `arbiter submit --config DIR` sends the configuration with its plan, the
//! change is judged, auto-applied by the worker with the real Terraform,
//! and the state history records the version with origin `apply`. Then a
//! second worker started by hand (`arbiter worker`) stops cleanly on
//! SIGTERM.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::{arbiter, arbiter_cmd, start, text};
use std::process::Stdio;
use std::time::{Duration, Instant};

const MAIN_TF: &str = r#"
variable "greeting" { type = string }
resource "terraform_data" "hello" {
  input = var.greeting
}
"#;

fn judged_plan(dir: &std::path::Path) -> std::path::PathBuf {
    let work = dir.join("submitter");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(work.join("main.tf"), MAIN_TF).unwrap();
    let tf = |args: &[&str]| {
        let out = std::process::Command::new("terraform")
            .args(args)
            .current_dir(&work)
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_VAR_greeting", "hello")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    tf(&["init", "-input=false"]);
    tf(&["plan", "-input=false", "-out=p.tfplan"]);
    let plan = dir.join("plan.json");
    std::fs::write(&plan, tf(&["show", "-json", "p.tfplan"])).unwrap();
    plan
}

#[test]
fn serve_applies_a_submitted_configuration_with_its_embedded_worker() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = start(d);
    let admin = Some(s.token.as_str());
    let ok = |o: &std::process::Output| assert!(o.status.success(), "{}", text(o));
    ok(&arbiter(
        &s,
        d,
        &["stack", "create", "web", "-e", "dev", "--auto-apply"],
        admin,
    ));
    let cfg = d.join("config");
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::write(cfg.join("main.tf"), MAIN_TF).unwrap();
    let plan = judged_plan(d);
    let o = arbiter(
        &s,
        d,
        &[
            "submit",
            plan.to_str().unwrap(),
            "--stack",
            "web",
            "--config",
            cfg.to_str().unwrap(),
            "--var",
            "greeting=hello",
            "--json",
        ],
        admin,
    );
    ok(&o);
    let cr: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(cr["status"], "approved", "{cr}");
    // The embedded worker applies it.
    let t0 = Instant::now();
    let run = loop {
        let o = arbiter(&s, d, &["run", "list", "--json"], admin);
        ok(&o);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let run = v["items"][0].clone();
        let phase = run["phase"].as_str().unwrap_or("").to_string();
        if ["applied", "failed", "discarded", "interrupted", "cancelled"].contains(&phase.as_str())
        {
            break run;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(180),
            "the run did not finish: {run}"
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    let id = run["id"].as_i64().unwrap().to_string();
    let logs = arbiter(&s, d, &["run", "logs", &id], admin);
    assert_eq!(run["phase"], "applied", "{run}\n{}", text(&logs));
    assert!(
        text(&logs).contains("Apply complete! Resources: 1 added"),
        "{}",
        text(&logs)
    );
    assert_eq!(run["judged_digest"], run["planned_digest"]);
    let v = arbiter(&s, d, &["state", "show", "web", "1", "--json"], admin);
    ok(&v);
    let version: serde_json::Value = serde_json::from_slice(&v.stdout).unwrap();
    assert_eq!(version["origin"], "apply", "{version}");
    assert_eq!(version["run"], run["id"], "{version}");

    // A worker started by hand stops cleanly on SIGTERM.
    let tok = arbiter(&s, d, &["worker-pool", "create", "manual", "--json"], admin);
    ok(&tok);
    let token: serde_json::Value = serde_json::from_slice(&tok.stdout).unwrap();
    let mut w = arbiter_cmd(&s, d, None)
        .args([
            "worker",
            "--server",
            &s.url,
            "--pool",
            "manual",
            "--work-dir",
        ])
        .arg(d.join("manual-worker"))
        .env("ARBITER_WORKER_TOKEN", token["token"].as_str().unwrap())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &w.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let t0 = Instant::now();
    let status = loop {
        if let Some(st) = w.try_wait().unwrap() {
            break st;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "the worker ignored SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status:?}");
}
