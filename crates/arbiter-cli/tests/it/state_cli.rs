//! `arbiter state push|list|show|diff|rollback` against a real `arbiter
//! serve`, with the states Terraform 1.11 made for the state-history fixture
//! (tests/fixtures/terraform/generated/state-history): content addressing,
//! the lineage check, masked output, diffs, rollback exit codes, agents.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::{arbiter, start, text};
use std::path::{Path, PathBuf};
use std::process::Output;

fn fixture(name: &str) -> String {
    fixture_path(name).display().to_string()
}

fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/terraform/generated/state-history")
        .join(name)
}

#[test]
fn the_state_commands_drive_a_real_server() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = start(d);
    let admin = Some(s.token.as_str());
    let ok = |o: &Output| {
        assert!(o.status.success(), "{}", text(o));
        text(o)
    };
    ok(&arbiter(
        &s,
        d,
        &["stack", "create", "web", "-e", "dev"],
        admin,
    ));
    ok(&arbiter(
        &s,
        d,
        &["stack", "create", "other", "-e", "dev"],
        admin,
    ));
    let v1 = fixture("state-v1.tfstate");
    let v2 = fixture("state-v2.tfstate");

    let out = ok(&arbiter(
        &s,
        d,
        &["state", "push", "web", &v1, "--commit", "c0ffee1"],
        admin,
    ));
    assert!(
        out.starts_with("stored version 1 of web: 11 resources, serial ")
            && out.contains("commit c0ffee1"),
        "{out}"
    );
    let digest = arbiter_api::signing::sha256_hex(
        std::fs::read_to_string(fixture_path("state-v1.tfstate"))
            .unwrap()
            .trim()
            .as_bytes(),
    );
    assert!(out.contains(&format!("sha256 {}", &digest[..12])), "{out}");
    let out = ok(&arbiter(&s, d, &["state", "push", "web", &v1], admin));
    assert!(
        out.starts_with("unchanged: the state is already version 1 of web"),
        "{out}"
    );
    let out = ok(&arbiter(
        &s,
        d,
        &["state", "push", "web", &v2, "--commit", "c0ffee2"],
        admin,
    ));
    assert!(
        out.starts_with("stored version 2 of web: 14 resources"),
        "{out}"
    );

    // Bad files are named; the server's refusals are one line.
    let o = arbiter(&s, d, &["state", "push", "web", "missing.tfstate"], admin);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("reading state missing.tfstate"),
        "{}",
        text(&o)
    );
    let plan = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/terraform/generated/nested-modules/plan-create.json");
    let o = arbiter(
        &s,
        d,
        &["state", "push", "web", plan.to_str().unwrap()],
        admin,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("plan-create.json: this is a plan, not a state"),
        "{}",
        text(&o)
    );
    let lineage = arbiter_plan::read_state(
        std::fs::read(fixture_path("state-v1.tfstate"))
            .unwrap()
            .as_slice(),
    )
    .unwrap()
    .lineage
    .unwrap();
    let foreign = d.join("foreign.tfstate");
    std::fs::write(
        &foreign,
        std::fs::read_to_string(fixture_path("state-v1.tfstate"))
            .unwrap()
            .replace(&lineage, "11111111-2222-3333-4444-555555555555"),
    )
    .unwrap();
    ok(&arbiter(&s, d, &["state", "push", "other", &v1], admin));
    let o = arbiter(
        &s,
        d,
        &["state", "push", "other", foreign.to_str().unwrap()],
        admin,
    );
    assert_eq!(o.status.code(), Some(1));
    let t = text(&o);
    assert!(
        t.contains("409 lineage_mismatch")
            && t.contains("another workspace")
            && t.lines().count() == 1,
        "{t}"
    );
    let out = ok(&arbiter(
        &s,
        d,
        &[
            "state",
            "push",
            "other",
            foreign.to_str().unwrap(),
            "--force",
        ],
        admin,
    ));
    assert!(
        out.contains("version 2 of other") && out.contains("(forced)"),
        "{out}"
    );

    // list, show (masked), diff.
    let out = ok(&arbiter(&s, d, &["state", "list", "web"], admin));
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("VERSION"), "{out}");
    assert!(
        lines[1].starts_with("2 ")
            && lines[1].contains("c0ffee2")
            && lines[1].contains("user:admin"),
        "{out}"
    );
    assert!(
        lines[2].starts_with("1 ") && lines[2].contains("c0ffee1"),
        "{out}"
    );
    let out = ok(&arbiter(&s, d, &["state", "show", "web", "2"], admin));
    assert!(!out.contains("CANARY"), "{out}");
    assert!(
        out.contains(r#"terraform_data.credentials  {"id":"#)
            && out.contains(r#""input":"(sensitive)""#),
        "{out}"
    );
    assert!(out.contains("  api_token = \"(sensitive)\""), "{out}");
    assert!(out.contains("  app_image = \"app:2.0\""), "{out}");
    let out = ok(&arbiter(
        &s,
        d,
        &["state", "show", "web", "2", "--json"],
        admin,
    ));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["resources"].as_array().unwrap().len(), 14);
    assert!(!out.contains("CANARY"));
    let diff = ok(&arbiter(&s, d, &["state", "diff", "web", "1", "2"], admin));
    assert!(!diff.contains("CANARY"), "{diff}");
    for want in [
        "web: version 1 -> 2: 4 added, 1 removed, 5 changed, 5 unchanged",
        "+ terraform_data.cache",
        "    input.engine: \"redis\"",
        "- terraform_data.legacy",
        "    input: \"removed in v2\" -> (removed)",
        "~ terraform_data.rotated (replaced)",
        "~ terraform_data.app",
        "    input.image: \"app:1.0\" -> \"app:2.0\"",
        "    input: \"(sensitive)\" -> \"(sensitive)\"",
        "~ api_token: \"(sensitive)\" -> \"(sensitive)\"",
    ] {
        assert!(
            diff.lines().any(|l| l == want),
            "missing {want:?} in\n{diff}"
        );
    }
    assert_eq!(ok(&arbiter(&s, d, &["state", "diff", "web"], admin)), diff);
    let o = arbiter(&s, d, &["state", "diff", "web", "1", "9"], admin);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("404 not_found: stack \"web\" has no state version 9"),
        "{}",
        text(&o)
    );

    // Rollback: a change request; the exit code follows its status.
    let o = arbiter(
        &s,
        d,
        &[
            "state",
            "rollback",
            "web",
            "--to",
            "1",
            "--intent",
            "v2 broke the cache",
        ],
        admin,
    );
    let out = text(&o);
    assert!(out.starts_with("change request 1 on web: "), "{out}");
    let status = out.split_whitespace().nth(5).unwrap_or("").to_string();
    let want = match status.as_str() {
        "approved" => 0,
        "pending_review" => 2,
        _ => 3,
    };
    assert_eq!(o.status.code(), Some(want), "{out}");
    for l in [
        "  rolls back from state version 2 to version 1 (commit c0ffee1)",
        "  create  terraform_data.legacy",
        "  delete  terraform_data.cache",
        "  replace terraform_data.rotated",
        "  update  terraform_data.app",
    ] {
        assert!(out.lines().any(|x| x == l), "missing {l:?} in\n{out}");
    }
    assert!(!out.contains("CANARY"), "{out}");
    let o = arbiter(&s, d, &["state", "rollback", "web", "--to", "2"], admin);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("409 nothing_to_roll_back"),
        "{}",
        text(&o)
    );

    // An agent in scope pushes with its key (signed, no token).
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
    let out = ok(&arbiter(
        &s,
        d,
        &["state", "push", "web", &v1, "--key", "bot.key", "--force"],
        None,
    ));
    assert!(out.starts_with("stored version 3 of web"), "{out}");
    let out = ok(&arbiter(
        &s,
        d,
        &["state", "list", "web", "--json", "--key", "bot.key"],
        None,
    ));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["items"][0]["pushed_by"], "agent:bot");
    assert_eq!(
        v["items"][0]["digest"],
        digest.as_str(),
        "same content, same address"
    );
    let o = arbiter(&s, d, &["state", "list", "other", "--key", "bot.key"], None);
    assert_eq!(o.status.code(), Some(1), "outside the agent's scope");
}
