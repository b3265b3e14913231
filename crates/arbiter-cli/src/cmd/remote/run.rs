//! `arbiter run list|show|logs|confirm|cancel` and `arbiter worker-pool
//! create`: runs on the server, read into the API's own types
//! (`arbiter_api::runs`).

use super::*;
use arbiter_api::runs::{LogSlice, Run, WorkerPoolToken, WorkerPoolTokenInfo};
use arbiter_api::{Page, Timestamp};

/// `arbiter run …`.
#[derive(Subcommand, Debug)]
pub enum RunCommand {
    /// Runs, newest first.
    List {
        /// Only this stack's.
        #[arg(long)]
        stack: Option<String>,
        /// Only runs in this phase.
        #[arg(long)]
        phase: Option<String>,
        /// Only this change request's.
        #[arg(long, value_name = "ID")]
        change_request: Option<i64>,
    },
    /// One run: its phases and timings.
    Show {
        /// The run.
        id: i64,
    },
    /// A run's log; `-f` follows it until the run ends.
    Logs {
        /// The run.
        id: i64,
        /// Keep printing as the log grows, until the run is over.
        #[arg(long, short = 'f')]
        follow: bool,
    },
    /// Confirm a run waiting for a person (reviewers, admins).
    Confirm {
        /// The run.
        id: i64,
    },
    /// Cancel a run that has not started applying.
    Cancel {
        /// The run.
        id: i64,
    },
}

/// `arbiter worker-pool …` (admins). A pool may have several tokens (one
/// per machine, say): `create` mints one more, `tokens` lists them without
/// their secrets, `revoke-token` stops one at once.
#[derive(Subcommand, Debug)]
pub enum WorkerPoolCommand {
    /// Create a worker pool (if needed) and print a new token for it; run
    /// it again for another token of the same pool.
    Create {
        /// Pool name (`a-z 0-9 -`).
        name: String,
    },
    /// List a pool's tokens: id, first characters, who minted it and when,
    /// last claim request (to the minute), revocation. Never the secrets.
    Tokens {
        /// Pool name.
        pool: String,
    },
    /// Revoke one of a pool's tokens (id from `arbiter worker-pool tokens`,
    /// or printed by `create`): workers using it are refused from their
    /// next request on, also in the middle of a run (which is then
    /// interrupted when its heartbeats stop).
    RevokeToken {
        /// Pool name.
        pool: String,
        /// The token's id (16 hex digits).
        id: String,
    },
}

fn token_line(t: &WorkerPoolTokenInfo) -> String {
    let state = match (&t.revoked_at, &t.revoked_by) {
        (Some(at), by) => format!("revoked at {at} by {}", by.as_deref().unwrap_or("?")),
        (None, _) => "active".into(),
    };
    format!(
        "{}  {}  {}  created {} by {}  last used {}\n",
        t.id,
        t.prefix
            .as_deref()
            .map(|p| format!("{p}…"))
            .unwrap_or_else(|| "-".into()),
        state,
        t.created_at,
        t.created_by,
        t.last_used_at
            .map(|t| t.to_string())
            .unwrap_or_else(|| "never".into()),
    )
}

fn confirmation(r: &Run) -> String {
    match &r.confirmation {
        arbiter_api::runs::Confirmation::NotNeeded => "not needed".into(),
        arbiter_api::runs::Confirmation::Awaiting => "awaiting a person".into(),
        arbiter_api::runs::Confirmation::Confirmed { by, at } => {
            format!("confirmed by {by} at {at}")
        }
    }
}

fn source(r: &Run) -> String {
    match &r.source {
        arbiter_api::runs::RunSource::Bundle { sha256 } => format!("bundle {sha256}"),
        arbiter_api::runs::RunSource::Git { url, commit, path } => format!(
            "git {url} @ {commit}{}",
            path.as_ref().map(|p| format!(" ({p})")).unwrap_or_default()
        ),
    }
}

/// A run, for people.
pub fn run_summary(r: &Run) -> String {
    let mut s = format!(
        "run {} on {}: {} (change request {} revision {})\n  source: {}\n  confirmation: {}\n  pool: {}{}\n",
        r.id,
        r.stack,
        r.phase,
        r.change_request,
        r.revision,
        source(r),
        confirmation(r),
        r.pool,
        r.worker.as_ref().map(|w| format!(", worker {w}")).unwrap_or_default(),
    );
    if let arbiter_api::runs::RunKind::Rollback { target_version } = &r.kind {
        s.push_str(&format!("  rolls back to state version {target_version}\n"));
    }
    if let Some(t) = &r.tool {
        s.push_str(&format!(
            "  tool: {:?} {} ({})\n",
            t.kind, t.version, t.path
        ));
    }
    if let Some(v) = r.state_version {
        s.push_str(&format!("  wrote state version {v}\n"));
    }
    if let Some(e) = &r.error {
        s.push_str(&format!("  error: {e}\n"));
    }
    if r.cancel_requested && !r.phase.is_final() {
        s.push_str("  cancel requested\n");
    }
    for (p, secs) in r.phase_seconds(Timestamp::now()) {
        s.push_str(&format!("  {p:<20} {secs:>9.1} s\n"));
    }
    s
}

/// Runs `arbiter run …`.
pub fn run_cmd(cmd: RunCommand, server: &ServerArgs) -> Result<u8> {
    let c = Client::new(server, None)?;
    match cmd {
        RunCommand::List {
            stack,
            phase,
            change_request,
        } => {
            let mut q = Vec::new();
            if let Some(s) = stack {
                q.push(format!("stack={}", enc(&s)));
            }
            if let Some(p) = phase {
                q.push(format!("phase={}", enc(&p)));
            }
            if let Some(id) = change_request {
                q.push(format!("change_request={id}"));
            }
            let path = if q.is_empty() {
                "/api/v1/runs".to_string()
            } else {
                format!("/api/v1/runs?{}", q.join("&"))
            };
            let v = c.get::<Page<Run>>(&path)?;
            c.print(&v, |page| {
                table(
                    &[
                        "ID",
                        "STACK",
                        "CR",
                        "REV",
                        "PHASE",
                        "CONFIRMATION",
                        "UPDATED",
                    ],
                    page.items
                        .iter()
                        .map(|r| {
                            vec![
                                r.id.to_string(),
                                r.stack.clone(),
                                r.change_request.to_string(),
                                r.revision.to_string(),
                                r.phase.to_string(),
                                confirmation(r),
                                r.updated_at.to_string(),
                            ]
                        })
                        .collect(),
                )
            });
            Ok(0)
        }
        RunCommand::Show { id } => {
            let v = c.get::<Run>(&format!("/api/v1/runs/{id}"))?;
            c.print(&v, run_summary);
            Ok(0)
        }
        RunCommand::Confirm { id } => {
            let v = c.call::<Run>("POST", &format!("/api/v1/runs/{id}/confirm"))?;
            c.print(&v, run_summary);
            Ok(0)
        }
        RunCommand::Cancel { id } => {
            let v = c.call::<Run>("POST", &format!("/api/v1/runs/{id}/cancel"))?;
            c.print(&v, run_summary);
            Ok(0)
        }
        RunCommand::Logs { id, follow } => {
            use std::io::Write;
            let mut offset = 0u64;
            loop {
                let slice = c
                    .get::<LogSlice>(&format!("/api/v1/runs/{id}/logs?offset={offset}"))?
                    .data;
                let mut out = std::io::stdout();
                let _ = out.write_all(slice.text.as_bytes());
                let _ = out.flush();
                let grew = slice.next_offset > offset;
                offset = slice.next_offset;
                if slice.complete || (!follow && !grew) {
                    return Ok(0);
                }
                if !grew {
                    std::thread::sleep(std::time::Duration::from_millis(1000));
                }
            }
        }
    }
}

/// Runs `arbiter worker-pool …`.
pub fn worker_pool(cmd: WorkerPoolCommand, server: &ServerArgs) -> Result<u8> {
    let c = Client::new(server, None)?;
    match cmd {
        WorkerPoolCommand::Create { name } => {
            let body = arbiter_api::runs::WorkerPoolCreate { name };
            let v = c.call_with::<_, WorkerPoolToken>("POST", "/api/v1/worker-pools", &body)?;
            c.print(&v, |t| {
                format!(
                    "worker pool {}: token {} (shown once)\n\n    {}\n\nStart a worker: ARBITER_WORKER_TOKEN=… arbiter worker --server URL --pool {}\nRevoke it: arbiter worker-pool revoke-token {} {}\n",
                    t.pool, t.id, t.token, t.pool, t.pool, t.id
                )
            });
            Ok(0)
        }
        WorkerPoolCommand::Tokens { pool } => {
            let v = c.get::<Page<WorkerPoolTokenInfo>>(&format!(
                "/api/v1/worker-pools/{}/tokens",
                enc(&pool)
            ))?;
            c.print(&v, |p| {
                if p.items.is_empty() {
                    return format!("(worker pool {pool} has no tokens)\n");
                }
                p.items.iter().map(token_line).collect()
            });
            Ok(0)
        }
        WorkerPoolCommand::RevokeToken { pool, id } => {
            let v = c.call::<WorkerPoolTokenInfo>(
                "DELETE",
                &format!("/api/v1/worker-pools/{}/tokens/{}", enc(&pool), enc(&id)),
            )?;
            c.print(&v, token_line);
            Ok(0)
        }
    }
}
