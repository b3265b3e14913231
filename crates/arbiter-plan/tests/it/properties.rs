//! Property tests of the plan reader and the attribute diff.
//!
//! - the readers never panic: arbitrary bytes, mutated plans, arbitrary JSON
//!   trees, plan-shaped documents with random action lists and values;
//! - a serialized random valid plan reads back with the same changes;
//! - `attribute_changes` never reveals a string marked sensitive;
//! - `config_address` is idempotent and removes every instance key;
//! - UTF-16 (LE/BE, with or without BOM) and UTF-8 with BOM read the same as
//!   UTF-8.
//!
//! Failures are not persisted to files (run with `PROPTEST_CASES=5000` to dig
//! deeper; proptest prints the minimal failing input).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use arbiter_plan::address::config_address;
use arbiter_plan::sensitive::sensitive_strings;
use arbiter_plan::{
    attribute_changes, read_plan, read_state, Action, DependencyGraph, InstanceKey, Plan,
    PlanError, ResourceMode,
};
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

fn config() -> Config {
    Config {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(256),
        failure_persistence: None,
        ..Config::default()
    }
}

// ------------------------------------------------------------ strategies --

/// Keys: the plan format's own names (so random trees hit real fields) and
/// random ones.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "format_version", "resource_changes", "resource_drift", "output_changes",
            "planned_values", "prior_state", "configuration", "variables", "change",
            "actions", "before", "after", "after_unknown", "before_sensitive",
            "after_sensitive", "address", "type", "name", "index", "mode", "values",
            "root_module", "resources", "child_modules", "module_calls", "module",
            "expressions", "references", "depends_on", "version", "lineage", "serial",
            "instances", "attributes", "value", "sensitive", "outputs", "replace_paths",
            "importing", "id",
        ])
        .prop_map(str::to_string),
        1 => "[a-z_]{0,6}",
        1 => any::<String>(),
    ]
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        prop::sample::select(vec![
            "create",
            "delete",
            "update",
            "no-op",
            "read",
            "forget",
            "1.2",
            "0.1",
            "managed",
            "data",
            "aws_instance.web[0]",
            "module.a[\"x\"].b_c.d",
            "var.x",
            "module.m.out",
        ])
        .prop_map(|s| Value::String(s.into())),
        any::<String>().prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(6, 96, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Action lists, mostly valid, sometimes not, sometimes not even a list.
fn action_list() -> impl Strategy<Value = Value> {
    let word = prop::sample::select(vec![
        "create", "delete", "update", "no-op", "read", "forget", "explode", "",
    ]);
    let valid = valid_action().prop_map(|a| json!(a.as_list()));
    prop_oneof![
        6 => valid,
        3 => prop::collection::vec(word, 0..3).prop_map(|w| json!(w)),
        1 => json_value(),
    ]
}

/// A `resource_changes` entry with random parts, sometimes of the wrong type.
fn resource_change_doc() -> impl Strategy<Value = Value> {
    let address = prop_oneof![
        8 => address().prop_map(|a| Value::String(a.address)),
        1 => json_value(),
    ];
    let rtype = prop_oneof![
        4 => Just(None),
        4 => Just(Some(json!("aws_instance"))),
        1 => Just(Some(json!(""))),
        1 => json_value().prop_map(Some),
    ];
    let mode = prop_oneof![
        4 => Just(None),
        4 => Just(Some(json!("managed"))),
        4 => Just(Some(json!("data"))),
        1 => json_value().prop_map(Some),
    ];
    let index = prop_oneof![
        4 => Just(None),
        3 => any::<i64>().prop_map(|i| Some(json!(i))),
        3 => any::<String>().prop_map(|s| Some(json!(s))),
        1 => json_value().prop_map(Some),
    ];
    (
        (address, rtype, mode, index),
        action_list(),
        (
            json_value(),
            json_value(),
            json_value(),
            json_value(),
            json_value(),
        ),
    )
        .prop_map(
            |((address, rtype, mode, index), actions, (b, a, u, bs, as_))| {
                let mut rc = Map::new();
                rc.insert("address".into(), address);
                if let Some(t) = rtype {
                    rc.insert("type".into(), t);
                }
                if let Some(m) = mode {
                    rc.insert("mode".into(), m);
                }
                if let Some(i) = index {
                    rc.insert("index".into(), i);
                }
                rc.insert(
                    "change".into(),
                    json!({"actions": actions, "before": b, "after": a, "after_unknown": u,
                       "before_sensitive": bs, "after_sensitive": as_}),
                );
                Value::Object(rc)
            },
        )
}

/// A plan-shaped document: the right top-level keys, random contents.
fn plan_doc() -> impl Strategy<Value = Value> {
    let format_version = prop_oneof![
        Just(None),
        prop::sample::select(vec![
            "1.2", "1.0", "0.1", "1.9", "2.0", "banana", "1.", ".1", "1.2.3"
        ])
        .prop_map(|v| Some(json!(v))),
        json_leaf().prop_map(Some),
    ];
    // Output changes and variables: absent, well-formed with random values, or random.
    let output = (action_list(), json_value(), json_value(), json_value()).prop_map(
        |(a, b, af, s)| json!({"actions": a, "before": b, "after": af, "after_sensitive": s}),
    );
    let outputs = prop_oneof![
        3 => Just(None),
        3 => prop::collection::btree_map(key(), output, 0..3).prop_map(|m| Some(json!(m))),
        1 => json_value().prop_map(Some),
    ];
    let variables = prop_oneof![
        3 => Just(None),
        3 => prop::collection::btree_map(key(), json_value(), 0..3)
            .prop_map(|m| Some(json!(m.into_iter().map(|(k, v)| (k, json!({"value": v}))).collect::<Map<String, Value>>()))),
        1 => json_value().prop_map(Some),
    ];
    (
        format_version,
        prop::collection::vec(resource_change_doc(), 0..4),
        prop::option::of(prop::collection::vec(resource_change_doc(), 0..2)),
        outputs,
        prop::option::of(json_value()),
        prop::option::of(json_value()),
        variables,
    )
        .prop_map(|(fv, rcs, drift, outputs, config, planned, variables)| {
            let mut doc = Map::new();
            if let Some(fv) = fv {
                doc.insert("format_version".into(), fv);
            }
            doc.insert("resource_changes".into(), Value::Array(rcs));
            if let Some(d) = drift {
                doc.insert("resource_drift".into(), Value::Array(d));
            }
            for (k, v) in [
                ("output_changes", outputs),
                ("configuration", config),
                ("planned_values", planned),
                ("variables", variables),
            ] {
                if let Some(v) = v {
                    doc.insert(k.into(), v);
                }
            }
            Value::Object(doc)
        })
}

/// An instance key and how Terraform writes it in an address.
fn instance_key() -> impl Strategy<Value = (InstanceKey, String)> {
    prop_oneof![
        (0i64..1000).prop_map(|i| (InstanceKey::Int(i), format!("[{i}]"))),
        prop_oneof![any::<String>(), "[\\]\\[.\"\\\\a-z ]{0,8}"].prop_map(|s| {
            let quoted = serde_json::to_string(&s).unwrap();
            (InstanceKey::Str(s), format!("[{quoted}]"))
        }),
    ]
}

/// A resource instance address and its parts.
#[derive(Debug, Clone)]
struct Address {
    address: String,
    /// The same address without instance keys.
    config: String,
    module_address: Option<String>,
    mode: ResourceMode,
    rtype: String,
    name: String,
    index: Option<InstanceKey>,
}

fn address() -> impl Strategy<Value = Address> {
    let module = (
        "[a-z][a-z0-9_]{0,6}",
        prop::option::of(instance_key().prop_map(|(_, text)| text)),
    );
    (
        prop::collection::vec(module, 0..3),
        any::<bool>(),
        "(aws|google|azurerm|null)_[a-z][a-z_]{0,10}",
        "[a-z_][a-z0-9_-]{0,8}",
        prop::option::of(instance_key()),
    )
        .prop_map(|(modules, data, rtype, name, index)| {
            let mut module_address = String::new();
            let mut module_config = String::new();
            for (m, key) in &modules {
                if !module_address.is_empty() {
                    module_address.push('.');
                    module_config.push('.');
                }
                module_address.push_str(&format!("module.{m}{}", key.as_deref().unwrap_or("")));
                module_config.push_str(&format!("module.{m}"));
            }
            let local = format!("{}{rtype}.{name}", if data { "data." } else { "" });
            let key_text = index.as_ref().map_or(String::new(), |(_, t)| t.clone());
            let join = |prefix: &str, rest: &str| {
                if prefix.is_empty() {
                    rest.to_string()
                } else {
                    format!("{prefix}.{rest}")
                }
            };
            Address {
                address: join(&module_address, &format!("{local}{key_text}")),
                config: join(&module_config, &local),
                module_address: (!module_address.is_empty()).then_some(module_address),
                mode: if data {
                    ResourceMode::Data
                } else {
                    ResourceMode::Managed
                },
                rtype,
                name,
                index: index.map(|(k, _)| k),
            }
        })
}

/// JSON without floats (serde_json's default float parsing is not exact),
/// for values that must round-trip.
fn exact_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,6}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn valid_action() -> impl Strategy<Value = Action> {
    prop::sample::select(Action::ALL.to_vec())
}

/// One valid resource change, as the generator meant it.
#[derive(Debug, Clone)]
struct GenChange {
    address: Address,
    action: Action,
    before: Value,
    after: Value,
}

fn gen_change() -> impl Strategy<Value = GenChange> {
    (address(), valid_action(), exact_json(), exact_json()).prop_map(
        |(address, action, before, after)| GenChange {
            address,
            action,
            before,
            after,
        },
    )
}

fn change_json(c: &GenChange) -> Value {
    let a = &c.address;
    let mut rc = json!({
        "address": a.address,
        "mode": match a.mode { ResourceMode::Managed => "managed", ResourceMode::Data => "data" },
        "type": a.rtype,
        "name": a.name,
        "provider_name": "registry.terraform.io/hashicorp/aws",
        "change": {
            "actions": c.action.as_list(),
            "before": c.before,
            "after": c.after,
            "after_unknown": {},
            "before_sensitive": false,
            "after_sensitive": false,
        }
    });
    if let Some(m) = &a.module_address {
        rc["module_address"] = json!(m);
    }
    match &a.index {
        Some(InstanceKey::Int(i)) => rc["index"] = json!(i),
        Some(InstanceKey::Str(s)) => rc["index"] = json!(s),
        None => {}
    }
    rc
}

/// A valid plan document and the changes it holds.
#[derive(Debug, Clone)]
struct GenPlan {
    changes: Vec<GenChange>,
    drift: Vec<GenChange>,
    outputs: Vec<(String, Value)>,
    document: Value,
}

fn gen_plan() -> impl Strategy<Value = GenPlan> {
    (
        prop::collection::vec(gen_change(), 0..8),
        prop::collection::vec(gen_change(), 0..3),
        prop::collection::btree_map(any::<String>(), exact_json(), 0..3),
        prop::sample::select(vec!["0.1", "1.0", "1.1", "1.2"]),
    )
        .prop_map(|(changes, drift, outputs, fv)| {
            let outputs: Vec<(String, Value)> = outputs.into_iter().collect();
            let document = json!({
                "format_version": fv,
                "terraform_version": "1.9.8",
                "resource_changes": changes.iter().map(change_json).collect::<Vec<_>>(),
                "resource_drift": drift.iter().map(change_json).collect::<Vec<_>>(),
                "output_changes": outputs.iter().map(|(k, v)| (k.clone(), json!({
                    "actions": ["update"], "before": null, "after": v,
                    "after_unknown": false, "before_sensitive": false, "after_sensitive": false,
                }))).collect::<Map<String, Value>>(),
                "applyable": true,
                "complete": true,
                "errored": false,
            });
            GenPlan {
                changes,
                drift,
                outputs,
                document,
            }
        })
}

/// Exercises everything downstream of the reader that takes the plan as is.
fn use_plan(plan: &Plan) {
    for rc in plan.resource_changes.iter().chain(&plan.resource_drift) {
        assert_eq!(Some(rc.action), Action::from_list(&rc.change.actions));
        let _ = attribute_changes(&rc.change);
        let _ = rc.config_address();
        let _ = rc.keyed_type();
    }
    let _ = sensitive_strings(plan);
    if let Some(c) = &plan.configuration {
        let _ = DependencyGraph::from_configuration(c);
    }
}

// -------------------------------------------------------------- no panic --

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(plan) = read_plan(&bytes) {
            use_plan(&plan);
        }
        let _ = read_state(&bytes);
    }

    #[test]
    fn bytes_behind_a_bom_or_brace_never_panic(
        prefix in prop::sample::select(vec![
            &b""[..], &b"{"[..], &b"["[..], &b"\xEF\xBB\xBF"[..], &b"\xFF\xFE"[..], &b"\xFE\xFF"[..],
            &b"\xFF\xFE{\x00"[..], &b"\x00{"[..], &b"{\"resource_changes\":[{\"change\":"[..],
        ]),
        bytes in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        let mut all = prefix.to_vec();
        all.extend(bytes);
        if let Ok(plan) = read_plan(&all) {
            use_plan(&plan);
        }
        let _ = read_state(&all);
    }

    #[test]
    fn mutated_plans_never_panic(
        plan in gen_plan(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, any::<u8>()), 1..6),
    ) {
        let mut bytes = serde_json::to_vec(&plan.document).unwrap();
        for (at, op, byte) in edits {
            if bytes.is_empty() {
                break;
            }
            let i = at.index(bytes.len());
            match op {
                0 => bytes[i] = byte,
                1 => { bytes.remove(i); }
                _ => bytes.insert(i, byte),
            }
        }
        if let Ok(p) = read_plan(&bytes) {
            use_plan(&p);
        }
        let _ = read_state(&bytes);
    }

    #[test]
    fn arbitrary_json_never_panics(doc in json_value()) {
        let text = serde_json::to_vec(&doc).unwrap();
        if let Ok(plan) = read_plan(&text) {
            use_plan(&plan);
        }
        let _ = read_state(&text);
    }

    #[test]
    fn plan_shaped_documents_never_panic(doc in plan_doc(), pretty in any::<bool>()) {
        let text = if pretty {
            serde_json::to_vec_pretty(&doc).unwrap()
        } else {
            serde_json::to_vec(&doc).unwrap()
        };
        match read_plan(&text) {
            Ok(plan) => use_plan(&plan),
            // Every error is one line, so the binary can print it as one.
            Err(e) => prop_assert!(!e.to_string().contains('\n'), "multi-line error: {e}"),
        }
    }
}

proptest! {
    #![proptest_config(config())]

    /// Text that serde_json itself wrote is valid JSON: whatever is wrong
    /// with it is a shape problem and must be reported with its JSON path.
    #[test]
    fn well_formed_json_is_never_called_invalid(doc in plan_doc()) {
        let text = serde_json::to_vec(&doc).unwrap();
        if let Err(e) = read_plan(&text) {
            prop_assert!(!matches!(e, PlanError::Syntax { .. }), "{}", e);
        }
    }
}

// ------------------------------------------- values kept as text parse --

/// A value nested `depth` containers deep (arrays or objects as `kinds`
/// says), with `noise` strings full of brackets, quotes and backslashes at
/// every level (they must not count as nesting) and `leaf` at the bottom.
fn nested(depth: usize, kinds: &[bool], noise: &str, leaf: Value) -> Value {
    let mut v = leaf;
    for i in 0..depth {
        v = if kinds[i % kinds.len()] {
            json!([noise, v])
        } else {
            json!({"n": noise, "v": v})
        };
    }
    v
}

/// Every value the reader keeps as text in a plan it accepted.
fn raw_values(plan: &Plan) -> Vec<(&str, &arbiter_plan::RawJson)> {
    let mut out = Vec::new();
    for rc in plan.resource_changes.iter().chain(&plan.resource_drift) {
        let c = &rc.change;
        for (name, v) in [
            ("before", &c.before),
            ("after", &c.after),
            ("after_unknown", &c.after_unknown),
            ("before_sensitive", &c.before_sensitive),
            ("after_sensitive", &c.after_sensitive),
            ("replace_paths", &c.replace_paths),
        ] {
            if let Some(v) = v {
                out.push((name, v));
            }
        }
    }
    for v in plan.variables.values() {
        out.push(("variable", v));
    }
    out
}

/// Where the nested value goes: `change.after` of a type no rule reads, a
/// resource's values in `planned_values` (no `resource_changes`), a variable.
fn place(slot: u8, value: Value) -> Value {
    match slot {
        0 => json!({"format_version": "1.2", "resource_changes": [{
            "address": "random_id.x", "type": "random_id", "name": "x",
            "change": {"actions": ["create"], "before": null, "after": {"keepers": value}}}]}),
        1 => json!({"format_version": "1.2", "planned_values": {"root_module": {"resources": [{
            "address": "random_id.x", "mode": "managed", "type": "random_id", "name": "x",
            "values": {"keepers": value}}]}}}),
        _ => json!({"format_version": "1.2", "resource_changes": [],
            "variables": {"v": {"value": value}}}),
    }
}

proptest! {
    #![proptest_config(config())]

    /// Fail closed: a value the reader accepted must parse when a consumer
    /// asks for it; a value that could not would be judged as `null`.
    /// Nesting is refused up front (or accepted whole), and Terraform-like
    /// depths (up to 60) are always accepted.
    #[test]
    fn deeply_nested_values_are_refused_or_parse(
        depth in prop_oneof![1usize..60, 100usize..200, 200usize..400],
        kinds in prop::collection::vec(any::<bool>(), 1..8),
        noise in "[\\[\\]{}\"\\\\a]{0,6}",
        slot in 0u8..3,
    ) {
        let doc = place(slot, nested(depth, &kinds, &noise, json!("leaf")));
        let text = serde_json::to_string(&doc).unwrap();
        match read_plan(text.as_bytes()) {
            Ok(plan) => {
                for (name, v) in raw_values(&plan) {
                    prop_assert!(v.value().is_ok(), "{} was accepted but does not parse: {:?}", name, v.value().err());
                }
                if slot == 1 {
                    prop_assert_eq!(plan.resource_changes.len(), 1);
                    let after = plan.resource_changes[0].change.after.as_ref().map(|a| a.value().is_ok());
                    prop_assert_eq!(after, Some(true));
                }
            }
            Err(e) => prop_assert!(depth > 60, "depth {} refused: {}", depth, e),
        }
    }

    #[test]
    fn huge_numbers_are_refused_or_parse(
        mantissa in 1u32..10,
        exponent in prop_oneof![300i32..320, 320i32..2000],
        negative in any::<bool>(),
        slot in 0u8..3,
    ) {
        let number = format!("{}{mantissa}e{exponent}", if negative { "-" } else { "" });
        let text = serde_json::to_string(&place(slot, json!("NUMBER"))).unwrap().replace("\"NUMBER\"", &number);
        if let Ok(plan) = read_plan(text.as_bytes()) {
            for (name, v) in raw_values(&plan) {
                prop_assert!(v.value().is_ok(), "{} = {} was accepted but does not parse", name, number);
            }
            if slot == 1 {
                prop_assert_eq!(plan.resource_changes.len(), 1, "{} dropped the resource", number);
            }
        }
    }
}

// ------------------------------------------------------------ round trip --

fn expected_after(v: &Value) -> Option<Value> {
    (!v.is_null()).then(|| v.clone())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn valid_plans_round_trip(plan in gen_plan(), pretty in any::<bool>()) {
        let text = if pretty {
            serde_json::to_string_pretty(&plan.document).unwrap()
        } else {
            serde_json::to_string(&plan.document).unwrap()
        };
        let read = read_plan(text.as_bytes()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(read.warnings.is_empty(), "{:?}", read.warnings);
        prop_assert_eq!(read.resource_changes.len(), plan.changes.len());
        prop_assert_eq!(read.resource_drift.len(), plan.drift.len());
        for (got, want) in read
            .resource_changes
            .iter()
            .zip(&plan.changes)
            .chain(read.resource_drift.iter().zip(&plan.drift))
        {
            prop_assert_eq!(&got.address, &want.address.address);
            prop_assert_eq!(got.config_address(), want.address.config.clone());
            prop_assert_eq!(&got.module_address, &want.address.module_address);
            prop_assert_eq!(got.mode, want.address.mode);
            prop_assert_eq!(&got.resource_type, &want.address.rtype);
            prop_assert_eq!(&got.name, &want.address.name);
            prop_assert_eq!(&got.index, &want.address.index);
            prop_assert_eq!(got.action, want.action);
            let before = got.change.before.as_ref().map(|r| r.value().cloned());
            let after = got.change.after.as_ref().map(|r| r.value().cloned());
            prop_assert_eq!(before, expected_after(&want.before).map(Ok));
            prop_assert_eq!(after, expected_after(&want.after).map(Ok));
        }
        let keys: Vec<&String> = read.output_changes.keys().collect();
        let want: Vec<&String> = plan.outputs.iter().map(|(k, _)| k).collect();
        prop_assert_eq!(keys, want);
    }
}

// ------------------------------------------------------------- sensitive --

/// Gives every empty string leaf a unique token `<{prefix}N>` (keys never
/// contain `<`, so no token is part of a key or of another token).
fn tokenize(v: &mut Value, prefix: char, next: &mut usize) {
    match v {
        Value::String(s) if s.is_empty() => {
            *s = format!("<{prefix}{next}>");
            *next += 1;
        }
        Value::Array(a) => a.iter_mut().for_each(|c| tokenize(c, prefix, next)),
        Value::Object(o) => o.values_mut().for_each(|c| tokenize(c, prefix, next)),
        _ => {}
    }
}

/// Objects with string, number and nested leaves, as provider schemas have.
fn attribute_object() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        3 => Just(Value::String(String::new())),
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => (0i64..100).prop_map(Value::from),
    ];
    let tree = leaf.prop_recursive(4, 40, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-e]{1,2}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    prop::collection::btree_map("[a-e]{1,2}", tree, 0..6)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
}

/// A mask mirroring `v`: at each node `true`, `false`, absent or (for
/// containers) a mask of the children.
fn mask_for(v: &Value, p_true: u32) -> BoxedStrategy<Value> {
    let flag = prop::bool::weighted(f64::from(p_true) / 100.0).prop_map(Value::Bool);
    match v {
        Value::Object(o) => {
            let children: Vec<BoxedStrategy<Option<(String, Value)>>> = o
                .iter()
                .map(|(k, c)| {
                    let k = k.clone();
                    prop::option::weighted(0.8, mask_for(c, p_true))
                        .prop_map(move |m| m.map(|m| (k.clone(), m)))
                        .boxed()
                })
                .collect();
            let nested = children
                .prop_map(|kv| Value::Object(kv.into_iter().flatten().collect()))
                .boxed();
            prop_oneof![1 => flag, 4 => nested].boxed()
        }
        Value::Array(a) => {
            let children: Vec<BoxedStrategy<Value>> =
                a.iter().map(|c| mask_for(c, p_true)).collect();
            let nested = children.prop_map(Value::Array).boxed();
            prop_oneof![1 => flag, 4 => nested].boxed()
        }
        _ => flag.boxed(),
    }
}

/// After: before with some leaves kept (same token), some replaced, some
/// keys dropped or added, and now and then a value of another type (a
/// string where an object was, a block where a string was).
fn mutate(before: &Value) -> BoxedStrategy<Value> {
    let same_shape = mutate_same_shape(before);
    prop_oneof![
        12 => same_shape,
        1 => Just(Value::String(String::new())),
        1 => Just(json!([{"z": ""}, ""])),
    ]
    .boxed()
}

fn mutate_same_shape(before: &Value) -> BoxedStrategy<Value> {
    match before {
        Value::Object(o) => {
            let kept: Vec<BoxedStrategy<Option<(String, Value)>>> = o
                .iter()
                .map(|(k, c)| {
                    let k = k.clone();
                    prop::option::weighted(0.85, mutate(c))
                        .prop_map(move |m| m.map(|m| (k.clone(), m)))
                        .boxed()
                })
                .collect();
            (
                kept,
                prop::collection::btree_map("[f-h]", attribute_object(), 0..2),
            )
                .prop_map(|(kv, extra)| {
                    Value::Object(kv.into_iter().flatten().chain(extra).collect())
                })
                .boxed()
        }
        Value::Array(a) => {
            let items: Vec<BoxedStrategy<Value>> = a.iter().map(mutate).collect();
            items.prop_map(Value::Array).boxed()
        }
        Value::String(_) => prop_oneof![
            2 => Just(before.clone()),
            1 => Just(Value::String("<new>".into())),
        ]
        .boxed(),
        other => Just(other.clone()).boxed(),
    }
}

/// Tokens at sensitive positions, and tokens at non-sensitive ones, following
/// Terraform's mask semantics (a `true` covers everything below it; a mask of
/// the wrong shape covers nothing).
fn classify(
    v: &Value,
    mask: &Value,
    covered: bool,
    secret: &mut BTreeSet<String>,
    public: &mut BTreeSet<String>,
) {
    let covered = covered || mask == &Value::Bool(true);
    match v {
        Value::String(s) => {
            if covered {
                secret.insert(s.clone());
            } else {
                public.insert(s.clone());
            }
        }
        Value::Object(o) => {
            for (k, c) in o {
                let m = match mask {
                    Value::Object(m) => m.get(k).unwrap_or(&Value::Null),
                    _ => &Value::Null,
                };
                classify(c, m, covered, secret, public);
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                let m = match mask {
                    Value::Array(m) => m.get(i).unwrap_or(&Value::Null),
                    _ => &Value::Null,
                };
                classify(c, m, covered, secret, public);
            }
        }
        _ => {}
    }
}

#[derive(Debug, Clone)]
struct SensitiveCase {
    before: Option<Value>,
    after: Option<Value>,
    before_sensitive: Value,
    after_sensitive: Value,
    after_unknown: Value,
}

fn sensitive_case() -> impl Strategy<Value = SensitiveCase> {
    (attribute_object(), 0u8..4)
        .prop_map(|(mut before, shape)| {
            tokenize(&mut before, 's', &mut 0);
            (before, shape)
        })
        .prop_flat_map(|(before, shape)| {
            let after = mutate(&before);
            (Just(before), after, Just(shape))
        })
        .prop_map(|(before, mut after, shape)| {
            // Attributes added by `mutate` get tokens of their own.
            tokenize(&mut after, 'a', &mut 0);
            (before, after, shape)
        })
        .prop_flat_map(|(before, after, shape)| {
            (
                Just(before.clone()),
                Just(after.clone()),
                mask_for(&before, 30),
                mask_for(&after, 30),
                mask_for(&after, 10),
                Just(shape),
            )
        })
        .prop_map(|(before, after, bs, as_, unknown, shape)| {
            // 0 update, 1 create, 2 delete, 3 update with unknowns.
            let (before, after) = match shape {
                1 => (None, Some(after)),
                2 => (Some(before), None),
                _ => (Some(before), Some(after)),
            };
            SensitiveCase {
                before,
                after,
                before_sensitive: bs,
                after_sensitive: as_,
                after_unknown: if shape == 3 { unknown } else { json!({}) },
            }
        })
}

fn change_from(c: &SensitiveCase) -> arbiter_plan::Change {
    let doc = json!({
        "actions": ["update"],
        "before": c.before,
        "after": c.after,
        "after_unknown": c.after_unknown,
        "before_sensitive": c.before_sensitive,
        "after_sensitive": c.after_sensitive,
    });
    serde_json::from_value(doc).unwrap()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn attribute_changes_never_reveal_sensitive_strings(case in sensitive_case()) {
        let mut secret = BTreeSet::new();
        let mut public = BTreeSet::new();
        if let Some(b) = &case.before {
            classify(b, &case.before_sensitive, false, &mut secret, &mut public);
        }
        if let Some(a) = &case.after {
            classify(a, &case.after_sensitive, false, &mut secret, &mut public);
        }
        // A value shown openly on the other side is not a secret any more.
        let secret: BTreeSet<&String> = secret.difference(&public).collect();
        let change = change_from(&case);
        for ac in attribute_changes(&change) {
            let shown = format!("{} {} {}", ac.path, ac.before.render(), ac.after.render());
            for s in &secret {
                prop_assert!(!shown.contains(s.as_str()), "{} revealed in {}", s, shown);
            }
        }
    }

    #[test]
    fn sensitive_strings_of_a_plan_cover_the_masked_values(case in sensitive_case()) {
        // The redaction list built from a plan holds every masked string, so no
        // output format can print one.
        let mut secret = BTreeSet::new();
        let mut public = BTreeSet::new();
        if let Some(b) = &case.before {
            classify(b, &case.before_sensitive, false, &mut secret, &mut public);
        }
        if let Some(a) = &case.after {
            classify(a, &case.after_sensitive, false, &mut secret, &mut public);
        }
        let doc = json!({
            "format_version": "1.2",
            "resource_changes": [{"address": "aws_instance.x", "type": "aws_instance", "name": "x", "change": {
                "actions": ["update"], "before": case.before, "after": case.after,
                "after_unknown": case.after_unknown,
                "before_sensitive": case.before_sensitive, "after_sensitive": case.after_sensitive,
            }}],
        });
        let plan = read_plan(doc.to_string().as_bytes()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let listed = sensitive_strings(&plan);
        for s in &secret {
            prop_assert!(listed.contains(s), "{} is masked but not listed", s);
        }
    }
}

// ------------------------------------------------------------- addresses --

proptest! {
    #![proptest_config(config())]

    #[test]
    fn config_address_removes_every_instance_key(a in address()) {
        let once = config_address(&a.address);
        prop_assert_eq!(&once, &a.config);
        prop_assert_eq!(config_address(&once), once.clone());
    }

    #[test]
    fn config_address_is_idempotent_on_any_text(s in any::<String>()) {
        let once = config_address(&s);
        prop_assert!(!once.contains('['), "{:?} -> {:?}", s, once);
        prop_assert_eq!(config_address(&once), once);
    }
}

// ------------------------------------------------------------- encodings --

/// Everything the reader produced, as text, for comparison.
fn fingerprint(p: &Plan) -> String {
    let actions: Vec<Action> = p.resource_changes.iter().map(|r| r.action).collect();
    format!(
        "{}|{:?}|{:?}|{:?}|{:?}|{:?}",
        serde_json::to_string(&(
            &p.resource_changes,
            &p.resource_drift,
            &p.output_changes,
            &p.variables
        ))
        .unwrap(),
        actions,
        p.format_version,
        p.terraform_version,
        p.warnings,
        p.configuration,
    )
}

fn utf16(text: &str, bom: bool, big_endian: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if bom {
        out.extend(if big_endian {
            [0xFE, 0xFF]
        } else {
            [0xFF, 0xFE]
        });
    }
    for u in text.encode_utf16() {
        out.extend(if big_endian {
            u.to_be_bytes()
        } else {
            u.to_le_bytes()
        });
    }
    out
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn utf16_and_bom_encodings_read_like_utf8(plan in gen_plan(), pretty in any::<bool>()) {
        let text = if pretty {
            serde_json::to_string_pretty(&plan.document).unwrap()
        } else {
            serde_json::to_string(&plan.document).unwrap()
        };
        let want = fingerprint(&read_plan(text.as_bytes()).map_err(|e| TestCaseError::fail(e.to_string()))?);
        let mut utf8_bom = vec![0xEF, 0xBB, 0xBF];
        utf8_bom.extend(text.as_bytes());
        for (name, bytes) in [
            ("UTF-8 with BOM", utf8_bom),
            ("UTF-16 LE with BOM", utf16(&text, true, false)),
            ("UTF-16 BE with BOM", utf16(&text, true, true)),
            ("UTF-16 LE without BOM", utf16(&text, false, false)),
            ("UTF-16 BE without BOM", utf16(&text, false, true)),
        ] {
            let got = read_plan(&bytes).map_err(|e| TestCaseError::fail(format!("{name}: {e}")))?;
            prop_assert_eq!(&fingerprint(&got), &want, "{}", name);
        }
    }
}
