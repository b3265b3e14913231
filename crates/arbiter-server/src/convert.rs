//! The boundary between storage rows (`arbiter-store`) and wire types
//! (`arbiter-api`): the store keeps its own row types, the API its JSON
//! bodies, and these functions are the only place one becomes the other,
//! so a change to the JSON never reshapes what is stored.

use arbiter_api::{ChangeRequest, ChangeSource, Review};
use arbiter_store::changes::{ChangeRow, ReviewRow, SourceDoc};

/// A stored change request as the API shows it.
pub fn change_request(r: ChangeRow) -> ChangeRequest {
    ChangeRequest {
        id: r.id,
        stack: r.stack,
        submitter: r.submitter,
        status: r.status,
        decision: r.decision,
        confidence: r.confidence,
        priority: r.priority,
        cost_delta_usd: r.cost_delta_usd,
        resources_changed: r.resources_changed,
        reason: r.reason,
        auto_apply: r.auto_apply,
        intent: r.intent,
        source: r.source.map(source),
        reviews: r.reviews.into_iter().map(review).collect(),
        created_at: r.created_at,
        updated_at: r.updated_at,
        expires_at: r.expires_at,
        verdict: r.verdict,
    }
}

/// Stored change requests as the API shows them.
pub fn change_requests(rows: Vec<ChangeRow>) -> Vec<ChangeRequest> {
    rows.into_iter().map(change_request).collect()
}

/// A stored review as the API shows it.
pub fn review(r: ReviewRow) -> Review {
    Review {
        reviewer: r.reviewer,
        decision: r.decision,
        comment: r.comment,
        created_at: r.created_at,
    }
}

/// A stored source document as the API shows it.
pub fn source(d: SourceDoc) -> ChangeSource {
    ChangeSource {
        repository: d.repository,
        commit: d.commit,
        branch: d.branch,
        diff: d.diff,
    }
}

/// A submitted source as stored.
pub fn source_doc(s: ChangeSource) -> SourceDoc {
    SourceDoc {
        repository: s.repository,
        commit: s.commit,
        branch: s.branch,
        diff: s.diff,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_keeps_every_field_across_the_boundary_and_stores_the_same_json() {
        let s = ChangeSource {
            repository: Some("git@example:infra".into()),
            commit: Some("abc123".into()),
            branch: None,
            diff: Some("--- a\n+++ b\n".into()),
        };
        let d = source_doc(s.clone());
        assert_eq!(
            serde_json::to_string(&d).ok(),
            serde_json::to_string(&s).ok(),
            "the stored document is the JSON clients sent"
        );
        assert_eq!(source(d), s);
    }
}
