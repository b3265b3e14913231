//! Hardening against hostile requests, bodies and load (issue 10), over
//! real HTTP against real databases (SQLite, and PostgreSQL when
//! installed). Every test talks to 127.0.0.1 only.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

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

/// Sends a request head (and the first bytes of its body) over a raw TCP
/// connection to the server, leaving the connection open.
async fn open_request(
    app: &App,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    content_length: u64,
    body_prefix: &[u8],
) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut s = tokio::net::TcpStream::connect(app.running.addr)
        .await
        .unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {content_length}\r\n",
        app.running.addr
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body_prefix).await.unwrap();
    s
}

/// Reads an answer's status and body, or `None` when none comes in time.
async fn answer(
    s: &mut tokio::net::TcpStream,
    within: std::time::Duration,
) -> Option<(u16, String)> {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let read = async {
        let mut chunk = [0u8; 4096];
        loop {
            let text = String::from_utf8_lossy(&buf).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                let len = text[..end]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                    })
                    .unwrap_or(0);
                if buf.len() >= end + 4 + len {
                    return;
                }
            }
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    };
    tokio::time::timeout(within, read).await.ok()?;
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text.split(' ').nth(1)?.parse().ok()?;
    Some((status, text))
}

/// Waits until `/metrics` shows `line` (slots taken or waiting), so that a
/// test goes on only once the server reached that state.
async fn wait_for_metric(app: &App, line: &str) {
    let t = std::time::Instant::now();
    loop {
        let m = app.req("GET", "/metrics", None, None).await;
        if m.body.as_str().unwrap_or("").contains(line) {
            return;
        }
        assert!(
            t.elapsed() < std::time::Duration::from_secs(30),
            "[{}] /metrics never showed {line}",
            app.backend
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Finding 4: credentials are checked from the headers, before any of the
/// body is read. The requests below announce a 32 MiB body and send none of
/// it: the refusal must come at once, not after the server waited for (and
/// buffered) the body.
#[tokio::test]
async fn bodies_are_not_read_before_the_sender_is_known() {
    let quick = std::time::Duration::from_secs(5);
    for backend in backends().await {
        let app = spawn(backend, |_| {}).await;
        let key = with_agent(&app).await;
        let big: u64 = 32 * 1024 * 1024;
        let path = "/api/v1/change-requests";
        let stranger = arbiter_api::AgentKey::from_seed([42; 32]);
        let sig = |k: &arbiter_api::AgentKey, ts: i64, p: &str, with_digest: bool| {
            let nonce = arbiter_api::signing::new_nonce().unwrap();
            let mut h = k.sign_request("POST", p, ts, &nonce, &vec![b' '; big as usize]);
            if !with_digest {
                // The deprecated form, signed over the (same) body.
                h.content_sha256 = None;
            }
            h.pairs()
        };
        let now = common::now();
        type Case<'a> = (&'a str, Vec<(&'a str, String)>, u16, &'a str);
        let cases: Vec<Case> = vec![
            ("no credentials", vec![], 401, "unauthenticated"),
            (
                "unknown token",
                vec![("authorization", "Bearer arb_nope".into())],
                401,
                "invalid_token",
            ),
            (
                "unknown key",
                sig(&stranger, now, path, true),
                401,
                "unknown_key",
            ),
            (
                "signature for another path",
                sig(&key, now, "/api/v1/evaluate", true),
                401,
                "bad_signature",
            ),
            (
                "old timestamp, deprecated form",
                sig(&key, now - 3600, path, false),
                401,
                "timestamp_out_of_range",
            ),
            (
                "over the limit, known token",
                vec![("authorization", format!("Bearer {}", app.admin))],
                413,
                "payload_too_large",
            ),
        ];
        for (what, headers, status, code) in cases {
            let len = if status == 413 { big * 2 } else { big };
            let mut s = open_request(&app, "POST", path, &headers, len, b"{").await;
            let got = answer(&mut s, quick).await;
            let (st, text) = got.unwrap_or_else(|| {
                panic!(
                    "{backend}: {what}: no answer within {quick:?}: the server waits for the body"
                )
            });
            assert_eq!(st, status, "{backend}: {what}: {text}");
            assert!(text.contains(code), "{backend}: {what}: {text}");
        }
        // Anonymous callers (the sign-in form) get a small limit.
        let mut s = open_request(&app, "POST", "/login", &[], 1024 * 1024, b"").await;
        let (st, text) = answer(&mut s, quick).await.expect("an answer");
        assert_eq!(st, 413, "{backend}: {text}");
    }
}

/// Finding 4: a body is streamed against the signed `X-Arbiter-Content-SHA256`;
/// another body under a valid signature is refused with its own code. The
/// deprecated form (no digest header) is still accepted, and counted.
#[tokio::test]
async fn signed_bodies_must_match_the_signed_digest() {
    for backend in backends().await {
        let app = spawn(backend, |_| {}).await;
        let key = with_agent(&app).await;
        let path = "/api/v1/evaluate";
        let body = submission("web", "tags-only-update");
        let send = |h: Vec<(&'static str, String)>, b: Vec<u8>| {
            let app = &app;
            async move { app.raw("POST", path, None, Some(b), &h).await }
        };
        let fresh = |b: &[u8]| {
            let nonce = arbiter_api::signing::new_nonce().unwrap();
            key.sign_request("POST", path, common::now(), &nonce, b)
        };
        // The new form.
        let r = send(fresh(&body).pairs(), body.clone()).await;
        assert_eq!(r.status, 200, "{backend}: {:?}", r.body);
        // Same length, another body.
        let mut other = body.clone();
        let i = other.iter().position(|b| *b == b't').unwrap();
        other[i] = b'T';
        let r = send(fresh(&body).pairs(), other).await;
        assert_eq!(
            (r.status, r.code()),
            (401, "content_digest_mismatch"),
            "{backend}: {:?}",
            r.body
        );
        // The deprecated form still works, and is counted.
        let mut h = fresh(&body);
        h.content_sha256 = None;
        let r = send(h.pairs(), body.clone()).await;
        assert_eq!(r.status, 200, "{backend}: {:?}", r.body);
        let m = app.req("GET", "/metrics", None, None).await;
        let text = m.body.as_str().unwrap_or("").to_string();
        assert!(
            text.contains("arbiter_signature_legacy_total 1\n"),
            "{backend}: {text}"
        );
    }
}

/// Finding 4: large bodies in flight are capped; past the cap the answer is
/// 503 with Retry-After (after a bounded wait), not an unbounded queue.
#[tokio::test]
async fn large_bodies_in_flight_are_capped() {
    for backend in backends().await {
        let app = spawn(backend, |c| {
            c.large_body_bytes = 1024;
            c.max_large_bodies = 1;
            c.admission_wait = std::time::Duration::from_millis(300);
        })
        .await;
        app.stack("web", "dev", json!({})).await;
        let auth = vec![("authorization", format!("Bearer {}", app.admin))];
        let body = submission("web", "tags-only-update");
        assert!(body.len() > 1024);
        // One large body, half sent: it holds the only slot.
        let mut held = open_request(
            &app,
            "POST",
            "/api/v1/evaluate",
            &auth,
            body.len() as u64,
            &body[..body.len() / 2],
        )
        .await;
        wait_for_metric(&app, "arbiter_slots_in_use{pool=\"body\"} 1\n").await;
        let r = app
            .raw(
                "POST",
                "/api/v1/evaluate",
                Some(&app.admin),
                Some(body.clone()),
                &[],
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (503, "server_busy"),
            "{backend}: {:?}",
            r.body
        );
        assert!(r.headers.get("retry-after").is_some(), "{backend}");
        // Small bodies do not need a slot.
        let r = app
            .req("GET", "/api/v1/stacks", Some(&app.admin), None)
            .await;
        assert_eq!(r.status, 200);
        // The held request completes; then the slot is free again.
        use tokio::io::AsyncWriteExt;
        held.write_all(&body[body.len() / 2..]).await.unwrap();
        let (st, text) = answer(&mut held, std::time::Duration::from_secs(60))
            .await
            .expect("an answer");
        assert_eq!(st, 200, "{backend}: {text}");
        let r = app
            .raw(
                "POST",
                "/api/v1/evaluate",
                Some(&app.admin),
                Some(body.clone()),
                &[],
            )
            .await;
        assert_eq!(r.status, 200, "{backend}: {:?}", r.body);
    }
}

/// Finding 5: dry runs (`POST /api/v1/evaluate`) are held to the agent's
/// submissions-per-minute limit like submissions: 429 with Retry-After.
#[tokio::test]
async fn dry_runs_follow_the_agents_velocity_limit() {
    for backend in backends().await {
        let app = spawn(backend, |_| {}).await;
        app.stack("web", "dev", json!({})).await;
        let key = app
            .agent(
                "slow",
                3,
                json!({"stacks": ["web"]}),
                json!({"submissions_per_minute": 2, "blast_radius_per_hour": 1000}),
            )
            .await;
        let other = app
            .agent(
                "other",
                4,
                json!({"stacks": ["web"]}),
                json!({"submissions_per_minute": 2, "blast_radius_per_hour": 1000}),
            )
            .await;
        let body = submission("web", "tags-only-update");
        for _ in 0..2 {
            let r = app
                .signed(&key, "POST", "/api/v1/evaluate", &body, &[])
                .await;
            assert_eq!(r.status, 200, "{backend}: {:?}", r.body);
        }
        let r = app
            .signed(&key, "POST", "/api/v1/evaluate", &body, &[])
            .await;
        assert_eq!(
            (r.status, r.code()),
            (429, "rate_limited"),
            "{backend}: {:?}",
            r.body
        );
        let wait: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&wait), "{backend}: {wait}");
        // Another agent has its own budget.
        let r = app
            .signed(&other, "POST", "/api/v1/evaluate", &body, &[])
            .await;
        assert_eq!(r.status, 200, "{backend}: {:?}", r.body);
    }
}

/// A receiver on 127.0.0.1 that answers 200 and counts the requests it got.
async fn counting_receiver() -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = std::sync::Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let app = axum::Router::new().fallback(move || {
        let h = h.clone();
        async move {
            h.fetch_add(1, Ordering::SeqCst);
            axum::http::StatusCode::OK
        }
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, hits)
}

async fn webhook_deliveries(
    app: &App,
    id: i64,
    done: impl Fn(&[serde_json::Value]) -> bool,
) -> Vec<serde_json::Value> {
    let t = std::time::Instant::now();
    loop {
        let r = app
            .req(
                "GET",
                &format!("/api/v1/webhooks/{id}/deliveries"),
                Some(&app.admin),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let d = r.body["items"].as_array().unwrap().clone();
        if done(&d) {
            return d;
        }
        assert!(
            t.elapsed() < std::time::Duration::from_secs(30),
            "[{}] timed out: {d:#?}",
            app.backend
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Finding 11: with `--webhook-deny-private`, webhook targets on loopback,
/// private or link-local addresses are refused: IP literals when the
/// subscription is made (422), names when they resolve at delivery time
/// (the attempt is refused and logged as such, nothing is sent). Without
/// the flag a delivery to 127.0.0.1 is made as before. Only 127.0.0.1 and
/// localhost are ever used.
#[tokio::test]
async fn webhook_targets_on_private_addresses_are_refused_when_asked() {
    use std::sync::atomic::Ordering;
    for backend in backends().await {
        let (addr, hits) = counting_receiver().await;
        let port = addr.port();
        let app = spawn(backend, |c| c.webhooks.deny_private = true).await;
        let admin = Some(app.admin.as_str());
        for url in [
            format!("http://127.0.0.1:{port}/hook"),
            format!("http://[::1]:{port}/hook"),
            format!("http://[::ffff:127.0.0.1]:{port}/hook"),
            format!("http://10.0.0.1:{port}/hook"),
            "http://169.254.169.254/latest/meta-data".to_string(),
        ] {
            let r = app
                .req(
                    "POST",
                    "/api/v1/webhooks",
                    admin,
                    Some(&json!({"url": url, "events": ["*"]})),
                )
                .await;
            assert_eq!(r.status, 422, "{backend}: {url}: {:?}", r.body);
            let m = r.body["error"]["message"].as_str().unwrap_or("");
            assert!(
                m.contains("--webhook-deny-private"),
                "{backend}: {url}: {m}"
            );
        }
        // A name is checked where it resolves, at delivery time.
        let r = app
            .req(
                "POST",
                "/api/v1/webhooks",
                admin,
                Some(&json!({"url": format!("http://localhost:{port}/hook"), "events": ["webhook.*"]})),
            )
            .await;
        assert_eq!(r.status, 201, "{backend}: {:?}", r.body);
        let id = r.body["id"].as_i64().unwrap();
        let r = app
            .req("POST", &format!("/api/v1/webhooks/{id}/test"), admin, None)
            .await;
        assert_eq!(r.status, 202, "{backend}: {:?}", r.body);
        let d = webhook_deliveries(&app, id, |d| d.iter().any(|x| x["status"] == "failed")).await;
        let failed = d.iter().find(|x| x["status"] == "failed").unwrap();
        // Refused for good: not retried.
        assert_eq!(failed["attempts"], 1, "{backend}: {failed:#}");
        let e = failed["attempt_log"][0]["error"].as_str().unwrap_or("");
        assert!(
            e.contains("--webhook-deny-private") && e.contains("loopback"),
            "{backend}: {e}"
        );
        assert_eq!(
            hits.load(Ordering::SeqCst),
            0,
            "{backend}: something was sent"
        );
        app.running.shutdown().await.unwrap();

        // Without the flag (the default), 127.0.0.1 is delivered to.
        let app = spawn(backend, |_| {}).await;
        let r = app
            .req(
                "POST",
                "/api/v1/webhooks",
                Some(&app.admin),
                Some(&json!({"url": format!("http://127.0.0.1:{port}/hook"), "events": ["webhook.*"]})),
            )
            .await;
        assert_eq!(r.status, 201, "{backend}: {:?}", r.body);
        let id = r.body["id"].as_i64().unwrap();
        let r = app
            .req(
                "POST",
                &format!("/api/v1/webhooks/{id}/test"),
                Some(&app.admin),
                None,
            )
            .await;
        assert_eq!(r.status, 202);
        webhook_deliveries(&app, id, |d| d.iter().any(|x| x["status"] == "delivered")).await;
        assert!(hits.load(Ordering::SeqCst) >= 1, "{backend}");
    }
}

/// Finding 5: one principal cannot keep the server's slots from another.
/// A person holding both large-body slots makes another wait; while the
/// other waits, the first is refused at once (429 fair_share_exceeded, with
/// Retry-After), and the next freed slot goes to the one waiting.
#[tokio::test]
async fn a_principal_over_its_fair_share_yields_to_others() {
    use tokio::io::AsyncWriteExt;
    for backend in backends().await {
        let app = spawn(backend, |c| {
            c.large_body_bytes = 1024;
            c.max_large_bodies = 2;
            c.admission_wait = std::time::Duration::from_secs(20);
        })
        .await;
        app.stack("web", "dev", json!({})).await;
        let other = app.user("rita", "reviewer").await;
        let body = submission("web", "tags-only-update");
        let half = body.len() / 2;
        let hog = vec![("authorization", format!("Bearer {}", app.admin))];
        let mut held = Vec::new();
        for _ in 0..2 {
            held.push(
                open_request(
                    &app,
                    "POST",
                    "/api/v1/evaluate",
                    &hog,
                    body.len() as u64,
                    &body[..half],
                )
                .await,
            );
        }
        wait_for_metric(&app, "arbiter_slots_in_use{pool=\"body\"} 2\n").await;
        // Rita waits for a slot…
        let rita = {
            let http = app.http.clone();
            let url = format!("{}/api/v1/evaluate", app.base);
            let body = body.clone();
            tokio::spawn(async move {
                let r = http
                    .post(url)
                    .bearer_auth(other)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                r.status().as_u16()
            })
        };
        wait_for_metric(&app, "arbiter_slots_waiting{pool=\"body\"} 1\n").await;
        // …so the admin, holding both, is refused a third at once.
        let t = std::time::Instant::now();
        let r = app
            .raw(
                "POST",
                "/api/v1/evaluate",
                Some(&app.admin),
                Some(body.clone()),
                &[],
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (429, "fair_share_exceeded"),
            "{backend}: {:?}",
            r.body
        );
        assert!(r.headers.get("retry-after").is_some());
        assert!(
            t.elapsed() < std::time::Duration::from_secs(5),
            "{backend}: it waited"
        );
        // One of the admin's requests completes: its slot goes to Rita.
        let mut first = held.remove(0);
        first.write_all(&body[half..]).await.unwrap();
        let (st, text) = answer(&mut first, std::time::Duration::from_secs(60))
            .await
            .expect("an answer");
        assert_eq!(st, 200, "{backend}: {text}");
        assert_eq!(rita.await.unwrap(), 200, "{backend}");
        drop(held);
    }
}
