//! Sensitive values: masking them, and collecting them so that no output
//! format can ever print one.

use crate::model::Plan;
use serde_json::Value;
use std::collections::BTreeSet;

/// What a masked value is replaced with.
pub const SENSITIVE_MARKER: &str = "(sensitive)";

/// Shortest string that is redacted from free text (shorter ones, like
/// `"1"` or `"on"`, would redact harmless words; they are still masked in
/// attribute diffs).
pub const MIN_REDACT_LEN: usize = 4;

/// Returns `value` with every part that `mask` marks `true` replaced by
/// [`SENSITIVE_MARKER`]. `mask` mirrors the value's structure (Terraform's
/// `before_sensitive`/`after_sensitive`).
pub fn mask_value(value: &Value, mask: &Value) -> Value {
    match (value, mask) {
        (_, Value::Bool(true)) => Value::String(SENSITIVE_MARKER.into()),
        (Value::Object(o), Value::Object(m)) => Value::Object(
            o.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        m.get(k).map_or_else(|| v.clone(), |mk| mask_value(v, mk)),
                    )
                })
                .collect(),
        ),
        (Value::Array(a), Value::Array(m)) => Value::Array(
            a.iter()
                .enumerate()
                .map(|(i, v)| m.get(i).map_or_else(|| v.clone(), |mk| mask_value(v, mk)))
                .collect(),
        ),
        _ => value.clone(),
    }
}

/// Every string (and number, as text) that the plan marks sensitive: in
/// resource changes and drift (before and after), in output changes, and the
/// values of root variables declared sensitive. Strings shorter than
/// [`MIN_REDACT_LEN`] are left out.
pub fn sensitive_strings(plan: &Plan) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for rc in plan
        .resource_changes
        .iter()
        .chain(plan.resource_drift.iter())
    {
        collect_change(&rc.change, &mut out);
    }
    for oc in plan.output_changes.values() {
        for (v, m) in [
            (&oc.before, &oc.before_sensitive),
            (&oc.after, &oc.after_sensitive),
        ] {
            if let (Some(v), Some(m)) = (v, m) {
                collect(v.value_or_null(), m.value_or_null(), false, &mut out);
            }
        }
    }
    for name in &plan.sensitive_variables {
        if let Some(v) = plan.variables.get(name) {
            collect(v.value_or_null(), &Value::Null, true, &mut out);
        }
    }
    out
}

/// The sensitive strings of one change (before and after).
pub fn change_sensitive_strings(c: &crate::model::Change) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    collect_change(c, &mut out);
    out
}

fn collect_change(c: &crate::model::Change, out: &mut BTreeSet<String>) {
    for (v, m) in [
        (&c.before, &c.before_sensitive),
        (&c.after, &c.after_sensitive),
    ] {
        if let (Some(v), Some(m)) = (v, m) {
            collect_marked(v, m, out);
        }
    }
}

/// Collects the sensitive strings of `value` under `mask`, parsing only the
/// top-level attributes the mask marks (most of a resource is not sensitive).
fn collect_marked(
    value: &crate::json::RawJson,
    mask: &crate::json::RawJson,
    out: &mut BTreeSet<String>,
) {
    if !mask.text().contains("true") {
        return;
    }
    let mask = mask.value_or_null();
    if let Value::Object(m) = mask {
        if let Some(top) = crate::json::object_members(value.text()) {
            for (k, sub_mask) in m {
                let marked = matches!(
                    sub_mask,
                    Value::Bool(true) | Value::Object(_) | Value::Array(_)
                );
                if !marked {
                    continue;
                }
                if let Ok(i) = top.binary_search_by(|(key, _)| key.as_ref().cmp(k.as_str())) {
                    if let Ok(v) = serde_json::from_str::<Value>(top[i].1.get()) {
                        collect(&v, sub_mask, false, out);
                    }
                }
            }
            return;
        }
    }
    collect(value.value_or_null(), mask, false, out);
}

fn collect(value: &Value, mask: &Value, inherited: bool, out: &mut BTreeSet<String>) {
    let sensitive = inherited || mask == &Value::Bool(true);
    match value {
        Value::String(s) if sensitive && s.chars().count() >= MIN_REDACT_LEN => {
            out.insert(s.clone());
        }
        Value::Number(n) if sensitive => {
            let s = n.to_string();
            if s.len() >= MIN_REDACT_LEN {
                out.insert(s);
            }
        }
        Value::Object(o) => {
            for (k, v) in o {
                let m = match mask {
                    Value::Object(m) => m.get(k).unwrap_or(&Value::Null),
                    _ => &Value::Null,
                };
                collect(v, m, sensitive, out);
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                let m = match mask {
                    Value::Array(m) => m.get(i).unwrap_or(&Value::Null),
                    _ => &Value::Null,
                };
                collect(v, m, sensitive, out);
            }
        }
        _ => {}
    }
}

/// Replaces every occurrence of a set of secrets in text, in one pass over
/// the text whatever the number of secrets (Aho-Corasick, longest match first).
pub struct Redactor {
    matcher: Option<aho_corasick::AhoCorasick>,
    secrets: BTreeSet<String>,
}

impl Redactor {
    /// A redactor for `secrets` (empty set: redacts nothing).
    pub fn new(secrets: &BTreeSet<String>) -> Redactor {
        let matcher = if secrets.is_empty() {
            None
        } else {
            aho_corasick::AhoCorasick::builder()
                .match_kind(aho_corasick::MatchKind::LeftmostLongest)
                .build(secrets.iter())
                .ok()
        };
        Redactor {
            matcher,
            secrets: secrets.clone(),
        }
    }

    /// Whether there is anything to redact.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// `text` with every secret replaced by [`SENSITIVE_MARKER`].
    pub fn text(&self, text: &str) -> String {
        match &self.matcher {
            Some(m) if m.is_match(text) => {
                let mut out = String::with_capacity(text.len());
                m.replace_all_with(text, &mut out, |_, _, dst| {
                    dst.push_str(SENSITIVE_MARKER);
                    true
                });
                out
            }
            Some(_) => text.to_string(),
            None if self.secrets.is_empty() => text.to_string(),
            // The automaton could not be built (never expected): slow path.
            None => slow_redact(text, &self.secrets),
        }
    }

    /// Applies [`Redactor::text`] to every string inside a JSON value (keys
    /// included); numbers equal to a secret become the marker.
    pub fn json(&self, value: &mut Value) {
        if self.secrets.is_empty() {
            return;
        }
        match value {
            Value::String(s) => *s = self.text(s),
            Value::Number(n) if self.secrets.contains(&n.to_string()) => {
                *value = Value::String(SENSITIVE_MARKER.into());
            }
            Value::Array(a) => a.iter_mut().for_each(|v| self.json(v)),
            Value::Object(o) => {
                let taken = std::mem::take(o);
                for (k, mut v) in taken {
                    self.json(&mut v);
                    o.insert(self.text(&k), v);
                }
            }
            _ => {}
        }
    }
}

fn slow_redact(text: &str, secrets: &BTreeSet<String>) -> String {
    let mut ordered: Vec<&String> = secrets.iter().collect();
    ordered.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = text.to_string();
    for s in ordered {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), SENSITIVE_MARKER);
        }
    }
    out
}

/// Replaces every occurrence of any of `secrets` in `text` by
/// [`SENSITIVE_MARKER`], longest secrets first.
pub fn redact_text(text: &str, secrets: &BTreeSet<String>) -> String {
    Redactor::new(secrets).text(text)
}

/// Applies [`redact_text`] to every string inside a JSON value (keys included).
pub fn redact_json(value: &mut Value, secrets: &BTreeSet<String>) {
    Redactor::new(secrets).json(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masks_nested() {
        let v = json!({"a": "x", "b": {"c": "secret", "d": [1, "hide"]}});
        let m = json!({"b": {"c": true, "d": [false, true]}});
        assert_eq!(
            mask_value(&v, &m),
            json!({"a": "x", "b": {"c": "(sensitive)", "d": [1, "(sensitive)"]}})
        );
    }

    #[test]
    fn redacts_longest_first() {
        let s: BTreeSet<String> = ["hunter2".to_string(), "hunter2-long".to_string()].into();
        assert_eq!(
            redact_text("pw hunter2-long and hunter2", &s),
            "pw (sensitive) and (sensitive)"
        );
        let mut v = json!({"msg": "uses hunter2", "hunter2": 1});
        redact_json(&mut v, &s);
        assert_eq!(v, json!({"msg": "uses (sensitive)", "(sensitive)": 1}));
    }
}
