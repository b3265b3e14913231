//! The MCP server driven by an independent client: the official Python MCP
//! SDK (`mcp` from PyPI) runs `mcp_client.py` against `arbiter mcp` (stdio,
//! every call signed with the agent's key) and the server's `/mcp`
//! (Streamable HTTP, an agent token minted with `arbiter mcp token`), in
//! the current protocol version and 2025-06-18. The SDK validates every
//! structured result against the tool's output schema.
//!
//! The Python SDK comes from `ARBITER_MCP_PYTHON` (a Python with `mcp`
//! installed) or is installed here into a venv under the test's temporary
//! directory (`pip install mcp==MCP_SDK_VERSION`); without it the test fails.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::{arbiter, text};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The Python SDK version the script is written against.
const MCP_SDK_VERSION: &str = "2.3.0";

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/mcp_client.py")
}

fn has_sdk(python: &Path) -> bool {
    Command::new(python)
        .args(["-c", "import mcp, httpx2"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A Python with the MCP SDK: `ARBITER_MCP_PYTHON`, or a venv made here.
fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("ARBITER_MCP_PYTHON") {
        let p = PathBuf::from(p);
        assert!(
            has_sdk(&p),
            "ARBITER_MCP_PYTHON={} cannot import the MCP SDK (pip install mcp=={MCP_SDK_VERSION})",
            p.display()
        );
        return p;
    }
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("mcp-sdk-{MCP_SDK_VERSION}"));
    let py = venv.join("bin/python");
    if has_sdk(&py) {
        return py;
    }
    let o = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .output()
        .expect(
            "python3 is needed for the MCP client tests (apt-get install python3 python3-venv)",
        );
    assert!(o.status.success(), "python3 -m venv: {}", text(&o));
    let o = Command::new(&py)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .arg(format!("mcp=={MCP_SDK_VERSION}"))
        .output()
        .unwrap();
    assert!(
        o.status.success() && has_sdk(&py),
        "installing the Python MCP SDK (pip install mcp=={MCP_SDK_VERSION}) failed; the MCP client tests need it: {}",
        text(&o)
    );
    py
}

/// Runs the Python client with `spec`; its JSON report.
fn drive(python: &Path, spec: &Value) -> Value {
    let o: Output = Command::new(python)
        .arg(script())
        .arg(spec.to_string())
        .output()
        .unwrap();
    assert!(o.status.success(), "python MCP client: {}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)))
}

/// A sensitive value in a plan: never in an answer or the server's log.
const SECRET: &str = "hunter2-correct-horse-battery-staple";

fn sensitive_plan() -> Value {
    json!({"format_version": "1.2", "resource_changes": [{
        "address": "aws_db_instance.main", "type": "aws_db_instance", "name": "main", "mode": "managed",
        "change": {"actions": ["update"],
            "before": {"password": "old-password-value-123", "instance_class": "db.t3.micro"},
            "after": {"password": SECRET, "instance_class": "db.t3.micro"},
            "before_sensitive": {"password": true}, "after_sensitive": {"password": true}, "after_unknown": {}}}]})
}

fn scenario(name: &str) -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/scenarios")
        .join(format!("{name}.plan.json"));
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

#[test]
fn the_python_sdk_drives_arbiter_mcp_over_stdio_and_the_servers_mcp_over_http() {
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // At trace level: nothing secret may reach the log through /mcp either.
    let log = std::fs::File::create(d.join("server.log")).unwrap();
    let s = common::start_with(d, "trace", std::process::Stdio::from(log));
    let admin = Some(s.token.as_str());
    let ok = |o: &Output| assert!(o.status.success(), "{}", text(o));
    ok(&arbiter(
        &s,
        d,
        &["stack", "create", "web", "-e", "prod"],
        admin,
    ));
    ok(&arbiter(&s, d, &["agent", "keygen", "-o", "bot.key"], None));
    // The agent may only update: creating a security group rule is
    // outside its scope.
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
            "--action",
            "update",
        ],
        admin,
    ));
    let plans_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/scenarios");
    let ssh = plans_dir.join("ssh-open-to-world.plan.json");

    // The same scope-violating plan submitted the usual way, signed.
    let o = arbiter(
        &s,
        d,
        &[
            "submit",
            ssh.to_str().unwrap(),
            "--stack",
            "web",
            "--key",
            "bot.key",
            "--json",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let http: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(http["status"], "rejected");

    // An agent token for /mcp.
    let o = arbiter(
        &s,
        d,
        &[
            "mcp", "token", "--agent", "bot", "--key", "bot.key", "--ttl", "10m", "--json",
        ],
        None,
    );
    ok(&o);
    let minted: Value = serde_json::from_slice(&o.stdout).unwrap();
    let token = minted["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("arbat_"), "{minted}");

    let key = d.join("bot.key");
    let transports = [
        json!({"transport": "stdio", "command": env!("CARGO_BIN_EXE_arbiter"), "args": ["mcp"],
               "env": {"ARBITER_SERVER": s.url, "ARBITER_AGENT_KEY": key, "ARBITER_CONFIG": d.join("none.toml")}}),
        json!({"transport": "http", "url": format!("{}/mcp", s.url), "token": token}),
    ];
    for t in transports {
        for version in ["modern", "2025-06-18"] {
            let tag = format!("{} {version}", t["transport"]);
            let k = tag.clone();
            let submit = json!({"tool": "submit_change", "args": {"stack": "web", "plan": scenario("ssh-open-to-world"), "idempotency_key": k}});
            let mut spec = t.clone();
            spec["version"] = json!(version);
            spec["calls"] = json!([
                submit,
                submit,
                {"tool": "preflight_plan", "args": {"stack": "web", "plan": scenario("tags-only-update")}},
                {"tool": "get_run", "args": {"id": 999999}},
                {"tool": "preflight_plan", "args": {"stack": "web", "plan": sensitive_plan()}},
            ]);
            let out = drive(&python, &spec);
            let want = if version == "modern" {
                "2026-07-28"
            } else {
                version
            };
            assert_eq!(out["negotiated"], want, "{tag}");
            let names: Vec<&str> = out["tools"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["name"].as_str().unwrap())
                .collect();
            assert_eq!(names.len(), 9, "{tag}: {names:?}");
            assert!(!names
                .iter()
                .any(|n| n.contains("approve") || n.contains("apply") || n.contains("confirm")));
            for tool in out["tools"].as_array().unwrap() {
                assert!(tool["outputSchema"].is_object(), "{tag}: {tool}");
                assert_eq!(
                    tool["annotations"]["destructiveHint"], false,
                    "{tag}: {tool}"
                );
            }
            let r = &out["results"];
            // Refused through MCP exactly as through HTTP.
            let cr = &r[0]["structured"];
            assert_eq!(r[0]["isError"], false, "{tag}: {}", r[0]);
            for f in ["status", "decision", "reason", "submitter"] {
                assert_eq!(cr[f], http[f], "{tag}: {f}");
            }
            assert_eq!(
                r[1]["structured"]["id"], cr["id"],
                "{tag}: idempotent by key"
            );
            let pf = &r[2]["structured"];
            assert_eq!(
                (pf["status"].clone(), pf["would_approve"].clone()),
                (json!("approved"), json!(true)),
                "{tag}: {}",
                r[2]
            );
            assert_eq!(r[3]["isError"], true, "{tag}");
            // No such run: "not available" where the server has no runs API.
            let has_runs = arbiter_server::routes::ROUTES
                .iter()
                .any(|(m, p)| *m == "GET" && *p == "/api/v1/runs/{id}");
            let text = r[3]["text"].as_str().unwrap();
            assert_eq!(
                text.contains("runs are not available on this server"),
                !has_runs,
                "{tag}: {text}"
            );
            assert!(text.contains("404"), "{tag}: {text}");
            assert_eq!(r[4]["isError"], false, "{tag}: {}", r[4]);
            assert!(
                !r[4].to_string().contains(SECRET),
                "{tag}: the answer shows the sensitive value"
            );

            // Reading back and explaining the change.
            let id = cr["id"].as_i64().unwrap();
            spec["calls"] = json!([
                {"tool": "get_change", "args": {"id": id}},
                {"tool": "wait_for_decision", "args": {"id": id, "timeout_seconds": 5}},
                {"tool": "explain_finding", "args": {"change_id": id, "rule_id": "ARB-AWS-NET-001"}},
                {"tool": "suggest_fixes", "args": {"change_id": id}},
            ]);
            let out = drive(&python, &spec);
            let r = &out["results"];
            assert_eq!(r[0]["structured"]["status"], "rejected", "{tag}");
            assert_eq!(r[1]["structured"]["decided"], true, "{tag}");
            assert_eq!(
                r[2]["structured"]["rule"]["id"], "ARB-AWS-NET-001",
                "{tag}: {}",
                r[2]
            );
            let fixes = r[3]["structured"]["fixes"].as_array().unwrap();
            assert!(
                fixes.iter().any(|f| f["rule_id"] == "ARB-AWS-NET-001"
                    && f["remediation"] == r[2]["structured"]["rule"]["remediation"]),
                "{tag}: {}",
                r[3]
            );
        }
    }
    drop(s);
    let log = std::fs::read_to_string(d.join("server.log")).unwrap();
    assert!(log.contains("/mcp"), "the log is empty? {log}");
    for needle in [SECRET, "old-password-value-123", "arb_", "arbat_"] {
        assert!(!log.contains(needle), "the server log contains {needle:?}");
    }
}
