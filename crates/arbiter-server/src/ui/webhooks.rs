//! Webhook subscriptions and their delivery log (`/webhooks`,
//! `/webhooks/{id}`), read through the API's own handlers (so a non-admin
//! sees only a receiver's origin, and nobody sees a secret), and the admin's
//! "send a test event" form.

use super::{notice, page, principal, time, Me, Nav, UiError, UiResult};
use crate::AppState;
use arbiter_api::{Delivery, DeliveryStatus, Page as ApiPage, Role, Webhook, DELIVERY_STATUSES};
use arbiter_report::html::Html;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};

fn status_badge(h: &mut Html, status: DeliveryStatus) {
    let class = match status {
        DeliveryStatus::Delivered => "badge status-good",
        DeliveryStatus::Pending => "badge status-wait",
        DeliveryStatus::Failed => "badge status-bad",
        DeliveryStatus::Cancelled => "badge status-neutral",
    };
    h.raw("<span class=\"")
        .raw(class)
        .raw("\">")
        .raw(status.as_str())
        .raw("</span>");
}

fn events(h: &mut Html, w: &Webhook) {
    if w.events.is_empty() {
        h.raw("<span class=\"muted\">every event</span>");
    }
    for (i, e) in w.events.iter().enumerate() {
        if i > 0 {
            h.raw(" ");
        }
        h.raw("<code>").text(e).raw("</code>");
    }
}

fn counts(h: &mut Html, w: &Webhook) {
    match &w.deliveries {
        Some(c) => {
            h.raw("<span class=\"ok\">")
                .display(c.delivered)
                .raw("</span> delivered · <span class=\"pending\">")
                .display(c.pending)
                .raw("</span> pending · <span class=\"bad\">")
                .display(c.failed)
                .raw("</span> failed");
            if c.cancelled > 0 {
                h.raw(" · ").display(c.cancelled).raw(" cancelled");
            }
        }
        None => {
            h.raw("<span class=\"muted\">—</span>");
        }
    }
}

/// `GET /webhooks`.
pub(crate) async fn list(State(app): State<AppState>, me: Me) -> UiResult {
    let Json(ApiPage { items }) =
        crate::routes::webhooks::list(State(app.clone()), Extension(me.principal.clone())).await?;
    let now = arbiter_store::now_ms();
    let mut h = Html::new();
    h.raw("<div class=\"page-head\"><div><h1>Webhooks</h1><p class=\"sub\">Subscriptions that receive events signed with HMAC-SHA256, retried with backoff until delivered.</p></div></div><div class=\"card\">");
    if items.is_empty() {
        h.raw("<div class=\"empty\"><strong>No webhooks yet.</strong>An admin subscribes a receiver with <code>arbiter webhook create URL --event change_request.pending_review</code>.</div>");
    } else {
        h.raw("<table class=\"grid list\" id=\"webhooks\"><thead><tr><th>Webhook</th><th>Receiver</th><th>Events</th><th>Format</th><th>Deliveries</th><th>Created</th></tr></thead><tbody>\n");
        for w in &items {
            h.raw("<tr><td class=\"main\"><a href=\"/webhooks/")
                .display(w.id)
                .raw("\"><strong>#")
                .display(w.id)
                .raw("</strong></a>");
            if let Some(d) = w.description.as_deref().filter(|d| !d.trim().is_empty()) {
                h.raw("<span class=\"intent\">")
                    .text(d.trim())
                    .raw("</span>");
            }
            h.raw("</td><td><code>")
                .text(&w.url)
                .raw("</code></td><td>");
            events(&mut h, w);
            h.raw("</td><td>").text(w.format.as_str()).raw("</td><td>");
            if w.deliveries.is_some() {
                counts(&mut h, w);
            } else {
                h.raw("<a href=\"/webhooks/")
                    .display(w.id)
                    .raw("\">delivery log</a>");
            }
            h.raw("</td><td>");
            time(&mut h, &w.created_at, now);
            h.raw("</td></tr>\n");
        }
        h.raw("</tbody></table>");
    }
    h.raw("</div>");
    Ok(page(&app, &me, Nav::Webhooks, "Webhooks", &h.finish()).await)
}

/// Query of a webhook's page.
#[derive(serde::Deserialize, Default)]
pub(crate) struct ShowQuery {
    status: Option<String>,
    done: Option<String>,
}

/// `GET /webhooks/{id}`: the subscription and its delivery log.
pub(crate) async fn show(
    State(app): State<AppState>,
    me: Me,
    Path(id): Path<String>,
    Query(q): Query<ShowQuery>,
) -> UiResult {
    let Json(w) = crate::routes::webhooks::show(
        State(app.clone()),
        Extension(me.principal.clone()),
        Path(id.clone()),
    )
    .await?;
    let status = q
        .status
        .as_deref()
        .and_then(|s| s.parse::<DeliveryStatus>().ok());
    let mut qs = String::from("limit=200");
    if let Some(s) = status {
        qs.push_str("&status=");
        qs.push_str(s.as_str());
    }
    let query = serde_urlencoded::from_str(&qs)
        .map_err(|e| UiError::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    let Json(ApiPage { items }): Json<ApiPage<Delivery>> = crate::routes::webhooks::deliveries(
        State(app.clone()),
        Extension(me.principal.clone()),
        Path(id.clone()),
        Query(query),
    )
    .await?;
    let now = arbiter_store::now_ms();
    let mut h = Html::new();
    h.raw("<div class=\"crumbs\"><a href=\"/webhooks\">Webhooks</a> / #")
        .display(w.id)
        .raw("</div><div class=\"page-head\"><div><h1>Webhook #")
        .display(w.id)
        .raw("</h1><p class=\"sub\"><code>")
        .text(&w.url)
        .raw("</code> · ")
        .text(w.format.as_str())
        .raw(" · created by ");
    principal(&mut h, &w.created_by);
    h.raw(" ");
    time(&mut h, &w.created_at, now);
    h.raw("</p></div></div>");
    if q.done.as_deref() == Some("test") {
        notice(
            &mut h,
            "ok",
            "A test event (webhook.ping) is queued for this receiver; its delivery appears below.",
        );
    }
    h.raw("<section class=\"card\"><h2>Subscription</h2><dl class=\"meta\"><dt>Receiver</dt><dd><code>")
        .text(&w.url)
        .raw("</code></dd><dt>Events</dt><dd>");
    events(&mut h, &w);
    h.raw("</dd><dt>Format</dt><dd>")
        .text(w.format.as_str())
        .raw("</dd><dt>Deliveries</dt><dd>");
    counts(&mut h, &w);
    h.raw("</dd>");
    if let Some(d) = w.description.as_deref().filter(|d| !d.trim().is_empty()) {
        h.raw("<dt>Description</dt><dd>")
            .text(d.trim())
            .raw("</dd>");
    }
    h.raw("</dl>");
    if let (Role::Admin, Some(csrf)) = (me.role, &me.csrf) {
        h.raw("<form method=\"post\" action=\"/webhooks/")
            .display(w.id)
            .raw("/test\"><input type=\"hidden\" name=\"csrf\" value=\"")
            .text(csrf)
            .raw("\"><p></p><button class=\"btn btn-primary narrow\" type=\"submit\">Send a test event</button></form>");
    }
    h.raw("</section>");
    h.raw("<nav class=\"filters\" aria-label=\"status\">");
    for s in std::iter::once(None).chain(DELIVERY_STATUSES.map(Some)) {
        h.raw("<a href=\"/webhooks/").display(w.id);
        if let Some(s) = s {
            h.raw("?status=").url_segment(s.as_str());
        }
        h.raw("\"");
        if s == status {
            h.raw(" class=\"on\"");
        }
        h.raw(">")
            .text(s.map_or("all", DeliveryStatus::as_str))
            .raw("</a>");
    }
    h.raw("</nav><section class=\"card\" id=\"deliveries\"><h2>Deliveries <span class=\"count\">")
        .display(items.len())
        .raw("</span></h2>");
    if items.is_empty() {
        h.raw("<p class=\"muted\">None yet.</p>");
    } else {
        h.raw("<table class=\"grid list\"><thead><tr><th>Event</th><th>Status</th><th class=\"num\">Attempts</th><th class=\"num\">HTTP</th><th>Last error</th><th>Next attempt</th><th>Updated</th></tr></thead><tbody>\n");
        for d in &items {
            h.raw("<tr><td class=\"nowrap\"><a href=\"/audit?before=")
                .display(d.event_seq + 1)
                .raw("#seq-")
                .display(d.event_seq)
                .raw("\">#")
                .display(d.event_seq)
                .raw("</a> <code>")
                .text(&d.event_type)
                .raw("</code></td><td>");
            status_badge(&mut h, d.status);
            h.raw("</td><td class=\"num\">");
            if d.attempt_log.is_empty() {
                h.display(d.attempts);
            } else {
                h.raw("<details class=\"payload\"><summary>")
                    .display(d.attempts)
                    .raw("</summary><ul class=\"plain\">");
                for a in &d.attempt_log {
                    h.raw("<li>#").display(a.attempt).raw(" ");
                    time(&mut h, &a.started_at, now);
                    h.raw(" · ")
                        .text(&format!("{:.0} ms", a.duration_ms))
                        .raw(" · ");
                    match a.http_status {
                        Some(s) => h.raw("HTTP ").display(s),
                        None => h.raw("no answer"),
                    };
                    if let Some(e) = &a.error {
                        h.raw(" · ").text(e);
                    }
                    h.raw(" <span class=\"muted\">by ")
                        .text(&a.replica)
                        .raw("</span></li>");
                }
                h.raw("</ul></details>");
            }
            h.raw("</td><td class=\"num\">");
            match d.last_http_status {
                Some(s) => h.display(s),
                None => h.raw("—"),
            };
            h.raw("</td><td class=\"error\">")
                .text(d.last_error.as_deref().unwrap_or(""))
                .raw("</td><td>");
            match &d.next_attempt_at {
                Some(t) if d.status == DeliveryStatus::Pending => time(&mut h, t, now),
                _ => {
                    h.raw("<span class=\"muted\">—</span>");
                }
            }
            h.raw("</td><td>");
            time(&mut h, &d.updated_at, now);
            h.raw("</td></tr>\n");
        }
        h.raw("</tbody></table>");
    }
    h.raw("</section>");
    let title = format!("Webhook #{}", w.id);
    Ok(page(&app, &me, Nav::Webhooks, &title, &h.finish()).await)
}

/// The test form.
#[derive(serde::Deserialize)]
struct TestForm {
    csrf: String,
}

/// `POST /webhooks/{id}/test` (admin, through the API's handler).
pub(crate) async fn test(
    State(app): State<AppState>,
    headers: HeaderMap,
    me: Me,
    Path(id): Path<String>,
    body: Bytes,
) -> UiResult {
    let f: TestForm = super::form(&body)?;
    super::check_form(&headers, &me, &f.csrf)?;
    // The answer names the queued delivery; the page lists it.
    let _queued = crate::routes::webhooks::test(
        State(app.clone()),
        Extension(me.principal.clone()),
        Path(id.clone()),
    )
    .await?;
    Ok(super::see_other(&format!("/webhooks/{id}?done=test")))
}
