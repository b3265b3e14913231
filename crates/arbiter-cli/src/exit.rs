//! The exit-code contract, in one place: 0 approve (or success), 1 error
//! (usage errors included), 2 needs review, 3 rejected.
//!
//! A pipeline reads 2 as "a person must look": a mistyped flag must not
//! read that way, so usage errors exit 1 like every other error, not with
//! clap's own code 2. `--help` and `--version` print to stdout and exit 0.

use arbiter_verdict::Decision;

/// Any error: bad usage, unreadable input, a failed request.
pub const ERROR: u8 = 1;

/// Exit code of a decision: 0 approve, 2 review, 3 reject.
pub fn decision(d: Decision) -> u8 {
    d.exit_code()
}

/// Exit code of a change request in `status` on the server, as for the
/// decision it stands for: approved (or applied, verified) 0, waiting for a
/// review 2, anything else (rejected, failed, expired, …) 3.
pub fn status(status: &str) -> u8 {
    decision(match status {
        "approved" | "applied" | "verified" => Decision::Approve,
        "pending_review" => Decision::Review,
        _ => Decision::Reject,
    })
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
        assert_eq!(status("approved"), 0);
        assert_eq!(status("applied"), 0);
        assert_eq!(status("verified"), 0);
        assert_eq!(status("pending_review"), 2);
        assert_eq!(status("rejected"), 3);
        assert_eq!(status("expired"), 3);
        assert_eq!(status(""), 3);
        assert_eq!(decision(Decision::Review), 2);
    }
}
