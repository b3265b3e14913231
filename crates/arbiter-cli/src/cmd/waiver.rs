//! `arbiter waiver`: accepted risks of a stack on the server (add, list,
//! revoke). A waiver makes the findings of one rule on the addresses a glob
//! matches cost nothing and hold nothing until it expires; reviewers and
//! admins add and revoke them, and evaluations made afterwards use them.

use super::client::{field, Client, ServerArgs};
use super::remote::enc;
use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::{json, Value};

/// Waivers on the server.
#[derive(Subcommand, Debug)]
pub enum WaiverCommand {
    /// Waive one rule's findings on a stack until a date (reviewer, admin).
    Add(AddArgs),
    /// List a stack's waivers (unrevoked ones; --all adds revoked ones).
    List {
        /// Stack name.
        #[arg(long)]
        stack: String,
        /// Include revoked waivers.
        #[arg(long)]
        all: bool,
    },
    /// Revoke a waiver (reviewer, admin): later evaluations count its
    /// findings again.
    Revoke {
        /// Stack name.
        #[arg(long)]
        stack: String,
        /// Waiver id (see `arbiter waiver list`).
        id: i64,
    },
}

/// `arbiter waiver add`.
#[derive(Args, Debug)]
pub struct AddArgs {
    /// Stack name.
    #[arg(long)]
    pub stack: String,
    /// Rule ID, exactly as reported (ARB-AWS-EC2-001, policy:main.deny).
    #[arg(long)]
    pub rule: String,
    /// Resource addresses: a glob (`*` any run of characters, `?` one).
    #[arg(long, default_value = "*", value_name = "GLOB")]
    pub address: String,
    /// Why the risk is accepted.
    #[arg(long)]
    pub reason: String,
    /// Who owns the decision (a person or team).
    #[arg(long)]
    pub owner: String,
    /// Last day (UTC) on which it counts (YYYY-MM-DD) or an RFC 3339 time;
    /// at most 366 days ahead.
    #[arg(long, value_name = "DATE")]
    pub expires: String,
}

fn items(v: &Value) -> Vec<Value> {
    v["items"].as_array().cloned().unwrap_or_default()
}

fn state(w: &Value) -> &'static str {
    if !w["revoked_at"].is_null() {
        "revoked"
    } else if w["expired"].as_bool() == Some(true) {
        "expired"
    } else {
        "active"
    }
}

fn summary(w: &Value) -> String {
    let mut out = format!(
        "waiver {} on stack {}: {} at {} until {} ({})\n  owner {}: {}\n  created by {} at {}\n",
        field(w, "id"),
        field(w, "stack"),
        field(w, "rule"),
        field(w, "address"),
        field(w, "expires"),
        state(w),
        field(w, "owner"),
        field(w, "reason"),
        field(w, "created_by"),
        field(w, "created_at"),
    );
    if !w["revoked_at"].is_null() {
        out.push_str(&format!(
            "  revoked by {} at {}\n",
            field(w, "revoked_by"),
            field(w, "revoked_at")
        ));
    }
    out
}

/// Runs `arbiter waiver …`.
pub fn run(cmd: WaiverCommand, server: &ServerArgs) -> Result<u8> {
    let c = Client::new(server, None)?;
    match cmd {
        WaiverCommand::Add(a) => {
            let body = json!({"rule": a.rule, "address": a.address, "reason": a.reason,
                "owner": a.owner, "expires": a.expires});
            let w = c.call(
                "POST",
                &format!("/api/v1/stacks/{}/waivers", enc(&a.stack)),
                Some(&body),
            )?;
            c.print(&w, |w| {
                format!(
                    "{}  (applies to evaluations from now on)\n",
                    summary(w).trim_end()
                )
            });
        }
        WaiverCommand::List { stack, all } => {
            let q = if all { "?all=true" } else { "" };
            let v = c.call(
                "GET",
                &format!("/api/v1/stacks/{}/waivers{q}", enc(&stack)),
                None,
            )?;
            c.print(&v, |v| {
                let list = items(v);
                if list.is_empty() {
                    return "(no waivers)\n".into();
                }
                list.iter()
                    .map(|w| {
                        format!(
                            "{}  {}  {}  {}  until {}  {}: {}\n",
                            field(w, "id"),
                            state(w),
                            field(w, "rule"),
                            field(w, "address"),
                            field(w, "expires"),
                            field(w, "owner"),
                            field(w, "reason"),
                        )
                    })
                    .collect()
            });
        }
        WaiverCommand::Revoke { stack, id } => {
            let w = c.call(
                "DELETE",
                &format!("/api/v1/stacks/{}/waivers/{id}", enc(&stack)),
                None,
            )?;
            c.print(&w, summary);
        }
    }
    Ok(0)
}
