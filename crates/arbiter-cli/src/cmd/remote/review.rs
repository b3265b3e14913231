//! `arbiter review`: the review queue.

use super::*;
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
            let v = c.call("GET", "/api/v1/reviews", None)?;
            c.print(&v, |v| {
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
                    items(v)
                        .iter()
                        .map(|cr| {
                            vec![
                                field(cr, "id").into(),
                                cr["priority"]
                                    .as_f64()
                                    .map(|p| format!("{p:.3}"))
                                    .unwrap_or_default(),
                                field(cr, "stack").into(),
                                field(cr, "submitter").into(),
                                cr["confidence"]
                                    .as_f64()
                                    .map(|c| format!("{c:.1}"))
                                    .unwrap_or_default(),
                                cr["cost_delta_usd"]
                                    .as_f64()
                                    .map(|d| format!("{d:+.2}"))
                                    .unwrap_or_else(|| "-".into()),
                                field(cr, "created_at").into(),
                            ]
                        })
                        .collect(),
                )
            });
        }
        ReviewCommand::Show { id } => {
            let v = c.call("GET", &format!("/api/v1/change-requests/{id}"), None)?;
            c.print(&v, cr_summary);
        }
        ReviewCommand::Approve { id, comment } => {
            let v = c.call(
                "POST",
                &format!("/api/v1/change-requests/{id}/approve"),
                Some(&json!({"comment": comment})),
            )?;
            c.print(&v, cr_summary);
        }
        ReviewCommand::Reject { id, comment } => {
            let v = c.call(
                "POST",
                &format!("/api/v1/change-requests/{id}/reject"),
                Some(&json!({"comment": comment})),
            )?;
            c.print(&v, cr_summary);
        }
    }
    Ok(0)
}
