//! Webhooks against a real HTTP receiver on 127.0.0.1 (a small axum server
//! started by each test), on SQLite and PostgreSQL: signatures, retries
//! with backoff, giving up, event patterns, the Slack format, the delivery
//! log, secrets kept out of answers, and two replicas on one PostgreSQL
//! delivering each event once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::{backends, spawn, App};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Got {
    path: String,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
    at: Instant,
}

impl Got {
    fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A receiver: records every request; answers each path with the statuses
/// scripted for it, in order (0 = never answer), then 200.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Got>>>,
    script: Arc<Mutex<HashMap<String, VecDeque<u16>>>>,
    base: String,
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut r = Receiver {
            base: format!("http://{}", listener.local_addr().unwrap()),
            ..Receiver::default()
        };
        let state = r.clone();
        let app = axum::Router::new().fallback(
            move |uri: axum::http::Uri, headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let state = state.clone();
                async move {
                    let path = uri.path().to_string();
                    state.got.lock().unwrap().push(Got {
                        path: path.clone(),
                        headers,
                        body: body.to_vec(),
                        at: Instant::now(),
                    });
                    let next = state
                        .script
                        .lock()
                        .unwrap()
                        .get_mut(&path)
                        .and_then(|q| q.pop_front())
                        .unwrap_or(200);
                    if next == 0 {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                    }
                    axum::http::StatusCode::from_u16(next).unwrap()
                }
            },
        );
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        r.got = r.got.clone();
        r
    }
    fn script(&self, path: &str, statuses: &[u16]) {
        self.script
            .lock()
            .unwrap()
            .insert(path.into(), statuses.iter().copied().collect());
    }
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
    fn at(&self, path: &str) -> Vec<Got> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|g| g.path == path)
            .cloned()
            .collect()
    }
}

/// The receiver's check, written from docs/webhooks.md: HMAC-SHA256 over
/// `timestamp "." body` with the secret, hex, after `sha256=`.
fn verifies(secret: &str, g: &Got) -> bool {
    let ts = g.header("x-arbiter-timestamp");
    let Some(sig) = g
        .header("x-arbiter-signature")
        .strip_prefix("sha256=")
        .map(String::from)
    else {
        return false;
    };
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(&g.body);
    let Ok(bytes) = hex::decode(sig) else {
        return false;
    };
    mac.verify_slice(&bytes).is_ok()
}

/// The shell check from docs/webhooks.md, with the real openssl.
fn openssl_signature(secret: &str, g: &Got) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("body.json");
    std::fs::write(&body, &g.body).unwrap();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"printf '%s.' "$TS" | cat - "$BODY" | openssl dgst -sha256 -hmac "$SECRET" | sed 's/^.*= //'"#)
        .env("TS", g.header("x-arbiter-timestamp"))
        .env("BODY", &body)
        .env("SECRET", secret)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn fast(c: &mut arbiter_server::ServerConfig) {
    c.webhooks.poll = Duration::from_millis(50);
    c.webhooks.backoff_base = Duration::from_millis(300);
    c.webhooks.timeout = Duration::from_secs(2);
}

async fn subscribe(app: &App, url: &str, events: &[&str], format: &str) -> (i64, String) {
    let r = app
        .req(
            "POST",
            "/api/v1/webhooks",
            Some(&app.admin),
            Some(&json!({"url": url, "events": events, "format": format})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let secret = r.body["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_") && secret.len() == 6 + 64);
    (r.body["id"].as_i64().unwrap(), secret)
}

async fn deliveries(app: &App, id: i64) -> Vec<Value> {
    let r = app
        .req(
            "GET",
            &format!("/api/v1/webhooks/{id}/deliveries"),
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["items"].as_array().unwrap().clone()
}

/// Waits until the subscription's deliveries satisfy `done`.
async fn wait_for(app: &App, id: i64, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let t = Instant::now();
    loop {
        let d = deliveries(app, id).await;
        if done(&d) {
            return d;
        }
        if t.elapsed() > Duration::from_secs(30) {
            panic!("[{}] timed out waiting for {what}: {d:#?}", app.backend);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn all_delivered(n: usize) -> impl Fn(&[Value]) -> bool {
    move |d| d.len() == n && d.iter().all(|x| x["status"] == "delivered")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_are_signed_filtered_by_pattern_and_carry_the_event() {
    for backend in backends().await {
        let rx = Receiver::start().await;
        let app = spawn(backend, fast).await;
        let (all_stack, s1) = subscribe(&app, &rx.url("/stack"), &["stack.*"], "json").await;
        let (created_only, s2) =
            subscribe(&app, &rx.url("/created"), &["stack.created"], "json").await;
        let (agents, _) = subscribe(&app, &rx.url("/agents"), &["agent.*"], "json").await;
        app.stack("web", "dev", json!({})).await;
        let r = app
            .req(
                "PATCH",
                "/api/v1/stacks/web",
                Some(&app.admin),
                Some(&json!({"labels": ["team:web"]})),
            )
            .await;
        assert_eq!(r.status, 200);
        wait_for(&app, all_stack, "two stack events", all_delivered(2)).await;
        wait_for(&app, created_only, "stack.created", all_delivered(1)).await;
        assert!(
            deliveries(&app, agents).await.is_empty(),
            "[{backend}] agent.* got a stack event"
        );
        let mut got = rx.at("/stack");
        assert_eq!(got.len(), 2, "[{backend}]");
        // Deliveries are sent concurrently, so they may arrive in either
        // order; the events themselves are ordered by their id (audit seq).
        assert!(
            got.iter().all(|g| g.json()["event_id"].is_u64()),
            "[{backend}]"
        );
        got.sort_by_key(|g| g.json()["event_id"].as_u64());
        let types: Vec<String> = got.iter().map(|g| g.header("x-arbiter-event")).collect();
        assert_eq!(types, ["stack.created", "stack.updated"], "[{backend}]");
        assert_eq!(rx.at("/created").len(), 1);
        assert!(rx.at("/agents").is_empty());

        // The audit entries the events are.
        let audit = app
            .req(
                "GET",
                "/api/v1/audit/subjects/stack:web",
                Some(&app.admin),
                None,
            )
            .await;
        let mut seqs: Vec<i64> = audit.body["items"]
            .as_array()
            .unwrap_or_else(|| audit.body.as_array().unwrap())
            .iter()
            .map(|e| e["seq"].as_i64().or(e["entry"]["seq"].as_i64()).unwrap())
            .collect();
        seqs.sort();
        for (g, seq) in got.iter().zip(&seqs) {
            assert!(verifies(&s1, g), "[{backend}] signature does not verify");
            assert!(!verifies(&s2, g), "another subscription's secret verifies");
            let mut tampered = g.clone();
            tampered.body = String::from_utf8(g.body.clone())
                .unwrap()
                .replace("\"dev\"", "\"prod\"")
                .replace("team:web", "team:evil")
                .into_bytes();
            assert_ne!(tampered.body, g.body);
            assert!(!verifies(&s1, &tampered), "a tampered body verifies");
            let mut late = g.clone();
            late.headers.insert(
                "x-arbiter-timestamp",
                (g.header("x-arbiter-timestamp").parse::<i64>().unwrap() + 1)
                    .to_string()
                    .parse()
                    .unwrap(),
            );
            assert!(!verifies(&s1, &late), "a changed timestamp verifies");
            let ts: i64 = g.header("x-arbiter-timestamp").parse().unwrap();
            assert!((ts - common::now()).abs() < 60);
            if let Some(sig) = openssl_signature(&s1, g) {
                assert_eq!(format!("sha256={sig}"), g.header("x-arbiter-signature"));
            }
            let b = g.json();
            assert_eq!(b["event_id"].as_i64(), Some(*seq), "[{backend}] {b}");
            assert_eq!(b["type"], g.header("x-arbiter-event"));
            assert_eq!(b["delivery"], g.header("x-arbiter-delivery"));
            assert_eq!(b["delivery"], format!("{seq}-{all_stack}"));
            assert_eq!(b["subject"], "stack:web");
            assert_eq!(b["actor"], "user:admin");
            assert_eq!(b["link"], format!("{}/api/v1/stacks/web", app.base));
            assert!(b["time"].as_str().unwrap().ends_with('Z'));
            assert_eq!(b["entry_hash"].as_str().unwrap().len(), 64);
            assert!(g.header("content-type").starts_with("application/json"));
        }
        assert_eq!(got[0].json()["payload"]["environment"], "dev");
        assert_eq!(
            got[1].json()["payload"]["update"]["labels"],
            json!(["team:web"])
        );

        // A later subscription gets later events only; agent events reach agent.*.
        app.agent("bot", 7, json!({"stacks": ["web"]}), json!({}))
            .await;
        let d = wait_for(&app, agents, "agent.created", all_delivered(1)).await;
        assert_eq!(d[0]["event_type"], "agent.created");
        assert_eq!(d[0]["attempts"], 1);
        assert_eq!(d[0]["attempt_log"][0]["http_status"], 200);
        assert_eq!(
            rx.at("/agents")[0].json()["link"],
            format!("{}/api/v1/agents/bot", app.base)
        );

        // Deleting stops deliveries; the log stays readable.
        let r = app
            .req(
                "DELETE",
                &format!("/api/v1/webhooks/{created_only}"),
                Some(&app.admin),
                None,
            )
            .await;
        assert_eq!(r.status, 204);
        app.stack("api", "dev", json!({})).await;
        wait_for(&app, all_stack, "the third stack event", all_delivered(3)).await;
        assert_eq!(deliveries(&app, created_only).await.len(), 1);
        assert_eq!(
            rx.at("/created").len(),
            1,
            "[{backend}] a deleted subscription got an event"
        );
        let r = app
            .req(
                "GET",
                &format!("/api/v1/webhooks/{created_only}"),
                Some(&app.admin),
                None,
            )
            .await;
        assert_eq!(r.status, 404);
        app.running.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_and_url_paths_stay_out_of_answers_and_the_audit_log() {
    let rx = Receiver::start().await;
    let app = spawn("sqlite", fast).await;
    let viewer = app.user("vic", "viewer").await;
    let url = rx.url("/services/T000/B000/credential-in-path");
    let r = app
        .req(
            "POST",
            "/api/v1/webhooks",
            Some(&app.admin),
            Some(&json!({"url": url, "events": ["*"], "secret": "my-own-secret-0123456789", "description": "ops"})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["secret"], "my-own-secret-0123456789");
    let id = r.body["id"].as_i64().unwrap();
    let admin_view = app
        .req(
            "GET",
            &format!("/api/v1/webhooks/{id}"),
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(admin_view.status, 200);
    assert_eq!(admin_view.body["url"], url.as_str());
    let viewer_view = app
        .req(
            "GET",
            &format!("/api/v1/webhooks/{id}"),
            Some(&viewer),
            None,
        )
        .await;
    assert_eq!(viewer_view.body["url"], format!("{}/…", rx.base));
    let list = app
        .req("GET", "/api/v1/webhooks", Some(&viewer), None)
        .await;
    assert_eq!(list.body["items"][0]["url"], format!("{}/…", rx.base));
    let ping = app
        .req(
            "POST",
            &format!("/api/v1/webhooks/{id}/test"),
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(ping.status, 202, "{:?}", ping.body);
    let d = wait_for(&app, id, "the ping", |d| {
        d.iter()
            .any(|x| x["event_type"] == "webhook.ping" && x["status"] == "delivered")
    })
    .await;
    assert!(d.iter().any(|x| x["id"] == ping.body["delivery"]));
    // The ping is a real signed delivery; with the caller's own secret.
    let pinged = rx.at("/services/T000/B000/credential-in-path");
    let p = pinged
        .iter()
        .find(|g| g.header("x-arbiter-event") == "webhook.ping")
        .unwrap();
    assert!(verifies("my-own-secret-0123456789", p));
    for body in [
        &admin_view.body,
        &viewer_view.body,
        &list.body,
        &Value::Array(d),
    ] {
        let text = body.to_string();
        assert!(!text.contains("my-own-secret"), "{text}");
    }
    let export = app
        .raw("GET", "/api/v1/audit/export", Some(&app.admin), None, &[])
        .await;
    let text = export.body.to_string();
    assert!(text.contains("webhook.created") && text.contains("webhook.ping"));
    assert!(
        !text.contains("my-own-secret"),
        "the secret is in the audit log"
    );
    assert!(
        !text.contains("credential-in-path"),
        "the URL path is in the audit log"
    );

    // Bad subscriptions are refused with the reason.
    for (body, why) in [
        (
            json!({"url": "https://user:pw@hooks.slack.com/x", "events": ["*"]}),
            "user information",
        ),
        (json!({"url": "ftp://x/", "events": ["*"]}), "http://"),
        (json!({"url": "http://x/", "events": []}), "1-50 patterns"),
        (
            json!({"url": "http://x/", "events": ["Stack.*"]}),
            "\"Stack.*\"",
        ),
        (
            json!({"url": "http://x/", "events": ["*"], "format": "xml"}),
            "json, slack",
        ),
        (
            json!({"url": "http://x/", "events": ["*"], "secret": "short"}),
            "16-256",
        ),
    ] {
        let r = app
            .req("POST", "/api/v1/webhooks", Some(&app.admin), Some(&body))
            .await;
        assert_eq!(r.status, 422, "{body}: {:?}", r.body);
        let msg = r.body["error"]["message"].as_str().unwrap();
        assert!(msg.contains(why), "{body}: {msg}");
    }
    let r = app
        .req(
            "POST",
            "/api/v1/webhooks",
            Some(&app.admin),
            Some(&json!({"url": "http://x/", "events": ["*"], "secret_key": "x"})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("unknown field `secret_key`"));
    for path in [
        "/api/v1/webhooks/999",
        "/api/v1/webhooks/abc",
        "/api/v1/webhooks/999/deliveries",
    ] {
        let r = app.req("GET", path, Some(&app.admin), None).await;
        assert_eq!(r.status, 404, "{path}");
    }
    let r = app
        .req(
            "GET",
            &format!("/api/v1/webhooks/{id}/deliveries?status=lost"),
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(r.status, 400);
    app.running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_receiver_is_retried_with_growing_delays_and_the_log_shows_each_attempt() {
    for backend in backends().await {
        let rx = Receiver::start().await;
        rx.script("/flaky", &[500, 500, 200]);
        let app = spawn(backend, fast).await;
        let (id, secret) = subscribe(&app, &rx.url("/flaky"), &["stack.created"], "json").await;
        app.stack("web", "dev", json!({})).await;
        let d = wait_for(&app, id, "delivery after two failures", all_delivered(1)).await;
        let log = d[0]["attempt_log"].as_array().unwrap();
        assert_eq!(d[0]["attempts"], 3, "[{backend}] {d:#?}");
        let statuses: Vec<i64> = log
            .iter()
            .map(|a| a["http_status"].as_i64().unwrap())
            .collect();
        assert_eq!(statuses, [500, 500, 200], "[{backend}]");
        assert!(log[0]["error"]
            .as_str()
            .unwrap()
            .contains("answered HTTP 500"));
        assert!(log[2]["error"].is_null());
        assert_eq!(d[0]["last_http_status"], 200);
        assert!(d[0]["delivered_at"].is_string() && d[0]["next_attempt_at"].is_null());
        let got = rx.at("/flaky");
        assert_eq!(got.len(), 3, "[{backend}]");
        let ids: Vec<String> = got.iter().map(|g| g.header("x-arbiter-delivery")).collect();
        assert!(
            ids.iter().all(|i| *i == ids[0]),
            "one delivery id on every retry"
        );
        assert!(got.iter().all(|g| verifies(&secret, g)));
        assert!(
            got.windows(2).all(|w| w[0].body == w[1].body),
            "the same body every time"
        );
        // Backoff: ≥ 300 ms, then ≥ 600 ms (base 300 ms, doubling, jitter adds).
        let gap1 = got[1].at - got[0].at;
        let gap2 = got[2].at - got[1].at;
        assert!(gap1 >= Duration::from_millis(290), "[{backend}] {gap1:?}");
        assert!(gap2 >= Duration::from_millis(590), "[{backend}] {gap2:?}");
        assert!(
            gap2 > gap1,
            "[{backend}] delays grow: {gap1:?} then {gap2:?}"
        );
        app.running.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_receiver_ends_failed_after_the_last_attempt() {
    for backend in backends().await {
        // A port nobody listens on.
        let dead = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let app = spawn(backend, |c| {
            fast(c);
            c.webhooks.max_attempts = 3;
            c.webhooks.backoff_base = Duration::from_millis(100);
        })
        .await;
        let (id, _) = subscribe(
            &app,
            &format!("http://{dead}/hook/secret-path"),
            &["webhook.ping"],
            "json",
        )
        .await;
        let r = app
            .req(
                "POST",
                &format!("/api/v1/webhooks/{id}/test"),
                Some(&app.admin),
                None,
            )
            .await;
        assert_eq!(r.status, 202);
        let d = wait_for(&app, id, "failed", |d| {
            d.iter().any(|x| x["status"] == "failed")
        })
        .await;
        let failed = d.iter().find(|x| x["status"] == "failed").unwrap();
        assert_eq!(failed["attempts"], 3, "[{backend}] {failed:#}");
        let log = failed["attempt_log"].as_array().unwrap();
        assert_eq!(log.len(), 3);
        for a in log {
            assert!(a["http_status"].is_null());
            let e = a["error"].as_str().unwrap();
            assert!(e.contains(&format!("http://{dead}/…")), "{e}");
            assert!(
                !e.contains("secret-path"),
                "the URL path is in the log: {e}"
            );
        }
        assert!(failed["next_attempt_at"].is_null());
        // It stays failed: no fourth attempt.
        tokio::time::sleep(Duration::from_millis(600)).await;
        let again = deliveries(&app, id).await;
        let f2 = again.iter().find(|x| x["id"] == failed["id"]).unwrap();
        assert_eq!(f2["attempts"], 3);
        let show = app
            .req(
                "GET",
                &format!("/api/v1/webhooks/{id}"),
                Some(&app.admin),
                None,
            )
            .await;
        assert_eq!(show.body["deliveries"]["failed"], 1, "{:?}", show.body);
        app.running.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_slack_format_is_a_message_a_person_can_read() {
    let rx = Receiver::start().await;
    let app = spawn("sqlite", fast).await;
    let (id, secret) = subscribe(&app, &rx.url("/slack"), &["change_request.*"], "slack").await;
    app.stack("web", "dev", json!({})).await;
    let bot = app
        .agent("bot", 9, json!({"stacks": ["web"]}), json!({}))
        .await;
    let r = app
        .signed(
            &bot,
            "POST",
            "/api/v1/change-requests",
            &common::submission("web", "disable-public-access-block"),
            &[],
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let cr = r.body["id"].as_i64().unwrap();
    wait_for(&app, id, "change request events", |d| {
        !d.is_empty() && d.iter().all(|x| x["status"] == "delivered")
    })
    .await;
    let got = rx.at("/slack");
    assert!(got.iter().all(|g| verifies(&secret, g)));
    let types: Vec<String> = got.iter().map(|g| g.header("x-arbiter-event")).collect();
    assert!(
        types.iter().all(|t| t.starts_with("change_request.")),
        "{types:?}"
    );
    assert!(
        types.contains(&"change_request.submitted".to_string()),
        "{types:?}"
    );
    for g in &got {
        let b = g.json();
        let keys: Vec<&String> = b.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["blocks", "text"], "only Slack's fields");
        let text = b["text"].as_str().unwrap();
        assert!(
            text.contains(&format!("change_request:{cr}"))
                && text.contains(&g.header("x-arbiter-event")),
            "{text}"
        );
        let blocks = b["blocks"].as_array().unwrap();
        assert_eq!(blocks[0]["type"], "header");
        assert_eq!(blocks[0]["text"]["type"], "plain_text");
        let section = blocks[1]["text"]["text"].as_str().unwrap();
        assert!(
            section.contains(&format!("<{}/api/v1/change-requests/{cr}|", app.base)),
            "{section}"
        );
        assert_eq!(blocks.last().unwrap()["type"], "context");
        for blk in blocks {
            assert!(["header", "section", "context"].contains(&blk["type"].as_str().unwrap()));
        }
    }
    let submitted = got
        .iter()
        .find(|g| g.header("x-arbiter-event") == "change_request.submitted")
        .unwrap()
        .json();
    assert!(submitted["blocks"][1]["text"]["text"]
        .as_str()
        .unwrap()
        .contains("`agent:bot`"));
    eprintln!(
        "{}",
        serde_json::to_string_pretty(&got.last().unwrap().json()).unwrap()
    );
    app.running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_postgres_deliver_each_event_exactly_once() {
    let Some(url) = arbiter_testkit::postgres_database().await.unwrap() else {
        eprintln!("SKIPPED: PostgreSQL not installed");
        return;
    };
    let rx = Receiver::start().await;
    let u = url.clone();
    let a = spawn("postgres", move |c| {
        fast(c);
        c.database_url = Some(u);
        c.replica = "replica-a".into();
        c.webhooks.concurrency = 3;
        c.webhooks.poll = Duration::from_millis(20);
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let b = arbiter_server::start(arbiter_server::ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().join("data"),
        // Replicas share the data key.
        data_key_file: Some(a.running.state.config.data_dir.join("data.key")),
        database_url: Some(url),
        replica: "replica-b".into(),
        tick: Duration::from_millis(200),
        webhooks: arbiter_server::webhooks::WebhookConfig {
            poll: Duration::from_millis(20),
            concurrency: 3,
            ..Default::default()
        },
        ..Default::default()
    })
    .await
    .unwrap();
    let b_client = App::client_only(format!("http://{}", b.addr));
    let (id, secret) = subscribe(&a, &rx.url("/once"), &["stack.created"], "json").await;
    let n = 40;
    let mut tasks = Vec::new();
    for i in 0..n {
        let (base, admin) = if i % 2 == 0 {
            (a.base.clone(), a.admin.clone())
        } else {
            (b_client.base.clone(), a.admin.clone())
        };
        tasks.push(tokio::spawn(async move {
            let c = App::client_only(base);
            let r = c
                .req(
                    "POST",
                    "/api/v1/stacks",
                    Some(&admin),
                    Some(&json!({"name": format!("s{i}"), "environment": "dev"})),
                )
                .await;
            assert_eq!(r.status, 201, "{:?}", r.body);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let d = wait_for(&a, id, "every stack event delivered", all_delivered(n)).await;
    // Give a duplicate the time to show up if there were one.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = rx.at("/once");
    let mut ids: Vec<String> = got.iter().map(|g| g.header("x-arbiter-delivery")).collect();
    assert_eq!(ids.len(), n, "each event received exactly once");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "no delivery received twice");
    assert!(got.iter().all(|g| verifies(&secret, g)));
    assert!(d.iter().all(|x| x["attempts"] == 1));
    let by = |r: &str| {
        d.iter()
            .filter(|x| x["attempt_log"][0]["replica"] == r)
            .count()
    };
    eprintln!(
        "replica-a sent {}, replica-b sent {}",
        by("replica-a"),
        by("replica-b")
    );
    assert_eq!(by("replica-a") + by("replica-b"), n);
    assert!(
        by("replica-a") > 0 && by("replica-b") > 0,
        "both replicas deliver"
    );
    b.shutdown().await.unwrap();
    a.running.shutdown().await.unwrap();
}
