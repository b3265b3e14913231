//! A change request (`/changes/{id}`) and its review form.

use super::{notice, page, principal, stack_link, time, Me, Nav, UiError, UiResult};
use crate::AppState;
use arbiter_api::{
    ChangeRequest, ChangeStatus, Decision, Environment, ReviewOutcome, ReviewRequest, Role, Stack,
};
use arbiter_report::html::{self, Html, Markup};
use arbiter_verdict::Verdict;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;

/// Audit entries shown beside a change request.
const TRAIL: i64 = 200;

fn parse_id(raw: &str) -> Result<i64, UiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| UiError::not_found(format!("there is no change request {raw:?}")))
}

/// Query of the page: what was just done (after a review).
#[derive(serde::Deserialize, Default)]
pub(crate) struct ShowQuery {
    done: Option<String>,
}

/// `GET /changes/{id}`.
pub(crate) async fn show(
    State(app): State<AppState>,
    me: Me,
    Path(raw): Path<String>,
    Query(q): Query<ShowQuery>,
) -> UiResult {
    let id = parse_id(&raw)?;
    let done = match q.done.as_deref() {
        Some("approve") => Some(("ok", "Your approval is recorded.".to_string())),
        Some("reject") => Some(("ok", "Your rejection is recorded.".to_string())),
        Some("rollback") => Some((
            "ok",
            "Rollback requested: this change request returns the stack to an earlier state, and is judged like any other."
                .to_string(),
        )),
        _ => None,
    };
    render(&app, &me, id, done, StatusCode::OK).await
}

/// Why this person gets no review form, or `None` when they may review.
/// Mirrors the API's rules; the API's handler decides in the end.
fn cannot_review(me: &Me, cr: &ChangeRequest) -> Option<String> {
    if cr.status != ChangeStatus::PendingReview {
        return Some(format!(
            "This change request is {}: it takes no more reviews.",
            cr.status.as_str().replace('_', " ")
        ));
    }
    if me.role < Role::Reviewer {
        return Some(format!(
            "You are a {}: you can read everything, but reviewing needs the reviewer role.",
            me.role.as_str()
        ));
    }
    if let Some(r) = cr.reviews.iter().find(|r| r.reviewer == me.id()) {
        return Some(format!("You reviewed it already ({}).", r.decision));
    }
    if me.csrf.is_none() {
        return Some(
            "This page was opened with an API token; sign in to the web UI to review.".into(),
        );
    }
    None
}

/// Approvals the stack's approval policy asks for, given the reviews so
/// far (`None` when the policy does not say, or cannot be evaluated).
async fn approvals_required(
    app: &AppState,
    cr: &ChangeRequest,
    stack: Option<&Stack>,
) -> Option<f64> {
    let stack = stack?;
    let policy = crate::lifecycle::approval_for(app, &stack.spec)
        .await
        .ok()?;
    let input = crate::review::policy_input(cr, &serde_json::to_value(&stack.spec).ok()?, None);
    crate::review::evaluate(policy, input)
        .await
        .ok()?
        .ok()?
        .required
}

fn review_card(h: &mut Html, me: &Me, cr: &ChangeRequest, required: Option<f64>) {
    h.raw("<section class=\"card\" id=\"review\"><h2>Review</h2>");
    if let Some(n) = required.filter(|n| n.is_finite() && *n >= 1.0) {
        let approvals = cr
            .reviews
            .iter()
            .filter(|r| r.decision == ReviewOutcome::Approve)
            .count();
        h.raw("<p class=\"muted\" id=\"approvals\">The approval policy asks for ")
            .text(&format!("{n:.0}"))
            .raw(if n == 1.0 { " approval" } else { " approvals" })
            .raw("; ")
            .display(approvals)
            .raw(" so far. Any rejection rejects.</p>");
    }
    match (cannot_review(me, cr), &me.csrf) {
        (None, Some(csrf)) => {
            let own = cr.submitter == me.id();
            h.raw("<form method=\"post\" class=\"review-form\" action=\"/changes/")
                .display(cr.id)
                .raw("/review\"><input type=\"hidden\" name=\"csrf\" value=\"")
                .text(csrf)
                .raw("\"><label for=\"comment\" class=\"muted\">Comment (optional)</label><textarea id=\"comment\" name=\"comment\" maxlength=\"10000\" placeholder=\"What you checked, or why not\"></textarea><div class=\"buttons\">");
            if !own {
                h.raw("<button class=\"btn btn-approve\" type=\"submit\" name=\"decision\" value=\"approve\">Approve</button>");
            }
            h.raw("<button class=\"btn btn-reject\" type=\"submit\" name=\"decision\" value=\"reject\">Reject</button></div></form>");
            if own {
                h.raw("<p class=\"muted\">You submitted this change request, so you cannot approve it; someone else must.</p>");
            }
        }
        (Some(why), _) => {
            h.raw("<p class=\"muted\" id=\"no-review\">")
                .text(&why)
                .raw("</p>");
        }
        (None, None) => {}
    }
    h.raw("<h3>Reviews <span class=\"count\">")
        .display(cr.reviews.len())
        .raw("</span></h3>");
    if cr.reviews.is_empty() {
        h.raw("<p class=\"muted\">None yet.</p>");
    } else {
        let now = arbiter_store::now_ms();
        h.raw("<ul class=\"reviews\">");
        for r in &cr.reviews {
            h.raw("<li>")
                .markup(&html::decision_badge(Some(match r.decision {
                    ReviewOutcome::Approve => Decision::Approve,
                    ReviewOutcome::Reject => Decision::Reject,
                })))
                .raw(" ");
            principal(h, &r.reviewer);
            h.raw(" <span class=\"muted\">");
            time(h, &r.created_at, now);
            h.raw("</span>");
            if let Some(c) = r.comment.as_deref().filter(|c| !c.trim().is_empty()) {
                h.raw("<p class=\"comment\">").block(c.trim()).raw("</p>");
            }
            h.raw("</li>");
        }
        h.raw("</ul>");
    }
    h.raw("</section>");
}

fn details_card(h: &mut Html, cr: &ChangeRequest, env: Option<Environment>, now: i64) {
    h.raw("<section class=\"card\"><h2>Details</h2><dl class=\"meta\"><dt>Stack</dt><dd>");
    stack_link(h, &cr.stack);
    if let Some(e) = env {
        h.raw(" ");
        super::env_badge(h, e);
    }
    h.raw("</dd><dt>Submitter</dt><dd>");
    principal(h, &cr.submitter);
    h.raw("</dd><dt>Submitted</dt><dd>");
    time(h, &cr.created_at, now);
    h.raw("</dd><dt>Updated</dt><dd>");
    time(h, &cr.updated_at, now);
    h.raw("</dd>");
    if let Some(e) = cr
        .expires_at
        .as_ref()
        .filter(|_| cr.status == ChangeStatus::PendingReview)
    {
        h.raw("<dt>Review expires</dt><dd>");
        time(h, e, now);
        h.raw("</dd>");
    }
    h.raw("<dt>Engine decision</dt><dd>")
        .markup(&html::decision_badge(cr.decision))
        .raw("</dd><dt>Confidence</dt><dd>");
    match cr.confidence {
        Some(c) => h.text(&html::format_confidence(c)),
        None => h.raw("—"),
    };
    h.raw("</dd><dt>Priority</dt><dd>")
        .text(&format!("{:.2}", cr.priority))
        .raw("</dd><dt>Resources</dt><dd>")
        .display(cr.resources_changed)
        .raw(" changed</dd><dt>Cost</dt><dd>");
    match cr.cost_delta_usd {
        Some(c) => h.text(&html::format_money_delta(c)).raw(" / month"),
        None => h.raw("not priced"),
    };
    h.raw("</dd><dt>Auto-apply</dt><dd>")
        .raw(if cr.auto_apply { "yes" } else { "no" })
        .raw("</dd>");
    if let Some(s) = &cr.source {
        if let Some(r) = &s.repository {
            h.raw("<dt>Repository</dt><dd><code>")
                .text(r)
                .raw("</code></dd>");
        }
        if let Some(b) = &s.branch {
            h.raw("<dt>Branch</dt><dd><code>")
                .text(b)
                .raw("</code></dd>");
        }
        if let Some(c) = &s.commit {
            h.raw("<dt>Commit</dt><dd><code>")
                .text(c)
                .raw("</code></dd>");
        }
    }
    h.raw("</dl></section>");
}

async fn trail_card(h: &mut Html, app: &AppState, id: i64, now: i64) -> Result<(), UiError> {
    let subject = format!("change_request:{id}");
    let mut items = arbiter_store::audit::by_subject(app.store.pool(), &subject, TRAIL).await?;
    items.reverse();
    h.raw("<section class=\"card\" id=\"trail\"><h2>Audit trail</h2><ul class=\"trail\">");
    for e in &items {
        let at = super::audit_time(e.entry.time);
        h.raw("<li><span class=\"action\">")
            .text(&e.entry.action)
            .raw("</span> by ");
        principal(h, &e.entry.actor);
        h.raw(" <span class=\"muted\">");
        time(h, &at, now);
        h.raw(" · <a href=\"/audit?subject=")
            .url_segment(&subject)
            .raw("#seq-")
            .display(e.entry.seq)
            .raw("\">#")
            .display(e.entry.seq)
            .raw("</a></span></li>");
    }
    h.raw("</ul></section>");
    Ok(())
}

/// The page, with a notice on top (the outcome of a review) and a status.
async fn render(
    app: &AppState,
    me: &Me,
    id: i64,
    top: Option<(&'static str, String)>,
    status: StatusCode,
) -> UiResult {
    me.principal.require(Role::Viewer)?;
    let cr = arbiter_store::changes::get(app.store.pool(), id, false)
        .await?
        .map(crate::convert::change_request)
        .ok_or_else(|| UiError::not_found(format!("there is no change request {id}")))?;
    let stack = arbiter_store::stacks::get(app.store.pool(), &cr.stack)
        .await?
        .map(crate::convert::stack);
    let env = stack.as_ref().map(|s| s.spec.environment);
    let required = if cr.status == ChangeStatus::PendingReview {
        approvals_required(app, &cr, stack.as_ref()).await
    } else {
        None
    };
    let now = arbiter_store::now_ms();
    // The verdict is parsed straight from its stored text and rendered off
    // the async threads: for a plan of thousands of changes both take a
    // while.
    let verdict: Option<Result<(Markup, String), String>> =
        match arbiter_store::changes::verdict_text(app.store.pool(), id).await? {
            Some(text) => Some(
                tokio::task::spawn_blocking(move || {
                    serde_json::from_str::<Verdict>(&text)
                        .map(|v| (html::verdict(&v), v.explanation.trim().to_string()))
                        .map_err(|e| e.to_string())
                })
                .await
                .map_err(crate::error::ApiError::internal)?,
            ),
            None => None,
        };

    let mut h = Html::new();
    h.raw("<div class=\"crumbs\"><a href=\"/\">Review queue</a> / <a href=\"/changes\">Changes</a> / #")
        .display(id)
        .raw("</div><div class=\"page-head\"><div><h1>Change request #")
        .display(id)
        .raw(" ")
        .markup(&super::change_status_badge(cr.status))
        .raw("</h1><p class=\"sub\">");
    stack_link(&mut h, &cr.stack);
    h.raw(" · by ");
    principal(&mut h, &cr.submitter);
    h.raw(" · ");
    time(&mut h, &cr.created_at, now);
    h.raw("</p></div></div>");
    if let Some((kind, text)) = &top {
        notice(&mut h, kind, text);
    }
    h.raw("<div class=\"layout\"><div>");
    if let Some(i) = cr.intent.as_deref().filter(|i| !i.trim().is_empty()) {
        h.raw("<section class=\"card\"><h2>Intent</h2><p class=\"explanation\">")
            .block(i.trim())
            .raw("</p></section>");
    }
    let explanation = match &verdict {
        Some(Ok((_, e))) => e.as_str(),
        _ => "",
    };
    // The reason of an engine rejection is its explanation, shown below.
    if let Some(r) = cr
        .reason
        .as_deref()
        .filter(|r| !r.trim().is_empty() && r.trim() != explanation)
    {
        h.raw("<div class=\"notice notice-info\"><strong>Why it is ")
            .text(&cr.status.as_str().replace('_', " "))
            .raw(":</strong> ")
            .text(r.trim())
            .raw("</div>");
    }
    if let Some(r) = arbiter_store::states::rollback(app.store.pool(), id)
        .await?
        .map(crate::convert::rollback)
    {
        h.raw("<section class=\"card\" id=\"rollback\"><h2>Rollback</h2><p>Returns ");
        stack_link(&mut h, &r.stack);
        h.raw(" from state <a href=\"/stacks/")
            .url_segment(&r.stack)
            .raw("/states/diff?from=")
            .display(r.to_version)
            .raw("&amp;to=")
            .display(r.from_version)
            .raw("\">v")
            .display(r.from_version)
            .raw(" to v")
            .display(r.to_version)
            .raw("</a>");
        if let Some(c) = &r.commit {
            h.raw(" (commit <code>").text(c).raw("</code>)");
        }
        h.raw(", asked by ");
        principal(&mut h, &r.requested_by);
        h.raw(".</p><ul class=\"plain\">");
        for res in &r.resources {
            h.raw("<li><code>")
                .text(&res.address)
                .raw("</code> <span class=\"muted\">")
                .text(&res.action)
                .raw("</span></li>");
        }
        h.raw("</ul></section>");
    }
    match &verdict {
        Some(Ok((markup, _))) => {
            h.markup(markup);
        }
        Some(Err(e)) => {
            notice(
                &mut h,
                "bad",
                &format!("The stored verdict could not be read: {e}"),
            );
        }
        None => notice(&mut h, "info", "This change request has no evaluation."),
    }
    if let Some(diff) = cr
        .source
        .as_ref()
        .and_then(|s| s.diff.as_deref())
        .filter(|d| !d.trim().is_empty())
    {
        h.raw("<section class=\"card\"><details><summary><strong>Source diff</strong></summary><pre class=\"source\">")
            .block(diff)
            .raw("</pre></details></section>");
    }
    h.raw("</div><aside>");
    review_card(&mut h, me, &cr, required);
    super::runs::card(&mut h, app, id, now).await?;
    details_card(&mut h, &cr, env, now);
    trail_card(&mut h, app, id, now).await?;
    h.raw("</aside></div>");
    let title = format!("#{id} {}", cr.stack);
    let mut r = page(app, me, Nav::Queue, &title, &h.finish()).await;
    *r.status_mut() = status;
    Ok(r)
}

/// The review form.
#[derive(serde::Deserialize)]
struct ReviewForm {
    csrf: String,
    decision: String,
    #[serde(default)]
    comment: String,
}

/// `POST /changes/{id}/review`: records the review through the API's own
/// handler (same roles, same rules, same audit entries), then shows the
/// change request again.
pub(crate) async fn review(
    State(app): State<AppState>,
    headers: HeaderMap,
    me: Me,
    Path(raw): Path<String>,
    body: Bytes,
) -> UiResult {
    let f: ReviewForm = super::form(&body)?;
    super::check_form(&headers, &me, &f.csrf)?;
    let id = parse_id(&raw)?;
    let decision: ReviewOutcome = f.decision.parse().map_err(|_| {
        UiError::new(
            StatusCode::BAD_REQUEST,
            format!("a review is approve or reject, not {:?}", f.decision),
        )
    })?;
    let comment = f.comment.trim();
    let req = ReviewRequest {
        comment: (!comment.is_empty()).then(|| comment.to_string()),
    };
    let json = serde_json::to_vec(&req).map_err(crate::error::ApiError::internal)?;
    match crate::routes::changes::review(
        app.clone(),
        me.principal.clone(),
        id,
        Bytes::from(json),
        decision,
    )
    .await
    {
        Ok(_) => Ok(super::see_other(&format!("/changes/{id}?done={decision}"))),
        Err(e) if e.status() == StatusCode::NOT_FOUND => Err(e.into()),
        Err(e) => {
            let status = e.status();
            match render(
                &app,
                &me,
                id,
                Some(("bad", format!("Not recorded: {}", e.message))),
                status,
            )
            .await
            {
                Ok(r) => Ok(r),
                Err(_) => Ok(UiError::new(status, e.message).into_response()),
            }
        }
    }
}
