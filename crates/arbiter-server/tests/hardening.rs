//! Hardening against hostile requests, bodies and load (issue 10), over
//! real HTTP against real databases (SQLite, and PostgreSQL when
//! installed). Every test talks to 127.0.0.1 only.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{backends, spawn, submission, App};
use serde_json::json;

async fn with_agent(app: &App) -> arbiter_api::AgentKey {
    app.stack("web", "dev", json!({})).await;
    app.agent(
        "bot",
        1,
        json!({"stacks": ["web"]}),
        json!({"submissions_per_minute": 1000, "blast_radius_per_hour": 100000}),
    )
    .await
}

/// Finding 7: a timestamp far from now is refused whatever its size; the
/// distance to the server's clock never wraps into the window.
#[tokio::test]
async fn extreme_signature_timestamps_are_refused() {
    for backend in backends().await {
        let app = spawn(backend, |_| {}).await;
        let key = with_agent(&app).await;
        let body = submission("web", "tags-only-update");
        let now = common::now();
        let w = arbiter_api::MAX_CLOCK_SKEW_SECS;
        for ts in [
            i64::MIN,
            i64::MAX,
            i64::MIN + now,
            i64::MIN + now + 1,
            now - w - 1,
            now + w + 1,
        ] {
            let nonce = arbiter_api::signing::new_nonce().unwrap();
            let r = app
                .signed_with(&key, "POST", "/api/v1/evaluate", &body, ts, &nonce, &[])
                .await;
            assert_eq!(
                (r.status, r.code()),
                (401, "timestamp_out_of_range"),
                "{backend}: timestamp {ts}: {:?}",
                r.body
            );
        }
        let r = app
            .signed(&key, "POST", "/api/v1/evaluate", &body, &[])
            .await;
        assert_eq!(r.status, 200, "{backend}: {:?}", r.body);
    }
}
