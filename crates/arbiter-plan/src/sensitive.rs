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
        let c = &rc.change;
        for (v, m) in [
            (&c.before, &c.before_sensitive),
            (&c.after, &c.after_sensitive),
        ] {
            if let (Some(v), Some(m)) = (v, m) {
                // Most masks are `{}`: only parse values whose mask marks something.
                if m.text().contains("true") {
                    collect(v.value_or_null(), m.value_or_null(), false, &mut out);
                }
            }
        }
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
    for (v, m) in [
        (&c.before, &c.before_sensitive),
        (&c.after, &c.after_sensitive),
    ] {
        if let (Some(v), Some(m)) = (v, m) {
            if m.text().contains("true") {
                collect(v.value_or_null(), m.value_or_null(), false, &mut out);
            }
        }
    }
    out
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

/// Replaces every occurrence of any of `secrets` in `text` by
/// [`SENSITIVE_MARKER`], longest secrets first.
pub fn redact_text(text: &str, secrets: &BTreeSet<String>) -> String {
    if secrets.is_empty() {
        return text.to_string();
    }
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

/// Applies [`redact_text`] to every string inside a JSON value (keys included).
pub fn redact_json(value: &mut Value, secrets: &BTreeSet<String>) {
    if secrets.is_empty() {
        return;
    }
    match value {
        Value::String(s) => *s = redact_text(s, secrets),
        Value::Number(n) => {
            let t = n.to_string();
            if secrets.contains(&t) {
                *value = Value::String(SENSITIVE_MARKER.into());
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|v| redact_json(v, secrets)),
        Value::Object(o) => {
            let taken = std::mem::take(o);
            for (k, mut v) in taken {
                redact_json(&mut v, secrets);
                o.insert(redact_text(&k, secrets), v);
            }
        }
        _ => {}
    }
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
