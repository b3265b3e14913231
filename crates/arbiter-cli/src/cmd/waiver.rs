//! `arbiter waiver`: accepted risks of a stack on the server (add, list,
//! revoke). A waiver makes the findings of one rule on the addresses a glob
//! matches cost nothing and hold nothing until it expires; reviewers and
//! admins add and revoke them, and evaluations made afterwards use them.

use super::client::{dash, Client, ServerArgs};
use super::remote::enc;
use anyhow::Result;
use arbiter_api::{Page, Waiver, WaiverSpec};
use clap::{Args, Subcommand};

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

fn state(w: &Waiver) -> &'static str {
    if w.revoked_at.is_some() {
        "revoked"
    } else if w.expired {
        "expired"
    } else {
        "active"
    }
}

fn summary(w: &Waiver) -> String {
    let mut out = format!(
        "waiver {} on stack {}: {} at {} until {} ({})\n  owner {}: {}\n  created by {} at {}\n",
        w.id,
        w.stack,
        w.rule,
        w.address,
        w.expires,
        state(w),
        w.owner,
        w.reason,
        w.created_by,
        w.created_at,
    );
    if w.revoked_at.is_some() {
        out.push_str(&format!(
            "  revoked by {} at {}\n",
            dash(w.revoked_by.as_ref()),
            dash(w.revoked_at.as_ref())
        ));
    }
    out
}

/// Runs `arbiter waiver …`.
pub fn run(cmd: WaiverCommand, server: &ServerArgs) -> Result<u8> {
    let c = Client::new(server, None)?;
    match cmd {
        WaiverCommand::Add(a) => {
            let body = WaiverSpec {
                rule: a.rule,
                address: a.address,
                reason: a.reason,
                owner: a.owner,
                expires: a.expires,
            };
            let r = c.call_with::<_, Waiver>(
                "POST",
                &format!("/api/v1/stacks/{}/waivers", enc(&a.stack)),
                &body,
            )?;
            c.print(&r, |w| {
                format!(
                    "{}  (applies to evaluations from now on)\n",
                    summary(w).trim_end()
                )
            });
        }
        WaiverCommand::List { stack, all } => {
            let q = if all { "?all=true" } else { "" };
            let r = c.get::<Page<Waiver>>(&format!("/api/v1/stacks/{}/waivers{q}", enc(&stack)))?;
            c.print(&r, |v| {
                if v.items.is_empty() {
                    return "(no waivers)\n".into();
                }
                v.items
                    .iter()
                    .map(|w| {
                        format!(
                            "{}  {}  {}  {}  until {}  {}: {}\n",
                            w.id,
                            state(w),
                            w.rule,
                            w.address,
                            w.expires,
                            w.owner,
                            w.reason,
                        )
                    })
                    .collect()
            });
        }
        WaiverCommand::Revoke { stack, id } => {
            let r = c.call::<Waiver>(
                "DELETE",
                &format!("/api/v1/stacks/{}/waivers/{id}", enc(&stack)),
            )?;
            c.print(&r, summary);
        }
    }
    Ok(0)
}
