//! The HTTP routes under `/api/v1`, plus `/healthz` and `/metrics`.

mod agents;
mod audit;
pub(crate) mod changes;
mod people;
mod policies;
mod stacks;
pub(crate) mod states;
mod system;
pub(crate) mod waivers;
pub(crate) mod webhooks;

use crate::error::{ApiError, ApiResult};
use crate::AppState;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

/// Every API route: method and path (as in the OpenAPI document). The
/// router below must serve exactly these; a test checks both.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/api/v1/whoami"),
    ("GET", "/api/v1/stacks"),
    ("POST", "/api/v1/stacks"),
    ("GET", "/api/v1/stacks/{name}"),
    ("PATCH", "/api/v1/stacks/{name}"),
    ("GET", "/api/v1/stacks/{name}/states"),
    ("POST", "/api/v1/stacks/{name}/states"),
    ("GET", "/api/v1/stacks/{name}/states/diff"),
    ("GET", "/api/v1/stacks/{name}/states/{version}"),
    ("POST", "/api/v1/stacks/{name}/rollback"),
    ("GET", "/api/v1/stacks/{name}/waivers"),
    ("POST", "/api/v1/stacks/{name}/waivers"),
    ("DELETE", "/api/v1/stacks/{name}/waivers/{id}"),
    ("GET", "/api/v1/policy-sets"),
    ("GET", "/api/v1/policy-sets/{name}"),
    ("PUT", "/api/v1/policy-sets/{name}"),
    ("GET", "/api/v1/users"),
    ("POST", "/api/v1/users"),
    ("GET", "/api/v1/tokens"),
    ("POST", "/api/v1/tokens"),
    ("DELETE", "/api/v1/tokens/{id}"),
    ("GET", "/api/v1/agents"),
    ("POST", "/api/v1/agents"),
    ("GET", "/api/v1/agents/{name}"),
    ("PATCH", "/api/v1/agents/{name}"),
    ("POST", "/api/v1/agents/{name}/revoke"),
    ("POST", "/api/v1/agents/{name}/keys/{key_id}/revoke"),
    ("POST", "/api/v1/evaluate"),
    ("POST", "/api/v1/change-requests"),
    ("GET", "/api/v1/change-requests"),
    ("GET", "/api/v1/change-requests/{id}"),
    ("POST", "/api/v1/change-requests/{id}/approve"),
    ("POST", "/api/v1/change-requests/{id}/reject"),
    ("POST", "/api/v1/change-requests/{id}/cancel"),
    ("GET", "/api/v1/reviews"),
    ("GET", "/api/v1/audit/key"),
    ("GET", "/api/v1/audit/head"),
    ("GET", "/api/v1/audit/export"),
    ("GET", "/api/v1/audit/subjects/{subject}"),
    ("GET", "/api/v1/webhooks"),
    ("POST", "/api/v1/webhooks"),
    ("GET", "/api/v1/webhooks/{id}"),
    ("DELETE", "/api/v1/webhooks/{id}"),
    ("GET", "/api/v1/webhooks/{id}/deliveries"),
    ("POST", "/api/v1/webhooks/{id}/test"),
];

/// The application.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/healthz", get(system::healthz))
        .route("/metrics", get(system::metrics))
        .route("/api/v1/openapi.json", get(system::openapi))
        .route("/api/v1/whoami", get(system::whoami))
        .route("/api/v1/stacks", get(stacks::list).post(stacks::create))
        .route(
            "/api/v1/stacks/{name}",
            get(stacks::show).patch(stacks::update),
        )
        .route(
            "/api/v1/stacks/{name}/states",
            get(states::list).post(states::push),
        )
        .route("/api/v1/stacks/{name}/states/diff", get(states::diff))
        .route("/api/v1/stacks/{name}/states/{version}", get(states::show))
        .route("/api/v1/stacks/{name}/rollback", post(states::rollback))
        .route(
            "/api/v1/stacks/{name}/waivers",
            get(waivers::list).post(waivers::create),
        )
        .route(
            "/api/v1/stacks/{name}/waivers/{id}",
            axum::routing::delete(waivers::revoke),
        )
        .route("/api/v1/policy-sets", get(policies::list))
        .route(
            "/api/v1/policy-sets/{name}",
            get(policies::show).put(policies::put),
        )
        .route(
            "/api/v1/users",
            get(people::list_users).post(people::create_user),
        )
        .route(
            "/api/v1/tokens",
            get(people::list_tokens).post(people::create_token),
        )
        .route(
            "/api/v1/tokens/{id}",
            axum::routing::delete(people::revoke_token),
        )
        .route("/api/v1/agents", get(agents::list).post(agents::create))
        .route(
            "/api/v1/agents/{name}",
            get(agents::show).patch(agents::update),
        )
        .route("/api/v1/agents/{name}/revoke", post(agents::revoke))
        .route(
            "/api/v1/agents/{name}/keys/{key_id}/revoke",
            post(agents::revoke_key),
        )
        .route("/api/v1/evaluate", post(changes::dry_run))
        .route(
            "/api/v1/change-requests",
            post(changes::submit).get(changes::list),
        )
        .route("/api/v1/change-requests/{id}", get(changes::show))
        .route(
            "/api/v1/change-requests/{id}/approve",
            post(changes::approve),
        )
        .route("/api/v1/change-requests/{id}/reject", post(changes::reject))
        .route("/api/v1/change-requests/{id}/cancel", post(changes::cancel))
        .route("/api/v1/reviews", get(changes::queue))
        .route("/api/v1/audit/key", get(audit::key))
        .route("/api/v1/audit/head", get(audit::head))
        .route("/api/v1/audit/export", get(audit::export))
        .route("/api/v1/audit/subjects/{subject}", get(audit::by_subject))
        .route(
            "/api/v1/webhooks",
            get(webhooks::list).post(webhooks::create),
        )
        .route(
            "/api/v1/webhooks/{id}",
            get(webhooks::show).delete(webhooks::delete),
        )
        .route(
            "/api/v1/webhooks/{id}/deliveries",
            get(webhooks::deliveries),
        )
        .route("/api/v1/webhooks/{id}/test", post(webhooks::test));
    crate::ui::routes(api)
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::auth::authenticate,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint; see /api/v1/openapi.json")
}

/// Timeout, metrics and one log line per request (method, path, status,
/// milliseconds; never headers or bodies, which carry tokens and plans).
async fn observe(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let t = std::time::Instant::now();
    let resp = match tokio::time::timeout(app.config.request_timeout, next.run(req)).await {
        Ok(r) => r,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            format!(
                "the request took longer than {:?}",
                app.config.request_timeout
            ),
        )
        .into_response(),
    };
    let status = resp.status().as_u16();
    app.metrics.http(status);
    if status == 401 {
        app.metrics.signature_refused();
    }
    tracing::info!(%method, %path, status, ms = t.elapsed().as_secs_f64() * 1e3, "request");
    resp
}

/// Parses a JSON body, saying where it is wrong.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_json",
            "the request needs a JSON body",
        ));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request("invalid_json", format!("request body: {e}")))
}

/// Names of stacks, agents, users and policy sets: 1–100 characters of
/// `A-Z a-z 0-9 . _ -`, starting with a letter or digit.
pub fn check_name(what: &str, name: &str) -> ApiResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "{what} name {name:?} must be 1-100 characters of A-Z a-z 0-9 . _ - starting with a letter or digit"
        )))
    }
}
