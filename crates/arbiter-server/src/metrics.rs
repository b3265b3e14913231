//! Prometheus metrics, kept in atomics and rendered in the text format.
//! Figures are per process; Prometheus sums replicas.

use arbiter_api::{ChangeStatus, Decision};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds of the evaluation latency histogram, seconds.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// The process's counters.
#[derive(Default)]
pub struct Metrics {
    submissions: AtomicU64,
    decisions: [AtomicU64; 3],
    statuses: [AtomicU64; 3],
    rate_limited: [AtomicU64; 2],
    signature_refusals: AtomicU64,
    eval_buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    eval_count: AtomicU64,
    eval_sum_micros: AtomicU64,
    http_requests: [AtomicU64; 5],
    runs_claimed: AtomicU64,
}

impl Metrics {
    /// Counts an accepted submission.
    pub fn submission(&self) {
        self.submissions.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an engine decision (`approve`/`review`/`reject`) and the
    /// resulting status (`approved`/`pending_review`/`rejected`).
    pub fn decision(&self, decision: Decision, status: ChangeStatus) {
        let d = match decision {
            Decision::Approve => 0,
            Decision::Review => 1,
            Decision::Reject => 2,
        };
        let s = match status {
            ChangeStatus::Approved => 0,
            ChangeStatus::PendingReview => 1,
            _ => 2,
        };
        self.decisions[d].fetch_add(1, Ordering::Relaxed);
        self.statuses[s].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a refusal by the velocity governor (`rate` or `blast_radius`).
    pub fn rate_limited(&self, kind: &str) {
        let i = usize::from(kind != "rate");
        self.rate_limited[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a refused signature.
    /// Counts a run claimed by a worker.
    pub fn run_claimed(&self) {
        self.runs_claimed.fetch_add(1, Ordering::Relaxed);
    }

    /// Appends the runs gauges (runs by phase, from the database) and the
    /// claims counter to a rendering.
    pub fn render_runs(&self, text: &mut String, by_phase: &[(String, i64)]) {
        let _ = writeln!(text, "# HELP arbiter_runs Runs by phase.");
        let _ = writeln!(text, "# TYPE arbiter_runs gauge");
        for p in arbiter_api::runs::RUN_PHASES {
            let n = by_phase
                .iter()
                .find(|(k, _)| k == p.as_str())
                .map_or(0, |(_, n)| *n);
            let _ = writeln!(text, "arbiter_runs{{phase=\"{p}\"}} {n}");
        }
        let _ = writeln!(
            text,
            "# HELP arbiter_run_claims_total Runs claimed by workers through this replica."
        );
        let _ = writeln!(text, "# TYPE arbiter_run_claims_total counter");
        let _ = writeln!(
            text,
            "arbiter_run_claims_total {}",
            self.runs_claimed.load(Ordering::Relaxed)
        );
    }

    pub fn signature_refused(&self) {
        self.signature_refusals.fetch_add(1, Ordering::Relaxed);
    }

    /// Records how long an evaluation took.
    pub fn evaluation(&self, seconds: f64) {
        for (i, b) in LATENCY_BUCKETS.iter().enumerate() {
            if seconds <= *b {
                self.eval_buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.eval_count.fetch_add(1, Ordering::Relaxed);
        self.eval_sum_micros
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }

    /// Counts an HTTP answer by status class.
    pub fn http(&self, status: u16) {
        let i = (status / 100).clamp(1, 5) as usize - 1;
        self.http_requests[i].fetch_add(1, Ordering::Relaxed);
    }

    /// The text exposition, with gauges read by the caller (queue depth per
    /// status).
    pub fn render(&self, statuses: &[(ChangeStatus, i64)]) -> String {
        let mut s = String::new();
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let _ = writeln!(
            s,
            "# HELP arbiter_submissions_total Change requests accepted for evaluation."
        );
        let _ = writeln!(s, "# TYPE arbiter_submissions_total counter");
        let _ = writeln!(s, "arbiter_submissions_total {}", g(&self.submissions));
        let _ = writeln!(
            s,
            "# HELP arbiter_decisions_total Engine decisions, by decision."
        );
        let _ = writeln!(s, "# TYPE arbiter_decisions_total counter");
        for (i, d) in [Decision::Approve, Decision::Review, Decision::Reject]
            .iter()
            .enumerate()
        {
            let _ = writeln!(
                s,
                "arbiter_decisions_total{{decision=\"{d}\"}} {}",
                g(&self.decisions[i])
            );
        }
        let _ = writeln!(
            s,
            "# HELP arbiter_tier_total Change requests by the tier they landed in."
        );
        let _ = writeln!(s, "# TYPE arbiter_tier_total counter");
        for (i, t) in [
            ChangeStatus::Approved,
            ChangeStatus::PendingReview,
            ChangeStatus::Rejected,
        ]
        .iter()
        .enumerate()
        {
            let _ = writeln!(
                s,
                "arbiter_tier_total{{tier=\"{t}\"}} {}",
                g(&self.statuses[i])
            );
        }
        let _ = writeln!(
            s,
            "# HELP arbiter_rate_limited_total Submissions refused by the velocity governor."
        );
        let _ = writeln!(s, "# TYPE arbiter_rate_limited_total counter");
        for (i, k) in ["rate", "blast_radius"].iter().enumerate() {
            let _ = writeln!(
                s,
                "arbiter_rate_limited_total{{limit=\"{k}\"}} {}",
                g(&self.rate_limited[i])
            );
        }
        let _ = writeln!(
            s,
            "# HELP arbiter_signature_refusals_total Signed requests refused."
        );
        let _ = writeln!(s, "# TYPE arbiter_signature_refusals_total counter");
        let _ = writeln!(
            s,
            "arbiter_signature_refusals_total {}",
            g(&self.signature_refusals)
        );
        let _ = writeln!(s, "# HELP arbiter_evaluation_seconds Time to judge a plan.");
        let _ = writeln!(s, "# TYPE arbiter_evaluation_seconds histogram");
        for (i, b) in LATENCY_BUCKETS.iter().enumerate() {
            let _ = writeln!(
                s,
                "arbiter_evaluation_seconds_bucket{{le=\"{b}\"}} {}",
                g(&self.eval_buckets[i])
            );
        }
        let n = g(&self.eval_count);
        let _ = writeln!(s, "arbiter_evaluation_seconds_bucket{{le=\"+Inf\"}} {n}");
        let _ = writeln!(
            s,
            "arbiter_evaluation_seconds_sum {}",
            g(&self.eval_sum_micros) as f64 / 1e6
        );
        let _ = writeln!(s, "arbiter_evaluation_seconds_count {n}");
        let _ = writeln!(
            s,
            "# HELP arbiter_http_responses_total HTTP answers by status class."
        );
        let _ = writeln!(s, "# TYPE arbiter_http_responses_total counter");
        for (i, c) in ["1xx", "2xx", "3xx", "4xx", "5xx"].iter().enumerate() {
            let _ = writeln!(
                s,
                "arbiter_http_responses_total{{class=\"{c}\"}} {}",
                g(&self.http_requests[i])
            );
        }
        let _ = writeln!(
            s,
            "# HELP arbiter_review_queue_depth Change requests waiting for a person."
        );
        let _ = writeln!(s, "# TYPE arbiter_review_queue_depth gauge");
        let pending = statuses
            .iter()
            .find(|(k, _)| *k == ChangeStatus::PendingReview)
            .map(|(_, n)| *n)
            .unwrap_or(0);
        let _ = writeln!(s, "arbiter_review_queue_depth {pending}");
        let _ = writeln!(
            s,
            "# HELP arbiter_change_requests Change requests stored, by status."
        );
        let _ = writeln!(s, "# TYPE arbiter_change_requests gauge");
        for (k, n) in statuses {
            let _ = writeln!(s, "arbiter_change_requests{{status=\"{k}\"}} {n}");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.evaluation(0.0005);
        m.evaluation(0.03);
        let t = m.render(&[(ChangeStatus::PendingReview, 4)]);
        assert!(
            t.contains("arbiter_evaluation_seconds_bucket{le=\"0.001\"} 1\n"),
            "{t}"
        );
        assert!(
            t.contains("arbiter_evaluation_seconds_bucket{le=\"0.05\"} 2\n"),
            "{t}"
        );
        assert!(t.contains("arbiter_evaluation_seconds_count 2\n"));
        assert!(t.contains("arbiter_review_queue_depth 4\n"));
    }
}
