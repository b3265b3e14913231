//! The web UI end to end in a real headless Chromium: starts the real
//! `arbiter serve`, fills it through the real CLI (stacks, agents with
//! signed submissions, people with passwords), and runs the Playwright tests
//! in `tests/e2e` (sign in, queue, change request, approve, audit entry; a
//! viewer cannot approve; CSRF refusals).
//!
//! Needs `node`, `chromium` (Debian package; or `CHROMIUM=/path`) and
//! `npm ci` in `tests/e2e` (`.ci/run` installs all three). Without them it
//! says `SKIPPED` loudly and passes, unless `ARBITER_REQUIRE_E2E` is set
//! (`.ci/run` sets it), when it fails. `ARBITER_SCREENSHOTS=DIR` also saves
//! a PNG of every page there (`ARBITER_SCREENSHOTS=$PWD/docs/screenshots` refreshes
//! the README's).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::Server;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const PASSWORD: &str = "correct horse battery staple";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// What is missing to run the browser tests, if anything.
fn missing() -> Option<String> {
    let node = Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        return Some("node is not installed (apt-get install -y nodejs npm)".into());
    }
    let chromium = chromium();
    if !chromium.exists() {
        return Some(format!(
            "{} does not exist (apt-get install -y chromium, or set CHROMIUM)",
            chromium.display()
        ));
    }
    if !repo()
        .join("tests/e2e/node_modules/playwright-core/package.json")
        .exists()
    {
        return Some("playwright-core is not installed (cd tests/e2e && npm ci)".into());
    }
    None
}

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

fn start(dir: &Path) -> Server {
    common::start_with(dir, "warn", Stdio::inherit())
}

fn arbiter(s: &Server, dir: &Path, args: &[&str]) -> Output {
    common::arbiter_cmd(s, dir, Some(&s.token))
        .args(args)
        .env("E2E_PASSWORD", PASSWORD)
        .output()
        .unwrap()
}

fn ok(o: &Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{text}");
    text
}

/// Submits a scenario plan as the agent; returns (id, status).
fn submit(s: &Server, dir: &Path, plan: &str, stack: &str, intent: &str) -> (String, String) {
    let path = repo()
        .join("tests/scenarios")
        .join(format!("{plan}.plan.json"));
    let o = arbiter(
        s,
        dir,
        &[
            "submit",
            &path.display().to_string(),
            "--stack",
            stack,
            "--key",
            "bot.key",
            "--intent",
            intent,
            "--repository",
            "github.com/acme/infra",
            "--commit",
            "4f2a9c1e",
            "--json",
        ],
    );
    assert_ne!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    (
        v["id"].to_string(),
        v["status"].as_str().unwrap_or("").to_string(),
    )
}

#[test]
fn the_web_ui_works_in_a_real_browser() {
    if let Some(why) = missing() {
        if std::env::var_os("ARBITER_REQUIRE_E2E").is_some() {
            panic!("the browser tests cannot run: {why}");
        }
        eprintln!("\n*** SKIPPED: the web UI's browser tests: {why} ***\n");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = start(d);
    for args in [
        &[
            "stack",
            "create",
            "payments-prod",
            "-e",
            "prod",
            "--budget",
            "20000",
            "--label",
            "team:payments",
        ][..],
        &[
            "stack",
            "create",
            "web-staging",
            "-e",
            "staging",
            "--budget",
            "5000",
            "--label",
            "team:web",
        ][..],
        &["stack", "create", "ml-dev", "-e", "dev", "--budget", "1000"][..],
        &["agent", "keygen", "-o", "bot.key"][..],
        &[
            "agent",
            "create",
            "ci-bot",
            "--public-key",
            "bot.key.pub",
            "--stack",
            "*",
        ][..],
        &[
            "user",
            "create",
            "rita",
            "--role",
            "reviewer",
            "--password-env",
            "E2E_PASSWORD",
        ][..],
        &[
            "user",
            "create",
            "vic",
            "--role",
            "viewer",
            "--password-env",
            "E2E_PASSWORD",
        ][..],
    ] {
        ok(&arbiter(&s, d, args));
    }
    // An accepted risk on the production stack, shown on its page.
    let expires = (chrono::Utc::now() + chrono::Duration::days(90))
        .format("%Y-%m-%d")
        .to_string();
    ok(&arbiter(
        &s,
        d,
        &[
            "waiver",
            "add",
            "--stack",
            "payments-prod",
            "--rule",
            "ARB-AWS-EC2-001",
            "--address",
            "aws_instance.legacy_*",
            "--reason",
            "vendor agent needs IMDSv1 until INC-4211 ships",
            "--owner",
            "team-payments",
            "--expires",
            &expires,
        ],
    ));
    let states = repo().join("tests/fixtures/terraform/generated/state-history");
    for (file, commit) in [
        ("state-v1.tfstate", "9d1c0aa"),
        ("state-v2.tfstate", "4f2a9c1e"),
    ] {
        let f = states.join(file).display().to_string();
        ok(&arbiter(
            &s,
            d,
            &["state", "push", "payments-prod", &f, "--commit", commit],
        ));
    }
    // A receiver that is not there: its deliveries wait and retry.
    ok(&arbiter(
        &s,
        d,
        &[
            "webhook",
            "create",
            "http://127.0.0.1:9/hooks/arbiter",
            "--event",
            "change_request.*",
            "--description",
            "Reviewers' chat channel",
        ],
    ));
    let (pending, st) = submit(
        &s,
        d,
        "delete-prod-database",
        "payments-prod",
        "Retire the legacy ledger database",
    );
    assert_eq!(st, "pending_review");
    let (approve, st) = submit(
        &s,
        d,
        "disable-public-access-block",
        "web-staging",
        "Serve the marketing site straight from S3",
    );
    assert_eq!(st, "pending_review");
    let (gpu, st) = submit(
        &s,
        d,
        "gpu-instance-dev-budget",
        "ml-dev",
        "A GPU box for the recommender experiments",
    );
    assert_eq!(st, "pending_review");
    let (ssh, st) = submit(
        &s,
        d,
        "ssh-open-to-world",
        "payments-prod",
        "Debug access for the on-call engineer",
    );
    assert_eq!(st, "rejected");
    let (_, st) = submit(
        &s,
        d,
        "tags-only-update",
        "payments-prod",
        "Tag resources with their cost centre",
    );
    assert_eq!(st, "approved");

    let mut node = Command::new("node");
    node.args(["--test", "--test-concurrency=1", "ui.test.mjs"])
        .current_dir(repo().join("tests/e2e"))
        .env("ARBITER_URL", &s.url)
        .env("ARBITER_ADMIN_TOKEN", &s.token)
        .env("ARBITER_PASSWORD", PASSWORD)
        .env("ARBITER_REVIEWER", "rita")
        .env("ARBITER_VIEWER", "vic")
        .env("ARBITER_APPROVE", &approve)
        .env("ARBITER_PENDING", &pending)
        .env("CHROMIUM", chromium());
    if let Some(dir) = std::env::var_os("ARBITER_SCREENSHOTS") {
        node.env("SCREENSHOT_DIR", dir).env(
            "ARBITER_SHOT_CHANGES",
            format!("approved={approve},over-budget={gpu},rejected={ssh}"),
        );
    }
    // Bounded: a hung browser must not hang the test run.
    let mut child = node
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipes = Vec::new();
    for mut r in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        pipes.push(std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        }));
    }
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st);
        }
        if started.elapsed() > Duration::from_secs(300) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let out: String = pipes
        .into_iter()
        .map(|p| p.join().unwrap_or_default())
        .collect();
    println!("{out}");
    let status = status.unwrap_or_else(|| panic!("the browser tests took over 300 s:\n{out}"));
    assert!(status.success(), "the browser tests failed:\n{out}");
    assert!(out.contains("# fail 0"), "{out}");
}
