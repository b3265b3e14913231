//! State history over real HTTP against real databases (SQLite, and
//! PostgreSQL when installed), with states made by the real Terraform 1.11:
//! push, content addressing, the lineage and serial checks, masked reads,
//! resource- and attribute-level diffs, and rollback as a change request
//! judged and governed like any other. The committed fixtures
//! (tests/fixtures/terraform/generated/state-history, see its PROVENANCE.md)
//! are always used; states made by `terraform` now are used too when it is
//! installed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::{backends, spawn, App};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn scenario_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/terraform/generated/state-history")
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(scenario_dir().join(name)).unwrap()
}

/// The two states of the state-history scenario made by Terraform now (raw
/// v4 text of version 1 and version 2), or `None` when it is not installed.
fn terraform_states() -> Option<(String, String)> {
    let tf = std::env::var("TERRAFORM").unwrap_or_else(|_| "terraform".into());
    let found = std::process::Command::new(&tf)
        .arg("version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !found {
        eprintln!("SKIPPED: terraform not found ({tf}); the committed state-history fixtures are tested instead");
        return None;
    }
    let work = tempfile::tempdir().unwrap();
    let rc = work.path().join("terraformrc");
    std::fs::write(&rc, "").unwrap();
    let run = |args: &[&str]| {
        let o = std::process::Command::new(&tf)
            .args(args)
            .current_dir(work.path())
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_CLI_CONFIG_FILE", &rc)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "terraform {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    let use_config = |from: &Path| {
        let _ = std::fs::remove_file(work.path().join("main.tf"));
        let _ = std::fs::remove_dir_all(work.path().join("modules"));
        std::fs::copy(from.join("main.tf"), work.path().join("main.tf")).unwrap();
        let m = work.path().join("modules/zone");
        std::fs::create_dir_all(&m).unwrap();
        std::fs::copy(from.join("modules/zone/main.tf"), m.join("main.tf")).unwrap();
    };
    use_config(&scenario_dir().join("setup"));
    run(&["init", "-input=false", "-no-color"]);
    run(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    let v1 = std::fs::read_to_string(work.path().join("terraform.tfstate")).unwrap();
    use_config(&scenario_dir());
    run(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    let v2 = std::fs::read_to_string(work.path().join("terraform.tfstate")).unwrap();
    Some((v1, v2))
}

fn push_body(state: &str, commit: Option<&str>, force: bool) -> Vec<u8> {
    // The state is embedded verbatim (its exact bytes are what is hashed).
    let mut b = String::from("{\"state\":");
    b.push_str(state);
    if let Some(c) = commit {
        b.push_str(&format!(",\"commit\":{}", json!(c)));
    }
    if force {
        b.push_str(",\"force\":true");
    }
    b.push('}');
    b.into_bytes()
}

async fn push(
    app: &App,
    token: &str,
    stack: &str,
    state: &str,
    commit: Option<&str>,
    force: bool,
) -> common::Resp {
    app.raw(
        "POST",
        &format!("/api/v1/stacks/{stack}/states"),
        Some(token),
        Some(push_body(state, commit, force)),
        &[],
    )
    .await
}

/// The content address of a state file: the SHA-256 of its JSON text
/// (the whitespace around the document is not part of it).
fn sha256_hex(s: &str) -> String {
    arbiter_api::signing::sha256_hex(s.trim().as_bytes())
}

/// Every string of the answer, to search for leaked secrets.
fn assert_no_canary(what: &str, v: &Value) {
    let text = v.to_string();
    assert!(
        !text.contains("CANARY"),
        "{what} shows a sensitive value: {text}"
    );
}

fn by_address(diff: &Value) -> BTreeMap<String, Value> {
    diff["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["address"].as_str().unwrap().to_string(), r.clone()))
        .collect()
}

fn attr<'a>(r: &'a Value, path: &str) -> &'a Value {
    r["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["path"] == path)
        .unwrap_or_else(|| panic!("no attribute {path} in {r}"))
}

/// The whole story on one backend: push v1, push it again, push v2, list,
/// show (masked), diff, roll back to v1, content addressing.
async fn history(app: &App, v1: &str, v2: &str, label: &str) {
    app.stack("web", "dev", json!({"labels": ["team:web"]}))
        .await;
    let rita = app.user("rita", "reviewer").await;
    let vic = app.user("vic", "viewer").await;

    // Version 1.
    let r = push(app, &rita, "web", v1, Some("c0ffee1"), false).await;
    assert_eq!(r.status, 201, "{label}: {:?}", r.body);
    assert_eq!(r.body["version"], 1);
    assert_eq!(r.body["digest"], sha256_hex(v1), "{label}: content address");
    assert_eq!(r.body["size_bytes"], v1.trim().len());
    assert!(
        r.body["stored_bytes"].as_i64().unwrap() < v1.len() as i64 / 2,
        "compressed"
    );
    assert_eq!(r.body["form"], "raw_v4");
    assert_eq!(r.body["resource_count"], 11);
    assert_eq!(r.body["commit"], "c0ffee1");
    assert_eq!(r.body["pushed_by"], "user:rita");
    assert_eq!(r.body["terraform_version"], "1.11.4");
    let lineage = r.body["lineage"].as_str().unwrap().to_string();
    assert_eq!(
        r.headers["location"].to_str().unwrap(),
        "/api/v1/stacks/web/states/1"
    );
    // The same content again is no new version.
    let r = push(app, &rita, "web", v1, Some("c0ffee1"), false).await;
    assert_eq!(
        (r.status, r.body["version"].as_i64()),
        (200, Some(1)),
        "{label}"
    );
    // Version 2, after `terraform apply` of the changed configuration.
    let r = push(app, &app.admin, "web", v2, Some("c0ffee2"), false).await;
    assert_eq!(r.status, 201, "{label}: {:?}", r.body);
    assert_eq!(
        (
            r.body["version"].as_i64(),
            r.body["resource_count"].as_i64()
        ),
        (Some(2), Some(14))
    );
    assert_eq!(r.body["lineage"], lineage.as_str());
    assert!(r.body["serial"].as_i64() > Some(0));

    // People of every role may read.
    let r = app
        .req("GET", "/api/v1/stacks/web/states", Some(&vic), None)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let versions: Vec<i64> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, [2, 1]);

    // One version, masked.
    let r = app
        .req("GET", "/api/v1/stacks/web/states/2", Some(&vic), None)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_no_canary("GET states/2", &r.body);
    assert_eq!(r.body["version"], 2);
    assert_eq!(r.body["commit"], "c0ffee2");
    let res: BTreeMap<&str, &Value> = r.body["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["address"].as_str().unwrap(), r))
        .collect();
    assert_eq!(res.len(), 14);
    assert_eq!(
        res["terraform_data.credentials"]["values"]["input"],
        "(sensitive)"
    );
    // Unmarked, but the marked value copied: masked as well.
    assert_eq!(
        res["terraform_data.credentials"]["values"]["output"],
        "(sensitive)"
    );
    assert_eq!(
        res[r#"module.zone["a"].terraform_data.key"#]["values"]["input"]["key"],
        "(sensitive)"
    );
    assert_eq!(
        res[r#"module.zone["a"].terraform_data.key"#]["values"]["input"]["zone"],
        "a"
    );
    assert_eq!(
        res["terraform_data.app"]["values"]["input"]["image"],
        "app:2.0"
    );
    assert_eq!(res["terraform_data.worker[2]"]["index"], 2);
    assert_eq!(
        r.body["outputs"]["api_token"],
        json!({"value": "(sensitive)", "sensitive": true})
    );
    assert_eq!(r.body["outputs"]["app_image"]["value"], "app:2.0");

    // The diff, resource- and attribute-level.
    let r = app
        .req(
            "GET",
            "/api/v1/stacks/web/states/diff?from=1&to=2",
            Some(&vic),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_no_canary("the diff", &r.body);
    assert_eq!(
        r.body["summary"],
        json!({"added": 4, "removed": 1, "changed": 5, "unchanged": 5}),
        "{label}"
    );
    assert_eq!(
        (
            r.body["from"]["version"].as_i64(),
            r.body["to"]["version"].as_i64()
        ),
        (Some(1), Some(2))
    );
    let d = by_address(&r.body);
    let kinds: BTreeMap<&str, &str> = d
        .iter()
        .map(|(a, r)| (a.as_str(), r["change"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            (r#"module.zone["a"].terraform_data.key"#, "changed"),
            (r#"module.zone["b"].terraform_data.key"#, "changed"),
            (r#"module.zone["c"].terraform_data.key"#, "added"),
            (r#"module.zone["c"].terraform_data.subnet"#, "added"),
            ("terraform_data.app", "changed"),
            ("terraform_data.cache", "added"),
            ("terraform_data.credentials", "changed"),
            ("terraform_data.legacy", "removed"),
            ("terraform_data.rotated", "changed"),
            ("terraform_data.worker[2]", "added"),
        ]
        .into_iter()
        .collect()
    );
    let app_r = &d["terraform_data.app"];
    assert_eq!(attr(app_r, "input.image")["before"], "app:1.0");
    assert_eq!(attr(app_r, "input.image")["after"], "app:2.0");
    assert_eq!(attr(app_r, "input.replicas")["after"], 3);
    assert_eq!(app_r["replaced"], false);
    assert_eq!(d["terraform_data.rotated"]["replaced"], true);
    let cred = &d["terraform_data.credentials"];
    assert_eq!(
        attr(cred, "input"),
        &json!({"path": "input", "before": "(sensitive)", "after": "(sensitive)"})
    );
    assert_eq!(
        attr(&d[r#"module.zone["a"].terraform_data.key"#], "input.key")["after"],
        "(sensitive)"
    );
    // An added instance lists its attributes with no before side.
    let cache_engine = attr(&d["terraform_data.cache"], "input.engine");
    assert_eq!(
        cache_engine,
        &json!({"path": "input.engine", "after": "redis"})
    );
    let outs: BTreeMap<&str, &Value> = r.body["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["name"].as_str().unwrap(), o))
        .collect();
    assert_eq!(outs["api_token"]["after"], "(sensitive)");
    assert_eq!(outs["app_image"]["before"], "app:1.0");
    // Without versions: the latest against the one before.
    let r2 = app
        .req("GET", "/api/v1/stacks/web/states/diff", Some(&vic), None)
        .await;
    assert_eq!(r2.body, r.body);
    // Backwards is the mirror image.
    let r3 = app
        .req(
            "GET",
            "/api/v1/stacks/web/states/diff?from=2&to=1",
            Some(&vic),
            None,
        )
        .await;
    assert_eq!(
        r3.body["summary"],
        json!({"added": 1, "removed": 4, "changed": 5, "unchanged": 5})
    );

    // Viewers may not roll back.
    let r = app
        .req(
            "POST",
            "/api/v1/stacks/web/rollback",
            Some(&vic),
            Some(&json!({"to": 1})),
        )
        .await;
    assert_eq!(r.status, 403, "{:?}", r.body);
    // Roll back to version 1: a change request, judged like any other.
    let r = app
        .req(
            "POST",
            "/api/v1/stacks/web/rollback",
            Some(&rita),
            Some(&json!({"to": 1, "intent": "v2 broke the cache"})),
        )
        .await;
    assert_eq!(r.status, 201, "{label}: {:?}", r.body);
    assert_no_canary("the rollback answer", &r.body);
    let cr = &r.body["change_request"];
    let id = cr["id"].as_i64().unwrap();
    assert_eq!(cr["stack"], "web");
    assert_eq!(cr["submitter"], "user:rita");
    assert_eq!(cr["source"]["commit"], "c0ffee1", "the target's commit");
    let intent = cr["intent"].as_str().unwrap();
    assert!(intent.starts_with("Roll back stack web from state version 2 to version 1 (commit c0ffee1): 1 to create, 4 to update, 1 to replace, 4 to delete"), "{intent}");
    assert!(intent.ends_with("v2 broke the cache"));
    assert!(cr["verdict"]["decision"].is_string(), "judged: {cr}");
    assert_eq!(cr["decision"], cr["verdict"]["decision"]);
    assert_eq!(cr["resources_changed"], 10);
    let rb = &r.body["rollback"];
    assert_eq!(
        (
            rb["from_version"].as_i64(),
            rb["to_version"].as_i64(),
            rb["change_request"].as_i64()
        ),
        (Some(2), Some(1), Some(id))
    );
    assert_eq!(rb["commit"], "c0ffee1");
    let actions: BTreeMap<&str, &str> = rb["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["address"].as_str().unwrap(),
                x["action"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            (r#"module.zone["a"].terraform_data.key"#, "update"),
            (r#"module.zone["b"].terraform_data.key"#, "update"),
            (r#"module.zone["c"].terraform_data.key"#, "delete"),
            (r#"module.zone["c"].terraform_data.subnet"#, "delete"),
            ("terraform_data.app", "update"),
            ("terraform_data.cache", "delete"),
            ("terraform_data.credentials", "update"),
            ("terraform_data.legacy", "create"),
            ("terraform_data.rotated", "replace"),
            ("terraform_data.worker[2]", "delete"),
        ]
        .into_iter()
        .collect()
    );
    // The verdict saw the same plan: its summary counts those actions.
    let summary = &cr["verdict"]["summary"];
    assert_eq!(
        (
            summary["create"].as_i64(),
            summary["update"].as_i64(),
            summary["delete"].as_i64(),
            summary["replace"].as_i64()
        ),
        (Some(1), Some(4), Some(4), Some(1)),
        "{summary}"
    );
    // The stored plan: before = the latest state's values, after = version 1's.
    let plan = arbiter_store::changes::plan(
        app.running.state.store.pool(),
        app.running.state.store.sealer(),
        id,
    )
    .await
    .unwrap()
    .unwrap();
    let plan = arbiter_plan::read_plan(plan.as_bytes()).unwrap();
    assert_eq!(
        plan.format_version.map(|f| f.to_string()).as_deref(),
        Some("1.2")
    );
    let rc: BTreeMap<&str, &arbiter_plan::ResourceChange> = plan
        .resource_changes
        .iter()
        .map(|r| (r.address.as_str(), r))
        .collect();
    let app_change = &rc["terraform_data.app"].change;
    assert_eq!(
        app_change.before.as_ref().unwrap().value_or_null()["input"]["image"],
        "app:2.0"
    );
    assert_eq!(
        app_change.after.as_ref().unwrap().value_or_null()["input"]["image"],
        "app:1.0"
    );
    assert_eq!(
        rc["terraform_data.legacy"].action,
        arbiter_plan::Action::Create
    );
    assert_eq!(rc["terraform_data.keep"].action, arbiter_plan::Action::NoOp);
    assert_eq!(
        rc["terraform_data.credentials"]
            .change
            .after_sensitive
            .as_ref()
            .unwrap()
            .value_or_null(),
        &json!({"input": true})
    );
    // The rollback's audit trail: the change request's own entries, and
    // the stack's state.pushed and state.rollback_requested.
    let r = app
        .req(
            "GET",
            &format!("/api/v1/audit/subjects/change_request:{id}"),
            Some(&app.admin),
            None,
        )
        .await;
    let actions: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|i| i["entry"]["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        &actions[..2],
        ["change_request.submitted", "change_request.evaluated"]
    );
    let r = app
        .req(
            "GET",
            "/api/v1/audit/subjects/stack:web",
            Some(&app.admin),
            None,
        )
        .await;
    let entries: Vec<(&str, &Value)> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|i| (i["entry"]["action"].as_str().unwrap(), &i["payload"]))
        .collect();
    let kinds: Vec<&str> = entries.iter().map(|(a, _)| *a).collect();
    assert_eq!(
        kinds,
        [
            "stack.created",
            "state.pushed",
            "state.pushed",
            "state.rollback_requested"
        ],
        "{label}"
    );
    assert_no_canary("the stack's audit entries", &r.body);

    // Content addressing: version 1's content pushed again (forced: its
    // serial is older) is version 3, sharing version 1's blob.
    let store = &app.running.state.store;
    assert_eq!(
        arbiter_store::states::blob_count(store.pool())
            .await
            .unwrap(),
        2
    );
    let r = push(app, &rita, "web", v1, None, false).await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (409, Some("stale_serial")),
        "{:?}",
        r.body
    );
    let r = push(app, &rita, "web", v1, None, true).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(
        (r.body["version"].as_i64(), r.body["forced"].as_bool()),
        (Some(3), Some(true))
    );
    assert_eq!(r.body["digest"], sha256_hex(v1));
    assert_eq!(
        arbiter_store::states::blob_count(store.pool())
            .await
            .unwrap(),
        2,
        "one blob per content"
    );
    // Rolling back to what is already there is refused.
    let r = app
        .req(
            "POST",
            "/api/v1/stacks/web/rollback",
            Some(&rita),
            Some(&json!({"to": 1})),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (409, Some("nothing_to_roll_back")),
        "{:?}",
        r.body
    );
    let r = app
        .req(
            "POST",
            "/api/v1/stacks/web/rollback",
            Some(&rita),
            Some(&json!({"to": 3})),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (409, Some("nothing_to_roll_back"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_history_with_the_committed_terraform_states() {
    let (v1, v2) = (fixture("state-v1.tfstate"), fixture("state-v2.tfstate"));
    for backend in backends().await {
        let app = spawn(backend, |_| {}).await;
        history(&app, &v1, &v2, backend).await;
        app.running.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_history_with_states_terraform_makes_now() {
    let Some((v1, v2)) = tokio::task::spawn_blocking(terraform_states).await.unwrap() else {
        return;
    };
    for backend in backends().await {
        let app = spawn(backend, |_| {}).await;
        history(&app, &v1, &v2, backend).await;
        app.running.shutdown().await.unwrap();
    }
}

/// `terraform show -json` states are accepted too; they carry no lineage or
/// serial, so those checks cannot apply, and diff like the raw form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_json_states_are_accepted_and_diff_like_raw_ones() {
    for backend in backends().await {
        let app = spawn(backend, |_| {}).await;
        app.stack("web", "dev", json!({})).await;
        let r = push(
            &app,
            &app.admin,
            "web",
            &fixture("state-v1.show.json"),
            None,
            false,
        )
        .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        assert_eq!(
            (
                r.body["form"].as_str(),
                r.body["lineage"].as_str(),
                r.body["serial"].as_i64()
            ),
            (Some("show_json"), None, None)
        );
        let r = push(
            &app,
            &app.admin,
            "web",
            &fixture("state-v2.show.json"),
            None,
            false,
        )
        .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let r = app
            .req(
                "GET",
                "/api/v1/stacks/web/states/diff",
                Some(&app.admin),
                None,
            )
            .await;
        assert_no_canary("the show-json diff", &r.body);
        assert_eq!(
            r.body["summary"],
            json!({"added": 4, "removed": 1, "changed": 5, "unchanged": 5}),
            "{backend}"
        );
        // A raw state after a show-json one: nothing to compare the lineage with.
        let r = push(
            &app,
            &app.admin,
            "web",
            &fixture("state-v2.tfstate"),
            None,
            false,
        )
        .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let r = app
            .req(
                "GET",
                "/api/v1/stacks/web/states/diff?from=2&to=3",
                Some(&app.admin),
                None,
            )
            .await;
        assert_eq!(
            r.body["summary"],
            json!({"added": 0, "removed": 0, "changed": 0, "unchanged": 14}),
            "{backend}: same state in both forms"
        );
        app.running.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_states_and_requests_are_refused_with_clear_errors() {
    let v1 = fixture("state-v1.tfstate");
    for backend in backends().await {
        let app = spawn(backend, |c| c.max_body_bytes = 256 * 1024).await;
        app.stack("web", "dev", json!({})).await;
        let t = app.admin.clone();
        let code = |r: &common::Resp| {
            (
                r.status,
                r.body["error"]["code"].as_str().unwrap_or("").to_string(),
                r.body["error"]["message"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
        };
        let send = |body: Vec<u8>| {
            app.raw(
                "POST",
                "/api/v1/stacks/web/states",
                Some(&t),
                Some(body),
                &[],
            )
        };

        // Not JSON at all, truncated, an unknown field.
        let (s, c, m) = code(&send(b"{\"state\": {\"version\": 4,".to_vec()).await);
        assert_eq!((s, c.as_str()), (400, "invalid_json"), "{m}");
        assert!(m.contains("line 1"), "{m}");
        let (s, c, m) = code(&send(br#"{"state": {}, "comit": "x"}"#.to_vec()).await);
        assert_eq!((s, c.as_str()), (400, "invalid_json"));
        assert!(m.contains("unknown field `comit`"), "{m}");
        // Valid JSON that is not a state.
        for (body, want) in [
            (r#"{"state": {"hello": "world"}}"#, "not a Terraform state"),
            (r#"{"state": [1, 2]}"#, "found an array"),
            (r#"{"state": "terraform.tfstate"}"#, "found a single value"),
            (
                r#"{"state": {"format_version": "1.2", "resource_changes": []}}"#,
                "this is a plan, not a state",
            ),
            (
                r#"{"state": {"version": 3, "resources": []}}"#,
                "unsupported",
            ),
            (
                r#"{"state": {"version": 4, "resources": [{"type": "a", "name": "b", "mode": "weird", "instances": []}]}}"#,
                "unknown mode",
            ),
            (
                r#"{"state": {"version": 4, "resources": [{"type": "a", "name": "b", "instances": [{}]}, {"type": "a", "name": "b", "instances": [{}]}]}}"#,
                "a.b appears twice",
            ),
            (
                r#"{"state": {"version": 4, "serial": 18446744073709551615, "lineage": "x", "resources": []}}"#,
                "serial 18446744073709551615 is out of range",
            ),
        ] {
            let (s, c, m) = code(&send(body.as_bytes().to_vec()).await);
            assert_eq!((s, c.as_str()), (422, "invalid_state"), "{body}: {m}");
            assert!(m.contains(want), "{body}: {m}");
        }
        // Nested deeper than any state: refused, not a crash.
        let deep = format!(
            "{{\"state\": {{\"version\": 4, \"resources\": [], \"x\": {}{}}}}}",
            "[".repeat(200),
            "]".repeat(200)
        );
        let (s, _, m) = code(&send(deep.into_bytes()).await);
        assert!(matches!(s, 400 | 422), "{s} {m}");
        assert!(
            m.contains("deep") || m.contains("recursion") || m.contains("nest"),
            "{m}"
        );
        // Over the server's body limit.
        let huge = format!(
            "{{\"state\": {{\"version\": 4, \"resources\": [], \"pad\": \"{}\"}}}}",
            "x".repeat(300 * 1024)
        );
        let (s, c, _) = code(&send(huge.into_bytes()).await);
        assert_eq!((s, c.as_str()), (413, "payload_too_large"));
        // A bad commit.
        let (s, _, m) = code(&push(&app, &t, "web", &v1, Some("two words"), false).await);
        assert_eq!(s, 422, "{m}");
        assert!(m.contains("commit"), "{m}");
        // Nothing of the above was stored.
        let r = app
            .req("GET", "/api/v1/stacks/web/states", Some(&t), None)
            .await;
        assert_eq!(r.body["items"], json!([]), "{backend}");
        assert_eq!(
            arbiter_store::states::blob_count(app.running.state.store.pool())
                .await
                .unwrap(),
            0
        );

        // Another workspace's state: refused unless forced.
        assert_eq!(push(&app, &t, "web", &v1, None, false).await.status, 201);
        let other = v1.replacen(
            &format!(
                "\"lineage\": \"{}\"",
                arbiter_plan::read_state(v1.as_bytes())
                    .unwrap()
                    .lineage
                    .unwrap()
            ),
            "\"lineage\": \"00000000-0000-0000-0000-000000000000\"",
            1,
        );
        assert_ne!(other, v1);
        let (s, c, m) = code(&push(&app, &t, "web", &other, None, false).await);
        assert_eq!((s, c.as_str()), (409, "lineage_mismatch"), "{m}");
        assert!(
            m.contains("00000000-0000-0000-0000-000000000000") && m.contains("another workspace"),
            "{m}"
        );
        let r = push(&app, &t, "web", &other, None, true).await;
        assert_eq!(
            (r.status, r.body["forced"].as_bool()),
            (201, Some(true)),
            "{:?}",
            r.body
        );
        // Rolling back across lineages needs force too.
        let (s, c, _) = code(
            &app.req(
                "POST",
                "/api/v1/stacks/web/rollback",
                Some(&t),
                Some(&json!({"to": 1})),
            )
            .await,
        );
        assert_eq!((s, c.as_str()), (409, "lineage_mismatch"));

        // Unknown stacks, versions, and malformed version numbers.
        let (s, _, _) = code(&push(&app, &t, "nope", &v1, None, false).await);
        assert_eq!(s, 404);
        for (path, want) in [
            ("/api/v1/stacks/web/states/99", 404),
            ("/api/v1/stacks/web/states/abc", 400),
            ("/api/v1/stacks/web/states/0", 400),
            ("/api/v1/stacks/web/states/diff?from=1&to=99", 404),
            ("/api/v1/stacks/nope/states", 404),
            ("/api/v1/stacks/nope/states/diff", 404),
        ] {
            let r = app.req("GET", path, Some(&t), None).await;
            assert_eq!(r.status, want, "{path}: {:?}", r.body);
        }
        let other_stack = app
            .req(
                "POST",
                "/api/v1/stacks",
                Some(&t),
                Some(&json!({"name": "empty", "environment": "dev"})),
            )
            .await;
        assert_eq!(other_stack.status, 201);
        let r = app
            .req("GET", "/api/v1/stacks/empty/states/diff", Some(&t), None)
            .await;
        assert_eq!(r.status, 404);
        assert!(r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no state history"));
        for body in [
            json!({"to": 99}),
            json!({"to": 1, "extra": true}),
            json!({}),
        ] {
            let r = app
                .req("POST", "/api/v1/stacks/web/rollback", Some(&t), Some(&body))
                .await;
            assert!(matches!(r.status, 400 | 404), "{body}: {:?}", r.body);
        }
        app.running.shutdown().await.unwrap();
    }
}

/// Agents whose scope covers the stack may push and roll back (signed
/// requests); others are refused. A rollback by an agent is held to its
/// scope like any submission: deletes it may not make reject it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_push_and_roll_back_within_their_scope() {
    let (v1, v2) = (fixture("state-v1.tfstate"), fixture("state-v2.tfstate"));
    for backend in backends().await {
        let app = spawn(backend, |_| {}).await;
        app.stack("web", "dev", json!({})).await;
        app.stack("payments", "prod", json!({})).await;
        let limits = json!({"submissions_per_minute": 1000, "blast_radius_per_hour": 100000});
        let bot = app
            .agent("bot", 21, json!({"stacks": ["web"]}), limits.clone())
            .await;
        let careful = app
            .agent(
                "careful",
                22,
                json!({"stacks": ["web"], "actions": ["create", "update"]}),
                limits,
            )
            .await;
        let r = app
            .signed(
                &bot,
                "POST",
                "/api/v1/stacks/web/states",
                &push_body(&v1, Some("a1"), false),
                &[],
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        assert_eq!(r.body["pushed_by"], "agent:bot");
        let r = app
            .signed(
                &bot,
                "POST",
                "/api/v1/stacks/web/states",
                &push_body(&v2, Some("a2"), false),
                &[],
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        // Outside its scope: refused, and not even listed.
        let r = app
            .signed(
                &bot,
                "POST",
                "/api/v1/stacks/payments/states",
                &push_body(&v1, None, false),
                &[],
            )
            .await;
        assert_eq!(r.status, 404, "{:?}", r.body);
        let r = app
            .signed(&bot, "GET", "/api/v1/stacks/payments/states", b"", &[])
            .await;
        assert_eq!(r.status, 404);
        let r = app
            .signed(&bot, "GET", "/api/v1/stacks/web/states/diff", b"", &[])
            .await;
        assert_eq!(r.status, 200);
        assert_no_canary("an agent's diff", &r.body);

        // The careful agent may not delete: its rollback (which deletes what
        // version 2 added) is recorded and rejected by its scope.
        let r = app
            .signed(
                &careful,
                "POST",
                "/api/v1/stacks/web/rollback",
                br#"{"to": 1}"#,
                &[],
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let cr = &r.body["change_request"];
        assert_eq!(cr["status"], "rejected", "{cr}");
        assert!(
            cr["reason"]
                .as_str()
                .unwrap()
                .contains("actions outside the agent's scope"),
            "{cr}"
        );
        assert_eq!(r.body["rollback"]["to_version"], 1);
        // The bot's rollback is judged; its idempotency key makes a retry safe.
        let key = [("idempotency-key", "rollback-1".to_string())];
        let r = app
            .signed(
                &bot,
                "POST",
                "/api/v1/stacks/web/rollback",
                br#"{"to": 1}"#,
                &key,
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let id = r.body["change_request"]["id"].as_i64().unwrap();
        assert_ne!(r.body["change_request"]["status"], "rejected", "{}", r.body);
        assert_eq!(r.body["change_request"]["submitter"], "agent:bot");
        let again = app
            .signed(
                &bot,
                "POST",
                "/api/v1/stacks/web/rollback",
                br#"{"to": 1}"#,
                &key,
            )
            .await;
        assert_eq!(again.status, 200, "{:?}", again.body);
        assert_eq!(again.body["change_request"]["id"].as_i64(), Some(id));
        assert_eq!(again.body["rollback"], r.body["rollback"]);
        // The bot may not approve its own rollback; a reviewer may.
        let r = app
            .signed(
                &bot,
                "POST",
                &format!("/api/v1/change-requests/{id}/approve"),
                b"",
                &[],
            )
            .await;
        assert_eq!(r.status, 403);
        app.running.shutdown().await.unwrap();
    }
}

/// A raw state of `n` instances; `v2` changes one in ten, removes one in
/// fifty and adds as many.
fn big_state(n: usize, v2: bool) -> String {
    let mut instances = Vec::new();
    for i in 0..n {
        if v2 && i % 50 == 7 {
            continue;
        }
        let g = if v2 && i % 10 == 1 { 2 } else { 1 };
        instances.push(format!(
            r#"{{"index_key":{i},"schema_version":0,"attributes":{{"id":"id-{i}","input":{{"value":{{"name":"n{i}","gen":{g},"secret":"s3cret-value-{i}"}},"type":"dynamic"}},"output":null,"triggers_replace":null}},"sensitive_attributes":[[{{"type":"get_attr","value":"input"}},{{"type":"get_attr","value":"secret"}}]]}}"#
        ));
    }
    let extra = if v2 {
        let added: Vec<String> = (0..n / 50)
            .map(|i| format!(r#"{{"index_key":{i},"schema_version":0,"attributes":{{"id":"new-{i}","input":null,"output":null,"triggers_replace":null}}}}"#))
            .collect();
        format!(
            r#",{{"mode":"managed","type":"terraform_data","name":"added","provider":"provider[\"terraform.io/builtin/terraform\"]","instances":[{}]}}"#,
            added.join(",")
        )
    } else {
        String::new()
    };
    format!(
        r#"{{"version":4,"terraform_version":"1.11.4","serial":{},"lineage":"big","outputs":{{}},"resources":[{{"mode":"managed","type":"terraform_data","name":"node","provider":"provider[\"terraform.io/builtin/terraform\"]","instances":[{}]}}{extra}]}}"#,
        if v2 { 2 } else { 1 },
        instances.join(",")
    )
}

/// Thousands of instances: stored, diffed and rolled back within a request,
/// secrets masked throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_states_are_stored_diffed_and_rolled_back() {
    let n = 2_000;
    let (v1, v2) = (big_state(n, false), big_state(n, true));
    for backend in backends().await {
        let app = spawn(backend, |_| {}).await;
        app.stack("big", "dev", json!({})).await;
        let t = std::time::Instant::now();
        for s in [&v1, &v2] {
            let r = push(&app, &app.admin, "big", s, None, false).await;
            assert_eq!(r.status, 201, "{:?}", r.body);
        }
        let pushed = t.elapsed();
        let t = std::time::Instant::now();
        let r = app
            .req(
                "GET",
                "/api/v1/stacks/big/states/diff",
                Some(&app.admin),
                None,
            )
            .await;
        let diffed = t.elapsed();
        assert_eq!(r.status, 200);
        assert_eq!(
            r.body["summary"],
            json!({"added": 40, "removed": 40, "changed": 200, "unchanged": 1760}),
            "{backend}"
        );
        assert!(
            !r.body.to_string().contains("s3cret"),
            "a secret in the diff"
        );
        let t = std::time::Instant::now();
        let r = app
            .req(
                "POST",
                "/api/v1/stacks/big/rollback",
                Some(&app.admin),
                Some(&json!({"to": 1})),
            )
            .await;
        let rolled = t.elapsed();
        assert_eq!(r.status, 201, "{:?}", r.body);
        assert_eq!(
            r.body["rollback"]["resources"].as_array().unwrap().len(),
            280
        );
        assert_eq!(r.body["change_request"]["resources_changed"], 280);
        assert!(
            !r.body.to_string().contains("s3cret"),
            "a secret in the rollback"
        );
        eprintln!(
            "{backend}: {n} instances ({} KB): two pushes {pushed:?}, diff {diffed:?}, rollback {rolled:?} (debug build)",
            v1.len() / 1000
        );
        app.running.shutdown().await.unwrap();
    }
}
