//! The HTTP routes under `/api/v1`, plus `/healthz` and `/metrics`.

mod agents;
mod audit;
mod backend;
mod backtests;
pub(crate) mod bundles;
pub(crate) mod changes;
mod people;
pub(crate) mod policies;
pub(crate) mod runs;
mod stacks;
pub(crate) mod states;
mod system;
pub(crate) mod waivers;
pub(crate) mod webhooks;

use crate::error::{ApiError, ApiResult};
use crate::AppState;
use arbiter_api::ErrorCode;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::handler::Handler;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter};
use axum::Router;

/// Every API route: method and path (as in the OpenAPI document). The
/// router below must serve exactly these; a test checks both.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/api/v1/schemas/verdict.json"),
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
    ("POST", "/api/v1/backtests"),
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
    ("POST", "/api/v1/agents/{name}/tokens"),
    ("POST", "/mcp"),
    ("GET", "/mcp"),
    ("DELETE", "/mcp"),
    ("GET", "/api/v1/runs"),
    ("POST", "/api/v1/runs/claim"),
    ("GET", "/api/v1/runs/{id}"),
    ("GET", "/api/v1/runs/{id}/logs"),
    ("POST", "/api/v1/runs/{id}/logs"),
    ("POST", "/api/v1/runs/{id}/confirm"),
    ("POST", "/api/v1/runs/{id}/cancel"),
    ("GET", "/api/v1/runs/{id}/judged-plan"),
    ("POST", "/api/v1/runs/{id}/heartbeat"),
    ("POST", "/api/v1/runs/{id}/phase"),
    ("POST", "/api/v1/runs/{id}/revision"),
    ("PUT", "/api/v1/bundles/{sha256}"),
    ("GET", "/api/v1/bundles/{sha256}"),
    ("POST", "/api/v1/worker-pools"),
    ("GET", "/api/v1/worker-pools/{name}/tokens"),
    ("DELETE", "/api/v1/worker-pools/{name}/tokens/{id}"),
    ("GET", "/api/v1/stacks/{name}/tfstate"),
    ("POST", "/api/v1/stacks/{name}/tfstate"),
    ("LOCK", "/api/v1/stacks/{name}/tfstate"),
    ("UNLOCK", "/api/v1/stacks/{name}/tfstate"),
    ("POST", "/api/v1/stacks/{name}/backend-credentials"),
];

/// The bundle upload's path: its body limit is `--bundle-max-bytes`
/// (checked by the intake), not the API's.
const BUNDLE_PATH: &str = "/api/v1/bundles/{sha256}";

/// The API's routes, each added with its method, so that what is served is
/// known: [`served`] lists it and a test compares it with [`ROUTES`].
struct Api {
    paths: std::collections::BTreeMap<&'static str, MethodRouter<AppState>>,
    served: Vec<(&'static str, &'static str)>,
}

impl Api {
    fn new() -> Api {
        Api {
            paths: Default::default(),
            served: Vec::new(),
        }
    }

    /// Serves `handler` for `method` (GET, POST, PUT, PATCH, DELETE, and
    /// the state backend's LOCK and UNLOCK) on `path`.
    fn add<H, T>(mut self, method: &'static str, path: &'static str, handler: H) -> Api
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        if matches!(method, "LOCK" | "UNLOCK") {
            // No method filter exists for these: the path's fallback
            // serves them (and refuses any other method).
            let mr = self.paths.remove(path).unwrap_or_default();
            self.paths.insert(path, mr.fallback(handler));
            self.served.push((method, path));
            return self;
        }
        let filter = match method {
            "GET" => MethodFilter::GET,
            "POST" => MethodFilter::POST,
            "PUT" => MethodFilter::PUT,
            "PATCH" => MethodFilter::PATCH,
            // The only other method the API uses.
            _ => MethodFilter::DELETE,
        };
        let mr = self.paths.remove(path).unwrap_or_default();
        self.paths.insert(path, mr.on(filter, handler));
        self.served.push((method, path));
        self
    }

    fn router(self) -> Router<AppState> {
        self.paths.into_iter().fold(Router::new(), |r, (path, mr)| {
            if path == BUNDLE_PATH {
                r.route(path, mr.layer(DefaultBodyLimit::disable()))
            } else {
                r.route(path, mr)
            }
        })
    }
}

fn api() -> Api {
    Api::new()
        .add("GET", "/healthz", system::healthz)
        .add("GET", "/metrics", system::metrics)
        .add("GET", "/api/v1/openapi.json", system::openapi)
        .add(
            "GET",
            "/api/v1/schemas/verdict.json",
            system::verdict_schema,
        )
        .add("GET", "/api/v1/whoami", system::whoami)
        .add("GET", "/api/v1/stacks", stacks::list)
        .add("POST", "/api/v1/stacks", stacks::create)
        .add("GET", "/api/v1/stacks/{name}", stacks::show)
        .add("PATCH", "/api/v1/stacks/{name}", stacks::update)
        .add("GET", "/api/v1/stacks/{name}/states", states::list)
        .add("POST", "/api/v1/stacks/{name}/states", states::push)
        .add("GET", "/api/v1/stacks/{name}/states/diff", states::diff)
        .add(
            "GET",
            "/api/v1/stacks/{name}/states/{version}",
            states::show,
        )
        .add("POST", "/api/v1/stacks/{name}/rollback", states::rollback)
        .add("GET", "/api/v1/stacks/{name}/waivers", waivers::list)
        .add("POST", "/api/v1/stacks/{name}/waivers", waivers::create)
        .add(
            "DELETE",
            "/api/v1/stacks/{name}/waivers/{id}",
            waivers::revoke,
        )
        .add("GET", "/api/v1/policy-sets", policies::list)
        .add("GET", "/api/v1/policy-sets/{name}", policies::show)
        .add("PUT", "/api/v1/policy-sets/{name}", policies::put)
        .add("POST", "/api/v1/backtests", backtests::run)
        .add("GET", "/api/v1/users", people::list_users)
        .add("POST", "/api/v1/users", people::create_user)
        .add("GET", "/api/v1/tokens", people::list_tokens)
        .add("POST", "/api/v1/tokens", people::create_token)
        .add("DELETE", "/api/v1/tokens/{id}", people::revoke_token)
        .add("GET", "/api/v1/agents", agents::list)
        .add("POST", "/api/v1/agents", agents::create)
        .add("GET", "/api/v1/agents/{name}", agents::show)
        .add("PATCH", "/api/v1/agents/{name}", agents::update)
        .add("POST", "/api/v1/agents/{name}/revoke", agents::revoke)
        .add(
            "POST",
            "/api/v1/agents/{name}/keys/{key_id}/revoke",
            agents::revoke_key,
        )
        .add("POST", "/api/v1/evaluate", changes::dry_run)
        .add("POST", "/api/v1/change-requests", changes::submit)
        .add("GET", "/api/v1/change-requests", changes::list)
        .add("GET", "/api/v1/change-requests/{id}", changes::show)
        .add(
            "POST",
            "/api/v1/change-requests/{id}/approve",
            changes::approve,
        )
        .add(
            "POST",
            "/api/v1/change-requests/{id}/reject",
            changes::reject,
        )
        .add(
            "POST",
            "/api/v1/change-requests/{id}/cancel",
            changes::cancel,
        )
        .add("GET", "/api/v1/reviews", changes::queue)
        .add("GET", "/api/v1/audit/key", audit::key)
        .add("GET", "/api/v1/audit/head", audit::head)
        .add("GET", "/api/v1/audit/export", audit::export)
        .add("GET", "/api/v1/audit/subjects/{subject}", audit::by_subject)
        .add("GET", "/api/v1/webhooks", webhooks::list)
        .add("POST", "/api/v1/webhooks", webhooks::create)
        .add("GET", "/api/v1/webhooks/{id}", webhooks::show)
        .add("DELETE", "/api/v1/webhooks/{id}", webhooks::delete)
        .add(
            "GET",
            "/api/v1/webhooks/{id}/deliveries",
            webhooks::deliveries,
        )
        .add("POST", "/api/v1/webhooks/{id}/test", webhooks::test)
        .add(
            "POST",
            "/api/v1/agents/{name}/tokens",
            crate::mcp::tokens::mint,
        )
        .add("POST", "/mcp", crate::mcp::endpoint)
        .add("GET", "/mcp", crate::mcp::endpoint)
        .add("DELETE", "/mcp", crate::mcp::endpoint)
        .add("GET", "/api/v1/runs", runs::list)
        .add("POST", "/api/v1/runs/claim", runs::claim)
        .add("GET", "/api/v1/runs/{id}", runs::show)
        .add("GET", "/api/v1/runs/{id}/logs", runs::logs)
        .add("POST", "/api/v1/runs/{id}/logs", runs::append_log)
        .add("POST", "/api/v1/runs/{id}/confirm", runs::confirm)
        .add("POST", "/api/v1/runs/{id}/cancel", runs::cancel)
        .add("GET", "/api/v1/runs/{id}/judged-plan", runs::judged_plan)
        .add("POST", "/api/v1/runs/{id}/heartbeat", runs::heartbeat)
        .add("POST", "/api/v1/runs/{id}/phase", runs::phase)
        .add("POST", "/api/v1/runs/{id}/revision", runs::revision)
        .add("PUT", BUNDLE_PATH, bundles::put)
        .add("GET", BUNDLE_PATH, bundles::get)
        .add("POST", "/api/v1/worker-pools", runs::create_pool)
        .add(
            "GET",
            "/api/v1/worker-pools/{name}/tokens",
            runs::list_pool_tokens,
        )
        .add(
            "DELETE",
            "/api/v1/worker-pools/{name}/tokens/{id}",
            runs::revoke_pool_token,
        )
        .add("GET", "/api/v1/stacks/{name}/tfstate", backend::get)
        .add("POST", "/api/v1/stacks/{name}/tfstate", backend::post)
        .add(
            "LOCK",
            "/api/v1/stacks/{name}/tfstate",
            backend::lock_or_unlock,
        )
        .add(
            "UNLOCK",
            "/api/v1/stacks/{name}/tfstate",
            backend::lock_or_unlock,
        )
        .add(
            "POST",
            "/api/v1/stacks/{name}/backend-credentials",
            backend::create_credentials,
        )
}

/// Every (method, path) the router serves under the API, in the order they
/// are added.
pub fn served() -> Vec<(&'static str, &'static str)> {
    api().served
}

/// The application.
pub fn router(state: AppState) -> Router {
    // The MCP tools call the API in process, through the same router and
    // middleware (see crate::mcp).
    let mcp = crate::mcp::http_service(&state, app(state.clone()));
    app(state).layer(axum::Extension(mcp))
}

/// The routes and their middleware.
fn app(state: AppState) -> Router {
    let api = api().router();
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

/// The request id header: taken from the client when it is well formed,
/// generated otherwise, and returned on every answer.
pub const REQUEST_ID: &str = "x-request-id";

/// A client's request id is kept when it is 1–128 characters of
/// `A-Z a-z 0-9 . _ : -` (no room for log injection); otherwise a random
/// one is made.
fn request_id(req: &Request) -> String {
    req.headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 128
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
        })
        .map(String::from)
        .unwrap_or_else(|| {
            let mut b = [0u8; 12];
            match getrandom::fill(&mut b) {
                Ok(()) => hex::encode(b),
                Err(_) => format!("{:x}", arbiter_store::now_ms()),
            }
        })
}

/// Request id, timeout, metrics, a `request` span around the whole request
/// (so every log line of it carries the id, method and path) and one log
/// line per request with its status and milliseconds; never headers or
/// bodies, which carry tokens and plans.
async fn observe(State(app): State<AppState>, req: Request, next: Next) -> Response {
    use tracing::Instrument;
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let id = request_id(&req);
    let span = tracing::info_span!("request", id = %id, %method, %path);
    let t = std::time::Instant::now();
    let run =
        tokio::time::timeout(app.config.request_timeout, next.run(req)).instrument(span.clone());
    let mut resp = match run.await {
        Ok(r) => r,
        Err(_) => ApiError::new(
            ErrorCode::Timeout,
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
    span.in_scope(|| {
        tracing::info!(status, ms = t.elapsed().as_secs_f64() * 1e3, "request");
    });
    if let Ok(v) = axum::http::HeaderValue::from_str(&id) {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
    resp
}

/// Parses a JSON body, saying where it is wrong.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    if body.is_empty() {
        return Err(ApiError::new(
            ErrorCode::InvalidJson,
            "the request needs a JSON body",
        ));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::new(ErrorCode::InvalidJson, format!("request body: {e}")))
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
