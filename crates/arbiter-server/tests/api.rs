//! The server over real HTTP against real databases (SQLite, and
//! PostgreSQL when installed): lifecycle, reviews, signatures, scopes,
//! idempotency, the velocity governor, limits, replicas.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{backends, spawn, submission, App};
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

async fn audit_actions(app: &App, subject: &str) -> Vec<String> {
    let r = app
        .req(
            "GET",
            &format!("/api/v1/audit/subjects/{subject}"),
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let mut v: Vec<String> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["entry"]["action"].as_str().unwrap().to_string())
        .collect();
    v.reverse();
    v
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
