//! The waivers of a stack on its page (`/stacks/{name}`), and the forms that
//! create and revoke them. Both forms go through the API's own handlers
//! ([`crate::routes::waivers`]), so the roles, the checks of the fields and
//! expiry, and the audit entries are the API's.

use super::{check_form, notice, page, time, Me, Nav, UiResult};
use crate::AppState;
use arbiter_api::{Role, Waiver, WaiverSpec};
use arbiter_report::html::Html;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::Extension;

/// The waivers card of a stack page: its unrevoked waivers (expired ones
/// marked), a revoke button on each and a form to create one, both for
/// reviewers and admins signed in with a web session.
pub(crate) fn section(h: &mut Html, me: &Me, stack: &str, waivers: &[Waiver], now: i64) {
    let csrf = me.csrf.as_deref().filter(|_| me.role >= Role::Reviewer);
    h.raw("<section class=\"card\" id=\"waivers\"><h2>Waivers</h2><p class=\"sub muted\">Accepted risks: the findings a waiver matches are still reported but cost no confidence and hold nothing until it expires. A waiver applies to evaluations made after it is created.</p>");
    if waivers.is_empty() {
        h.raw("<p class=\"muted\">None.</p>");
    } else {
        h.raw("<table class=\"grid list waivers\"><thead><tr><th class=\"num\">ID</th><th>Rule</th><th>Addresses</th><th>Owner and reason</th><th>Expires</th><th>Created</th>");
        if csrf.is_some() {
            h.raw("<th></th>");
        }
        h.raw("</tr></thead><tbody>\n");
        for w in waivers {
            h.raw("<tr")
                .raw(if w.expired { " class=\"expired\"" } else { "" })
                .raw("><td class=\"num\">")
                .display(w.id)
                .raw("</td><td><code>")
                .text(&w.rule)
                .raw("</code></td><td><code>")
                .text(&w.address)
                .raw("</code></td><td><strong>")
                .text(&w.owner)
                .raw("</strong>: ")
                .text(&w.reason)
                .raw("</td><td class=\"nowrap\">")
                .text(&w.expires);
            if w.expired {
                h.raw(" <span class=\"tag held\">expired</span>");
            }
            h.raw("</td><td>").text(&w.created_by).raw(" ");
            time(h, &w.created_at, now);
            h.raw("</td>");
            if let Some(csrf) = csrf {
                h.raw("<td><form method=\"post\" class=\"inline\" action=\"/stacks/")
                    .url_segment(stack)
                    .raw("/waivers/")
                    .display(w.id)
                    .raw("/revoke\"><input type=\"hidden\" name=\"csrf\" value=\"")
                    .text(csrf)
                    .raw("\"><button type=\"submit\" title=\"later evaluations count its findings again\">Revoke</button></form></td>");
            }
            h.raw("</tr>\n");
        }
        h.raw("</tbody></table>");
    }
    if let Some(csrf) = csrf {
        h.raw("<h3>Waive a rule</h3><form method=\"post\" class=\"waiver-form\" action=\"/stacks/")
            .url_segment(stack)
            .raw("/waivers\"><input type=\"hidden\" name=\"csrf\" value=\"")
            .text(csrf)
            .raw("\"><label>Rule <input type=\"text\" name=\"rule\" required placeholder=\"ARB-AWS-EC2-001\"></label>\
<label>Addresses <input type=\"text\" name=\"address\" value=\"*\" required title=\"* matches any run of characters, ? one\"></label>\
<label>Owner <input type=\"text\" name=\"owner\" required placeholder=\"team-payments\"></label>\
<label>Expires <input type=\"date\" name=\"expires\" required title=\"the last day (UTC) on which it counts; at most a year ahead\"></label>\
<label class=\"wide\">Reason <input type=\"text\" name=\"reason\" required></label>\
<button type=\"submit\" class=\"btn btn-primary narrow\">Waive</button></form>");
    }
    h.raw("</section>");
}

/// The create form.
#[derive(serde::Deserialize)]
pub(crate) struct CreateForm {
    csrf: String,
    rule: String,
    address: String,
    reason: String,
    owner: String,
    expires: String,
}

/// The revoke form.
#[derive(serde::Deserialize)]
pub(crate) struct RevokeForm {
    csrf: String,
}

/// A refusal shown as a page with the API's message and its status.
async fn refused(
    app: &AppState,
    me: &Me,
    stack: &str,
    what: &str,
    e: crate::error::ApiError,
) -> UiResult {
    let mut h = Html::new();
    notice(&mut h, "bad", &format!("{what}: {}", e.message));
    h.raw("<p><a href=\"/stacks/")
        .url_segment(stack)
        .raw("#waivers\">Back to the stack</a></p>");
    let mut r = page(app, me, Nav::Stacks, "Waiver refused", &h.finish()).await;
    *r.status_mut() = e.status();
    Ok(r)
}

/// `POST /stacks/{name}/waivers`.
pub(crate) async fn create(
    State(app): State<AppState>,
    headers: HeaderMap,
    me: Me,
    Path(name): Path<String>,
    body: Bytes,
) -> UiResult {
    let f: CreateForm = super::form(&body)?;
    check_form(&headers, &me, &f.csrf)?;
    let spec = WaiverSpec {
        rule: f.rule,
        address: f.address,
        reason: f.reason,
        owner: f.owner,
        expires: f.expires,
    };
    let json = serde_json::to_vec(&spec).map_err(crate::error::ApiError::internal)?;
    match crate::routes::waivers::create(
        State(app.clone()),
        Extension(me.principal.clone()),
        Path(name.clone()),
        Bytes::from(json),
    )
    .await
    {
        Ok(_) => Ok(super::see_other(&format!(
            "/stacks/{}?done=waived#waivers",
            segment(&name)
        ))),
        Err(e) => refused(&app, &me, &name, "No waiver was created", e).await,
    }
}

/// `POST /stacks/{name}/waivers/{id}/revoke`.
pub(crate) async fn revoke(
    State(app): State<AppState>,
    headers: HeaderMap,
    me: Me,
    Path((name, id)): Path<(String, String)>,
    body: Bytes,
) -> UiResult {
    let f: RevokeForm = super::form(&body)?;
    check_form(&headers, &me, &f.csrf)?;
    match crate::routes::waivers::revoke(
        State(app.clone()),
        Extension(me.principal.clone()),
        Path((name.clone(), id)),
    )
    .await
    {
        Ok(_) => Ok(super::see_other(&format!(
            "/stacks/{}?done=revoked#waivers",
            segment(&name)
        ))),
        Err(e) => refused(&app, &me, &name, "The waiver was not revoked", e).await,
    }
}

/// A stack name as a path segment (names are `A-Z a-z 0-9 . _ -`; anything
/// else is percent-encoded all the same).
fn segment(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Query of the stack page.
#[derive(serde::Deserialize, Default)]
pub(crate) struct StackQuery {
    done: Option<String>,
}

/// The notice after a form, on the stack page.
pub(crate) fn done_notice(h: &mut Html, q: &Query<StackQuery>) {
    match q.done.as_deref() {
        Some("waived") => notice(
            h,
            "ok",
            "The waiver is recorded; it applies to evaluations from now on.",
        ),
        Some("revoked") => notice(
            h,
            "ok",
            "The waiver is revoked; evaluations from now on count its findings again.",
        ),
        _ => {}
    }
}
