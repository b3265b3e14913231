//! Policy backtests: a candidate policy set, threshold or stack configuration
//! replayed over past change requests (`POST /api/v1/backtests`) or over a
//! directory of plans (`arbiter policy backtest --plans DIR`), and how each
//! decision would change — also against what people decided.
//!
//! The report is built here ([`BacktestReport::summarize`]) from one
//! [`BacktestItem`] per replayed plan, so the server and the offline CLI
//! count the same way.

use arbiter_verdict::Decision;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The `format` of a report.
pub const REPORT_FORMAT: &str = "arbiter-backtest/1";
/// The window when a request names none: 30 days.
pub const DEFAULT_SINCE_SECONDS: u64 = 30 * 86_400;
/// The longest window: 366 days.
pub const MAX_SINCE_SECONDS: u64 = 366 * 86_400;
/// Most change requests one backtest replays (and the default limit).
pub const MAX_CHANGE_REQUESTS: u64 = 50_000;
/// Most changed decisions listed in a report (the counts cover them all).
pub const MAX_LISTED: usize = 1_000;

/// A backtest to run (`POST /api/v1/backtests`, reviewer or admin).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BacktestRequest {
    /// The candidate plan policy files (path → text: `.rego`, `data.json`,
    /// `data.yaml`), bounded and compiled like a policy-set push.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// The stacks' policy set the files stand in for: only stacks using it
    /// are replayed, with the candidate in its place. Absent: the files are
    /// evaluated in addition to every stack's own sets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
    /// A candidate stack configuration (the TOML of `arbiter evaluate
    /// --stack`): the keys it sets (threshold, budget, environment, floor,
    /// rule adjustments, waivers) override each replayed stack's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack_config: Option<String>,
    /// Only this stack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
    /// Change requests created in the last this many seconds (default 30
    /// days, at most [`MAX_SINCE_SECONDS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_seconds: Option<u64>,
    /// At most this many change requests, newest first (default and most
    /// [`MAX_CHANGE_REQUESTS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

/// How a decision moves from what was decided to what the candidate decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionChange {
    /// The same decision.
    Unchanged,
    /// Approved now, held or rejected before.
    NewlyApproved,
    /// Sent to review now, approved or rejected before.
    NewlySentToReview,
    /// Rejected now, approved or held before.
    NewlyRejected,
    /// The candidate could not judge the plan (a policy error, a budget
    /// exceeded): in production that is an error, never an approval.
    Failed,
}

impl DecisionChange {
    /// From the decision before to the candidate's.
    pub fn between(before: Decision, after: Decision) -> DecisionChange {
        if before == after {
            return DecisionChange::Unchanged;
        }
        match after {
            Decision::Approve => DecisionChange::NewlyApproved,
            Decision::Review => DecisionChange::NewlySentToReview,
            Decision::Reject => DecisionChange::NewlyRejected,
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionChange::Unchanged => "unchanged",
            DecisionChange::NewlyApproved => "newly_approved",
            DecisionChange::NewlySentToReview => "newly_sent_to_review",
            DecisionChange::NewlyRejected => "newly_rejected",
            DecisionChange::Failed => "failed",
        }
    }
}

impl std::fmt::Display for DecisionChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What people decided about a change: reviewers on the server, the
/// `expect` label of an `expected.tsv` offline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeopleDecision {
    /// Approved by review (offline: labelled `approve`).
    Approved,
    /// Rejected by review (offline: labelled `escalate` or `reject`:
    /// people would hold it).
    Rejected,
}

impl PeopleDecision {
    /// From a change request's final status and its reviews' decisions
    /// (`approve` / `reject`): only a change request that people reviewed
    /// and that ended approved or rejected counts; one approved or rejected
    /// by the engine alone, pending, expired or cancelled does not.
    pub fn from_reviews<'a>(
        status: &str,
        reviews: impl IntoIterator<Item = &'a str>,
    ) -> Option<PeopleDecision> {
        let mut approves = false;
        let mut rejects = false;
        for r in reviews {
            match r {
                "approve" => approves = true,
                "reject" => rejects = true,
                _ => {}
            }
        }
        match status {
            "approved" | "applying" | "applied" | "verified" | "failed" if approves => {
                Some(PeopleDecision::Approved)
            }
            "rejected" if rejects => Some(PeopleDecision::Rejected),
            _ => None,
        }
    }
}

/// One replayed plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BacktestItem {
    /// The change request (server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// The plan's path (offline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// Its stack.
    pub stack: String,
    /// The decision made then (offline: with the baseline policies).
    pub before: Decision,
    /// Its confidence.
    #[serde(default)]
    pub before_confidence: Option<f64>,
    /// The candidate's decision (absent when it failed).
    #[serde(default)]
    pub after: Option<Decision>,
    /// The candidate's confidence.
    #[serde(default)]
    pub after_confidence: Option<f64>,
    /// How the decision moves.
    pub change: DecisionChange,
    /// What people decided, when they did.
    #[serde(default)]
    pub people: Option<PeopleDecision>,
    /// Rules that hold or reject it under the candidate (deny and escalate
    /// findings, at most five).
    #[serde(default)]
    pub reasons: Vec<String>,
    /// Why the candidate could not judge it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl BacktestItem {
    /// `#ID` or the plan's path, for lists.
    pub fn label(&self) -> String {
        match (&self.id, &self.plan) {
            (Some(id), _) => format!("#{id}"),
            (None, Some(p)) => p.clone(),
            (None, None) => "?".into(),
        }
    }

    /// Would the candidate let it through without a person.
    pub fn auto_approved(&self) -> bool {
        self.after == Some(Decision::Approve)
    }
}

/// Decision changes counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeCounts {
    /// Plans replayed.
    pub replayed: usize,
    /// Same decision.
    pub unchanged: usize,
    /// Approved now.
    pub newly_approved: usize,
    /// Sent to review now.
    pub newly_sent_to_review: usize,
    /// Rejected now.
    pub newly_rejected: usize,
    /// The candidate failed on them.
    pub failed: usize,
}

impl ChangeCounts {
    /// Counts one item.
    pub fn add(&mut self, c: DecisionChange) {
        self.replayed += 1;
        match c {
            DecisionChange::Unchanged => self.unchanged += 1,
            DecisionChange::NewlyApproved => self.newly_approved += 1,
            DecisionChange::NewlySentToReview => self.newly_sent_to_review += 1,
            DecisionChange::NewlyRejected => self.newly_rejected += 1,
            DecisionChange::Failed => self.failed += 1,
        }
    }

    /// Decisions that change (failures included).
    pub fn changed(&self) -> usize {
        self.replayed - self.unchanged
    }
}

/// The counts of one stack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackCounts {
    /// The stack.
    pub stack: String,
    /// Its counts.
    #[serde(flatten)]
    pub counts: ChangeCounts,
}

/// The candidate against what people decided.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AgainstPeople {
    /// Replayed changes people decided.
    pub decided: usize,
    /// Of those, approved by people.
    pub approved: usize,
    /// Of those, rejected by people.
    pub rejected: usize,
    /// The candidate would have auto-approved these, which people rejected
    /// (the dangerous direction).
    pub auto_approved_but_rejected: usize,
    /// The candidate would have held (review, reject or failure) these,
    /// which people approved (the toil direction).
    pub held_but_approved: usize,
    /// The first [`MAX_LISTED`] of the first kind (labels: `#ID` or path).
    pub auto_approved_but_rejected_list: Vec<String>,
    /// The first [`MAX_LISTED`] of the second kind.
    pub held_but_approved_list: Vec<String>,
}

/// What was tried.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CandidateSummary {
    /// Candidate policy files.
    pub policy_files: usize,
    /// SHA-256 over the candidate files (paths and texts), hex.
    #[serde(default)]
    pub policy_digest: Option<String>,
    /// The policy set they stand in for.
    #[serde(default)]
    pub replaces: Option<String>,
    /// Whether a stack configuration was given.
    pub stack_config: bool,
}

/// A backtest's answer; only results, never plan values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BacktestReport {
    /// [`REPORT_FORMAT`].
    pub format: String,
    /// What was tried.
    pub candidate: CandidateSummary,
    /// Start of the window, RFC 3339 (server).
    #[serde(default)]
    pub since: Option<crate::Timestamp>,
    /// End of the window, RFC 3339 (server).
    #[serde(default)]
    pub until: Option<crate::Timestamp>,
    /// Change requests (or plans) in scope.
    pub considered: usize,
    /// In scope but not replayed: their stack is gone, or does not use the
    /// replaced policy set.
    pub skipped: usize,
    /// Every considered plan was replayed (false: a limit or the time
    /// budget stopped it; `incomplete` says which).
    pub complete: bool,
    /// Why it stopped early.
    #[serde(default)]
    pub incomplete: Option<String>,
    /// All stacks together.
    pub totals: ChangeCounts,
    /// Per stack, by name.
    pub stacks: Vec<StackCounts>,
    /// Against what people decided.
    pub people: AgainstPeople,
    /// The plans whose decision changes (and failures), at most
    /// [`MAX_LISTED`], newest first.
    pub changes: Vec<BacktestItem>,
    /// Whether `changes` lists every change.
    pub changes_complete: bool,
    /// Seconds the replay took.
    pub seconds: f64,
}

impl BacktestReport {
    /// Counts the items (in the order given: newest first) into a report.
    pub fn summarize(
        candidate: CandidateSummary,
        items: impl IntoIterator<Item = BacktestItem>,
    ) -> BacktestReport {
        let mut totals = ChangeCounts::default();
        let mut stacks: BTreeMap<String, ChangeCounts> = BTreeMap::new();
        let mut people = AgainstPeople::default();
        let mut changes = Vec::new();
        let mut changes_complete = true;
        for it in items {
            totals.add(it.change);
            stacks.entry(it.stack.clone()).or_default().add(it.change);
            if let Some(p) = it.people {
                people.decided += 1;
                match p {
                    PeopleDecision::Approved => {
                        people.approved += 1;
                        if !it.auto_approved() {
                            people.held_but_approved += 1;
                            if people.held_but_approved_list.len() < MAX_LISTED {
                                people.held_but_approved_list.push(it.label());
                            }
                        }
                    }
                    PeopleDecision::Rejected => {
                        people.rejected += 1;
                        if it.auto_approved() {
                            people.auto_approved_but_rejected += 1;
                            if people.auto_approved_but_rejected_list.len() < MAX_LISTED {
                                people.auto_approved_but_rejected_list.push(it.label());
                            }
                        }
                    }
                }
            }
            if it.change != DecisionChange::Unchanged {
                if changes.len() < MAX_LISTED {
                    changes.push(it);
                } else {
                    changes_complete = false;
                }
            }
        }
        BacktestReport {
            format: REPORT_FORMAT.into(),
            candidate,
            since: None,
            until: None,
            considered: totals.replayed,
            skipped: 0,
            complete: true,
            incomplete: None,
            totals,
            stacks: stacks
                .into_iter()
                .map(|(stack, counts)| StackCounts { stack, counts })
                .collect(),
            people,
            changes,
            changes_complete,
            seconds: 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: i64, stack: &str, before: Decision, after: Option<Decision>) -> BacktestItem {
        BacktestItem {
            id: Some(id),
            plan: None,
            stack: stack.into(),
            before,
            before_confidence: None,
            after,
            after_confidence: None,
            change: after.map_or(DecisionChange::Failed, |a| {
                DecisionChange::between(before, a)
            }),
            people: None,
            reasons: Vec::new(),
            error: None,
        }
    }

    #[test]
    fn changes_are_named_by_where_they_land() {
        use Decision::*;
        assert_eq!(
            DecisionChange::between(Approve, Approve),
            DecisionChange::Unchanged
        );
        assert_eq!(
            DecisionChange::between(Approve, Review),
            DecisionChange::NewlySentToReview
        );
        assert_eq!(
            DecisionChange::between(Reject, Review),
            DecisionChange::NewlySentToReview
        );
        assert_eq!(
            DecisionChange::between(Review, Reject),
            DecisionChange::NewlyRejected
        );
        assert_eq!(
            DecisionChange::between(Review, Approve),
            DecisionChange::NewlyApproved
        );
        assert_eq!(
            serde_json::to_value(DecisionChange::NewlySentToReview).ok(),
            Some(serde_json::json!("newly_sent_to_review"))
        );
    }

    #[test]
    fn people_decided_only_through_reviews() {
        use PeopleDecision::*;
        assert_eq!(
            PeopleDecision::from_reviews("approved", ["approve"]),
            Some(Approved)
        );
        assert_eq!(
            PeopleDecision::from_reviews("applied", ["approve", "approve"]),
            Some(Approved)
        );
        assert_eq!(
            PeopleDecision::from_reviews("rejected", ["approve", "reject"]),
            Some(Rejected)
        );
        // Decided by the engine alone, or not decided.
        assert_eq!(PeopleDecision::from_reviews("approved", []), None);
        assert_eq!(PeopleDecision::from_reviews("rejected", []), None);
        assert_eq!(
            PeopleDecision::from_reviews("pending_review", ["approve"]),
            None
        );
        assert_eq!(PeopleDecision::from_reviews("expired", ["reject"]), None);
    }

    #[test]
    fn summary_counts_per_stack_and_against_people() {
        use Decision::*;
        let mut a = item(5, "web", Review, Some(Approve));
        a.people = Some(PeopleDecision::Rejected);
        let mut b = item(4, "web", Review, Some(Review));
        b.people = Some(PeopleDecision::Approved);
        let mut c = item(3, "db", Review, Some(Approve));
        c.people = Some(PeopleDecision::Approved);
        let d = item(2, "db", Approve, Some(Reject));
        let e = item(1, "db", Approve, None);
        let r = BacktestReport::summarize(CandidateSummary::default(), vec![a, b, c, d, e]);
        assert_eq!(r.totals.replayed, 5);
        assert_eq!(r.totals.unchanged, 1);
        assert_eq!(r.totals.newly_approved, 2);
        assert_eq!(r.totals.newly_rejected, 1);
        assert_eq!(r.totals.failed, 1);
        assert_eq!(r.totals.changed(), 4);
        assert_eq!(r.stacks.len(), 2);
        assert_eq!(r.stacks[0].stack, "db");
        assert_eq!(r.stacks[0].counts.replayed, 3);
        assert_eq!(r.stacks[1].counts.newly_approved, 1);
        assert_eq!(r.people.decided, 3);
        assert_eq!(r.people.auto_approved_but_rejected, 1);
        assert_eq!(r.people.auto_approved_but_rejected_list, vec!["#5"]);
        assert_eq!(r.people.held_but_approved, 1);
        assert_eq!(r.people.held_but_approved_list, vec!["#4"]);
        assert_eq!(
            r.changes.iter().map(|i| i.label()).collect::<Vec<_>>(),
            vec!["#5", "#3", "#2", "#1"]
        );
        assert!(r.changes_complete);
    }
}
