//! Policy backtests (`POST /api/v1/backtests`) over a seeded set of change
//! requests, some of them decided by reviewers, on both backends.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::{backends, spawn, submission, App};
use serde_json::{json, Value};

const GUARD: &str = "package main\n\ndeny[msg] {\n  false\n  msg := \"never\"\n}\n";
const FREEZE: &str =
    "package main\n\ndeny[msg] {\n  input.resource_changes[_]\n  msg := \"change freeze\"\n}\n";

/// The seeded change requests: (plan, decision at submission, what the
/// reviewer does, status after).
const SEEDED: [(&str, &str, Option<&str>, &str); 5] = [
    ("tags-only-update", "approve", None, "approved"),
    ("asg-scale-out", "approve", None, "approved"),
    (
        "disable-public-access-block",
        "review",
        Some("approve"),
        "approved",
    ),
    ("delete-prod-database", "review", Some("reject"), "rejected"),
    ("ssh-open-to-world", "reject", None, "rejected"),
];

/// A staging stack (one approval decides) using policy set `guard`, the
/// seeded change requests submitted by an agent and reviewed by `rita`;
/// returns (reviewer token, viewer token, ids in SEEDED order).
async fn seed(app: &App) -> (String, String, Vec<i64>) {
    let r = app
        .req(
            "PUT",
            "/api/v1/policy-sets/guard",
            Some(&app.admin),
            Some(&json!({"kind": "plan", "files": {"guard.rego": GUARD}})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    app.stack("web", "staging", json!({"policy_sets": ["guard"]}))
        .await;
    // A stack without the guard set: skipped when the guard is replaced.
    app.stack("other", "dev", json!({})).await;
    let bot = app
        .agent(
            "bot",
            21,
            json!({"stacks": ["*"]}),
            json!({"submissions_per_minute": 1000}),
        )
        .await;
    let rita = app.user("rita", "reviewer").await;
    let vic = app.user("vic", "viewer").await;
    let mut ids = Vec::new();
    for (plan, decision, review, status) in SEEDED {
        let r = app
            .signed(
                &bot,
                "POST",
                "/api/v1/change-requests",
                &submission("web", plan),
                &[],
            )
            .await;
        assert!(r.status == 201 || r.status == 200, "{plan}: {:?}", r.body);
        assert_eq!(r.body["decision"], decision, "{plan}: {:?}", r.body);
        let id = r.body["id"].as_i64().unwrap();
        if let Some(d) = review {
            let r = app
                .req(
                    "POST",
                    &format!("/api/v1/change-requests/{id}/{d}"),
                    Some(&rita),
                    Some(&json!({"comment": "backtest seed"})),
                )
                .await;
            assert_eq!(r.status, 200, "{plan}: {:?}", r.body);
        }
        let r = app
            .req(
                "GET",
                &format!("/api/v1/change-requests/{id}"),
                Some(&app.admin),
                None,
            )
            .await;
        assert_eq!(r.body["status"], status, "{plan}: {:?}", r.body);
        ids.push(id);
    }
    // One in the other stack.
    let r = app
        .signed(
            &bot,
            "POST",
            "/api/v1/change-requests",
            &submission("other", "tags-only-update"),
            &[],
        )
        .await;
    assert!(r.status == 201 || r.status == 200, "{:?}", r.body);
    (rita, vic, ids)
}

async fn backtest(app: &App, token: &str, body: Value) -> common::Resp {
    app.req("POST", "/api/v1/backtests", Some(token), Some(&body))
        .await
}

fn change_of(report: &Value, id: i64) -> Option<String> {
    report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .map(|c| c["change"].as_str().unwrap().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_candidate_policy_is_replayed_over_stored_change_requests() {
    for backend in backends().await {
        let app = spawn(backend, |_| {}).await;
        let (rita, vic, ids) = seed(&app).await;

        // A change freeze in place of `guard`: everything not rejected
        // already becomes rejected; the stack without `guard` is skipped.
        let r = backtest(
            &app,
            &rita,
            json!({"files": {"freeze.rego": FREEZE}, "replaces": "guard", "since_seconds": 3600}),
        )
        .await;
        assert_eq!(r.status, 200, "{backend}: {:?}", r.body);
        let b = &r.body;
        assert_eq!(b["format"], "arbiter-backtest/1");
        assert_eq!(b["considered"], 6, "{backend}: {b}");
        assert_eq!(b["skipped"], 1, "{backend}: {b}");
        assert_eq!(b["complete"], true, "{backend}: {b}");
        assert_eq!(b["totals"]["replayed"], 5, "{backend}: {b}");
        assert_eq!(b["totals"]["newly_rejected"], 4, "{backend}: {b}");
        assert_eq!(b["totals"]["unchanged"], 1, "{backend}: {b}");
        assert_eq!(b["totals"]["newly_approved"], 0, "{backend}: {b}");
        assert_eq!(b["stacks"].as_array().unwrap().len(), 1, "{b}");
        assert_eq!(b["stacks"][0]["stack"], "web");
        assert_eq!(b["stacks"][0]["newly_rejected"], 4);
        // Against the reviewers: one approved by a person is now held;
        // nothing a person rejected would be auto-approved.
        assert_eq!(b["people"]["decided"], 2, "{backend}: {b}");
        assert_eq!(b["people"]["approved"], 1);
        assert_eq!(b["people"]["rejected"], 1);
        assert_eq!(b["people"]["held_but_approved"], 1);
        assert_eq!(
            b["people"]["held_but_approved_list"],
            json!([format!("#{}", ids[2])])
        );
        assert_eq!(b["people"]["auto_approved_but_rejected"], 0);
        for (i, id) in ids.iter().enumerate() {
            let want = if i == 4 {
                None
            } else {
                Some("newly_rejected".to_string())
            };
            assert_eq!(change_of(b, *id), want, "{backend}: #{id}: {b}");
        }
        let first = b["changes"][0].clone();
        assert_eq!(first["id"], ids[3], "newest first: {b}");
        assert_eq!(first["before"], "review");
        assert_eq!(first["after"], "reject");
        assert_eq!(first["people"], "rejected");
        // Only results leave the server: no plan in the answer.
        assert!(!b.to_string().contains("resource_changes"), "{b}");

        // A threshold candidate: compared with what the server itself
        // decides for a stack configured that way (a dry run).
        let candidate = "auto_apply_threshold = 99.9\n";
        let r = backtest(
            &app,
            &app.admin,
            json!({"stack_config": candidate, "stack": "web", "since_seconds": 3600}),
        )
        .await;
        assert_eq!(r.status, 200, "{backend}: {:?}", r.body);
        let b = r.body.clone();
        assert_eq!(b["considered"], 5, "{backend}: {b}");
        app.stack(
            "oracle",
            "staging",
            json!({"policy_sets": ["guard"], "auto_apply_threshold": 99.9}),
        )
        .await;
        let mut newly = (0, 0, 0);
        let mut auto_approved_rejected = 0;
        for (i, (plan, before, review, _)) in SEEDED.iter().enumerate() {
            let d = app
                .req(
                    "POST",
                    "/api/v1/evaluate",
                    Some(&app.admin),
                    Some(&serde_json::from_slice(&submission("oracle", plan)).unwrap()),
                )
                .await;
            assert_eq!(d.status, 200, "{:?}", d.body);
            let after = d.body["verdict"]["decision"].as_str().unwrap().to_string();
            let want = if after == *before {
                None
            } else {
                Some(
                    match after.as_str() {
                        "approve" => {
                            newly.0 += 1;
                            "newly_approved"
                        }
                        "review" => {
                            newly.1 += 1;
                            "newly_sent_to_review"
                        }
                        _ => {
                            newly.2 += 1;
                            "newly_rejected"
                        }
                    }
                    .to_string(),
                )
            };
            if after == "approve" && *review == Some("reject") {
                auto_approved_rejected += 1;
            }
            assert_eq!(change_of(&b, ids[i]), want, "{backend}: {plan}: {b}");
        }
        assert!(
            newly.0 + newly.1 + newly.2 > 0,
            "the higher threshold changes something: {b}"
        );
        assert_eq!(b["totals"]["newly_approved"], newly.0, "{b}");
        assert_eq!(b["totals"]["newly_sent_to_review"], newly.1, "{b}");
        assert_eq!(b["totals"]["newly_rejected"], newly.2, "{b}");
        assert_eq!(
            b["people"]["auto_approved_but_rejected"], auto_approved_rejected,
            "{b}"
        );

        // Who may: viewers and agents are refused.
        let r = backtest(&app, &vic, json!({"stack_config": candidate})).await;
        assert_eq!(r.status, 403, "{:?}", r.body);
        let key = arbiter_api::AgentKey::from_seed([21; 32]);
        let body = serde_json::to_vec(&json!({"stack_config": candidate})).unwrap();
        let r = app
            .signed(&key, "POST", "/api/v1/backtests", &body, &[])
            .await;
        assert_eq!(r.status, 403, "{:?}", r.body);

        // Validated like a push: a candidate that does not compile, no
        // candidate at all, a window too long, a bad stack file.
        let r = backtest(
            &app,
            &rita,
            json!({"files": {"bad.rego": "package main\ndeny[msg] {"}}),
        )
        .await;
        assert_eq!(r.status, 422, "{:?}", r.body);
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("bad.rego"),
            "{:?}",
            r.body
        );
        let r = backtest(&app, &rita, json!({})).await;
        assert_eq!(r.status, 422, "{:?}", r.body);
        let r = backtest(
            &app,
            &rita,
            json!({"stack_config": candidate, "since_seconds": 40_000_000}),
        )
        .await;
        assert_eq!(r.status, 422, "{:?}", r.body);
        let r = backtest(
            &app,
            &rita,
            json!({"stack_config": "auto_apply_threshold = 200"}),
        )
        .await;
        assert_eq!(r.status, 422, "{:?}", r.body);
        assert!(r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("between 0 and 100"));
        let r = backtest(
            &app,
            &rita,
            json!({"stack_config": candidate, "stack": "nope"}),
        )
        .await;
        assert_eq!(r.status, 404, "{:?}", r.body);
        let r = backtest(
            &app,
            &rita,
            json!({"stack_config": candidate, "surprise": 1}),
        )
        .await;
        assert_eq!(r.status, 400, "{:?}", r.body);

        // A limit replays the newest only, and says so.
        let r = backtest(
            &app,
            &rita,
            json!({"files": {"freeze.rego": FREEZE}, "limit": 2, "since_seconds": 3600}),
        )
        .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["complete"], false, "{:?}", r.body);
        assert_eq!(r.body["totals"]["replayed"], 2, "{:?}", r.body);
        assert!(r.body["incomplete"].as_str().unwrap().contains("limit"));
        app.running.shutdown().await.unwrap();
    }
}

/// The evaluation budgets apply: a candidate policy over the time budget
/// fails each replay (counted, never an approval).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_candidate_over_the_evaluation_budget_fails_closed() {
    let app = spawn("sqlite", |c| {
        c.policy_timeout = std::time::Duration::from_millis(200)
    })
    .await;
    let (rita, _, _) = seed(&app).await;
    let slow = "package main\n\nimport rego.v1\n\ndeny contains msg if {\n  n := count([x | some x in numbers.range(1, 3000); some y in numbers.range(1, 3000); x == y + 5000])\n  n > 100\n  msg := \"slow\"\n}\n";
    let r = backtest(
        &app,
        &rita,
        json!({"files": {"slow.rego": slow}, "stack": "web", "since_seconds": 3600}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let b = &r.body;
    assert_eq!(b["totals"]["failed"], 5, "{b}");
    assert_eq!(b["totals"]["newly_approved"], 0, "{b}");
    let e = b["changes"][0]["error"].as_str().unwrap();
    assert!(
        e.contains("time") || e.contains("budget") || e.contains("limit"),
        "{e}"
    );
    app.running.shutdown().await.unwrap();
}

/// The whole backtest is bounded by the request's time budget: it answers
/// before the request timeout with what it replayed, saying it stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backtest_stops_at_its_time_budget_and_says_so() {
    let app = spawn("sqlite", |c| {
        c.request_timeout = std::time::Duration::from_secs(3);
        c.policy_timeout = std::time::Duration::from_secs(4);
    })
    .await;
    let (rita, _, _) = seed(&app).await;
    let slow = "package main\n\nimport rego.v1\n\ndeny contains msg if {\n  n := count([x | some x in numbers.range(1, 20000); some y in numbers.range(1, 20000); x == y + 50000])\n  n > 100\n  msg := \"slow\"\n}\n";
    let t = std::time::Instant::now();
    let r = backtest(
        &app,
        &rita,
        json!({"files": {"slow.rego": slow}, "stack": "web", "since_seconds": 3600}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(
        t.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        t.elapsed()
    );
    let b = &r.body;
    assert_eq!(b["complete"], false, "{b}");
    assert!(
        b["incomplete"].as_str().unwrap().contains("time budget"),
        "{b}"
    );
    assert!(b["totals"]["replayed"].as_u64().unwrap() < 5, "{b}");
    assert_eq!(b["totals"]["newly_approved"], 0, "{b}");
}
