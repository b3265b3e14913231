//! Every endpoint against every kind of caller: who is let through and who
//! is refused. Also: the router serves exactly the routes the OpenAPI
//! document describes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::{backends, spawn, submission};
use serde_json::json;
use std::collections::BTreeSet;

const ROLES: [&str; 5] = ["anonymous", "viewer", "reviewer", "admin", "agent"];

/// Route → the callers allowed (everyone else must get 401 or 403).
fn table() -> Vec<(&'static str, &'static str, &'static [&'static str])> {
    const ALL: &[&str] = &["anonymous", "viewer", "reviewer", "admin", "agent"];
    const AUTH: &[&str] = &["viewer", "reviewer", "admin", "agent"];
    const PEOPLE: &[&str] = &["viewer", "reviewer", "admin"];
    const READ_AND_AGENT: &[&str] = &["viewer", "reviewer", "admin", "agent"];
    const SUBMITTERS: &[&str] = &["reviewer", "admin", "agent"];
    const REVIEWERS: &[&str] = &["reviewer", "admin"];
    const ADMIN: &[&str] = &["admin"];
    // Workers (pool tokens) and state backend users (basic auth) only.
    const MACHINES: &[&str] = &[];
    vec![
        ("GET", "/healthz", ALL),
        ("GET", "/metrics", ALL),
        ("GET", "/api/v1/openapi.json", ALL),
        ("GET", "/api/v1/schemas/verdict.json", ALL),
        ("GET", "/api/v1/whoami", AUTH),
        ("GET", "/api/v1/stacks", READ_AND_AGENT),
        ("POST", "/api/v1/stacks", ADMIN),
        ("GET", "/api/v1/stacks/{name}", READ_AND_AGENT),
        ("PATCH", "/api/v1/stacks/{name}", ADMIN),
        ("GET", "/api/v1/stacks/{name}/states", READ_AND_AGENT),
        ("POST", "/api/v1/stacks/{name}/states", SUBMITTERS),
        ("GET", "/api/v1/stacks/{name}/states/diff", READ_AND_AGENT),
        (
            "GET",
            "/api/v1/stacks/{name}/states/{version}",
            READ_AND_AGENT,
        ),
        ("POST", "/api/v1/stacks/{name}/rollback", SUBMITTERS),
        ("GET", "/api/v1/stacks/{name}/waivers", READ_AND_AGENT),
        ("POST", "/api/v1/stacks/{name}/waivers", REVIEWERS),
        ("DELETE", "/api/v1/stacks/{name}/waivers/{id}", REVIEWERS),
        ("GET", "/api/v1/policy-sets", PEOPLE),
        ("GET", "/api/v1/policy-sets/{name}", PEOPLE),
        ("PUT", "/api/v1/policy-sets/{name}", ADMIN),
        ("POST", "/api/v1/backtests", REVIEWERS),
        ("GET", "/api/v1/users", ADMIN),
        ("POST", "/api/v1/users", ADMIN),
        ("GET", "/api/v1/tokens", PEOPLE),
        ("POST", "/api/v1/tokens", PEOPLE),
        ("DELETE", "/api/v1/tokens/{id}", ADMIN),
        ("GET", "/api/v1/agents", PEOPLE),
        ("POST", "/api/v1/agents", ADMIN),
        ("GET", "/api/v1/agents/{name}", READ_AND_AGENT),
        ("PATCH", "/api/v1/agents/{name}", ADMIN),
        ("POST", "/api/v1/agents/{name}/revoke", ADMIN),
        ("POST", "/api/v1/agents/{name}/keys/{key_id}/revoke", ADMIN),
        ("POST", "/api/v1/evaluate", SUBMITTERS),
        ("POST", "/api/v1/change-requests", SUBMITTERS),
        ("GET", "/api/v1/change-requests", READ_AND_AGENT),
        ("GET", "/api/v1/change-requests/{id}", READ_AND_AGENT),
        ("POST", "/api/v1/change-requests/{id}/approve", REVIEWERS),
        ("POST", "/api/v1/change-requests/{id}/reject", REVIEWERS),
        (
            "POST",
            "/api/v1/change-requests/{id}/cancel",
            &["admin", "agent"],
        ),
        ("GET", "/api/v1/reviews", PEOPLE),
        ("GET", "/api/v1/audit/key", ALL),
        ("GET", "/api/v1/audit/head", PEOPLE),
        ("GET", "/api/v1/audit/export", PEOPLE),
        ("GET", "/api/v1/audit/subjects/{subject}", PEOPLE),
        ("GET", "/api/v1/webhooks", PEOPLE),
        ("POST", "/api/v1/webhooks", ADMIN),
        ("GET", "/api/v1/webhooks/{id}", PEOPLE),
        ("DELETE", "/api/v1/webhooks/{id}", ADMIN),
        ("GET", "/api/v1/webhooks/{id}/deliveries", PEOPLE),
        ("POST", "/api/v1/webhooks/{id}/test", ADMIN),
        // Only the agent itself, signed, mints its tokens: here the agent
        // asks for another agent's (the agent's own is tested in mcp.rs).
        ("POST", "/api/v1/agents/{name}/tokens", &[]),
        // Bearer tokens only: a signed agent is refused (403).
        ("POST", "/mcp", PEOPLE),
        ("GET", "/mcp", PEOPLE),
        ("DELETE", "/mcp", PEOPLE),
        ("GET", "/api/v1/runs", PEOPLE),
        ("POST", "/api/v1/runs/claim", MACHINES),
        ("GET", "/api/v1/runs/{id}", READ_AND_AGENT),
        ("GET", "/api/v1/runs/{id}/logs", READ_AND_AGENT),
        ("POST", "/api/v1/runs/{id}/logs", MACHINES),
        ("POST", "/api/v1/runs/{id}/confirm", REVIEWERS),
        ("POST", "/api/v1/runs/{id}/cancel", REVIEWERS),
        ("GET", "/api/v1/runs/{id}/judged-plan", MACHINES),
        ("POST", "/api/v1/runs/{id}/heartbeat", MACHINES),
        ("POST", "/api/v1/runs/{id}/phase", MACHINES),
        ("POST", "/api/v1/runs/{id}/revision", MACHINES),
        ("PUT", "/api/v1/bundles/{sha256}", SUBMITTERS),
        ("GET", "/api/v1/bundles/{sha256}", MACHINES),
        ("POST", "/api/v1/worker-pools", ADMIN),
        ("GET", "/api/v1/worker-pools/{name}/tokens", ADMIN),
        ("DELETE", "/api/v1/worker-pools/{name}/tokens/{id}", ADMIN),
        ("GET", "/api/v1/stacks/{name}/tfstate", MACHINES),
        ("POST", "/api/v1/stacks/{name}/tfstate", MACHINES),
        ("LOCK", "/api/v1/stacks/{name}/tfstate", MACHINES),
        ("UNLOCK", "/api/v1/stacks/{name}/tfstate", MACHINES),
        ("POST", "/api/v1/stacks/{name}/backend-credentials", ADMIN),
    ]
}

/// A waiver that expires in 30 days.
fn waiver_spec() -> serde_json::Value {
    let expires = (chrono::Utc::now() + chrono::Duration::days(30))
        .format("%Y-%m-%d")
        .to_string();
    json!({"rule": "ARB-AWS-S3-001", "reason": "rbac test", "owner": "team-web", "expires": expires})
}

#[test]
fn the_table_the_router_and_the_openapi_document_name_the_same_routes() {
    let table: BTreeSet<(String, String)> = table()
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    let routes: BTreeSet<(String, String)> = arbiter_server::routes::ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(table, routes, "the RBAC table must cover every route");
    // What the router serves, as it was built: a route served but not
    // listed (or listed twice) fails here.
    let mut served: Vec<(String, String)> = arbiter_server::routes::served()
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    let n = served.len();
    served.sort();
    served.dedup();
    assert_eq!(served.len(), n, "a route is added twice");
    let served: BTreeSet<(String, String)> = served.into_iter().collect();
    assert_eq!(served, routes, "the router must serve exactly ROUTES");
    let doc: serde_json::Value = serde_json::from_str(arbiter_server::openapi::DOCUMENT).unwrap();
    let mut documented = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for m in ops.as_object().unwrap().keys() {
            documented.insert((m.to_uppercase(), path.clone()));
        }
    }
    assert_eq!(
        documented, routes,
        "openapi.json must document exactly the served routes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_lets_in_exactly_the_roles_it_should() {
    for backend in backends().await {
        let app = spawn(backend, |_| {}).await;
        app.stack("web", "dev", json!({})).await;
        let bot = app
            .agent(
                "bot",
                11,
                json!({"stacks": ["*"]}),
                json!({"submissions_per_minute": 10000}),
            )
            .await;
        let tokens = [
            ("viewer", app.user("vic", "viewer").await),
            ("reviewer", app.user("rita", "reviewer").await),
            ("admin", app.admin.clone()),
        ];
        let r = app
            .req(
                "PUT",
                "/api/v1/policy-sets/p",
                Some(&app.admin),
                Some(&json!({"kind": "plan", "files": {"a.rego": "package main\n"}})),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let admin_token = app
            .req(
                "POST",
                "/api/v1/tokens",
                Some(&app.admin),
                Some(&json!({"label": "to revoke"})),
            )
            .await;
        let admin_token_id = admin_token.body["id"].as_str().unwrap().to_string();
        // Two state versions, so that a rollback to version 1 has work to do.
        for (serial, resources) in [
            (
                1,
                r#"[{"mode":"managed","type":"terraform_data","name":"a","instances":[{"attributes":{"id":"1"}}]}]"#,
            ),
            (2, "[]"),
        ] {
            let body = format!(
                r#"{{"state": {{"version": 4, "serial": {serial}, "lineage": "rbac", "resources": {resources}}}}}"#
            );
            let r = app
                .raw(
                    "POST",
                    "/api/v1/stacks/web/states",
                    Some(&app.admin),
                    Some(body.into_bytes()),
                    &[],
                )
                .await;
            assert_eq!(r.status, 201, "{:?}", r.body);
        }

        let mut failures = Vec::new();
        for (method, template, allowed) in table() {
            for (ri, role) in ROLES.iter().enumerate() {
                // Fresh objects per call, so one role's success cannot change
                // what the next one sees.
                let r = app
                    .signed(
                        &bot,
                        "POST",
                        "/api/v1/change-requests",
                        &submission("web", "disable-public-access-block"),
                        &[],
                    )
                    .await;
                assert_eq!(r.body["status"], "pending_review", "{:?}", r.body);
                let cr = r.body["id"].as_i64().unwrap().to_string();
                // Named after the whole route: two routes of the same length must
                // not share a victim.
                let victim = format!("v{ri}{}", template.replace(['/', '{', '}'], "-"));
                let vkey = arbiter_api::AgentKey::generate().unwrap();
                if template.contains("/agents/{name}/")
                    || (template.contains("/agents/{name}") && method == "PATCH")
                {
                    let r = app
                        .req("POST", "/api/v1/agents", Some(&app.admin), Some(&json!({"name": victim, "public_key": vkey.public().to_base64(), "scope": {"stacks": ["web"]}})))
                        .await;
                    assert_eq!(r.status, 201);
                }
                // A fresh subscription for each call to a webhook's own path (one
                // role's DELETE must not turn the next role's call into a 404).
                let webhook = if template.starts_with("/api/v1/webhooks/") {
                    let r = app
                        .req(
                            "POST",
                            "/api/v1/webhooks",
                            Some(&app.admin),
                            Some(&json!({"url": "http://127.0.0.1:9/", "events": ["stack.*"]})),
                        )
                        .await;
                    assert_eq!(r.status, 201, "{:?}", r.body);
                    r.body["id"].to_string()
                } else if template.contains("/waivers/{id}") {
                    // A fresh waiver for each call, for the same reason.
                    let r = app
                        .req(
                            "POST",
                            "/api/v1/stacks/web/waivers",
                            Some(&app.admin),
                            Some(&waiver_spec()),
                        )
                        .await;
                    assert_eq!(r.status, 201, "{:?}", r.body);
                    r.body["id"].to_string()
                } else {
                    String::new()
                };
                let name = if template.starts_with("/api/v1/stacks") {
                    "web".to_string()
                } else if template.starts_with("/api/v1/policy-sets") {
                    "p".to_string()
                } else if method == "GET" {
                    "bot".to_string()
                } else {
                    victim.clone()
                };
                let path = template
                    .replace("{name}", &name)
                    .replace(
                        "{id}",
                        if template.starts_with("/api/v1/tokens") {
                            &admin_token_id
                        } else if template.starts_with("/api/v1/webhooks")
                            || template.contains("/waivers/")
                        {
                            &webhook
                        } else {
                            &cr
                        },
                    )
                    .replace("{key_id}", &vkey.public().key_id())
                    .replace("{subject}", "stack:web")
                    .replace("{sha256}", &"0".repeat(64))
                    .replace("{version}", "1");
                let body = match (method, template) {
                    ("POST", "/api/v1/stacks") => {
                        json!({"name": format!("s{ri}"), "environment": "dev"})
                    }
                    ("PATCH", "/api/v1/stacks/{name}") => json!({"labels": ["x"]}),
                    ("POST", "/api/v1/stacks/{name}/states") => {
                        json!({"state": {"version": 4, "serial": 3, "lineage": "rbac", "resources": []}})
                    }
                    ("POST", "/api/v1/stacks/{name}/rollback") => json!({"to": 1}),
                    ("POST", "/api/v1/stacks/{name}/waivers") => waiver_spec(),
                    ("POST", "/api/v1/worker-pools") => json!({"name": format!("p{ri}")}),
                    ("PUT", _) => json!({"kind": "plan", "files": {"a.rego": "package main\n"}}),
                    ("POST", "/api/v1/backtests") => {
                        json!({"files": {"a.rego": "package main\n"}, "since_seconds": 3600})
                    }
                    ("POST", "/api/v1/users") => {
                        json!({"name": format!("u{ri}"), "role": "viewer"})
                    }
                    ("POST", "/api/v1/webhooks") => {
                        json!({"url": "http://127.0.0.1:9/", "events": ["*"], "format": "slack"})
                    }
                    ("POST", "/api/v1/tokens") => json!({}),
                    ("POST", "/api/v1/agents") => {
                        json!({"name": format!("a{ri}"), "public_key": arbiter_api::AgentKey::generate().unwrap().public().to_base64(), "scope": {"stacks": ["web"]}})
                    }
                    ("PATCH", _) => json!({"description": "x"}),
                    ("POST", "/api/v1/evaluate") | ("POST", "/api/v1/change-requests") => {
                        serde_json::from_slice(&submission("web", "tags-only-update")).unwrap()
                    }
                    _ => serde_json::Value::Null,
                };
                let bytes = if body.is_null() {
                    Vec::new()
                } else {
                    serde_json::to_vec(&body).unwrap()
                };
                let resp = match *role {
                    "anonymous" => {
                        app.raw(
                            method,
                            &path,
                            None,
                            (!bytes.is_empty()).then(|| bytes.clone()),
                            &[],
                        )
                        .await
                    }
                    "agent" => app.signed(&bot, method, &path, &bytes, &[]).await,
                    r => {
                        let t = &tokens.iter().find(|(n, _)| *n == r).unwrap().1;
                        app.raw(
                            method,
                            &path,
                            Some(t),
                            (!bytes.is_empty()).then(|| bytes.clone()),
                            &[],
                        )
                        .await
                    }
                };
                let let_in = !matches!(resp.status, 401 | 403);
                let should = allowed.contains(role);
                if let_in != should {
                    failures.push(format!(
                        "{backend}: {method} {path} as {role}: {} {}",
                        resp.status, resp.body
                    ));
                } else if !should {
                    let want = if *role == "anonymous" { 401 } else { 403 };
                    if resp.status != want {
                        failures.push(format!(
                            "{backend}: {method} {path} as {role}: {} (expected {want})",
                            resp.status
                        ));
                    }
                } else if resp.status >= 500 {
                    failures.push(format!(
                        "{backend}: {method} {path} as {role}: server error {} {}",
                        resp.status, resp.body
                    ));
                }
            }
        }
        assert!(
            failures.is_empty(),
            "{} wrong answers:\n{}",
            failures.len(),
            failures.join("\n")
        );
        app.running.shutdown().await.unwrap();
    }
}
