//! The review queue (`/`) and the list of all change requests (`/changes`).

use super::{page, principal, stack_link, time, Me, Nav, UiError, UiResult};
use crate::AppState;
use arbiter_api::{ChangeRequest, ChangeStatus, Environment, Role};
use arbiter_report::html::{self, Html};
use axum::extract::{Query, State};
use std::collections::HashMap;

/// Most change requests the queue shows.
const QUEUE_LIMIT: i64 = 500;
/// Change requests per page of `/changes`.
const PAGE: i64 = 50;

async fn environments(app: &AppState) -> Result<HashMap<String, Environment>, UiError> {
    Ok(arbiter_store::stacks::list(app.store.pool())
        .await?
        .into_iter()
        .map(|s| (s.doc.name, s.doc.environment))
        .collect())
}

fn cost_cell(h: &mut Html, c: Option<f64>) {
    match c {
        Some(v) => {
            h.raw("<td class=\"num ")
                .raw(if v > 0.005 {
                    "up"
                } else if v < -0.005 {
                    "down"
                } else {
                    "flat"
                })
                .raw("\">")
                .text(&html::format_money_delta(v))
                .raw("</td>");
        }
        None => {
            h.raw("<td class=\"num muted\" title=\"not priced\">—</td>");
        }
    }
}

fn confidence_cell(h: &mut Html, c: Option<f64>) {
    h.raw("<td class=\"num\">");
    match c {
        Some(v) => h.text(&html::format_confidence(v)),
        None => h.raw("<span class=\"muted\">—</span>"),
    };
    h.raw("</td>");
}

fn id_cell(h: &mut Html, cr: &ChangeRequest) {
    h.raw("<td class=\"main\"><a href=\"/changes/")
        .display(cr.id)
        .raw("\"><strong>#")
        .display(cr.id)
        .raw("</strong></a>");
    if let Some(i) = cr.intent.as_deref().filter(|i| !i.trim().is_empty()) {
        h.raw("<span class=\"intent\" title=\"")
            .text(i.trim())
            .raw("\">")
            .text(i.trim())
            .raw("</span>");
    }
    h.raw("</td>");
}

fn stack_cell(h: &mut Html, cr: &ChangeRequest, envs: &HashMap<String, Environment>) {
    h.raw("<td>");
    stack_link(h, &cr.stack);
    if let Some(e) = envs.get(&cr.stack) {
        h.raw(" ");
        super::env_badge(h, *e);
    }
    h.raw("</td>");
}

/// `GET /`: the change requests waiting for a person, highest priority first.
pub(crate) async fn queue(State(app): State<AppState>, me: Me) -> UiResult {
    me.principal.require(Role::Viewer)?;
    let now = arbiter_store::now_ms();
    let items = crate::convert::change_requests(
        arbiter_store::changes::queue(app.store.pool(), QUEUE_LIMIT).await?,
    );
    let counts = arbiter_store::changes::count_by_status(app.store.pool()).await?;
    let envs = environments(&app).await?;
    let count = |s: ChangeStatus| {
        counts
            .iter()
            .find(|(k, _)| *k == s)
            .map(|(_, n)| *n)
            .unwrap_or(0)
    };
    let mut h = Html::new();
    h.raw("<div class=\"page-head\"><div><h1>Review queue</h1><p class=\"sub\">Change requests the engine sent to a person, highest priority (risk × environment weight) first.</p></div></div>");
    h.raw("<div class=\"tiles\">");
    for (status, label, hot) in [
        (ChangeStatus::PendingReview, "waiting for review", true),
        (ChangeStatus::Approved, "approved", false),
        (ChangeStatus::Rejected, "rejected", false),
        (ChangeStatus::Expired, "expired", false),
        (ChangeStatus::Cancelled, "cancelled", false),
    ] {
        h.raw(if hot && count(status) > 0 {
            "<a class=\"tile hot\" href=\"/changes?status="
        } else {
            "<a class=\"tile\" href=\"/changes?status="
        })
        .raw(status.as_str())
        .raw("\"><span class=\"n\">")
        .display(count(status))
        .raw("</span><span class=\"l\">")
        .raw(label)
        .raw("</span></a>");
    }
    h.raw("</div><div class=\"card\">");
    if items.is_empty() {
        h.raw("<div class=\"empty\"><strong>Nothing waits for review.</strong>Changes the engine approves or rejects on its own never come here.</div>");
    } else {
        h.raw("<table class=\"grid list\" id=\"queue\"><thead><tr><th>Priority</th><th>Change</th><th>Stack</th><th>Submitter</th><th>Decision</th><th class=\"num\">Confidence</th><th class=\"num\">Cost / month</th><th class=\"num\">Resources</th><th>Age</th><th>Expires</th></tr></thead><tbody>\n");
        for cr in &items {
            let p = unit_interval(cr.priority);
            h.raw("<tr><td><span class=\"prio\"><svg class=\"bar\" viewBox=\"0 0 100 8\" preserveAspectRatio=\"none\" aria-hidden=\"true\"><rect class=\"track\" width=\"100\" height=\"8\" rx=\"1\"></rect><rect class=\"fill\" width=\"")
                .text(&format!("{:.1}", p * 100.0))
                .raw("\" height=\"8\" rx=\"1\"></rect></svg>")
                .text(&format!("{p:.2}"))
                .raw("</span></td>");
            id_cell(&mut h, cr);
            stack_cell(&mut h, cr, &envs);
            h.raw("<td>");
            principal(&mut h, &cr.submitter);
            h.raw("</td><td>")
                .markup(&html::decision_badge(cr.decision))
                .raw("</td>");
            confidence_cell(&mut h, cr.confidence);
            cost_cell(&mut h, cr.cost_delta_usd);
            h.raw("<td class=\"num\">")
                .display(cr.resources_changed)
                .raw("</td><td>");
            time(&mut h, &cr.created_at, now);
            h.raw("</td><td>");
            match &cr.expires_at {
                Some(e) => time(&mut h, e, now),
                None => {
                    h.raw("<span class=\"muted\">—</span>");
                }
            }
            h.raw("</td></tr>\n");
        }
        h.raw("</tbody></table>");
    }
    h.raw("</div>");
    Ok(page(&app, &me, Nav::Queue, "Review queue", &h.finish()).await)
}

/// Priority in [0, 1] for the bar (non-finite → 0).
fn unit_interval(p: f64) -> f64 {
    if p.is_finite() {
        p.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// Query of `/changes`.
#[derive(serde::Deserialize, Default)]
pub(crate) struct ListQuery {
    status: Option<String>,
    stack: Option<String>,
    before: Option<i64>,
}

/// `GET /changes`: every change request, newest first, by status.
pub(crate) async fn changes(
    State(app): State<AppState>,
    me: Me,
    Query(q): Query<ListQuery>,
) -> UiResult {
    me.principal.require(Role::Viewer)?;
    let status = q
        .status
        .as_deref()
        .and_then(|s| s.parse::<ChangeStatus>().ok());
    let now = arbiter_store::now_ms();
    let items = arbiter_store::changes::list(
        app.store.pool(),
        &arbiter_store::changes::Filter {
            status,
            stack: q.stack.clone(),
            submitter: None,
            before_id: q.before,
            limit: Some(PAGE),
        },
    )
    .await
    .map(crate::convert::change_requests)?;
    let envs = environments(&app).await?;
    let mut h = Html::new();
    h.raw("<div class=\"page-head\"><div><h1>Change requests</h1><p class=\"sub\">Everything submitted, newest first.</p></div></div><nav class=\"filters\" aria-label=\"status\">");
    let link = |h: &mut Html, s: Option<ChangeStatus>, label: &str| {
        h.raw("<a href=\"/changes");
        let mut sep = '?';
        if let Some(s) = s {
            h.raw("?status=").url_segment(s.as_str());
            sep = '&';
        }
        if let Some(st) = &q.stack {
            h.raw(if sep == '?' { "?stack=" } else { "&amp;stack=" })
                .url_segment(st);
        }
        h.raw("\"");
        if s == status {
            h.raw(" class=\"on\"");
        }
        h.raw(">").text(label).raw("</a>");
    };
    link(&mut h, None, "all");
    for s in [
        ChangeStatus::PendingReview,
        ChangeStatus::Approved,
        ChangeStatus::Rejected,
        ChangeStatus::Expired,
        ChangeStatus::Cancelled,
    ] {
        link(&mut h, Some(s), &s.as_str().replace('_', " "));
    }
    h.raw("</nav>");
    if let Some(st) = &q.stack {
        h.raw("<p class=\"muted\">Stack ");
        stack_link(&mut h, st);
        h.raw(" only · <a href=\"/changes\">all stacks</a></p>");
    }
    h.raw("<div class=\"card\">");
    if items.is_empty() {
        h.raw("<div class=\"empty\"><strong>No change requests here.</strong></div>");
    } else {
        h.raw("<table class=\"grid list\" id=\"changes\"><thead><tr><th>Change</th><th>Status</th><th>Stack</th><th>Submitter</th><th title=\"what the engine decided\">Engine</th><th class=\"num\">Confidence</th><th class=\"num\">Cost / month</th><th>Submitted</th></tr></thead><tbody>\n");
        for cr in &items {
            h.raw("<tr>");
            id_cell(&mut h, cr);
            h.raw("<td>")
                .markup(&super::change_status_badge(cr.status))
                .raw("</td>");
            stack_cell(&mut h, cr, &envs);
            h.raw("<td>");
            principal(&mut h, &cr.submitter);
            h.raw("</td><td>")
                .markup(&html::decision_badge(cr.decision))
                .raw("</td>");
            confidence_cell(&mut h, cr.confidence);
            cost_cell(&mut h, cr.cost_delta_usd);
            h.raw("<td>");
            time(&mut h, &cr.created_at, now);
            h.raw("</td></tr>\n");
        }
        h.raw("</tbody></table>");
    }
    h.raw("</div>");
    if items.len() as i64 == PAGE {
        if let Some(last) = items.last() {
            h.raw("<div class=\"pager\"><span></span><a href=\"/changes?before=")
                .display(last.id);
            if let Some(s) = status {
                h.raw("&amp;status=").url_segment(s.as_str());
            }
            if let Some(st) = &q.stack {
                h.raw("&amp;stack=").url_segment(st);
            }
            h.raw("\">Older →</a></div>");
        }
    }
    Ok(page(&app, &me, Nav::Changes, "Change requests", &h.finish()).await)
}
