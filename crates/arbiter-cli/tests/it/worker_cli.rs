//! `arbiter worker`: its refusals before it talks to a server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Stdio};

fn worker(args: &[&str], token: Option<&str>) -> (i32, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_arbiter"));
    c.arg("worker").args(args).stdin(Stdio::null());
    c.env_remove("ARBITER_WORKER_TOKEN")
        .env_remove("ARBITER_SERVER");
    if let Some(t) = token {
        c.env("ARBITER_WORKER_TOKEN", t);
    }
    let o = c.output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

#[test]
fn the_worker_refuses_to_start_without_its_token_or_with_a_bad_setting() {
    let (code, out) = worker(&["--server", "http://127.0.0.1:9"], None);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("ARBITER_WORKER_TOKEN is not set"), "{out}");
    let (code, out) = worker(&["--server", "ftp://x"], Some("t"));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("must start with http:// or https://"), "{out}");
    let (code, out) = worker(
        &[
            "--server",
            "http://127.0.0.1:9",
            "--plugin-dir",
            "/nonexistent/plugins",
        ],
        Some("t"),
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("--plugin-dir /nonexistent/plugins is not a directory"),
        "{out}"
    );
}
