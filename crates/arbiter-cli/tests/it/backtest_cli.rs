//! `arbiter policy backtest`: offline over a directory of plans (with and
//! without expected.tsv), on a real server, and `policy-set push --backtest`
//! with its confirmation.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::{arbiter, start, text};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const FREEZE: &str = "package main\n\ndeny[msg] {\n  input.resource_changes[_].change.actions[_] == \"delete\"\n  msg := \"no deletions this week\"\n}\n";

fn scenarios() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/scenarios")
}

/// A corpus of four scenario plans with their stack files, labelled.
fn corpus(dir: &Path, labelled: bool) {
    std::fs::create_dir_all(dir).unwrap();
    let rows = [
        ("tags-only-update", "approve"),
        ("tls-cert-rotation", "approve"),
        ("delete-prod-database", "escalate"),
        ("disable-public-access-block", "escalate"),
    ];
    let mut tsv = String::from("name\texpect\n");
    for (n, e) in rows {
        for ext in ["plan.json", "stack.toml"] {
            std::fs::copy(
                scenarios().join(format!("{n}.{ext}")),
                dir.join(format!("{n}.{ext}")),
            )
            .unwrap();
        }
        tsv.push_str(&format!("{n}\t{e}\n"));
    }
    if labelled {
        std::fs::write(dir.join("expected.tsv"), tsv).unwrap();
    }
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_arbiter"))
        .args(args)
        .output()
        .unwrap()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

/// The judge's own decision for a plan with a stack file (the oracle).
fn evaluate(plan: &Path, stack: &Path) -> String {
    let o = run(&[
        "evaluate",
        plan.to_str().unwrap(),
        "--stack",
        stack.to_str().unwrap(),
        "--format",
        "json",
    ]);
    json(&o)["decision"].as_str().unwrap().to_string()
}

#[test]
fn offline_backtests_count_changes_against_expected_tsv() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let plans = d.join("plans");
    corpus(&plans, true);
    std::fs::write(d.join("freeze.rego"), FREEZE).unwrap();
    let (p, f) = (plans.to_str().unwrap(), d.join("freeze.rego"));

    // A deletion freeze: the two plans that delete something are newly
    // rejected; one of them people approved (held), none auto-approved.
    let o = run(&[
        "policy",
        "backtest",
        "--policy",
        f.to_str().unwrap(),
        "--plans",
        p,
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = json(&o);
    assert_eq!(r["format"], "arbiter-backtest/1");
    assert_eq!(r["candidate"]["policy_files"], 1);
    assert_eq!(r["totals"]["replayed"], 4, "{r}");
    assert_eq!(r["totals"]["newly_rejected"], 2, "{r}");
    assert_eq!(r["totals"]["unchanged"], 2, "{r}");
    assert_eq!(r["people"]["decided"], 4);
    assert_eq!(r["people"]["approved"], 2);
    assert_eq!(r["people"]["held_but_approved"], 1, "{r}");
    assert!(r["people"]["held_but_approved_list"][0]
        .as_str()
        .unwrap()
        .ends_with("tls-cert-rotation.plan.json"));
    assert_eq!(r["people"]["auto_approved_but_rejected"], 0);
    let changed: Vec<&str> = r["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["stack"].as_str().unwrap())
        .collect();
    assert_eq!(
        changed,
        ["tls-cert-rotation", "delete-prod-database"],
        "{r}"
    );
    assert_eq!(r["changes"][1]["before"], "review");
    assert_eq!(r["changes"][1]["after"], "reject");
    assert!(r["changes"][1]["reasons"]
        .as_array()
        .unwrap()
        .contains(&Value::from("main.deny")));

    // A looser stack configuration: what the judge itself decides with the
    // merged stack file is what the backtest reports; a plan people held
    // that it approves makes the exit code 3.
    let loose = "auto_apply_threshold = 50\nescalate_introduced_at = \"off\"\n\n[rules]\ndisable = [\"ARB-AWS-S3-003\"]\n";
    std::fs::write(d.join("loose.toml"), loose).unwrap();
    let o = run(&[
        "policy",
        "backtest",
        "--stack-config",
        d.join("loose.toml").to_str().unwrap(),
        "--plans",
        p,
        "--format",
        "json",
    ]);
    let r = json(&o);
    let mut auto_approved_rejected = 0;
    for c in r["changes"].as_array().unwrap() {
        let name = c["stack"].as_str().unwrap();
        let own = std::fs::read_to_string(plans.join(format!("{name}.stack.toml"))).unwrap();
        let merged = d.join(format!("{name}.merged.toml"));
        let own: String = own
            .lines()
            .filter(|l| {
                !l.starts_with("auto_apply_threshold") && !l.starts_with("escalate_introduced_at")
            })
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(&merged, format!("{own}{loose}")).unwrap();
        let want = evaluate(&plans.join(format!("{name}.plan.json")), &merged);
        assert_eq!(c["after"], want.as_str(), "{name}: {r}");
        if want == "approve" && c["people"] == "rejected" {
            auto_approved_rejected += 1;
        }
    }
    assert!(auto_approved_rejected > 0, "{r}");
    assert_eq!(
        r["people"]["auto_approved_but_rejected"],
        auto_approved_rejected
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));

    // Text output names the dangerous direction.
    let o = run(&[
        "policy",
        "backtest",
        "--stack-config",
        d.join("loose.toml").to_str().unwrap(),
        "--plans",
        p,
    ]);
    let t = text(&o);
    assert!(
        t.contains("would auto-approve what people rejected: 1"),
        "{t}"
    );
    assert!(t.contains("disable-public-access-block.plan.json"), "{t}");

    // Mistakes are one-line errors.
    let o = run(&["policy", "backtest", "--plans", p]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("nothing to backtest"), "{}", text(&o));
    let o = run(&[
        "policy",
        "backtest",
        "--policy",
        f.to_str().unwrap(),
        "--plans",
        p,
        "--replaces",
        "x",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("--replaces applies to the server"),
        "{}",
        text(&o)
    );
}

#[test]
fn offline_backtests_work_without_labels() {
    let dir = tempfile::tempdir().unwrap();
    let plans = dir.path().join("plans");
    corpus(&plans, false);
    std::fs::write(dir.path().join("freeze.rego"), FREEZE).unwrap();
    let o = run(&[
        "policy",
        "backtest",
        "--policy",
        dir.path().join("freeze.rego").to_str().unwrap(),
        "--plans",
        plans.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = json(&o);
    assert_eq!(r["totals"]["replayed"], 4);
    assert_eq!(r["totals"]["newly_rejected"], 2);
    assert_eq!(r["people"]["decided"], 0);
}

#[test]
fn a_push_with_backtest_shows_the_report_and_needs_a_go_ahead() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = start(d);
    let admin = Some(s.token.as_str());
    let ok = |o: &Output| assert!(o.status.success(), "{}", text(o));
    std::fs::create_dir_all(d.join("guard")).unwrap();
    std::fs::write(
        d.join("guard/guard.rego"),
        "package main\nimport rego.v1\nwarn contains \"looked at\" if true\n",
    )
    .unwrap();
    std::fs::create_dir_all(d.join("freeze")).unwrap();
    std::fs::write(d.join("freeze/freeze.rego"), FREEZE).unwrap();
    ok(&arbiter(
        &s,
        d,
        &["policy-set", "push", "guard", "guard"],
        admin,
    ));
    ok(&arbiter(
        &s,
        d,
        &[
            "stack",
            "create",
            "web",
            "-e",
            "staging",
            "--budget",
            "20000",
            "--policy-set",
            "guard",
        ],
        admin,
    ));
    ok(&arbiter(&s, d, &["agent", "keygen", "-o", "bot.key"], None));
    ok(&arbiter(
        &s,
        d,
        &[
            "agent",
            "create",
            "bot",
            "--public-key",
            "bot.key.pub",
            "--stack",
            "web",
        ],
        admin,
    ));
    for plan in ["tags-only-update", "delete-prod-database"] {
        let p = scenarios().join(format!("{plan}.plan.json"));
        let o = arbiter(
            &s,
            d,
            &[
                "submit",
                p.to_str().unwrap(),
                "--stack",
                "web",
                "--key",
                "bot.key",
            ],
            None,
        );
        assert!(matches!(o.status.code(), Some(0 | 2)), "{}", text(&o));
    }

    // On the server, JSON.
    let o = arbiter(
        &s,
        d,
        &[
            "policy",
            "backtest",
            "--policy",
            "freeze",
            "--replaces",
            "guard",
            "--since",
            "1h",
            "--format",
            "json",
        ],
        admin,
    );
    ok(&o);
    let r = json(&o);
    assert_eq!(r["totals"]["replayed"], 2, "{r}");
    assert_eq!(r["totals"]["newly_rejected"], 1, "{r}");
    assert_eq!(r["candidate"]["replaces"], "guard");
    assert!(r["since"].as_str().is_some());

    // No terminal and no --yes: the report, then a clear refusal; nothing pushed.
    let o = arbiter(
        &s,
        d,
        &[
            "policy-set",
            "push",
            "guard",
            "freeze",
            "--backtest",
            "--since",
            "1h",
        ],
        admin,
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("newly rejected") && t.contains("not pushed") && t.contains("--yes"),
        "{t}"
    );
    let o = arbiter(&s, d, &["policy-set", "show", "guard", "--json"], admin);
    assert_eq!(json(&o)["version"], 1);
    // With --yes it goes live after the report.
    let o = arbiter(
        &s,
        d,
        &[
            "policy-set",
            "push",
            "guard",
            "freeze",
            "--backtest",
            "--yes",
        ],
        admin,
    );
    ok(&o);
    assert!(text(&o).contains("version 2"), "{}", text(&o));
    // A viewer may not backtest.
    let o = arbiter(&s, d, &["user", "create", "vic", "--role", "viewer"], admin);
    ok(&o);
    let o = arbiter(
        &s,
        d,
        &["token", "create", "--user", "vic", "--json"],
        admin,
    );
    ok(&o);
    let vic = json(&o)["token"].as_str().unwrap().to_string();
    let o = arbiter(
        &s,
        d,
        &["policy", "backtest", "--policy", "freeze"],
        Some(&vic),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("403"), "{}", text(&o));
}
