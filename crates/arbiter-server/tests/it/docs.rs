//! Documents generated from the types, committed in the repository and
//! checked here: the table of API error codes (`docs/errors.md`, from
//! `arbiter_api::ErrorCode`), the codes the OpenAPI document lists, and the
//! verdict's JSON Schema (`docs/schemas/verdict.json`, from
//! `arbiter_verdict`), also served at `GET /api/v1/schemas/verdict.json`.
//! Regenerate with `UPDATE_GOLDEN=1 cargo test -p arbiter-server --test it -- docs::`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use arbiter_api::ErrorCode;
use arbiter_testkit::golden::Golden;
use arbiter_verdict::schema::{verdict_schema, verdict_schema_json, PATH};
use serde_json::{json, Value};

fn docs() -> Golden {
    Golden::new(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs"),
        "cargo test -p arbiter-server --test it -- docs::",
    )
}

fn openapi() -> Value {
    serde_json::from_str(arbiter_server::openapi::DOCUMENT).unwrap()
}

#[test]
fn the_error_table_in_docs_is_generated_from_the_codes() {
    docs()
        .check("errors.md", &ErrorCode::markdown())
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn the_openapi_document_lists_exactly_the_error_codes_of_the_table() {
    let doc = openapi();
    let listed: Vec<&str> = doc["components"]["schemas"]["Error"]["properties"]["error"]
        ["properties"]["code"]["enum"]
        .as_array()
        .expect("the Error schema's code has an enum")
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let table: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(listed, table);
}

#[test]
fn the_openapi_document_lists_exactly_the_scope_actions() {
    let doc = openapi();
    let listed: Vec<&str> = doc["components"]["schemas"]["AgentScope"]["properties"]["actions"]
        ["items"]["enum"]
        .as_array()
        .expect("AgentScope.actions' items have an enum")
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let actions: Vec<&str> = arbiter_api::ScopeAction::ALL
        .iter()
        .map(|a| a.as_str())
        .collect();
    assert_eq!(listed, actions);
}

#[test]
fn the_committed_verdict_schema_is_generated_from_the_types() {
    docs()
        .check("schemas/verdict.json", &verdict_schema_json())
        .unwrap_or_else(|e| panic!("{e}"));
}

fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.push(r);
            }
            m.values().for_each(|x| refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[test]
fn every_reference_of_the_openapi_document_resolves_and_verdicts_use_the_schema() {
    let doc = openapi();
    let mut all = Vec::new();
    refs(&doc, &mut all);
    let served: Vec<&str> = arbiter_server::routes::ROUTES
        .iter()
        .filter(|(m, _)| *m == "GET")
        .map(|(_, p)| *p)
        .collect();
    for r in &all {
        match r.strip_prefix("#/components/schemas/") {
            Some(name) => assert!(
                doc["components"]["schemas"].get(name).is_some(),
                "{r} names no schema"
            ),
            None => assert!(served.contains(r), "{r} is neither local nor served"),
        }
    }
    let schemas = &doc["components"]["schemas"];
    for holder in ["ChangeRequest", "DryRun"] {
        assert_eq!(
            schemas[holder]["properties"]["verdict"]["$ref"], PATH,
            "{holder}"
        );
    }
    assert!(doc["paths"][PATH]["get"]["security"]
        .as_array()
        .is_some_and(|s| s.is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schema_is_served_publicly_and_real_verdicts_follow_it() {
    let app = common::spawn("sqlite", |_| {}).await;
    let r = app.req("GET", PATH, None, None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.headers["content-type"].to_str().unwrap(),
        "application/schema+json"
    );
    assert_eq!(r.body, verdict_schema());
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&r.body)
        .unwrap();
    app.stack("web", "prod", json!({})).await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/scenarios");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let n = e.unwrap().file_name().into_string().unwrap();
            n.strip_suffix(".plan.json").map(String::from)
        })
        .collect();
    names.sort();
    assert!(names.len() >= 10, "{names:?}");
    let mut decisions = std::collections::BTreeSet::new();
    for name in &names {
        let body = common::submission("web", name);
        let r = app
            .raw(
                "POST",
                "/api/v1/evaluate",
                Some(&app.admin),
                Some(body),
                &[],
            )
            .await;
        assert_eq!(r.status, 200, "{name}: {:?}", r.body);
        let errors: Vec<String> = validator
            .iter_errors(&r.body["verdict"])
            .map(|e| format!("{}: {e}", e.instance_path))
            .collect();
        assert!(errors.is_empty(), "{name}: {}", errors.join("\n"));
        decisions.insert(r.body["verdict"]["decision"].as_str().unwrap().to_string());
    }
    // The scenarios reach every decision, so every branch of the schema's
    // decision is exercised by a real verdict.
    assert_eq!(decisions.len(), 3, "{decisions:?}");
}
