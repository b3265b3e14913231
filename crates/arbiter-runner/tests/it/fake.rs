//! A stand-in for the Arbiter server's worker endpoints and Terraform HTTP
//! state backend, speaking the real protocol (`arbiter_api::runs`), for
//! testing the worker on a branch where the server side is not merged yet.
//! TEMPORARY: the end-to-end tests against the real server replace it.

use arbiter_api::runs::*;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

pub const TOKEN: &str = "pool-token-abc";
pub const BACKEND_USER: &str = "run-1";
pub const BACKEND_PASSWORD: &str = "backend-password-9f8e7d";

#[derive(Default)]
pub struct World {
    pub bundles: BTreeMap<String, Vec<u8>>,
    pub judged: Vec<u8>,
    pub phase: Option<RunPhase>,
    pub reports: Vec<PhaseReport>,
    pub log: String,
    pub revisions: Vec<serde_json::Value>,
    pub cancel: bool,
    pub state: Option<Vec<u8>>,
    pub state_writes: u32,
    pub lock: Option<String>,
    pub lease: String,
    pub run: serde_json::Value,
}

pub type Shared = Arc<Mutex<World>>;

pub struct Fake {
    pub base: String,
    pub world: Shared,
}

impl Fake {
    pub async fn start() -> Fake {
        let world: Shared = Arc::new(Mutex::new(World {
            phase: Some(RunPhase::Preparing),
            lease: "lease-1".into(),
            ..World::default()
        }));
        let app = Router::new()
            .route("/api/v1/bundles/{sha}", get(bundle))
            .route("/api/v1/runs/{id}/judged-plan", get(judged))
            .route("/api/v1/runs/{id}/heartbeat", post(heartbeat))
            .route("/api/v1/runs/{id}/phase", post(phase))
            .route("/api/v1/runs/{id}/logs", post(logs))
            .route("/api/v1/runs/{id}/revision", post(revision))
            .fallback(tfstate)
            .with_state(world.clone());
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        tokio::spawn(async move {
            axum::serve(l, app).await.unwrap();
        });
        Fake { base, world }
    }

    pub fn api(&self) -> arbiter_runner::WorkerApi {
        arbiter_runner::WorkerApi::new(&self.base, TOKEN).unwrap()
    }

    pub fn backend(&self) -> BackendCredentials {
        BackendCredentials {
            address: format!("{}/api/v1/stacks/web/tfstate", self.base),
            username: BACKEND_USER.into(),
            password: BACKEND_PASSWORD.into(),
        }
    }

    pub fn claim(&self, source: RunSource) -> Claim {
        let run: Run = serde_json::from_value(serde_json::json!({
            "id": 1, "change_request": 7, "revision": 1, "stack": "web", "kind": "apply",
            "phase": "preparing", "source": source, "confirmation": {"state": "not_needed"},
            "pool": "default", "cancel_requested": false, "phases": [],
            "created_at": "2026-12-06T17:00:00.000Z", "updated_at": "2026-12-06T17:00:00.000Z"
        }))
        .unwrap();
        self.w().run = serde_json::to_value(&run).unwrap();
        Claim {
            run,
            lease: "lease-1".into(),
            variables: BTreeMap::from([("greeting".to_string(), "hello".to_string())]),
            secret_env: vec![],
            secret_files: BTreeMap::new(),
            tool: ToolKind::Terraform,
            tool_path: None,
            backend: self.backend(),
            timeouts: PhaseTimeouts {
                preparing: 60,
                initialising: 120,
                planning: 120,
                applying: 120,
            },
            verification: None,
            heartbeat_secs: 1,
        }
    }

    pub fn w(&self) -> std::sync::MutexGuard<'_, World> {
        self.world.lock().unwrap()
    }
}

fn authed(h: &HeaderMap) -> bool {
    h.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {TOKEN}"))
}

fn err(status: StatusCode, m: &str) -> Response {
    (status, Json(serde_json::json!({"error": m}))).into_response()
}

async fn bundle(State(w): State<Shared>, h: HeaderMap, Path(sha): Path<String>) -> Response {
    if !authed(&h) {
        return err(StatusCode::UNAUTHORIZED, "token");
    }
    match w.lock().unwrap().bundles.get(&sha) {
        Some(b) => b.clone().into_response(),
        None => err(StatusCode::NOT_FOUND, "no such bundle"),
    }
}

async fn judged(State(w): State<Shared>, h: HeaderMap, uri: Uri) -> Response {
    let w = w.lock().unwrap();
    if !authed(&h)
        || !uri
            .query()
            .unwrap_or("")
            .contains(&format!("lease={}", w.lease))
    {
        return err(StatusCode::UNAUTHORIZED, "token or lease");
    }
    w.judged.clone().into_response()
}

async fn heartbeat(State(w): State<Shared>, h: HeaderMap, Json(b): Json<Heartbeat>) -> Response {
    let w = w.lock().unwrap();
    if !authed(&h) || b.lease != w.lease {
        return err(StatusCode::CONFLICT, "lease");
    }
    Json(HeartbeatAck {
        cancel_requested: w.cancel,
    })
    .into_response()
}

async fn phase(State(w): State<Shared>, h: HeaderMap, Json(r): Json<PhaseReport>) -> Response {
    let mut w = w.lock().unwrap();
    if !authed(&h) || r.lease != w.lease {
        return err(StatusCode::CONFLICT, "lease");
    }
    if w.phase != Some(r.from) || !r.from.can_move_to(r.to) {
        return err(
            StatusCode::CONFLICT,
            &format!("{} → {} is not legal now", r.from, r.to),
        );
    }
    w.phase = Some(r.to);
    w.reports.push(r.clone());
    w.run["phase"] = serde_json::json!(r.to);
    Json(w.run.clone()).into_response()
}

async fn logs(State(w): State<Shared>, h: HeaderMap, Json(c): Json<LogChunk>) -> Response {
    let mut w = w.lock().unwrap();
    if !authed(&h) || c.lease != w.lease {
        return err(StatusCode::CONFLICT, "lease");
    }
    let len = w.log.len() as u64;
    if c.offset > len {
        return err(StatusCode::CONFLICT, "gap in the log");
    }
    let skip = (len - c.offset) as usize;
    if skip < c.text.len() {
        let part = c.text[skip..].to_string();
        w.log.push_str(&part);
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn revision(
    State(w): State<Shared>,
    h: HeaderMap,
    Json(r): Json<serde_json::Value>,
) -> Response {
    let mut w = w.lock().unwrap();
    if !authed(&h) || r["lease"] != serde_json::json!(w.lease) {
        return err(StatusCode::CONFLICT, "lease");
    }
    if w.phase != Some(RunPhase::Checking) {
        return err(StatusCode::CONFLICT, "a revision comes from a checking run");
    }
    w.revisions.push(r["plan"].clone());
    // As the contract says: the run is discarded.
    w.phase = Some(RunPhase::Discarded);
    Json(RevisionAck {
        change_request: 7,
        revision: 1 + w.revisions.len() as i64,
        decision: arbiter_api::Decision::Review,
        run: None,
    })
    .into_response()
}

/// Terraform's HTTP backend: GET/POST state, LOCK/UNLOCK (basic auth).
async fn tfstate(
    State(w): State<Shared>,
    method: Method,
    uri: Uri,
    h: HeaderMap,
    body: Bytes,
) -> Response {
    if uri.path() != "/api/v1/stacks/web/tfstate" {
        return err(StatusCode::NOT_FOUND, "no route");
    }
    use base64::Engine;
    let want = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode(format!("{BACKEND_USER}:{BACKEND_PASSWORD}"))
    );
    if h.get("authorization").and_then(|v| v.to_str().ok()) != Some(want.as_str()) {
        return err(StatusCode::UNAUTHORIZED, "backend credentials");
    }
    let mut w = w.lock().unwrap();
    match method.as_str() {
        "GET" => match &w.state {
            Some(s) => s.clone().into_response(),
            None => StatusCode::NO_CONTENT.into_response(),
        },
        "POST" => {
            w.state = Some(body.to_vec());
            w.state_writes += 1;
            StatusCode::OK.into_response()
        }
        "LOCK" => {
            if let Some(l) = &w.lock {
                return (StatusCode::LOCKED, l.clone()).into_response();
            }
            w.lock = Some(String::from_utf8_lossy(&body).into_owned());
            StatusCode::OK.into_response()
        }
        "UNLOCK" => {
            w.lock = None;
            StatusCode::OK.into_response()
        }
        _ => err(StatusCode::METHOD_NOT_ALLOWED, "method"),
    }
}
