#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Nothing a plan or usage file holds makes the engine panic or print a
//! non-finite figure: every model gets values of every wrong shape.

use arbiter_cost::{model::models, CostEngine, Usage};
use serde_json::{json, Value};

fn hostile_values() -> Vec<Value> {
    vec![
        json!(null),
        json!({}),
        json!([]),
        json!("a string"),
        json!(1e308),
        json!(-1),
        json!(true),
        json!([[[[]]]]),
    ]
}

/// An object whose every attribute a model could read is set to `v`.
fn object_with_all_keys(v: &Value) -> Value {
    let mut m = serde_json::Map::new();
    for model in models() {
        for k in model.keys {
            m.insert((*k).to_string(), v.clone());
        }
    }
    Value::Object(m)
}

#[test]
fn every_model_survives_values_of_every_shape() {
    let usage = Usage::from_yaml_str(
        "version: 0.1\nresource_type_default_usage:\n  aws_lambda_function:\n    monthly_requests: 1000000000000000\n    request_duration_ms: 1000000000000000\n  aws_s3_bucket:\n    standard:\n      storage_gb: 51200\n",
        "u.yml",
    )
    .unwrap();
    let engine = CostEngine::new(arbiter_cost::Catalogue::embedded(), usage, None).unwrap();
    let mut values: Vec<Value> = hostile_values();
    values.extend(hostile_values().iter().map(object_with_all_keys));
    values.push(object_with_all_keys(
        &json!([{"volume_size": 1e308, "instance_type": 7, "ebs": "x"}]),
    ));
    let mut checked = 0;
    for model in models() {
        let changes: Vec<Value> = values
            .iter()
            .enumerate()
            .flat_map(|(i, v)| {
                [["create"].as_slice(), &["update"], &["delete", "create"], &["delete"], &["no-op"]]
                    .into_iter()
                    .enumerate()
                    .map(move |(j, actions)| {
                        json!({"address": format!("{}.x{i}_{j}", model.resource_type), "type": model.resource_type,
                               "name": format!("x{i}_{j}"),
                               "change": {"actions": actions, "before": v, "after": v, "after_unknown": v}})
                    })
            })
            .collect();
        let text = json!({"format_version": "1.2", "resource_changes": changes}).to_string();
        let plan = match arbiter_plan::read_plan_str(&text) {
            Ok(p) => p,
            Err(e) => panic!("{}: {e}", model.resource_type),
        };
        let s = engine.estimate(&plan, None);
        for n in [
            s.monthly_before_usd,
            s.monthly_after_usd,
            s.monthly_delta_usd,
        ] {
            assert!(n.is_finite(), "{}: total {n}", model.resource_type);
        }
        for r in &s.resources {
            for c in r.before.iter().chain(&r.after) {
                assert!(
                    c.monthly_usd.is_finite() && c.quantity.is_finite(),
                    "{}: {c:?}",
                    r.address
                );
            }
        }
        checked += s.counts.priced + s.counts.free + s.counts.unpriced;
    }
    assert!(checked > 1000, "{checked}");
}
