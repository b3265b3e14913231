//! The MCP endpoint `/mcp` with the SDK's own client (rmcp over Streamable
//! HTTP, the current protocol and 2025-06-18): the tools and their
//! annotations, every call answered as the HTTP API answers the same caller
//! (scope, visibility, roles, rate limits), agent tokens (minting, expiry,
//! revocation, /mcp only), and what `/mcp` refuses (cookies, signatures,
//! wrong Host). The Python SDK drives the same endpoint and `arbiter mcp`
//! in crates/arbiter-cli/tests/it/mcp.rs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::{self, now, plan, spawn, App};
use arbiter_api::AgentKey;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, Implementation,
    ProtocolVersion,
};
use rmcp::service::{ClientLifecycleMode, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::RoleClient;
use serde_json::{json, Value};
use std::time::Duration;

type Mcp = RunningService<RoleClient, ClientConfig>;

/// An rmcp client of `/mcp` with `token`, speaking `version` (the current
/// one through `server/discover`, an older one through `initialize`).
async fn connect(app: &App, token: &str, version: ProtocolVersion) -> Mcp {
    let config = StreamableHttpClientTransportConfig::with_uri(format!("{}/mcp", app.base))
        .auth_header(token.to_string());
    let transport = StreamableHttpClientTransport::with_client(reqwest::Client::new(), config);
    let info = ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("arbiter-test", "1"),
    )
    .with_protocol_version(version.clone());
    let lifecycle = if version.has_initialize() {
        ClientLifecycleMode::Initialize
    } else {
        ClientLifecycleMode::Discover {
            preferred_versions: vec![version],
        }
    };
    rmcp::service::serve_client_with_lifecycle(info, transport, lifecycle)
        .await
        .unwrap()
}

async fn call(c: &Mcp, tool: &str, args: Value) -> CallToolResult {
    let Value::Object(args) = args else {
        panic!("arguments must be an object")
    };
    c.call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(args))
        .await
        .unwrap()
}

/// A successful call's structured result.
async fn ok(c: &Mcp, tool: &str, args: Value) -> Value {
    let r = call(c, tool, args).await;
    assert_eq!(r.is_error, Some(false), "{tool}: {:?}", r.content);
    r.structured_content.expect("structured content")
}

/// A failed call's error object (`{"status", "code", "message"}`).
async fn err(c: &Mcp, tool: &str, args: Value) -> Value {
    let r = call(c, tool, args).await;
    assert_eq!(r.is_error, Some(true), "{tool}: {:?}", r.structured_content);
    let text = r
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<String>();
    serde_json::from_str::<Value>(&text).unwrap()["error"].clone()
}

async fn mint(app: &App, key: &AgentKey, agent: &str, body: Value) -> common::Resp {
    app.signed(
        key,
        "POST",
        &format!("/api/v1/agents/{agent}/tokens"),
        &serde_json::to_vec(&body).unwrap(),
        &[],
    )
    .await
}

/// Whether this server has the runs API (another part of issue 13's work).
fn has_runs() -> bool {
    arbiter_server::routes::ROUTES
        .iter()
        .any(|(m, p)| *m == "GET" && *p == "/api/v1/runs/{id}")
}

/// A raw JSON-RPC `initialize` POST to `/mcp`, for the refusals.
async fn raw_initialize(app: &App, headers: &[(&str, String)]) -> (u16, String) {
    let mut r = app
        .http
        .post(format!("{}/mcp", app.base))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    for (k, v) in headers {
        r = r.header(*k, v);
    }
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "1"}}});
    let resp = r.body(body.to_string()).send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

fn error_code(body: &str) -> String {
    serde_json::from_str::<Value>(body).unwrap_or(Value::Null)["error"]["code"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

#[tokio::test]
async fn tools_have_schemas_and_honest_annotations_in_both_protocol_versions() {
    let app = spawn("sqlite", |_| {}).await;
    for version in [ProtocolVersion::V_2026_07_28, ProtocolVersion::V_2025_06_18] {
        let c = connect(&app, &app.admin, version.clone()).await;
        let tools = c.list_all_tools().await.unwrap();
        let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
        names.sort();
        assert_eq!(
            names,
            [
                "explain_finding",
                "get_change",
                "get_run",
                "get_run_logs",
                "list_policies",
                "preflight_plan",
                "submit_change",
                "suggest_fixes",
                "wait_for_decision"
            ],
            "{version}"
        );
        for t in &tools {
            let out = t
                .output_schema
                .as_ref()
                .expect("every tool has an output schema");
            assert_eq!(out.get("type"), Some(&json!("object")), "{}", t.name);
            assert_eq!(t.input_schema.get("type"), Some(&json!("object")));
            let a = t.annotations.as_ref().unwrap();
            // Nothing an agent can call destroys anything.
            assert_eq!(a.destructive_hint, Some(false), "{}", t.name);
            assert_eq!(a.idempotent_hint, Some(true), "{}", t.name);
            assert_eq!(a.open_world_hint, Some(false), "{}", t.name);
            let writes = t.name == "submit_change";
            assert_eq!(a.read_only_hint, Some(!writes), "{}", t.name);
        }
        c.cancel().await.unwrap();
    }
    app.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn every_mcp_call_is_answered_as_the_http_api_answers_the_same_caller() {
    for backend in common::backends().await {
        let app = spawn(backend, |_| {}).await;
        app.stack("web", "prod", json!({})).await;
        // The agent may only update: a plan that creates is outside its scope.
        let key = app
            .agent(
                "bot",
                7,
                json!({"stacks": ["web"], "actions": ["update"]}),
                json!({}),
            )
            .await;
        let r = mint(&app, &key, "bot", json!({"label": "test client"})).await;
        assert_eq!(r.status, 201, "{backend}: {:?}", r.body);
        let token = r.body["token"].as_str().unwrap().to_string();
        assert!(token.starts_with("arbat_"));
        assert_eq!(r.body["agent"], "bot");

        for version in [ProtocolVersion::V_2026_07_28, ProtocolVersion::V_2025_06_18] {
            let c = connect(&app, &token, version.clone()).await;
            let tag = format!("{backend} {version}");

            // A scope-violating submission: refused through MCP exactly as
            // through HTTP (recorded, rejected, the same reason).
            let k = format!("ssh-{version}");
            let http = app
                .signed(
                    &key,
                    "POST",
                    "/api/v1/change-requests",
                    &common::submission("web", "ssh-open-to-world"),
                    &[("idempotency-key", format!("http-{k}"))],
                )
                .await;
            assert_eq!(http.status, 201, "{tag}: {:?}", http.body);
            assert_eq!(http.body["status"], "rejected", "{tag}");
            let args = json!({"stack": "web", "plan": plan("ssh-open-to-world"), "intent": "test", "idempotency_key": k});
            let via = ok(&c, "submit_change", args.clone()).await;
            for f in ["status", "decision", "reason", "submitter", "stack"] {
                assert_eq!(via[f], http.body[f], "{tag}: {f}");
            }
            assert!(
                via["reason"].as_str().unwrap().starts_with("scope: "),
                "{tag}: {via}"
            );
            // Idempotent by key.
            let again = ok(&c, "submit_change", args).await;
            assert_eq!(again["id"], via["id"], "{tag}");
            let id = via["id"].as_i64().unwrap();

            let got = ok(&c, "get_change", json!({"id": id})).await;
            let http = app
                .signed(
                    &key,
                    "GET",
                    &format!("/api/v1/change-requests/{id}"),
                    b"",
                    &[],
                )
                .await;
            assert_eq!(got, http.body, "{tag}");

            // Decided already: no wait.
            let w = ok(
                &c,
                "wait_for_decision",
                json!({"id": id, "timeout_seconds": 30}),
            )
            .await;
            assert_eq!(w["decided"], true, "{tag}");
            assert!(w["waited_ms"].as_u64().unwrap() < 5000, "{tag}: {w}");

            // The dry run answers as POST /api/v1/evaluate does.
            let pf = ok(
                &c,
                "preflight_plan",
                json!({"stack": "web", "plan": plan("tags-only-update")}),
            )
            .await;
            let http = app
                .signed(
                    &key,
                    "POST",
                    "/api/v1/evaluate",
                    &common::submission("web", "tags-only-update"),
                    &[],
                )
                .await;
            assert_eq!(pf["status"], http.body["status"], "{tag}");
            assert_eq!(
                pf["would_approve"],
                json!(http.body["status"] == "approved"),
                "{tag}"
            );
            assert_eq!(
                pf["verdict"]["decision"], http.body["verdict"]["decision"],
                "{tag}"
            );
            let pf = ok(
                &c,
                "preflight_plan",
                json!({"stack": "web", "plan": plan("ssh-open-to-world")}),
            )
            .await;
            assert_eq!(
                (pf["would_approve"].clone(), pf["status"].clone()),
                (json!(false), json!("rejected")),
                "{tag}"
            );

            // The finding, with the built-in rule's metadata; fixes fall back
            // to the rule's remediation when the verdict carries none.
            let f = ok(
                &c,
                "explain_finding",
                json!({"change_id": id, "rule_id": "ARB-AWS-NET-001"}),
            )
            .await;
            assert_eq!(
                f["finding"]["address"], "aws_security_group_rule.ssh",
                "{tag}"
            );
            assert_eq!(f["rule"]["id"], "ARB-AWS-NET-001", "{tag}");
            let remediation = f["rule"]["remediation"].as_str().unwrap();
            assert!(!remediation.is_empty());
            let fx = ok(&c, "suggest_fixes", json!({"change_id": id})).await;
            let first = fx["fixes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["rule_id"] == "ARB-AWS-NET-001")
                .unwrap();
            assert_eq!(first["remediation"], remediation, "{tag}");
            let e = err(
                &c,
                "explain_finding",
                json!({"change_id": id, "rule_id": "ARB-NOPE"}),
            )
            .await;
            assert_eq!(e["code"], "not_found", "{tag}");

            // What the agent may not do over HTTP it may not do here.
            let e = err(&c, "list_policies", json!({})).await;
            assert_eq!(
                (e["status"].clone(), e["code"].clone()),
                (json!(403), json!("forbidden")),
                "{tag}"
            );
            let e = err(
                &c,
                "preflight_plan",
                json!({"stack": "other", "plan": plan("tags-only-update")}),
            )
            .await;
            assert_eq!(e["status"], 404, "{tag}");
            // A run that does not exist: where the server has no runs at
            // all, the tools say so; where it has, the API's 404.
            let want = if has_runs() {
                "not_found"
            } else {
                "runs_unavailable"
            };
            let e = err(&c, "get_run", json!({"id": 999_999})).await;
            assert_eq!(
                (e["status"].clone(), e["code"].clone()),
                (json!(404), json!(want)),
                "{tag}"
            );
            let e = err(&c, "get_run_logs", json!({"id": 999_999})).await;
            assert_eq!(
                (e["status"].clone(), e["code"].clone()),
                (json!(404), json!(want)),
                "{tag}"
            );
            let e = err(&c, "get_change", json!({"id": 0})).await;
            assert_eq!(e["code"], "invalid_arguments", "{tag}");
            c.cancel().await.unwrap();
        }

        // A person's change goes to review; the agent cannot see it (404,
        // as over HTTP); wait_for_decision returns when a reviewer decides
        // (here: rejects).
        let admin = connect(&app, &app.admin, ProtocolVersion::V_2026_07_28).await;
        let cr = ok(
            &admin,
            "submit_change",
            json!({"stack": "web", "plan": plan("delete-prod-database"), "idempotency_key": "db"}),
        )
        .await;
        assert_eq!(cr["status"], "pending_review", "{backend}: {cr}");
        let id = cr["id"].as_i64().unwrap();
        let agent = connect(&app, &token, ProtocolVersion::V_2026_07_28).await;
        let e = err(&agent, "get_change", json!({"id": id})).await;
        assert_eq!(e["status"], 404, "{backend}");
        let w = ok(
            &admin,
            "wait_for_decision",
            json!({"id": id, "timeout_seconds": 1}),
        )
        .await;
        assert_eq!(w["decided"], false, "{backend}");
        assert!(w["waited_ms"].as_u64().unwrap() >= 1000, "{w}");
        let rita = app.user("rita", "reviewer").await;
        let base = app.base.clone();
        let approve = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            reqwest::Client::new()
                .post(format!("{base}/api/v1/change-requests/{id}/reject"))
                .bearer_auth(rita)
                .json(&json!({"comment": "restore from the snapshot first"}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
        let w = ok(
            &admin,
            "wait_for_decision",
            json!({"id": id, "timeout_seconds": 40}),
        )
        .await;
        assert_eq!(approve.await.unwrap(), 200);
        assert_eq!(
            (w["decided"].clone(), w["change"]["status"].clone()),
            (json!(true), json!("rejected")),
            "{backend}: {w}"
        );
        assert!(w["waited_ms"].as_u64().unwrap() < 20_000, "{w}");
        let pols = ok(&admin, "list_policies", json!({})).await;
        assert!(pols["items"].is_array());

        // Rate limits hold through MCP: one dry run a minute.
        let slow = app
            .agent(
                "slow",
                9,
                json!({"stacks": ["web"]}),
                json!({"submissions_per_minute": 1}),
            )
            .await;
        let r = mint(&app, &slow, "slow", json!({})).await;
        let c = connect(
            &app,
            r.body["token"].as_str().unwrap(),
            ProtocolVersion::V_2025_06_18,
        )
        .await;
        ok(
            &c,
            "preflight_plan",
            json!({"stack": "web", "plan": plan("tags-only-update")}),
        )
        .await;
        let e = err(
            &c,
            "preflight_plan",
            json!({"stack": "web", "plan": plan("tags-only-update")}),
        )
        .await;
        assert_eq!(
            (e["status"].clone(), e["code"].clone()),
            (json!(429), json!("rate_limited")),
            "{backend}"
        );

        // Minting is audited.
        let a = app
            .req(
                "GET",
                "/api/v1/audit/subjects/agent:bot",
                Some(&app.admin),
                None,
            )
            .await;
        assert!(
            a.body.to_string().contains("agent.token.created"),
            "{backend}: {}",
            a.body
        );
        for c in [admin, agent, c] {
            c.cancel().await.unwrap();
        }
        app.running.shutdown().await.unwrap();
    }
}

#[tokio::test]
async fn mcp_refuses_cookies_signatures_wrong_hosts_and_expired_or_revoked_tokens() {
    for backend in common::backends().await {
        let app = spawn(backend, |_| {}).await;
        app.stack("web", "prod", json!({})).await;
        let key = app
            .agent("bot", 7, json!({"stacks": ["web"]}), json!({}))
            .await;
        let other = app
            .agent("other", 8, json!({"stacks": ["web"]}), json!({}))
            .await;
        let bearer = |t: &str| vec![("authorization", format!("Bearer {t}"))];

        // People's API tokens work.
        let (s, body) = raw_initialize(&app, &bearer(&app.admin)).await;
        assert_eq!(s, 200, "{backend}: {body}");
        assert!(
            body.contains("\"protocolVersion\":\"2025-06-18\""),
            "{body}"
        );
        // Nothing, or a session cookie that opens the web UI, is refused.
        let (s, _) = raw_initialize(&app, &[]).await;
        assert_eq!(s, 401);
        let session = app
            .running
            .state
            .store
            .write(|cx| {
                Box::pin(async move {
                    arbiter_store::sessions::create(
                        cx,
                        "admin",
                        arbiter_store::sessions::SignIn::Password,
                        None,
                        3_600_000,
                    )
                    .await
                })
            })
            .await
            .unwrap();
        let cookie = vec![("cookie", format!("arbiter_session={}", session.secret))];
        let ui = app.raw("GET", "/", None, None, &cookie).await;
        assert_eq!(ui.status, 200, "{backend}: the cookie is a valid session");
        let (s, body) = raw_initialize(&app, &cookie).await;
        assert_eq!(s, 401, "{backend}: {body}");
        // A signed request is for the API, not /mcp.
        let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}});
        let r = app
            .signed(
                &key,
                "POST",
                "/mcp",
                init.to_string().as_bytes(),
                &[("accept", "application/json, text/event-stream".into())],
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (403, "bearer_required"),
            "{backend}: {:?}",
            r.body
        );
        // A Host outside the allowed list.
        let mut h = bearer(&app.admin);
        h.push(("host", "evil.example".into()));
        let (s, body) = raw_initialize(&app, &h).await;
        assert_eq!(
            (s, error_code(&body).as_str()),
            (403, "host_not_allowed"),
            "{body}"
        );

        // Minting: only the agent itself, signed, within the bounds.
        let r = app
            .req(
                "POST",
                "/api/v1/agents/bot/tokens",
                Some(&app.admin),
                Some(&json!({})),
            )
            .await;
        assert_eq!(r.status, 403, "{:?}", r.body);
        let r = mint(&app, &other, "bot", json!({})).await;
        assert_eq!(r.status, 403, "{:?}", r.body);
        for ttl in [59, 3601] {
            let r = mint(&app, &key, "bot", json!({"ttl_seconds": ttl})).await;
            assert_eq!(r.status, 422, "{ttl}: {:?}", r.body);
        }
        let r = mint(&app, &key, "bot", json!({"ttl_seconds": 60})).await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let token = r.body["token"].as_str().unwrap().to_string();
        let (s, body) = raw_initialize(&app, &bearer(&token)).await;
        assert_eq!(s, 200, "{backend}: {body}");
        // The token is for /mcp only: not the API, not minting another.
        let r = app
            .req("GET", "/api/v1/change-requests", Some(&token), None)
            .await;
        assert_eq!(
            (r.status, r.code()),
            (401, "agent_token_outside_mcp"),
            "{:?}",
            r.body
        );
        let r = app
            .req(
                "POST",
                "/api/v1/agents/bot/tokens",
                Some(&token),
                Some(&json!({})),
            )
            .await;
        assert_eq!(r.status, 401, "{:?}", r.body);
        // Stored hashed.
        let pool = app.running.state.store.pool();
        let rows: Vec<(String,)> = sqlx::query_as("SELECT token_hash FROM agent_tokens")
            .fetch_all(pool)
            .await
            .unwrap();
        assert!(rows
            .iter()
            .all(|(h,)| h.len() == 64 && !token.contains(h.as_str())));
        // Expired: refused.
        let hash = arbiter_store::principals::token_hash(&token);
        app.running
            .state
            .store
            .write(move |cx| {
                Box::pin(async move {
                    sqlx::query("UPDATE agent_tokens SET expires_at = $1 WHERE token_hash = $2")
                        .bind(now() * 1000 - 1)
                        .bind(hash)
                        .execute(cx.conn())
                        .await?;
                    Ok(())
                })
            })
            .await
            .unwrap();
        let (s, body) = raw_initialize(&app, &bearer(&token)).await;
        assert_eq!(
            (s, error_code(&body).as_str()),
            (401, "invalid_token"),
            "{backend}: {body}"
        );
        // Revoking the key that minted it ends it too.
        let r = mint(&app, &key, "bot", json!({})).await;
        let token = r.body["token"].as_str().unwrap().to_string();
        let (s, _) = raw_initialize(&app, &bearer(&token)).await;
        assert_eq!(s, 200);
        let r = app
            .req(
                "POST",
                &format!("/api/v1/agents/bot/keys/{}/revoke", key.public().key_id()),
                Some(&app.admin),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let (s, body) = raw_initialize(&app, &bearer(&token)).await;
        assert_eq!(
            (s, error_code(&body).as_str()),
            (401, "invalid_token"),
            "{backend}: {body}"
        );
        app.running.shutdown().await.unwrap();
    }

    // Behind a proxy: the configured names, and no others.
    let app = spawn("sqlite", |c| {
        c.mcp_allowed_hosts = vec!["arbiter.example".into(), "127.0.0.1".into()];
    })
    .await;
    let mut h = vec![("authorization", format!("Bearer {}", app.admin))];
    let (s, body) = raw_initialize(&app, &h).await;
    assert_eq!(s, 200, "{body}");
    h.push(("host", "arbiter.example".into()));
    let (s, body) = raw_initialize(&app, &h).await;
    assert_eq!(s, 200, "{body}");
    h.pop();
    h.push(("host", "localhost".into()));
    let (s, body) = raw_initialize(&app, &h).await;
    assert_eq!(
        (s, error_code(&body).as_str()),
        (403, "host_not_allowed"),
        "{body}"
    );
    app.running.shutdown().await.unwrap();
}
