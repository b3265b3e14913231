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

/// Finding 9: every number that comes in is checked against its range at
/// the edge; one too large for the audit log (above 2^53) or for the
/// arithmetic done with it is a 422 naming the field, never a 500.
#[tokio::test]
async fn out_of_range_numbers_are_refused_naming_the_field() {
    const BIG: u64 = (1 << 53) + 1;
    for backend in backends().await {
        let app = spawn(backend, |_| {}).await;
        let _key = with_agent(&app).await;
        let admin = Some(app.admin.as_str());
        let check = |what: String, r: common::Resp, field: &str| {
            assert_eq!(
                r.status, 422,
                "{backend}: {what}: expected 422 naming {field}, got {:?}",
                r.body
            );
            let m = r.body["error"]["message"].as_str().unwrap_or("");
            assert!(m.contains(field), "{backend}: {what}: {m}");
        };
        // Stacks, created and updated.
        for (field, v) in [
            ("ttl_seconds", json!(BIG)),
            ("ttl_seconds", json!(i64::MAX)),
            ("ttl_seconds", json!(0)),
            ("monthly_budget_usd", json!(1e300)),
            ("monthly_budget_usd", json!(-1)),
            ("auto_apply_threshold", json!(1e300)),
        ] {
            let mut spec = json!({"name": "s1", "environment": "ephemeral"});
            spec[field] = v.clone();
            let r = app.req("POST", "/api/v1/stacks", admin, Some(&spec)).await;
            check(format!("create stack {field}={v}"), r, field);
            let r = app
                .req(
                    "PATCH",
                    "/api/v1/stacks/web",
                    admin,
                    Some(&json!({ field: v })),
                )
                .await;
            check(format!("update stack {field}={v}"), r, field);
        }
        let r = app
            .req(
                "PATCH",
                "/api/v1/stacks/web",
                admin,
                Some(&json!({"if_version": BIG})),
            )
            .await;
        check("if_version".into(), r, "if_version");
        // Tokens.
        for v in [json!(BIG), json!(i64::MAX)] {
            let r = app
                .req(
                    "POST",
                    "/api/v1/tokens",
                    admin,
                    Some(&json!({"expires_in_seconds": v})),
                )
                .await;
            check(format!("expires_in_seconds={v}"), r, "expires_in_seconds");
        }
        // Agents: scope and limits, created and updated.
        let pk = arbiter_api::AgentKey::from_seed([9; 32]).public().to_pem();
        for (part, field, v) in [
            ("scope", "max_blast_radius", json!(BIG)),
            ("scope", "max_blast_radius", json!(u64::MAX)),
            ("scope", "max_monthly_cost_increase_usd", json!(1e300)),
            ("scope", "max_ttl_seconds", json!(BIG)),
            ("scope", "max_ttl_seconds", json!(i64::MAX)),
            ("limits", "blast_radius_per_hour", json!(BIG)),
            ("limits", "blast_radius_per_hour", json!(u64::MAX)),
            ("limits", "submissions_per_minute", json!(u32::MAX)),
        ] {
            let mut spec =
                json!({"name": "a2", "public_key": pk, "scope": {"stacks": ["*"]}, "limits": {}});
            spec[part][field] = v.clone();
            let r = app.req("POST", "/api/v1/agents", admin, Some(&spec)).await;
            check(format!("create agent {part}.{field}={v}"), r, field);
            let mut up = json!({ part: {} });
            if part == "scope" {
                up["scope"]["stacks"] = json!(["web"]);
            }
            up[part][field] = v.clone();
            let r = app
                .req("PATCH", "/api/v1/agents/bot", admin, Some(&up))
                .await;
            check(format!("update agent {part}.{field}={v}"), r, field);
        }
        // A state's serial beyond 2^53.
        let state = json!({"state": {"version": 4, "serial": BIG, "lineage": "l", "terraform_version": "1.11.4", "outputs": {}, "resources": []}});
        let r = app
            .req("POST", "/api/v1/stacks/web/states", admin, Some(&state))
            .await;
        check("state serial".into(), r, "serial");
        // A rollback target beyond any version.
        let r = app
            .req(
                "POST",
                "/api/v1/stacks/web/rollback",
                admin,
                Some(&json!({"to": BIG})),
            )
            .await;
        check("rollback to".into(), r, "to");
        // Numbers in queries: never a 500.
        for q in [
            "/api/v1/change-requests?before=9223372036854775807&limit=9223372036854775807",
            "/api/v1/change-requests?before=-9223372036854775808&limit=-9223372036854775808",
            "/api/v1/audit/export?since=18446744073709551615",
            "/api/v1/audit/subjects/stack:web?limit=9223372036854775807",
            "/api/v1/stacks/web/states?before=9223372036854775807&limit=9223372036854775807",
            "/api/v1/stacks/web/states/diff?from=1&to=9223372036854775807",
            "/api/v1/stacks/web/states/9223372036854775807",
        ] {
            let r = app.req("GET", q, admin, None).await;
            assert!(r.status < 500, "{backend}: {q}: {} {:?}", r.status, r.body);
        }
        // Values in range still work.
        let r = app
            .req(
                "POST",
                "/api/v1/stacks",
                admin,
                Some(&json!({"name": "eph", "environment": "ephemeral", "ttl_seconds": 86400, "monthly_budget_usd": 1e9})),
            )
            .await;
        assert_eq!(r.status, 201, "{backend}: {:?}", r.body);
    }
}
