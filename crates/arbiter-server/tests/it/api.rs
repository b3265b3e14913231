//! The server over real HTTP against real databases (SQLite, and
//! PostgreSQL when installed): lifecycle, reviews, signatures, scopes,
//! idempotency, the velocity governor, limits, replicas.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;
mod upgrade;

use common::{audit_actions, backends, spawn, submission, App};
use serde_json::{json, Value};
use std::collections::BTreeSet;

async fn setup(backend: &'static str) -> (App, arbiter_api::AgentKey) {
    let app = spawn(backend, |_| {}).await;
    app.stack("web", "prod", json!({"labels": ["team:web"]}))
        .await;
    app.stack("dev-sandbox", "dev", json!({})).await;
    let key = app
        .agent(
            "bot",
            1,
            json!({"stacks": ["web", "dev-*"]}),
            json!({"submissions_per_minute": 1000, "blast_radius_per_hour": 100000}),
        )
        .await;
    (app, key)
}

/// Exports the whole log over HTTP and verifies it with the offline verifier.
async fn verify_export(app: &App) -> u64 {
    let r = app
        .http
        .get(format!("{}/api/v1/audit/export", app.base))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    let key = app.req("GET", "/api/v1/audit/key", None, None).await;
    let key = arbiter_audit::AuditPublicKey::from_json(&key.body.to_string()).unwrap();
    let report = arbiter_audit::verify_reader(
        text.as_bytes(),
        &arbiter_audit::VerifyOptions {
            trusted_keys: vec![key],
            threads: 1,
        },
    );
    assert!(
        report.valid,
        "audit export does not verify: {:?}",
        report.problem
    );
    assert_eq!(
        report.checkpoints > 0,
        report.entries >= 1000 || report.checkpoints > 0
    );
    report.entries
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_request_goes_through_its_lifecycle() {
    for backend in backends().await {
        let (app, bot) = setup(backend).await;
        assert_eq!(app.req("GET", "/healthz", None, None).await.status, 200);

        // Routine change: approved at once, with its verdict and Location.
        let r = app
            .signed(
                &bot,
                "POST",
                "/api/v1/change-requests",
                &submission("web", "tags-only-update"),
                &[],
            )
            .await;
        assert_eq!(r.status, 201, "{backend}: {:?}", r.body);
        assert_eq!(r.body["status"], "approved", "{backend}");
        assert_eq!(r.body["submitter"], "agent:bot");
        assert!(r.body["confidence"].as_f64().unwrap() >= 95.0);
        assert_eq!(r.body["verdict"]["decision"], "approve");
        let id1 = r.body["id"].as_i64().unwrap();
        // The 201 answer is what is stored.
        let stored = app
            .req(
                "GET",
                &format!("/api/v1/change-requests/{id1}"),
                Some(&app.admin),
                None,
            )
            .await;
        assert_eq!(stored.body, r.body, "{backend}");
        assert_eq!(
            r.headers["location"],
            format!("/api/v1/change-requests/{id1}").as_str()
        );
        assert_eq!(
            audit_actions(&app, &format!("change_request:{id1}")).await,
            [
                "change_request.submitted",
                "change_request.evaluated",
                "change_request.approved"
            ]
        );

        // Destroying a prod database: pending review, two approvals needed.
        let r = app
            .signed(
                &bot,
                "POST",
                "/api/v1/change-requests",
                &submission("web", "delete-prod-database"),
                &[],
            )
            .await;
        assert_eq!(
            (r.status, r.body["status"].as_str()),
            (201, Some("pending_review")),
            "{backend}: {:?}",
            r.body
        );
        let id2 = r.body["id"].as_i64().unwrap();
        assert!(r.body["expires_at"].is_string());

        // Forbidden change: rejected with the engine's explanation.
        let r = app
            .signed(
                &bot,
                "POST",
                "/api/v1/change-requests",
                &submission("web", "ssh-open-to-world"),
                &[],
            )
            .await;
        assert_eq!(r.body["status"], "rejected", "{backend}");
        assert!(
            r.body["reason"].as_str().unwrap().contains("ARB-AWS-NET"),
            "{:?}",
            r.body["reason"]
        );

        let alice = app.user("alice", "reviewer").await;
        let bob = app.user("bob", "reviewer").await;
        let vic = app.user("vic", "viewer").await;
        // Neither the agent nor a viewer can review.
        let r = app
            .signed(
                &bot,
                "POST",
                &format!("/api/v1/change-requests/{id2}/approve"),
                b"{}",
                &[],
            )
            .await;
        assert_eq!(r.status, 403);
        let r = app
            .req(
                "POST",
                &format!("/api/v1/change-requests/{id2}/approve"),
                Some(&vic),
                Some(&json!({})),
            )
            .await;
        assert_eq!(r.status, 403);

        let r = app
            .req(
                "POST",
                &format!("/api/v1/change-requests/{id2}/approve"),
                Some(&alice),
                Some(&json!({"comment": "snapshot taken"})),
            )
            .await;
        assert_eq!(
            (r.status, r.body["status"].as_str()),
            (200, Some("pending_review")),
            "{:?}",
            r.body
        );
        let r = app
            .req(
                "POST",
                &format!("/api/v1/change-requests/{id2}/approve"),
                Some(&alice),
                Some(&json!({})),
            )
            .await;
        assert_eq!(r.status, 409, "one review per reviewer");
        let r = app
            .req(
                "POST",
                &format!("/api/v1/change-requests/{id2}/approve"),
                Some(&bob),
                None,
            )
            .await;
        assert_eq!(
            (r.status, r.body["status"].as_str()),
            (200, Some("approved")),
            "{:?}",
            r.body
        );
        assert_eq!(r.body["reviews"].as_array().unwrap().len(), 2);
        let r = app
            .req(
                "POST",
                &format!("/api/v1/change-requests/{id2}/reject"),
                Some(&app.admin),
                None,
            )
            .await;
        assert_eq!(r.status, 409, "no review after the decision");
        assert_eq!(
            audit_actions(&app, &format!("change_request:{id2}")).await,
            [
                "change_request.submitted",
                "change_request.evaluated",
                "change_request.pending_review",
                "change_request.review.approve",
                "change_request.review.approve",
                "change_request.approved"
            ]
        );

        // A person who submits can never approve their own request...
        let r = app
            .raw(
                "POST",
                "/api/v1/change-requests",
                Some(&alice),
                Some(submission("dev-sandbox", "gpu-instance-dev-budget")),
                &[],
            )
            .await;
        assert_eq!(
            (r.status, r.body["status"].as_str()),
            (201, Some("pending_review")),
            "{:?}",
            r.body
        );
        let own = r.body["id"].as_i64().unwrap();
        let r = app
            .req(
                "POST",
                &format!("/api/v1/change-requests/{own}/approve"),
                Some(&alice),
                None,
            )
            .await;
        assert_eq!(r.status, 403, "{:?}", r.body);
        assert!(r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cannot approve"));
        // ...and one rejection rejects.
        let r = app
            .req(
                "POST",
                &format!("/api/v1/change-requests/{own}/reject"),
                Some(&bob),
                Some(&json!({"comment": "too expensive"})),
            )
            .await;
        assert_eq!(r.body["status"], "rejected", "{:?}", r.body);

        // Cancel: the submitter may, while pending.
        let r = app
            .signed(
                &bot,
                "POST",
                "/api/v1/change-requests",
                &submission("dev-sandbox", "gpu-instance-dev-budget"),
                &[],
            )
            .await;
        let id4 = r.body["id"].as_i64().unwrap();
        let r = app
            .signed(
                &bot,
                "POST",
                &format!("/api/v1/change-requests/{id4}/cancel"),
                b"",
                &[],
            )
            .await;
        assert_eq!(r.body["status"], "cancelled", "{:?}", r.body);

        // The queue is ordered by priority: the same change in prod before dev.
        let r = app
            .signed(
                &bot,
                "POST",
                "/api/v1/change-requests",
                &submission("dev-sandbox", "disable-public-access-block"),
                &[],
            )
            .await;
        assert_eq!(r.body["status"], "pending_review");
        let dev = r.body["id"].as_i64().unwrap();
        let r = app
            .signed(
                &bot,
                "POST",
                "/api/v1/change-requests",
                &submission("web", "disable-public-access-block"),
                &[],
            )
            .await;
        let prod = r.body["id"].as_i64().unwrap();
        let q = app.req("GET", "/api/v1/reviews", Some(&vic), None).await;
        let ids: Vec<i64> = q.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, vec![prod, dev], "{backend}: {:?}", q.body);

        // Agents see only their own change requests.
        let mine = app
            .signed(&bot, "GET", "/api/v1/change-requests", b"", &[])
            .await;
        assert!(mine.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["submitter"] == "agent:bot"));
        let r = app
            .signed(
                &bot,
                "GET",
                &format!("/api/v1/change-requests/{own}"),
                b"",
                &[],
            )
            .await;
        assert_eq!(r.status, 404);

        let m = app.raw("GET", "/metrics", None, None, &[]).await;
        let text = m.body.as_str().unwrap().to_string();
        assert!(text.contains("arbiter_submissions_total 7"), "{text}");
        assert!(text.contains("arbiter_review_queue_depth 2"), "{text}");
        assert!(text.contains("arbiter_evaluation_seconds_count"), "{text}");

        let entries = verify_export(&app).await;
        assert!(entries > 30, "{entries}");
        app.running.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_signatures_are_refused_each_with_its_own_error() {
    for backend in backends().await {
        let (app, bot) = setup(backend).await;
        let body = submission("web", "tags-only-update");
        let path = "/api/v1/change-requests";
        let stranger = arbiter_api::AgentKey::from_seed([99; 32]);
        let r = app.signed(&stranger, "POST", path, &body, &[]).await;
        assert_eq!((r.status, r.code()), (401, "unknown_key"));

        // Signed for one body, sent with another.
        let h = bot.sign_request("POST", path, common::now(), "aaaaaaaaaaaaaaaa", &body);
        let mut other = body.clone();
        other.push(b' ');
        let headers = [
            (arbiter_api::HEADER_KEY_ID, h.key_id.clone()),
            (arbiter_api::HEADER_TIMESTAMP, h.timestamp.to_string()),
            (arbiter_api::HEADER_NONCE, h.nonce.clone()),
            (arbiter_api::HEADER_SIGNATURE, h.signature.clone()),
        ];
        let r = app.raw("POST", path, None, Some(other), &headers).await;
        assert_eq!((r.status, r.code()), (401, "bad_signature"));
        // Signed for another path.
        let r = app
            .signed_with(
                &bot,
                "POST",
                "/api/v1/evaluate",
                &body,
                common::now(),
                "bbbbbbbbbbbbbbbb",
                &[],
            )
            .await;
        assert_eq!(r.status, 200, "the dry run itself works: {:?}", r.body);
        let h = bot.sign_request(
            "POST",
            "/api/v1/evaluate",
            common::now(),
            "cccccccccccccccc",
            &body,
        );
        let headers = [
            (arbiter_api::HEADER_KEY_ID, h.key_id),
            (arbiter_api::HEADER_TIMESTAMP, h.timestamp.to_string()),
            (arbiter_api::HEADER_NONCE, h.nonce),
            (arbiter_api::HEADER_SIGNATURE, h.signature),
        ];
        let r = app
            .raw("POST", path, None, Some(body.clone()), &headers)
            .await;
        assert_eq!((r.status, r.code()), (401, "bad_signature"));

        for skew in [-301, 301] {
            let r = app
                .signed_with(
                    &bot,
                    "POST",
                    path,
                    &body,
                    common::now() + skew,
                    &format!("skew{skew}xxxxxxxxxxxx"),
                    &[],
                )
                .await;
            assert_eq!(
                (r.status, r.code()),
                (401, "timestamp_out_of_range"),
                "{skew}"
            );
        }
        let ok = app
            .signed_with(
                &bot,
                "POST",
                path,
                &body,
                common::now() - 200,
                "dddddddddddddddd",
                &[],
            )
            .await;
        assert_eq!(
            ok.status, 201,
            "a timestamp within 5 minutes passes: {:?}",
            ok.body
        );
        let again = app
            .signed_with(
                &bot,
                "POST",
                path,
                &body,
                common::now() - 200,
                "dddddddddddddddd",
                &[],
            )
            .await;
        assert_eq!((again.status, again.code()), (401, "replayed_nonce"));
        let r = app
            .signed_with(&bot, "POST", path, &body, common::now(), "short", &[])
            .await;
        assert_eq!((r.status, r.code()), (401, "malformed_signature"));
        let r = app
            .raw(
                "POST",
                path,
                None,
                Some(body.clone()),
                &[(arbiter_api::HEADER_KEY_ID, bot.public().key_id())],
            )
            .await;
        assert_eq!((r.status, r.code()), (401, "missing_signature"));
        let r = app.raw("POST", path, None, Some(body.clone()), &[]).await;
        assert_eq!((r.status, r.code()), (401, "unauthenticated"));
        let r = app
            .raw("POST", path, Some("arb_nope"), Some(body.clone()), &[])
            .await;
        assert_eq!((r.status, r.code()), (401, "invalid_token"));

        let r = app
            .req("POST", "/api/v1/agents/bot/revoke", Some(&app.admin), None)
            .await;
        assert_eq!(r.status, 200);
        let r = app.signed(&bot, "POST", path, &body, &[]).await;
        assert_eq!((r.status, r.code()), (401, "revoked_key"));
        // None of the refused requests left a change request behind.
        let all = app
            .req("GET", "/api/v1/change-requests", Some(&app.admin), None)
            .await;
        assert_eq!(all.body["items"].as_array().unwrap().len(), 1, "{backend}");
        app.running.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scope_violations_reject_with_the_exact_reason() {
    for backend in backends().await {
        let app = spawn(backend, |_| {}).await;
        app.stack("web", "prod", json!({"labels": ["team:web"]}))
            .await;
        app.stack("payments", "prod", json!({"labels": ["team:pay"]}))
            .await;
        app.stack("dev-sandbox", "dev", json!({})).await;
        let narrow = app
            .agent("narrow", 2, json!({"stacks": ["web"], "stack_labels": ["team:pay"], "actions": ["update"], "resource_types": ["aws_s3_*", "aws_autoscaling_group"], "max_blast_radius": 1}), json!({}))
            .await;
        let r = app
            .signed(
                &narrow,
                "POST",
                "/api/v1/change-requests",
                &submission("dev-sandbox", "tags-only-update"),
                &[],
            )
            .await;
        assert_eq!(r.body["status"], "rejected");
        let reason = r.body["reason"].as_str().unwrap();
        assert!(
            reason.contains("stack \"dev-sandbox\" does not exist or is outside the agent's scope"),
            "{reason}"
        );
        // Allowed by label.
        let r = app
            .signed(
                &narrow,
                "POST",
                "/api/v1/change-requests",
                &submission("payments", "asg-scale-out"),
                &[],
            )
            .await;
        assert_eq!(r.body["status"], "approved", "{:?}", r.body);
        // Creating many resources of other types on an allowed stack.
        let r = app
            .signed(
                &narrow,
                "POST",
                "/api/v1/change-requests",
                &submission("web", "small-dev-environment"),
                &[],
            )
            .await;
        assert_eq!(r.body["status"], "rejected");
        let reason = r.body["reason"].as_str().unwrap();
        assert!(
            reason.contains("actions outside the agent's scope (allowed: update): create "),
            "{reason}"
        );
        assert!(
            reason.contains("resource types outside the agent's scope"),
            "{reason}"
        );
        assert!(
            reason.contains("the agent may change at most 1 per change request"),
            "{reason}"
        );
        // The dry run says the same without storing anything.
        let d = app
            .signed(
                &narrow,
                "POST",
                "/api/v1/evaluate",
                &submission("web", "small-dev-environment"),
                &[],
            )
            .await;
        assert_eq!(d.body["status"], "rejected");
        assert_eq!(d.body["scope_violations"].as_array().unwrap().len(), 3);
        // A cost limit: the GPU plan adds far more than $10/month.
        let cheap = app
            .agent(
                "cheap",
                3,
                json!({"stacks": ["*"], "max_monthly_cost_increase_usd": 10}),
                json!({}),
            )
            .await;
        let r = app
            .signed(
                &cheap,
                "POST",
                "/api/v1/change-requests",
                &submission("dev-sandbox", "gpu-instance-dev-budget"),
                &[],
            )
            .await;
        assert_eq!(r.body["status"], "rejected", "{:?}", r.body);
        assert!(
            r.body["reason"]
                .as_str()
                .unwrap()
                .contains("the agent may add at most $10.00/month"),
            "{:?}",
            r.body["reason"]
        );
        app.running.shutdown().await.unwrap();
    }
}

/// A scope's actions are typed (`ScopeAction`), but an unknown one is still
/// a value to fix, named with the accepted ones (422), on create and on
/// update; a value that is not a string is malformed JSON (400).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_scope_action_is_a_422_naming_the_accepted_ones() {
    let app = spawn("sqlite", |_| {}).await;
    let key = arbiter_api::AgentKey::from_seed([9; 32])
        .public()
        .to_base64();
    let want = |r: &common::Resp, text: &str| {
        assert_eq!((r.status, r.code()), (422, "invalid"), "{:?}", r.body);
        assert_eq!(
            r.body["error"]["message"],
            format!("scope.actions: {text:?} is not one of create, update, delete, replace"),
        );
    };
    let r = app
        .req(
            "POST",
            "/api/v1/agents",
            Some(&app.admin),
            Some(&json!({"name": "bot", "public_key": key, "scope": {"stacks": ["*"], "actions": ["create", "destroy"]}})),
        )
        .await;
    want(&r, "destroy");
    let r = app
        .req(
            "POST",
            "/api/v1/agents",
            Some(&app.admin),
            Some(&json!({"name": "bot", "public_key": key, "scope": {"stacks": ["*"], "actions": ["update"]}})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["scope"]["actions"], json!(["update"]));
    // Spellings are exact: `Delete` and `forget` are not actions of a scope.
    for bad in ["Delete", "forget"] {
        let r = app
            .req(
                "PATCH",
                "/api/v1/agents/bot",
                Some(&app.admin),
                Some(&json!({"scope": {"stacks": ["*"], "actions": ["delete", bad]}})),
            )
            .await;
        want(&r, bad);
    }
    let r = app
        .req(
            "PATCH",
            "/api/v1/agents/bot",
            Some(&app.admin),
            Some(&json!({"scope": {"stacks": ["*"], "actions": [3]}})),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "invalid_json"), "{:?}", r.body);
    // Nothing refused was stored; a good update is, and an omitted list
    // means all four.
    let r = app
        .req("GET", "/api/v1/agents/bot", Some(&app.admin), None)
        .await;
    assert_eq!(r.body["scope"]["actions"], json!(["update"]));
    let r = app
        .req(
            "PATCH",
            "/api/v1/agents/bot",
            Some(&app.admin),
            Some(&json!({"scope": {"stacks": ["*"]}})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.body["scope"]["actions"],
        json!(["create", "update", "delete", "replace"])
    );
    app.running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_makes_retries_return_the_same_request() {
    for backend in backends().await {
        let (app, bot) = setup(backend).await;
        let body = submission("web", "tags-only-update");
        let idem = [("idempotency-key", "deploy-42".to_string())];
        let first = app
            .signed(&bot, "POST", "/api/v1/change-requests", &body, &idem)
            .await;
        assert_eq!(first.status, 201);
        let retry = app
            .signed(&bot, "POST", "/api/v1/change-requests", &body, &idem)
            .await;
        assert_eq!(retry.status, 200);
        assert_eq!(retry.body["id"], first.body["id"]);
        assert_eq!(retry.headers["idempotent-replayed"], "true");
        let other = app
            .signed(
                &bot,
                "POST",
                "/api/v1/change-requests",
                &submission("web", "asg-scale-out"),
                &idem,
            )
            .await;
        assert_eq!(
            (other.status, other.code()),
            (422, "idempotency_key_reused")
        );
        // Concurrent retries of one request create it once.
        let idem = [("idempotency-key", "deploy-43".to_string())];
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (base, key, body, idem) =
                (app.base.clone(), bot.clone(), body.clone(), idem.clone());
            tasks.push(tokio::spawn(async move {
                let a = App::client_only(base);
                let r = a
                    .signed(&key, "POST", "/api/v1/change-requests", &body, &idem)
                    .await;
                (r.status, r.body["id"].as_i64())
            }));
        }
        let mut ids = BTreeSet::new();
        let mut created = 0;
        for t in tasks {
            let (s, id) = t.await.unwrap();
            assert!(s == 201 || s == 200, "{s}");
            created += usize::from(s == 201);
            ids.insert(id.unwrap());
        }
        assert_eq!((created, ids.len()), (1, 1), "{backend}");
        app.running.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_velocity_governor_answers_429_with_retry_after_and_records_it() {
    for backend in backends().await {
        let app = spawn(backend, |_| {}).await;
        app.stack("web", "prod", json!({})).await;
        let fast = app
            .agent(
                "fast",
                4,
                json!({"stacks": ["web"]}),
                json!({"submissions_per_minute": 3, "blast_radius_per_hour": 1000}),
            )
            .await;
        for i in 0..3 {
            let r = app
                .signed(
                    &fast,
                    "POST",
                    "/api/v1/change-requests",
                    &submission("web", "tags-only-update"),
                    &[],
                )
                .await;
            assert_eq!(r.status, 201, "{i}: {:?}", r.body);
        }
        let r = app
            .signed(
                &fast,
                "POST",
                "/api/v1/change-requests",
                &submission("web", "tags-only-update"),
                &[],
            )
            .await;
        assert_eq!((r.status, r.code()), (429, "rate_limited"), "{:?}", r.body);
        let wait: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&wait), "{wait}");
        assert_eq!(
            audit_actions(&app, "agent:fast")
                .await
                .last()
                .map(String::as_str),
            Some("agent.rate_limited")
        );

        let wide = app
            .agent(
                "wide",
                5,
                json!({"stacks": ["web"]}),
                json!({"submissions_per_minute": 100, "blast_radius_per_hour": 5}),
            )
            .await;
        // small-dev-environment creates several resources: over an hourly budget of 5 after one.
        let mut statuses = Vec::new();
        for _ in 0..3 {
            let r = app
                .signed(
                    &wide,
                    "POST",
                    "/api/v1/change-requests",
                    &submission("web", "small-dev-environment"),
                    &[],
                )
                .await;
            statuses.push((r.status, r.code().to_string()));
        }
        assert!(
            statuses.contains(&(429, "blast_radius_exceeded".into())),
            "{statuses:?}"
        );
        let m = app.raw("GET", "/metrics", None, None, &[]).await;
        assert!(m
            .body
            .as_str()
            .unwrap()
            .contains("arbiter_rate_limited_total{limit=\"rate\"} 1"));
        app.running.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_reviews_expire() {
    for backend in backends().await {
        let app = spawn(backend, |c| {
            c.review_ttl = std::time::Duration::from_millis(500)
        })
        .await;
        app.stack("web", "prod", json!({})).await;
        let bot = app
            .agent("bot", 6, json!({"stacks": ["web"]}), json!({}))
            .await;
        let r = app
            .signed(
                &bot,
                "POST",
                "/api/v1/change-requests",
                &submission("web", "delete-prod-database"),
                &[],
            )
            .await;
        let id = r.body["id"].as_i64().unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        let r = app
            .req(
                "GET",
                &format!("/api/v1/change-requests/{id}"),
                Some(&app.admin),
                None,
            )
            .await;
        assert_eq!(r.body["status"], "expired", "{:?}", r.body);
        let r = app
            .req(
                "POST",
                &format!("/api/v1/change-requests/{id}/approve"),
                Some(&app.admin),
                None,
            )
            .await;
        assert_eq!(r.status, 409);
        app.running.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_get_clear_errors() {
    for backend in backends().await {
        let app = spawn(backend, |c| c.max_body_bytes = 1024 * 1024).await;
        app.stack("web", "prod", json!({})).await;
        let big = vec![b' '; 2 * 1024 * 1024];
        let r = app
            .raw(
                "POST",
                "/api/v1/change-requests",
                Some(&app.admin),
                Some(big),
                &[],
            )
            .await;
        assert_eq!((r.status, r.code()), (413, "payload_too_large"));
        let deep = format!(
            "{{\"stack\":\"web\",\"plan\":{{\"format_version\":\"1.2\",\"resource_changes\":{}{}}}}}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let r = app
            .raw(
                "POST",
                "/api/v1/change-requests",
                Some(&app.admin),
                Some(deep.into_bytes()),
                &[],
            )
            .await;
        assert_eq!(r.status, 400, "{:?}", r.body);
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("nest"),
            "{:?}",
            r.body
        );
        let r = app
            .req(
                "POST",
                "/api/v1/change-requests",
                Some(&app.admin),
                Some(&json!({"stack": "web", "plan": {}, "oops": 1})),
            )
            .await;
        assert_eq!(r.status, 400);
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("unknown field `oops`"),
            "{:?}",
            r.body
        );
        let r = app
            .req(
                "POST",
                "/api/v1/change-requests",
                Some(&app.admin),
                Some(&json!({"stack": "web", "plan": {"values": {}}})),
            )
            .await;
        assert_eq!((r.status, r.code()), (400, "invalid_plan"), "{:?}", r.body);
        let r = app
            .raw(
                "POST",
                "/api/v1/change-requests",
                Some(&app.admin),
                Some(b"{\"stack\": \"web\", \"plan\": ".to_vec()),
                &[],
            )
            .await;
        assert_eq!(r.status, 400);
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("line 1 column"),
            "{:?}",
            r.body
        );
        let r = app
            .req(
                "POST",
                "/api/v1/stacks",
                Some(&app.admin),
                Some(&json!({"name": "x y", "environment": "prod"})),
            )
            .await;
        assert_eq!(r.status, 422);
        let r = app
            .req(
                "POST",
                "/api/v1/stacks",
                Some(&app.admin),
                Some(&json!({"name": "x", "environment": "moon"})),
            )
            .await;
        assert_eq!(r.status, 422);
        let r = app
            .req(
                "PUT",
                "/api/v1/policy-sets/bad",
                Some(&app.admin),
                Some(&json!({"kind": "plan", "files": {"a.rego": "package main\ndeny[msg] {"}})),
            )
            .await;
        assert_eq!(r.status, 422);
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("bad/a.rego:"),
            "{:?}",
            r.body
        );
        let r = app
            .req("GET", "/api/v1/nothing-here", Some(&app.admin), None)
            .await;
        assert_eq!(r.status, 404);
        app.running.shutdown().await.unwrap();
    }
}

/// Issue 10: a pushed policy set with recursion is refused when it is
/// compiled (it used to abort the server at its first evaluation), with the
/// cycle named; a stored policy over the server's --policy-timeout is an
/// error of that policy, never an approval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recursive_or_endless_policies_are_refused_not_run_forever() {
    let app = spawn("sqlite", |c| {
        c.policy_timeout = std::time::Duration::from_millis(300)
    })
    .await;
    for (kind, files, cycle) in [
        (
            "plan",
            json!({"a.rego": "package x\nimport rego.v1\nf(x) := y if {\n  y := f(x + 1)\n}\n", "main.rego": "package main\nimport rego.v1\ndeny contains \"m\" if data.x.f(1) > 0\n"}),
            "recursion: data.x.f -> data.x.f in rec/a.rego:4",
        ),
        (
            "approval",
            json!({"a.rego": "package arbiter.approval\nimport rego.v1\napprove if g(1)\nf(x) := g(x)\ng(x) := f(x)\n"}),
            "recursion: data.arbiter.approval.g -> data.arbiter.approval.f -> data.arbiter.approval.g in rec/a.rego:4",
        ),
    ] {
        let r = app
            .req(
                "PUT",
                "/api/v1/policy-sets/rec",
                Some(&app.admin),
                Some(&json!({"kind": kind, "files": files})),
            )
            .await;
        assert_eq!(r.status, 422, "{kind}: {:?}", r.body);
        let text = r.body.to_string();
        assert!(text.contains(cycle), "{kind}: {text}");
    }
    // Endless (but not recursive) plan policy: stored, then every
    // evaluation ends with the policy's time-budget error.
    let endless = json!({"kind": "plan", "files": {"loop.rego": "package main\nimport rego.v1\ndeny contains \"x\" if {\n  count([1 | some i in numbers.range(1, 14000); some j in numbers.range(1, 14000); i + j == 0]) >= 0\n}\n"}});
    let r = app
        .req(
            "PUT",
            "/api/v1/policy-sets/endless",
            Some(&app.admin),
            Some(&endless),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    app.stack("slow", "dev", json!({"policy_sets": ["endless"]}))
        .await;
    let bot = app
        .agent("bot", 7, json!({"stacks": ["slow"]}), json!({}))
        .await;
    let started = std::time::Instant::now();
    let r = app
        .signed(
            &bot,
            "POST",
            "/api/v1/change-requests",
            &submission("slow", "tags-only-update"),
            &[],
        )
        .await;
    assert_ne!(r.body["status"], "approved", "{:?}", r.body);
    assert!(
        r.body.to_string().contains("exceeded the time budget"),
        "{} {:?}",
        r.status,
        r.body
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_policy_sets_judge_and_approval_policies_decide() {
    for backend in backends().await {
        let app = spawn(backend, |_| {}).await;
        let deny_tags = json!({"kind": "plan", "files": {"tags.rego": "package main\nimport rego.v1\ndeny contains msg if {\n  some rc in input.resource_changes\n  rc.change.after.tags.owner == \"nobody\"\n  msg := sprintf(\"%s has no owner\", [rc.address])\n}\n"}});
        let r = app
            .req(
                "PUT",
                "/api/v1/policy-sets/owners",
                Some(&app.admin),
                Some(&deny_tags),
            )
            .await;
        assert_eq!(
            (r.status, r.body["version"].as_i64()),
            (200, Some(1)),
            "{:?}",
            r.body
        );
        let one = json!({"kind": "approval", "files": {"one.rego": "package arbiter.approval\nimport rego.v1\napprove if count(input.reviews) >= 1\n"}});
        let r = app
            .req(
                "PUT",
                "/api/v1/policy-sets/one-approval",
                Some(&app.admin),
                Some(&one),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        app.stack(
            "web",
            "prod",
            json!({"policy_sets": ["owners"], "approval_policy": "one-approval"}),
        )
        .await;
        let bot = app
            .agent("bot", 7, json!({"stacks": ["web"]}), json!({}))
            .await;

        let mut plan = common::plan("tags-only-update");
        for rc in plan["resource_changes"].as_array_mut().unwrap() {
            rc["change"]["after"]["tags"]["owner"] = json!("nobody");
        }
        let body = serde_json::to_vec(&json!({"stack": "web", "plan": plan})).unwrap();
        let r = app
            .signed(&bot, "POST", "/api/v1/change-requests", &body, &[])
            .await;
        assert_eq!(r.body["status"], "rejected", "{:?}", r.body);
        assert!(
            r.body["reason"].as_str().unwrap().contains("has no owner"),
            "{:?}",
            r.body["reason"]
        );
        let policy_versions: Value = r.body["verdict"].clone();
        assert!(policy_versions.is_object());

        // With the one-approval policy, a single review approves in prod.
        let r = app
            .signed(
                &bot,
                "POST",
                "/api/v1/change-requests",
                &submission("web", "delete-prod-database"),
                &[],
            )
            .await;
        let id = r.body["id"].as_i64().unwrap();
        let alice = app.user("alice", "reviewer").await;
        let r = app
            .req(
                "POST",
                &format!("/api/v1/change-requests/{id}/approve"),
                Some(&alice),
                None,
            )
            .await;
        assert_eq!(r.body["status"], "approved", "{:?}", r.body);
        // A new version is a new version; the old one stays readable.
        let r = app
            .req(
                "PUT",
                "/api/v1/policy-sets/owners",
                Some(&app.admin),
                Some(&deny_tags),
            )
            .await;
        assert_eq!(r.body["version"], 2);
        let r = app
            .req(
                "GET",
                "/api/v1/policy-sets/owners?version=1",
                Some(&app.admin),
                None,
            )
            .await;
        assert_eq!(r.body["version"], 1);
        app.running.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_on_one_postgres_share_the_work_without_double_processing() {
    let Some(url) = arbiter_testkit::postgres_database().await.unwrap() else {
        return;
    };
    let a = spawn("sqlite", |c| {
        c.database_url = Some(url.clone());
        c.review_ttl = std::time::Duration::from_secs(6);
    })
    .await;
    let b_dir = tempfile::tempdir().unwrap();
    let b_running = arbiter_server::start(arbiter_server::ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: b_dir.path().join("data"),
        // Replicas share the data key.
        data_key_file: Some(a.running.state.config.data_dir.join("data.key")),
        database_url: Some(url.clone()),
        review_ttl: std::time::Duration::from_secs(6),
        tick: std::time::Duration::from_millis(100),
        ..Default::default()
    })
    .await
    .unwrap();
    assert!(
        b_running.first_start.is_none(),
        "the second replica finds the admin"
    );
    let b = App::client_only(format!("http://{}", b_running.addr));
    a.stack("web", "prod", json!({})).await;
    let bot = a
        .agent(
            "bot",
            8,
            json!({"stacks": ["web"]}),
            json!({"submissions_per_minute": 10000, "blast_radius_per_hour": 1000000}),
        )
        .await;
    let alice = a.user("alice", "reviewer").await;
    let bob = a.user("bob", "reviewer").await;
    // Submissions through both replicas.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let base = if i % 2 == 0 {
            a.base.clone()
        } else {
            b.base.clone()
        };
        let key = bot.clone();
        tasks.push(tokio::spawn(async move {
            App::client_only(base)
                .signed(
                    &key,
                    "POST",
                    "/api/v1/change-requests",
                    &submission("web", "delete-prod-database"),
                    &[],
                )
                .await
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.status, 201, "{:?}", r.body);
        ids.push(r.body["id"].as_i64().unwrap());
    }
    ids.sort();
    assert_eq!(
        ids,
        (1..=20).collect::<Vec<_>>(),
        "ids are unique and gap-free across replicas"
    );
    // Two reviewers approving the same request at once on different replicas:
    // both reviews count, the request is approved once.
    for id in 1..=5 {
        let path = format!("/api/v1/change-requests/{id}/approve");
        let (x, y) = tokio::join!(
            a.req("POST", &path, Some(&alice), None),
            b.req("POST", &path, Some(&bob), None)
        );
        assert_eq!(
            (x.status, y.status),
            (200, 200),
            "{:?} {:?}",
            x.body,
            y.body
        );
        let cr = a
            .req(
                "GET",
                &format!("/api/v1/change-requests/{id}"),
                Some(&a.admin),
                None,
            )
            .await;
        assert_eq!(cr.body["status"], "approved");
        assert_eq!(cr.body["reviews"].as_array().unwrap().len(), 2);
        let approvals = audit_actions(&a, &format!("change_request:{id}"))
            .await
            .iter()
            .filter(|x| *x == "change_request.approved")
            .count();
        assert_eq!(approvals, 1);
    }
    // Both replicas run the expiry job; each request expires exactly once.
    let start = std::time::Instant::now();
    loop {
        let q = a.req("GET", "/api/v1/reviews", Some(&a.admin), None).await;
        if q.body["items"].as_array().unwrap().is_empty() {
            break;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "reviews did not expire"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    for id in 6..=20 {
        let acts = audit_actions(&a, &format!("change_request:{id}")).await;
        assert_eq!(
            acts.iter()
                .filter(|x| *x == "change_request.expired")
                .count(),
            1,
            "{id}: {acts:?}"
        );
    }
    assert!(verify_export(&a).await > 60);
    b_running.shutdown().await.unwrap();
    a.running.shutdown().await.unwrap();
}

/// A one-line weakening of a production instance: its metadata service
/// accepts IMDSv1 again (`http_tokens` required → optional).
fn imds_submission(stack: &str) -> Vec<u8> {
    let res = |tokens: &str| {
        json!({
            "ami": "ami-0123456789abcdef0", "instance_type": "t3.small",
            "tags": {"Name": "web"},
            "metadata_options": [{"http_endpoint": "enabled", "http_tokens": tokens,
                "http_put_response_hop_limit": 1, "instance_metadata_tags": "disabled"}],
        })
    };
    let plan = json!({
        "format_version": "1.2", "terraform_version": "1.11.4",
        "resource_changes": [{
            "address": "aws_instance.web", "mode": "managed", "type": "aws_instance",
            "name": "web", "provider_name": "registry.terraform.io/hashicorp/aws",
            "change": {"actions": ["update"], "before": res("required"), "after": res("optional"),
                "after_unknown": {}, "before_sensitive": {}, "after_sensitive": {}}
        }],
        "configuration": {"provider_config": {"aws": {"name": "aws", "full_name": "registry.terraform.io/hashicorp/aws",
            "expressions": {"region": {"constant_value": "us-east-1"}}}}}
    });
    serde_json::to_vec(&json!({"stack": stack, "plan": plan, "intent": "imds"})).unwrap()
}

fn days_from_today(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days))
        .format("%Y-%m-%d")
        .to_string()
}

/// The finding of the IMDS rule in a change request's verdict.
fn imds_finding(cr: &Value) -> Value {
    cr["verdict"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule_id"] == "ARB-AWS-EC2-001")
        .cloned()
        .unwrap_or_else(|| panic!("no ARB-AWS-EC2-001 finding: {cr}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_floor_holds_introduced_weaknesses_until_a_reviewer_waives_them() {
    for backend in backends().await {
        let (app, bot) = setup(backend).await;
        let viewer = app.user("vera", "viewer").await;
        let reviewer = app.user("rex", "reviewer").await;
        let submit = || async {
            let r = app
                .signed(
                    &bot,
                    "POST",
                    "/api/v1/change-requests",
                    &imds_submission("web"),
                    &[],
                )
                .await;
            assert_eq!(r.status, 201, "{:?}", r.body);
            r.body
        };
        // Held by the floor: the points alone would approve it.
        let cr = submit().await;
        assert_eq!(cr["status"], "pending_review", "{cr}");
        assert!(
            cr["verdict"]["confidence"].as_f64().unwrap() >= 95.0,
            "{cr}"
        );
        assert_eq!(imds_finding(&cr)["held_by_floor"], true);
        assert!(imds_finding(&cr)["waiver"].is_null());

        let path = "/api/v1/stacks/web/waivers";
        let spec = |expires: String| {
            json!({"rule": "ARB-AWS-EC2-001", "address": "aws_instance.*",
                "reason": "legacy AMI without IMDSv2 support, replaced in Q1", "owner": "team-web",
                "expires": expires})
        };
        // Who may not waive, and what is refused.
        let r = app
            .req(
                "POST",
                path,
                Some(&viewer),
                Some(&spec(days_from_today(30))),
            )
            .await;
        assert_eq!(r.status, 403, "{:?}", r.body);
        let body = serde_json::to_vec(&spec(days_from_today(30))).unwrap();
        let r = app.signed(&bot, "POST", path, &body, &[]).await;
        assert_eq!(r.status, 403, "{:?}", r.body);
        for (bad, field) in [
            (spec(days_from_today(-1)), "in the past"),
            (spec(days_from_today(400)), "366 days"),
            (spec("31/03/2027".into()), "expires"),
            (
                json!({"rule": "ARB-AWS-EC2-001", "reason": " ", "owner": "o", "expires": days_from_today(3)}),
                "reason",
            ),
        ] {
            let r = app.req("POST", path, Some(&reviewer), Some(&bad)).await;
            assert_eq!(r.status, 422, "{bad}: {:?}", r.body);
            assert!(
                r.body["error"]["message"].as_str().unwrap().contains(field),
                "{field}: {:?}",
                r.body
            );
        }
        let r = app
            .req(
                "POST",
                "/api/v1/stacks/nope/waivers",
                Some(&reviewer),
                Some(&spec(days_from_today(3))),
            )
            .await;
        assert_eq!(r.status, 404, "{:?}", r.body);

        // A reviewer waives it; the same plan is then approved, and the
        // verdict says which waiver covered the finding.
        let r = app
            .req(
                "POST",
                path,
                Some(&reviewer),
                Some(&spec(days_from_today(30))),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let waiver = r.body.clone();
        let id = waiver["id"].as_i64().unwrap();
        assert_eq!(waiver["created_by"], "user:rex");
        assert_eq!(waiver["address"], "aws_instance.*");
        assert_eq!(waiver["expired"], false);
        for token in [&viewer, &reviewer] {
            let r = app.req("GET", path, Some(token), None).await;
            assert_eq!(r.status, 200);
            assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
        }
        let r = app.signed(&bot, "GET", path, &[], &[]).await;
        assert_eq!(r.status, 200, "an agent in scope reads the waivers");
        let cr2 = submit().await;
        assert_eq!(cr2["status"], "approved", "{cr2}");
        let f = imds_finding(&cr2);
        assert_eq!(f["waiver"]["id"], id.to_string());
        assert_eq!(f["waiver"]["owner"], "team-web");
        assert!(f["held_by_floor"].is_null(), "{f}");
        let stored = app
            .req(
                "GET",
                &format!("/api/v1/change-requests/{}", cr2["id"]),
                Some(&viewer),
                None,
            )
            .await;
        assert_eq!(imds_finding(&stored.body)["waiver"]["id"], id.to_string());
        // The earlier verdict is not changed by the waiver.
        let first = app
            .req(
                "GET",
                &format!("/api/v1/change-requests/{}", cr["id"]),
                Some(&viewer),
                None,
            )
            .await;
        assert_eq!(first.body["status"], "pending_review");
        assert!(imds_finding(&first.body)["waiver"].is_null());
        // The change request page shows the waiver.
        let page = app
            .raw(
                "GET",
                &format!("/changes/{}", cr2["id"]),
                Some(&viewer),
                None,
                &[],
            )
            .await;
        let html = page.body.as_str().unwrap_or_default();
        assert!(
            html.contains("class=\"waiver\"")
                && html.contains("legacy AMI")
                && html.contains(&format!("(waiver {id})")),
            "{html}"
        );

        // Revoked: held again. Revoking is idempotent; unknown ids are 404.
        let one = format!("{path}/{id}");
        let r = app.req("DELETE", &one, Some(&viewer), None).await;
        assert_eq!(r.status, 403);
        let r = app.req("DELETE", &one, Some(&reviewer), None).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["revoked_by"], "user:rex");
        let again = app.req("DELETE", &one, Some(&app.admin), None).await;
        assert_eq!(again.status, 200, "{:?}", again.body);
        assert_eq!(again.body["revoked_at"], r.body["revoked_at"]);
        assert_eq!(again.body["revoked_by"], "user:rex");
        let r = app
            .req("DELETE", &format!("{path}/999"), Some(&reviewer), None)
            .await;
        assert_eq!(r.status, 404, "{:?}", r.body);
        let r = app.req("GET", path, Some(&viewer), None).await;
        assert!(r.body["items"].as_array().unwrap().is_empty());
        let r = app
            .req("GET", &format!("{path}?all=true"), Some(&viewer), None)
            .await;
        assert_eq!(r.body["items"][0]["id"], id);
        let cr3 = submit().await;
        assert_eq!(cr3["status"], "pending_review", "{cr3}");
        assert_eq!(imds_finding(&cr3)["held_by_floor"], true);

        // Audited once each, under the stack.
        let acts = audit_actions(&app, "stack:web").await;
        assert_eq!(
            acts.iter().filter(|a| *a == "waiver.created").count(),
            1,
            "{acts:?}"
        );
        assert_eq!(
            acts.iter().filter(|a| *a == "waiver.revoked").count(),
            1,
            "{acts:?}"
        );

        // An expired waiver stops counting, and the verdict says so.
        // (Four seconds ahead: enough for the request on a busy machine.)
        let ends = chrono::Utc::now().timestamp_millis() + 4000;
        let soon = arbiter_api::Timestamp::from_unix_ms(ends).to_string();
        let r = app
            .req("POST", path, Some(&reviewer), Some(&spec(soon)))
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let short = r.body["id"].as_i64().unwrap();
        let wait = ends + 100 - chrono::Utc::now().timestamp_millis();
        tokio::time::sleep(std::time::Duration::from_millis(wait.max(0) as u64)).await;
        let r = app.req("GET", path, Some(&viewer), None).await;
        assert_eq!(r.body["items"][0]["id"], short);
        assert_eq!(r.body["items"][0]["expired"], true);
        let cr_expired = submit().await;
        assert_eq!(cr_expired["status"], "pending_review", "{cr_expired}");
        let f = imds_finding(&cr_expired);
        assert_eq!(f["waiver"]["id"], short.to_string());
        assert_eq!(f["waiver"]["expired"], true);
        assert_eq!(f["held_by_floor"], true);
        assert!(
            cr_expired["verdict"]["warnings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|w| w.as_str().unwrap().contains("expired")),
            "{cr_expired}"
        );
        // Agents read only the waivers of stacks in their scope.
        app.stack("other", "prod", json!({})).await;
        let r = app
            .signed(&bot, "GET", "/api/v1/stacks/other/waivers", &[], &[])
            .await;
        assert_eq!(r.status, 404, "{:?}", r.body);

        // The floor is a stack setting: off lets the weakening through.
        let r = app
            .req(
                "PATCH",
                "/api/v1/stacks/web",
                Some(&app.admin),
                Some(&json!({"escalate_introduced_at": "sometimes"})),
            )
            .await;
        assert_eq!(r.status, 422, "{:?}", r.body);
        assert!(r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("escalate_introduced_at"));
        let r = app
            .req(
                "PATCH",
                "/api/v1/stacks/web",
                Some(&app.admin),
                Some(&json!({"escalate_introduced_at": "OFF"})),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["escalate_introduced_at"], "off");
        let cr4 = submit().await;
        assert_eq!(cr4["status"], "approved", "{cr4}");
        assert!(imds_finding(&cr4)["held_by_floor"].is_null());
        assert!(cr4["verdict"]["stack"]["escalate_introduced_at"].is_null());
        // null restores the environment's default (medium in prod).
        let r = app
            .req(
                "PATCH",
                "/api/v1/stacks/web",
                Some(&app.admin),
                Some(&json!({"escalate_introduced_at": null})),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert!(r.body.get("escalate_introduced_at").is_none());
        let cr5 = submit().await;
        assert_eq!(cr5["status"], "pending_review", "{cr5}");
        assert_eq!(cr5["verdict"]["stack"]["escalate_introduced_at"], "medium");
        app.running.shutdown().await.unwrap();
    }
}

/// Every answer carries a request id: the client's when it is well formed,
/// a fresh one otherwise (never a header that could forge log lines).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_a_request_id() {
    let app = spawn("sqlite", |_| {}).await;
    let id_of = |r: &common::Resp| {
        r.headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let r = app
        .raw(
            "GET",
            "/healthz",
            None,
            None,
            &[("x-request-id", "ci-run-42.step:7".to_string())],
        )
        .await;
    assert_eq!(id_of(&r), "ci-run-42.step:7");
    let a = id_of(
        &app.raw("GET", "/api/v1/whoami", Some(&app.admin), None, &[])
            .await,
    );
    let b = id_of(&app.raw("GET", "/api/v1/whoami", None, None, &[]).await);
    assert!(a.len() >= 16 && b.len() >= 16 && a != b, "{a} {b}");
    let long = "x".repeat(200);
    for bad in ["two words", long.as_str(), "a\tb"] {
        let r = app
            .raw(
                "GET",
                "/healthz",
                None,
                None,
                &[("x-request-id", bad.to_string())],
            )
            .await;
        let got = id_of(&r);
        assert!(!got.is_empty() && got != bad, "{bad:?} kept as {got:?}");
    }
}

/// Issue 10: while runaway policies burn their whole budget on several
/// evaluations at once, the server keeps answering other clients (asserted
/// loosely here; `cargo bench -p arbiter-server --bench hostile`, scenario
/// `runaway/4`, measures it) and each runaway ends with its budget error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_keeps_answering_while_runaway_policies_run() {
    let app = spawn("sqlite", |c| {
        c.policy_timeout = std::time::Duration::from_secs(3)
    })
    .await;
    let endless = json!({"kind": "plan", "files": {"loop.rego": "package main\nimport rego.v1\nwarn contains \"x\" if {\n  count([1 | some i in numbers.range(1, 14000); some j in numbers.range(1, 14000); i + j == 0]) >= 0\n}\n"}});
    let r = app
        .req(
            "PUT",
            "/api/v1/policy-sets/endless",
            Some(&app.admin),
            Some(&endless),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    app.stack("slow", "dev", json!({"policy_sets": ["endless"]}))
        .await;
    let started = std::time::Instant::now();
    let mut runs = Vec::new();
    for _ in 0..4 {
        let c = common::App::client_only(app.base.clone());
        let admin = app.admin.clone();
        let body: Value = serde_json::from_slice(&submission("slow", "tags-only-update")).unwrap();
        runs.push(tokio::spawn(async move {
            let c = common::Client { admin, ..c };
            c.req("POST", "/api/v1/evaluate", Some(&c.admin), Some(&body))
                .await
        }));
    }
    // Meanwhile: /healthz and a write by another client.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let t = std::time::Instant::now();
    let r = app
        .req(
            "POST",
            "/api/v1/tokens",
            Some(&app.admin),
            Some(&json!({"label": "meanwhile"})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let write = t.elapsed();
    assert!(
        !runs.iter().all(|h| h.is_finished()),
        "the runaway evaluations ended before the write: nothing was measured"
    );
    let mut worst = std::time::Duration::ZERO;
    while !runs.iter().all(|h| h.is_finished())
        && started.elapsed() < std::time::Duration::from_secs(60)
    {
        let t = std::time::Instant::now();
        let r = app.req("GET", "/healthz", None, None).await;
        assert_eq!(r.status, 200);
        worst = worst.max(t.elapsed());
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    for h in runs {
        let r = h.await.unwrap();
        assert!(
            r.body.to_string().contains("exceeded the time budget"),
            "{} {:?}",
            r.status,
            r.body
        );
    }
    eprintln!(
        "runaway policies: ended after {:.1} s; /healthz worst {worst:?}; a write {write:?}",
        started.elapsed().as_secs_f64()
    );
    assert!(
        worst < std::time::Duration::from_secs(2),
        "/healthz took {worst:?}"
    );
    assert!(
        write < std::time::Duration::from_secs(2),
        "a write took {write:?}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
}
