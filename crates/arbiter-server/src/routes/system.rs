//! Health, metrics, the OpenAPI document, the verdict's JSON Schema, and
//! "who am I".

use crate::auth::Principal;
use crate::error::ApiResult;
use crate::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::{Extension, Json};

/// `GET /healthz`: 200 when the database answers.
pub async fn healthz(State(app): State<AppState>) -> ApiResult<Json<serde_json::Value>> {
    let (seq, _) = arbiter_store::audit::head(app.store.pool()).await?;
    Ok(Json(serde_json::json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "database": match app.store.backend() { arbiter_store::Backend::Sqlite => "sqlite", arbiter_store::Backend::Postgres => "postgres" },
        "audit_entries": seq,
    })))
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(app): State<AppState>) -> ApiResult<impl IntoResponse> {
    let statuses = arbiter_store::changes::count_by_status(app.store.pool()).await?;
    let mut text = app.metrics.render(&statuses);
    let phases = arbiter_store::runs::count_by_phase(app.store.pool()).await?;
    app.metrics.render_runs(&mut text, &phases);
    app.admission.render(&mut text);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text))
}

/// `GET /api/v1/openapi.json`.
pub async fn openapi() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::openapi::DOCUMENT,
    )
}

/// `GET /api/v1/schemas/verdict.json`: the JSON Schema of a verdict,
/// generated from the types (public, like the OpenAPI document that refers
/// to it; `docs/schemas/verdict.json` is the same document).
pub async fn verdict_schema() -> impl IntoResponse {
    static SCHEMA: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    (
        [(header::CONTENT_TYPE, "application/schema+json")],
        SCHEMA
            .get_or_init(arbiter_verdict::schema::verdict_schema_json)
            .as_str(),
    )
}

/// `GET /api/v1/whoami`.
pub async fn whoami(Extension(p): Extension<Principal>) -> Json<serde_json::Value> {
    Json(match &p {
        Principal::User { name, role, .. } => {
            serde_json::json!({"kind": "user", "id": p.id(), "name": name, "role": role})
        }
        Principal::Agent {
            name,
            key_id,
            scope,
            limits,
        } => serde_json::json!({
            "kind": "agent", "id": p.id(), "name": name, "key_id": key_id, "scope": scope, "limits": limits}),
    })
}
