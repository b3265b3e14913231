//! A run's page (`/runs/{id}`): phases with their timings, the log, and
//! the confirm and cancel buttons (reviewers, admins); and the runs card of
//! a change request's page.

use super::{notice, page, principal, time, Me, Nav, UiError, UiResult};
use crate::AppState;
use arbiter_api::runs::{Confirmation, Run, RunPhase, RunSource};
use arbiter_api::{Role, Timestamp};
use arbiter_report::html::Html;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};

/// Most log bytes shown on the page (the rest: `arbiter run logs`).
const LOG_SHOWN: usize = 256 * 1024;

fn phase_badge(h: &mut Html, p: RunPhase) {
    let class = match p {
        RunPhase::Applied | RunPhase::Verified => "badge status-good",
        RunPhase::Failed | RunPhase::Interrupted | RunPhase::VerificationFailed => {
            "badge status-bad"
        }
        RunPhase::Cancelled | RunPhase::Discarded => "badge status-neutral",
        _ => "badge status-wait",
    };
    h.raw("<span class=\"")
        .raw(class)
        .raw("\">")
        .text(&p.as_str().replace('_', " "))
        .raw("</span>");
}

fn source(h: &mut Html, s: &RunSource) {
    match s {
        RunSource::Bundle { sha256 } => {
            h.raw("bundle <code>")
                .text(&sha256[..sha256.len().min(16)])
                .raw("…</code>");
        }
        RunSource::Git { url, commit, path } => {
            h.raw("git <code>")
                .text(url)
                .raw("</code> @ <code>")
                .text(&commit[..commit.len().min(12)])
                .raw("</code>");
            if let Some(p) = path {
                h.raw(" (<code>").text(p).raw("</code>)");
            }
        }
    }
}

/// The runs card of a change request's page.
pub(crate) async fn card(
    h: &mut Html,
    app: &AppState,
    change_request: i64,
    now: i64,
) -> Result<(), UiError> {
    let runs = arbiter_store::runs::list(
        app.store.pool(),
        &arbiter_store::runs::Filter {
            change_request: Some(change_request),
            limit: Some(50),
            ..Default::default()
        },
    )
    .await
    .map(crate::convert::runs)?;
    if runs.is_empty() {
        return Ok(());
    }
    h.raw("<section class=\"card\" id=\"runs\"><h2>Runs</h2><ul class=\"plain\">");
    for r in &runs {
        h.raw("<li><a href=\"/runs/")
            .display(r.id)
            .raw("\">Run #")
            .display(r.id)
            .raw("</a> ");
        phase_badge(h, r.phase);
        h.raw(" <span class=\"muted\">revision ")
            .display(r.revision)
            .raw(" · ");
        time(h, &r.updated_at, now);
        h.raw("</span>");
        if r.confirmation == Confirmation::Awaiting && r.phase == RunPhase::Queued {
            h.raw(" <strong>awaits confirmation</strong>");
        }
        h.raw("</li>");
    }
    h.raw("</ul></section>");
    Ok(())
}

/// Query of the run page.
#[derive(serde::Deserialize, Default)]
pub(crate) struct ShowQuery {
    done: Option<String>,
}

/// `GET /runs/{id}`.
pub(crate) async fn show(
    State(app): State<AppState>,
    me: Me,
    Path(raw): Path<String>,
    Query(q): Query<ShowQuery>,
) -> UiResult {
    let id: i64 = raw
        .parse()
        .map_err(|_| UiError::new(StatusCode::NOT_FOUND, format!("no run {raw:?}")))?;
    let run: Run = arbiter_store::runs::get(app.store.pool(), id)
        .await?
        .map(crate::convert::run)
        .ok_or_else(|| UiError::new(StatusCode::NOT_FOUND, format!("run {id} not found")))?;
    let now_ts = Timestamp::now();
    let now = now_ts.unix_ms();
    let mut h = Html::new();
    h.raw("<div class=\"crumbs\"><a href=\"/changes/")
        .display(run.change_request)
        .raw("\">Change request #")
        .display(run.change_request)
        .raw("</a> / run #")
        .display(run.id)
        .raw("</div><div class=\"page-head\"><div><h1>Run #")
        .display(run.id)
        .raw(" ");
    phase_badge(&mut h, run.phase);
    h.raw("</h1><p class=\"sub\">Stack <a href=\"/stacks/")
        .url_segment(&run.stack)
        .raw("\">")
        .text(&run.stack)
        .raw("</a> · revision ")
        .display(run.revision)
        .raw(" · ");
    source(&mut h, &run.source);
    h.raw("</p></div></div>");
    match q.done.as_deref() {
        Some("confirm") => notice(&mut h, "ok", "Confirmed: a worker of the pool takes the run next."),
        Some("cancel") => notice(&mut h, "ok", "Cancel requested: a queued run is cancelled at once; a running one stops at its worker's next heartbeat."),
        _ => {}
    }
    if let Some(e) = &run.error {
        h.raw("<div class=\"notice notice-info\"><strong>")
            .text(&run.phase.as_str().replace('_', " "))
            .raw(":</strong> ")
            .text(e)
            .raw("</div>");
    }
    h.raw("<div class=\"layout\"><div><section class=\"card\" id=\"phases\"><h2>Phases</h2><table class=\"grid list\"><thead><tr><th>Phase</th><th>Started</th><th class=\"num\">Seconds</th></tr></thead><tbody>\n");
    let secs = run.phase_seconds(now_ts);
    for (span, (_, s)) in run.phases.iter().zip(secs) {
        h.raw("<tr><td>");
        phase_badge(&mut h, span.phase);
        h.raw("</td><td>");
        time(&mut h, &span.started_at, now);
        h.raw("</td><td class=\"num\">")
            .text(&format!("{s:.1}"))
            .raw(if span.ended_at.is_none() { " …" } else { "" })
            .raw("</td></tr>\n");
    }
    h.raw("</tbody></table></section>");
    let (_, log, next) = arbiter_store::runs::read_log(app.store.pool(), id, 0, LOG_SHOWN).await?;
    h.raw("<section class=\"card\" id=\"log\"><h2>Log</h2>");
    if log.is_empty() {
        h.raw("<p class=\"muted\">Nothing logged yet.</p>");
    } else {
        h.raw("<pre class=\"source\">").block(&log).raw("</pre>");
        if log.len() >= LOG_SHOWN {
            h.raw("<p class=\"muted\">The log goes on (")
                .display(next)
                .raw(" bytes so far): <code>arbiter run logs ")
                .display(id)
                .raw("</code>.</p>");
        }
    }
    if !run.phase.is_final() {
        h.raw("<p class=\"muted\">The run is in progress: reload for more.</p>");
    }
    h.raw("</section></div><aside><section class=\"card\"><h2>Details</h2><dl class=\"meta\"><dt>Confirmation</dt><dd>");
    match &run.confirmation {
        Confirmation::NotNeeded => {
            h.raw("not needed (the stack allows auto-apply and so does the submitter's scope)");
        }
        Confirmation::Awaiting => {
            h.raw("<strong>awaits a person</strong>");
        }
        Confirmation::Confirmed { by, at } => {
            h.raw("by ");
            principal(&mut h, by);
            h.raw(" ");
            time(&mut h, at, now);
        }
    }
    h.raw("</dd><dt>Pool</dt><dd>").text(&run.pool).raw("</dd>");
    if let Some(w) = &run.worker {
        h.raw("<dt>Worker</dt><dd>").text(w).raw("</dd>");
    }
    if let Some(t) = &run.tool {
        h.raw("<dt>Tool</dt><dd>")
            .text(&format!("{:?} {}", t.kind, t.version).to_lowercase())
            .raw(" <code>")
            .text(&t.path)
            .raw("</code></dd>");
    }
    if let Some(v) = run.state_version {
        h.raw("<dt>State written</dt><dd><a href=\"/stacks/")
            .url_segment(&run.stack)
            .raw("/states\">v")
            .display(v)
            .raw("</a></dd>");
    }
    if let arbiter_api::runs::RunKind::Rollback { target_version } = run.kind {
        h.raw("<dt>Rolls back to</dt><dd>v")
            .display(target_version)
            .raw("</dd>");
    }
    h.raw("</dl>");
    if me.role >= Role::Reviewer {
        if let Some(csrf) = &me.csrf {
            let can_confirm =
                run.confirmation == Confirmation::Awaiting && run.phase == RunPhase::Queued;
            if can_confirm {
                h.raw("<form method=\"post\" action=\"/runs/")
                    .display(id)
                    .raw("/confirm\"><input type=\"hidden\" name=\"csrf\" value=\"")
                    .text(csrf)
                    .raw("\"><button class=\"btn btn-primary narrow\" type=\"submit\">Confirm: apply it</button></form>");
            }
            if run.phase.is_cancellable() && !run.cancel_requested {
                h.raw("<form method=\"post\" action=\"/runs/")
                    .display(id)
                    .raw("/cancel\"><input type=\"hidden\" name=\"csrf\" value=\"")
                    .text(csrf)
                    .raw("\"><p></p><button class=\"btn narrow\" type=\"submit\">Cancel the run</button></form>");
            }
        }
    }
    h.raw("</section></aside></div>");
    let title = format!("Run #{id}");
    Ok(page(&app, &me, Nav::Changes, &title, &h.finish()).await)
}

/// The confirm and cancel forms.
#[derive(serde::Deserialize)]
struct ActionForm {
    csrf: String,
}

/// `POST /runs/{id}/confirm` (through the API's handler).
pub(crate) async fn confirm(
    State(app): State<AppState>,
    headers: HeaderMap,
    me: Me,
    Path(id): Path<i64>,
    body: Bytes,
) -> UiResult {
    let f: ActionForm = super::form(&body)?;
    super::check_form(&headers, &me, &f.csrf)?;
    let _confirmed = crate::routes::runs::confirm(
        State(app.clone()),
        Some(axum::Extension(me.principal.clone())),
        Path(id),
    )
    .await?;
    Ok(super::see_other(&format!("/runs/{id}?done=confirm")))
}

/// `POST /runs/{id}/cancel` (through the API's handler).
pub(crate) async fn cancel(
    State(app): State<AppState>,
    headers: HeaderMap,
    me: Me,
    Path(id): Path<i64>,
    body: Bytes,
) -> UiResult {
    let f: ActionForm = super::form(&body)?;
    super::check_form(&headers, &me, &f.csrf)?;
    let _cancelled = crate::routes::runs::cancel(
        State(app.clone()),
        Some(axum::Extension(me.principal.clone())),
        Path(id),
    )
    .await?;
    Ok(super::see_other(&format!("/runs/{id}?done=cancel")))
}
