//! Two states of one stack compared: which resource instances were added,
//! removed or changed, and for changed ones every attribute path old → new,
//! with sensitive values masked. Also the plan that would take a stack from
//! its current state back to an earlier one ([`restore_plan`]), so that a
//! rollback is judged like any other change.
//!
//! Sensitive values are the ones a state marks: raw v4 `sensitive_attributes`
//! (turned into masks by the reader) and show-json `sensitive_values`, and the
//! values of outputs declared sensitive. Providers copy marked values into
//! unmarked attributes (`terraform_data.output` mirrors `input`), so every
//! occurrence of a marked string anywhere in either state is masked too.

use crate::diff::{attribute_changes_masked, AttributeChange, DiffValue};
use crate::json::RawJson;
use crate::model::{Action, Change, InstanceKey, ResourceMode};
use crate::sensitive::{change_sensitive_strings, mask_value, Redactor};
use crate::state::{State, StateOutput, StateResource};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// How a resource instance or output differs between two states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DeltaKind {
    /// Only in the newer state.
    Added,
    /// Only in the older state.
    Removed,
    /// In both, with different values.
    Changed,
}

impl DeltaKind {
    /// `added`, `removed` or `changed`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeltaKind::Added => "added",
            DeltaKind::Removed => "removed",
            DeltaKind::Changed => "changed",
        }
    }
}

/// One resource instance that differs.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceDelta {
    /// Full address, with module and instance key.
    pub address: String,
    /// `managed` or `data`.
    pub mode: ResourceMode,
    /// Resource type.
    pub resource_type: String,
    /// Added, removed or changed.
    pub kind: DeltaKind,
    /// Changed, and its `id` differs: the remote object was destroyed and
    /// created again between the two states.
    pub replaced: bool,
    /// Every attribute leaf that differs (all of them for added and removed
    /// instances), in path order; sensitive values are masked.
    pub attributes: Vec<AttributeChange>,
}

/// One root output that differs.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputDelta {
    /// Output name.
    pub name: String,
    /// Added, removed or changed.
    pub kind: DeltaKind,
    /// Declared sensitive in either state (both sides are then
    /// [`DiffValue::Sensitive`]).
    pub sensitive: bool,
    /// Old value ([`DiffValue::Absent`] when added).
    pub before: DiffValue,
    /// New value ([`DiffValue::Absent`] when removed).
    pub after: DiffValue,
}

/// The difference between an older and a newer state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StateDiff {
    /// Instances that differ, by address.
    pub resources: Vec<ResourceDelta>,
    /// Outputs that differ, by name.
    pub outputs: Vec<OutputDelta>,
    /// Instances present in both with equal values.
    pub unchanged: usize,
}

impl StateDiff {
    /// Number of resource instances of one kind.
    pub fn count(&self, kind: DeltaKind) -> usize {
        self.resources.iter().filter(|r| r.kind == kind).count()
    }

    /// No resource and no output differs.
    pub fn is_empty(&self) -> bool {
        self.resources.is_empty() && self.outputs.is_empty()
    }
}

/// Every string (and number, as text) that `state` marks sensitive: marked
/// attribute values and the values of sensitive outputs. Strings shorter than
/// [`crate::sensitive::MIN_REDACT_LEN`] are left out (they are still masked
/// where marked).
pub fn state_sensitive_strings(state: &State) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for r in &state.resources {
        if let Some(mask) = &r.sensitive_values {
            out.extend(change_sensitive_strings(&marked(&r.values, mask)));
        }
    }
    let all = RawJson::from_value(&Value::Bool(true));
    for o in state.outputs.values().filter(|o| o.sensitive) {
        out.extend(change_sensitive_strings(&marked(&o.value, &all)));
    }
    out
}

/// A change whose `before` is `value` under `mask` (to reuse the plan
/// readers' collection of sensitive strings).
fn marked(value: &RawJson, mask: &RawJson) -> Change {
    Change {
        actions: Vec::new(),
        before: Some(value.clone()),
        after: None,
        after_unknown: None,
        before_sensitive: Some(mask.clone()),
        after_sensitive: None,
        replace_paths: None,
        importing: None,
        generated_config: None,
    }
}

/// Masks the sensitive values of one or more states: what is marked becomes
/// `"(sensitive)"`, and every marked string of any of the states is replaced
/// wherever else it occurs.
pub struct StateRedactor {
    redactor: Redactor,
}

impl StateRedactor {
    /// A redactor for the sensitive strings of all of `states`.
    pub fn for_states(states: &[&State]) -> StateRedactor {
        let mut secrets = BTreeSet::new();
        for s in states {
            secrets.extend(state_sensitive_strings(s));
        }
        StateRedactor {
            redactor: Redactor::new(&secrets),
        }
    }

    /// The instance's attribute values with sensitive parts masked.
    pub fn resource_values(&self, r: &StateResource) -> Value {
        let mut v = match &r.sensitive_values {
            Some(mask) => mask_value(r.values.value_or_null(), mask.value_or_null()),
            None => r.values.value_or_null().clone(),
        };
        self.redactor.json(&mut v);
        v
    }

    /// The output's value, or the marker when it is sensitive.
    pub fn output_value(&self, o: &StateOutput) -> Value {
        if o.sensitive {
            return Value::String(crate::sensitive::SENSITIVE_MARKER.into());
        }
        let mut v = o.value.value_or_null().clone();
        self.redactor.json(&mut v);
        v
    }
}

fn same_json(a: &RawJson, b: &RawJson) -> bool {
    a.text() == b.text() || a.value_or_null() == b.value_or_null()
}

/// The `id` attribute of an instance, when it has one.
fn id_of(r: &StateResource) -> Option<&Value> {
    r.values.value_or_null().get("id").filter(|v| !v.is_null())
}

fn by_address(state: &State) -> BTreeMap<&str, &StateResource> {
    state
        .resources
        .iter()
        .map(|r| (r.address.as_str(), r))
        .collect()
}

fn change_between(before: Option<&StateResource>, after: Option<&StateResource>) -> Change {
    Change {
        actions: Vec::new(),
        before: before.map(|r| r.values.clone()),
        after: after.map(|r| r.values.clone()),
        after_unknown: None,
        before_sensitive: before.and_then(|r| r.sensitive_values.clone()),
        after_sensitive: after.and_then(|r| r.sensitive_values.clone()),
        replace_paths: None,
        importing: None,
        generated_config: None,
    }
}

/// What changed from `from` (older) to `to` (newer), resource instance by
/// resource instance and output by output. Guarantee: no value either state
/// marks sensitive appears in the result, not even copied into an unmarked
/// attribute.
pub fn diff_states(from: &State, to: &State) -> StateDiff {
    let redactor = StateRedactor::for_states(&[from, to]);
    let old = by_address(from);
    let new = by_address(to);
    let mut addresses: Vec<&str> = old.keys().chain(new.keys()).copied().collect();
    addresses.sort_unstable();
    addresses.dedup();
    let mut out = StateDiff::default();
    for address in addresses {
        let (b, a) = (old.get(address).copied(), new.get(address).copied());
        let (kind, replaced) = match (b, a) {
            (Some(b), Some(a)) => {
                if b.values.text() == a.values.text() {
                    out.unchanged += 1;
                    continue;
                }
                (
                    DeltaKind::Changed,
                    id_of(b).is_some() && id_of(b) != id_of(a),
                )
            }
            (None, Some(_)) => (DeltaKind::Added, false),
            (Some(_), None) => (DeltaKind::Removed, false),
            (None, None) => continue,
        };
        let attributes = attribute_changes_masked(&change_between(b, a), &redactor.redactor);
        if kind == DeltaKind::Changed && attributes.is_empty() {
            // The same values written differently (raw vs show-json form).
            out.unchanged += 1;
            continue;
        }
        let Some(r) = a.or(b) else { continue };
        out.resources.push(ResourceDelta {
            address: address.to_string(),
            mode: r.mode,
            resource_type: r.resource_type.clone(),
            kind,
            replaced,
            attributes,
        });
    }
    let mut names: Vec<&String> = from.outputs.keys().chain(to.outputs.keys()).collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        let (b, a) = (from.outputs.get(name), to.outputs.get(name));
        let kind = match (b, a) {
            (Some(b), Some(a)) if same_json(&b.value, &a.value) && b.sensitive == a.sensitive => {
                continue
            }
            (Some(_), Some(_)) => DeltaKind::Changed,
            (None, Some(_)) => DeltaKind::Added,
            (Some(_), None) => DeltaKind::Removed,
            (None, None) => continue,
        };
        let sensitive = b.is_some_and(|o| o.sensitive) || a.is_some_and(|o| o.sensitive);
        let side = |o: Option<&StateOutput>| match o {
            None => DiffValue::Absent,
            Some(_) if sensitive => DiffValue::Sensitive,
            Some(o) => DiffValue::Known(redactor.output_value(o)),
        };
        out.outputs.push(OutputDelta {
            name: name.clone(),
            kind,
            sensitive,
            before: side(b),
            after: side(a),
        });
    }
    out
}

/// The plan that returns a stack from `current` to `target`, and the
/// changing resource instances with their actions.
#[derive(Debug, Clone)]
pub struct RestorePlan {
    /// A plan document as `terraform show -json PLANFILE` prints it (format
    /// 1.2), as JSON text: `resource_changes` for every managed instance of
    /// either state, `before` = the current values, `after` = the target's,
    /// with their sensitive masks; `output_changes` likewise. It holds the
    /// states' values unmasked (the judge needs them; it redacts what the
    /// masks mark). Values are copied as the states hold them, not re-parsed.
    pub document: String,
    /// Instances that change, by address, with their action.
    pub changes: Vec<(String, Action)>,
    /// Outputs that change.
    pub outputs_changed: usize,
}

/// `provider["registry.terraform.io/hashicorp/aws"].west` (raw state) →
/// `registry.terraform.io/hashicorp/aws` (the plan's `provider_name`).
fn provider_source(p: &str) -> &str {
    match (p.find("provider[\""), p.rfind("\"]")) {
        (Some(s), Some(e)) if e > s + 10 => &p[s + 10..e],
        _ => p,
    }
}

/// One value of the plan document: a state's own JSON text where possible.
enum Side<'a> {
    Raw(&'a RawJson),
    Owned(Value),
    Null,
    Bool(bool),
    EmptyObject,
}

impl serde::Serialize for Side<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Side::Raw(r) => r.serialize(s),
            Side::Owned(v) => v.serialize(s),
            Side::Null => s.serialize_unit(),
            Side::Bool(b) => s.serialize_bool(*b),
            Side::EmptyObject => serde::ser::SerializeMap::end(s.serialize_map(Some(0))?),
        }
    }
}

#[derive(serde::Serialize)]
struct ChangeOut<'a> {
    actions: &'static [&'static str],
    before: Side<'a>,
    after: Side<'a>,
    after_unknown: Side<'a>,
    before_sensitive: Side<'a>,
    after_sensitive: Side<'a>,
}

#[derive(serde::Serialize)]
struct EntryOut<'a> {
    address: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    module_address: Option<&'a str>,
    mode: &'static str,
    #[serde(rename = "type")]
    resource_type: &'a str,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<&'a InstanceKey>,
    #[serde(skip_serializing_if = "Option::is_none")]
    provider_name: Option<&'a str>,
    change: ChangeOut<'a>,
}

#[derive(serde::Serialize)]
struct OutputOut<'a> {
    actions: &'static [&'static str],
    before: Side<'a>,
    after: Side<'a>,
    after_unknown: bool,
    before_sensitive: bool,
    after_sensitive: bool,
}

#[derive(serde::Serialize)]
struct PlanOut<'a> {
    format_version: &'static str,
    terraform_version: Option<&'a str>,
    resource_changes: Vec<EntryOut<'a>>,
    output_changes: BTreeMap<&'a str, OutputOut<'a>>,
    applyable: bool,
    complete: bool,
    errored: bool,
}

fn output_side(o: Option<&StateOutput>) -> Side<'_> {
    o.map_or(Side::Null, |o| Side::Raw(&o.value))
}

fn mask_side(r: &StateResource) -> Side<'_> {
    r.sensitive_values
        .as_ref()
        .map_or(Side::EmptyObject, Side::Raw)
}

/// After values of an object created again: the old `id` cannot come back,
/// so it is known only after apply, as Terraform plans it.
fn recreated(r: &StateResource) -> (Side<'_>, Side<'_>) {
    let has_id = crate::json::object_members(r.values.text())
        .is_some_and(|m| m.iter().any(|(k, v)| k == "id" && v.get() != "null"));
    if !has_id {
        return (Side::Raw(&r.values), Side::EmptyObject);
    }
    let mut after = r.values.value_or_null().clone();
    if let Value::Object(o) = &mut after {
        o.remove("id");
    }
    (Side::Owned(after), Side::Owned(json!({"id": true})))
}

fn entry<'a>(
    r: &'a StateResource,
    action: Action,
    before: Option<&'a StateResource>,
    after: Option<&'a StateResource>,
) -> EntryOut<'a> {
    let (after_value, after_unknown) = match after {
        None => (Side::Null, Side::EmptyObject),
        Some(a) if matches!(action, Action::Create | Action::DeleteThenCreate) => recreated(a),
        Some(a) => (Side::Raw(&a.values), Side::EmptyObject),
    };
    EntryOut {
        address: &r.address,
        module_address: r.module_address.as_deref(),
        mode: "managed",
        resource_type: &r.resource_type,
        name: &r.name,
        index: r.index.as_ref(),
        provider_name: r.provider_name.as_deref().map(provider_source),
        change: ChangeOut {
            actions: action.as_list(),
            before: before.map_or(Side::Null, |b| Side::Raw(&b.values)),
            after: after_value,
            after_unknown,
            before_sensitive: before.map_or(Side::Bool(false), mask_side),
            after_sensitive: after.map_or(Side::Bool(false), mask_side),
        },
    }
}

/// The plan that takes a stack whose state is `current` back to `target`:
/// an instance only in `target` is created, one only in `current` deleted,
/// one whose values differ updated in place, or replaced (delete, then
/// create) when its `id` differs (the target's object no longer exists).
/// Data sources are left out (they are read, not changed). Outputs are
/// compared the same way.
pub fn restore_plan(current: &State, target: &State) -> RestorePlan {
    fn managed(s: &State) -> BTreeMap<&str, &StateResource> {
        s.resources
            .iter()
            .filter(|r| r.mode == ResourceMode::Managed)
            .map(|r| (r.address.as_str(), r))
            .collect()
    }
    let now = managed(current);
    let then = managed(target);
    let mut addresses: Vec<&str> = now.keys().chain(then.keys()).copied().collect();
    addresses.sort_unstable();
    addresses.dedup();
    let mut entries = Vec::with_capacity(addresses.len());
    let mut changes = Vec::new();
    for address in addresses {
        let (b, a) = (now.get(address).copied(), then.get(address).copied());
        let action = match (b, a) {
            (Some(b), Some(a)) if same_json(&b.values, &a.values) => Action::NoOp,
            (Some(b), Some(a)) if id_of(b).is_some() && id_of(b) != id_of(a) => {
                Action::DeleteThenCreate
            }
            (Some(_), Some(_)) => Action::Update,
            (None, Some(_)) => Action::Create,
            (Some(_), None) => Action::Delete,
            (None, None) => continue,
        };
        let Some(r) = a.or(b) else { continue };
        entries.push(entry(r, action, b, a));
        if action != Action::NoOp {
            changes.push((address.to_string(), action));
        }
    }
    let mut outputs = BTreeMap::new();
    let mut outputs_changed = 0;
    let mut names: Vec<&String> = current
        .outputs
        .keys()
        .chain(target.outputs.keys())
        .collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        let (b, a) = (current.outputs.get(name), target.outputs.get(name));
        let action = match (b, a) {
            (Some(b), Some(a)) if same_json(&b.value, &a.value) => Action::NoOp,
            (Some(_), Some(_)) => Action::Update,
            (None, Some(_)) => Action::Create,
            (Some(_), None) => Action::Delete,
            (None, None) => continue,
        };
        if action != Action::NoOp {
            outputs_changed += 1;
        }
        outputs.insert(
            name.as_str(),
            OutputOut {
                actions: action.as_list(),
                before: output_side(b),
                after: output_side(a),
                after_unknown: false,
                before_sensitive: b.is_some_and(|o| o.sensitive),
                after_sensitive: a.is_some_and(|o| o.sensitive),
            },
        );
    }
    let doc = PlanOut {
        format_version: "1.2",
        terraform_version: current
            .terraform_version
            .as_deref()
            .or(target.terraform_version.as_deref()),
        resource_changes: entries,
        output_changes: outputs,
        applyable: !changes.is_empty() || outputs_changed > 0,
        complete: true,
        errored: false,
    };
    // Serialising borrowed text and values into a String cannot fail.
    let document = serde_json::to_string(&doc).unwrap_or_default();
    RestorePlan {
        document,
        changes,
        outputs_changed,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::state::read_state;

    fn raw(serial: u64, resources: &str, outputs: &str) -> State {
        let text = format!(
            r#"{{"version":4,"terraform_version":"1.11.4","serial":{serial},"lineage":"l1","outputs":{{{outputs}}},"resources":[{resources}]}}"#
        );
        read_state(text.as_bytes()).unwrap()
    }

    fn data(name: &str, id: &str, input: &str, sensitive: &str) -> String {
        format!(
            r#"{{"mode":"managed","type":"terraform_data","name":"{name}","provider":"provider[\"terraform.io/builtin/terraform\"]",
            "instances":[{{"schema_version":0,"attributes":{{"id":"{id}","input":{{"value":{input},"type":"dynamic"}},"output":{{"value":{input},"type":"dynamic"}}}},"sensitive_attributes":{sensitive}}}]}}"#
        )
    }

    fn lines(d: &StateDiff) -> Vec<String> {
        let mut out = Vec::new();
        for r in &d.resources {
            out.push(format!(
                "{} {}{}",
                r.kind.as_str(),
                r.address,
                if r.replaced { " (replaced)" } else { "" }
            ));
            for a in &r.attributes {
                out.push(format!(
                    "  {}: {} -> {}",
                    a.path,
                    a.before.render(),
                    a.after.render()
                ));
            }
        }
        for o in &d.outputs {
            out.push(format!(
                "output {} {}: {} -> {}",
                o.kind.as_str(),
                o.name,
                o.before.render(),
                o.after.render()
            ));
        }
        out
    }

    #[test]
    fn resources_are_added_removed_and_changed_with_secrets_masked() {
        let secret_path =
            r#"[[{"type":"get_attr","value":"input"},{"type":"get_attr","value":"key"}]]"#;
        let v1 = raw(
            1,
            &[
                data("keep", "k1", r#""same""#, "[]"),
                data("app", "a1", r#"{"image":"app:1"}"#, "[]"),
                data("gone", "g1", r#""bye""#, "[]"),
                data("cred", "c1", r#"{"key":"hunter2-old-secret"}"#, secret_path),
            ]
            .join(","),
            r#""tok":{"value":"out-secret-1","type":"string","sensitive":true},"img":{"value":"app:1","type":"string"}"#,
        );
        let v2 = raw(
            2,
            &[
                data("keep", "k1", r#""same""#, "[]"),
                data("app", "a2", r#"{"image":"app:2"}"#, "[]"),
                data("new", "n1", r#""hello""#, "[]"),
                data("cred", "c1", r#"{"key":"hunter2-new-secret"}"#, secret_path),
            ]
            .join(","),
            r#""tok":{"value":"out-secret-2","type":"string","sensitive":true},"img":{"value":"app:2","type":"string"}"#,
        );
        let d = diff_states(&v1, &v2);
        let text = lines(&d).join("\n");
        for secret in ["hunter2", "out-secret"] {
            assert!(!text.contains(secret), "{text}");
        }
        assert_eq!(d.unchanged, 1);
        assert_eq!(
            (
                d.count(DeltaKind::Added),
                d.count(DeltaKind::Removed),
                d.count(DeltaKind::Changed)
            ),
            (1, 1, 2)
        );
        let want = [
            "changed terraform_data.app (replaced)",
            "  id: \"a1\" -> \"a2\"",
            "  input.image: \"app:1\" -> \"app:2\"",
            "  output.image: \"app:1\" -> \"app:2\"",
            "changed terraform_data.cred",
            "  input.key: \"(sensitive)\" -> \"(sensitive)\"",
            // Unmarked, but the same string as the marked input: masked too.
            "  output.key: \"(sensitive)\" -> \"(sensitive)\"",
            "removed terraform_data.gone",
            "  id: \"g1\" -> null",
            "  input: \"bye\" -> null",
            "  output: \"bye\" -> null",
            "added terraform_data.new",
            "  id: null -> \"n1\"",
            "  input: null -> \"hello\"",
            "  output: null -> \"hello\"",
            "output changed img: \"app:1\" -> \"app:2\"",
            "output changed tok: \"(sensitive)\" -> \"(sensitive)\"",
        ];
        assert_eq!(lines(&d), want);
        assert!(diff_states(&v2, &v2).is_empty());
    }

    #[test]
    fn the_restore_plan_creates_deletes_updates_and_replaces() {
        let v1 = raw(
            1,
            &[
                data("keep", "k1", r#""same""#, "[]"),
                data("app", "a1", r#""app:1""#, "[]"),
                data("cfg", "f1", r#""one""#, "[]"),
                data("gone", "g1", r#""bye""#, "[]"),
            ]
            .join(","),
            "",
        );
        let v2 = raw(
            2,
            &[
                data("keep", "k1", r#""same""#, "[]"),
                data("app", "a2", r#""app:2""#, "[]"),
                data("cfg", "f1", r#""two""#, "[]"),
                data("new", "n1", r#""hello""#, "[]"),
            ]
            .join(","),
            "",
        );
        // Back from v2 to v1.
        let p = restore_plan(&v2, &v1);
        let got: Vec<String> = p
            .changes
            .iter()
            .map(|(a, act)| format!("{a} {act}"))
            .collect();
        assert_eq!(
            got,
            [
                "terraform_data.app delete,create",
                "terraform_data.cfg update",
                "terraform_data.gone create",
                "terraform_data.new delete",
            ]
        );
        let plan = crate::read::read_plan_str(&p.document.to_string()).unwrap();
        assert_eq!(plan.resource_changes.len(), 5);
        let gone = plan
            .resource_changes
            .iter()
            .find(|r| r.address == "terraform_data.gone");
        let after = gone
            .and_then(|r| r.change.after.as_ref())
            .map(|a| a.value_or_null().clone());
        assert_eq!(after, Some(json!({"input": "bye", "output": "bye"})));
        let unknown = gone
            .and_then(|r| r.change.after_unknown.as_ref())
            .map(|a| a.value_or_null().clone());
        assert_eq!(unknown, Some(json!({"id": true})));
        assert_eq!(
            gone.and_then(|r| r.provider_name.as_deref()),
            Some("terraform.io/builtin/terraform")
        );
        assert!(restore_plan(&v1, &v1).changes.is_empty());
    }

    #[test]
    fn sensitive_paths_become_masks() {
        let paths = json!([
            [{"type": "get_attr", "value": "input"}, {"type": "get_attr", "value": "secret"}],
            [{"type": "get_attr", "value": "rules"}, {"type": "index", "value": {"value": 1, "type": "number"}}, {"type": "get_attr", "value": "cidr"}],
            [{"type": "get_attr", "value": "tags"}, {"type": "index", "value": {"value": "owner", "type": "string"}}],
        ]);
        let m = crate::state::mask_from_paths(&paths).map(|m| m.value_or_null().clone());
        assert_eq!(
            m,
            Some(
                json!({"input": {"secret": true}, "rules": [false, {"cidr": true}], "tags": {"owner": true}})
            )
        );
        // A step we do not understand masks everything below it.
        let odd = json!([[{"type": "get_attr", "value": "a"}, {"type": "splat"}]]);
        let m = crate::state::mask_from_paths(&odd).map(|m| m.value_or_null().clone());
        assert_eq!(m, Some(json!({"a": true})));
        assert!(crate::state::mask_from_paths(&json!([])).is_none());
    }
}
