//! Reading Terraform state: the raw `terraform.tfstate` (version 4) and the
//! `terraform show -json` form (format 0.x/1.x, `values.root_module`).

use crate::decode::decode_text;
use crate::error::PlanError;
use crate::json::RawJson;
use crate::model::{InstanceKey, ResourceMode};
use crate::read::expect_object;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Which form a state was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateForm {
    /// `terraform.tfstate`, version 4.
    RawV4,
    /// `terraform show -json` of a state.
    ShowJson,
}

/// One resource instance in a state.
#[derive(Debug, Clone)]
pub struct StateResource {
    /// Full address including instance key.
    pub address: String,
    /// Module part of the address, if not root.
    pub module_address: Option<String>,
    /// `managed` or `data`.
    pub mode: ResourceMode,
    /// Resource type.
    pub resource_type: String,
    /// Name in the configuration.
    pub name: String,
    /// Instance key.
    pub index: Option<InstanceKey>,
    /// Provider address.
    pub provider_name: Option<String>,
    /// Attribute values.
    pub values: RawJson,
    /// Sensitive mask mirroring `values` (`true` where sensitive): the
    /// show-json form's `sensitive_values`, or built from a raw state's
    /// `sensitive_attributes` paths; `None` when nothing is marked.
    pub sensitive_values: Option<RawJson>,
    /// Addresses this instance depends on.
    pub depends_on: Vec<String>,
}

/// A parsed state.
#[derive(Debug, Clone)]
pub struct State {
    /// The form it was read from.
    pub form: StateForm,
    /// Terraform version that wrote it.
    pub terraform_version: Option<String>,
    /// State serial (raw form only).
    pub serial: Option<u64>,
    /// State lineage (raw form only).
    pub lineage: Option<String>,
    /// Every resource instance, in file order.
    pub resources: Vec<StateResource>,
    /// Root module outputs, by name.
    pub outputs: BTreeMap<String, StateOutput>,
}

/// A root module output recorded in a state.
#[derive(Debug, Clone)]
pub struct StateOutput {
    /// The value (may be sensitive: see `sensitive`).
    pub value: RawJson,
    /// Declared `sensitive = true`.
    pub sensitive: bool,
}

#[derive(Deserialize)]
struct RawOutput {
    #[serde(default)]
    value: Option<RawJson>,
    #[serde(default)]
    sensitive: bool,
}

fn outputs_of(raw: Option<BTreeMap<String, RawOutput>>) -> BTreeMap<String, StateOutput> {
    raw.unwrap_or_default()
        .into_iter()
        .map(|(k, o)| {
            let value = o
                .value
                .unwrap_or_else(|| RawJson::from_value(&serde_json::Value::Null));
            (
                k,
                StateOutput {
                    value,
                    sensitive: o.sensitive,
                },
            )
        })
        .collect()
}

/// Reads a state file, refusing files over the plan size limit.
pub fn read_state_file(path: &Path) -> Result<State, PlanError> {
    let bytes = crate::read::read_limited(path)?;
    read_state(&bytes)
}

#[derive(Deserialize)]
struct StateDocument {
    #[serde(default)]
    version: Option<u64>,
    #[serde(default)]
    format_version: Option<String>,
    #[serde(default)]
    terraform_version: Option<String>,
    #[serde(default)]
    serial: Option<u64>,
    #[serde(default)]
    lineage: Option<String>,
    #[serde(default)]
    resources: Option<Vec<RawResource>>,
    #[serde(default)]
    outputs: Option<BTreeMap<String, RawOutput>>,
    #[serde(default)]
    values: Option<ShowValues>,
    #[serde(default)]
    resource_changes: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    planned_values: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct RawResource {
    #[serde(default)]
    module: Option<String>,
    #[serde(default, deserialize_with = "crate::model::mode_or_default")]
    mode: ResourceMode,
    #[serde(rename = "type")]
    resource_type: String,
    name: String,
    #[serde(default)]
    provider: Option<String>,
    #[serde(default)]
    instances: Vec<RawInstance>,
}

#[derive(Deserialize)]
struct RawInstance {
    #[serde(default)]
    index_key: Option<InstanceKey>,
    #[serde(default)]
    attributes: Option<RawJson>,
    #[serde(default)]
    dependencies: Vec<String>,
    #[serde(default)]
    deposed: Option<String>,
    #[serde(default)]
    sensitive_attributes: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ShowValues {
    #[serde(default)]
    root_module: Option<ShowModule>,
    #[serde(default)]
    outputs: Option<BTreeMap<String, RawOutput>>,
}

#[derive(Deserialize)]
struct ShowModule {
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    resources: Vec<ShowResource>,
    #[serde(default)]
    child_modules: Vec<ShowModule>,
}

#[derive(Deserialize)]
struct ShowResource {
    address: String,
    #[serde(default, deserialize_with = "crate::model::mode_or_default")]
    mode: ResourceMode,
    #[serde(rename = "type")]
    resource_type: String,
    name: String,
    #[serde(default)]
    index: Option<InstanceKey>,
    #[serde(default)]
    provider_name: Option<String>,
    #[serde(default)]
    values: Option<RawJson>,
    #[serde(default)]
    sensitive_values: Option<RawJson>,
    #[serde(default)]
    depends_on: Vec<String>,
}

/// Reads state JSON from bytes in any supported encoding.
pub fn read_state(bytes: &[u8]) -> Result<State, PlanError> {
    let text = decode_text(bytes)?;
    expect_object(&text)?;
    crate::read::check_depth(&text)?;
    let doc: StateDocument = serde_json::from_str(&text).map_err(|e| {
        let mut de = serde_json::Deserializer::from_str(&text);
        match serde_path_to_error::deserialize::<_, StateDocument>(&mut de) {
            Err(pe) => {
                let path = pe.path().to_string();
                PlanError::from_json(pe.into_inner(), &path)
            }
            Ok(_) => PlanError::from_json(e, ""),
        }
    })?;
    if doc.resource_changes.is_some() || doc.planned_values.is_some() {
        return Err(PlanError::WrongDocument(
            "this is a plan, not a state; pass terraform.tfstate or the output of `terraform show -json` without a plan file".into(),
        ));
    }
    if let Some(resources) = doc.resources {
        match doc.version {
            Some(4) => {}
            Some(v) => {
                return Err(PlanError::UnsupportedVersion {
                    found: v.to_string(),
                    supported: "state version 4 (Terraform 0.12 and later)",
                })
            }
            None => {
                return Err(PlanError::Shape {
                    path: "version".into(),
                    message: "a raw state needs \"version\": 4".into(),
                })
            }
        }
        let mut out = Vec::new();
        for r in resources {
            let prefix = match &r.mode {
                ResourceMode::Managed => format!("{}.{}", r.resource_type, r.name),
                ResourceMode::Data => format!("data.{}.{}", r.resource_type, r.name),
            };
            for inst in r.instances {
                if inst.deposed.is_some() {
                    continue;
                }
                let key = match &inst.index_key {
                    None => String::new(),
                    Some(InstanceKey::Int(i)) => format!("[{i}]"),
                    Some(InstanceKey::Str(s)) => {
                        format!("[{}]", serde_json::Value::String(s.clone()))
                    }
                };
                let address = match &r.module {
                    Some(m) => format!("{m}.{prefix}{key}"),
                    None => format!("{prefix}{key}"),
                };
                out.push(StateResource {
                    address,
                    module_address: r.module.clone(),
                    mode: r.mode,
                    resource_type: r.resource_type.clone(),
                    name: r.name.clone(),
                    index: inst.index_key,
                    provider_name: r.provider.clone(),
                    values: inst
                        .attributes
                        .map(unwrap_dynamic)
                        .unwrap_or_else(|| RawJson::from_value(&serde_json::Value::Null)),
                    sensitive_values: inst.sensitive_attributes.as_ref().and_then(mask_from_paths),
                    depends_on: inst.dependencies,
                });
            }
        }
        check_unique(&out)?;
        return Ok(State {
            form: StateForm::RawV4,
            terraform_version: doc.terraform_version,
            serial: doc.serial,
            lineage: doc.lineage,
            resources: out,
            outputs: outputs_of(doc.outputs),
        });
    }
    if doc.values.is_some() || doc.format_version.is_some() {
        let mut out = Vec::new();
        let mut outputs = None;
        if let Some(values) = doc.values {
            outputs = values.outputs;
            if let Some(root) = values.root_module {
                flatten(root, &mut out);
            }
        }
        check_unique(&out)?;
        return Ok(State {
            form: StateForm::ShowJson,
            terraform_version: doc.terraform_version,
            serial: None,
            lineage: None,
            resources: out,
            outputs: outputs_of(outputs),
        });
    }
    Err(PlanError::WrongDocument(
        "not a Terraform state: expected \"version\": 4 with \"resources\", or \"format_version\" with \"values\"".into(),
    ))
}

/// Terraform never writes one instance twice; a state that does is damaged
/// (or made up), and any diff of it would silently drop one of the two.
fn check_unique(resources: &[StateResource]) -> Result<(), PlanError> {
    let mut seen = std::collections::HashSet::with_capacity(resources.len());
    for r in resources {
        if !seen.insert(r.address.as_str()) {
            return Err(PlanError::Shape {
                path: "resources".into(),
                message: format!(
                    "resource instance {} appears twice",
                    crate::error::clip(&r.address, 200)
                ),
            });
        }
    }
    Ok(())
}

/// Turns a raw state's `sensitive_attributes` (a list of paths, each a list
/// of steps `{"type": "get_attr", "value": NAME}` or `{"type": "index",
/// "value": KEY}`, KEY plain or cty-typed `{"value": K, "type": T}`) into a
/// mask shaped like the values, as the show-json form has it. A step that
/// cannot be understood marks everything from there on sensitive: when in
/// doubt, mask more, never less. `None` when nothing is marked.
pub fn mask_from_paths(paths: &serde_json::Value) -> Option<RawJson> {
    use serde_json::Value;
    let list = paths.as_array()?;
    let mut mask = Value::Object(serde_json::Map::new());
    let mut any = false;
    for path in list {
        let Some(steps) = path.as_array() else {
            // Not a path at all: mask the whole object.
            return Some(RawJson::from_value(&Value::Bool(true)));
        };
        if steps.is_empty() {
            return Some(RawJson::from_value(&Value::Bool(true)));
        }
        any = true;
        mark(&mut mask, steps);
    }
    any.then(|| RawJson::from_value(&mask))
}

fn mark(node: &mut serde_json::Value, steps: &[serde_json::Value]) {
    use serde_json::Value;
    const MAX_INDEX: u64 = 100_000;
    let Some((step, rest)) = steps.split_first() else {
        *node = Value::Bool(true);
        return;
    };
    if node == &Value::Bool(true) {
        return;
    }
    let raw_key = step.get("value");
    // cty-typed index keys: {"value": K, "type": "number"|"string"}.
    let key = match raw_key {
        Some(Value::Object(o)) if o.contains_key("value") => o.get("value"),
        k => k,
    };
    let kind = step.get("type").and_then(Value::as_str);
    match (kind, key) {
        (Some("get_attr"), Some(Value::String(k))) | (Some("index"), Some(Value::String(k))) => {
            if !node.is_object() {
                *node = Value::Object(serde_json::Map::new());
            }
            if let Value::Object(m) = node {
                let child = m.entry(k.clone()).or_insert(Value::Null);
                if child.is_null() {
                    *child = Value::Object(serde_json::Map::new());
                }
                mark(child, rest);
            }
        }
        (Some("index"), Some(Value::Number(n))) if n.as_u64().is_some_and(|i| i <= MAX_INDEX) => {
            let i = n.as_u64().unwrap_or(0) as usize;
            if !node.is_array() {
                *node = Value::Array(Vec::new());
            }
            if let Value::Array(a) = node {
                while a.len() <= i {
                    a.push(Value::Bool(false));
                }
                if let Some(slot) = a.get_mut(i) {
                    if *slot == Value::Bool(false) {
                        *slot = Value::Object(serde_json::Map::new());
                    }
                    mark(slot, rest);
                }
            }
        }
        _ => *node = Value::Bool(true),
    }
}

/// Raw state stores attributes of dynamic type (`terraform_data.input`, …)
/// as `{"value": V, "type": T}`; `show -json` prints plain `V`. Unwraps such
/// top-level attributes so both forms give the same values.
fn unwrap_dynamic(attrs: RawJson) -> RawJson {
    if !attrs.text().contains("\"type\"") {
        return attrs;
    }
    let serde_json::Value::Object(mut map) = attrs.value_or_null().clone() else {
        return attrs;
    };
    let mut changed = false;
    for v in map.values_mut() {
        if let serde_json::Value::Object(o) = v {
            let is_type = |t: &serde_json::Value| t.is_string() || t.is_array();
            if o.len() == 2 && o.contains_key("value") && o.get("type").is_some_and(is_type) {
                *v = o.remove("value").unwrap_or(serde_json::Value::Null);
                changed = true;
            }
        }
    }
    if changed {
        RawJson::from_value(&serde_json::Value::Object(map))
    } else {
        attrs
    }
}

fn flatten(module: ShowModule, out: &mut Vec<StateResource>) {
    for r in module.resources {
        out.push(StateResource {
            address: r.address,
            module_address: module.address.clone(),
            mode: r.mode,
            resource_type: r.resource_type,
            name: r.name,
            index: r.index,
            provider_name: r.provider_name,
            values: r
                .values
                .unwrap_or_else(|| RawJson::from_value(&serde_json::Value::Null)),
            sensitive_values: r.sensitive_values,
            depends_on: r.depends_on,
        });
    }
    for child in module.child_modules {
        flatten(child, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_v4_and_show_json() -> Result<(), PlanError> {
        let raw = br#"{"version":4,"terraform_version":"1.11.4","serial":3,"lineage":"l","outputs":{},
            "resources":[{"module":"module.a[\"x\"]","mode":"managed","type":"terraform_data","name":"n",
            "provider":"provider[\"terraform.io/builtin/terraform\"]",
            "instances":[{"index_key":0,"schema_version":0,"attributes":{"id":"1"}},{"index_key":1,"attributes":{"id":"2"}}]}]}"#;
        let s = read_state(raw)?;
        assert_eq!(s.form, StateForm::RawV4);
        assert_eq!(s.resources.len(), 2);
        assert_eq!(
            s.resources[1].address,
            "module.a[\"x\"].terraform_data.n[1]"
        );
        let show = br#"{"format_version":"1.0","values":{"root_module":{"resources":[{"address":"a_b.c","mode":"managed","type":"a_b","name":"c","values":{"x":1}}],
            "child_modules":[{"address":"module.m","resources":[{"address":"module.m.a_b.d","type":"a_b","name":"d","values":{}}]}]}}}"#;
        let s = read_state(show)?;
        assert_eq!(s.form, StateForm::ShowJson);
        assert_eq!(s.resources.len(), 2);
        assert_eq!(s.resources[1].module_address.as_deref(), Some("module.m"));
        Ok(())
    }

    #[test]
    fn plans_and_old_versions_are_refused() {
        let e = read_state(br#"{"format_version":"1.2","resource_changes":[]}"#)
            .err()
            .map(|e| e.to_string());
        assert!(e.unwrap_or_default().contains("this is a plan"));
        let e = read_state(br#"{"version":3,"resources":[]}"#)
            .err()
            .map(|e| e.to_string());
        assert!(e.unwrap_or_default().contains("unsupported"));
    }
}
