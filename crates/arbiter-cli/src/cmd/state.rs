//! `arbiter state`: a stack's state history on the server (push, list, show,
//! diff) and rollback to an earlier version through a change request.

use super::client::{field, Client, ServerArgs};
use super::remote::enc;
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::path::PathBuf;

/// State history commands.
#[derive(Subcommand, Debug)]
pub enum StateCommand {
    /// Store a state (terraform.tfstate or `terraform show -json`) as the next version.
    Push(PushArgs),
    /// List a stack's state versions, newest first.
    List {
        /// Stack name.
        stack: String,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Show one version: its resources and outputs, sensitive values masked.
    Show {
        /// Stack name.
        stack: String,
        /// Version number.
        #[arg(value_name = "VERSION")]
        number: i64,
    },
    /// What changed between two versions (default: the latest two).
    Diff {
        /// Stack name.
        stack: String,
        /// Older version (default: the one before TO).
        from: Option<i64>,
        /// Newer version (default: the latest).
        to: Option<i64>,
    },
    /// Open a change request that returns the stack to an earlier version.
    Rollback(RollbackArgs),
}

/// Signing as an agent, for every `state` command.
#[derive(Args, Debug, Clone)]
pub struct AgentArgs {
    /// Sign as an agent with this private key (from `arbiter agent keygen`).
    #[arg(long, global = true, value_name = "FILE", env = "ARBITER_AGENT_KEY")]
    pub key: Option<PathBuf>,
}

/// `arbiter state push`.
#[derive(Args, Debug)]
#[command(
    after_help = "The server refuses a state whose lineage differs from the latest version's\n\
(another workspace's state) or whose serial is not newer, unless --force.\n\
Pushing the latest version's content again stores nothing."
)]
pub struct PushArgs {
    /// Stack name.
    pub stack: String,
    /// The state file: terraform.tfstate, or `terraform show -json > state.json`.
    pub file: PathBuf,
    /// The commit of the configuration that produced it.
    #[arg(long, value_name = "SHA")]
    pub commit: Option<String>,
    /// Store it despite a lineage change or an older serial.
    #[arg(long)]
    pub force: bool,
}

/// `arbiter state rollback`.
#[derive(Args, Debug)]
#[command(
    after_help = "Exit codes: 0 approved, 2 pending review, 3 rejected, 1 error.\n\
The change request is judged like any plan: rule pack, critics, cost, scope, approvals."
)]
pub struct RollbackArgs {
    /// Stack name.
    pub stack: String,
    /// The version to return to.
    #[arg(long, value_name = "VERSION")]
    pub to: i64,
    /// Why (recorded with the change request).
    #[arg(long)]
    pub intent: Option<String>,
    /// Roll back across a lineage change.
    #[arg(long)]
    pub force: bool,
    /// Idempotency key: a retry with the same key returns the same change request.
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
}

fn short(digest: &str) -> &str {
    digest.get(..12).unwrap_or(digest)
}

fn or_dash(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut w: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(x) = w.get_mut(i) {
                *x = (*x).max(c.chars().count());
            }
        }
    }
    let line = |cells: &[String]| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            let pad = w.get(i).copied().unwrap_or(0);
            s.push_str(&format!("{c:<pad$}  "));
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(&headers.iter().map(|h| h.to_string()).collect::<Vec<_>>());
    if rows.is_empty() {
        out.push_str("(none)\n");
    }
    for r in rows {
        out.push_str(&line(r));
    }
    out
}

fn version_line(v: &Value) -> String {
    format!(
        "version {} of {}: {} resources, serial {}, lineage {}, commit {}, sha256 {}{}\n",
        field(v, "version"),
        field(v, "stack"),
        field(v, "resource_count"),
        or_dash(&v["serial"]),
        or_dash(&v["lineage"]),
        or_dash(&v["commit"]),
        short(v["digest"].as_str().unwrap_or("")),
        if v["forced"].as_bool() == Some(true) {
            " (forced)"
        } else {
            ""
        }
    )
}

/// A JSON value on one line, for diffs.
fn one(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn diff_text(d: &Value) -> String {
    let s = &d["summary"];
    let mut out = format!(
        "{}: version {} -> {}: {} added, {} removed, {} changed, {} unchanged\n",
        field(&d["to"], "stack"),
        field(&d["from"], "version"),
        field(&d["to"], "version"),
        s["added"],
        s["removed"],
        s["changed"],
        s["unchanged"]
    );
    for r in d["resources"].as_array().cloned().unwrap_or_default() {
        let (mark, note) = match (r["change"].as_str(), r["replaced"].as_bool()) {
            (Some("added"), _) => ("+", ""),
            (Some("removed"), _) => ("-", ""),
            (_, Some(true)) => ("~", " (replaced)"),
            _ => ("~", ""),
        };
        out.push_str(&format!("{mark} {}{note}\n", field(&r, "address")));
        for a in r["attributes"].as_array().cloned().unwrap_or_default() {
            let line = match (a.get("before"), a.get("after")) {
                (Some(b), Some(x)) => format!("{} -> {}", one(b), one(x)),
                (None, Some(x)) => one(x),
                (Some(b), None) => format!("{} -> (removed)", one(b)),
                (None, None) => String::new(),
            };
            out.push_str(&format!("    {}: {line}\n", field(&a, "path")));
        }
    }
    let outputs = d["outputs"].as_array().cloned().unwrap_or_default();
    if !outputs.is_empty() {
        out.push_str("outputs:\n");
    }
    for o in outputs {
        let mark = match o["change"].as_str() {
            Some("added") => "+",
            Some("removed") => "-",
            _ => "~",
        };
        let line = match (o.get("before"), o.get("after")) {
            (Some(b), Some(x)) => format!("{} -> {}", one(b), one(x)),
            (None, Some(x)) => one(x),
            (Some(b), None) => format!("{} -> (removed)", one(b)),
            (None, None) => String::new(),
        };
        out.push_str(&format!("{mark} {}: {line}\n", field(&o, "name")));
    }
    out
}

fn snapshot_text(v: &Value) -> String {
    let mut out = version_line(v);
    out.push_str(&format!(
        "  pushed by {} at {}, Terraform {}, {} form, {} bytes ({} stored)\n",
        field(v, "pushed_by"),
        field(v, "created_at"),
        or_dash(&v["terraform_version"]),
        field(v, "form"),
        field(v, "size_bytes"),
        field(v, "stored_bytes")
    ));
    for r in v["resources"].as_array().cloned().unwrap_or_default() {
        out.push_str(&format!(
            "{}  {}\n",
            field(&r, "address"),
            one(&r["values"])
        ));
    }
    if let Some(o) = v["outputs"].as_object().filter(|o| !o.is_empty()) {
        out.push_str("outputs:\n");
        for (k, x) in o {
            out.push_str(&format!("  {k} = {}\n", one(&x["value"])));
        }
    }
    out
}

fn rollback_text(v: &Value) -> String {
    let cr = &v["change_request"];
    let rb = &v["rollback"];
    let mut out = format!(
        "change request {} on {}: {} (decision {}, confidence {})\n",
        field(cr, "id"),
        field(cr, "stack"),
        field(cr, "status"),
        field(cr, "decision"),
        cr["confidence"]
            .as_f64()
            .map(|c| format!("{c:.1}"))
            .unwrap_or_else(|| "-".into())
    );
    out.push_str(&format!(
        "  rolls back from state version {} to version {} (commit {})\n",
        field(rb, "from_version"),
        field(rb, "to_version"),
        or_dash(&rb["commit"])
    ));
    if let Some(r) = cr["reason"].as_str() {
        out.push_str(&format!("  reason: {r}\n"));
    }
    if let Some(e) = cr["verdict"]["explanation"].as_str() {
        out.push_str(&format!("  {e}\n"));
    }
    for r in rb["resources"].as_array().cloned().unwrap_or_default() {
        out.push_str(&format!(
            "  {:<7} {}\n",
            field(&r, "action"),
            field(&r, "address")
        ));
    }
    out
}

/// Runs a `state` command.
pub fn run(cmd: StateCommand, server: &ServerArgs, agent: &AgentArgs) -> Result<u8> {
    let c = Client::new(server, agent.key.as_deref())?;
    match cmd {
        StateCommand::Push(a) => {
            let bytes = arbiter_plan::read::read_limited(&a.file)
                .with_context(|| format!("reading state {}", a.file.display()))?;
            // Checked here too, so that a wrong file is named with its path.
            arbiter_plan::read_state(&bytes)
                .with_context(|| format!("reading state {}", a.file.display()))?;
            let text = arbiter_plan::decode::decode_text(&bytes)
                .with_context(|| format!("reading state {}", a.file.display()))?;
            let state: Box<serde_json::value::RawValue> = serde_json::from_str(text.trim())
                .with_context(|| format!("reading state {}", a.file.display()))?;
            // Serialised as a struct, the state's text is sent verbatim (a
            // `Value` would reformat it and change its content address).
            let body = arbiter_api::StatePush {
                state,
                commit: a.commit,
                force: a.force,
            };
            let path = format!("/api/v1/stacks/{}/states", enc(&a.stack));
            let answer = c.send("POST", &path, Some(serde_json::to_vec(&body)?), &[])?;
            let created = answer.status == 201;
            let v = answer.ok()?;
            c.print(&v, |v| {
                if created {
                    format!("stored {}", version_line(v))
                } else {
                    format!("unchanged: the state is already {}", version_line(v))
                }
            });
        }
        StateCommand::List { stack, limit } => {
            let v = c.call(
                "GET",
                &format!("/api/v1/stacks/{}/states?limit={limit}", enc(&stack)),
                None,
            )?;
            c.print(&v, |v| {
                let rows: Vec<Vec<String>> = v["items"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .iter()
                    .map(|s| {
                        vec![
                            field(s, "version").into(),
                            field(s, "created_at").into(),
                            field(s, "pushed_by").into(),
                            or_dash(&s["commit"]),
                            or_dash(&s["serial"]),
                            field(s, "resource_count").into(),
                            field(s, "size_bytes").into(),
                            short(s["digest"].as_str().unwrap_or("")).into(),
                        ]
                    })
                    .collect();
                table(
                    &[
                        "VERSION",
                        "CREATED",
                        "PUSHED BY",
                        "COMMIT",
                        "SERIAL",
                        "RESOURCES",
                        "BYTES",
                        "SHA256",
                    ],
                    &rows,
                )
            });
        }
        StateCommand::Show { stack, number } => {
            let v = c.call(
                "GET",
                &format!("/api/v1/stacks/{}/states/{number}", enc(&stack)),
                None,
            )?;
            c.print(&v, snapshot_text);
        }
        StateCommand::Diff { stack, from, to } => {
            let mut q = Vec::new();
            if let Some(f) = from {
                q.push(format!("from={f}"));
            }
            if let Some(t) = to {
                q.push(format!("to={t}"));
            }
            let query = if q.is_empty() {
                String::new()
            } else {
                format!("?{}", q.join("&"))
            };
            let v = c.call(
                "GET",
                &format!("/api/v1/stacks/{}/states/diff{query}", enc(&stack)),
                None,
            )?;
            c.print(&v, diff_text);
        }
        StateCommand::Rollback(a) => {
            if a.to < 1 {
                bail!("--to must be a version number from 1");
            }
            let body = json!({"to": a.to, "intent": a.intent, "force": a.force});
            let mut headers = Vec::new();
            if let Some(k) = &a.idempotency_key {
                headers.push(("idempotency-key", k.clone()));
            }
            let v = c
                .send(
                    "POST",
                    &format!("/api/v1/stacks/{}/rollback", enc(&a.stack)),
                    Some(serde_json::to_vec(&body)?),
                    &headers,
                )?
                .ok()?;
            c.print(&v, rollback_text);
            return Ok(crate::exit::status_text(
                v["change_request"]["status"].as_str().unwrap_or(""),
            ));
        }
    }
    Ok(0)
}
