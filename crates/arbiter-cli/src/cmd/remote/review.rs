//! `arbiter review`: the review queue.

use super::*;
use arbiter_api::{ChangeRequest, ReviewRequest};
/// The review queue.
#[derive(Subcommand, Debug)]
pub enum ReviewCommand {
    /// Change requests waiting for a person, highest priority first.
    List,
    /// One change request with its verdict.
    Show {
        /// Change request number.
        id: i64,
    },
    /// Approve a change request.
    Approve {
        /// Change request number.
        id: i64,
        /// Why, for the record (shown with the review and kept in the audit log).
        #[arg(long, short = 'm')]
        comment: Option<String>,
    },
    /// Reject a change request.
    Reject {
        /// Change request number.
        id: i64,
        /// Why, for the record (shown with the review and kept in the audit log).
        #[arg(long, short = 'm')]
        comment: Option<String>,
    },
}

/// Runs a review command.
pub fn review(cmd: ReviewCommand, server: &ServerArgs) -> Result<u8> {
    let c = Client::new(server, None)?;
    match cmd {
        ReviewCommand::List => {
            let r = c.get::<Page<ChangeRequest>>("/api/v1/reviews")?;
            c.print(&r, |v| {
                table(
                    &[
                        "ID",
                        "PRIORITY",
                        "STACK",
                        "SUBMITTER",
                        "CONFIDENCE",
                        "COST/MONTH",
                        "SINCE",
                    ],
                    v.items
                        .iter()
                        .map(|cr| {
                            vec![
                                cr.id.to_string(),
                                format!("{:.3}", cr.priority),
                                cr.stack.clone(),
                                cr.submitter.clone(),
                                cr.confidence.map(|c| format!("{c:.1}")).unwrap_or_default(),
                                cr.cost_delta_usd
                                    .map(|d| format!("{d:+.2}"))
                                    .unwrap_or_else(|| "-".into()),
                                cr.created_at.to_string(),
                            ]
                        })
                        .collect(),
                )
            });
        }
        ReviewCommand::Show { id } => {
            let r = c.get::<ChangeRequest>(&format!("/api/v1/change-requests/{id}"))?;
            c.print(&r, cr_summary);
        }
        ReviewCommand::Approve { id, comment } => {
            let r = c.call_with::<_, ChangeRequest>(
                "POST",
                &format!("/api/v1/change-requests/{id}/approve"),
                &ReviewRequest { comment },
            )?;
            c.print(&r, cr_summary);
        }
        ReviewCommand::Reject { id, comment } => {
            let r = c.call_with::<_, ChangeRequest>(
                "POST",
                &format!("/api/v1/change-requests/{id}/reject"),
                &ReviewRequest { comment },
            )?;
            c.print(&r, cr_summary);
        }
    }
    Ok(0)
}
