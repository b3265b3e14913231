//! Reviews decided by the stack's approval policy, without holding the
//! writer or the async threads while the policy runs.
//!
//! The policy (user Rego, as slow as its author made it) is compiled and
//! evaluated on the blocking pool over a snapshot of the change request;
//! the writer then commits the review and its outcome only if what the
//! evaluation read is unchanged (the change request still pending, the same
//! set of reviews). If another review or a status change came in between,
//! the evaluation is stale: it is done again over the new snapshot, a
//! bounded number of times.

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::AppState;
use arbiter_api::{ChangeRequest, ChangeStatus, Review, ReviewOutcome, ReviewRequest, Role};
use arbiter_policy::ApprovalOutcome;

/// Evaluations of one review before giving up on a change request that
/// keeps changing under it.
const MAX_ATTEMPTS: usize = 5;

/// Longest review comment accepted.
const MAX_COMMENT: usize = 10_000;

/// Why a review was not recorded.
enum Refused {
    NotPending(ChangeStatus),
    Expired,
    OwnRequest,
    /// The reviews or status changed since the evaluation read them.
    Stale,
}

/// What an evaluation read of the reviews: who decided what.
fn seen(reviews: &[Review]) -> Vec<(String, ReviewOutcome)> {
    let mut v: Vec<(String, ReviewOutcome)> = reviews
        .iter()
        .map(|r| (r.reviewer.clone(), r.decision))
        .collect();
    v.sort();
    v
}

fn is_expired(cr: &ChangeRequest, now_ms: i64) -> bool {
    cr.expires_at.is_some_and(|e| e.unix_ms() <= now_ms)
}

/// The approval policy's input for a change request with its reviews so
/// far plus `extra` (the review being made, with the reviewer's role).
pub fn policy_input(
    cr: &ChangeRequest,
    stack: &serde_json::Value,
    extra: Option<serde_json::Value>,
) -> serde_json::Value {
    let mut reviews: Vec<serde_json::Value> = cr
        .reviews
        .iter()
        .map(|r| serde_json::json!({"reviewer": r.reviewer, "decision": r.decision, "comment": r.comment}))
        .collect();
    reviews.extend(extra);
    serde_json::json!({
        "change_request": {"id": cr.id, "stack": cr.stack, "submitter": cr.submitter, "decision": cr.decision,
            "confidence": cr.confidence, "priority": cr.priority, "cost_delta_usd": cr.cost_delta_usd,
            "resources_changed": cr.resources_changed},
        "stack": stack,
        "reviews": reviews,
    })
}

/// Evaluates an approval policy on the blocking pool.
pub async fn evaluate(
    policy: std::sync::Arc<arbiter_policy::ApprovalPolicy>,
    input: serde_json::Value,
) -> ApiResult<Result<ApprovalOutcome, String>> {
    tokio::task::spawn_blocking(move || policy.evaluate(&input).map_err(|e| e.to_string()))
        .await
        .map_err(ApiError::internal)
}

async fn fetch(app: &AppState, id: i64) -> ApiResult<ChangeRequest> {
    arbiter_store::changes::get(app.store.pool(), id, false)
        .await?
        .map(crate::convert::change_request)
        .ok_or_else(|| ApiError::not_found(format!("change request {id} not found")))
}

/// Records a review and lets the stack's approval policy decide. The policy
/// runs outside the writer over a snapshot; the writer commits only if the
/// snapshot still holds (no lost updates between concurrent reviewers or
/// replicas), else the policy is evaluated again.
pub async fn review(
    app: &AppState,
    p: &Principal,
    id: i64,
    body: &[u8],
    decision: ReviewOutcome,
) -> ApiResult<ChangeRequest> {
    p.require(Role::Reviewer)?;
    let req: ReviewRequest = if body.is_empty() {
        ReviewRequest::default()
    } else {
        crate::routes::parse_json(body)?
    };
    if req.comment.as_ref().is_some_and(|c| c.len() > MAX_COMMENT) {
        return Err(ApiError::invalid(format!(
            "comment is longer than {MAX_COMMENT} bytes"
        )));
    }
    let reviewer = p.id();
    let role = p.role().map(|r| r.as_str()).unwrap_or("none");
    for _ in 0..MAX_ATTEMPTS {
        let current = fetch(app, id).await?;
        let stack = arbiter_store::stacks::get(app.store.pool(), &current.stack)
            .await?
            .map(crate::convert::stack)
            .ok_or_else(|| {
                ApiError::conflict(format!(
                    "stack {:?} of change request {id} no longer exists",
                    current.stack
                ))
            })?;
        if current.status != ChangeStatus::PendingReview {
            return Err(not_pending(id, current.status));
        }
        if decision == ReviewOutcome::Approve && current.submitter == reviewer {
            return Err(own_request(&reviewer, id));
        }
        if current.reviews.iter().any(|r| r.reviewer == reviewer) {
            return Err(ApiError::conflict(format!(
                "{reviewer} has reviewed change request {id} already"
            )));
        }
        // `None`: the snapshot is past its review window; the writer
        // records the expiry.
        let out = if is_expired(&current, arbiter_store::now_ms()) {
            None
        } else {
            let policy = crate::lifecycle::approval_for(app, &stack.spec).await?;
            let stack_json = serde_json::to_value(&stack.spec).map_err(ApiError::internal)?;
            let input = policy_input(
                &current,
                &stack_json,
                Some(
                    serde_json::json!({"reviewer": reviewer, "role": role, "decision": decision, "comment": req.comment}),
                ),
            );
            match evaluate(policy, input).await? {
                Ok(o) => Some(o),
                Err(e) => {
                    return Err(ApiError::conflict(format!(
                        "the approval policy failed, nothing was recorded: {e}"
                    )))
                }
            }
        };
        let snapshot = seen(&current.reviews);
        let result = commit(
            app,
            id,
            &reviewer,
            decision,
            &req,
            out,
            snapshot,
            stack.spec.clone(),
        )
        .await?;
        match result {
            Ok(()) => {
                app.runs.queued.notify_waiters();
                return fetch_with_verdict(app, id).await;
            }
            Err(Refused::Stale) => continue,
            Err(Refused::NotPending(s)) => return Err(not_pending(id, s)),
            Err(Refused::Expired) => {
                return Err(ApiError::conflict(format!(
                    "change request {id} expired before this review"
                )))
            }
            Err(Refused::OwnRequest) => return Err(own_request(&reviewer, id)),
        }
    }
    Err(ApiError::conflict(format!(
        "change request {id} changed while its approval policy was evaluated ({MAX_ATTEMPTS} times); nothing was recorded, retry"
    )))
}

fn not_pending(id: i64, status: ChangeStatus) -> ApiError {
    ApiError::conflict(format!(
        "change request {id} is {status}, not pending review"
    ))
}

fn own_request(reviewer: &str, id: i64) -> ApiError {
    ApiError::forbidden(format!(
        "{reviewer} submitted change request {id} and cannot approve it"
    ))
}

async fn fetch_with_verdict(app: &AppState, id: i64) -> ApiResult<ChangeRequest> {
    arbiter_store::changes::get(app.store.pool(), id, true)
        .await?
        .map(crate::convert::change_request)
        .ok_or_else(|| ApiError::not_found(format!("change request {id} not found")))
}

/// The writer's part: re-checks the snapshot under the row lock, then
/// records the review and moves the change request as the (already
/// evaluated) policy said. `out` is `None` when the snapshot was past its
/// review window (the expiry is recorded here).
#[allow(clippy::too_many_arguments)]
async fn commit(
    app: &AppState,
    id: i64,
    reviewer: &str,
    decision: ReviewOutcome,
    req: &ReviewRequest,
    out: Option<ApprovalOutcome>,
    seen_reviews: Vec<(String, ReviewOutcome)>,
    spec: arbiter_api::StackSpec,
) -> ApiResult<Result<(), Refused>> {
    let reviewer = reviewer.to_string();
    let comment = req.comment.clone();
    Ok(app
        .store
        .write(move |cx| {
            Box::pin(async move {
                let cr = crate::convert::change_request(
                    arbiter_store::changes::get_for_update(cx, id).await?,
                );
                if cr.status != ChangeStatus::PendingReview {
                    return Ok(Err(Refused::NotPending(cr.status)));
                }
                if is_expired(&cr, cx.now_ms()) {
                    arbiter_store::changes::transition(
                        cx,
                        id,
                        ChangeStatus::PendingReview,
                        ChangeStatus::Expired,
                        Some("the review window passed without a decision"),
                        "system",
                    )
                    .await?;
                    return Ok(Err(Refused::Expired));
                }
                if decision == ReviewOutcome::Approve && cr.submitter == reviewer {
                    return Ok(Err(Refused::OwnRequest));
                }
                // What the policy read changed (or the snapshot's clock
                // ran ahead of this one): evaluate again.
                let Some(out) = out else {
                    return Ok(Err(Refused::Stale));
                };
                if seen(&cr.reviews) != seen_reviews {
                    return Ok(Err(Refused::Stale));
                }
                arbiter_store::changes::add_review(cx, id, &reviewer, decision, comment.as_deref())
                    .await?;
                if out.reject {
                    arbiter_store::changes::transition(
                        cx,
                        id,
                        ChangeStatus::PendingReview,
                        ChangeStatus::Rejected,
                        Some("rejected by review"),
                        "system",
                    )
                    .await?;
                } else if out.approve {
                    arbiter_store::changes::transition(
                        cx,
                        id,
                        ChangeStatus::PendingReview,
                        ChangeStatus::Approved,
                        Some("approved by review"),
                        "system",
                    )
                    .await?;
                    if spec.auto_apply {
                        arbiter_store::changes::set_auto_apply(cx, id, true).await?;
                    }
                    // Approved by people: a configuration it carries is
                    // applied by a run (confirmed by a person unless the
                    // stack and the submitter's scope both allow auto-apply).
                    crate::runs::queue_in(cx, id, &spec, "system").await?;
                }
                Ok(Ok(()))
            })
        })
        .await?)
}
