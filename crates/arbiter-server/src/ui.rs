//! The reviewers' web UI: server-rendered HTML pages, served by `arbiter
//! serve` at `/`, readable and usable without JavaScript (there is none:
//! reviews are plain HTML forms).
//!
//! Everything is embedded in the binary (the stylesheet, the icon); pages
//! are built with `arbiter_report::html::Html`, which escapes every string
//! that is not markup written here, and verdicts are rendered by
//! `arbiter_report::html`. Responses carry a Content Security Policy that
//! allows no script, no inline style and nothing from another origin.
//!
//! Roles apply exactly as in the API: a review is recorded by the API's own
//! handler ([`crate::routes::changes::review`]), with the role, the
//! "submitters do not approve their own request" rule and the approval
//! policy it enforces. Forms need a web session, a matching CSRF token and
//! a same-origin `Origin` (see [`crate::session`]).

mod agents;
mod assets;
mod audit;
mod change;
mod queue;
mod runs;
mod signin;
mod stacks;
mod states;
mod waivers;
mod webhooks;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::AppState;
use arbiter_api::{ChangeStatus, Environment, Role, Timestamp};
use arbiter_report::html::{Html, Markup};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

/// Every page and form of the UI: method and path.
pub const PAGES: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/logout"),
    ("GET", "/changes"),
    ("GET", "/changes/{id}"),
    ("POST", "/changes/{id}/review"),
    ("GET", "/stacks"),
    ("GET", "/stacks/{name}"),
    ("GET", "/stacks/{name}/states"),
    ("GET", "/stacks/{name}/states/diff"),
    ("POST", "/stacks/{name}/states/rollback"),
    ("POST", "/stacks/{name}/waivers"),
    ("POST", "/stacks/{name}/waivers/{id}/revoke"),
    ("GET", "/agents"),
    ("GET", "/agents/{name}"),
    ("GET", "/audit"),
    ("GET", "/webhooks"),
    ("GET", "/webhooks/{id}"),
    ("POST", "/webhooks/{id}/test"),
    ("GET", "/runs/{id}"),
    ("POST", "/runs/{id}/confirm"),
    ("POST", "/runs/{id}/cancel"),
    ("GET", "/ui/app.css"),
    ("GET", "/ui/favicon.svg"),
];

/// First segments of the UI's paths (besides `/`).
const PREFIXES: [&str; 9] = [
    "/login",
    "/runs",
    "/logout",
    "/changes",
    "/stacks",
    "/agents",
    "/audit",
    "/webhooks",
    "/ui",
];

/// Whether a path belongs to the UI (which handles sign-in itself).
pub fn is_ui_path(path: &str) -> bool {
    path == "/"
        || PREFIXES.iter().any(|p| {
            path.strip_prefix(p)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
}

/// Adds the UI's routes.
pub fn routes(r: Router<AppState>) -> Router<AppState> {
    let ui = Router::new()
        .route("/", get(queue::queue))
        .route("/login", get(signin::form).post(signin::submit))
        .route("/logout", post(signin::logout))
        .route("/changes", get(queue::changes))
        .route("/changes/{id}", get(change::show))
        .route("/changes/{id}/review", post(change::review))
        .route("/stacks", get(stacks::list))
        .route("/stacks/{name}", get(stacks::show))
        .route("/stacks/{name}/states", get(states::list))
        .route("/stacks/{name}/states/diff", get(states::diff))
        .route("/stacks/{name}/states/rollback", post(states::rollback))
        .route("/stacks/{name}/waivers", post(waivers::create))
        .route("/stacks/{name}/waivers/{id}/revoke", post(waivers::revoke))
        .route("/agents", get(agents::list))
        .route("/agents/{name}", get(agents::show))
        .route("/audit", get(audit::show))
        .route("/webhooks", get(webhooks::list))
        .route("/webhooks/{id}", get(webhooks::show))
        .route("/webhooks/{id}/test", post(webhooks::test))
        .route("/runs/{id}", get(runs::show))
        .route("/runs/{id}/confirm", post(runs::confirm))
        .route("/runs/{id}/cancel", post(runs::cancel))
        .route("/ui/app.css", get(assets::css))
        .route("/ui/favicon.svg", get(assets::favicon))
        .layer(axum::middleware::map_response(security_headers));
    r.merge(ui)
}

/// What the UI keeps in memory: the last audit verification and the
/// sign-in attempt counter.
#[derive(Default)]
pub struct UiState {
    verification: tokio::sync::Mutex<Option<audit::Cached>>,
    limiter: std::sync::Mutex<crate::throttle::Throttle>,
}

/// Headers on every UI response: no script, no inline style, no framing,
/// nothing from elsewhere; pages are not cached (they show live state).
async fn security_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    r
}

/// The person looking at a page (agents do not use the UI).
pub(crate) struct Me {
    /// As the API sees them.
    pub principal: Principal,
    /// User name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// The session's CSRF token; `None` when the page was fetched with an
    /// API token rather than a web session (then no form is offered).
    pub csrf: Option<String>,
}

impl Me {
    /// `user:NAME`.
    pub fn id(&self) -> String {
        self.principal.id()
    }
}

impl FromRequestParts<AppState> for Me {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Me, Response> {
        match parts.extensions.get::<Principal>().cloned() {
            None => {
                let next = parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/");
                let mut h = Html::new();
                h.raw("/login");
                if next != "/" {
                    h.raw("?next=").url_segment(next);
                }
                Err(see_other(h.finish().as_str()))
            }
            Some(Principal::Agent { .. }) => Err(UiError::new(
                StatusCode::FORBIDDEN,
                "Agents do not use the web UI: it is for people. Agents use the API with signed requests.",
            )
            .into_response()),
            Some(p @ Principal::User { .. }) => {
                let csrf = match &p {
                    Principal::User { token_id: None, .. } => {
                        crate::session::secret(&parts.headers).map(crate::session::csrf_token)
                    }
                    _ => None,
                };
                let (name, role) = match &p {
                    Principal::User { name, role, .. } => (name.clone(), *role),
                    Principal::Agent { .. } => (String::new(), Role::Viewer),
                };
                Ok(Me {
                    principal: p,
                    name,
                    role,
                    csrf,
                })
            }
        }
    }
}

/// A `303 See Other` to a path of ours.
pub(crate) fn see_other(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// An error shown as a page.
#[derive(Debug)]
pub(crate) struct UiError {
    status: StatusCode,
    message: String,
}

impl UiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> UiError {
        UiError {
            status,
            message: message.into(),
        }
    }
    pub fn not_found(message: impl Into<String>) -> UiError {
        UiError::new(StatusCode::NOT_FOUND, message)
    }
}

impl From<ApiError> for UiError {
    fn from(e: ApiError) -> UiError {
        UiError::new(e.status(), e.message)
    }
}

impl From<arbiter_store::StoreError> for UiError {
    fn from(e: arbiter_store::StoreError) -> UiError {
        ApiError::from(e).into()
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let mut body = Html::new();
        body.raw("<div class=\"card\"><h1>")
            .display(self.status.as_u16())
            .raw(" · ")
            .text(self.status.canonical_reason().unwrap_or("Error"))
            .raw("</h1><p>")
            .text(&self.message)
            .raw("</p><p><a href=\"/\">Back to the review queue</a></p></div>");
        let doc = document(None, Nav::None, "Error", None, &body.finish());
        (self.status, doc).into_response()
    }
}

/// Shorthand for page handlers.
pub(crate) type UiResult = Result<Response, UiError>;

/// The sections of the navigation bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nav {
    Queue,
    Changes,
    Stacks,
    Agents,
    Audit,
    Webhooks,
    None,
}

pub(crate) const LOGO: &str = "<svg viewBox=\"0 0 32 32\" aria-hidden=\"true\"><path d=\"M16 2 4 7v8c0 7.2 5 13.3 12 15 7-1.7 12-7.8 12-15V7z\" fill=\"#7986cb\"></path><path d=\"M16 2v28c7-1.7 12-7.8 12-15V7z\" fill=\"#5c6bc0\"></path><path d=\"m10.5 16.2 3.8 3.8 7.4-7.6\" fill=\"none\" stroke=\"#fff\" stroke-width=\"2.6\" stroke-linecap=\"round\" stroke-linejoin=\"round\"></path></svg>";

/// A whole HTML document: the navigation bar (when someone is signed in),
/// the page body and the footer.
pub(crate) fn document(
    me: Option<&Me>,
    active: Nav,
    title: &str,
    pending: Option<i64>,
    body: &Markup,
) -> axum::response::Html<String> {
    let mut h = Html::new();
    h.raw("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>")
        .text(title)
        .raw(" · Arbiter</title><link rel=\"stylesheet\" href=\"/ui/app.css?v=")
        .text(assets::css_version())
        .raw("\"><link rel=\"icon\" type=\"image/svg+xml\" href=\"/ui/favicon.svg\"></head><body><header class=\"topbar\"><a class=\"brand\" href=\"/\">")
        .raw(LOGO)
        .raw("Arbiter</a>");
    if let Some(me) = me {
        h.raw("<nav>");
        let items: [(Nav, &'static str, &'static str); 6] = [
            (Nav::Queue, "/", "Review queue"),
            (Nav::Changes, "/changes", "Changes"),
            (Nav::Stacks, "/stacks", "Stacks"),
            (Nav::Agents, "/agents", "Agents"),
            (Nav::Audit, "/audit", "Audit log"),
            (Nav::Webhooks, "/webhooks", "Webhooks"),
        ];
        for (nav, href, label) in items {
            h.raw("<a href=\"").raw(href).raw("\"");
            if nav == active {
                h.raw(" class=\"active\" aria-current=\"page\"");
            }
            h.raw(">").raw(label);
            if nav == Nav::Queue {
                if let Some(n) = pending.filter(|n| *n > 0) {
                    h.raw(" <span class=\"count\">").display(n).raw("</span>");
                }
            }
            h.raw("</a>");
        }
        h.raw("</nav><div class=\"me\"><span>")
            .text(&me.name)
            .raw("</span><span class=\"role\">")
            .raw(me.role.as_str())
            .raw("</span>");
        if let Some(csrf) = &me.csrf {
            h.raw("<form method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"csrf\" value=\"")
                .text(csrf)
                .raw("\"><button type=\"submit\">Sign out</button></form>");
        }
        h.raw("</div>");
    }
    h.raw("</header><main>")
        .markup(body)
        .raw("</main><footer>Arbiter ")
        .raw(env!("CARGO_PKG_VERSION"))
        .raw(" · <a href=\"/api/v1/openapi.json\">API</a> · <a href=\"/api/v1/audit/key\">audit key</a></footer></body></html>\n");
    axum::response::Html(h.finish().into_string())
}

/// A signed-in page: the document with the queue's size in the navigation.
pub(crate) async fn page(
    app: &AppState,
    me: &Me,
    active: Nav,
    title: &str,
    body: &Markup,
) -> Response {
    let pending = arbiter_store::changes::count_by_status(app.store.pool())
        .await
        .ok()
        .and_then(|c| {
            c.into_iter()
                .find(|(s, _)| *s == ChangeStatus::PendingReview)
                .map(|(_, n)| n)
        });
    document(Some(me), active, title, pending, body).into_response()
}

/// "just now", "5 min ago", "3 h ago", "2 d ago"; "in 5 min" for the future.
pub(crate) fn relative(ms: i64, now: i64) -> String {
    let d = now - ms;
    let (ahead, d) = if d < 0 { (true, -d) } else { (false, d) };
    let s = d / 1000;
    let text = if s < 45 {
        return if ahead {
            "in a moment".into()
        } else {
            "just now".into()
        };
    } else if s < 3600 {
        format!("{} min", (s + 30) / 60)
    } else if s < 86_400 * 2 {
        format!("{} h", (s + 1800) / 3600)
    } else {
        format!("{} d", (s + 43_200) / 86_400)
    };
    if ahead {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

/// An audit entry's time as the API's time type (the same instant).
pub(crate) fn audit_time(t: arbiter_audit::Timestamp) -> Timestamp {
    Timestamp::from_unix_ms(i64::try_from(t.unix_millis()).unwrap_or(i64::MAX))
}

/// `<time>` with the relative time as text and the exact one on hover.
pub(crate) fn time(h: &mut Html, t: &Timestamp, now: i64) {
    let text = t.to_string();
    h.raw("<time datetime=\"")
        .text(&text)
        .raw("\" title=\"")
        .text(&text)
        .raw("\">")
        .text(&relative(t.unix_ms(), now))
        .raw("</time>");
}

/// A submitter (`agent:NAME` links to the agent, `user:NAME` is a name).
pub(crate) fn principal(h: &mut Html, id: &str) {
    match id.strip_prefix("agent:") {
        Some(name) => {
            h.raw("<a href=\"/agents/")
                .url_segment(name)
                .raw("\">")
                .text(name)
                .raw("</a> <span class=\"tag\">agent</span>");
        }
        None => {
            h.raw("<span title=\"")
                .text(id)
                .raw("\">")
                .text(id.strip_prefix("user:").unwrap_or(id))
                .raw("</span>");
        }
    }
}

/// Which column a short list of change requests adds to the common ones.
pub(crate) enum Beside {
    /// The stack, after the number (on an agent's page).
    Stack,
    /// The submitter, after the status (on a stack's page).
    Submitter,
}

/// A short table of change requests (on a stack's or an agent's page):
/// number, status, the stack or the submitter, decision, confidence, age.
pub(crate) fn change_table(
    h: &mut Html,
    crs: &[arbiter_api::ChangeRequest],
    beside: Beside,
    now: i64,
) {
    h.raw(match beside {
        Beside::Stack => "<table class=\"grid list\"><thead><tr><th>Change</th><th>Stack</th><th>Status</th><th>Decision</th><th class=\"num\">Confidence</th><th>Submitted</th></tr></thead><tbody>\n",
        Beside::Submitter => "<table class=\"grid list\"><thead><tr><th>Change</th><th>Status</th><th>Submitter</th><th>Decision</th><th class=\"num\">Confidence</th><th>Submitted</th></tr></thead><tbody>\n",
    });
    for cr in crs {
        h.raw("<tr><td><a href=\"/changes/")
            .display(cr.id)
            .raw("\"><strong>#")
            .display(cr.id)
            .raw("</strong></a></td><td>");
        match beside {
            Beside::Stack => {
                stack_link(h, &cr.stack);
                h.raw("</td><td>").markup(&change_status_badge(cr.status));
            }
            Beside::Submitter => {
                h.markup(&change_status_badge(cr.status)).raw("</td><td>");
                principal(h, &cr.submitter);
            }
        }
        h.raw("</td><td>")
            .markup(&arbiter_report::html::decision_badge(cr.decision))
            .raw("</td><td class=\"num\">");
        match cr.confidence {
            Some(c) => h.text(&arbiter_report::html::format_confidence(c)),
            None => h.raw("—"),
        };
        h.raw("</td><td>");
        time(h, &cr.created_at, now);
        h.raw("</td></tr>\n");
    }
    h.raw("</tbody></table>");
}

/// A link to a stack.
pub(crate) fn stack_link(h: &mut Html, name: &str) {
    h.raw("<a href=\"/stacks/")
        .url_segment(name)
        .raw("\">")
        .text(name)
        .raw("</a>");
}

/// An environment badge.
pub(crate) fn env_badge(h: &mut Html, env: Environment) {
    h.raw("<span class=\"env env-")
        .raw(env.as_str())
        .raw("\">")
        .raw(env.as_str())
        .raw("</span>");
}

/// A notice banner.
pub(crate) fn notice(h: &mut Html, kind: &'static str, text: &str) {
    h.raw("<div class=\"notice notice-")
        .raw(kind)
        .raw("\" role=\"status\">")
        .text(text)
        .raw("</div>");
}

/// Parses an `application/x-www-form-urlencoded` body.
pub(crate) fn form<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, UiError> {
    serde_urlencoded::from_bytes(body).map_err(|e| {
        UiError::new(
            StatusCode::BAD_REQUEST,
            format!("the form is incomplete: {e}"),
        )
    })
}

/// The checks every form POST passes before it does anything: it comes from
/// one of our pages (Origin), with a web session, and with that session's
/// CSRF token.
pub(crate) fn check_form(
    headers: &axum::http::HeaderMap,
    me: &Me,
    csrf: &str,
) -> Result<(), UiError> {
    if let Some(why) = crate::session::cross_origin(headers) {
        return Err(UiError::new(
            StatusCode::FORBIDDEN,
            format!("Refused: {why}."),
        ));
    }
    let Some(expected) = &me.csrf else {
        return Err(UiError::new(
            StatusCode::FORBIDDEN,
            "Refused: forms need a web session (sign in at /login); API tokens are for the API.",
        ));
    };
    if !crate::session::same_secret(expected, csrf) {
        return Err(UiError::new(
            StatusCode::FORBIDDEN,
            "Refused: the form's security token does not match your session (it may be from an older session, or from another site). Reload the page and try again.",
        ));
    }
    Ok(())
}

/// A badge for a change request's status, coloured by what it stands for.
pub(crate) fn change_status_badge(status: ChangeStatus) -> Markup {
    use arbiter_report::html::Tone;
    let tone = match status {
        ChangeStatus::Approved | ChangeStatus::Applied => Tone::Good,
        ChangeStatus::PendingReview => Tone::Wait,
        ChangeStatus::Rejected | ChangeStatus::ApplyFailed => Tone::Bad,
        ChangeStatus::Expired | ChangeStatus::Cancelled => Tone::Neutral,
    };
    arbiter_report::html::status_badge(status.as_str(), tone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ui_paths_do_not_swallow_the_api() {
        for p in [
            "/",
            "/login",
            "/changes",
            "/changes/3",
            "/audit",
            "/ui/app.css",
            "/stacks/web",
            "/stacks/web/states/diff",
            "/webhooks/1",
        ] {
            assert!(is_ui_path(p), "{p}");
        }
        for p in [
            "/api/v1/stacks",
            "/healthz",
            "/metrics",
            "/loginx",
            "/changesets",
            "/auditor",
        ] {
            assert!(!is_ui_path(p), "{p}");
        }
        for (_, p) in PAGES {
            assert!(
                is_ui_path(&p.replace("{id}", "1").replace("{name}", "x")),
                "{p}"
            );
        }
    }

    #[test]
    fn times_show_the_instant_and_read_relatively() {
        let now = 1_796_137_396_123;
        let mut h = Html::new();
        time(&mut h, &Timestamp::from_unix_ms(now - 300_000), now);
        assert_eq!(
            h.finish().as_str(),
            "<time datetime=\"2026-12-01T14:58:16.123Z\" title=\"2026-12-01T14:58:16.123Z\">5 min ago</time>"
        );
        let t = arbiter_audit::Timestamp::parse("2000-02-29T00:00:00.000Z").map(super::audit_time);
        assert_eq!(t.map(Timestamp::unix_ms), Ok(951_782_400_000));
        assert_eq!(relative(now - 10_000, now), "just now");
        assert_eq!(relative(now - 300_000, now), "5 min ago");
        assert_eq!(relative(now - 3 * 3_600_000, now), "3 h ago");
        assert_eq!(relative(now - 5 * 86_400_000, now), "5 d ago");
        assert_eq!(relative(now + 7_200_000, now), "in 2 h");
    }
}
