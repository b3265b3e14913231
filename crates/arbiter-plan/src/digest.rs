//! The canonical digest of what a plan would change (issue 12: "apply what
//! was judged, nothing else").
//!
//! A worker plans again before it applies and compares [`change_digest`] of
//! its new plan with that of the judged plan: equal → it applies its saved
//! plan file; different → the new plan is judged as a new revision.
//!
//! What goes in, per resource change (`resource_changes[*]`):
//! - `address`, `actions` (as Terraform lists them), `after`,
//!   `after_unknown`, `after_sensitive` and `replace_paths`;
//! - `before`, but only for the top-level attributes the change modifies:
//!   an attribute whose known after-value differs from its before-value.
//!   Attributes that only refreshed (equal before and after), and
//!   attributes recomputed at apply (`after_unknown`: their before-value is
//!   whatever the last refresh read), are left out, so a plan re-made after a
//!   refresh that changed unrelated computed attributes has the same digest
//!   and the worker does not loop making revisions.
//!
//! Left out: changes whose actions are `["no-op"]` (they change nothing;
//! their before/after are whatever the refresh read), `resource_drift`,
//! `prior_state`, `planned_values` and the configuration.
//!
//! Canonical form: JSON with object keys sorted (by bytes), no whitespace,
//! numbers as serde_json prints them. Each change is hashed on its own
//! (SHA-256) and the sorted list of those hashes is hashed again, so the
//! order of `resource_changes` does not matter. The result is 64 lowercase
//! hex digits.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Why a plan's digest could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    /// The bytes are not JSON.
    #[error("plan JSON does not parse at line {line}, column {column}: {message}")]
    NotJson {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// serde_json's description.
        message: String,
    },
    /// The JSON is not a plan (`terraform show -json` of a saved plan).
    #[error("not a plan: {0}")]
    NotPlan(String),
    /// A resource change has the wrong shape.
    #[error("resource_changes[{index}] ({address}): {problem}")]
    BadChange {
        /// Position in `resource_changes`.
        index: usize,
        /// Its address, when it has one.
        address: String,
        /// What is wrong.
        problem: String,
    },
}

/// The canonical digest of the changes a plan makes (see the module doc).
pub fn change_digest(plan_json: &[u8]) -> Result<String, DigestError> {
    let plan: Value = serde_json::from_slice(plan_json).map_err(|e| DigestError::NotJson {
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    change_digest_value(&plan)
}

/// [`change_digest`] of an already parsed plan.
pub fn change_digest_value(plan: &Value) -> Result<String, DigestError> {
    let obj = plan
        .as_object()
        .ok_or_else(|| DigestError::NotPlan("the top level is not an object".into()))?;
    if !obj.contains_key("format_version") {
        return Err(DigestError::NotPlan(
            "no format_version (is this `terraform show -json` of a saved plan?)".into(),
        ));
    }
    let changes = match obj.get("resource_changes") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(a)) => a.as_slice(),
        Some(_) => {
            return Err(DigestError::NotPlan(
                "resource_changes is not an array".into(),
            ))
        }
    };
    let mut hashes: Vec<[u8; 32]> = Vec::with_capacity(changes.len());
    for (index, rc) in changes.iter().enumerate() {
        if let Some(canon) = canonical_change(index, rc)? {
            hashes.push(Sha256::digest(canon.as_bytes()).into());
        }
    }
    hashes.sort_unstable();
    let mut outer = Sha256::new();
    outer.update(b"arbiter-change-digest-v1\n");
    for h in &hashes {
        outer.update(h);
    }
    Ok(hex::encode(outer.finalize()))
}

/// The canonical text of one resource change, `None` for a no-op.
fn canonical_change(index: usize, rc: &Value) -> Result<Option<String>, DigestError> {
    let bad = |address: &str, problem: &str| DigestError::BadChange {
        index,
        address: address.to_string(),
        problem: problem.to_string(),
    };
    let address = rc
        .get("address")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("?", "no address"))?;
    let change = rc
        .get("change")
        .and_then(Value::as_object)
        .ok_or_else(|| bad(address, "no change object"))?;
    let actions = change
        .get("actions")
        .and_then(Value::as_array)
        .ok_or_else(|| bad(address, "no actions list"))?;
    if actions.len() == 1 && actions[0].as_str() == Some("no-op") {
        return Ok(None);
    }
    let null = Value::Null;
    let before = change.get("before").unwrap_or(&null);
    let after = change.get("after").unwrap_or(&null);
    let after_unknown = change.get("after_unknown").unwrap_or(&null);
    let modified_before = match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            let unknown = after_unknown.as_object();
            let mut out = serde_json::Map::new();
            for (k, bv) in b {
                let recomputed = unknown
                    .and_then(|u| u.get(k))
                    .is_some_and(|u| u != &Value::Bool(false));
                if recomputed {
                    continue;
                }
                if a.get(k) != Some(bv) {
                    out.insert(k.clone(), bv.clone());
                }
            }
            Value::Object(out)
        }
        // Create (before null) or delete (after null): what the change does
        // is said by its actions and `after`.
        _ => Value::Null,
    };
    let mut text = String::new();
    text.push_str("{\"actions\":");
    canonical(&Value::Array(actions.clone()), &mut text);
    text.push_str(",\"address\":");
    canonical(&Value::String(address.to_string()), &mut text);
    text.push_str(",\"after\":");
    canonical(after, &mut text);
    text.push_str(",\"after_sensitive\":");
    canonical(change.get("after_sensitive").unwrap_or(&null), &mut text);
    text.push_str(",\"after_unknown\":");
    canonical(after_unknown, &mut text);
    text.push_str(",\"before_modified\":");
    canonical(&modified_before, &mut text);
    text.push_str(",\"replace_paths\":");
    canonical(change.get("replace_paths").unwrap_or(&null), &mut text);
    text.push('}');
    Ok(Some(text))
}

/// Canonical JSON: keys sorted by bytes, no whitespace.
pub fn canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort_unstable();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                if let Some(x) = m.get(k) {
                    canonical(x, out);
                }
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan(changes: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({"format_version": "1.2", "resource_changes": changes})).unwrap()
    }

    fn web(tag: &str, arn_before: &str, actions: Value) -> Value {
        json!({
            "address": "aws_instance.web", "type": "aws_instance", "name": "web",
            "change": {
                "actions": actions,
                "before": {"ami": "ami-1", "tags": {"env": "old"}, "arn": arn_before, "cpu_credits": "standard", "private_ip": "10.0.0.1"},
                "after": {"ami": "ami-1", "tags": {"env": tag}, "cpu_credits": "standard"},
                "after_unknown": {"arn": true, "private_ip": false},
                "after_sensitive": {},
                "replace_paths": null
            }
        })
    }

    fn noop(id: &str) -> Value {
        json!({"address": "aws_s3_bucket.logs", "change": {"actions": ["no-op"],
            "before": {"id": id, "etag": id}, "after": {"id": id, "etag": id}, "after_unknown": {}}})
    }

    #[test]
    fn a_refresh_of_unrelated_computed_attributes_keeps_the_digest() {
        let a = plan(json!([web("new", "arn:1", json!(["update"])), noop("e1")]));
        // After a refresh: the no-op bucket's computed etag changed, and so
        // did the instance's arn, which the change recomputes anyway.
        let b = plan(json!([noop("e2"), web("new", "arn:2", json!(["update"]))]));
        assert_eq!(change_digest(&a).unwrap(), change_digest(&b).unwrap());
        assert_eq!(change_digest(&a).unwrap().len(), 64);
    }

    #[test]
    fn any_change_of_after_actions_replace_or_modified_before_changes_the_digest() {
        let base = web("new", "arn:1", json!(["update"]));
        let d0 = change_digest(&plan(json!([base.clone()]))).unwrap();
        let mut variants = Vec::new();
        variants.push(web("newer", "arn:1", json!(["update"])));
        variants.push(web("new", "arn:1", json!(["delete", "create"])));
        let mut v = base.clone();
        v["change"]["replace_paths"] = json!([["ami"]]);
        variants.push(v);
        let mut v = base.clone();
        v["change"]["after_unknown"]["private_ip"] = json!(true);
        variants.push(v);
        let mut v = base.clone();
        v["change"]["after_sensitive"] = json!({"tags": true});
        variants.push(v);
        // The before-value of the attribute the change modifies.
        let mut v = base.clone();
        v["change"]["before"]["tags"]["env"] = json!("older");
        variants.push(v);
        let mut v = base.clone();
        v["address"] = json!("aws_instance.web2");
        variants.push(v);
        for (i, v) in variants.into_iter().enumerate() {
            let d = change_digest(&plan(json!([v]))).unwrap();
            assert_ne!(d, d0, "variant {i}");
        }
        // An extra change, and a no-op becoming an update, also count.
        let extra = change_digest(&plan(json!([
            base.clone(),
            web("x", "a", json!(["create"]))
        ])));
        assert_ne!(extra.unwrap(), d0);
        let mut upd = noop("e1");
        upd["change"]["actions"] = json!(["update"]);
        let d1 = change_digest(&plan(json!([base.clone(), upd]))).unwrap();
        assert_ne!(d1, d0);
    }

    #[test]
    fn key_order_and_whitespace_do_not_matter() {
        let a = br#"{"format_version":"1.2","resource_changes":[{"address":"x.y","change":{"actions":["create"],"before":null,"after":{"a":1,"b":{"c":2,"d":3}},"after_unknown":{}}}]}"#;
        let b = br#"{ "resource_changes": [ { "change": { "after_unknown": {}, "after": { "b": { "d": 3, "c": 2 }, "a": 1 }, "before": null, "actions": [ "create" ] }, "address": "x.y" } ], "format_version": "1.2" }"#;
        assert_eq!(change_digest(a).unwrap(), change_digest(b).unwrap());
    }

    #[test]
    fn bad_input_is_an_error_naming_the_place() {
        assert!(matches!(
            change_digest(b"{"),
            Err(DigestError::NotJson { .. })
        ));
        assert!(matches!(change_digest(b"[]"), Err(DigestError::NotPlan(_))));
        let e = change_digest(&plan(json!([{"address": "a.b", "change": {}}]))).unwrap_err();
        assert!(e.to_string().contains("resource_changes[0] (a.b)"), "{e}");
        // No changes at all is a valid (empty) plan.
        let empty = change_digest(br#"{"format_version":"1.2"}"#).unwrap();
        assert_eq!(empty, change_digest(&plan(json!([noop("z")]))).unwrap());
    }
}
