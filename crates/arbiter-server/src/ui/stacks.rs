//! Stacks (`/stacks`, `/stacks/{name}`).

use super::{change_table, env_badge, page, stack_link, time, Beside, Me, Nav, UiError, UiResult};
use crate::AppState;
use arbiter_api::{Role, Stack};
use arbiter_report::html::{self, Html};
use axum::extract::{Path, Query, State};
use std::collections::HashMap;

fn labels(h: &mut Html, labels: &[String]) {
    if labels.is_empty() {
        h.raw("<span class=\"muted\">—</span>");
    }
    for l in labels {
        h.raw("<span class=\"label\">").text(l).raw("</span>");
    }
}

fn budget(h: &mut Html, s: &Stack) {
    match s.spec.monthly_budget_usd {
        Some(b) => h.text(&html::format_money(b)),
        None => h.raw("<span class=\"muted\">none</span>"),
    };
}

fn threshold(s: &Stack) -> String {
    match s.spec.auto_apply_threshold {
        Some(t) => format!("{t}"),
        None => "95 (default)".into(),
    }
}

/// The floor for introduced weaknesses in force: the stack's own setting,
/// or the environment's default (said so).
fn floor(h: &mut Html, s: &Stack) {
    let f = crate::lifecycle::stack_config(&s.spec).introduced_floor();
    let text = match f.severity() {
        Some(_) => format!("{} or worse", f.as_str()),
        None => "off".into(),
    };
    h.text(&text);
    if s.spec.escalate_introduced_at.is_none() {
        h.raw(" <span class=\"muted\">(")
            .text(s.spec.environment.as_str())
            .raw(" default)</span>");
    }
}

/// `GET /stacks`.
pub(crate) async fn list(State(app): State<AppState>, me: Me) -> UiResult {
    me.principal.require(Role::Viewer)?;
    let stacks = crate::convert::stacks(arbiter_store::stacks::list(app.store.pool()).await?);
    let pending = crate::convert::change_requests(
        arbiter_store::changes::queue(app.store.pool(), 1000).await?,
    );
    let mut waiting: HashMap<&str, usize> = HashMap::new();
    for cr in &pending {
        *waiting.entry(cr.stack.as_str()).or_default() += 1;
    }
    let now = arbiter_store::now_ms();
    let mut h = Html::new();
    h.raw("<div class=\"page-head\"><div><h1>Stacks</h1><p class=\"sub\">Units of infrastructure and the context their changes are judged in.</p></div></div><div class=\"card\">");
    if stacks.is_empty() {
        h.raw("<div class=\"empty\"><strong>No stacks yet.</strong>An admin creates them with <code>arbiter stack create NAME -e prod</code>.</div>");
    } else {
        h.raw("<table class=\"grid list\" id=\"stacks\"><thead><tr><th>Stack</th><th>Environment</th><th>Labels</th><th class=\"num\">Budget / month</th><th class=\"num\">Threshold</th><th>Auto-apply</th><th>Policy sets</th><th class=\"num\">Waiting</th><th>Updated</th></tr></thead><tbody>\n");
        for s in &stacks {
            h.raw("<tr><td class=\"main\"><strong>");
            stack_link(&mut h, &s.spec.name);
            h.raw("</strong></td><td>");
            env_badge(&mut h, s.spec.environment);
            h.raw("</td><td>");
            labels(&mut h, &s.spec.labels);
            h.raw("</td><td class=\"num\">");
            budget(&mut h, s);
            h.raw("</td><td class=\"num\">")
                .text(&threshold(s))
                .raw("</td><td>")
                .raw(if s.spec.auto_apply { "yes" } else { "no" })
                .raw("</td><td>");
            if s.spec.policy_sets.is_empty() {
                h.raw("<span class=\"muted\">built-in rules only</span>");
            }
            for p in &s.spec.policy_sets {
                h.raw("<code>").text(p).raw("</code> ");
            }
            h.raw("</td><td class=\"num\">");
            match waiting.get(s.spec.name.as_str()) {
                Some(n) => {
                    h.raw("<a href=\"/changes?status=pending_review&amp;stack=")
                        .url_segment(&s.spec.name)
                        .raw("\">")
                        .display(n)
                        .raw("</a>");
                }
                None => {
                    h.raw("0");
                }
            }
            h.raw("</td><td>");
            time(&mut h, &s.updated_at, now);
            h.raw("</td></tr>\n");
        }
        h.raw("</tbody></table>");
    }
    h.raw("</div>");
    Ok(page(&app, &me, Nav::Stacks, "Stacks", &h.finish()).await)
}

/// `GET /stacks/{name}`.
pub(crate) async fn show(
    State(app): State<AppState>,
    me: Me,
    Path(name): Path<String>,
    q: Query<super::waivers::StackQuery>,
) -> UiResult {
    me.principal.require(Role::Viewer)?;
    let s = arbiter_store::stacks::get(app.store.pool(), &name)
        .await?
        .map(crate::convert::stack)
        .ok_or_else(|| UiError::not_found(format!("there is no stack {name:?}")))?;
    let recent = arbiter_store::changes::list(
        app.store.pool(),
        &arbiter_store::changes::Filter {
            stack: Some(name.clone()),
            limit: Some(20),
            ..Default::default()
        },
    )
    .await
    .map(crate::convert::change_requests)?;
    let latest_state = arbiter_store::states::latest(app.store.pool(), &name)
        .await?
        .map(crate::convert::state_version);
    let waivers = arbiter_store::waivers::list(app.store.pool(), &name, false)
        .await
        .map(crate::convert::waivers)?;
    let now = arbiter_store::now_ms();
    let mut h = Html::new();
    h.raw("<div class=\"crumbs\"><a href=\"/stacks\">Stacks</a> / ")
        .text(&name)
        .raw("</div><div class=\"page-head\"><div><h1>")
        .text(&name)
        .raw(" ");
    env_badge(&mut h, s.spec.environment);
    h.raw("</h1><p class=\"sub\">Version ")
        .display(s.version)
        .raw(" · created ");
    time(&mut h, &s.created_at, now);
    h.raw(" · updated ");
    time(&mut h, &s.updated_at, now);
    h.raw("</p></div></div>");
    super::waivers::done_notice(&mut h, &q);
    h.raw("<div class=\"layout\"><div><section class=\"card\"><h2>Recent change requests</h2>");
    if recent.is_empty() {
        h.raw("<p class=\"muted\">None yet.</p>");
    } else {
        change_table(&mut h, &recent, Beside::Submitter, now);
        h.raw("<p><a href=\"/changes?stack=")
            .url_segment(&name)
            .raw("\">All change requests of this stack →</a></p>");
    }
    h.raw("</section>");
    super::waivers::section(&mut h, &me, &name, &waivers, now);
    h.raw("</div><aside><section class=\"card\"><h2>Settings</h2><dl class=\"meta\"><dt>Environment</dt><dd>");
    env_badge(&mut h, s.spec.environment);
    h.raw("</dd><dt>Labels</dt><dd>");
    labels(&mut h, &s.spec.labels);
    h.raw("</dd><dt>Budget</dt><dd>");
    budget(&mut h, &s);
    h.raw("</dd><dt>Threshold</dt><dd>")
        .text(&threshold(&s))
        .raw("</dd><dt>Holds introduced weaknesses</dt><dd id=\"floor\">");
    floor(&mut h, &s);
    h.raw("</dd><dt>Auto-apply</dt><dd>")
        .raw(if s.spec.auto_apply { "yes" } else { "no" })
        .raw("</dd><dt>Policy sets</dt><dd>");
    if s.spec.policy_sets.is_empty() {
        h.raw("<span class=\"muted\">built-in rules only</span>");
    }
    for p in &s.spec.policy_sets {
        h.raw("<code>").text(p).raw("</code> ");
    }
    h.raw("</dd><dt>Approval policy</dt><dd>");
    match &s.spec.approval_policy {
        Some(p) => h.raw("<code>").text(p).raw("</code>"),
        None => h.raw("built-in"),
    };
    h.raw("</dd><dt>State history</dt><dd><a href=\"/stacks/")
        .url_segment(&name)
        .raw("/states\">");
    match &latest_state {
        Some(v) => h
            .raw("version ")
            .display(v.version)
            .raw(", ")
            .display(v.resource_count)
            .raw(" resources"),
        None => h.raw("none yet"),
    };
    h.raw("</a></dd>");
    if let Some(e) = &s.expires_at {
        h.raw("<dt>Expires</dt><dd>");
        time(&mut h, e, now);
        h.raw("</dd>");
    }
    h.raw("</dl></section></aside></div>");
    Ok(page(&app, &me, Nav::Stacks, &name, &h.finish()).await)
}
