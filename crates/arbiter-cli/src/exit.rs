//! The exit-code contract, in one place: 0 approve (or success), 1 error
//! (usage errors included), 2 needs review, 3 rejected.
//!
//! A pipeline reads 2 as "a person must look": a mistyped flag must not
//! read that way, so usage errors exit 1 like every other error, not with
//! clap's own code 2. `--help` and `--version` print to stdout and exit 0.

use arbiter_api::ChangeStatus;
use arbiter_verdict::Decision;

/// Any error: bad usage, unreadable input, a failed request.
pub const ERROR: u8 = 1;

/// Exit code of a decision: 0 approve, 2 review, 3 reject.
pub fn decision(d: Decision) -> u8 {
    d.exit_code()
}

/// Exit code of a change request in `status` on the server, as for the
/// decision it stands for ([`ChangeStatus::as_decision`]): approved or
/// applied 0, waiting for a review 2, anything else (rejected, expired,
/// cancelled, apply failed) 3.
pub fn status(status: ChangeStatus) -> u8 {
    decision(status.as_decision())
}

/// Exit code of a status as the server wrote it; a spelling this client
/// does not know counts as not approved (3).
pub fn status_text(status: &str) -> u8 {
    status
        .parse::<ChangeStatus>()
        .map_or(decision(Decision::Reject), self::status)
}

/// Prints a parse failure of the command line and returns its exit code:
/// help and version go to stdout with 0, usage errors to stderr with
/// [`ERROR`].
pub fn usage(e: &clap::Error) -> u8 {
    // Printing can only fail on a closed stream; the code still tells.
    let _ = e.print();
    if e.use_stderr() {
        ERROR
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_the_decision_codes() {
        assert_eq!(status_text("approved"), 0);
        assert_eq!(status_text("applied"), 0);
        assert_eq!(status_text("pending_review"), 2);
        assert_eq!(status_text("rejected"), 3);
        assert_eq!(status_text("expired"), 3);
        assert_eq!(status_text("apply_failed"), 3);
        assert_eq!(status_text("verified"), 3);
        assert_eq!(status_text(""), 3);
        assert_eq!(status(ChangeStatus::Cancelled), 3);
        assert_eq!(decision(Decision::Review), 2);
    }
}
