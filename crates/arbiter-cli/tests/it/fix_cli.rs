#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `arbiter fix PLAN --config DIR [--write]` end to end: a plan judged, its
//! findings' fixes patched into the configuration it came from, and
//! `arbiter rules list` saying which rules have a fix.

use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Output};

fn arbiter(args: &[&str], cwd: &Path) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_arbiter"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("panicked") && !err.contains("internal error"),
        "{err}"
    );
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}

fn rc(
    address: &str,
    ty: &str,
    name: &str,
    index: Value,
    module: Option<&str>,
    after: Value,
) -> Value {
    json!({"address": address, "mode": "managed", "type": ty, "name": name, "index": index,
           "module_address": module, "provider_name": "registry.terraform.io/hashicorp/aws",
           "change": {"actions": ["create"], "before": null, "after": after, "after_unknown": {}}})
}

/// The plan of `crates/arbiter-fix/tests/fixtures/config` (written by hand:
/// `terraform plan` needs providers that cannot be installed here).
fn plan() -> Value {
    let web = |i: i64| {
        rc(
            &format!("aws_instance.web[{i}]"),
            "aws_instance",
            "web",
            json!(i),
            None,
            json!({"ami": "ami-123", "instance_type": "t3.micro",
                  "metadata_options": [{"http_endpoint": "enabled", "http_tokens": "optional", "http_put_response_hop_limit": 1}],
                  "root_block_device": [{"encrypted": true}]}),
        )
    };
    json!({"format_version": "1.2", "terraform_version": "1.11.0", "resource_changes": [
        web(0), web(1),
        rc("aws_db_instance.main", "aws_db_instance", "main", Value::Null, None,
           json!({"engine": "postgres", "instance_class": "db.t3.micro", "publicly_accessible": true,
                  "storage_encrypted": false, "backup_retention_period": 7, "deletion_protection": true,
                  "skip_final_snapshot": false})),
        rc("aws_ebs_volume.data", "aws_ebs_volume", "data", Value::Null, None,
           json!({"availability_zone": "us-east-1a", "size": 10, "encrypted": false})),
        rc("module.cache.aws_elasticache_replication_group.this[\"a\"]", "aws_elasticache_replication_group", "this",
           json!("a"), Some("module.cache"),
           json!({"replication_group_id": "cache-a", "description": "cache",
                  "at_rest_encryption_enabled": false, "transit_encryption_enabled": false})),
    ]})
}

#[test]
fn fix_prints_a_patch_writes_it_and_explains_what_it_cannot_patch() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("infra");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../arbiter-fix/tests/fixtures/config"),
        &cfg,
    );
    std::fs::write(dir.path().join("plan.json"), plan().to_string()).unwrap();
    let before = std::fs::read_to_string(cfg.join("main.tf")).unwrap();

    // JSON: the verdict now, the counterfactual, one entry per fixed finding.
    let out = arbiter(
        &[
            "fix",
            "plan.json",
            "--config",
            "infra",
            "--env",
            "prod",
            "-f",
            "json",
        ],
        dir.path(),
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["decision"], "reject", "{doc:#}");
    let cf = doc["counterfactual"]["decision"].as_str().unwrap();
    let want_code = match cf {
        "approve" => 0,
        "review" => 2,
        _ => 3,
    };
    assert_eq!(out.status.code(), Some(want_code));
    let fixes = doc["fixes"].as_array().unwrap();
    let by = |rule: &str, addr: &str| {
        fixes
            .iter()
            .find(|f| f["rule_id"] == rule && f["address"] == addr)
            .unwrap_or_else(|| panic!("{rule} {addr}: {doc:#}"))
            .clone()
    };
    assert_eq!(
        by("ARB-AWS-RDS-001", "aws_db_instance.main")["applied"],
        json!(["publicly_accessible = false"])
    );
    assert!(
        by("ARB-AWS-RDS-002", "aws_db_instance.main")["not_patched"][0]
            .as_str()
            .unwrap()
            .contains("variable \"encrypt\"")
    );
    let cache = by(
        "ARB-AWS-ECACHE-001",
        "module.cache.aws_elasticache_replication_group.this[\"a\"]",
    );
    assert!(
        cache["not_patched"][0]
            .as_str()
            .unwrap()
            .contains("input \"encrypt\" of module.cache"),
        "{cache}"
    );
    assert_eq!(
        by(
            "ARB-AWS-ECACHE-002",
            "module.cache.aws_elasticache_replication_group.this[\"a\"]"
        )["file"],
        "modules/cache/main.tf"
    );
    assert_eq!(
        by("ARB-AWS-EC2-001", "aws_instance.web[0]")["all_instances"],
        true
    );
    assert!(doc["written"].as_array().unwrap().is_empty());

    // Text: the diff on stdout (patch -p0 applies it), the report on stderr.
    let out = arbiter(
        &["fix", "plan.json", "--config", "infra", "--env", "prod"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(want_code));
    let diff = String::from_utf8(out.stdout).unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(diff.starts_with("--- main.tf\n+++ main.tf\n"), "{diff}");
    assert!(diff.contains("+  publicly_accessible = false\n"), "{diff}");
    assert!(err.contains("ARB-AWS-RDS-002 aws_db_instance.main: NOT PATCHED: storage_encrypted = true: the value comes from variable \"encrypt\""), "{err}");
    assert!(err.contains("With the mechanical fixes: "), "{err}");
    assert_eq!(
        std::fs::read_to_string(cfg.join("main.tf")).unwrap(),
        before,
        "printing must not write"
    );

    // --write: the files change, parse, and pass terraform fmt -check.
    let out = arbiter(
        &[
            "fix",
            "plan.json",
            "--config",
            "infra",
            "--env",
            "prod",
            "--write",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(want_code));
    assert!(out.stdout.is_empty());
    let after = std::fs::read_to_string(cfg.join("main.tf")).unwrap();
    assert!(
        after.contains("http_tokens   = \"required\" # legacy agents"),
        "{after}"
    );
    assert!(std::fs::read_to_string(cfg.join("modules/cache/main.tf"))
        .unwrap()
        .contains("transit_encryption_enabled = true"));
    let fmt = Command::new("terraform")
        .args(["fmt", "-check", "-diff", "-recursive"])
        .current_dir(&cfg)
        .output()
        .unwrap();
    assert!(
        fmt.status.success(),
        "{}",
        String::from_utf8_lossy(&fmt.stdout)
    );
    // Nothing left to patch: a second run prints an empty diff.
    let out = arbiter(
        &["fix", "plan.json", "--config", "infra", "--env", "prod"],
        dir.path(),
    );
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // A missing directory is a clear error.
    let out = arbiter(&["fix", "plan.json", "--config", "nope"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--config nope: not a directory"));
}

#[test]
fn rules_list_says_which_rules_have_a_fix() {
    let dir = tempfile::tempdir().unwrap();
    let out = arbiter(&["rules", "list"], dir.path());
    let text = String::from_utf8(out.stdout).unwrap();
    let line = |id: &str| {
        text.lines()
            .find(|l| l.starts_with(id))
            .unwrap()
            .to_string()
    };
    assert!(
        line("ARB-AWS-EC2-001 ").contains(" yes "),
        "{}",
        line("ARB-AWS-EC2-001 ")
    );
    assert!(!line("ARB-AWS-NET-001 ").contains(" yes "));
    let json: Value =
        serde_json::from_slice(&arbiter(&["rules", "list", "-f", "json"], dir.path()).stdout)
            .unwrap();
    let fixable = json
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r.get("fix").is_some())
        .count();
    assert!(
        text.contains(&format!("{fixable} with a mechanical fix")),
        "{text}"
    );
    let show = String::from_utf8(arbiter(&["rules", "show", "ARB-AWS-EC2-001"], dir.path()).stdout)
        .unwrap();
    assert!(
        show.contains("Mechanical fix")
            && show.contains("metadata_options[0].http_tokens = \"required\""),
        "{show}"
    );
}
