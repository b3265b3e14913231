//! `arbiter audit verify` end to end: the real binary on exports written by
//! the real appender and signer (`arbiter audit sample-log`), intact and
//! tampered, in text and JSON, with and without a trusted key.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn arbiter(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_arbiter"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A signed export of `entries` entries (checkpoint every 50) and its key.
fn sample(dir: &Path, name: &str, entries: u64, extra: &[&str]) -> (PathBuf, PathBuf) {
    let log = dir.join(format!("{name}.jsonl"));
    let key = dir.join(format!("{name}.key.json"));
    let n = entries.to_string();
    let mut args = vec![
        "audit",
        "sample-log",
        s(&log),
        "--entries",
        &n,
        "--checkpoint-every",
        "50",
        "--key-out",
        s(&key),
    ];
    args.extend_from_slice(extra);
    let run = arbiter(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    (log, key)
}

#[test]
fn intact_export_verifies_with_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let (log, key) = sample(dir.path(), "a", 500, &[]);
    let run = arbiter(&["audit", "verify", s(&log), "--key", s(&key)]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .starts_with("audit log verified: 500 entries (seq 1..500), 10 checkpoints\n"),
        "{}",
        run.stdout
    );
    for want in [
        "head hash:",
        "tree root:",
        "last checkpoint: seq 500 signed 2025-01-01T00:12:30.000Z",
        "trusted (--key)",
    ] {
        assert!(run.stdout.contains(want), "{want}: {}", run.stdout);
    }
    assert!(!run.stdout.contains("warning"), "{}", run.stdout);

    let json = arbiter(&[
        "audit",
        "verify",
        s(&log),
        "--key",
        s(&key),
        "--format",
        "json",
    ]);
    assert_eq!(json.code, 0);
    let v: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["entries"], 500);
    assert_eq!(v["checkpoints"], 10);
    assert_eq!(v["last_seq"], 500);
    assert_eq!(v["key_source"], "trusted");
    assert_eq!(v["problem"], Value::Null);
    assert_eq!(v["head_hash"].as_str().unwrap().len(), 64);

    // The same through stdin.
    let mut child = Command::new(env!("CARGO_BIN_EXE_arbiter"))
        .args(["audit", "verify", "-", "--key", s(&key)])
        .stdin(std::fs::File::open(&log).unwrap())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn tampered_export_is_located_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let (log, key) = sample(dir.path(), "t", 200, &[]);
    let text = std::fs::read_to_string(&log).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    // Line 1 is the header; entry 77 is on line 79 (one checkpoint, after
    // entry 50, comes before it).
    let mut v: Value = serde_json::from_str(&lines[78]).unwrap();
    assert_eq!(v["seq"], 77);
    v["actor"] = "user:mallory".into();
    lines[78] = v.to_string();
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, lines.join("\n") + "\n").unwrap();
    let run = arbiter(&["audit", "verify", s(&bad), "--key", s(&key)]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.starts_with(
            "audit log INVALID: line 79 (seq 77): modified entry: the entry's fields hash to "
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("verified before the problem: 76 entries (seq 1..76), 1 checkpoints"),
        "{}",
        run.stdout
    );
    let json = arbiter(&["audit", "verify", s(&bad), "--key", s(&key), "-f", "json"]);
    assert_eq!(json.code, 1);
    let v: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["valid"], false);
    assert_eq!(v["problem"]["kind"], "modified_entry");
    assert_eq!(v["problem"]["line"], 79);
    assert_eq!(v["problem"]["seq"], 77);

    // Entry 120 deleted.
    let mut del = text.lines().map(String::from).collect::<Vec<_>>();
    let idx = del
        .iter()
        .position(|l| l.contains("\"type\":\"entry\",\"seq\":120,"))
        .unwrap();
    del.remove(idx);
    std::fs::write(&bad, del.join("\n") + "\n").unwrap();
    let run = arbiter(&["audit", "verify", s(&bad), "--key", s(&key)]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.starts_with(&format!(
            "audit log INVALID: line {} (seq 120): deleted entry: entry 120 is missing",
            idx + 1
        )),
        "{}",
        run.stdout
    );

    // A malformed line is located by line and column.
    let mut mal = text.lines().map(String::from).collect::<Vec<_>>();
    mal[10] = mal[10].replacen("\"subject\"", "\"subjet\"", 1);
    std::fs::write(&bad, mal.join("\n") + "\n").unwrap();
    let run = arbiter(&["audit", "verify", s(&bad), "--key", s(&key)]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .starts_with("audit log INVALID: line 11, column "),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("malformed line: unknown field `subjet`"),
        "{}",
        run.stdout
    );
}

#[test]
fn keys_decide_what_is_proven() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = sample(dir.path(), "k", 120, &[]);
    let (_, other_key) = sample(dir.path(), "other", 1, &[]);

    // Without --key: valid, but the header's own key was used.
    let run = arbiter(&["audit", "verify", s(&log)]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout.contains("from the file's header"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(
            "warning: checkpoint signatures were checked with the key listed in the file itself"
        ),
        "{}",
        run.stdout
    );
    let strict = arbiter(&["audit", "verify", s(&log), "--strict"]);
    assert_eq!(strict.code, 1, "{}", strict.stdout);
    assert!(
        strict.stdout.contains("not accepted: --strict"),
        "{}",
        strict.stdout
    );

    // Another server's key: the first checkpoint is from an unknown key.
    let run = arbiter(&["audit", "verify", s(&log), "--key", s(&other_key)]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("(seq 50): unknown key: checkpoint signed with a key that is not among the trusted keys"),
        "{}",
        run.stdout
    );

    // Bad key file, missing export: errors, exit 1.
    let junk = dir.path().join("junk.json");
    std::fs::write(
        &junk,
        "{\"algorithm\":\"rsa\",\"key_id\":\"x\",\"public_key\":\"y\"}",
    )
    .unwrap();
    let run = arbiter(&["audit", "verify", s(&log), "--key", s(&junk)]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("reading key"), "{}", run.stderr);
    assert!(
        run.stderr.contains("algorithm \"rsa\" is not supported"),
        "{}",
        run.stderr
    );
    let run = arbiter(&["audit", "verify", s(&dir.path().join("nope.jsonl"))]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.starts_with("error: opening "), "{}", run.stderr);
}

#[test]
fn partial_export_and_unsigned_tail_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (log, key) = sample(dir.path(), "p", 300, &["--since", "101"]);
    let run = arbiter(&["audit", "verify", s(&log), "--key", s(&key)]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout.starts_with(
            "audit log verified: 200 entries (seq 101..300), 4 checkpoints, partial from entry 101"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("warning: partial verification from entry 101: entries before it are not in the file; the start state in the header is anchored by the checkpoint for entry 300"),
        "{}",
        run.stdout
    );

    // Cut after entry 160: the last 10 entries are not under a signature.
    let text = std::fs::read_to_string(&log).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .take_while(|l| !l.contains("\"seq\":161,"))
        .collect();
    let cut = dir.path().join("cut.jsonl");
    std::fs::write(&cut, kept.join("\n") + "\n").unwrap();
    let run = arbiter(&["audit", "verify", s(&cut), "--key", s(&key)]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout.contains(
            "warning: 10 entries after the last checkpoint (151..160) are signed by no checkpoint"
        ),
        "{}",
        run.stdout
    );
    let run = arbiter(&["audit", "verify", s(&cut), "--key", s(&key), "--strict"]);
    assert_eq!(run.code, 1);
}

#[test]
fn help_hides_the_generator() {
    let run = arbiter(&["audit", "--help"]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("verify"), "{}", run.stdout);
    assert!(!run.stdout.contains("sample-log"), "{}", run.stdout);
    let run = arbiter(&["audit", "verify", "--help"]);
    for f in ["--key", "--format", "--strict", "[FILE]", "--server"] {
        assert!(run.stdout.contains(f), "{f}: {}", run.stdout);
    }
}
