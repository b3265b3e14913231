#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Integration tests that run the real `arbiter` binary in temporary
//! directories: exit codes, the four output formats and the JSON contract of
//! PRODUCT.md §4.1, stack files, user policies (conftest and Spacelift
//! styles), `policy test`, the rule pack commands, sensitive values, and the
//! help text of every command.

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const WORKSPACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

fn scenarios() -> PathBuf {
    Path::new(WORKSPACE).join("tests/scenarios")
}

fn fixtures() -> PathBuf {
    Path::new(WORKSPACE).join("tests/fixtures/terraform")
}

fn scenario_plan(name: &str) -> String {
    path_str(&scenarios().join(format!("{name}.plan.json")))
}

fn scenario_stack(name: &str) -> String {
    path_str(&scenarios().join(format!("{name}.stack.toml")))
}

fn path_str(p: &Path) -> String {
    p.to_str().expect("UTF-8 path").to_string()
}

/// What one run of the binary did.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    shown: String,
}

impl Run {
    #[track_caller]
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}) for {}", self.shown))
    }
}

/// Runs `arbiter ARGS` in `dir` (a fresh temporary directory when `None`).
fn arbiter_in(dir: Option<&Path>, args: &[&str]) -> Run {
    let tmp = tempfile::tempdir().expect("temp dir");
    let cwd = dir.unwrap_or(tmp.path());
    let out = Command::new(env!("CARGO_BIN_EXE_arbiter"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env_remove("ARBITER_MAX_PLAN_BYTES")
        .output()
        .expect("running arbiter");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        shown: format!("arbiter {}", args.join(" ")),
    };
    assert!(
        !run.stderr.contains("internal error") && !run.stderr.contains("panicked"),
        "{} crashed: {}",
        run.shown,
        run.stderr
    );
    run
}

fn arbiter(args: &[&str]) -> Run {
    arbiter_in(None, args)
}

#[track_caller]
fn expect_code(run: &Run, code: i32) {
    assert_eq!(
        run.code, code,
        "{}: exit code\n--- stdout ---\n{}\n--- stderr ---\n{}",
        run.shown, run.stdout, run.stderr
    );
}

/// A directory of policy files: `(relative path, contents)`.
fn policy_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (rel, text) in files {
        let p = dir.path().join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, text).expect("write policy");
    }
    dir
}

fn findings(v: &Value) -> &Vec<Value> {
    v["findings"].as_array().expect("findings array")
}

fn finding_with<'a>(v: &'a Value, rule_id: &str) -> Option<&'a Value> {
    findings(v).iter().find(|f| f["rule_id"] == rule_id)
}

/// Rows of tests/scenarios/expected.tsv: (name, expect).
fn expected_rows() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(scenarios().join("expected.tsv")).expect("expected.tsv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    assert_eq!(&header[..2], ["name", "expect"], "expected.tsv header");
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            (cols[0].to_string(), cols[1].to_string())
        })
        .collect()
}

/// The plain conftest-style baseline: tags-only-update is approved by the
/// built-in defaults (exit 0), so any policy effect shows in the exit code.
const BASE: &str = "tags-only-update";

fn evaluate_base_with(policy: &Path, extra: &[&str]) -> Run {
    let plan = scenario_plan(BASE);
    let stack = scenario_stack(BASE);
    let pol = path_str(policy);
    let mut args = vec![
        "evaluate", &plan, "--stack", &stack, "--policy", &pol, "--format", "json",
    ];
    args.extend_from_slice(extra);
    arbiter(&args)
}

// ---------------------------------------------------------------------------
// Exit codes and formats
// ---------------------------------------------------------------------------

#[test]
fn exit_codes_follow_the_expected_verdicts_of_the_scenarios() {
    let rows = expected_rows();
    assert!(rows.len() >= 10, "expected.tsv has {} rows", rows.len());
    let mut seen = BTreeSet::new();
    let mut failures = Vec::new();
    for (name, expect) in &rows {
        let plan = scenario_plan(name);
        let stack = scenario_stack(name);
        let run = arbiter(&["evaluate", &plan, "--stack", &stack]);
        let want = match expect.as_str() {
            "approve" => 0,
            "reject" => 3,
            "escalate" => 2,
            other => panic!("unknown expectation {other:?} for {name}"),
        };
        seen.insert(run.code);
        let status = if run.code == want { "PASS" } else { "FAIL" };
        eprintln!("{status}  {name:<30} expect {expect:<9} exit {}", run.code);
        if run.code != want {
            failures.push(format!(
                "{name}: exit {} (want {want})\n{}",
                run.code, run.stdout
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(
        seen,
        BTreeSet::from([0, 2, 3]),
        "all three verdict codes are exercised"
    );
}

#[test]
fn exit_code_1_on_errors() {
    let missing = arbiter(&["evaluate", "/nonexistent/plan.json"]);
    expect_code(&missing, 1);
    assert!(
        missing.stderr.contains("/nonexistent/plan.json"),
        "{}",
        missing.stderr
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.json"),
        "{\"format_version\": \"1.2\",\n \"resource_changes\": [",
    )
    .unwrap();
    let bad = arbiter_in(Some(dir.path()), &["evaluate", "bad.json"]);
    expect_code(&bad, 1);
    assert!(
        bad.stderr.contains("bad.json") && bad.stderr.contains("line 2"),
        "{}",
        bad.stderr
    );
    assert_eq!(
        bad.stderr.trim().lines().count(),
        1,
        "one-line error: {}",
        bad.stderr
    );
    let unknown_format = arbiter(&["evaluate", &scenario_plan(BASE), "--format", "yaml"]);
    assert_ne!(unknown_format.code, 0);
    assert!(
        unknown_format.stderr.contains("yaml"),
        "{}",
        unknown_format.stderr
    );
}

#[test]
fn json_output_has_every_field_of_the_contract() {
    for name in [
        "ssh-open-to-world",
        "small-dev-environment",
        "delete-prod-database",
    ] {
        let plan = scenario_plan(name);
        let stack = scenario_stack(name);
        let run = arbiter(&["evaluate", &plan, "--stack", &stack, "--format", "json"]);
        let v = run.json();
        let decision = v["decision"].as_str().expect("decision is a string");
        assert!(
            ["approve", "review", "reject"].contains(&decision),
            "{decision}"
        );
        assert_eq!(
            run.code,
            match decision {
                "approve" => 0,
                "review" => 2,
                _ => 3,
            }
        );
        let confidence = v["confidence"].as_f64().expect("confidence is a number");
        assert!((0.0..=100.0).contains(&confidence), "{confidence}");
        for key in ["create", "update", "delete", "replace", "no_op", "read"] {
            assert!(
                v["summary"][key].is_u64(),
                "{name}: summary.{key} = {}",
                v["summary"][key]
            );
        }
        let fs = findings(&v);
        assert!(!fs.is_empty(), "{name}: no findings");
        for f in fs {
            assert!(f["rule_id"].as_str().is_some_and(|s| !s.is_empty()), "{f}");
            assert!(f["source"].is_string(), "{f}");
            assert!(
                ["critical", "high", "medium", "low", "info"]
                    .contains(&f["severity"].as_str().unwrap_or("")),
                "{f}"
            );
            assert!(
                ["deny", "escalate", "warn", "info"].contains(&f["effect"].as_str().unwrap_or("")),
                "{f}"
            );
            assert!(f["address"].is_string() || f["address"].is_null(), "{f}");
            assert!(
                f.as_object().unwrap().contains_key("address"),
                "address must be present (string or null): {f}"
            );
            assert!(f["message"].as_str().is_some_and(|s| !s.is_empty()), "{f}");
        }
        let critics = v["critics"].as_array().expect("critics array");
        assert!(!critics.is_empty());
        for c in critics {
            assert!(c["name"].is_string(), "{c}");
            let risk = c["risk"].as_f64().expect("risk number");
            assert!((0.0..=1.0).contains(&risk), "{c}");
            assert!(c["findings"].is_u64(), "{c}");
        }
        for key in [
            "monthly_before_usd",
            "monthly_after_usd",
            "monthly_delta_usd",
        ] {
            assert!(
                v["cost"][key].is_number(),
                "{name}: cost.{key} = {}",
                v["cost"][key]
            );
        }
        assert!(
            v["explanation"].as_str().is_some_and(|s| s.len() > 10),
            "{name}: explanation"
        );
    }
    // Concrete values for one scenario.
    let v = arbiter(&[
        "evaluate",
        &scenario_plan("ssh-open-to-world"),
        "-f",
        "json",
    ])
    .json();
    assert_eq!(v["decision"], "reject");
    assert_eq!(v["summary"]["create"], 1);
    assert!(findings(&v)
        .iter()
        .any(|f| f["effect"] == "deny" && f["address"] == "aws_security_group_rule.ssh"));
}

#[test]
fn sarif_text_and_markdown_outputs() {
    let plan = scenario_plan("ssh-open-to-world");
    let sarif = arbiter(&["evaluate", &plan, "--format", "sarif"]);
    expect_code(&sarif, 3);
    let v = sarif.json();
    assert_eq!(v["version"], "2.1.0");
    assert!(
        v["$schema"].as_str().is_some_and(|s| s.contains("sarif")),
        "{}",
        v["$schema"]
    );
    let run = &v["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "arbiter");
    let results = run["results"].as_array().expect("results");
    assert!(
        results.iter().any(|r| r["level"] == "error"
            && r["ruleId"]
                .as_str()
                .is_some_and(|id| id.starts_with("ARB-"))),
        "{results:#?}"
    );
    for format in ["text", "markdown"] {
        let out = arbiter(&["evaluate", &plan, "--format", format]);
        expect_code(&out, 3);
        assert!(
            out.stdout.trim().len() > 50,
            "{format} output is nearly empty"
        );
        assert!(
            out.stdout.to_lowercase().contains("reject"),
            "{format}: {}",
            out.stdout
        );
        assert!(
            out.stdout.contains("aws_security_group_rule.ssh"),
            "{format}: {}",
            out.stdout
        );
        assert!(
            !out.stdout.contains('\u{1b}'),
            "{format}: colour codes without a terminal"
        );
    }
}

#[test]
fn output_file_is_written_instead_of_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let plan = scenario_plan("iam-star-star");
    for (format, file) in [
        ("json", "report.json"),
        ("sarif", "out/report.sarif"),
        ("markdown", "report.md"),
        ("text", "report.txt"),
    ] {
        if let Some(parent) = Path::new(file).parent() {
            std::fs::create_dir_all(dir.path().join(parent)).unwrap();
        }
        let run = arbiter_in(
            Some(dir.path()),
            &["evaluate", &plan, "--format", format, "--output", file],
        );
        expect_code(&run, 3);
        assert!(
            run.stdout.trim().is_empty(),
            "{format}: stdout should be empty: {}",
            run.stdout
        );
        let written = std::fs::read_to_string(dir.path().join(file))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(written.len() > 50, "{file} is nearly empty");
        if format == "json" {
            let v: Value = serde_json::from_str(&written).expect("report.json is JSON");
            assert_eq!(v["decision"], "reject");
            let direct = arbiter(&["evaluate", &plan, "--format", "json"]).json();
            assert_eq!(v, direct, "the file holds the same report as stdout");
        }
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary files left behind: {leftovers:?}"
    );
}

// ---------------------------------------------------------------------------
// Stack files and rule overrides
// ---------------------------------------------------------------------------

#[test]
fn stack_file_with_an_unknown_key_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("stack.toml"),
        "name = \"x\"\nenvironment = \"prod\"\nbudget_usd_per_month = 5\n",
    )
    .unwrap();
    let run = arbiter_in(
        Some(dir.path()),
        &["evaluate", &scenario_plan(BASE), "--stack", "stack.toml"],
    );
    expect_code(&run, 1);
    assert!(
        run.stderr.contains("budget_usd_per_month"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("stack.toml"), "{}", run.stderr);
    assert!(run.stdout.is_empty());
}

/// The rule that denies ssh-open-to-world by default, found from the output
/// (so the test follows the rule pack as it grows).
fn ssh_deny_rule() -> String {
    let v = arbiter(&[
        "evaluate",
        &scenario_plan("ssh-open-to-world"),
        "--stack",
        &scenario_stack("ssh-open-to-world"),
        "-f",
        "json",
    ])
    .json();
    let deny: Vec<&Value> = findings(&v)
        .iter()
        .filter(|f| f["effect"] == "deny")
        .collect();
    assert_eq!(deny.len(), 1, "expected one deny finding: {deny:#?}");
    deny[0]["rule_id"].as_str().unwrap().to_string()
}

#[test]
fn disabling_a_rule_removes_its_findings() {
    let id = ssh_deny_rule();
    let plan = scenario_plan("ssh-open-to-world");
    let by_flag = arbiter(&[
        "evaluate",
        &plan,
        "--stack",
        &scenario_stack("ssh-open-to-world"),
        "--disable-rule",
        &id,
        "-f",
        "json",
    ]);
    let v = by_flag.json();
    assert!(
        finding_with(&v, &id).is_none(),
        "--disable-rule {id} left its finding"
    );
    assert_ne!(v["decision"], "reject");
    assert_ne!(by_flag.code, 3);

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("stack.toml"),
        format!("name = \"ssh\"\nenvironment = \"prod\"\n\n[rules]\ndisable = [\"{id}\"]\n"),
    )
    .unwrap();
    let by_stack = arbiter_in(
        Some(dir.path()),
        &["evaluate", &plan, "--stack", "stack.toml", "-f", "json"],
    );
    let v = by_stack.json();
    assert!(finding_with(&v, &id).is_none(), "[rules] disable left {id}");
    assert_ne!(v["decision"], "reject");

    let bogus = arbiter(&["evaluate", &plan, "--disable-rule", "ARB-NO-SUCH-RULE-999"]);
    expect_code(&bogus, 1);
    assert!(
        bogus.stderr.contains("ARB-NO-SUCH-RULE-999"),
        "{}",
        bogus.stderr
    );
}

#[test]
fn rule_effect_override_turns_a_reject_into_approve_or_review() {
    let id = ssh_deny_rule();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("stack.toml"),
        format!("name = \"ssh\"\nenvironment = \"prod\"\n\n[rules.effect]\n\"{id}\" = \"warn\"\n"),
    )
    .unwrap();
    let run = arbiter_in(
        Some(dir.path()),
        &[
            "evaluate",
            &scenario_plan("ssh-open-to-world"),
            "--stack",
            "stack.toml",
            "-f",
            "json",
        ],
    );
    let v = run.json();
    assert!(
        ["approve", "review"].contains(&v["decision"].as_str().unwrap()),
        "{}",
        v["decision"]
    );
    assert!([0, 2].contains(&run.code));
    let f = finding_with(&v, &id).expect("the finding is kept, re-graded");
    assert_eq!(f["effect"], "warn");
}

#[test]
fn state_files_passed_as_plans_are_errors_that_say_state() {
    for rel in [
        "generated/nested-modules/state.tfstate",
        "generated/nested-modules/state.show.json",
        "plans/checkov--terraform--runner--plan--corrupted-tfplan.json",
    ] {
        let p = path_str(&fixtures().join(rel));
        let run = arbiter(&["evaluate", &p]);
        expect_code(&run, 1);
        assert!(run.stderr.contains("state"), "{rel}: {}", run.stderr);
        assert!(
            run.stderr.contains("terraform show -json"),
            "{rel}: says how to make a plan: {}",
            run.stderr
        );
        assert!(run.stdout.is_empty(), "{rel}: no report for a state");
    }
}

// ---------------------------------------------------------------------------
// User policies
// ---------------------------------------------------------------------------

const OLD_SYNTAX: &str = r#"package main

deny[msg] {
  rc := input.resource_changes[_]
  rc.type == "aws_instance"
  msg := sprintf("old-syntax policy forbids %v", [rc.address])
}
"#;

const NEW_SYNTAX: &str = r#"package main

deny contains msg if {
  some rc in input.resource_changes
  rc.change.actions[_] == "update"
  msg := sprintf("new-syntax policy forbids updating %v", [rc.address])
}
"#;

#[test]
fn conftest_policies_in_old_and_new_rego_syntax() {
    let base = evaluate_base_with(&policy_dir(&[]).path().join("."), &[]);
    expect_code(&base, 0);
    let dir = policy_dir(&[("old.rego", OLD_SYNTAX), ("sub/new.rego", NEW_SYNTAX)]);
    let run = evaluate_base_with(dir.path(), &[]);
    expect_code(&run, 3);
    let v = run.json();
    let msgs: Vec<&str> = findings(&v)
        .iter()
        .filter(|f| f["source"] == "policy")
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert!(
        msgs.contains(&"old-syntax policy forbids aws_instance.api"),
        "{msgs:?}"
    );
    assert!(
        msgs.contains(&"new-syntax policy forbids updating aws_instance.api"),
        "{msgs:?}"
    );
    let f = findings(&v)
        .iter()
        .find(|f| f["source"] == "policy")
        .unwrap();
    assert_eq!(f["effect"], "deny");
    assert!(f["rule_id"].as_str().unwrap().contains("deny"), "{f}");
}

#[test]
fn spacelift_policy_reads_terraform_and_stack_metadata() {
    let dir = policy_dir(&[(
        "plan.rego",
        r#"package spacelift

deny contains sprintf("stack %s may not touch %s", [input.spacelift.stack.name, rc.address]) if {
  some rc in input.terraform.resource_changes
  rc.type == "aws_instance"
}
"#,
    )]);
    let run = evaluate_base_with(dir.path(), &[]);
    expect_code(&run, 3);
    let v = run.json();
    let stack_name = std::fs::read_to_string(scenario_stack(BASE)).unwrap();
    assert!(stack_name.contains("name = \"tags-only-update\""));
    assert!(
        findings(&v)
            .iter()
            .any(|f| f["message"] == "stack tags-only-update may not touch aws_instance.api"),
        "{:#?}",
        findings(&v)
    );
}

#[test]
fn policy_reads_the_evaluation_context_and_escalates() {
    let dir = policy_dir(&[(
        "env.rego",
        r#"package main

escalate contains msg if {
  input.arbiter.stack.environment == "prod"
  msg := sprintf("%d change(s) to prod need a person", [input.arbiter.summary.update])
}
"#,
    )]);
    let prod = evaluate_base_with(dir.path(), &[]);
    expect_code(&prod, 2);
    let v = prod.json();
    assert_eq!(v["decision"], "review");
    let f = findings(&v)
        .iter()
        .find(|f| f["effect"] == "escalate")
        .expect("an escalate finding");
    assert_eq!(f["message"], "1 change(s) to prod need a person");
    assert_eq!(f["source"], "policy");
    // The same policy does not fire in dev.
    let dev = evaluate_base_with(dir.path(), &["--environment", "dev"]);
    expect_code(&dev, 0);
}

#[test]
fn warn_rules_and_object_messages() {
    let dir = policy_dir(&[(
        "rules.rego",
        r#"package main

warn contains msg if {
  some rc in input.resource_changes
  msg := sprintf("heads-up: %s changes", [rc.address])
}

deny contains {"msg": "instances need an owner tag", "address": rc.address, "severity": "medium"} if {
  some rc in input.resource_changes
  rc.type == "aws_instance"
  not rc.change.after.tags.owner
}
"#,
    )]);
    let run = evaluate_base_with(dir.path(), &[]);
    let v = run.json();
    let warn = findings(&v)
        .iter()
        .find(|f| f["effect"] == "warn" && f["source"] == "policy")
        .expect("a warn finding");
    assert_eq!(warn["message"], "heads-up: aws_instance.api changes");
    let obj = findings(&v)
        .iter()
        .find(|f| f["message"] == "instances need an owner tag")
        .expect("the object message");
    assert_eq!(obj["address"], "aws_instance.api");
    assert_eq!(obj["severity"], "medium");
    assert_eq!(obj["effect"], "deny");
    expect_code(&run, 3);

    // A warn rule alone never rejects.
    let only_warn = policy_dir(&[(
        "w.rego",
        "package main\n\nwarn contains \"just saying\" if { true }\n",
    )]);
    let run = evaluate_base_with(only_warn.path(), &[]);
    assert_ne!(run.code, 3);
    assert!(findings(&run.json())
        .iter()
        .any(|f| f["message"] == "just saying" && f["effect"] == "warn"));
}

#[test]
fn data_json_beside_the_policies_is_readable() {
    let rule = r#"package main

deny contains sprintf("%s is on the blocklist", [rc.type]) if {
  some rc in input.resource_changes
  rc.type in data.blocklist.types
}
"#;
    let blocked = policy_dir(&[
        ("p.rego", rule),
        ("data.json", r#"{"blocklist": {"types": ["aws_instance"]}}"#),
    ]);
    let run = evaluate_base_with(blocked.path(), &[]);
    expect_code(&run, 3);
    assert!(findings(&run.json())
        .iter()
        .any(|f| f["message"] == "aws_instance is on the blocklist"));
    let allowed = policy_dir(&[
        ("p.rego", rule),
        (
            "data.json",
            r#"{"blocklist": {"types": ["aws_s3_bucket"]}}"#,
        ),
    ]);
    expect_code(&evaluate_base_with(allowed.path(), &[]), 0);
}

#[test]
fn namespace_selects_other_conftest_packages() {
    let dir = policy_dir(&[(
        "custom.rego",
        r#"package custom.checks

deny contains msg if {
  some rc in input.resource_changes
  msg := sprintf("custom namespace: %s", [rc.address])
}
"#,
    )]);
    let without = evaluate_base_with(dir.path(), &[]);
    expect_code(&without, 0);
    let with = evaluate_base_with(dir.path(), &["--namespace", "custom.checks"]);
    expect_code(&with, 3);
    assert!(findings(&with.json())
        .iter()
        .any(|f| f["message"] == "custom namespace: aws_instance.api"));
}

#[test]
fn invalid_rego_is_an_error_with_file_line_and_column() {
    let dir = policy_dir(&[(
        "broken.rego",
        "package main\n\ndeny contains msg if {\n  msg := \n}\n",
    )]);
    let run = evaluate_base_with(dir.path(), &[]);
    expect_code(&run, 1);
    assert!(run.stdout.is_empty(), "no report when policies do not load");
    let error_line = run
        .stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_else(|| panic!("no error line: {}", run.stderr));
    assert!(error_line.contains("broken.rego:4:"), "{error_line}");
}

/// The error should start with the position (`broken.rego:4:7: message`)
/// and say what is wrong, on one line, with nothing else on stderr.
#[test]
fn invalid_rego_error_is_one_located_line_with_the_reason() {
    let dir = policy_dir(&[(
        "broken.rego",
        "package main\n\ndeny contains msg if {\n  msg := \n}\n",
    )]);
    let run = evaluate_base_with(dir.path(), &[]);
    expect_code(&run, 1);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(!lines[0].contains(":0:0"), "{}", lines[0]);
    let after = lines[0].split("broken.rego:4:").nth(1).unwrap_or_default();
    assert!(
        after
            .split_once(": ")
            .is_some_and(|(_, why)| why.len() > 5 && !why.starts_with("-->")),
        "{}",
        lines[0]
    );
}

#[test]
fn policy_test_passes_and_fails_like_opa_test() {
    let policy = r#"package main

deny contains "no instances" if {
  some rc in input.resource_changes
  rc.type == "aws_instance"
}
"#;
    let passing = policy_dir(&[
        ("p.rego", policy),
        (
            "p_test.rego",
            r#"package main

test_denies_instances if {
  count(deny) == 1 with input as {"resource_changes": [{"type": "aws_instance"}]}
}

test_allows_buckets if {
  count(deny) == 0 with input as {"resource_changes": [{"type": "aws_s3_bucket"}]}
}
"#,
        ),
    ]);
    let ok = arbiter(&["policy", "test", &path_str(passing.path())]);
    expect_code(&ok, 0);
    assert!(ok.stdout.contains("PASS: 2/2"), "{}", ok.stdout);
    assert!(!ok.stdout.contains("FAIL"), "{}", ok.stdout);
    let verbose = arbiter(&["policy", "test", &path_str(passing.path()), "-v"]);
    assert!(
        verbose.stdout.contains("test_allows_buckets")
            && verbose.stdout.contains("test_denies_instances")
    );

    let failing = policy_dir(&[
        ("p.rego", policy),
        (
            "p_test.rego",
            r#"package main

test_wrong_expectation if {
  count(deny) == 0 with input as {"resource_changes": [{"type": "aws_instance"}]}
}

test_right_expectation if {
  count(deny) == 1 with input as {"resource_changes": [{"type": "aws_instance"}]}
}
"#,
        ),
    ]);
    let bad = arbiter(&["policy", "test", &path_str(failing.path())]);
    expect_code(&bad, 1);
    assert!(bad.stdout.contains("FAIL"), "{}", bad.stdout);
    assert!(
        bad.stdout.contains("test_wrong_expectation"),
        "{}",
        bad.stdout
    );
    assert!(
        bad.stdout.contains("p_test.rego:3"),
        "the failing test's location: {}",
        bad.stdout
    );
    assert!(
        !bad.stdout.contains("test_right_expectation: FAIL"),
        "{}",
        bad.stdout
    );

    let json = arbiter(&[
        "policy",
        "test",
        &path_str(failing.path()),
        "--format",
        "json",
    ]);
    expect_code(&json, 1);
    let v = json.json();
    assert_eq!(
        (v["passed"].as_u64(), v["failed"].as_u64()),
        (Some(1), Some(1)),
        "{v}"
    );

    let empty = policy_dir(&[("p.rego", policy)]);
    expect_code(&arbiter(&["policy", "test", &path_str(empty.path())]), 1);
}

/// Issue 9 item 5: the Rego syntax is decided by parsing, so words in
/// comments, strings and rule names never make a valid policy fail.
#[test]
fn policy_test_runs_v0_and_v1_whatever_their_comments_say() {
    let v0 = r#"package main

# Deny if the bucket contains a public ACL.
deny[msg] {
  contains_admin[a]
  msg := sprintf("%s contains admin if public", [a])
}

contains_admin[a] {
  rc := input.resource_changes[_]
  rc.change.after.acl == "public-read"
  a := rc.address
}

notify_if_x = true { true }

test_contains_admin {
  count(deny) == 1 with input as {"resource_changes": [{"address": "b", "change": {"after": {"acl": "public-read"}}}]}
}
"#;
    let v1 = r#"package other

# no import rego.v1; "deny[msg] {" in a comment
deny contains msg if {
  some rc in input.resource_changes
  msg := "deny[msg] { if"
}

test_one if {
  count(deny) == 1 with input as {"resource_changes": [{}]}
}
"#;
    // v0 as most public libraries write it: the builtins contains() and
    // startswith() in rule bodies, a field named like a v1 keyword.
    let v0_builtins = r#"package lib

deny[msg] {
  r := input.resource_changes[_]
  contains(r.address, "aws_instance")
  not contains (r.address, "legacy")
  startswith(r.type, "aws_")
  msg := sprintf("instance %v", [r.address])
}

test_builtins {
  count(deny) == 1 with input as {"resource_changes": [{"address": "aws_instance.a", "type": "aws_instance"}]}
}
"#;
    for files in [
        vec![("v0.rego", v0)],
        vec![("v1.rego", v1)],
        vec![("v0b.rego", v0_builtins)],
        vec![("v0.rego", v0), ("v1.rego", v1)],
        vec![("v0.rego", v0), ("v1.rego", v1), ("v0b.rego", v0_builtins)],
    ] {
        let dir = policy_dir(&files);
        let run = arbiter(&["policy", "test", &path_str(dir.path())]);
        expect_code(&run, 0);
        assert!(
            run.stdout.contains(&format!("PASS: {0}/{0}", files.len())),
            "{}",
            run.stdout
        );
    }
    // Neither syntax parses: the error is the one of the syntax the code
    // indicates (v0 here), with the file and line.
    let bad = policy_dir(&[(
        "bad.rego",
        "package main\n# if contains\ndeny[msg] {\n  msg := \"x\"\n  y := \n}\n",
    )]);
    let run = arbiter(&["policy", "test", &path_str(bad.path())]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("bad.rego:6"), "{}", run.stderr);
    assert!(!run.stderr.contains("`if` keyword"), "{}", run.stderr);
}

/// Issue 10: `arbiter policy test` bounds each test by --policy-timeout and
/// refuses recursive policies before running anything.
#[test]
fn policy_test_bounds_each_test_and_refuses_recursion() {
    let slow = policy_dir(&[(
        "slow_test.rego",
        "package main\nimport rego.v1\n\ntest_fast if true\n\ntest_slow if {\n  count([1 | some i in numbers.range(1, 14000); some j in numbers.range(1, 14000); i + j == 0]) >= 0\n}\n",
    )]);
    let started = std::time::Instant::now();
    let run = arbiter(&[
        "policy",
        "test",
        &path_str(slow.path()),
        "--policy-timeout",
        "500ms",
    ]);
    expect_code(&run, 1);
    assert!(
        run.stdout.contains("test_slow: ERROR")
            && run.stdout.contains("exceeded the time budget of 500 ms"),
        "{}",
        run.stdout
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    let rec = policy_dir(&[(
        "rec_test.rego",
        "package main\nimport rego.v1\n\nf(x) := f(x + 1)\n\ntest_f if f(1) > 0\n",
    )]);
    let run = arbiter(&["policy", "test", &path_str(rec.path())]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr
            .contains("recursion: data.main.f -> data.main.f in ")
            && run.stderr.contains("rec_test.rego:4"),
        "{}",
        run.stderr
    );
}

// ---------------------------------------------------------------------------
// Rule pack
// ---------------------------------------------------------------------------

fn rule_ids() -> Vec<String> {
    let run = arbiter(&["rules", "list", "--format", "json"]);
    expect_code(&run, 0);
    run.json()
        .as_array()
        .expect("rules list -f json is an array")
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_string())
        .collect()
}

#[test]
fn rules_list_has_the_whole_pack() {
    let ids = rule_ids();
    let distinct: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len(), "duplicate rule IDs");
    assert!(
        ids.len() >= 60,
        "the rule pack has {} rules; PRODUCT wants at least 60",
        ids.len()
    );
    let text = arbiter(&["rules", "list"]);
    expect_code(&text, 0);
    for id in &ids {
        assert!(
            text.stdout.contains(id.as_str()),
            "{id} missing from the text listing"
        );
    }
    assert!(
        text.stdout.contains(&format!("{} rules", ids.len())),
        "{}",
        text.stdout
    );
    let aws = arbiter(&["rules", "list", "--provider", "aws", "-f", "json"]).json();
    let aws = aws.as_array().unwrap();
    assert!(!aws.is_empty() && aws.len() <= ids.len());
    assert!(aws.iter().all(|r| r["provider"]
        .as_str()
        .is_some_and(|p| p.eq_ignore_ascii_case("aws"))));
}

#[test]
fn rules_show_gives_rationale_and_source() {
    let ids = rule_ids();
    for id in [ids.first().unwrap(), ids.last().unwrap()] {
        let json = arbiter(&["rules", "show", id, "--format", "json"]).json();
        let rationale = json["rationale"].as_str().unwrap_or_default();
        let source = json["source"].as_str().unwrap_or_default();
        assert!(rationale.len() > 20, "{id}: rationale {rationale:?}");
        assert!(source.contains("package "), "{id}: source {source:?}");
        let text = arbiter(&["rules", "show", id]);
        expect_code(&text, 0);
        assert!(text.stdout.contains(id.as_str()));
        assert!(
            text.stdout.contains(rationale),
            "{id}: text shows the rationale"
        );
        assert!(
            text.stdout.contains(source.lines().next().unwrap()),
            "{id}: text shows the source"
        );
    }
    let missing = arbiter(&["rules", "show", "ARB-NO-SUCH-RULE-999"]);
    expect_code(&missing, 1);
    assert!(missing.stderr.contains("ARB-NO-SUCH-RULE-999"));
}

#[test]
fn rules_export_writes_the_pack() {
    let dir = tempfile::tempdir().unwrap();
    let run = arbiter_in(Some(dir.path()), &["rules", "export", "exported"]);
    expect_code(&run, 0);
    let mut rego = 0;
    let mut stack = vec![dir.path().join("exported")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rego") {
                rego += 1;
            }
        }
    }
    assert!(rego >= rule_ids().len(), "{rego} .rego files exported");
    // The exported pack loads as a policy directory.
    let again = arbiter_in(
        Some(dir.path()),
        &[
            "evaluate",
            &scenario_plan("ssh-open-to-world"),
            "--policy",
            "exported",
            "-f",
            "json",
        ],
    );
    expect_code(&again, 3);
}

// ---------------------------------------------------------------------------
// Sensitive values
// ---------------------------------------------------------------------------

const DB_SECRET: &str = "Arb1ter-DB-pa55word-XYZZY";

/// A hand-made plan in Terraform's shape with a sensitive password, a
/// sensitive root variable, and a sensitive output.
fn sensitive_plan() -> String {
    serde_json::json!({
        "format_version": "1.2",
        "terraform_version": "1.11.4",
        "variables": {"db_password": {"value": DB_SECRET}},
        "resource_changes": [{
            "address": "aws_db_instance.main",
            "mode": "managed",
            "type": "aws_db_instance",
            "name": "main",
            "provider_name": "registry.terraform.io/hashicorp/aws",
            "change": {
                "actions": ["update"],
                "before": {"identifier": "main", "password": "old-pa55word-before", "instance_class": "db.t3.micro"},
                "after": {"identifier": "main", "password": DB_SECRET, "instance_class": "db.t3.small"},
                "after_unknown": {},
                "before_sensitive": {"password": true},
                "after_sensitive": {"password": true}
            }
        }],
        "output_changes": {"dsn": {"actions": ["update"], "before": "old-pa55word-before", "after": format!("postgres://app:{DB_SECRET}@db"), "after_unknown": false, "before_sensitive": true, "after_sensitive": true}},
        "configuration": {"root_module": {"variables": {"db_password": {"sensitive": true}}}}
    })
    .to_string()
}

/// A policy that tries hard to print the secret.
const LEAKY_POLICY: &str = r#"package main

deny contains {"msg": sprintf("password is %s", [rc.change.after.password]), "address": rc.address, "details": {"pw": rc.change.after.password}} if {
  some rc in input.resource_changes
  rc.change.after.password
}

warn contains sprintf("variable is %v", [input.variables.db_password.value]) if {
  input.variables.db_password
}
"#;

#[test]
fn sensitive_values_never_appear_in_any_output_format() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("plan.json"), sensitive_plan()).unwrap();
    std::fs::create_dir(dir.path().join("policies")).unwrap();
    std::fs::write(dir.path().join("policies/leaky.rego"), LEAKY_POLICY).unwrap();
    let cases: Vec<(String, Vec<&str>, Vec<&str>)> = vec![
        (
            "plan.json".to_string(),
            vec![DB_SECRET, "old-pa55word-before"],
            vec!["--policy", "policies"],
        ),
        (
            path_str(&fixtures().join("generated/nested-modules/plan-update.json")),
            vec![
                "tok-ARBITER-CANARY-7f3a9c",
                "tok-ARBITER-CANARY-rotated-2b8e",
            ],
            vec![],
        ),
        (
            path_str(
                &fixtures().join("generated/modules-lifecycle/plan-update-replace-delete.json"),
            ),
            vec!["initial-Passw0rd", "rotated-Secret9"],
            vec![],
        ),
    ];
    for (plan, secrets, extra) in &cases {
        // The plan really carries the secrets.
        let raw = std::fs::read_to_string(dir.path().join(plan)).unwrap();
        for s in secrets {
            assert!(raw.contains(s), "{plan} should contain {s}");
        }
        for format in ["text", "json", "sarif", "markdown"] {
            let mut args = vec!["evaluate", plan.as_str(), "--format", format];
            args.extend(extra.iter().copied());
            let run = arbiter_in(Some(dir.path()), &args);
            assert!(
                [0, 2, 3].contains(&run.code),
                "{}: {}",
                run.shown,
                run.stderr
            );
            for s in secrets {
                assert!(
                    !run.stdout.contains(s),
                    "{format} output of {plan} shows {s}:\n{}",
                    run.stdout
                );
                assert!(!run.stderr.contains(s), "stderr for {plan} shows {s}");
            }
        }
    }
    // The leaky policy did fire, with the secret masked.
    let run = arbiter_in(
        Some(dir.path()),
        &[
            "evaluate",
            "plan.json",
            "--policy",
            "policies",
            "-f",
            "json",
        ],
    );
    let v = run.json();
    let leak = findings(&v)
        .iter()
        .find(|f| {
            f["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("password is"))
        })
        .expect("the policy fired");
    assert!(
        leak["message"].as_str().unwrap().contains("(sensitive)"),
        "{leak}"
    );
    // And the attribute diff still shows the non-secret change.
    assert!(
        run.stdout.contains("db.t3.small"),
        "non-sensitive changes stay visible"
    );
}

// ---------------------------------------------------------------------------
// Help
// ---------------------------------------------------------------------------

/// Subcommand paths found by walking `--help` from the top.
fn all_commands() -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut queue = vec![Vec::<String>::new()];
    while let Some(path) = queue.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let run = arbiter(&args);
        expect_code(&run, 0);
        let mut in_commands = false;
        for line in run.stdout.lines() {
            if line.starts_with("Commands:") {
                in_commands = true;
                continue;
            }
            if in_commands {
                if !line.starts_with("  ") {
                    in_commands = false;
                    continue;
                }
                // A description that wraps continues on a line indented
                // under it, not under the command names.
                if line.starts_with("   ") {
                    continue;
                }
                let name = line.split_whitespace().next().unwrap_or_default();
                if !name.is_empty() && name != "help" {
                    let mut child = path.clone();
                    child.push(name.to_string());
                    queue.push(child);
                }
            }
        }
        out.push(path);
    }
    out.sort();
    out
}

/// `(flag, description)` for every option line of a help text; the
/// description is on the same line or on the indented lines that follow.
fn options_of(help: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = help.lines().collect();
    let mut out = Vec::new();
    let mut in_options = false;
    for (i, line) in lines.iter().enumerate() {
        if line.starts_with("Options:") {
            in_options = true;
            continue;
        }
        if in_options && !line.is_empty() && !line.starts_with(' ') {
            in_options = false;
        }
        let t = line.trim_start();
        let indent = line.len() - t.len();
        if !in_options || !t.starts_with('-') || indent > 6 {
            continue;
        }
        let flag = t
            .split([',', ' '])
            .map(str::trim)
            .find(|w| w.starts_with("--"))
            .unwrap_or_else(|| t.split_whitespace().next().unwrap_or_default())
            .to_string();
        let same_line = t
            .split_once("  ")
            .map(|(_, d)| d.trim().to_string())
            .unwrap_or_default();
        let description = if !same_line.is_empty() {
            same_line
        } else {
            lines
                .get(i + 1)
                .map(|l| l.trim().to_string())
                .unwrap_or_default()
        };
        out.push((flag, description));
    }
    out
}

#[test]
fn every_command_has_help_and_every_flag_a_description() {
    let commands = all_commands();
    let names: Vec<String> = commands.iter().map(|c| c.join(" ")).collect();
    for want in [
        "",
        "evaluate",
        "policy",
        "policy test",
        "rules",
        "rules list",
        "rules show",
        "rules export",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "command {want:?} not found by walking --help: {names:?}"
        );
    }
    let mut undocumented = Vec::new();
    for path in &commands {
        for flag in ["--help", "-h"] {
            let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
            args.push(flag);
            let run = arbiter(&args);
            expect_code(&run, 0);
            assert!(
                run.stdout.contains("Usage: arbiter"),
                "{}: {}",
                run.shown,
                run.stdout
            );
            let options = options_of(&run.stdout);
            assert!(
                options.iter().any(|(f, _)| f == "--help"),
                "{}: no options parsed from\n{}",
                run.shown,
                run.stdout
            );
            for (f, d) in options {
                if d.len() < 4 || d.starts_with('-') {
                    undocumented.push(format!("{}: {f} has no description", run.shown));
                }
            }
        }
    }
    assert!(undocumented.is_empty(), "{undocumented:#?}");
    // Each command mentions its own options.
    let expect: &[(&[&str], &[&str])] = &[
        (
            &["evaluate"],
            &[
                "--stack",
                "--policy",
                "--namespace",
                "--format",
                "--output",
                "--disable-rule",
                "--environment",
                "--threshold",
                "--no-builtin-rules",
            ],
        ),
        (&["policy", "test"], &["--run", "--verbose", "--format"]),
        (&["rules", "list"], &["--provider", "--format"]),
        (&["rules", "show"], &["--format", "<ID>"]),
        (&["rules", "export"], &["<DIR>"]),
    ];
    for (path, flags) in expect {
        let mut args = path.to_vec();
        args.push("--help");
        let run = arbiter(&args);
        for f in *flags {
            assert!(
                run.stdout.contains(f),
                "`arbiter {} --help` does not mention {f}",
                path.join(" ")
            );
        }
    }
    let top = arbiter(&["--help"]);
    for cmd in ["evaluate", "policy", "rules"] {
        assert!(top.stdout.contains(cmd));
    }
    assert!(
        top.stdout.contains("Exit codes"),
        "top-level help explains exit codes"
    );
    let version = arbiter(&["--version"]);
    expect_code(&version, 0);
    assert!(version.stdout.starts_with("arbiter "), "{}", version.stdout);
}

#[test]
fn help_option_parser_finds_undocumented_flags() {
    // The checker itself must be able to fail.
    let help = "Usage: arbiter x\n\nOptions:\n      --good <X>  Does a thing\n      --bad\n\n  -h, --help  Print help\n";
    let opts = options_of(help);
    assert_eq!(opts.len(), 3, "{opts:?}");
    assert_eq!(opts[0], ("--good".to_string(), "Does a thing".to_string()));
    assert_eq!(opts[1].0, "--bad");
    assert!(opts[1].1.len() < 4, "{opts:?}");
}

// ---------------------------------------------------------------------------
// arbiter calibrate
// ---------------------------------------------------------------------------

/// A labelled corpus in a temp dir: a routine plan, a blatant one, a risky
/// one labelled `review` (the synonym), and a subdirectory whose row has no
/// stack file (the columns build it) and labels a routine plan as risky.
fn calibration_corpus(with_bad_sub: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let copy = |from: &str, to: &Path| {
        std::fs::copy(scenarios().join(format!("{from}.plan.json")), to).unwrap();
    };
    let root = dir.path();
    copy("tags-only-update", &root.join("tags.plan.json"));
    copy("ssh-open-to-world", &root.join("ssh.plan.json"));
    copy("delete-prod-database", &root.join("drop-db.plan.json"));
    for name in ["tags", "ssh", "drop-db"] {
        std::fs::write(
            root.join(format!("{name}.stack.toml")),
            format!("name = \"{name}\"\nenvironment = \"prod\"\nmonthly_budget_usd = 20000\n"),
        )
        .unwrap();
    }
    std::fs::write(
        root.join("expected.tsv"),
        "name\texpect\tenvironment\tmonthly_budget_usd\n\
         tags\tapprove\tprod\t20000\n\
         ssh\treject\tprod\t20000\n\
         drop-db\treview\tprod\t20000\n",
    )
    .unwrap();
    if with_bad_sub {
        let sub = root.join("nested/mislabelled");
        std::fs::create_dir_all(&sub).unwrap();
        copy("tags-only-update", &sub.join("tags-called-risky.plan.json"));
        std::fs::write(
            sub.join("expected.tsv"),
            "name\texpect\tenvironment\tmonthly_budget_usd\ntags-called-risky\tescalate\tprod\t20000\n",
        )
        .unwrap();
    }
    dir
}

#[test]
fn calibrate_reports_a_clean_corpus_in_three_formats() {
    let dir = calibration_corpus(false);
    let d = path_str(dir.path());
    let run = arbiter(&["calibrate", &d, "--format", "json"]);
    expect_code(&run, 0);
    let v = run.json();
    assert_eq!(v["format"], "arbiter-calibration/1");
    assert_eq!(v["plans"], 3);
    assert_eq!(v["ok"], true);
    assert_eq!(v["confusion"]["approve"]["approve"], 1);
    assert_eq!(v["confusion"]["escalate"]["review"], 1);
    assert_eq!(v["confusion"]["reject"]["reject"], 1);
    assert_eq!(v["automation"]["routine"], 1);
    assert_eq!(v["automation"]["approved"], 1);
    assert_eq!(v["automation"]["rate"], 1.0);
    assert_eq!(v["risky_approved"]["risky"], 2);
    assert_eq!(v["risky_approved"]["approved"], 0);
    assert_eq!(v["blatant_rejected"]["rejected"], 1);
    assert_eq!(v["misses"].as_array().unwrap().len(), 0);
    let prod = &v["thresholds"][0];
    assert_eq!(prod["environment"], "prod");
    assert_eq!(prod["current"], 95.0);
    // Both risky plans are held by deny/escalate findings whatever the threshold.
    assert_eq!(prod["risky_held_by_findings"], 2);
    assert_eq!(prod["lowest_safe_threshold"], 0.0);
    assert_eq!(prod["routine_approved_at_lowest"], 1);
    let drop = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["plan"].as_str().unwrap().ends_with("drop-db"))
        .unwrap();
    assert_eq!(drop["expected"], "escalate", "review is a synonym");
    assert_eq!(drop["held_by_findings"], true);

    let text = arbiter(&["calibrate", &d]);
    expect_code(&text, 0);
    for want in [
        "expected \\ got",
        "automation      1/1 routine plans approved (100.0 %)",
        "risky approved  0 of 2",
        "blatant         1/1 rejected",
        "lowest safe threshold",
        "PASS",
    ] {
        assert!(text.stdout.contains(want), "{want:?} in\n{}", text.stdout);
    }
    // The confusion table is aligned: the header's columns line up with the rows.
    let header = text
        .stdout
        .lines()
        .find(|l| l.contains("expected \\ got"))
        .unwrap();
    let approve_row = text
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("approve "))
        .unwrap();
    assert_eq!(
        header.len(),
        approve_row.len(),
        "{header:?} / {approve_row:?}"
    );

    let md = arbiter(&["calibrate", &d, "--format", "markdown"]);
    expect_code(&md, 0);
    assert!(
        md.stdout
            .contains("| expected \\ got | approve | review | reject | total |"),
        "{}",
        md.stdout
    );
    assert!(
        md.stdout.contains("| approve | 1 | 0 | 0 | 1 |"),
        "{}",
        md.stdout
    );
    assert!(
        md.stdout.contains("### Thresholds per environment"),
        "{}",
        md.stdout
    );
}

#[test]
fn calibrate_fails_when_a_risky_plan_is_approved_and_finds_the_threshold() {
    let dir = calibration_corpus(true);
    let d = path_str(dir.path());
    let run = arbiter(&["calibrate", &d, "--format", "json"]);
    expect_code(&run, 3);
    let v = run.json();
    assert_eq!(v["plans"], 4, "the nested directory is included");
    assert_eq!(v["ok"], false);
    assert_eq!(v["confusion"]["escalate"]["approve"], 1);
    assert_eq!(v["risky_approved"]["approved"], 1);
    let miss = &v["misses"][0];
    assert!(miss["plan"]
        .as_str()
        .unwrap()
        .ends_with("tags-called-risky"));
    assert_eq!(miss["expected"], "escalate");
    assert_eq!(miss["got"], "approve");
    // Only the blast-radius critic's points: no rule saw anything.
    let fs = miss["findings"].as_array().unwrap();
    assert!(
        !fs.is_empty()
            && fs
                .iter()
                .all(|f| f["source"].as_str().unwrap().starts_with("critic:")),
        "{fs:?}"
    );
    let c = miss["confidence"].as_f64().unwrap();
    let prod = &v["thresholds"][0];
    let lowest = prod["lowest_safe_threshold"].as_f64().unwrap();
    assert!(lowest > c && lowest - c <= 0.1 + 1e-9, "{lowest} vs {c}");
    // The routine plan scores the same as the mislabelled copy: the threshold
    // that holds the copy holds it too.
    assert_eq!(prod["routine_approved_at_lowest"], 0);
    assert_eq!(prod["routine_approved_now"], 1);
    let only = &prod["score_only_risky"][0];
    assert_eq!(only["rule_findings"], false);
    assert!(
        only["reason"].as_str().unwrap().contains("no rule finding"),
        "{only}"
    );

    let text = arbiter(&["calibrate", &d]);
    expect_code(&text, 3);
    assert!(text.stdout.contains("Misses (1):"), "{}", text.stdout);
    assert!(text.stdout.contains("BLAST-"), "{}", text.stdout);
    assert!(
        text.stdout.contains("FAIL: 1 risky plan(s) approved"),
        "{}",
        text.stdout
    );
    let md = arbiter(&["calibrate", &d, "--format", "markdown"]);
    expect_code(&md, 3);
    assert!(md.stdout.contains("### Misses"), "{}", md.stdout);
}

#[test]
fn calibrate_reports_bad_corpora_as_errors() {
    let dir = calibration_corpus(false);
    let d = path_str(dir.path());
    // The stack file and the table disagree.
    let tsv = dir.path().join("expected.tsv");
    let text = std::fs::read_to_string(&tsv).unwrap();
    std::fs::write(&tsv, text.replace("ssh\treject\tprod", "ssh\treject\tdev")).unwrap();
    let run = arbiter(&["calibrate", &d]);
    expect_code(&run, 1);
    assert!(
        run.stderr.contains("expected.tsv:3") && run.stderr.contains("environment"),
        "{}",
        run.stderr
    );
    // An unknown label.
    std::fs::write(&tsv, "name\texpect\ntags\tmaybe\n").unwrap();
    let run = arbiter(&["calibrate", &d]);
    expect_code(&run, 1);
    assert!(run.stderr.contains("maybe"), "{}", run.stderr);
    // A directory without any expected.tsv.
    let empty = tempfile::tempdir().unwrap();
    let run = arbiter(&["calibrate", &path_str(empty.path())]);
    expect_code(&run, 1);
    assert!(run.stderr.contains("no expected.tsv"), "{}", run.stderr);
    let help = arbiter(&["calibrate", "--help"]);
    expect_code(&help, 0);
    for want in [
        "expected.tsv",
        "threshold",
        "--policy",
        "--format",
        "Exit code",
    ] {
        assert!(help.stdout.contains(want), "{want} in\n{}", help.stdout);
    }
}

/// The repository's own corpora, as CI runs them: every directory (with the
/// nested weakening corpus) is read, every routine plan is approved, no risky
/// one is and every blatant one is rejected (exit 0).
#[test]
fn calibrate_runs_on_the_repository_corpora() {
    let a = path_str(&scenarios());
    let b = path_str(&Path::new(WORKSPACE).join("tests/scenarios-extra"));
    let run = arbiter(&["calibrate", &a, &b, "--format", "json"]);
    assert_eq!(run.code, 0, "{}: {}\n{}", run.shown, run.stderr, run.stdout);
    let v = run.json();
    let dirs: Vec<&str> = v["directories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    assert!(dirs.iter().any(|d| d.ends_with("weakening")), "{dirs:?}");
    assert!(v["plans"].as_u64().unwrap() >= 80);
    assert_eq!(v["automation"]["approved"], v["automation"]["routine"]);
    assert_eq!(v["ok"], run.code == 0);
}

// ---------------------------------------------------------------------------
// Usage errors
// ---------------------------------------------------------------------------

/// Every command of clap's tree, as the path of names under `arbiter` (the
/// top level is the empty path), with the command itself.
fn command_tree() -> Vec<(Vec<String>, clap::Command)> {
    use clap::CommandFactory;
    let mut out = Vec::new();
    let mut queue = vec![(Vec::<String>::new(), arbiter_cli::Cli::command())];
    while let Some((path, cmd)) = queue.pop() {
        for sub in cmd.get_subcommands() {
            let mut child = path.clone();
            child.push(sub.get_name().to_string());
            queue.push((child, sub.clone()));
        }
        out.push((path, cmd));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Runs `arbiter ARGS` with none of the environment variables that may
/// stand in for an argument of any command (so "missing" means missing).
fn arbiter_bare(args: &[&str], env: &[String]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_arbiter"));
    cmd.args(args).env("NO_COLOR", "1");
    for name in env {
        cmd.env_remove(name);
    }
    let out = cmd.output().expect("running arbiter");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        shown: format!("arbiter {}", args.join(" ")),
    }
}

/// A mistyped flag or a missing argument is an error (exit 1, the usage on
/// stderr, nothing on stdout), never "needs review" (2), for every command
/// and subcommand in clap's tree: a new command is covered without touching
/// this test.
#[test]
fn usage_errors_exit_1_for_every_command() {
    let tree = command_tree();
    let env: Vec<String> = tree
        .iter()
        .flat_map(|(_, c)| c.get_arguments().filter_map(|a| a.get_env()))
        .map(|e| e.to_string_lossy().into_owned())
        .collect();
    assert!(tree.len() > 40, "only {} commands in the tree", tree.len());
    let mut failures = Vec::new();
    let mut missing_cases = 0;
    for (path, cmd) in &tree {
        let words: Vec<&str> = path.iter().map(String::as_str).collect();
        let usage = format!(
            "Usage: arbiter{}",
            words.iter().map(|w| format!(" {w}")).collect::<String>()
        );
        // (arguments, what stderr must also name)
        let mut cases: Vec<(Vec<&str>, &str)> = Vec::new();
        let mut bad_flag = words.clone();
        bad_flag.push("--no-such-flag");
        cases.push((bad_flag, "--no-such-flag"));
        let needs_subcommand = cmd.is_subcommand_required_set();
        let needs_argument = cmd
            .get_arguments()
            .any(|a| a.is_required_set() && a.get_default_values().is_empty());
        if needs_subcommand || needs_argument {
            missing_cases += 1;
            cases.push((
                words.clone(),
                if needs_subcommand {
                    "Commands:"
                } else {
                    "required"
                },
            ));
        }
        for (args, names) in cases {
            let run = arbiter_bare(&args, &env);
            let ok = run.code == 1
                && run.stdout.is_empty()
                && run.stderr.contains(&usage)
                && run.stderr.contains(names)
                && !run.stderr.contains("internal error");
            if !ok {
                failures.push(format!(
                    "{}: exit {} (want 1), stdout {:?}, stderr must name {usage:?} and {names:?}:\n{}",
                    run.shown, run.code, run.stdout, run.stderr
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(
        missing_cases > 20,
        "only {missing_cases} commands need an argument"
    );
}

/// `--help` and `--version` are not errors: stdout, exit 0, at every level.
#[test]
fn help_and_version_exit_0_on_stdout() {
    for args in [
        &["--help"][..],
        &["-h"],
        &["--version"],
        &["-V"],
        &["review", "--version"],
        &["state", "push", "--help"],
        &["help"],
        &["help", "evaluate"],
    ] {
        let run = arbiter_bare(args, &[]);
        expect_code(&run, 0);
        assert!(run.stderr.is_empty(), "{}: {}", run.shown, run.stderr);
        assert!(
            run.stdout.contains("Usage: arbiter") || run.stdout.starts_with("arbiter"),
            "{}: {}",
            run.shown,
            run.stdout
        );
    }
}
#[test]
fn rules_list_gaps_prints_the_known_gaps_file() {
    let file: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../tests/checkov/known_gaps.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let entries = file["not_covered"].as_array().unwrap();
    assert!(!entries.is_empty());
    let json = arbiter(&["rules", "list", "--gaps", "--format", "json"]);
    expect_code(&json, 0);
    assert_eq!(&json.json(), &file["not_covered"]);
    let text = arbiter(&["rules", "list", "--gaps"]);
    expect_code(&text, 0);
    for e in entries {
        for key in ["check_id", "check_name", "reason"] {
            let v = e[key].as_str().unwrap();
            assert!(text.stdout.contains(v), "{v} missing from the text listing");
        }
    }
    assert!(text
        .stdout
        .contains(&format!("{} Checkov checks not covered", entries.len())));
    // A usage error: exit 1, like every error (2 means "needs review").
    expect_code(
        &arbiter(&["rules", "list", "--gaps", "--provider", "aws"]),
        1,
    );
}
