//! Runs on the server, both databases: the queue and its phases, with a
//! test worker that speaks the worker API over HTTP exactly as `arbiter
//! worker` does (the real worker joins these tests after the merge):
//! queueing on approval, confirmation, exactly-once claims, the state
//! machine's refusals, heartbeats, cancel, logs, revisions, bundles, git
//! transports, the Terraform state backend and its lock, verification
//! failure, and secrets (names only) and credentials kept out of the API
//! answers to people and out of the audit log.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::{
    self, audit_actions, audit_entries, backends, pool_token, pool_token_with_id, spawn, App,
};
use serde_json::{json, Value};
use std::io::Write;

// ------------------------------------------------------------- helpers

/// A ustar member.
fn member(name: &str, typeflag: u8, data: &[u8]) -> Vec<u8> {
    let mut h = vec![0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..107].copy_from_slice(b"0000644");
    h[124..135].copy_from_slice(format!("{:011o}", data.len()).as_bytes());
    h[156] = typeflag;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    let mut out = h;
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

/// A tar.gz of members.
fn targz(members: &[Vec<u8>]) -> Vec<u8> {
    let mut tar: Vec<u8> = members.concat();
    tar.extend_from_slice(&[0u8; 1024]);
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(&tar).unwrap();
    e.finish().unwrap()
}

fn sha(bytes: &[u8]) -> String {
    arbiter_api::signing::sha256_hex(bytes)
}

async fn upload(app: &App, bytes: Vec<u8>) -> (String, common::Resp) {
    let s = sha(&bytes);
    let r = app
        .raw(
            "PUT",
            &format!("/api/v1/bundles/{s}"),
            Some(&app.admin),
            Some(bytes),
            &[],
        )
        .await;
    (s, r)
}

async fn good_bundle(app: &App) -> String {
    let (s, r) = upload(
        app,
        targz(&[
            member("main.tf", b'0', b"resource \"terraform_data\" \"a\" {}\n"),
            member("modules/", b'5', b""),
        ]),
    )
    .await;
    assert!(matches!(r.status, 200 | 201), "{:?}", r.body);
    s
}

/// Submits the scenario plan with a bundle as `token`'s user.
async fn submit(app: &App, stack: &str, plan: &str, bundle: &str) -> Value {
    let body = json!({"stack": stack, "plan": common::plan(plan), "intent": "runs test",
        "config": {"kind": "bundle", "sha256": bundle}, "variables": {"region": "eu-west-1"}});
    let r = app
        .req(
            "POST",
            "/api/v1/change-requests",
            Some(&app.admin),
            Some(&body),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body
}

async fn runs_of(app: &App, cr: i64) -> Vec<Value> {
    let r = app
        .req(
            "GET",
            &format!("/api/v1/runs?change_request={cr}"),
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["items"].as_array().unwrap().clone()
}

/// A worker speaking the worker API.
struct W<'a> {
    app: &'a App,
    token: String,
}

impl W<'_> {
    async fn call(&self, method: &str, path: &str, body: Value) -> common::Resp {
        self.app
            .raw(
                method,
                path,
                Some(&self.token),
                Some(serde_json::to_vec(&body).unwrap()),
                &[],
            )
            .await
    }
    async fn claim(&self, name: &str, wait: u32) -> Option<Value> {
        let r = self
            .call(
                "POST",
                "/api/v1/runs/claim",
                json!({"worker": name, "wait_secs": wait}),
            )
            .await;
        match r.status {
            200 => Some(r.body),
            204 => None,
            s => panic!("claim: {s} {:?}", r.body),
        }
    }
    async fn phase(&self, claim: &Value, from: &str, to: &str, extra: Value) -> common::Resp {
        let id = claim["run"]["id"].as_i64().unwrap();
        let mut body = json!({"lease": claim["lease"], "from": from, "to": to});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        self.call("POST", &format!("/api/v1/runs/{id}/phase"), body)
            .await
    }
    async fn walk(&self, claim: &Value, path: &[&str]) {
        for w in path.windows(2) {
            let extra = if w[1] == "checking" {
                json!({"judged_digest": "sha256:aa", "planned_digest": "sha256:aa"})
            } else if w[1] == "initialising" {
                json!({"tool": {"kind": "terraform", "path": "/usr/bin/terraform", "version": "1.11.4"}})
            } else {
                json!({})
            };
            let r = self.phase(claim, w[0], w[1], extra).await;
            assert_eq!(r.status, 200, "{} → {}: {:?}", w[0], w[1], r.body);
            assert_eq!(r.body["phase"], w[1]);
        }
    }
    async fn heartbeat(&self, claim: &Value) -> common::Resp {
        let id = claim["run"]["id"].as_i64().unwrap();
        self.call(
            "POST",
            &format!("/api/v1/runs/{id}/heartbeat"),
            json!({"lease": claim["lease"]}),
        )
        .await
    }
}

/// Terraform's http backend client: basic auth.
async fn backend(
    app: &App,
    method: &str,
    stack: &str,
    query: &str,
    creds: &Value,
    body: Option<Vec<u8>>,
) -> (u16, String) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut r = app
        .http
        .request(
            m,
            format!("{}/api/v1/stacks/{stack}/tfstate{query}", app.base),
        )
        .basic_auth(
            creds["username"].as_str().unwrap(),
            Some(creds["password"].as_str().unwrap()),
        );
    if let Some(b) = body {
        r = r.body(b);
    }
    let resp = r.send().await.unwrap();
    let s = resp.status().as_u16();
    (s, resp.text().await.unwrap())
}

fn tfstate(serial: i64, lineage: &str, names: &[&str]) -> Vec<u8> {
    let resources: Vec<Value> = names
        .iter()
        .map(|n| json!({"mode": "managed", "type": "terraform_data", "name": n, "provider": "provider[\"terraform.io/builtin/terraform\"]",
            "instances": [{"schema_version": 0, "attributes": {"id": format!("id-{n}")}}]}))
        .collect();
    serde_json::to_vec(&json!({"version": 4, "terraform_version": "1.11.4", "serial": serial, "lineage": lineage, "outputs": {}, "resources": resources})).unwrap()
}

async fn get_run(app: &App, id: i64) -> Value {
    let r = app
        .req("GET", &format!("/api/v1/runs/{id}"), Some(&app.admin), None)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

async fn cr_status(app: &App, id: i64) -> String {
    let r = app
        .req(
            "GET",
            &format!("/api/v1/change-requests/{id}"),
            Some(&app.admin),
            None,
        )
        .await;
    r.body["status"].as_str().unwrap().to_string()
}

const TO_APPLYING: [&str; 6] = [
    "preparing",
    "initialising",
    "planning",
    "checking",
    "applying",
    "applied",
];

// --------------------------------------------------------------- tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_change_is_queued_claimed_applied_and_its_state_recorded_with_origin() {
    for b in backends().await {
        let app = spawn(b, |_| {}).await;
        app.stack("web", "dev", json!({"auto_apply": true,
            "runs": {"secret_env": ["TF_VAR_db_password"], "secret_files": {"db_password": "/run/secrets/db"}}}))
            .await;
        let bundle = good_bundle(&app).await;
        let cr = submit(&app, "web", "tags-only-update", &bundle).await;
        assert_eq!(cr["status"], "approved", "{b}: {cr}");
        let cr_id = cr["id"].as_i64().unwrap();
        let runs = runs_of(&app, cr_id).await;
        assert_eq!(runs.len(), 1, "{b}: {runs:?}");
        assert_eq!(runs[0]["phase"], "queued");
        assert_eq!(runs[0]["confirmation"]["state"], "not_needed");
        assert_eq!(runs[0]["source"]["sha256"], bundle.as_str());

        let w = W {
            app: &app,
            token: pool_token(&app, "embedded").await,
        };
        let claim = w.claim("w1", 0).await.expect("a run to claim");
        assert_eq!(claim["run"]["phase"], "preparing");
        assert_eq!(claim["variables"]["region"], "eu-west-1");
        assert_eq!(claim["secret_env"], json!(["TF_VAR_db_password"]));
        assert_eq!(claim["secret_files"]["db_password"], "/run/secrets/db");
        assert!(w.claim("w2", 0).await.is_none(), "{b}: claimed twice");
        // The bundle and the judged plan, for the lease holder.
        let r = app
            .raw(
                "GET",
                &format!("/api/v1/bundles/{bundle}"),
                Some(&w.token),
                None,
                &[],
            )
            .await;
        assert_eq!(r.status, 200);
        let id = claim["run"]["id"].as_i64().unwrap();
        let lease = claim["lease"].as_str().unwrap();
        let r = app
            .raw(
                "GET",
                &format!("/api/v1/runs/{id}/judged-plan?lease={lease}"),
                Some(&w.token),
                None,
                &[],
            )
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body, common::plan("tags-only-update"));
        let r = app
            .raw(
                "GET",
                &format!("/api/v1/runs/{id}/judged-plan?lease=arbl_wrong"),
                Some(&w.token),
                None,
                &[],
            )
            .await;
        assert_eq!(r.status, 409, "{b}: a wrong lease");

        // Logs: appends are idempotent by offset.
        for (off, text) in [
            (0, "hello "),
            (0, "hello "),
            (0, "hello world\n"),
            (6, "world\nmore"),
        ] {
            let r = w
                .call(
                    "POST",
                    &format!("/api/v1/runs/{id}/logs"),
                    json!({"lease": lease, "offset": off, "text": text}),
                )
                .await;
            assert_eq!(r.status, 204, "{b}: {:?}", r.body);
        }
        let r = w
            .call(
                "POST",
                &format!("/api/v1/runs/{id}/logs"),
                json!({"lease": lease, "offset": 100, "text": "gap"}),
            )
            .await;
        assert_eq!(r.status, 409, "{b}: a gap in the log");
        let r = app
            .req(
                "GET",
                &format!("/api/v1/runs/{id}/logs"),
                Some(&app.admin),
                None,
            )
            .await;
        assert_eq!(r.body["text"], "hello world\nmore", "{b}");
        assert_eq!(r.body["complete"], false);
        let r = app
            .req(
                "GET",
                &format!("/api/v1/runs/{id}/logs?offset=12"),
                Some(&app.admin),
                None,
            )
            .await;
        assert_eq!(r.body["text"], "more", "{b}");

        w.walk(&claim, &TO_APPLYING[..5]).await;
        // The state backend with the run's credentials: lock, write, unlock.
        let creds = &claim["backend"];
        assert!(creds["address"]
            .as_str()
            .unwrap()
            .ends_with("/api/v1/stacks/web/tfstate"));
        let (s, _) = backend(&app, "GET", "web", "", creds, None).await;
        assert_eq!(s, 204, "{b}: no state yet");
        let info = json!({"ID": "lock-1", "Operation": "OperationTypeApply", "Who": "w1"});
        let (s, _) = backend(
            &app,
            "LOCK",
            "web",
            "",
            creds,
            Some(info.to_string().into_bytes()),
        )
        .await;
        assert_eq!(s, 200);
        let (s, t) = backend(
            &app,
            "POST",
            "web",
            "?ID=lock-1",
            creds,
            Some(tfstate(1, "L1", &["a"])),
        )
        .await;
        assert_eq!(s, 200, "{b}: {t}");
        let (s, t) = backend(&app, "GET", "web", "", creds, None).await;
        assert_eq!(s, 200);
        assert_eq!(serde_json::from_str::<Value>(&t).unwrap()["serial"], 1);
        let (s, _) = backend(
            &app,
            "UNLOCK",
            "web",
            "",
            creds,
            Some(info.to_string().into_bytes()),
        )
        .await;
        assert_eq!(s, 200);
        // Credentials of one stack see no other.
        app.stack("other", "dev", json!({})).await;
        let (s, _) = backend(&app, "GET", "other", "", creds, None).await;
        assert_eq!(s, 404);

        w.walk(&claim, &TO_APPLYING[4..]).await;
        let run = get_run(&app, id).await;
        assert_eq!(run["phase"], "applied");
        assert_eq!(run["state_version"], 1);
        assert_eq!(run["tool"]["version"], "1.11.4");
        let phases: Vec<&str> = run["phases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["phase"].as_str().unwrap())
            .collect();
        assert_eq!(
            phases,
            [
                "queued",
                "preparing",
                "initialising",
                "planning",
                "checking",
                "applying",
                "applied"
            ]
        );
        assert_eq!(
            cr_status(&app, cr_id).await,
            "applied",
            "{b}: the change request follows its run"
        );
        let v = app
            .req("GET", "/api/v1/stacks/web/states/1", Some(&app.admin), None)
            .await;
        assert_eq!(v.body["origin"], "apply", "{b}: {:?}", v.body);
        assert_eq!(v.body["run"], id);
        // The run's credentials end with it (applied is the end here).
        let acts = audit_actions(&app, &format!("run:{id}")).await;
        assert_eq!(
            acts,
            [
                "run.queued",
                "run.started",
                "run.initialising",
                "run.planning",
                "run.checking",
                "run.applying",
                "run.applied"
            ],
            "{b}"
        );
        let m = app.req("GET", "/metrics", None, None).await;
        let text = m.body.as_str().unwrap();
        assert!(text.contains("arbiter_runs{phase=\"applied\"} 1"), "{text}");
        // A state written by a run is refused once it no longer applies.
        let (s, _) = backend(
            &app,
            "POST",
            "web",
            "",
            creds,
            Some(tfstate(2, "L1", &["a", "b"])),
        )
        .await;
        assert_eq!(s, 409, "{b}: a run writes state only while applying");
        app.running.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_machine_is_enforced_and_each_run_is_claimed_once() {
    for b in backends().await {
        let app = spawn(b, |_| {}).await;
        let bundle = good_bundle(&app).await;
        let n = 8;
        for i in 0..n {
            app.stack(&format!("s{i}"), "dev", json!({"auto_apply": true}))
                .await;
            submit(&app, &format!("s{i}"), "tags-only-update", &bundle).await;
        }
        let token = pool_token(&app, "embedded").await;
        // Twelve claimers at once, each claiming until nothing is left.
        let mut tasks = Vec::new();
        for k in 0..12 {
            let client = App::client_only(app.base.clone());
            let token = token.clone();
            tasks.push(tokio::spawn(async move {
                let mut got = Vec::new();
                loop {
                    let r = client
                        .raw(
                            "POST",
                            "/api/v1/runs/claim",
                            Some(&token),
                            Some(serde_json::to_vec(&json!({"worker": format!("w{k}")})).unwrap()),
                            &[],
                        )
                        .await;
                    match r.status {
                        200 => got.push(r.body["run"]["id"].as_i64().unwrap()),
                        204 => return got,
                        s => panic!("claim: {s} {:?}", r.body),
                    }
                }
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all.sort();
        let before = all.len();
        all.dedup();
        assert_eq!(before, all.len(), "{b}: a run was claimed twice: {all:?}");
        assert_eq!(all.len(), n, "{b}: every run claimed");

        // Illegal and stale phase changes are 409 and change nothing.
        let app2 = &app;
        let w = W {
            app: app2,
            token: token.clone(),
        };
        let bundle2 = bundle.clone();
        app.stack("t", "dev", json!({"auto_apply": true})).await;
        submit(&app, "t", "tags-only-update", &bundle2).await;
        let claim = w.claim("w", 0).await.unwrap();
        let id = claim["run"]["id"].as_i64().unwrap();
        for (from, to) in [
            ("preparing", "applying"),
            ("preparing", "applied"),
            ("planning", "checking"),
            ("preparing", "queued"),
        ] {
            let r = w.phase(&claim, from, to, json!({})).await;
            assert_eq!(r.status, 409, "{b}: {from} → {to}: {:?}", r.body);
        }
        assert_eq!(get_run(&app, id).await["phase"], "preparing");
        w.walk(&claim, &["preparing", "failed"]).await;
        let r = w.phase(&claim, "failed", "applying", json!({})).await;
        assert_eq!(r.status, 409, "{b}: nothing leaves a final phase");
        app.running.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_worker_is_interrupted_and_never_requeued() {
    for b in backends().await {
        let app = spawn(b, |c| {
            c.run_heartbeat = std::time::Duration::from_millis(300)
        })
        .await;
        app.stack("web", "dev", json!({"auto_apply": true})).await;
        let bundle = good_bundle(&app).await;
        let cr = submit(&app, "web", "tags-only-update", &bundle).await;
        let cr_id = cr["id"].as_i64().unwrap();
        let w = W {
            app: &app,
            token: pool_token(&app, "embedded").await,
        };
        let claim = w.claim("w1", 0).await.unwrap();
        assert_eq!(claim["heartbeat_secs"], 1);
        w.walk(&claim, &TO_APPLYING[..5]).await;
        let r = w.heartbeat(&claim).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body["cancel_requested"], false);
        // It dies holding the state lock, after writing a partial state.
        let info = json!({"ID": "dead", "Operation": "OperationTypeApply"});
        let (s, _) = backend(
            &app,
            "LOCK",
            "web",
            "",
            &claim["backend"],
            Some(info.to_string().into_bytes()),
        )
        .await;
        assert_eq!(s, 200);
        let (s, _) = backend(
            &app,
            "POST",
            "web",
            "?ID=dead",
            &claim["backend"],
            Some(tfstate(1, "L", &["half"])),
        )
        .await;
        assert_eq!(s, 200);
        let id = claim["run"]["id"].as_i64().unwrap();
        let mut phase = String::new();
        for _ in 0..50 {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            phase = get_run(&app, id).await["phase"]
                .as_str()
                .unwrap()
                .to_string();
            if phase == "interrupted" {
                break;
            }
        }
        assert_eq!(phase, "interrupted", "{b}");
        assert!(get_run(&app, id).await["error"]
            .as_str()
            .unwrap()
            .contains("heart-beating"));
        assert_eq!(cr_status(&app, cr_id).await, "apply_failed", "{b}");
        let r = w.heartbeat(&claim).await;
        assert_eq!(r.status, 409, "{b}: the lease is gone");
        assert_eq!(r.body["error"]["code"], "lease_lost");
        assert!(w.claim("w2", 0).await.is_none(), "{b}: never re-queued");
        assert_eq!(runs_of(&app, cr_id).await.len(), 1);
        // The partial state is kept; the dead run's lock and credentials are gone.
        let v = app
            .req("GET", "/api/v1/stacks/web/states/1", Some(&app.admin), None)
            .await;
        assert_eq!(v.body["origin"], "apply");
        assert_eq!(get_run(&app, id).await["state_version"], 1);
        let (s, _) = backend(&app, "GET", "web", "", &claim["backend"], None).await;
        assert_eq!(
            s, 401,
            "{b}: the interrupted run's credentials no longer open the backend"
        );
        let r = app
            .req(
                "POST",
                "/api/v1/stacks/web/backend-credentials",
                Some(&app.admin),
                None,
            )
            .await;
        let mine = &r.body["credentials"];
        let (s, _) = backend(
            &app,
            "LOCK",
            "web",
            "",
            mine,
            Some(json!({"ID": "next"}).to_string().into_bytes()),
        )
        .await;
        assert_eq!(s, 200, "{b}: the lock was released with the run");
        app.running.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmation_and_cancel_while_queued_and_while_planning() {
    for b in backends().await {
        let app = spawn(b, |_| {}).await;
        // No auto-apply: a person confirms.
        app.stack("web", "dev", json!({})).await;
        let bundle = good_bundle(&app).await;
        let w = W {
            app: &app,
            token: pool_token(&app, "embedded").await,
        };
        let cr1 = submit(&app, "web", "tags-only-update", &bundle).await["id"]
            .as_i64()
            .unwrap();
        let run1 = runs_of(&app, cr1).await[0].clone();
        assert_eq!(run1["confirmation"]["state"], "awaiting", "{b}");
        assert!(
            w.claim("w", 0).await.is_none(),
            "{b}: unconfirmed runs are not claimable"
        );
        let id1 = run1["id"].as_i64().unwrap();
        // Cancel while queued: at once.
        let r = app
            .req(
                "POST",
                &format!("/api/v1/runs/{id1}/cancel"),
                Some(&app.admin),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["phase"], "cancelled");
        let r = app
            .req(
                "POST",
                &format!("/api/v1/runs/{id1}/confirm"),
                Some(&app.admin),
                None,
            )
            .await;
        assert_eq!(r.status, 409, "{b}: a cancelled run cannot be confirmed");

        // Confirm, claim, plan, cancel: the worker hears it at its heartbeat.
        let cr2 = submit(&app, "web", "tags-only-update", &bundle).await["id"]
            .as_i64()
            .unwrap();
        let id2 = runs_of(&app, cr2).await[0]["id"].as_i64().unwrap();
        let viewer = app.user("vic", "viewer").await;
        let r = app
            .req(
                "POST",
                &format!("/api/v1/runs/{id2}/confirm"),
                Some(&viewer),
                None,
            )
            .await;
        assert_eq!(r.status, 403, "{b}: viewers do not confirm");
        let r = app
            .req(
                "POST",
                &format!("/api/v1/runs/{id2}/confirm"),
                Some(&app.admin),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["confirmation"]["state"], "confirmed");
        assert_eq!(r.body["confirmation"]["by"], "user:admin");
        let claim = w.claim("w", 0).await.expect("confirmed run claimable");
        assert_eq!(claim["run"]["id"], id2);
        w.walk(&claim, &TO_APPLYING[..3]).await;
        let r = app
            .req(
                "POST",
                &format!("/api/v1/runs/{id2}/cancel"),
                Some(&app.admin),
                None,
            )
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body["cancel_requested"], true);
        assert_eq!(r.body["phase"], "planning");
        let r = w.heartbeat(&claim).await;
        assert_eq!(r.body["cancel_requested"], true, "{b}");
        w.walk(&claim, &["planning", "cancelled"]).await;
        assert_eq!(
            cr_status(&app, cr2).await,
            "approved",
            "{b}: nothing was applied"
        );
        let acts = audit_actions(&app, &format!("run:{id2}")).await;
        assert!(
            acts.contains(&"run.confirmed".to_string())
                && acts.contains(&"run.cancel_requested".to_string())
                && acts.contains(&"run.cancelled".to_string()),
            "{acts:?}"
        );

        // Cancelling the change request stops a run its worker holds.
        let cr4 = submit(&app, "web", "tags-only-update", &bundle).await["id"]
            .as_i64()
            .unwrap();
        let id4 = runs_of(&app, cr4).await[0]["id"].as_i64().unwrap();
        app.req(
            "POST",
            &format!("/api/v1/runs/{id4}/confirm"),
            Some(&app.admin),
            None,
        )
        .await;
        let claim4 = w.claim("w", 0).await.unwrap();
        w.walk(&claim4, &TO_APPLYING[..2]).await;
        let r = app
            .req(
                "POST",
                &format!("/api/v1/change-requests/{cr4}/cancel"),
                Some(&app.admin),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(
            w.heartbeat(&claim4).await.body["cancel_requested"],
            true,
            "{b}"
        );
        w.walk(&claim4, &["initialising", "cancelled"]).await;

        // While applying, cancel is refused.
        let cr3 = submit(&app, "web", "tags-only-update", &bundle).await["id"]
            .as_i64()
            .unwrap();
        let id3 = runs_of(&app, cr3).await[0]["id"].as_i64().unwrap();
        app.req(
            "POST",
            &format!("/api/v1/runs/{id3}/confirm"),
            Some(&app.admin),
            None,
        )
        .await;
        let claim = w.claim("w", 0).await.unwrap();
        w.walk(&claim, &TO_APPLYING[..5]).await;
        let r = app
            .req(
                "POST",
                &format!("/api/v1/runs/{id3}/cancel"),
                Some(&app.admin),
                None,
            )
            .await;
        assert_eq!(r.status, 409, "{b}: {:?}", r.body);
        let r = app
            .req(
                "POST",
                &format!("/api/v1/change-requests/{cr3}/cancel"),
                Some(&app.admin),
                None,
            )
            .await;
        assert_eq!(
            r.status, 409,
            "{b}: a change request being applied is not cancelled: {:?}",
            r.body
        );
        // Failing while applying: the change request is apply_failed.
        w.walk(&claim, &["applying", "failed"]).await;
        assert_eq!(cr_status(&app, cr3).await, "apply_failed");
        app.running.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_by_people_queues_a_run_confirmed_only_when_scope_and_stack_allow() {
    for b in backends().await {
        let app = spawn(b, |_| {}).await;
        app.stack("web", "dev", json!({"auto_apply": true})).await;
        let bundle = good_bundle(&app).await;
        let reviewer = app.user("rita", "reviewer").await;
        for (agent, seed, may) in [("trusted", 3u8, true), ("careful", 4u8, false)] {
            let key = app
                .agent(
                    agent,
                    seed,
                    json!({"stacks": ["web"], "may_auto_apply": may}),
                    json!({"submissions_per_minute": 1000}),
                )
                .await;
            let body = serde_json::to_vec(
                &json!({"stack": "web", "plan": common::plan("disable-public-access-block"),
                "config": {"kind": "bundle", "sha256": bundle}}),
            )
            .unwrap();
            let r = app
                .signed(&key, "POST", "/api/v1/change-requests", &body, &[])
                .await;
            assert_eq!(r.status, 201, "{:?}", r.body);
            assert_eq!(r.body["status"], "pending_review");
            let cr = r.body["id"].as_i64().unwrap();
            assert!(
                runs_of(&app, cr).await.is_empty(),
                "{b}: no run before approval"
            );
            let r = app
                .req(
                    "POST",
                    &format!("/api/v1/change-requests/{cr}/approve"),
                    Some(&reviewer),
                    Some(&json!({})),
                )
                .await;
            assert_eq!(r.status, 200, "{:?}", r.body);
            assert_eq!(r.body["status"], "approved", "{b}: {:?}", r.body);
            let runs = runs_of(&app, cr).await;
            assert_eq!(runs.len(), 1, "{b}");
            let want = if may { "not_needed" } else { "awaiting" };
            assert_eq!(runs[0]["confirmation"]["state"], want, "{b}: {agent}");
            if !may {
                // Cancelling the change request discards its queued run.
                let r = app
                    .req(
                        "POST",
                        &format!("/api/v1/change-requests/{cr}/cancel"),
                        Some(&app.admin),
                        None,
                    )
                    .await;
                assert_eq!(r.status, 200, "{:?}", r.body);
                assert_eq!(runs_of(&app, cr).await[0]["phase"], "discarded", "{b}");
            }
        }
        app.running.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundles_are_validated_on_upload_and_git_transports_are_limited() {
    for b in backends().await {
        let app = spawn(b, |c| c.bundle_max_bytes = 64 * 1024).await;
        app.stack("web", "dev", json!({})).await;
        for (name, flag, why) in [
            ("../escape.tf", b'0', "`..`"),
            ("/etc/cron.d/x", b'0', "absolute"),
            ("link.tf", b'2', "symbolic link"),
            ("hard.tf", b'1', "hard link"),
            ("dev", b'3', "devices"),
        ] {
            let (_, r) = upload(
                &app,
                targz(&[member("main.tf", b'0', b"x"), member(name, flag, b"")]),
            )
            .await;
            assert_eq!(r.status, 422, "{b}: {name}: {:?}", r.body);
            let msg = r.body["error"]["message"].as_str().unwrap();
            assert!(msg.contains(name) && msg.contains(why), "{b}: {msg}");
        }
        // The address must be the body's SHA-256.
        let bytes = targz(&[member("main.tf", b'0', b"x")]);
        let r = app
            .raw(
                "PUT",
                &format!("/api/v1/bundles/{}", "0".repeat(64)),
                Some(&app.admin),
                Some(bytes.clone()),
                &[],
            )
            .await;
        assert_eq!(r.status, 400);
        assert_eq!(r.body["error"]["code"], "digest_mismatch");
        let (s, r) = upload(&app, bytes.clone()).await;
        assert_eq!(r.status, 201);
        assert_eq!(r.body["files"], 1);
        let (_, r) = upload(&app, bytes).await;
        assert_eq!(r.status, 200, "{b}: stored once");
        // Too large (the limit is configurable).
        let big: Vec<u8> = (0..200_000u32)
            .flat_map(|i| i.wrapping_mul(2654435761).to_le_bytes())
            .collect();
        let (_, r) = upload(&app, targz(&[member("big.bin", b'0', &big)])).await;
        assert_eq!(r.status, 413, "{b}: {:?}", r.body);
        // Not gzip.
        let (_, r) = upload(&app, b"plain text".to_vec()).await;
        assert_eq!(r.status, 422);
        // A submission naming a bundle that is not stored, or a git
        // source over a refused transport.
        for (config, needle) in [
            (
                json!({"kind": "bundle", "sha256": "1".repeat(64)}),
                "is not stored",
            ),
            (
                json!({"kind": "git", "url": "ext::sh -c touch% /tmp/pwned", "commit": "a".repeat(40)}),
                "ext::",
            ),
            (
                json!({"kind": "git", "url": "https://example.com/r.git", "commit": "main"}),
                "full commit",
            ),
        ] {
            let body =
                json!({"stack": "web", "plan": common::plan("tags-only-update"), "config": config});
            let r = app
                .req(
                    "POST",
                    "/api/v1/change-requests",
                    Some(&app.admin),
                    Some(&body),
                )
                .await;
            assert_eq!(r.status, 422, "{b}: {:?}", r.body);
            assert!(
                r.body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains(needle),
                "{:?}",
                r.body
            );
        }
        let body = json!({"stack": "web", "plan": common::plan("tags-only-update"),
            "config": {"kind": "git", "url": "https://example.com/r.git", "commit": "a".repeat(40)}});
        let r = app
            .req(
                "POST",
                "/api/v1/change-requests",
                Some(&app.admin),
                Some(&body),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        assert_eq!(
            runs_of(&app, r.body["id"].as_i64().unwrap()).await[0]["source"]["kind"],
            "git"
        );
        let _ = s;
        app.running.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backend_lock_is_held_against_a_second_client_and_writes_record_their_origin() {
    for b in backends().await {
        let app = spawn(b, |_| {}).await;
        app.stack("web", "dev", json!({})).await;
        let mut creds = Vec::new();
        for _ in 0..2 {
            let r = app
                .req(
                    "POST",
                    "/api/v1/stacks/web/backend-credentials",
                    Some(&app.admin),
                    None,
                )
                .await;
            assert_eq!(r.status, 201, "{:?}", r.body);
            creds.push(r.body["credentials"].clone());
        }
        let (a, c) = (&creds[0], &creds[1]);
        let info_a =
            json!({"ID": "aaaa", "Operation": "OperationTypeApply", "Who": "alice@laptop"});
        let info_c = json!({"ID": "cccc", "Operation": "OperationTypePlan", "Who": "carol@ci"});
        let (s, _) = backend(
            &app,
            "LOCK",
            "web",
            "",
            a,
            Some(info_a.to_string().into_bytes()),
        )
        .await;
        assert_eq!(s, 200);
        let (s, t) = backend(
            &app,
            "LOCK",
            "web",
            "",
            c,
            Some(info_c.to_string().into_bytes()),
        )
        .await;
        assert_eq!(s, 423, "{b}: the lock is held");
        assert_eq!(
            serde_json::from_str::<Value>(&t).unwrap()["Who"],
            "alice@laptop",
            "{b}: the holder's lock info"
        );
        let (s, _) = backend(
            &app,
            "POST",
            "web",
            "?ID=cccc",
            c,
            Some(tfstate(1, "L", &["x"])),
        )
        .await;
        assert_eq!(s, 423, "{b}: writing under someone else's lock");
        let (s, _) = backend(&app, "POST", "web", "", c, Some(tfstate(1, "L", &["x"]))).await;
        assert_eq!(s, 423);
        let (s, _) = backend(
            &app,
            "UNLOCK",
            "web",
            "",
            c,
            Some(info_c.to_string().into_bytes()),
        )
        .await;
        assert_eq!(s, 423, "{b}: unlocking someone else's lock");
        let (s, t) = backend(
            &app,
            "POST",
            "web",
            "?ID=aaaa",
            a,
            Some(tfstate(1, "L", &["x"])),
        )
        .await;
        assert_eq!(s, 200, "{t}");
        let (s, _) = backend(
            &app,
            "UNLOCK",
            "web",
            "",
            a,
            Some(info_a.to_string().into_bytes()),
        )
        .await;
        assert_eq!(s, 200);
        let (s, _) = backend(
            &app,
            "LOCK",
            "web",
            "",
            c,
            Some(info_c.to_string().into_bytes()),
        )
        .await;
        assert_eq!(s, 200, "{b}: free again");
        let v = app
            .req("GET", "/api/v1/stacks/web/states/1", Some(&app.admin), None)
            .await;
        assert_eq!(v.body["origin"], "backend", "{b}: {:?}", v.body);
        assert!(v.body["pushed_by"]
            .as_str()
            .unwrap()
            .starts_with("backend:web-"));
        assert!(v.body.get("run").is_none());
        // Wrong password, and basic auth anywhere else.
        let bad = json!({"username": a["username"], "password": "nope"});
        let (s, _) = backend(&app, "GET", "web", "", &bad, None).await;
        assert_eq!(s, 401);
        let r = app
            .http
            .get(format!("{}/api/v1/stacks", app.base))
            .basic_auth(
                a["username"].as_str().unwrap(),
                Some(a["password"].as_str().unwrap()),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            401,
            "{b}: backend credentials open nothing else"
        );
        let acts = audit_actions(&app, "stack:web").await;
        assert!(
            acts.contains(&"state.locked".to_string())
                && acts.contains(&"state.pushed".to_string()),
            "{acts:?}"
        );
        app.running.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_plan_becomes_a_revision_judged_from_scratch() {
    for b in backends().await {
        let app = spawn(b, |_| {}).await;
        app.stack("web", "dev", json!({"auto_apply": true})).await;
        let bundle = good_bundle(&app).await;
        let w = W {
            app: &app,
            token: pool_token(&app, "embedded").await,
        };
        let cr = submit(&app, "web", "tags-only-update", &bundle).await["id"]
            .as_i64()
            .unwrap();
        let claim = w.claim("w", 0).await.unwrap();
        w.walk(&claim, &TO_APPLYING[..4]).await;
        let id = claim["run"]["id"].as_i64().unwrap();
        // The new plan still approves: revision 2, a new run is queued.
        let r = w
            .call(
                "POST",
                &format!("/api/v1/runs/{id}/revision"),
                json!({"lease": claim["lease"], "plan": common::plan("tags-only-update")}),
            )
            .await;
        assert_eq!(r.status, 200, "{b}: {:?}", r.body);
        assert_eq!(r.body["revision"], 2);
        assert_eq!(r.body["decision"], "approve");
        let next = r.body["run"].as_i64().expect("a new run");
        assert_eq!(get_run(&app, id).await["phase"], "discarded");
        let runs = runs_of(&app, cr).await;
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0]["id"], next);
        assert_eq!(runs[0]["revision"], 2);
        // Its run now finds a plan that needs people: revision 3, pending.
        let claim = w.claim("w", 0).await.unwrap();
        assert_eq!(claim["run"]["id"], next);
        w.walk(&claim, &TO_APPLYING[..4]).await;
        let r = w
            .call("POST", &format!("/api/v1/runs/{next}/revision"),
                json!({"lease": claim["lease"], "plan": common::plan("disable-public-access-block")}))
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["revision"], 3);
        assert_eq!(r.body["decision"], "review");
        assert!(r.body.get("run").is_none());
        let c = app
            .req(
                "GET",
                &format!("/api/v1/change-requests/{cr}"),
                Some(&app.admin),
                None,
            )
            .await;
        assert_eq!(c.body["status"], "pending_review", "{b}");
        assert_eq!(c.body["revision"], 3, "{b}");
        assert_eq!(c.body["verdict"]["decision"], "review");
        assert!(w.claim("w", 0).await.is_none());
        let acts = audit_actions(&app, &format!("change_request:{cr}")).await;
        assert_eq!(
            acts.iter()
                .filter(|a| *a == "change_request.revised")
                .count(),
            2,
            "{acts:?}"
        );
        // A revision from a run that is not checking is refused.
        let r = w
            .call(
                "POST",
                &format!("/api/v1/runs/{next}/revision"),
                json!({"lease": claim["lease"], "plan": common::plan("tags-only-update")}),
            )
            .await;
        assert_eq!(r.status, 409, "{b}");
        app.running.shutdown().await.unwrap();
    }
}

/// An approval is given to one plan: when the run finds another, the new
/// revision is judged from scratch and the earlier reviews count for
/// nothing (prod wants two approvals: two of revision 1 plus one of
/// revision 2 must not approve it), and the same people may review again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviews_of_an_earlier_revision_do_not_count_for_the_next() {
    for b in backends().await {
        let app = spawn(b, |_| {}).await;
        app.stack("pay", "prod", json!({"auto_apply": true})).await;
        let bundle = good_bundle(&app).await;
        let alice = app.user("alice", "reviewer").await;
        let bob = app.user("bob", "reviewer").await;
        let w = W {
            app: &app,
            token: pool_token(&app, "embedded").await,
        };
        let cr = submit(&app, "pay", "disable-public-access-block", &bundle).await;
        assert_eq!(cr["status"], "pending_review", "{b}: {cr:?}");
        let cr = cr["id"].as_i64().unwrap();
        let approve = |who: &str| {
            let who = who.to_string();
            let app = &app;
            async move {
                app.req(
                    "POST",
                    &format!("/api/v1/change-requests/{cr}/approve"),
                    Some(&who),
                    Some(&json!({})),
                )
                .await
            }
        };
        let r = approve(&alice).await;
        assert_eq!(r.status, 200, "{b}: {:?}", r.body);
        assert_eq!(r.body["status"], "pending_review", "{b}: one of two");
        let r = approve(&bob).await;
        assert_eq!(r.body["status"], "approved", "{b}: {:?}", r.body);
        let run = runs_of(&app, cr).await[0]["id"].as_i64().unwrap();
        let r = app
            .req(
                "POST",
                &format!("/api/v1/runs/{run}/confirm"),
                Some(&app.admin),
                None,
            )
            .await;
        assert!(matches!(r.status, 200 | 409), "{b}: {:?}", r.body);
        let claim = w.claim("w", 0).await.expect("the approved run");
        w.walk(&claim, &TO_APPLYING[..4]).await;
        let r = w
            .call(
                "POST",
                &format!("/api/v1/runs/{run}/revision"),
                json!({"lease": claim["lease"], "plan": common::plan("delete-prod-database")}),
            )
            .await;
        assert_eq!(r.status, 200, "{b}: {:?}", r.body);
        assert_eq!(r.body["revision"], 2);
        assert_eq!(r.body["decision"], "review", "{b}: {:?}", r.body);
        let c = app
            .req(
                "GET",
                &format!("/api/v1/change-requests/{cr}"),
                Some(&app.admin),
                None,
            )
            .await;
        assert_eq!(c.body["status"], "pending_review", "{b}");
        assert_eq!(
            c.body["reviews"].as_array().map(Vec::len),
            Some(0),
            "{b}: revision 2 starts without reviews: {:?}",
            c.body["reviews"]
        );
        // The same person may review the new plan; one approval of two.
        let r = approve(&alice).await;
        assert_eq!(r.status, 200, "{b}: {:?}", r.body);
        assert_eq!(
            r.body["status"], "pending_review",
            "{b}: old approvals counted"
        );
        let r = approve(&alice).await;
        assert_eq!(r.status, 409, "{b}: one review per person and revision");
        let r = approve(&bob).await;
        assert_eq!(r.body["status"], "approved", "{b}: {:?}", r.body);
        let acts = audit_actions(&app, &format!("change_request:{cr}")).await;
        assert_eq!(
            acts.iter()
                .filter(|a| *a == "change_request.review.approve")
                .count(),
            4,
            "{b}: {acts:?}"
        );
        app.running.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_verification_opens_a_rollback_change_request() {
    for b in backends().await {
        let app = spawn(b, |_| {}).await;
        app.stack("web", "dev", json!({"auto_apply": true,
            "runs": {"verification": {"window_secs": 60, "interval_secs": 5, "health_url": "http://127.0.0.1:9/health"}}}))
            .await;
        let hook = app
            .req(
                "POST",
                "/api/v1/webhooks",
                Some(&app.admin),
                Some(&json!({"url": "http://127.0.0.1:9/", "events": ["run.*"]})),
            )
            .await;
        assert_eq!(hook.status, 201, "{:?}", hook.body);
        // Version 1: pushed by a person (no recorded configuration).
        let r = app
            .raw("POST", "/api/v1/stacks/web/states", Some(&app.admin),
                Some(serde_json::to_vec(&json!({"state": serde_json::from_slice::<Value>(&tfstate(1, "L", &["a"])).unwrap()})).unwrap()), &[])
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let bundle = good_bundle(&app).await;
        submit(&app, "web", "tags-only-update", &bundle).await;
        let w = W {
            app: &app,
            token: pool_token(&app, "embedded").await,
        };
        let claim = w.claim("w", 0).await.unwrap();
        assert_eq!(
            claim["verification"]["health_url"],
            "http://127.0.0.1:9/health"
        );
        w.walk(&claim, &TO_APPLYING[..5]).await;
        let (s, t) = backend(
            &app,
            "POST",
            "web",
            "",
            &claim["backend"],
            Some(tfstate(2, "L", &["a", "b"])),
        )
        .await;
        assert_eq!(s, 200, "{t}");
        w.walk(&claim, &["applying", "applied", "verifying"]).await;
        let r = w
            .phase(
                &claim,
                "verifying",
                "verification_failed",
                json!({"error": "health URL answered 503 three times"}),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let rb = app
            .req(
                "GET",
                "/api/v1/stacks/web/states?limit=5",
                Some(&app.admin),
                None,
            )
            .await;
        assert_eq!(rb.status, 200);
        let crs = app
            .req(
                "GET",
                "/api/v1/change-requests?stack=web",
                Some(&app.admin),
                None,
            )
            .await;
        let rollback = crs.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| {
                c["intent"]
                    .as_str()
                    .unwrap_or("")
                    .contains("failed its verification")
            })
            .cloned()
            .unwrap_or_else(|| panic!("{b}: no rollback change request: {:?}", crs.body));
        assert!(
            rollback["intent"]
                .as_str()
                .unwrap()
                .contains("to version 1"),
            "{rollback}"
        );
        assert!(
            rollback["intent"].as_str().unwrap().contains("503"),
            "{rollback}"
        );
        // Version 1 was not written by a run: no run can roll back to it.
        let rid = rollback["id"].as_i64().unwrap();
        assert!(runs_of(&app, rid).await.is_empty(), "{b}");
        let id = claim["run"]["id"].as_i64().unwrap();
        let acts = audit_actions(&app, &format!("run:{id}")).await;
        assert_eq!(acts.last().unwrap(), "run.verification_failed");
        let d = app
            .req(
                "GET",
                &format!("/api/v1/webhooks/{}/deliveries", hook.body["id"]),
                Some(&app.admin),
                None,
            )
            .await;
        let events: Vec<String> = d.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["event_type"].as_str().unwrap_or("").to_string())
            .collect();
        assert!(
            events.contains(&"run.verification_failed".to_string()),
            "{b}: {:?}",
            d.body
        );
        app.running.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_names_only_and_credentials_never_reach_people_or_the_audit_log() {
    for b in backends().await {
        let app = spawn(b, |_| {}).await;
        app.stack("web", "dev", json!({"auto_apply": true,
            "runs": {"secret_env": ["TF_VAR_db_password"], "secret_files": {"api_key": "/run/secrets/api"}}}))
            .await;
        // A secret value is not even accepted in the stack spec.
        let r = app
            .req("POST", "/api/v1/stacks", Some(&app.admin),
                Some(&json!({"name": "x", "environment": "dev", "runs": {"secret_env": {"TF_VAR_db_password": "hunter2"}}})))
            .await;
        assert_eq!(r.status, 400, "{:?}", r.body);
        let bundle = good_bundle(&app).await;
        submit(&app, "web", "tags-only-update", &bundle).await;
        let token = pool_token(&app, "embedded").await;
        let w = W {
            app: &app,
            token: token.clone(),
        };
        let claim = w.claim("w", 0).await.unwrap();
        let lease = claim["lease"].as_str().unwrap().to_string();
        let password = claim["backend"]["password"].as_str().unwrap().to_string();
        let id = claim["run"]["id"].as_i64().unwrap();
        let shown = app
            .req("GET", &format!("/api/v1/runs/{id}"), Some(&app.admin), None)
            .await
            .body
            .to_string();
        let stack = app
            .req("GET", "/api/v1/stacks/web", Some(&app.admin), None)
            .await
            .body
            .to_string();
        assert!(stack.contains("TF_VAR_db_password") && stack.contains("/run/secrets/api"));
        let export = app
            .http
            .get(format!("{}/api/v1/audit/export", app.base))
            .bearer_auth(&app.admin)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for secret in [&lease, &password, &token] {
            assert!(
                !shown.contains(secret.as_str()),
                "{b}: a credential in the run's answer"
            );
            assert!(
                !export.contains(secret.as_str()),
                "{b}: a credential in the audit log"
            );
        }
        // Worker tokens open the worker endpoints only.
        let r = app
            .raw("GET", "/api/v1/stacks", Some(&token), None, &[])
            .await;
        assert_eq!(r.status, 403, "{b}");
        app.running.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_postgres_give_each_run_to_one_worker() {
    let Some(url) = arbiter_testkit::postgres_database().await.unwrap() else {
        return;
    };
    let a = spawn("sqlite", |c| c.database_url = Some(url.clone())).await;
    let b_dir = tempfile::tempdir().unwrap();
    let b_running = arbiter_server::start(arbiter_server::ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: b_dir.path().join("data"),
        data_key_file: Some(a.running.state.config.data_dir.join("data.key")),
        database_url: Some(url.clone()),
        tick: std::time::Duration::from_millis(100),
        ..Default::default()
    })
    .await
    .unwrap();
    let b_base = format!("http://{}", b_running.addr);
    let bundle = good_bundle(&a).await;
    let n = 10;
    for i in 0..n {
        a.stack(&format!("r{i}"), "dev", json!({"auto_apply": true}))
            .await;
        submit(&a, &format!("r{i}"), "tags-only-update", &bundle).await;
    }
    let token = pool_token(&a, "embedded").await;
    let mut tasks = Vec::new();
    for k in 0..8 {
        let base = if k % 2 == 0 {
            a.base.clone()
        } else {
            b_base.clone()
        };
        let client = App::client_only(base);
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let r = client
                    .raw(
                        "POST",
                        "/api/v1/runs/claim",
                        Some(&token),
                        Some(serde_json::to_vec(&json!({"worker": format!("w{k}")})).unwrap()),
                        &[],
                    )
                    .await;
                match r.status {
                    200 => got.push(r.body["run"]["id"].as_i64().unwrap()),
                    204 => return got,
                    s => panic!("claim: {s} {:?}", r.body),
                }
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    let before = all.len();
    all.dedup();
    assert_eq!(
        before,
        all.len(),
        "a run was claimed twice across replicas: {all:?}"
    );
    assert_eq!(all.len(), n);
    b_running.shutdown().await.unwrap();
    a.running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_is_run_with_the_configuration_recorded_with_its_target() {
    for b in backends().await {
        let app = spawn(b, |_| {}).await;
        app.stack("web", "dev", json!({"auto_apply": true})).await;
        let w = W {
            app: &app,
            token: pool_token(&app, "embedded").await,
        };
        // Version 1: pushed by a person; versions 2 and 3: written by runs.
        let r = app
            .raw("POST", "/api/v1/stacks/web/states", Some(&app.admin),
                Some(serde_json::to_vec(&json!({"state": serde_json::from_slice::<Value>(&tfstate(1, "L", &[])).unwrap()})).unwrap()), &[])
            .await;
        assert_eq!(r.status, 201);
        let mut bundles = Vec::new();
        for (serial, names, body) in [(2, vec!["a"], "one"), (3, vec!["a", "b"], "two")] {
            let (sha, r) = upload(&app, targz(&[member("main.tf", b'0', body.as_bytes())])).await;
            assert!(matches!(r.status, 200 | 201));
            bundles.push(sha.clone());
            submit(&app, "web", "tags-only-update", &sha).await;
            let claim = w.claim("w", 0).await.unwrap();
            w.walk(&claim, &TO_APPLYING[..5]).await;
            let (s, t) = backend(
                &app,
                "POST",
                "web",
                "",
                &claim["backend"],
                Some(tfstate(serial, "L", &names)),
            )
            .await;
            assert_eq!(s, 200, "{t}");
            w.walk(&claim, &TO_APPLYING[4..]).await;
        }
        // Back to version 2: a run applies version 2's configuration.
        let r = app
            .req(
                "POST",
                "/api/v1/stacks/web/rollback",
                Some(&app.admin),
                Some(&json!({"to": 2})),
            )
            .await;
        assert_eq!(r.status, 201, "{b}: {:?}", r.body);
        assert!(r.body.get("run_note").is_none(), "{:?}", r.body);
        let cr = r.body["change_request"]["id"].as_i64().unwrap();
        if r.body["change_request"]["status"] == "approved" {
            let runs = runs_of(&app, cr).await;
            assert_eq!(runs.len(), 1, "{b}");
            assert_eq!(runs[0]["kind"], "rollback");
            assert_eq!(runs[0]["target_version"], 2);
            assert_eq!(
                runs[0]["source"]["sha256"],
                bundles[0].as_str(),
                "{b}: the target's configuration"
            );
        } else {
            // Approved by a person instead: the same run follows.
            let reviewer = app.user("rita", "reviewer").await;
            let r = app
                .req(
                    "POST",
                    &format!("/api/v1/change-requests/{cr}/approve"),
                    Some(&reviewer),
                    Some(&json!({})),
                )
                .await;
            assert_eq!(r.status, 200, "{:?}", r.body);
            let runs = runs_of(&app, cr).await;
            assert_eq!(runs[0]["kind"], "rollback");
            assert_eq!(runs[0]["source"]["sha256"], bundles[0].as_str());
        }
        // Back to version 1 (pushed, no configuration): said plainly, no run.
        let r = app
            .req(
                "POST",
                "/api/v1/stacks/web/rollback",
                Some(&app.admin),
                Some(&json!({"to": 1})),
            )
            .await;
        assert_eq!(r.status, 201, "{b}: {:?}", r.body);
        let note = r.body["run_note"].as_str().unwrap();
        assert!(
            note.contains("no recorded configuration")
                && note.contains("cannot be applied by a run"),
            "{note}"
        );
        assert!(
            runs_of(&app, r.body["change_request"]["id"].as_i64().unwrap())
                .await
                .is_empty()
        );
        app.running.shutdown().await.unwrap();
    }
}

/// Runs `terraform` in `dir` with the backend credentials; (success, output).
async fn terraform(dir: &std::path::Path, creds: &Value, args: &[&str]) -> (bool, String) {
    let (dir, user, pass) = (
        dir.to_path_buf(),
        creds["username"].as_str().unwrap().to_string(),
        creds["password"].as_str().unwrap().to_string(),
    );
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new("terraform")
            .args(&args)
            .current_dir(&dir)
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_HTTP_USERNAME", user)
            .env("TF_HTTP_PASSWORD", pass)
            .output()
            .expect("terraform is needed by this test (Terraform 1.11 on PATH; .ci/run checks it)");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    })
    .await
    .unwrap()
}

/// The real Terraform against the state backend: init, apply (a version
/// with origin `backend`), a lock held by another client refuses its apply
/// naming the holder's lock, and after the unlock it applies again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_terraform_uses_the_state_backend_and_respects_its_lock() {
    for b in backends().await {
        let app = spawn(b, |_| {}).await;
        app.stack("web", "dev", json!({})).await;
        let mint = || async {
            let r = app
                .req(
                    "POST",
                    "/api/v1/stacks/web/backend-credentials",
                    Some(&app.admin),
                    None,
                )
                .await;
            assert_eq!(r.status, 201);
            r.body["credentials"].clone()
        };
        let (mine, other) = (mint().await, mint().await);
        let dir = tempfile::tempdir().unwrap();
        let address = mine["address"].as_str().unwrap();
        let main = format!(
            "terraform {{\n  backend \"http\" {{\n    address = \"{address}\"\n    lock_address = \"{address}\"\n    unlock_address = \"{address}\"\n  }}\n}}\nresource \"terraform_data\" \"a\" {{ input = \"one\" }}\n"
        );
        std::fs::write(dir.path().join("main.tf"), &main).unwrap();
        let (ok, out) = terraform(dir.path(), &mine, &["init", "-input=false", "-no-color"]).await;
        assert!(ok, "{b}: {out}");
        let (ok, out) = terraform(
            dir.path(),
            &mine,
            &["apply", "-auto-approve", "-input=false", "-no-color"],
        )
        .await;
        assert!(ok, "{b}: {out}");
        let v = app
            .req("GET", "/api/v1/stacks/web/states/1", Some(&app.admin), None)
            .await;
        assert_eq!(v.body["origin"], "backend", "{b}: {:?}", v.body);
        assert_eq!(v.body["resource_count"], 1);

        let held = json!({"ID": "held-by-ci", "Operation": "OperationTypeApply", "Who": "ci@runner", "Version": "1.11.4", "Created": "2026-01-01T00:00:00Z", "Info": "", "Path": ""});
        let (s, _) = backend(
            &app,
            "LOCK",
            "web",
            "",
            &other,
            Some(held.to_string().into_bytes()),
        )
        .await;
        assert_eq!(s, 200);
        std::fs::write(
            dir.path().join("main.tf"),
            main.replace("\"one\"", "\"two\""),
        )
        .unwrap();
        let (ok, out) = terraform(
            dir.path(),
            &mine,
            &[
                "apply",
                "-auto-approve",
                "-input=false",
                "-no-color",
                "-lock-timeout=1s",
            ],
        )
        .await;
        assert!(!ok, "{b}: applied under someone else's lock: {out}");
        assert!(
            out.contains("held-by-ci"),
            "{b}: terraform names the holder's lock: {out}"
        );
        let (s, _) = backend(
            &app,
            "UNLOCK",
            "web",
            "",
            &other,
            Some(held.to_string().into_bytes()),
        )
        .await;
        assert_eq!(s, 200);
        let (ok, out) = terraform(
            dir.path(),
            &mine,
            &["apply", "-auto-approve", "-input=false", "-no-color"],
        )
        .await;
        assert!(ok, "{b}: {out}");
        let v = app
            .req("GET", "/api/v1/stacks/web/states", Some(&app.admin), None)
            .await;
        assert_eq!(
            v.body["items"].as_array().unwrap().len(),
            2,
            "{b}: {:?}",
            v.body
        );
        app.running.shutdown().await.unwrap();
    }
}

/// How many state versions a stack has.
async fn versions(app: &App, stack: &str) -> usize {
    app.req(
        "GET",
        &format!("/api/v1/stacks/{stack}/states"),
        Some(&app.admin),
        None,
    )
    .await
    .body["items"]
        .as_array()
        .unwrap()
        .len()
}

/// Waits (up to 10 s) for a run to reach `phase`.
async fn wait_phase(app: &App, id: i64, phase: &str) -> Value {
    let mut run = Value::Null;
    for _ in 0..50 {
        run = get_run(app, id).await;
        if run["phase"] == phase {
            return run;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("run {id} did not become {phase}: {run}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terraform_left_running_after_its_run_ended_cannot_write_state() {
    for b in backends().await {
        let app = spawn(b, |c| {
            c.run_heartbeat = std::time::Duration::from_millis(300)
        })
        .await;
        app.stack("web", "dev", json!({"auto_apply": true})).await;
        let bundle = good_bundle(&app).await;
        let w = W {
            app: &app,
            token: pool_token(&app, "embedded").await,
        };
        // A run that applied and is over (applied, awaiting nothing): its
        // credentials still read, but neither lock nor write.
        let cr = submit(&app, "web", "tags-only-update", &bundle).await;
        let claim = w.claim("w1", 0).await.unwrap();
        w.walk(&claim, &TO_APPLYING[..5]).await;
        let (s, _) = backend(
            &app,
            "POST",
            "web",
            "",
            &claim["backend"],
            Some(tfstate(1, "L", &["a"])),
        )
        .await;
        assert_eq!(s, 200, "{b}: an applying run writes");
        w.walk(&claim, &["applying", "applied"]).await;
        let first = claim["run"]["id"].as_i64().unwrap();
        let (s, body) = backend(
            &app,
            "LOCK",
            "web",
            "",
            &claim["backend"],
            Some(json!({"ID": "late"}).to_string().into_bytes()),
        )
        .await;
        assert_eq!(s, 409, "{b}: {body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["error"]["code"], "state_write_refused", "{b}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(&format!("run {first} is applied")),
            "{b}: {body}"
        );
        assert_eq!(cr_status(&app, cr["id"].as_i64().unwrap()).await, "applied");

        // A run interrupted by missed heartbeats while applying, whose
        // terraform keeps going (a SIGKILLed worker without bubblewrap).
        let cr = submit(&app, "web", "tags-only-update", &bundle).await;
        let cr_id = cr["id"].as_i64().unwrap();
        let claim = w.claim("w2", 0).await.unwrap();
        let id = claim["run"]["id"].as_i64().unwrap();
        w.walk(&claim, &TO_APPLYING[..5]).await;
        let info = json!({"ID": "doomed", "Operation": "OperationTypeApply"});
        let (s, _) = backend(
            &app,
            "LOCK",
            "web",
            "",
            &claim["backend"],
            Some(info.to_string().into_bytes()),
        )
        .await;
        assert_eq!(s, 200, "{b}");
        let (s, _) = backend(
            &app,
            "POST",
            "web",
            "?ID=doomed",
            &claim["backend"],
            Some(tfstate(2, "L", &["a", "half"])),
        )
        .await;
        assert_eq!(s, 200, "{b}: the partial state of the apply is kept");
        // No more heartbeats: the server interrupts it.
        let run = wait_phase(&app, id, "interrupted").await;
        assert!(run["error"].as_str().unwrap().contains("heart-beating"));
        assert_eq!(cr_status(&app, cr_id).await, "apply_failed", "{b}");
        assert_eq!(versions(&app, "web").await, 2);
        // The late terraform writes its final state, and retries the lock.
        for (method, query, body) in [
            (
                "POST",
                "?ID=doomed",
                tfstate(3, "L", &["a", "half", "late"]),
            ),
            ("POST", "", tfstate(3, "L", &["a", "half", "late"])),
            ("LOCK", "", info.to_string().into_bytes()),
        ] {
            let (s, text) =
                backend(&app, method, "web", query, &claim["backend"], Some(body)).await;
            assert_eq!(s, 409, "{b}: {method}{query}: {text}");
            let v: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(v["error"]["code"], "state_write_refused", "{b}");
            let m = v["error"]["message"].as_str().unwrap();
            assert!(
                m.contains(&format!("run {id} is interrupted")) && m.contains("heart-beating"),
                "{b}: {m}"
            );
        }
        assert_eq!(
            versions(&app, "web").await,
            2,
            "{b}: the state history is unchanged"
        );
        let listed = app
            .req("GET", "/api/v1/stacks/web/states", Some(&app.admin), None)
            .await;
        let serials: Vec<i64> = listed.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["serial"].as_i64().unwrap())
            .collect();
        assert!(!serials.contains(&3), "{b}: {serials:?}");
        // Reading with the ended credentials is refused as before.
        let (s, _) = backend(&app, "GET", "web", "", &claim["backend"], None).await;
        assert_eq!(s, 401, "{b}");
        // The audit log says what happened and why.
        let entries = audit_entries(&app, &format!("run:{id}")).await;
        let actions: Vec<&str> = entries.iter().map(|(a, _)| a.as_str()).collect();
        let i = actions
            .iter()
            .position(|a| *a == "run.interrupted")
            .unwrap();
        let refused: Vec<&Value> = entries[i..]
            .iter()
            .filter(|(a, _)| a == "state.write_refused")
            .map(|(_, p)| p)
            .collect();
        assert_eq!(refused.len(), 3, "{b}: {actions:?}");
        assert_eq!(refused[0]["method"], "POST");
        assert_eq!(refused[2]["method"], "LOCK");
        assert_eq!(refused[0]["phase"], "interrupted");
        assert!(refused[0]["reason"]
            .as_str()
            .unwrap()
            .contains("heart-beating"));
        app.running.shutdown().await.unwrap();
    }
}

/// Heart-beats for `claim` every 100 ms until the run's lease is lost;
/// returns the last answer (the 409).
fn keep_beating(app: &App, token: &str, claim: &Value) -> tokio::task::JoinHandle<(u16, Value)> {
    let (http, base, token) = (app.http.clone(), app.base.clone(), token.to_string());
    let id = claim["run"]["id"].as_i64().unwrap();
    let body = serde_json::to_vec(&json!({"lease": claim["lease"]})).unwrap();
    tokio::spawn(async move {
        loop {
            let r = http
                .post(format!("{base}/api/v1/runs/{id}/heartbeat"))
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            if status != 200 {
                return (status, body);
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_stops_a_run_whose_phase_outlasts_its_limit_though_its_worker_heart_beats() {
    for b in backends().await {
        // Grace: three heartbeats of 300 ms.
        let app = spawn(b, |c| {
            c.run_heartbeat = std::time::Duration::from_millis(300)
        })
        .await;
        let runs_cfg = json!({"timeouts": {"preparing": 60, "initialising": 60, "planning": 1, "applying": 1}});
        app.stack("web", "dev", json!({"auto_apply": true, "runs": runs_cfg}))
            .await;
        let bundle = good_bundle(&app).await;
        let (hook, _) = {
            let r = app
                .req(
                    "POST",
                    "/api/v1/webhooks",
                    Some(&app.admin),
                    Some(&json!({"url": "http://127.0.0.1:9/hook", "events": ["run.*"]})),
                )
                .await;
            assert_eq!(r.status, 201, "{:?}", r.body);
            (r.body["id"].as_i64().unwrap(), ())
        };
        let token = pool_token(&app, "embedded").await;
        let w = W {
            app: &app,
            token: token.clone(),
        };

        // 1. Hangs while planning (limit 1 s): failed, though heart-beating.
        let cr = submit(&app, "web", "tags-only-update", &bundle).await;
        let cr1 = cr["id"].as_i64().unwrap();
        let claim = w.claim("w1", 0).await.unwrap();
        assert_eq!(claim["timeouts"]["planning"], 1);
        let id = claim["run"]["id"].as_i64().unwrap();
        w.walk(&claim, &TO_APPLYING[..3]).await;
        let t = std::time::Instant::now();
        let beats = keep_beating(&app, &token, &claim);
        let run = wait_phase(&app, id, "failed").await;
        let took = t.elapsed();
        assert!(
            took >= std::time::Duration::from_millis(1900),
            "{b}: stopped after {took:?}: the limit (1 s) and the grace (0.9 s) come first"
        );
        let err = run["error"].as_str().unwrap();
        assert!(
            err.contains("planning lasted longer than its limit of 1 s"),
            "{b}: {err}"
        );
        // The worker learns it at its next heartbeat, and why.
        let last = tokio::time::timeout(std::time::Duration::from_secs(5), beats)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(last.0, 409, "{b}");
        assert_eq!(last.1["error"]["code"], "lease_lost");
        let m = last.1["error"]["message"].as_str().unwrap();
        assert!(
            m.contains(&format!("run {id} is failed")) && m.contains("lasted longer"),
            "{b}: {m}"
        );
        let r = w.phase(&claim, "planning", "checking", json!({})).await;
        assert_eq!(r.status, 409, "{b}: and at its next phase report");
        assert_eq!(
            cr_status(&app, cr1).await,
            "approved",
            "{b}: nothing applied"
        );
        let audit = audit_entries(&app, &format!("run:{id}")).await;
        let (_, failed) = audit.iter().find(|(a, _)| a == "run.failed").unwrap();
        assert_eq!(failed["from"], "planning", "{b}");
        assert!(failed["error"].as_str().unwrap().contains("lasted longer"));

        // 2. Hangs while applying (limit 1 s): interrupted (the apply may
        // have happened), and the stack's applying slot is free again.
        let cr = submit(&app, "web", "tags-only-update", &bundle).await;
        let cr2 = cr["id"].as_i64().unwrap();
        let claim = w.claim("w2", 0).await.unwrap();
        let id2 = claim["run"]["id"].as_i64().unwrap();
        w.walk(&claim, &TO_APPLYING[..5]).await;
        let beats = keep_beating(&app, &token, &claim);
        let next = submit(&app, "web", "tags-only-update", &bundle).await;
        let run = wait_phase(&app, id2, "interrupted").await;
        assert!(
            run["error"]
                .as_str()
                .unwrap()
                .contains("applying lasted longer than its limit of 1 s"),
            "{b}: {run}"
        );
        assert_eq!(cr_status(&app, cr2).await, "apply_failed", "{b}");
        let last = tokio::time::timeout(std::time::Duration::from_secs(5), beats)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(last.0, 409, "{b}");
        let claim3 = w.claim("w3", 5).await.expect("the stack is free again");
        assert_eq!(claim3["run"]["change_request"], next["id"], "{b}");
        // A late write of the stopped apply is refused.
        let (s, _) = backend(
            &app,
            "POST",
            "web",
            "",
            &claim["backend"],
            Some(tfstate(1, "L", &["late"])),
        )
        .await;
        assert_eq!(s, 409, "{b}");

        // Webhooks `run.*` were made for both stops.
        let mut events = Vec::new();
        for _ in 0..100 {
            let r = app
                .req(
                    "GET",
                    &format!("/api/v1/webhooks/{hook}/deliveries"),
                    Some(&app.admin),
                    None,
                )
                .await;
            events = r.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["event_type"].as_str().unwrap().to_string())
                .collect();
            if events.iter().any(|e| e == "run.failed")
                && events.iter().any(|e| e == "run.interrupted")
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(
            events.iter().any(|e| e == "run.failed")
                && events.iter().any(|e| e == "run.interrupted"),
            "{b}: {events:?}"
        );
        app.running.shutdown().await.unwrap();
    }
}

async fn get_bundle(app: &App, token: &str, sha: &str) -> u16 {
    app.raw(
        "GET",
        &format!("/api/v1/bundles/{sha}"),
        Some(token),
        None,
        &[],
    )
    .await
    .status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_tokens_are_listed_and_revoked_and_read_only_the_bundles_of_their_pools_runs() {
    for b in backends().await {
        let app = spawn(b, |_| {}).await;
        app.stack("web", "dev", json!({"auto_apply": true})).await;
        let (id1, tok1) = pool_token_with_id(&app, "embedded").await;
        let (id2, tok2) = pool_token_with_id(&app, "embedded").await;
        let (_, other) = pool_token_with_id(&app, "other").await;
        assert_eq!(id1.len(), 16, "{b}");
        assert_ne!(id1, id2);
        let bundle = good_bundle(&app).await;
        let (unrelated, r) = upload(
            &app,
            targz(&[member("other.tf", b'0', b"# not any run's\n")]),
        )
        .await;
        assert_eq!(r.status, 201, "{b}");

        // Queued, not claimed: no worker reads its bundle yet.
        let cr = submit(&app, "web", "tags-only-update", &bundle).await;
        assert_eq!(get_bundle(&app, &tok1, &bundle).await, 404, "{b}");
        let w1 = W {
            app: &app,
            token: tok1.clone(),
        };
        let claim = w1.claim("w1", 0).await.unwrap();
        assert_eq!(claim["run"]["change_request"], cr["id"]);
        // Claimed by the pool: its workers read it; nothing else, nobody else.
        assert_eq!(get_bundle(&app, &tok1, &bundle).await, 200, "{b}");
        assert_eq!(
            get_bundle(&app, &tok2, &bundle).await,
            200,
            "{b}: same pool"
        );
        let r = app
            .raw(
                "GET",
                &format!("/api/v1/bundles/{unrelated}"),
                Some(&tok1),
                None,
                &[],
            )
            .await;
        assert_eq!(
            r.status, 404,
            "{b}: stored, but not the source of a run it holds"
        );
        assert_eq!(r.body["error"]["code"], "not_found");
        assert_eq!(
            get_bundle(&app, &other, &bundle).await,
            404,
            "{b}: another pool"
        );
        assert_eq!(get_bundle(&app, &other, &"0".repeat(64)).await, 404, "{b}");

        // Listed without secrets; the one that claimed has a last use.
        let r = app
            .req(
                "GET",
                "/api/v1/worker-pools/embedded/tokens",
                Some(&app.admin),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{b}: {:?}", r.body);
        let text = r.body.to_string();
        assert!(
            !text.contains(&tok1[12..]) && !text.contains(&tok2[12..]),
            "{b}: {text}"
        );
        let items = r.body["items"].as_array().unwrap();
        let find = |id: &str| items.iter().find(|t| t["id"] == id).unwrap().clone();
        let (t1, t2) = (find(&id1), find(&id2));
        assert_eq!(t1["prefix"], tok1[..12], "{b}");
        assert_eq!(t1["pool"], "embedded");
        assert_eq!(t1["created_by"], "user:admin", "{b}: {t1}");
        assert!(t1["last_used_at"].is_string(), "{b}: {t1}");
        assert!(t2.get("last_used_at").is_none(), "{b}: {t2}");
        assert!(t1.get("revoked_at").is_none() && t1.get("token").is_none());
        let r = app
            .req(
                "GET",
                "/api/v1/worker-pools/nope/tokens",
                Some(&app.admin),
                None,
            )
            .await;
        assert_eq!(r.status, 404, "{b}");

        // Revoked: refused at once, on every worker endpoint.
        let r = app
            .req(
                "DELETE",
                &format!("/api/v1/worker-pools/embedded/tokens/{id1}"),
                Some(&app.admin),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{b}: {:?}", r.body);
        assert!(r.body["revoked_at"].is_string());
        assert_eq!(r.body["revoked_by"], "user:admin");
        let hb = w1.heartbeat(&claim).await;
        assert_eq!(hb.status, 401, "{b}: {:?}", hb.body);
        assert_eq!(hb.body["error"]["code"], "invalid_token");
        assert_eq!(get_bundle(&app, &tok1, &bundle).await, 401, "{b}");
        let r = w1
            .call(
                "POST",
                "/api/v1/runs/claim",
                json!({"worker": "w1", "wait_secs": 0}),
            )
            .await;
        assert_eq!(r.status, 401, "{b}");
        // Idempotent, audited once; an unknown id or pool is 404.
        let again = app
            .req(
                "DELETE",
                &format!("/api/v1/worker-pools/embedded/tokens/{id1}"),
                Some(&app.admin),
                None,
            )
            .await;
        assert_eq!(again.status, 200, "{b}");
        assert_eq!(again.body["revoked_at"], r_revoked_at(&app, &id1).await);
        let audit = audit_actions(&app, "worker_pool:embedded").await;
        assert_eq!(
            audit
                .iter()
                .filter(|a| *a == "worker_pool.token_revoked")
                .count(),
            1,
            "{b}: {audit:?}"
        );
        for path in [
            format!("/api/v1/worker-pools/embedded/tokens/{}", "f".repeat(16)),
            format!("/api/v1/worker-pools/other/tokens/{id2}"),
            "/api/v1/worker-pools/embedded/tokens/12".to_string(),
        ] {
            let r = app.req("DELETE", &path, Some(&app.admin), None).await;
            assert_eq!(r.status, 404, "{b}: {path}: {:?}", r.body);
        }
        // The pool's other token goes on; once the run is over, its bundle
        // is no longer readable.
        assert_eq!(get_bundle(&app, &tok2, &bundle).await, 200, "{b}");
        let w2 = W {
            app: &app,
            token: tok2.clone(),
        };
        w2.walk(&claim, &["preparing", "failed"]).await;
        assert_eq!(
            get_bundle(&app, &tok2, &bundle).await,
            404,
            "{b}: the run is over"
        );
        app.running.shutdown().await.unwrap();
    }
}

async fn r_revoked_at(app: &App, id: &str) -> Value {
    let r = app
        .req(
            "GET",
            "/api/v1/worker-pools/embedded/tokens",
            Some(&app.admin),
            None,
        )
        .await;
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id)
        .unwrap()["revoked_at"]
        .clone()
}
