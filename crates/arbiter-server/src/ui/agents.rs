//! Agents (`/agents`, `/agents/{name}`): their keys, scopes and limits.

use super::{change_table, page, time, Beside, Me, Nav, UiError, UiResult};
use crate::AppState;
use arbiter_api::{Agent, AgentScope, Role};
use arbiter_report::html::{self, Html};
use axum::extract::{Path, State};

fn list_or<T: std::fmt::Display>(h: &mut Html, items: &[T], empty: &'static str) {
    if items.is_empty() {
        h.raw("<span class=\"muted\">").raw(empty).raw("</span>");
    }
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            h.raw(" ");
        }
        h.raw("<code>").display(s).raw("</code>");
    }
}

fn scope(h: &mut Html, s: &AgentScope) {
    h.raw("<dl class=\"meta\"><dt>Stacks</dt><dd>");
    list_or(h, &s.stacks, "none");
    if !s.stack_labels.is_empty() {
        h.raw(" · labels ");
        list_or(h, &s.stack_labels, "");
    }
    h.raw("</dd><dt>Actions</dt><dd>");
    list_or(h, &s.actions, "none");
    h.raw("</dd><dt>Resource types</dt><dd>");
    list_or(h, &s.resource_types, "none");
    h.raw("</dd><dt>Blast radius</dt><dd>");
    match s.max_blast_radius {
        Some(n) => h.text(&format!("at most {n} resources per change")),
        None => h.raw("<span class=\"muted\">no limit</span>"),
    };
    h.raw("</dd><dt>Cost increase</dt><dd>");
    match s.max_monthly_cost_increase_usd {
        Some(c) => h.text(&format!("at most {} a month", html::format_money(c))),
        None => h.raw("<span class=\"muted\">no limit</span>"),
    };
    h.raw("</dd><dt>TTL</dt><dd>");
    match s.max_ttl_seconds {
        Some(t) => h.text(&format!("at most {t} s")),
        None => h.raw("<span class=\"muted\">no limit</span>"),
    };
    h.raw("</dd><dt>Auto-apply</dt><dd>")
        .raw(if s.may_auto_apply { "allowed" } else { "never" })
        .raw("</dd></dl>");
}

fn state_badge(h: &mut Html, a: &Agent) {
    if a.revoked_at.is_some() {
        h.raw("<span class=\"badge status-bad\">revoked</span>");
    } else {
        h.raw("<span class=\"badge status-good\">active</span>");
    }
}

/// `GET /agents`.
pub(crate) async fn list(State(app): State<AppState>, me: Me) -> UiResult {
    me.principal.require(Role::Viewer)?;
    let agents = arbiter_store::principals::list_agents(app.store.pool())
        .await
        .map(crate::convert::agents)?;
    let now = arbiter_store::now_ms();
    let mut h = Html::new();
    h.raw("<div class=\"page-head\"><div><h1>Agents</h1><p class=\"sub\">Machines that submit changes with signed requests, each within its scope and velocity limits.</p></div></div><div class=\"card\">");
    if agents.is_empty() {
        h.raw("<div class=\"empty\"><strong>No agents yet.</strong>An admin registers one with <code>arbiter agent create NAME --public-key KEY</code>.</div>");
    } else {
        h.raw("<table class=\"grid list\" id=\"agents\"><thead><tr><th>Agent</th><th>Status</th><th>Stacks</th><th>Actions</th><th class=\"num\">Keys</th><th class=\"num\">Rate / min</th><th class=\"num\">Resources / h</th><th>Created</th></tr></thead><tbody>\n");
        for a in &agents {
            h.raw("<tr><td class=\"main\"><a href=\"/agents/")
                .url_segment(&a.name)
                .raw("\"><strong>")
                .text(&a.name)
                .raw("</strong></a>");
            if let Some(d) = a.description.as_deref().filter(|d| !d.trim().is_empty()) {
                h.raw("<span class=\"intent\">")
                    .text(d.trim())
                    .raw("</span>");
            }
            h.raw("</td><td>");
            state_badge(&mut h, a);
            h.raw("</td><td>");
            list_or(&mut h, &a.scope.stacks, "none");
            h.raw("</td><td>");
            list_or(&mut h, &a.scope.actions, "none");
            h.raw("</td><td class=\"num\">")
                .display(a.keys.iter().filter(|k| k.revoked_at.is_none()).count())
                .raw("</td><td class=\"num\">")
                .display(a.limits.submissions_per_minute)
                .raw("</td><td class=\"num\">")
                .display(a.limits.blast_radius_per_hour)
                .raw("</td><td>");
            time(&mut h, &a.created_at, now);
            h.raw("</td></tr>\n");
        }
        h.raw("</tbody></table>");
    }
    h.raw("</div>");
    Ok(page(&app, &me, Nav::Agents, "Agents", &h.finish()).await)
}

/// `GET /agents/{name}`.
pub(crate) async fn show(
    State(app): State<AppState>,
    me: Me,
    Path(name): Path<String>,
) -> UiResult {
    me.principal.require(Role::Viewer)?;
    let a = arbiter_store::principals::get_agent(app.store.pool(), &name)
        .await?
        .map(crate::convert::agent)
        .ok_or_else(|| UiError::not_found(format!("there is no agent {name:?}")))?;
    let refused = arbiter_store::changes::governor_count(app.store.pool(), &name).await?;
    let recent = arbiter_store::changes::list(
        app.store.pool(),
        &arbiter_store::changes::Filter {
            submitter: Some(format!("agent:{name}")),
            limit: Some(20),
            ..Default::default()
        },
    )
    .await
    .map(crate::convert::change_requests)?;
    let now = arbiter_store::now_ms();
    let mut h = Html::new();
    h.raw("<div class=\"crumbs\"><a href=\"/agents\">Agents</a> / ")
        .text(&name)
        .raw("</div><div class=\"page-head\"><div><h1>")
        .text(&name)
        .raw(" ");
    state_badge(&mut h, &a);
    h.raw("</h1><p class=\"sub\">");
    if let Some(d) = a.description.as_deref().filter(|d| !d.trim().is_empty()) {
        h.text(d.trim()).raw(" · ");
    }
    h.raw("created by ").text(&a.created_by).raw(" ");
    time(&mut h, &a.created_at, now);
    h.raw("</p></div></div><div class=\"layout\"><div><section class=\"card\"><h2>Recent submissions</h2>");
    if recent.is_empty() {
        h.raw("<p class=\"muted\">None yet.</p>");
    } else {
        change_table(&mut h, &recent, Beside::Stack, now);
    }
    h.raw("</section><section class=\"card\"><h2>Keys</h2><table class=\"grid\"><thead><tr><th>Key ID</th><th>Public key</th><th>Added</th><th>Status</th></tr></thead><tbody>\n");
    for k in &a.keys {
        h.raw("<tr><td><code>")
            .text(&k.key_id)
            .raw("</code></td><td><code>")
            .text(&k.public_key)
            .raw("</code></td><td>");
        time(&mut h, &k.created_at, now);
        h.raw("</td><td>");
        match &k.revoked_at {
            Some(r) => {
                h.raw("<span class=\"badge status-bad\">revoked</span> ");
                time(&mut h, r, now);
            }
            None => {
                h.raw("<span class=\"badge status-good\">active</span>");
            }
        }
        h.raw("</td></tr>\n");
    }
    h.raw("</tbody></table></section></div><aside><section class=\"card\"><h2>Scope</h2>");
    scope(&mut h, &a.scope);
    h.raw("</section><section class=\"card\"><h2>Velocity limits</h2><dl class=\"meta\"><dt>Submissions</dt><dd>")
        .display(a.limits.submissions_per_minute)
        .raw(" per minute</dd><dt>Resources changed</dt><dd>")
        .display(a.limits.blast_radius_per_hour)
        .raw(" per hour</dd><dt>Refused so far</dt><dd>")
        .display(refused)
        .raw("</dd></dl></section></aside></div>");
    Ok(page(&app, &me, Nav::Agents, &name, &h.finish()).await)
}
