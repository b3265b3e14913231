//! The client commands against a real `arbiter serve`: stacks, agents and
//! their keys, signed submissions with their exit codes, the review queue,
//! people and tokens, policy sets, and the audit log export and verify.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::{arbiter, start, text};
use std::path::Path;
use std::process::{Output, Stdio};

fn scenario(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/scenarios")
        .join(format!("{name}.plan.json"))
        .display()
        .to_string()
}

#[test]
fn the_client_commands_drive_a_real_server() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = start(d);
    let admin = Some(s.token.as_str());
    let ok = |o: &Output| assert!(o.status.success(), "{}", text(o));

    ok(&arbiter(
        &s,
        d,
        &[
            "stack", "create", "web", "-e", "prod", "--budget", "20000", "--label", "team:web",
        ],
        admin,
    ));
    let o = arbiter(&s, d, &["stack", "create", "web", "-e", "prod"], admin);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("409 conflict: stack \"web\" exists already"),
        "{}",
        text(&o)
    );
    let o = arbiter(&s, d, &["stack", "list"], admin);
    assert!(text(&o).contains("web   prod"), "{}", text(&o));
    ok(&arbiter(
        &s,
        d,
        &["stack", "update", "web", "--threshold", "96"],
        admin,
    ));
    let o = arbiter(&s, d, &["stack", "show", "web", "--json"], admin);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (v["auto_apply_threshold"].as_f64(), v["version"].as_i64()),
        (Some(96.0), Some(2))
    );

    ok(&arbiter(&s, d, &["agent", "keygen", "-o", "bot.key"], None));
    assert!(d.join("bot.key.pub").exists());
    let o = arbiter(&s, d, &["agent", "keygen", "-o", "bot.key"], None);
    assert!(text(&o).contains("exists; pass --force"), "{}", text(&o));
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

    // Exit codes follow the decision.
    let sub = |plan: &str| {
        arbiter(
            &s,
            d,
            &[
                "submit",
                &scenario(plan),
                "--stack",
                "web",
                "--key",
                "bot.key",
            ],
            None,
        )
    };
    let o = sub("tags-only-update");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("change request 1 on web: approved"),
        "{}",
        text(&o)
    );
    let o = sub("delete-prod-database");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = sub("ssh-open-to-world");
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let o = arbiter(
        &s,
        d,
        &[
            "submit",
            &scenario("iam-star-star"),
            "--stack",
            "web",
            "--key",
            "bot.key",
            "--dry-run",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("would be rejected"), "{}", text(&o));
    // A wrong key is refused by the server with its reason.
    ok(&arbiter(
        &s,
        d,
        &["agent", "keygen", "-o", "other.key"],
        None,
    ));
    let o = arbiter(
        &s,
        d,
        &[
            "submit",
            &scenario("tags-only-update"),
            "--stack",
            "web",
            "--key",
            "other.key",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("401 unknown_key"), "{}", text(&o));

    ok(&arbiter(
        &s,
        d,
        &["user", "create", "alice", "--role", "reviewer"],
        admin,
    ));
    let o = arbiter(
        &s,
        d,
        &["token", "create", "--user", "alice", "--json"],
        admin,
    );
    let alice: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let alice = alice["token"].as_str().unwrap().to_string();
    let o = arbiter(&s, d, &["review", "list"], Some(&alice));
    assert!(text(&o).contains("agent:bot"), "{}", text(&o));
    let o = arbiter(
        &s,
        d,
        &["review", "approve", "2", "-m", "restore tested"],
        Some(&alice),
    );
    assert!(
        text(&o).contains("review: user:alice approve: restore tested"),
        "{}",
        text(&o)
    );
    let o = arbiter(&s, d, &["review", "approve", "2"], admin);
    assert!(text(&o).contains("approved"), "{}", text(&o));

    std::fs::create_dir_all(d.join("pol")).unwrap();
    std::fs::write(
        d.join("pol/main.rego"),
        "package main\nimport rego.v1\nwarn contains \"looked at\" if true\n",
    )
    .unwrap();
    let o = arbiter(&s, d, &["policy-set", "push", "base", "pol"], admin);
    assert!(text(&o).contains("version 1 (1 files"), "{}", text(&o));

    // The audit log: export, verify offline with the server's key, verify
    // over HTTP; a tampered export fails.
    let o = arbiter(&s, d, &["audit", "export", "-o", "audit.jsonl"], admin);
    ok(&o);
    let key = reqwest_get(&format!("{}/api/v1/audit/key", s.url));
    std::fs::write(d.join("key.json"), key).unwrap();
    let o = arbiter(
        &s,
        d,
        &["audit", "verify", "audit.jsonl", "--key", "key.json"],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = arbiter(&s, d, &["audit", "verify", "--server", &s.url], admin);
    assert!(o.status.success(), "{}", text(&o));
    let log = std::fs::read_to_string(d.join("audit.jsonl")).unwrap();
    std::fs::write(
        d.join("bad.jsonl"),
        log.replacen("change_request.approved", "change_request.rejected", 1),
    )
    .unwrap();
    let o = arbiter(
        &s,
        d,
        &["audit", "verify", "bad.jsonl", "--key", "key.json"],
        None,
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));

    // The client signs with X-Arbiter-Content-SHA256 (never the deprecated
    // form), so the server checked its signatures before reading the bodies.
    let metrics = reqwest_get(&format!("{}/metrics", s.url));
    assert!(
        metrics.contains("arbiter_signature_legacy_total 0\n"),
        "{metrics}"
    );
}

/// `agent create --action` takes the scope's vocabulary: `--help` lists it,
/// anything else is a usage error before a request is sent, and the actions
/// given are the scope the server stores.
#[test]
fn agent_create_actions_are_the_scope_vocabulary() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = start(d);
    let admin = Some(s.token.as_str());
    let values = "[possible values: create, update, delete, replace]";
    // Help is wrapped to the terminal's width: compare words.
    let flat = |o: &Output| text(o).split_whitespace().collect::<Vec<_>>().join(" ");
    let o = arbiter(&s, d, &["agent", "create", "--help"], None);
    assert!(o.status.success(), "{}", text(&o));
    assert!(flat(&o).contains(values), "{}", text(&o));
    let o = arbiter(&s, d, &["agent", "keygen", "-o", "bot.key"], None);
    assert!(o.status.success(), "{}", text(&o));
    let create = |actions: &[&str]| {
        let mut args = vec![
            "agent",
            "create",
            "bot",
            "--public-key",
            "bot.key.pub",
            "--stack",
            "web-*",
        ];
        for a in actions {
            args.extend(["--action", a]);
        }
        arbiter(&s, d, &args, admin)
    };
    let o = create(&["update", "destroy"]);
    assert_eq!(o.status.code(), Some(1), "a usage error: {}", text(&o));
    assert!(
        flat(&o).contains("invalid value 'destroy' for '--action <ACTION>'")
            && flat(&o).contains(values),
        "{}",
        text(&o)
    );
    let o = arbiter(&s, d, &["agent", "list"], admin);
    assert!(
        !text(&o).contains("bot"),
        "nothing was created: {}",
        text(&o)
    );
    let o = create(&["update", "delete"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("actions: [\"update\",\"delete\"]"),
        "{}",
        text(&o)
    );
    let o = arbiter(&s, d, &["agent", "show", "bot", "--json"], admin);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["scope"]["actions"],
        serde_json::json!(["update", "delete"])
    );
}

#[test]
fn waiver_commands_add_list_and_revoke_and_stacks_show_the_floor() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = start(d);
    let admin = Some(s.token.as_str());
    let ok = |o: &Output| assert!(o.status.success(), "{}", text(o));
    ok(&arbiter(
        &s,
        d,
        &[
            "stack",
            "create",
            "web",
            "-e",
            "prod",
            "--escalate-introduced-at",
            "high",
        ],
        admin,
    ));
    let o = arbiter(&s, d, &["stack", "show", "web"], admin);
    assert!(
        text(&o).contains("holds introduced weaknesses from: high"),
        "{}",
        text(&o)
    );
    let o = arbiter(
        &s,
        d,
        &[
            "stack",
            "update",
            "web",
            "--escalate-introduced-at",
            "sometimes",
        ],
        admin,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("escalate_introduced_at"), "{}", text(&o));
    let o = arbiter(
        &s,
        d,
        &[
            "stack",
            "update",
            "web",
            "--escalate-introduced-at",
            "default",
        ],
        admin,
    );
    assert!(
        text(&o).contains("holds introduced weaknesses from: the environment's default"),
        "{}",
        text(&o)
    );

    ok(&arbiter(
        &s,
        d,
        &["user", "create", "alice", "--role", "reviewer"],
        admin,
    ));
    ok(&arbiter(
        &s,
        d,
        &["user", "create", "vic", "--role", "viewer"],
        admin,
    ));
    let token = |user: &str| {
        let o = arbiter(&s, d, &["token", "create", "--user", user, "--json"], admin);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["token"].as_str().unwrap().to_string()
    };
    let (alice, vic) = (token("alice"), token("vic"));
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let in_30_days = arbiter_api::Timestamp::from_unix_ms(now_ms + 30 * 86_400_000).to_string();
    let add = |expires: &str, token: &str| {
        arbiter(
            &s,
            d,
            &[
                "waiver",
                "add",
                "--stack",
                "web",
                "--rule",
                "ARB-AWS-EC2-001",
                "--address",
                "aws_instance.legacy*",
                "--reason",
                "no IMDSv2 in the old AMI",
                "--owner",
                "team-web",
                "--expires",
                expires,
            ],
            Some(token),
        )
    };
    let o = add("2020-01-01", &alice);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("422") && text(&o).contains("in the past"),
        "{}",
        text(&o)
    );
    let o = add(&in_30_days, &vic);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("403"), "{}", text(&o));
    let o = add(&in_30_days, &alice);
    ok(&o);
    assert!(
        text(&o).contains("waiver 1 on stack web: ARB-AWS-EC2-001 at aws_instance.legacy* until"),
        "{}",
        text(&o)
    );
    let o = arbiter(&s, d, &["waiver", "list", "--stack", "web"], Some(&vic));
    assert!(
        text(&o).contains("1  active  ARB-AWS-EC2-001  aws_instance.legacy*"),
        "{}",
        text(&o)
    );
    let o = arbiter(
        &s,
        d,
        &["waiver", "revoke", "--stack", "web", "1"],
        Some(&vic),
    );
    assert_eq!(o.status.code(), Some(1));
    let o = arbiter(
        &s,
        d,
        &["waiver", "revoke", "--stack", "web", "1"],
        Some(&alice),
    );
    ok(&o);
    assert!(text(&o).contains("revoked by user:alice"), "{}", text(&o));
    let o = arbiter(&s, d, &["waiver", "list", "--stack", "web"], admin);
    assert!(text(&o).contains("(no waivers)"), "{}", text(&o));
    let o = arbiter(
        &s,
        d,
        &["waiver", "list", "--stack", "web", "--all", "--json"],
        admin,
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["items"][0]["revoked_by"], "user:alice");
    let o = arbiter(
        &s,
        d,
        &["waiver", "revoke", "--stack", "web", "7"],
        Some(&alice),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("404"), "{}", text(&o));
}

fn reqwest_get(url: &str) -> String {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async { reqwest::get(url).await.unwrap().text().await.unwrap() })
}

/// Nothing secret reaches the server's log, even at debug level: not the
/// tokens, not the agent's signature, not a sensitive value of a plan.
#[test]
fn the_server_log_holds_no_token_signature_or_sensitive_value() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let log = std::fs::File::create(d.join("server.log")).unwrap();
    let s = common::start_with(d, "trace", Stdio::from(log));
    let admin = Some(s.token.as_str());
    let ok = |o: &Output| assert!(o.status.success(), "{}", text(o));
    ok(&arbiter(
        &s,
        d,
        &["stack", "create", "db", "-e", "prod"],
        admin,
    ));
    ok(&arbiter(&s, d, &["agent", "keygen", "-o", "a.key"], None));
    ok(&arbiter(
        &s,
        d,
        &[
            "agent",
            "create",
            "a",
            "--public-key",
            "a.key.pub",
            "--stack",
            "db",
        ],
        admin,
    ));
    let secret = "hunter2-correct-horse-battery-staple";
    let plan = serde_json::json!({"format_version": "1.2", "resource_changes": [{
        "address": "aws_db_instance.main", "type": "aws_db_instance", "name": "main", "mode": "managed",
        "change": {"actions": ["update"],
            "before": {"password": "old-password-value-123", "instance_class": "db.t3.micro"},
            "after": {"password": secret, "instance_class": "db.t3.micro"},
            "before_sensitive": {"password": true}, "after_sensitive": {"password": true}, "after_unknown": {}}}]});
    std::fs::write(d.join("plan.json"), plan.to_string()).unwrap();
    let o = arbiter(
        &s,
        d,
        &[
            "submit",
            "plan.json",
            "--stack",
            "db",
            "--key",
            "a.key",
            "--json",
        ],
        None,
    );
    assert!(o.status.code() != Some(1), "{}", text(&o));
    let answer = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        !answer.contains(secret),
        "the answer shows the sensitive value"
    );
    let o = arbiter(&s, d, &["review", "show", "1", "--json"], admin);
    assert!(!String::from_utf8_lossy(&o.stdout).contains(secret));
    drop(s);
    let log = std::fs::read_to_string(d.join("server.log")).unwrap();
    assert!(
        log.contains("/api/v1/change-requests"),
        "the log is empty? {log}"
    );
    for needle in [
        secret,
        "old-password-value-123",
        "arb_",
        "BEGIN PRIVATE KEY",
    ] {
        assert!(!log.contains(needle), "the server log contains {needle:?}");
    }
    let key = std::fs::read_to_string(d.join("a.key")).unwrap();
    let sig_material: String = key.lines().nth(1).unwrap().to_string();
    assert!(!log.contains(&sig_material));
    // Every request's log lines carry its request id (the `request` span):
    // its closing line with status and duration, and what ran inside it.
    let closing: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(" request status="))
        .collect();
    assert!(closing.len() >= 4, "{log}");
    for l in &closing {
        assert!(
            l.contains("request{id=") && l.contains(" ms="),
            "a request line without its id or duration: {l}"
        );
    }
    let inside: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(" authenticated principal="))
        .collect();
    assert!(!inside.is_empty(), "no line from inside a request: {log}");
    for l in &inside {
        assert!(
            l.contains("request{id="),
            "a line inside a request without its id: {l}"
        );
    }
}

/// `arbiter submit --config DIR` packs and uploads the configuration (the
/// same files make the same bundle), `arbiter run list|show|cancel` and
/// `arbiter worker-pool create` drive the runs API; a symbolic link in the
/// directory is refused, naming it.
#[test]
fn runs_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = start(d);
    let admin = Some(s.token.as_str());
    let ok = |o: &Output| assert!(o.status.success(), "{}", text(o));
    // No auto-apply: runs wait for a person (no worker takes them).
    ok(&arbiter(
        &s,
        d,
        &["stack", "create", "web", "-e", "dev"],
        admin,
    ));
    let cfg = d.join("infra");
    std::fs::create_dir_all(cfg.join("modules/net")).unwrap();
    std::fs::create_dir_all(cfg.join(".terraform/providers")).unwrap();
    std::fs::write(
        cfg.join("main.tf"),
        "resource \"terraform_data\" \"a\" {}\n",
    )
    .unwrap();
    std::fs::write(cfg.join("modules/net/main.tf"), "# net\n").unwrap();
    std::fs::write(cfg.join(".terraform/providers/junk"), "x").unwrap();
    std::fs::write(cfg.join("terraform.tfstate"), "{}").unwrap();
    let plan = scenario("tags-only-update");
    let mut shas = Vec::new();
    for _ in 0..2 {
        let o = arbiter(
            &s,
            d,
            &[
                "submit",
                &plan,
                "--stack",
                "web",
                "--config",
                "infra",
                "--var",
                "region=eu-west-1",
                "--json",
            ],
            admin,
        );
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let cr: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let id = cr["id"].as_i64().unwrap().to_string();
        let o = arbiter(
            &s,
            d,
            &["run", "list", "--change-request", &id, "--json"],
            admin,
        );
        ok(&o);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let run = &v["items"][0];
        assert_eq!(run["phase"], "queued");
        assert_eq!(run["confirmation"]["state"], "awaiting");
        shas.push((
            run["source"]["sha256"].as_str().unwrap().to_string(),
            run["id"].as_i64().unwrap(),
        ));
    }
    assert_eq!(
        shas[0].0, shas[1].0,
        "the same directory makes the same bundle"
    );
    let run = shas[1].1.to_string();
    let o = arbiter(&s, d, &["run", "list"], admin);
    assert!(text(&o).contains("awaiting a person"), "{}", text(&o));
    let o = arbiter(&s, d, &["run", "show", &run], admin);
    ok(&o);
    assert!(
        text(&o).contains(&format!("run {run} on web: queued")) && text(&o).contains(&shas[1].0),
        "{}",
        text(&o)
    );
    let o = arbiter(&s, d, &["run", "cancel", &run], admin);
    ok(&o);
    assert!(text(&o).contains("cancelled"), "{}", text(&o));
    let o = arbiter(&s, d, &["run", "logs", &run], admin);
    ok(&o);
    let o = arbiter(&s, d, &["worker-pool", "create", "ci"], admin);
    ok(&o);
    assert!(text(&o).contains("arbw_"), "{}", text(&o));
    // Its tokens are listed without secrets, and one is revoked by id.
    let o = arbiter(&s, d, &["worker-pool", "create", "ci", "--json"], admin);
    ok(&o);
    let minted: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let (id, token) = (
        minted["id"].as_str().unwrap().to_string(),
        minted["token"].as_str().unwrap().to_string(),
    );
    let o = arbiter(&s, d, &["worker-pool", "tokens", "ci"], admin);
    ok(&o);
    let listed = text(&o);
    assert_eq!(
        listed.lines().filter(|l| l.contains("active")).count(),
        2,
        "{listed}"
    );
    assert!(
        listed.contains(&id) && listed.contains(&format!("{}…", &token[..12])),
        "{listed}"
    );
    assert!(!listed.contains(&token), "never the secret: {listed}");
    let o = arbiter(&s, d, &["worker-pool", "revoke-token", "ci", &id], admin);
    ok(&o);
    assert!(text(&o).contains("revoked at"), "{}", text(&o));
    let o = arbiter(&s, d, &["worker-pool", "tokens", "ci"], admin);
    assert_eq!(text(&o).lines().filter(|l| l.contains("active")).count(), 1);
    let o = arbiter(&s, d, &["worker-pool", "tokens", "nope"], admin);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("not found"), "{}", text(&o));
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("/etc/passwd", cfg.join("passwd.tf")).unwrap();
        let o = arbiter(
            &s,
            d,
            &["submit", &plan, "--stack", "web", "--config", "infra"],
            admin,
        );
        assert_eq!(o.status.code(), Some(1));
        assert!(
            text(&o).contains("passwd.tf") && text(&o).contains("symbolic link"),
            "{}",
            text(&o)
        );
    }
    let o = arbiter(
        &s,
        d,
        &[
            "submit",
            &plan,
            "--stack",
            "web",
            "--git",
            "ext::sh -c id",
            "--git-commit",
            &"a".repeat(40),
        ],
        admin,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("ext::"), "{}", text(&o));
    // `--commit` names the commit of `--git` too; without either, a clear error.
    let sha = "b".repeat(40);
    for (extra, want) in [
        (
            vec!["--git", "ext::sh -c id", "--commit", sha.as_str()],
            "ext::",
        ),
        (
            vec!["--git", "file:///srv/infra.git"],
            "needs the full commit to apply: --commit SHA",
        ),
    ] {
        let mut args = vec!["submit", plan.as_str(), "--stack", "web"];
        args.extend(extra);
        let o = arbiter(&s, d, &args, admin);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(text(&o).contains(want), "{}", text(&o));
    }
}
