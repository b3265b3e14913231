//! `arbiter state`: a stack's state history on the server (push, list, show,
//! diff) and rollback to an earlier version through a change request.

use super::client::{dash, js, Client, ServerArgs};
use super::remote::enc;
use anyhow::{bail, Context, Result};
use arbiter_api::{
    Page, RollbackAnswer, RollbackRequest, StateDiffView, StatePush, StateSnapshot, StateVersion,
};
use clap::{Args, Subcommand};
use serde_json::Value;
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

fn version_line(v: &StateVersion) -> String {
    format!(
        "version {} of {}: {} resources, serial {}, lineage {}, commit {}, sha256 {}{}\n",
        v.version,
        v.stack,
        v.resource_count,
        dash(v.serial.as_ref()),
        dash(v.lineage.as_ref()),
        dash(v.commit.as_ref()),
        short(&v.digest),
        if v.forced { " (forced)" } else { "" }
    )
}

/// A side of a change on one line: `old -> new`, `new`, `old -> (removed)`.
fn sides(before: Option<&Value>, after: Option<&Value>) -> String {
    match (before, after) {
        (Some(b), Some(x)) => format!("{} -> {}", js(b), js(x)),
        (None, Some(x)) => js(x),
        (Some(b), None) => format!("{} -> (removed)", js(b)),
        (None, None) => String::new(),
    }
}

fn diff_text(d: &StateDiffView) -> String {
    let s = &d.summary;
    let mut out = format!(
        "{}: version {} -> {}: {} added, {} removed, {} changed, {} unchanged\n",
        d.to.stack, d.from.version, d.to.version, s.added, s.removed, s.changed, s.unchanged
    );
    for r in &d.resources {
        let (mark, note) = match (r.change.as_str(), r.replaced) {
            ("added", _) => ("+", ""),
            ("removed", _) => ("-", ""),
            (_, true) => ("~", " (replaced)"),
            _ => ("~", ""),
        };
        out.push_str(&format!("{mark} {}{note}\n", r.address));
        for a in &r.attributes {
            let line = sides(a.before.as_ref(), a.after.as_ref());
            out.push_str(&format!("    {}: {line}\n", a.path));
        }
    }
    if !d.outputs.is_empty() {
        out.push_str("outputs:\n");
    }
    for o in &d.outputs {
        let mark = match o.change.as_str() {
            "added" => "+",
            "removed" => "-",
            _ => "~",
        };
        let line = sides(o.before.as_ref(), o.after.as_ref());
        out.push_str(&format!("{mark} {}: {line}\n", o.name));
    }
    out
}

fn snapshot_text(v: &StateSnapshot) -> String {
    let mut out = version_line(&v.version);
    out.push_str(&format!(
        "  pushed by {} at {}, Terraform {}, {} form, {} bytes ({} stored)\n",
        v.version.pushed_by,
        v.version.created_at,
        dash(v.version.terraform_version.as_ref()),
        v.version.form,
        v.version.size_bytes,
        v.version.stored_bytes
    ));
    for r in &v.resources {
        out.push_str(&format!("{}  {}\n", r.address, js(&r.values)));
    }
    if !v.outputs.is_empty() {
        out.push_str("outputs:\n");
        for (k, x) in &v.outputs {
            out.push_str(&format!("  {k} = {}\n", js(&x.value)));
        }
    }
    out
}

fn rollback_text(v: &RollbackAnswer) -> String {
    let cr = &v.change_request;
    let rb = &v.rollback;
    let mut out = format!(
        "change request {} on {}: {} (decision {}, confidence {})\n",
        cr.id,
        cr.stack,
        cr.status,
        dash(cr.decision.as_ref()),
        cr.confidence
            .map(|c| format!("{c:.1}"))
            .unwrap_or_else(|| "-".into())
    );
    out.push_str(&format!(
        "  rolls back from state version {} to version {} (commit {})\n",
        rb.from_version,
        rb.to_version,
        dash(rb.commit.as_ref())
    ));
    if let Some(r) = &cr.reason {
        out.push_str(&format!("  reason: {r}\n"));
    }
    if let Some(e) = cr.explanation() {
        out.push_str(&format!("  {e}\n"));
    }
    for r in &rb.resources {
        out.push_str(&format!("  {:<7} {}\n", r.action, r.address));
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
            let body = StatePush {
                state,
                commit: a.commit,
                force: a.force,
            };
            let path = format!("/api/v1/stacks/{}/states", enc(&a.stack));
            let r = c.call_with::<_, StateVersion>("POST", &path, &body)?;
            let created = r.status == 201;
            c.print(&r, |v| {
                if created {
                    format!("stored {}", version_line(v))
                } else {
                    format!("unchanged: the state is already {}", version_line(v))
                }
            });
        }
        StateCommand::List { stack, limit } => {
            let r = c.get::<Page<StateVersion>>(&format!(
                "/api/v1/stacks/{}/states?limit={limit}",
                enc(&stack)
            ))?;
            c.print(&r, |v| {
                let rows: Vec<Vec<String>> = v
                    .items
                    .iter()
                    .map(|s| {
                        vec![
                            s.version.to_string(),
                            s.created_at.to_string(),
                            s.pushed_by.clone(),
                            dash(s.commit.as_ref()),
                            dash(s.serial.as_ref()),
                            s.resource_count.to_string(),
                            s.size_bytes.to_string(),
                            short(&s.digest).into(),
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
            let r =
                c.get::<StateSnapshot>(&format!("/api/v1/stacks/{}/states/{number}", enc(&stack)))?;
            c.print(&r, snapshot_text);
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
            let r = c.get::<StateDiffView>(&format!(
                "/api/v1/stacks/{}/states/diff{query}",
                enc(&stack)
            ))?;
            c.print(&r, diff_text);
        }
        StateCommand::Rollback(a) => {
            if a.to < 1 {
                bail!("--to must be a version number from 1");
            }
            let body = RollbackRequest {
                to: a.to,
                intent: a.intent,
                force: a.force,
            };
            let mut headers = Vec::new();
            if let Some(k) = &a.idempotency_key {
                headers.push(("idempotency-key", k.clone()));
            }
            let r = c
                .send_with(
                    "POST",
                    &format!("/api/v1/stacks/{}/rollback", enc(&a.stack)),
                    &body,
                    &headers,
                )?
                .parse::<RollbackAnswer>()?;
            c.print(&r, rollback_text);
            return Ok(crate::exit::status(r.data.change_request.status));
        }
    }
    Ok(0)
}
