//! Upgrades keep data (issue 11, item 9): a database written by the server
//! as it was before the typed-values refactor (a fixture made then, in
//! `tests/fixtures/upgrade/sqlite`) is opened by today's server, and every
//! kind of row reads through the API exactly as it did when the fixture was
//! made (`expected.json`, taken by the same code at that time).
//!
//! Remaking the fixture (only when its format is meant to change, which is
//! what this test exists to prevent):
//! `ARBITER_MAKE_UPGRADE_FIXTURE=1 cargo test -p arbiter-server --test it api:: -- --ignored make_upgrade_fixture`

mod agents;

use crate::common::{self, Client};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn fixture_dir() -> PathBuf {
    fixture_of("sqlite")
}

fn fixture_of(backend: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/upgrade")
        .join(backend)
}

/// `pg_dump` of the PostgreSQL the tests use (only the generator needs it).
fn pg_dump() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path().join("bin/pg_dump")))
                .collect()
        })
        .unwrap_or_default();
    found.retain(|p| p.exists());
    found.sort();
    found.pop().unwrap_or_else(|| PathBuf::from("pg_dump"))
}

/// Everything the snapshot reads, as (name, path).
fn reads(ids: &[i64]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = [
        "/api/v1/stacks",
        "/api/v1/stacks/payments-prod",
        "/api/v1/stacks/payments-prod/waivers?all=true",
        "/api/v1/stacks/payments-prod/states",
        "/api/v1/stacks/payments-prod/states/1",
        "/api/v1/stacks/payments-prod/states/2",
        "/api/v1/stacks/payments-prod/states/diff?from=1&to=2",
        "/api/v1/policy-sets",
        "/api/v1/policy-sets/owners",
        "/api/v1/users",
        "/api/v1/agents",
        "/api/v1/agents/ci-bot",
        "/api/v1/change-requests",
        "/api/v1/reviews",
        "/api/v1/webhooks",
        "/api/v1/audit/subjects/stack:payments-prod",
    ]
    .iter()
    .map(|p| (p.to_string(), p.to_string()))
    .collect();
    for id in ids {
        let p = format!("/api/v1/change-requests/{id}");
        v.push((p.clone(), p));
    }
    v
}

/// Drops what legitimately changes between two reads of the same rows:
/// last use of a token or key, times computed from the clock, expiries
/// judged against now.
fn normalise(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for k in ["last_used_at", "expired", "expires_in_seconds", "now"] {
                m.remove(k);
            }
            for (_, x) in m.iter_mut() {
                normalise(x);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(normalise),
        _ => {}
    }
}

async fn snapshot(c: &Client, token: &str, ids: &[i64]) -> Value {
    let mut out = serde_json::Map::new();
    for (name, path) in reads(ids) {
        let r = c.req("GET", &path, Some(token), None).await;
        assert_eq!(r.status, 200, "{path}: {:?}", r.body);
        let mut body = r.body;
        normalise(&mut body);
        out.insert(name, body);
    }
    Value::Object(out)
}

fn config(data_dir: &Path) -> arbiter_server::ServerConfig {
    arbiter_server::ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data_dir.to_path_buf(),
        tick: std::time::Duration::from_secs(3600),
        ..arbiter_server::ServerConfig::default()
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_written_before_the_refactor_reads_the_same() {
    let fixture = fixture_dir();
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture.join("expected.json")).unwrap())
            .unwrap();
    let token = std::fs::read_to_string(fixture.join("admin.token")).unwrap();
    let ids: Vec<i64> = serde_json::from_str(
        &std::fs::read_to_string(fixture.join("change_requests.json")).unwrap(),
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&fixture.join("data"), &tmp.path().join("data"));
    let running = arbiter_server::start(config(&tmp.path().join("data")))
        .await
        .unwrap();
    assert!(
        running.first_start.is_none(),
        "the fixture's database was not found"
    );
    let c = common::App::client_only(format!("http://{}", running.addr));
    let got = snapshot(&c, token.trim(), &ids).await;
    for (name, want) in expected.as_object().unwrap() {
        assert_eq!(
            &got[name], want,
            "{name} reads differently after the upgrade"
        );
    }
    // The audit log written then still verifies.
    let r = c
        .raw("GET", "/api/v1/audit/export", Some(token.trim()), None, &[])
        .await;
    assert_eq!(r.status, 200);
    running.shutdown().await.unwrap();
}

/// The same on PostgreSQL: the fixture is a `pg_dump --inserts` of the
/// database, restored into a fresh one, and the data directory's key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_database_written_before_the_refactor_reads_the_same() {
    let Some(url) = arbiter_testkit::postgres_database().await.unwrap() else {
        return;
    };
    let fixture = fixture_of("postgres");
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture.join("expected.json")).unwrap())
            .unwrap();
    let token = std::fs::read_to_string(fixture.join("admin.token")).unwrap();
    let ids: Vec<i64> = serde_json::from_str(
        &std::fs::read_to_string(fixture.join("change_requests.json")).unwrap(),
    )
    .unwrap();
    let dump = std::fs::read_to_string(fixture.join("dump.sql")).unwrap();
    {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(dump))
            .execute(&mut conn)
            .await
            .unwrap();
        let _ = conn.close().await;
    }
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&fixture.join("data"), &tmp.path().join("data"));
    let mut cfg = config(&tmp.path().join("data"));
    cfg.database_url = Some(url);
    let running = arbiter_server::start(cfg).await.unwrap();
    assert!(
        running.first_start.is_none(),
        "the fixture's database was not restored"
    );
    let c = common::App::client_only(format!("http://{}", running.addr));
    let got = snapshot(&c, token.trim(), &ids).await;
    for (name, want) in expected.as_object().unwrap() {
        assert_eq!(
            &got[name], want,
            "{name} reads differently after the upgrade (PostgreSQL)"
        );
    }
    running.shutdown().await.unwrap();
}

/// What a fixture generator writes with: a server on a fresh data
/// directory `fixture/data` (and a fresh PostgreSQL database for
/// `postgres`), its first admin's token and a client.
pub(super) struct Writer {
    pub running: arbiter_server::Running,
    pub admin: String,
    pub c: Client,
    pub url: Option<String>,
}

pub(super) async fn writer(fixture: &Path, backend: &str) -> Writer {
    let _ = std::fs::remove_dir_all(fixture);
    std::fs::create_dir_all(fixture).unwrap();
    let mut cfg = config(&fixture.join("data"));
    let url = if backend == "postgres" {
        arbiter_testkit::postgres_database().await.unwrap()
    } else {
        None
    };
    cfg.database_url = url.clone();
    let running = arbiter_server::start(cfg).await.unwrap();
    let admin = running.first_start.as_ref().unwrap().admin_token.clone();
    let c = Client {
        admin: admin.clone(),
        ..common::App::client_only(format!("http://{}", running.addr))
    };
    Writer {
        running,
        admin,
        c,
        url,
    }
}

/// Makes the fixture (ignored; see the module docs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn make_upgrade_fixture() {
    if std::env::var_os("ARBITER_MAKE_UPGRADE_FIXTURE").is_none() {
        return;
    }
    for backend in ["sqlite", "postgres"] {
        make_fixture(backend).await;
    }
}

async fn make_fixture(backend: &str) {
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
    ok(&c.req("PUT", "/api/v1/policy-sets/owners", a, Some(&json!({"kind": "plan", "files": {"owners.rego": "package main\nimport rego.v1\nwarn contains msg if {\n  some rc in input.resource_changes\n  not rc.change.after.tags.owner\n  msg := sprintf(\"%s has no owner tag\", [rc.address])\n}\n"}}))).await, "policy set");
    ok(&c.req("POST", "/api/v1/stacks", a, Some(&json!({"name": "payments-prod", "environment": "prod", "labels": ["team:payments"], "monthly_budget_usd": 20000, "auto_apply_threshold": 95, "policy_sets": ["owners"], "escalate_introduced_at": "medium"}))).await, "stack");
    ok(&c.req("POST", "/api/v1/stacks", a, Some(&json!({"name": "ml-dev", "environment": "dev", "monthly_budget_usd": 1000, "ttl_seconds": 86400 * 365}))).await, "stack 2");
    ok(
        &c.req(
            "POST",
            "/api/v1/users",
            a,
            Some(&json!({"name": "rita", "role": "reviewer"})),
        )
        .await,
        "user",
    );
    let rita = c
        .req(
            "POST",
            "/api/v1/users",
            a,
            Some(&json!({"name": "vic", "role": "viewer"})),
        )
        .await;
    ok(&rita, "user 2");
    let key = arbiter_api::AgentKey::from_seed([42; 32]);
    ok(&c.req("POST", "/api/v1/agents", a, Some(&json!({"name": "ci-bot", "public_key": key.public().to_base64(), "scope": {"stacks": ["*"]}, "limits": {"submissions_per_minute": 100}}))).await, "agent");
    ok(&c.req("POST", "/api/v1/stacks/payments-prod/waivers", a, Some(&json!({"rule": "ARB-AWS-EC2-001", "address": "aws_instance.legacy_*", "reason": "vendor agent needs IMDSv1", "owner": "team-payments", "expires": "2027-06-30"}))).await, "waiver");
    ok(&c.req("POST", "/api/v1/webhooks", a, Some(&json!({"url": "http://127.0.0.1:9/hook", "events": ["nothing.matches.*"], "description": "fixture"}))).await, "webhook");
    let states = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/terraform/generated/state-history");
    for (file, commit) in [
        ("state-v1.tfstate", "9d1c0aa"),
        ("state-v2.tfstate", "4f2a9c1e"),
    ] {
        let state: Value =
            serde_json::from_str(&std::fs::read_to_string(states.join(file)).unwrap()).unwrap();
        ok(
            &c.req(
                "POST",
                "/api/v1/stacks/payments-prod/states",
                a,
                Some(&json!({"state": state, "commit": commit})),
            )
            .await,
            "state",
        );
    }
    // Change requests in final states only (a pending one would expire).
    let mut ids = Vec::new();
    for plan in [
        "tags-only-update",
        "ssh-open-to-world",
        "delete-prod-database",
    ] {
        let r = c
            .signed(
                &key,
                "POST",
                "/api/v1/change-requests",
                &common::submission("payments-prod", plan),
                &[],
            )
            .await;
        ok(&r, plan);
        let id = r.body["id"].as_i64().unwrap();
        if r.body["status"] == "pending_review" {
            ok(
                &c.req(
                    "POST",
                    &format!("/api/v1/change-requests/{id}/reject"),
                    a,
                    Some(&json!({"comment": "not during the freeze"})),
                )
                .await,
                "reject",
            );
        }
        ids.push(id);
    }
    let snap = snapshot(&c, &admin, &ids).await;
    running.shutdown().await.unwrap();
    std::fs::write(
        fixture.join("expected.json"),
        serde_json::to_string_pretty(&snap).unwrap() + "\n",
    )
    .unwrap();
    std::fs::write(fixture.join("admin.token"), format!("{admin}\n")).unwrap();
    std::fs::write(
        fixture.join("change_requests.json"),
        serde_json::to_string(&ids).unwrap() + "\n",
    )
    .unwrap();
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
