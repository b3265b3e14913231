//! Agents keep their rows across the move to store-owned agent rows (issue
//! 11, item 2): a database written by the release before it (commit
//! 58a809d; `tests/fixtures/upgrade/agents`, SQLite and PostgreSQL) holds
//! agents with every scope and limit field set, defaults, a rotated key, a
//! revoked agent, and agent tokens. Today's server must read the agents
//! through the API exactly as that release did (`expected.json`), the store
//! must resolve each agent token to the same agent, key, scope and limits
//! at the instant it was valid (`tokens.json`), and the stored scopes must
//! still govern: the agent signs, mints a token, and is refused what its
//! scope leaves out.
//!
//! Remaking the fixture (only when its format is meant to change):
//! `ARBITER_REQUIRE_POSTGRES=1 ARBITER_MAKE_AGENTS_FIXTURE=1 cargo test -p arbiter-server --test it api::upgrade::agents -- --ignored make_agents_upgrade_fixture`

use super::{config, copy_dir, normalise, pg_dump, writer, Writer};
use crate::common::{self, Client};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn fixture_of(backend: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/upgrade/agents")
        .join(backend)
}

const AGENTS: [&str; 4] = ["ci-bot", "plain-bot", "rotated-bot", "gone-bot"];

fn key(seed: u8) -> arbiter_api::AgentKey {
    arbiter_api::AgentKey::from_seed([seed; 32])
}

/// The agents and their audit trails, as read through the API.
fn reads() -> Vec<String> {
    let mut v = vec!["/api/v1/agents".to_string()];
    for a in AGENTS {
        v.push(format!("/api/v1/agents/{a}"));
        v.push(format!("/api/v1/audit/subjects/agent:{a}"));
    }
    v
}

async fn snapshot(c: &Client, token: &str) -> Value {
    let mut out = serde_json::Map::new();
    for path in reads() {
        let r = c.req("GET", &path, Some(token), None).await;
        assert_eq!(r.status, 200, "{path}: {:?}", r.body);
        let mut body = r.body;
        normalise(&mut body);
        out.insert(path, body);
    }
    Value::Object(out)
}

/// Who a token secret acts for at `at_ms`, as the store resolves it
/// (`null` when it is refused).
async fn owner(running: &arbiter_server::Running, secret: &str, at_ms: i64) -> Value {
    let o = arbiter_store::agent_tokens::authenticate(running.state.store.pool(), secret, at_ms)
        .await
        .unwrap();
    match o {
        None => Value::Null,
        Some(o) => json!({
            "token_id": o.token_id,
            "agent": o.agent,
            "key_id": o.key_id,
            "scope": o.scope,
            "limits": o.limits,
        }),
    }
}

async fn mint(c: &Client, key: &arbiter_api::AgentKey, agent: &str, body: Value) -> common::Resp {
    c.signed(
        key,
        "POST",
        &format!("/api/v1/agents/{agent}/tokens"),
        &serde_json::to_vec(&body).unwrap(),
        &[],
    )
    .await
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn check(backend: &str) {
    let fixture = fixture_of(backend);
    let read = |f: &str| std::fs::read_to_string(fixture.join(f)).unwrap();
    let expected: Value = serde_json::from_str(&read("expected.json")).unwrap();
    let tokens: Vec<Value> = serde_json::from_str(&read("tokens.json")).unwrap();
    let admin = read("admin.token").trim().to_string();
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&fixture.join("data"), &tmp.path().join("data"));
    let mut cfg = config(&tmp.path().join("data"));
    if backend == "postgres" {
        let Some(url) = arbiter_testkit::postgres_database().await.unwrap() else {
            return;
        };
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(read("dump.sql")))
            .execute(&mut conn)
            .await
            .unwrap();
        let _ = conn.close().await;
        cfg.database_url = Some(url);
    }
    let running = arbiter_server::start(cfg).await.unwrap();
    assert!(
        running.first_start.is_none(),
        "the fixture's database was not found ({backend})"
    );
    let c = Client {
        admin: admin.clone(),
        ..common::App::client_only(format!("http://{}", running.addr))
    };
    // The agents read as they did.
    let got = snapshot(&c, &admin).await;
    for (path, want) in expected.as_object().unwrap() {
        assert_eq!(
            &got[path], want,
            "{path} reads differently after the upgrade ({backend})"
        );
    }
    // Each agent token resolves as it did at an instant it was valid.
    for t in &tokens {
        let got = owner(
            &running,
            t["secret"].as_str().unwrap(),
            t["valid_at_ms"].as_i64().unwrap(),
        )
        .await;
        assert_eq!(
            got, t["owner"],
            "agent token {} resolves differently after the upgrade ({backend})",
            t["owner"]["token_id"]
        );
    }
    // The stored key and scope still sign and govern: ci-bot mints a token
    // that resolves to its stored scope, and a deletion is outside it.
    let r = mint(&c, &key(51), "ci-bot", json!({"label": "after upgrade"})).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let fresh = owner(&running, r.body["token"].as_str().unwrap(), now_ms()).await;
    let ci = &expected["/api/v1/agents/ci-bot"];
    assert_eq!(fresh["scope"], ci["scope"], "{backend}");
    assert_eq!(fresh["limits"], ci["limits"], "{backend}");
    let r = c
        .signed(
            &key(51),
            "POST",
            "/api/v1/change-requests",
            &common::submission("web-prod", "delete-prod-database"),
            &[],
        )
        .await;
    assert!((200..300).contains(&r.status), "{:?}", r.body);
    assert_eq!(r.body["status"], "rejected", "{:?}", r.body);
    let reason = r.body["reason"].as_str().unwrap();
    assert!(
        reason.contains("actions outside the agent's scope (allowed: create, update): delete "),
        "{reason}"
    );
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_and_agent_tokens_written_before_agent_rows_read_the_same() {
    check("sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_and_agent_tokens_written_before_agent_rows_read_the_same_on_postgres() {
    check("postgres").await;
}

/// Makes the fixture (ignored; see the module docs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn make_agents_upgrade_fixture() {
    if std::env::var_os("ARBITER_MAKE_AGENTS_FIXTURE").is_none() {
        return;
    }
    for backend in ["sqlite", "postgres"] {
        make(backend).await;
    }
}

async fn make(backend: &str) {
    let fixture = fixture_of(backend);
    let Writer {
        running,
        admin,
        c,
        url,
    } = writer(&fixture, backend).await;
    let ok = |r: &common::Resp, what: &str| {
        assert!(
            (200..300).contains(&r.status),
            "{what}: {} {:?}",
            r.status,
            r.body
        )
    };
    let a = Some(admin.as_str());
    ok(
        &c.req(
            "POST",
            "/api/v1/stacks",
            a,
            Some(&json!({"name": "web-prod", "environment": "prod", "labels": ["team:web"], "monthly_budget_usd": 20000})),
        )
        .await,
        "stack",
    );
    // Every scope and limit field set (PEM key).
    ok(
        &c.req(
            "POST",
            "/api/v1/agents",
            a,
            Some(&json!({
                "name": "ci-bot",
                "description": "CI pipeline",
                "public_key": key(51).public().to_pem(),
                "scope": {
                    "stacks": ["web-*", "payments-prod"],
                    "stack_labels": ["team:web"],
                    "actions": ["create", "update"],
                    "resource_types": ["aws_*", "google_storage_bucket"],
                    "max_blast_radius": 25,
                    "max_monthly_cost_increase_usd": 150.75,
                    "max_ttl_seconds": 7200,
                    "may_auto_apply": true
                },
                "limits": {"submissions_per_minute": 12, "blast_radius_per_hour": 80}
            })),
        )
        .await,
        "ci-bot",
    );
    // Nothing but defaults (base64 key).
    ok(
        &c.req(
            "POST",
            "/api/v1/agents",
            a,
            Some(&json!({"name": "plain-bot", "public_key": key(52).public().to_base64()})),
        )
        .await,
        "plain-bot",
    );
    // A scope replaced, limits replaced, a key rotated.
    ok(
        &c.req(
            "POST",
            "/api/v1/agents",
            a,
            Some(&json!({
                "name": "rotated-bot",
                "public_key": key(53).public().to_base64(),
                "scope": {"stacks": ["*"]}
            })),
        )
        .await,
        "rotated-bot",
    );
    ok(
        &c.req(
            "PATCH",
            "/api/v1/agents/rotated-bot",
            a,
            Some(&json!({
                "description": "rotated",
                "scope": {
                    "stacks": ["ml-*"],
                    "actions": ["delete", "replace"],
                    "resource_types": ["aws_s3_bucket", "aws_iam_*"],
                    "max_blast_radius": 3
                },
                "limits": {"blast_radius_per_hour": 10},
                "add_public_key": key(54).public().to_base64()
            })),
        )
        .await,
        "rotate",
    );
    ok(
        &c.req(
            "POST",
            &format!(
                "/api/v1/agents/rotated-bot/keys/{}/revoke",
                key(53).public().key_id()
            ),
            a,
            None,
        )
        .await,
        "revoke key",
    );
    ok(
        &c.req(
            "POST",
            "/api/v1/agents",
            a,
            Some(&json!({
                "name": "gone-bot",
                "public_key": key(55).public().to_base64(),
                "scope": {"stacks": ["web-prod"], "actions": ["update"]}
            })),
        )
        .await,
        "gone-bot",
    );
    // Agent tokens: minted by each agent's live key; gone-bot's before it
    // was revoked (so it must stay refused).
    let mut tokens = Vec::new();
    for (agent, seed, body) in [
        (
            "ci-bot",
            51,
            json!({"label": "claude-code", "ttl_seconds": 3600}),
        ),
        ("rotated-bot", 54, json!({})),
        ("gone-bot", 55, json!({"label": "left"})),
    ] {
        let r = mint(&c, &key(seed), agent, body).await;
        ok(&r, agent);
        let secret = r.body["token"].as_str().unwrap().to_string();
        let valid_at_ms = now_ms();
        tokens.push((secret, valid_at_ms));
    }
    ok(
        &c.req("POST", "/api/v1/agents/gone-bot/revoke", a, None)
            .await,
        "revoke agent",
    );
    let mut token_file = Vec::new();
    for (secret, valid_at_ms) in tokens {
        token_file.push(json!({
            "secret": secret,
            "valid_at_ms": valid_at_ms,
            "owner": owner(&running, &secret, valid_at_ms).await,
        }));
    }
    let snap = snapshot(&c, &admin).await;
    running.shutdown().await.unwrap();
    let write = |f: &str, v: &Value| {
        std::fs::write(
            fixture.join(f),
            serde_json::to_string_pretty(v).unwrap() + "\n",
        )
        .unwrap()
    };
    write("expected.json", &snap);
    write("tokens.json", &Value::Array(token_file));
    std::fs::write(fixture.join("admin.token"), format!("{admin}\n")).unwrap();
    if let Some(url) = url {
        let out = std::process::Command::new(pg_dump())
            .args([
                "--inserts",
                "--no-owner",
                "--no-privileges",
                "--dbname",
                &url,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // psql meta-commands (`\restrict` of recent pg_dump) are not SQL.
        let sql: String = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('\\'))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(fixture.join("dump.sql"), sql).unwrap();
    }
    let _ = std::fs::remove_file(fixture.join("data").join("arbiter.lock"));
}
