//! A stack's state history (`/stacks/{name}/states`), the diff between two
//! versions (`…/states/diff`), and the rollback form, which opens a change
//! request through the API's own rollback handler (so it is judged,
//! governed and audited like any other change).

use super::{notice, page, principal, stack_link, time, Me, Nav, UiError, UiResult};
use crate::AppState;
use arbiter_api::{Role, RollbackAnswer, StateDiffView, StateVersion};
use arbiter_report::html::Html;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};

/// Versions listed per page.
const PAGE: i64 = 50;
/// Resources shown in a diff before a "… N more" line.
const MAX_RESOURCES: usize = 500;
/// Attributes shown per resource.
const MAX_ATTRIBUTES: usize = 200;

fn short(s: &str, n: usize) -> &str {
    s.get(..n).unwrap_or(s)
}

/// Query of the history page.
#[derive(serde::Deserialize, Default)]
pub(crate) struct ListQuery {
    before: Option<i64>,
}

fn version_link(h: &mut Html, stack: &str, v: i64) {
    h.raw("<a href=\"/stacks/")
        .url_segment(stack)
        .raw("/states/diff?to=")
        .display(v)
        .raw("\">v")
        .display(v)
        .raw("</a>");
}

/// `GET /stacks/{name}/states`.
pub(crate) async fn list(
    State(app): State<AppState>,
    me: Me,
    Path(name): Path<String>,
    Query(q): Query<ListQuery>,
) -> UiResult {
    me.principal.require(Role::Viewer)?;
    let stack = arbiter_store::stacks::get(app.store.pool(), &name)
        .await?
        .map(crate::convert::stack)
        .ok_or_else(|| UiError::not_found(format!("there is no stack {name:?}")))?;
    let versions = arbiter_store::states::list(app.store.pool(), &stack.spec.name, q.before, PAGE)
        .await
        .map(crate::convert::state_versions)?;
    let latest = arbiter_store::states::latest(app.store.pool(), &stack.spec.name)
        .await?
        .map(|v| v.version);
    let rollbacks = arbiter_store::states::rollbacks(app.store.pool(), &stack.spec.name, 20)
        .await?
        .into_iter()
        .map(crate::convert::rollback)
        .collect::<Vec<_>>();
    let now = arbiter_store::now_ms();
    let may_roll_back = me.role >= Role::Reviewer && me.csrf.is_some();
    let mut h = Html::new();
    h.raw("<div class=\"crumbs\"><a href=\"/stacks\">Stacks</a> / ");
    stack_link(&mut h, &name);
    h.raw(" / state history</div><div class=\"page-head\"><div><h1>State history of ")
        .text(&name)
        .raw("</h1><p class=\"sub\">Every state the stack reached, content-addressed; compare any two, or open a change request that returns the stack to one.</p></div></div>");
    h.raw("<div class=\"card\">");
    if versions.is_empty() {
        h.raw("<div class=\"empty\"><strong>No states yet.</strong>Push one with <code>arbiter state push ")
            .text(&name)
            .raw(" terraform.tfstate</code>.</div>");
    } else {
        h.raw("<form class=\"inline\" method=\"get\" action=\"/stacks/")
            .url_segment(&name)
            .raw("/states/diff\"><label class=\"muted\" for=\"from\">Compare</label><input type=\"text\" id=\"from\" name=\"from\" placeholder=\"from version\"><label class=\"muted\" for=\"to\">with</label><input type=\"text\" id=\"to\" name=\"to\" placeholder=\"to version (latest)\"><button type=\"submit\">Diff</button></form>");
        h.raw("<table class=\"grid list\" id=\"versions\"><thead><tr><th>Version</th><th>Pushed</th><th>By</th><th>Commit</th><th class=\"num\">Resources</th><th class=\"num\">Serial</th><th>Lineage</th><th>Terraform</th><th>Digest</th><th></th></tr></thead><tbody>\n");
        for v in &versions {
            version_row(
                &mut h,
                &name,
                v,
                latest,
                may_roll_back,
                me.csrf.as_deref(),
                now,
            );
        }
        h.raw("</tbody></table>");
        if versions.len() as i64 == PAGE {
            if let Some(last) = versions.last() {
                h.raw("<div class=\"pager\"><span></span><a href=\"/stacks/")
                    .url_segment(&name)
                    .raw("/states?before=")
                    .display(last.version)
                    .raw("\">Older →</a></div>");
            }
        }
    }
    h.raw("</div>");
    if !rollbacks.is_empty() {
        h.raw("<section class=\"card\"><h2>Rollbacks</h2><table class=\"grid\"><thead><tr><th>Change</th><th>From</th><th>To</th><th>Commit</th><th class=\"num\">Resources</th><th>Asked by</th><th>When</th></tr></thead><tbody>\n");
        for r in &rollbacks {
            h.raw("<tr><td><a href=\"/changes/")
                .display(r.change_request)
                .raw("\"><strong>#")
                .display(r.change_request)
                .raw("</strong></a></td><td>v")
                .display(r.from_version)
                .raw("</td><td>v")
                .display(r.to_version)
                .raw("</td><td><code>")
                .text(r.commit.as_deref().unwrap_or("-"))
                .raw("</code></td><td class=\"num\">")
                .display(r.resources.len())
                .raw("</td><td>");
            principal(&mut h, &r.requested_by);
            h.raw("</td><td>");
            time(&mut h, &r.created_at, now);
            h.raw("</td></tr>\n");
        }
        h.raw("</tbody></table></section>");
    }
    let title = format!("{name} state history");
    Ok(page(&app, &me, Nav::Stacks, &title, &h.finish()).await)
}

fn version_row(
    h: &mut Html,
    stack: &str,
    v: &StateVersion,
    latest: Option<i64>,
    may_roll_back: bool,
    csrf: Option<&str>,
    now: i64,
) {
    h.raw("<tr id=\"v")
        .display(v.version)
        .raw("\"><td><strong>");
    version_link(h, stack, v.version);
    h.raw("</strong>");
    if Some(v.version) == latest {
        h.raw(" <span class=\"badge status-good\">latest</span>");
    }
    if v.origin != arbiter_api::StateOrigin::Push {
        h.raw(" <span class=\"tag\">")
            .text(v.origin.as_str())
            .raw("</span>");
    }
    if v.forced {
        h.raw(" <span class=\"tag\" title=\"stored with force\">forced</span>");
    }
    h.raw("</td><td>");
    time(h, &v.created_at, now);
    h.raw("</td><td>");
    principal(h, &v.pushed_by);
    h.raw("</td><td><code>")
        .text(v.commit.as_deref().map(|c| short(c, 12)).unwrap_or("-"))
        .raw("</code></td><td class=\"num\">")
        .display(v.resource_count)
        .raw("</td><td class=\"num\">");
    match v.serial {
        Some(s) => h.display(s),
        None => h.raw("-"),
    };
    h.raw("</td><td><code title=\"")
        .text(v.lineage.as_deref().unwrap_or(""))
        .raw("\">")
        .text(v.lineage.as_deref().map(|l| short(l, 8)).unwrap_or("-"))
        .raw("</code></td><td>")
        .text(v.terraform_version.as_deref().unwrap_or("-"))
        .raw("</td><td class=\"hash\" title=\"")
        .text(&v.digest)
        .raw("\">")
        .text(short(&v.digest, 12))
        .raw("…</td><td>");
    if let (true, Some(csrf), true) = (may_roll_back, csrf, Some(v.version) != latest) {
        h.raw("<form method=\"post\" class=\"inline\" action=\"/stacks/")
            .url_segment(stack)
            .raw("/states/rollback\"><input type=\"hidden\" name=\"csrf\" value=\"")
            .text(csrf)
            .raw("\"><input type=\"hidden\" name=\"to\" value=\"")
            .display(v.version)
            .raw("\"><button type=\"submit\" title=\"open a change request that returns the stack to this version\">Roll back to v")
            .display(v.version)
            .raw("</button></form>");
    }
    h.raw("</td></tr>\n");
}

/// Query of the diff page (versions as typed in the form).
#[derive(serde::Deserialize, Default)]
pub(crate) struct DiffQuery {
    from: Option<String>,
    to: Option<String>,
}

fn value_cell(h: &mut Html, v: Option<&serde_json::Value>) {
    match v {
        None => {
            h.raw("<span class=\"muted\">absent</span>");
        }
        Some(serde_json::Value::String(s))
            if matches!(s.as_str(), "(sensitive)" | "(known after apply)") =>
        {
            h.raw("<span class=\"marker\">").text(s).raw("</span>");
        }
        Some(other) => {
            h.raw("<code class=\"value\">")
                .text(&other.to_string())
                .raw("</code>");
        }
    }
}

/// `GET /stacks/{name}/states/diff?from=V1&to=V2`: the API's own diff
/// (sensitive values masked), resource by resource.
pub(crate) async fn diff(
    State(app): State<AppState>,
    me: Me,
    Path(name): Path<String>,
    Query(q): Query<DiffQuery>,
) -> UiResult {
    me.principal.require(Role::Viewer)?;
    let mut qs = Vec::new();
    for (k, v) in [("from", &q.from), ("to", &q.to)] {
        if let Some(v) = v.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            let n = v
                .trim_start_matches(['v', 'V'])
                .parse::<i64>()
                .map_err(|_| {
                    UiError::new(
                        StatusCode::BAD_REQUEST,
                        format!("{k}={v:?} is not a version number"),
                    )
                })?;
            qs.push(format!("{k}={n}"));
        }
    }
    let query = serde_urlencoded::from_str(&qs.join("&"))
        .map_err(|e| UiError::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    let Json(d): Json<StateDiffView> = crate::routes::states::diff(
        State(app.clone()),
        Extension(me.principal.clone()),
        Path(name.clone()),
        Query(query),
    )
    .await?;
    let now = arbiter_store::now_ms();
    let mut h = Html::new();
    h.raw("<div class=\"crumbs\"><a href=\"/stacks\">Stacks</a> / ");
    stack_link(&mut h, &name);
    h.raw(" / <a href=\"/stacks/")
        .url_segment(&name)
        .raw("/states\">state history</a> / diff</div><div class=\"page-head\"><div><h1>v")
        .display(d.from.version)
        .raw(" → v")
        .display(d.to.version)
        .raw("</h1><p class=\"sub\">From ");
    time(&mut h, &d.from.created_at, now);
    h.raw(" (commit <code>")
        .text(d.from.commit.as_deref().unwrap_or("-"))
        .raw("</code>) to ");
    time(&mut h, &d.to.created_at, now);
    h.raw(" (commit <code>")
        .text(d.to.commit.as_deref().unwrap_or("-"))
        .raw("</code>); sensitive values are masked.</p></div></div>");
    h.raw("<div class=\"tiles\"><div class=\"tile\"><span class=\"n\">")
        .display(d.summary.added)
        .raw("</span><span class=\"l\">added</span></div><div class=\"tile\"><span class=\"n\">")
        .display(d.summary.removed)
        .raw("</span><span class=\"l\">removed</span></div><div class=\"tile\"><span class=\"n\">")
        .display(d.summary.changed)
        .raw("</span><span class=\"l\">changed</span></div><div class=\"tile\"><span class=\"n\">")
        .display(d.summary.unchanged)
        .raw("</span><span class=\"l\">unchanged</span></div></div>");
    h.raw("<section class=\"card\" id=\"state-diff\"><h2>Resources <span class=\"count\">")
        .display(d.resources.len())
        .raw("</span></h2>");
    if d.resources.is_empty() {
        h.raw("<p class=\"muted\">No resource differs.</p>");
    }
    for r in d.resources.iter().take(MAX_RESOURCES) {
        let (sym, class) = match r.change.as_str() {
            "added" => ("+", "act-create"),
            "removed" => ("-", "act-delete"),
            _ if r.replaced => ("±", "act-replace"),
            _ => ("~", "act-update"),
        };
        h.raw("<details class=\"change ").raw(class).raw("\"");
        if r.attributes.len() <= 20 {
            h.raw(" open");
        }
        h.raw("><summary><span class=\"sym\">")
            .raw(sym)
            .raw("</span> <code>")
            .text(&r.address)
            .raw("</code> <span class=\"muted\">")
            .text(&r.change);
        if r.replaced {
            h.raw(" (replaced)");
        }
        h.raw("</span> <span class=\"count\">")
            .display(r.attributes.len())
            .raw("</span></summary>");
        if !r.attributes.is_empty() {
            h.raw("<table class=\"grid diff\"><thead><tr><th>Attribute</th><th>Before</th><th>After</th></tr></thead><tbody>");
            for a in r.attributes.iter().take(MAX_ATTRIBUTES) {
                h.raw("<tr><td><code>")
                    .text(&a.path)
                    .raw("</code></td><td class=\"before\">");
                value_cell(&mut h, a.before.as_ref());
                h.raw("</td><td class=\"after\">");
                value_cell(&mut h, a.after.as_ref());
                h.raw("</td></tr>\n");
            }
            if r.attributes.len() > MAX_ATTRIBUTES {
                h.raw("<tr><td colspan=\"3\" class=\"muted\">… ")
                    .display(r.attributes.len() - MAX_ATTRIBUTES)
                    .raw(" more</td></tr>");
            }
            h.raw("</tbody></table>");
        }
        h.raw("</details>\n");
    }
    if d.resources.len() > MAX_RESOURCES {
        h.raw("<p class=\"muted\">… ")
            .display(d.resources.len() - MAX_RESOURCES)
            .raw(" more resources differ.</p>");
    }
    h.raw("</section>");
    if !d.outputs.is_empty() {
        h.raw("<section class=\"card\"><h2>Outputs</h2><table class=\"grid diff\"><thead><tr><th>Output</th><th>Change</th><th>Before</th><th>After</th></tr></thead><tbody>");
        for o in &d.outputs {
            h.raw("<tr><td><code>")
                .text(&o.name)
                .raw("</code></td><td>")
                .text(&o.change)
                .raw("</td><td class=\"before\">");
            value_cell(&mut h, o.before.as_ref());
            h.raw("</td><td class=\"after\">");
            value_cell(&mut h, o.after.as_ref());
            h.raw("</td></tr>\n");
        }
        h.raw("</tbody></table></section>");
    }
    let title = format!("{name} v{} → v{}", d.from.version, d.to.version);
    Ok(page(&app, &me, Nav::Stacks, &title, &h.finish()).await)
}

/// The rollback form.
#[derive(serde::Deserialize)]
struct RollbackForm {
    csrf: String,
    to: i64,
    #[serde(default)]
    intent: String,
}

/// `POST /stacks/{name}/states/rollback`: asks the API's rollback handler
/// for a change request that returns the stack to a version, and shows it.
pub(crate) async fn rollback(
    State(app): State<AppState>,
    headers: HeaderMap,
    me: Me,
    Path(name): Path<String>,
    body: Bytes,
) -> UiResult {
    let f: RollbackForm = super::form(&body)?;
    super::check_form(&headers, &me, &f.csrf)?;
    let intent = f.intent.trim();
    let req = arbiter_api::RollbackRequest {
        to: f.to,
        intent: (!intent.is_empty()).then(|| intent.to_string()),
        force: false,
    };
    let json = serde_json::to_vec(&req).map_err(crate::error::ApiError::internal)?;
    let resp = crate::routes::states::rollback(
        State(app.clone()),
        Extension(me.principal.clone()),
        Path(name.clone()),
        HeaderMap::new(),
        Bytes::from(json),
    )
    .await;
    match resp {
        Ok(r) => {
            let bytes = axum::body::to_bytes(r.into_body(), 16 * 1024 * 1024)
                .await
                .map_err(crate::error::ApiError::internal)?;
            let answer: RollbackAnswer =
                serde_json::from_slice(&bytes).map_err(crate::error::ApiError::internal)?;
            Ok(super::see_other(&format!(
                "/changes/{}?done=rollback",
                answer.change_request.id
            )))
        }
        Err(e) => {
            let mut h = Html::new();
            notice(
                &mut h,
                "bad",
                &format!("No rollback was opened: {}", e.message),
            );
            h.raw("<p><a href=\"/stacks/")
                .url_segment(&name)
                .raw("/states\">Back to the state history</a></p>");
            let mut r = page(&app, &me, Nav::Stacks, "Rollback refused", &h.finish()).await;
            *r.status_mut() = e.status();
            Ok(r)
        }
    }
}
