//! Mechanical fixes: what a rule declares will make its finding go away, as
//! steps on a resource's attribute values (`metadata_options[0].http_tokens`
//! set to `"required"`), and the counterfactual verdict of a plan with every
//! fix applied.
//!
//! A step is a path into an object of attribute values and an action. The
//! path grammar is `name ( "[" N "]" | "[*]" )* ( "." name ( … )* )*`:
//! `[N]` is one element of a list (a nested block), `[*]` every element.
//! Applying a step to an object creates what is missing on the way (a `[0]`
//! of an absent or empty list becomes a one-element list), so a fix for
//! "no `metadata_options` block" is the same step as for a block that says
//! `optional`.

use crate::{Decision, Effect, Severity};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// One segment of an [`AttrPath`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathSegment {
    /// An attribute or nested block name.
    Key(String),
    /// One element of a list.
    Index(usize),
    /// Every element of a list (`[*]`).
    All,
    /// The elements (nested blocks) whose field has this value
    /// (`[name=rds.force_ssl]`); numbers and booleans compare as written.
    Where(String, String),
}

/// A path into a resource's attribute values, e.g. `metadata_options[0].http_tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttrPath(Vec<PathSegment>);

/// Why a path or a fix step is not valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixSyntaxError {
    /// The text that was read.
    pub text: String,
    /// What is wrong with it.
    pub problem: String,
}

impl fmt::Display for FixSyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.text, self.problem)
    }
}

impl std::error::Error for FixSyntaxError {}

impl AttrPath {
    /// The segments, first to last.
    pub fn segments(&self) -> &[PathSegment] {
        &self.0
    }

    /// The top-level attribute or block the path starts with.
    pub fn root(&self) -> &str {
        match self.0.first() {
            Some(PathSegment::Key(k)) => k,
            _ => "",
        }
    }
}

impl FromStr for AttrPath {
    type Err = FixSyntaxError;

    fn from_str(text: &str) -> Result<AttrPath, FixSyntaxError> {
        let bad = |problem: &str| FixSyntaxError {
            text: text.to_string(),
            problem: problem.to_string(),
        };
        let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        let mut segs = Vec::new();
        let mut rest = text;
        loop {
            let end = rest.find(|c: char| !is_name(c)).unwrap_or(rest.len());
            if end == 0 {
                return Err(bad(
                    "every segment starts with an attribute name (letters, digits, `_`, `-`)",
                ));
            }
            segs.push(PathSegment::Key(rest[..end].to_string()));
            rest = &rest[end..];
            while let Some(after) = rest.strip_prefix('[') {
                let Some(close) = after.find(']') else {
                    return Err(bad("unclosed `[`"));
                };
                let inner = &after[..close];
                if inner == "*" {
                    segs.push(PathSegment::All);
                } else if let Some((field, value)) = inner.split_once('=') {
                    if field.is_empty() || !field.chars().all(is_name) || value.is_empty() {
                        return Err(bad("a selector is `[field=value]`"));
                    }
                    segs.push(PathSegment::Where(field.to_string(), value.to_string()));
                } else {
                    let n: usize = inner
                        .parse()
                        .map_err(|_| bad("an index is a number, `*` or `field=value`"))?;
                    segs.push(PathSegment::Index(n));
                }
                rest = &after[close + 1..];
            }
            if rest.is_empty() {
                return Ok(AttrPath(segs));
            }
            match rest.strip_prefix('.') {
                Some(r) => rest = r,
                None => return Err(bad("expected `.`, `[` or the end after a segment")),
            }
        }
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            match s {
                PathSegment::Key(k) if i == 0 => write!(f, "{k}")?,
                PathSegment::Key(k) => write!(f, ".{k}")?,
                PathSegment::Index(n) => write!(f, "[{n}]")?,
                PathSegment::All => write!(f, "[*]")?,
                PathSegment::Where(k, v) => write!(f, "[{k}={v}]")?,
            }
        }
        Ok(())
    }
}

impl Serialize for AttrPath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AttrPath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What a step does at its path.
#[derive(Debug, Clone, PartialEq)]
pub enum FixAction {
    /// Set the attribute to this value (`{"path": …, "value": …}`).
    Set(serde_json::Value),
    /// Remove every element equal to this value from the list at the path
    /// (`{"path": …, "remove": …}`); an object removes the elements (nested
    /// blocks) that have all of its fields with these values.
    Remove(serde_json::Value),
}

/// One step of a fix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawStep", into = "RawStep")]
pub struct FixStep {
    /// Where, in the resource's attribute values.
    pub path: AttrPath,
    /// What to do there.
    pub action: FixAction,
    /// The resource types the step is for (a rule over several types whose
    /// attributes differ); empty: every type of the rule.
    pub types: Vec<String>,
}

impl FixStep {
    /// Whether the step is for a resource of type `ty`.
    pub fn applies_to(&self, ty: &str) -> bool {
        self.types.is_empty() || self.types.iter().any(|t| t == ty)
    }
}

/// One step of a fix as written: `path` and exactly one of `value` or
/// `remove`.
#[derive(Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "FixStep")]
struct RawStep {
    /// Attribute path in the resource's values
    /// (`metadata_options[0].http_tokens`, `ingress[*].cidr_blocks`,
    /// `parameter[name=rds.force_ssl].value`).
    path: String,
    /// Set the attribute to this value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value: Option<serde_json::Value>,
    /// Remove list elements equal to this value (an object: the nested
    /// blocks having all of its fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    remove: Option<serde_json::Value>,
    /// Resource types the step is for; empty: every type of the rule.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    types: Vec<String>,
}

impl schemars::JsonSchema for FixStep {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        RawStep::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        RawStep::json_schema(generator)
    }
}

impl TryFrom<RawStep> for FixStep {
    type Error = FixSyntaxError;

    fn try_from(raw: RawStep) -> Result<FixStep, FixSyntaxError> {
        let path: AttrPath = raw.path.parse()?;
        let action = match (raw.value, raw.remove) {
            (Some(v), None) => FixAction::Set(v),
            (None, Some(v)) => {
                let empty_object = v.as_object().is_some_and(|o| o.is_empty());
                if v.is_null() || v.is_array() || empty_object {
                    return Err(FixSyntaxError {
                        text: raw.path,
                        problem: "`remove` takes the string, number or boolean to remove, or an object of the fields an element to remove has".into(),
                    });
                }
                FixAction::Remove(v)
            }
            _ => {
                return Err(FixSyntaxError {
                    text: raw.path,
                    problem: "a step has exactly one of `value` (set) or `remove` (list element)"
                        .into(),
                })
            }
        };
        if matches!(
            path.0.last(),
            Some(PathSegment::Index(_) | PathSegment::All | PathSegment::Where(..))
        ) {
            return Err(FixSyntaxError {
                text: path.to_string(),
                problem: "a step ends with an attribute name, not an index".into(),
            });
        }
        Ok(FixStep {
            path,
            action,
            types: raw.types,
        })
    }
}

impl From<FixStep> for RawStep {
    fn from(s: FixStep) -> RawStep {
        let (value, remove) = match s.action {
            FixAction::Set(v) => (Some(v), None),
            FixAction::Remove(v) => (None, Some(v)),
        };
        RawStep {
            path: s.path.to_string(),
            value,
            remove,
            types: s.types,
        }
    }
}

impl fmt::Display for FixStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.action {
            FixAction::Set(v) => write!(f, "{} = {v}", self.path),
            FixAction::Remove(v) => write!(f, "remove {v} from {}", self.path),
        }
    }
}

/// Parses a rule's `fix` metadata: a list of steps.
pub fn parse_fix(value: &serde_json::Value) -> Result<Vec<FixStep>, FixSyntaxError> {
    let Some(items) = value.as_array() else {
        return Err(FixSyntaxError {
            text: value.to_string(),
            problem: "`fix` is a list of {\"path\": …, \"value\": …} steps".into(),
        });
    };
    if items.is_empty() {
        return Err(FixSyntaxError {
            text: value.to_string(),
            problem: "`fix` lists at least one step".into(),
        });
    }
    items
        .iter()
        .map(|item| {
            serde_json::from_value::<FixStep>(item.clone()).map_err(|e| FixSyntaxError {
                text: item.to_string(),
                problem: e.to_string(),
            })
        })
        .collect()
}

/// Applies a step to an object of attribute values and its unknown mask
/// (`true` where a value is known only later). Creates what is missing on the
/// way; a value that was unknown becomes known. Returns whether anything
/// changed.
pub fn apply_step(
    values: &mut serde_json::Value,
    unknown: &mut serde_json::Value,
    step: &FixStep,
) -> bool {
    apply_at(values, Some(unknown), &step.path.0, &step.action)
}

fn apply_at(
    node: &mut serde_json::Value,
    mut unknown: Option<&mut serde_json::Value>,
    path: &[PathSegment],
    action: &FixAction,
) -> bool {
    use serde_json::Value;
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    // The unknown mask follows the same path; an unknown ancestor (`true`)
    // becomes a container whose other members stay unknown.
    if let Some(u) = unknown.as_deref_mut() {
        if u == &Value::Bool(true) || !(u.is_object() || u.is_array()) {
            *u = match first {
                PathSegment::Key(_) => Value::Object(Default::default()),
                _ => Value::Array(Vec::new()),
            };
        }
    }
    match first {
        PathSegment::Key(k) => {
            if !node.is_object() {
                *node = Value::Object(Default::default());
            }
            let Some(obj) = node.as_object_mut() else {
                return false;
            };
            let child_unknown = match unknown {
                Some(Value::Object(u)) => {
                    if rest.is_empty() {
                        u.remove(k);
                        None
                    } else {
                        Some(u.entry(k.clone()).or_insert(Value::Bool(false)))
                    }
                }
                _ => None,
            };
            if rest.is_empty() {
                return match action {
                    FixAction::Set(v) => {
                        let old = obj.insert(k.clone(), v.clone());
                        old.as_ref() != Some(v)
                    }
                    FixAction::Remove(v) => match obj.get_mut(k) {
                        Some(Value::Array(items)) => {
                            let n = items.len();
                            items.retain(|x| !element_matches(x, v));
                            items.len() != n
                        }
                        _ => false,
                    },
                };
            }
            let child = obj.entry(k.clone()).or_insert(Value::Null);
            apply_at(child, child_unknown, rest, action)
        }
        PathSegment::Index(n) => {
            if !node.is_array() {
                *node = Value::Array(Vec::new());
            }
            let Some(items) = node.as_array_mut() else {
                return false;
            };
            if items.len() <= *n {
                // Only the next element can be created (a new block).
                if items.len() != *n {
                    return false;
                }
                items.push(Value::Object(Default::default()));
            }
            let child_unknown = match unknown {
                Some(Value::Array(u)) => {
                    while u.len() <= *n {
                        u.push(Value::Object(Default::default()));
                    }
                    u.get_mut(*n)
                }
                _ => None,
            };
            match items.get_mut(*n) {
                Some(child) => apply_at(child, child_unknown, rest, action),
                None => false,
            }
        }
        PathSegment::All | PathSegment::Where(..) => {
            let Some(items) = node.as_array_mut() else {
                return false;
            };
            let mut unknowns: Vec<Option<&mut Value>> = match unknown {
                Some(Value::Array(u)) => {
                    while u.len() < items.len() {
                        u.push(Value::Object(Default::default()));
                    }
                    u.iter_mut().map(Some).collect()
                }
                _ => Vec::new(),
            };
            let mut changed = false;
            for (i, child) in items.iter_mut().enumerate() {
                let u = unknowns.get_mut(i).and_then(Option::take);
                if let PathSegment::Where(field, value) = first {
                    if !field_is(child, field, value) {
                        continue;
                    }
                }
                changed |= apply_at(child, u, rest, action);
            }
            changed
        }
    }
}

/// Whether an object's `field` is `value` as written in a path selector
/// (a string equal to it, or a number or boolean written that way).
pub fn field_is(element: &serde_json::Value, field: &str, value: &str) -> bool {
    match element.get(field) {
        Some(serde_json::Value::String(s)) => s == value,
        Some(v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_))) => {
            serde_json::from_str::<serde_json::Value>(value).is_ok_and(|w| &w == v)
        }
        _ => false,
    }
}

/// Whether a list element is the one a `remove` names: equal to it, or, for
/// an object, having each of its fields with the same value.
pub fn element_matches(element: &serde_json::Value, wanted: &serde_json::Value) -> bool {
    match (element, wanted) {
        (serde_json::Value::Object(e), serde_json::Value::Object(w)) => {
            w.iter().all(|(k, v)| e.get(k) == Some(v))
        }
        _ => element == wanted,
    }
}

/// A finding that still holds the change (or costs points) once every fix is
/// applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RemainingFinding {
    /// Rule or critic finding ID.
    pub rule_id: String,
    /// Resource address, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The finding's message.
    pub message: String,
    /// Its severity.
    pub severity: Severity,
    /// Its effect.
    pub effect: Effect,
    /// It holds the change through the floor for introduced weaknesses.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub held_by_floor: bool,
}

/// The verdict the same change would get with every mechanical fix applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Counterfactual {
    /// The decision with the fixes.
    pub decision: Decision,
    /// The confidence with the fixes.
    pub confidence: f64,
    /// Fix steps applied (over every fixed finding).
    pub steps_applied: usize,
    /// Findings the fixes addressed (they are gone in the fixed plan).
    pub findings_fixed: usize,
    /// What still holds the change or costs confidence, most important first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remaining: Vec<RemainingFinding>,
}

impl Counterfactual {
    /// One line: "approve at 98.4 (3 fix steps, 3 findings fixed)", and what
    /// still blocks when the decision is not approve.
    pub fn summary(&self) -> String {
        let head = format!(
            "{} at {:.1} ({} fix step{}, {} finding{} fixed)",
            self.decision.as_str(),
            self.confidence,
            self.steps_applied,
            if self.steps_applied == 1 { "" } else { "s" },
            self.findings_fixed,
            if self.findings_fixed == 1 { "" } else { "s" },
        );
        let blocking: Vec<&RemainingFinding> = self
            .remaining
            .iter()
            .filter(|r| r.held_by_floor || matches!(r.effect, Effect::Deny | Effect::Escalate))
            .collect();
        if self.decision == Decision::Approve || blocking.is_empty() {
            return head;
        }
        let names: Vec<String> = blocking
            .iter()
            .take(3)
            .map(|r| match &r.address {
                Some(a) => format!("{} on {a}", r.rule_id),
                None => r.rule_id.clone(),
            })
            .collect();
        let more = blocking.len().saturating_sub(3);
        format!(
            "{head}; still blocking: {}{}",
            names.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    fn step(v: serde_json::Value) -> FixStep {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn paths_parse_and_print_back() {
        for p in [
            "a",
            "a[0].b",
            "a[*].b[2].c",
            "x-y_z",
            "parameter[name=rds.force_ssl].value",
        ] {
            assert_eq!(p.parse::<AttrPath>().unwrap().to_string(), p);
        }
        for bad in [
            "", "a..b", "a[", "a[x]", "a]b", "[0]", "a.\"b\"", "a[0]x", "a[=x]", "a[k=]", "a.",
        ] {
            assert!(bad.parse::<AttrPath>().is_err(), "{bad}");
        }
    }

    #[test]
    fn steps_need_one_action_and_end_with_a_name() {
        assert!(serde_json::from_value::<FixStep>(json!({"path": "a"})).is_err());
        assert!(
            serde_json::from_value::<FixStep>(json!({"path": "a", "value": 1, "remove": 2}))
                .is_err()
        );
        assert!(serde_json::from_value::<FixStep>(json!({"path": "a[0]", "value": 1})).is_err());
        assert!(serde_json::from_value::<FixStep>(json!({"path": "a", "remove": {}})).is_err());
        assert!(serde_json::from_value::<FixStep>(json!({"path": "a", "remove": [1]})).is_err());
        assert!(
            serde_json::from_value::<FixStep>(json!({"path": "a", "value": 1, "x": 1})).is_err()
        );
        let s = step(json!({"path": "a[0].b", "value": "required"}));
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            json!({"path": "a[0].b", "value": "required"})
        );
        assert!(parse_fix(&json!([])).is_err());
        assert!(parse_fix(&json!({"path": "a"})).is_err());
    }

    #[test]
    fn set_creates_missing_blocks_and_clears_unknown() {
        let s = step(json!({"path": "metadata_options[0].http_tokens", "value": "required"}));
        let mut v = json!({"ami": "x"});
        let mut u = json!({"metadata_options": true});
        assert!(apply_step(&mut v, &mut u, &s));
        assert_eq!(
            v,
            json!({"ami": "x", "metadata_options": [{"http_tokens": "required"}]})
        );
        assert_eq!(u, json!({"metadata_options": [{}]}));
        // Idempotent.
        assert!(!apply_step(&mut v, &mut u, &s));
        let mut v = json!({"metadata_options": [{"http_tokens": "optional", "hop": 1}]});
        let mut u = json!({});
        assert!(apply_step(&mut v, &mut u, &s));
        assert_eq!(
            v["metadata_options"][0],
            json!({"http_tokens": "required", "hop": 1})
        );
    }

    #[test]
    fn remove_and_every_element() {
        let s = step(json!({"path": "ingress[*].cidr_blocks", "remove": "0.0.0.0/0"}));
        let mut v = json!({"ingress": [{"cidr_blocks": ["0.0.0.0/0", "10.0.0.0/8"]}, {"cidr_blocks": ["0.0.0.0/0"]}]});
        let mut u = json!({});
        assert!(apply_step(&mut v, &mut u, &s));
        assert_eq!(
            v,
            json!({"ingress": [{"cidr_blocks": ["10.0.0.0/8"]}, {"cidr_blocks": []}]})
        );
        // Objects: elements with these fields.
        let s = step(json!({"path": "nets", "remove": {"value": "0.0.0.0/0"}}));
        let mut v = json!({"nets": [{"name": "all", "value": "0.0.0.0/0"}, {"name": "office", "value": "10.0.0.0/8"}]});
        assert!(apply_step(&mut v, &mut json!({}), &s));
        assert_eq!(
            v,
            json!({"nets": [{"name": "office", "value": "10.0.0.0/8"}]})
        );
        // Selected elements only.
        let s = step(json!({"path": "parameter[name=rds.force_ssl].value", "value": "1"}));
        let mut v = json!({"parameter": [{"name": "rds.force_ssl", "value": "0"}, {"name": "log", "value": "0"}]});
        assert!(apply_step(&mut v, &mut json!({}), &s));
        assert_eq!(
            v["parameter"],
            json!([{"name": "rds.force_ssl", "value": "1"}, {"name": "log", "value": "0"}])
        );
        // An index beyond the next element is not invented.
        let s = step(json!({"path": "a[3].b", "value": 1}));
        let mut v = json!({"a": []});
        assert!(!apply_step(&mut v, &mut json!({}), &s));
    }

    #[test]
    fn the_summary_names_what_still_blocks() {
        let r = |id: &str, effect: Effect, floor: bool| RemainingFinding {
            rule_id: id.into(),
            address: Some(format!("aws_x.{id}")),
            message: "m".into(),
            severity: Severity::High,
            effect,
            held_by_floor: floor,
        };
        let mut cf = Counterfactual {
            decision: Decision::Approve,
            confidence: 98.44,
            steps_applied: 1,
            findings_fixed: 2,
            remaining: vec![r("a", Effect::Warn, false)],
        };
        assert_eq!(
            cf.summary(),
            "approve at 98.4 (1 fix step, 2 findings fixed)"
        );
        cf.decision = Decision::Review;
        cf.remaining = vec![
            r("w", Effect::Warn, false),
            r("f", Effect::Warn, true),
            r("e", Effect::Escalate, false),
            r("d", Effect::Deny, false),
            r("g", Effect::Deny, false),
        ];
        assert_eq!(
            cf.summary(),
            "review at 98.4 (1 fix step, 2 findings fixed); still blocking: f on aws_x.f, e on aws_x.e, d on aws_x.d and 1 more"
        );
    }
}
