//! Starting the real server on port 0 against a fresh database, and
//! talking to it over HTTP as people (tokens) and agents (signed requests).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use arbiter_api::AgentKey;
use arbiter_server::{Running, ServerConfig};
use serde_json::{json, Value};
use std::time::Duration;

/// A running server and a client for it.
pub struct App {
    pub running: Running,
    pub backend: &'static str,
    client: Client,
    _dir: Option<tempfile::TempDir>,
}

impl std::ops::Deref for App {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

/// Talks to a server (another replica, or from a spawned task).
pub struct Client {
    pub base: String,
    pub admin: String,
    pub http: reqwest::Client,
}

impl App {
    /// A client for a server at `base` (no admin token).
    pub fn client_only(base: String) -> Client {
        Client {
            base,
            admin: String::new(),
            http: reqwest::Client::new(),
        }
    }
}

pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Resp {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

/// The backends to run a test on: SQLite always, PostgreSQL when present.
pub async fn backends() -> Vec<&'static str> {
    let mut v = vec!["sqlite"];
    if arbiter_testkit::postgres_database()
        .await
        .unwrap()
        .is_some()
    {
        v.push("postgres");
    }
    v
}

pub async fn spawn(backend: &'static str, tweak: impl FnOnce(&mut ServerConfig)) -> App {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().join("data"),
        tick: Duration::from_millis(200),
        ..ServerConfig::default()
    };
    if backend == "postgres" {
        cfg.database_url = Some(
            arbiter_testkit::postgres_database()
                .await
                .unwrap()
                .expect("postgres"),
        );
    }
    tweak(&mut cfg);
    let running = arbiter_server::start(cfg).await.unwrap();
    let admin = running.first_start.as_ref().unwrap().admin_token.clone();
    App {
        client: Client {
            base: format!("http://{}", running.addr),
            admin,
            http: reqwest::Client::new(),
        },
        running,
        backend,
        _dir: Some(dir),
    }
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

impl Client {
    pub async fn req(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Resp {
        let bytes = body.map(|b| serde_json::to_vec(b).unwrap());
        self.raw(method, path, token, bytes, &[]).await
    }

    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Vec<u8>>,
        headers: &[(&str, String)],
    ) -> Resp {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut r = self.http.request(m, format!("{}{path}", self.base));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        for (k, v) in headers {
            r = r.header(*k, v);
        }
        if let Some(b) = body {
            r = r.header("content-type", "application/json").body(b);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Resp {
            status,
            body,
            headers,
        }
    }

    /// A request signed by an agent key (timestamp now, fresh nonce).
    pub async fn signed(
        &self,
        key: &AgentKey,
        method: &str,
        path: &str,
        body: &[u8],
        extra: &[(&str, String)],
    ) -> Resp {
        let nonce = arbiter_api::signing::new_nonce().unwrap();
        self.signed_with(key, method, path, body, now(), &nonce, extra)
            .await
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn signed_with(
        &self,
        key: &AgentKey,
        method: &str,
        path: &str,
        body: &[u8],
        ts: i64,
        nonce: &str,
        extra: &[(&str, String)],
    ) -> Resp {
        let h = key.sign_request(method, path, ts, nonce, body);
        let mut headers = vec![
            (arbiter_api::HEADER_KEY_ID, h.key_id),
            (arbiter_api::HEADER_TIMESTAMP, h.timestamp.to_string()),
            (arbiter_api::HEADER_NONCE, h.nonce),
            (arbiter_api::HEADER_SIGNATURE, h.signature),
        ];
        headers.extend(extra.iter().map(|(k, v)| (*k, v.clone())));
        let b = if body.is_empty() {
            None
        } else {
            Some(body.to_vec())
        };
        self.raw(method, path, None, b, &headers).await
    }

    pub async fn user(&self, name: &str, role: &str) -> String {
        let r = self
            .req(
                "POST",
                "/api/v1/users",
                Some(&self.admin),
                Some(&json!({"name": name, "role": role})),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let r = self
            .req(
                "POST",
                "/api/v1/tokens",
                Some(&self.admin),
                Some(&json!({"user": name})),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        r.body["token"].as_str().unwrap().to_string()
    }

    pub async fn stack(&self, name: &str, env: &str, extra: Value) {
        let mut body = json!({"name": name, "environment": env, "monthly_budget_usd": 20000});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        let r = self
            .req("POST", "/api/v1/stacks", Some(&self.admin), Some(&body))
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
    }

    pub async fn agent(&self, name: &str, seed: u8, scope: Value, limits: Value) -> AgentKey {
        let key = AgentKey::from_seed([seed; 32]);
        let r = self
            .req("POST", "/api/v1/agents", Some(&self.admin), Some(&json!({"name": name, "public_key": key.public().to_pem(), "scope": scope, "limits": limits})))
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        key
    }
}

/// A scenario plan from the repository's tests.
pub fn plan(name: &str) -> Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/scenarios")
        .join(format!("{name}.plan.json"));
    serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap()
}

pub fn submission(stack: &str, plan_name: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"stack": stack, "plan": plan(plan_name), "intent": "test"})).unwrap()
}

/// The audit entries of a subject: `(action, payload)`, oldest first.
pub async fn audit_entries(app: &App, subject: &str) -> Vec<(String, Value)> {
    let r = app
        .req(
            "GET",
            &format!("/api/v1/audit/subjects/{subject}"),
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let mut v: Vec<(String, Value)> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["entry"]["action"].as_str().unwrap().to_string(),
                i["payload"].clone(),
            )
        })
        .collect();
    v.reverse();
    v
}

/// The audit actions of a subject, oldest first.
pub async fn audit_actions(app: &App, subject: &str) -> Vec<String> {
    audit_entries(app, subject)
        .await
        .into_iter()
        .map(|(a, _)| a)
        .collect()
}

/// Mints a token for worker pool `pool` (made if needed) as the admin:
/// `(id, token)`.
pub async fn pool_token_with_id(app: &App, pool: &str) -> (String, String) {
    let r = app
        .req(
            "POST",
            "/api/v1/worker-pools",
            Some(&app.admin),
            Some(&json!({"name": pool})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    (
        r.body["id"].as_str().unwrap().to_string(),
        r.body["token"].as_str().unwrap().to_string(),
    )
}

/// A new token of worker pool `pool` (made if needed), minted by the admin.
pub async fn pool_token(app: &App, pool: &str) -> String {
    pool_token_with_id(app, pool).await.1
}
