//! Attribute-level difference between the before and after values of a change,
//! honouring the unknown and sensitive masks.

use crate::model::Change;
use serde_json::Value;
use std::fmt;

/// One segment of an attribute path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum PathSegment {
    /// Object key.
    Key(String),
    /// Array index.
    Index(usize),
}

/// A path to an attribute, e.g. `ingress[0].cidr_blocks[1]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct AttrPath(pub Vec<PathSegment>);

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                PathSegment::Index(n) => write!(f, "[{n}]")?,
                PathSegment::Key(k) => {
                    let plain = !k.is_empty()
                        && k.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                        && !k.starts_with(|c: char| c.is_ascii_digit());
                    if plain {
                        if i > 0 {
                            f.write_str(".")?;
                        }
                        f.write_str(k)?;
                    } else {
                        write!(f, "[{}]", Value::String(k.clone()))?;
                    }
                }
            }
        }
        Ok(())
    }
}

impl AttrPath {
    /// First key of the path (the top-level attribute name).
    pub fn root(&self) -> Option<&str> {
        match self.0.first() {
            Some(PathSegment::Key(k)) => Some(k),
            _ => None,
        }
    }
}

/// One side of an attribute change.
#[derive(Debug, Clone, PartialEq)]
pub enum DiffValue {
    /// The attribute does not exist on this side.
    Absent,
    /// A known value (sensitive parts already replaced by `"(sensitive)"`).
    Known(Value),
    /// Known only after apply.
    Unknown,
    /// The whole value is sensitive.
    Sensitive,
}

impl DiffValue {
    /// A JSON rendering for reports: the value, `null`, or a marker string.
    pub fn render(&self) -> Value {
        match self {
            DiffValue::Absent => Value::Null,
            DiffValue::Known(v) => v.clone(),
            DiffValue::Unknown => Value::String("(known after apply)".into()),
            DiffValue::Sensitive => Value::String(crate::sensitive::SENSITIVE_MARKER.into()),
        }
    }
}

/// How one attribute changes.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeChange {
    /// Where.
    pub path: AttrPath,
    /// Old value.
    pub before: DiffValue,
    /// New value.
    pub after: DiffValue,
}

/// The attribute-level changes of `change`, leaf by leaf, in path order, with
/// the values the masks mark sensitive replaced ([`DiffValue::Sensitive`] or
/// masked inside [`DiffValue::Known`]). Creations list every known
/// after-attribute; deletions every before-attribute.
fn unredacted(change: &Change) -> Vec<AttributeChange> {
    let null = Value::Null;
    let unknown_mask = change
        .after_unknown
        .as_ref()
        .map_or(&null, |r| r.value_or_null());
    // Updates usually touch a few attributes of large objects: compare the
    // top-level attributes as text and parse only those that differ.
    let reduced = match (&change.before, &change.after) {
        (Some(b), Some(a)) => differing_attributes(b.text(), a.text(), unknown_mask),
        _ => None,
    };
    let (before, after) = match &reduced {
        Some((b, a)) => (Some(b), Some(a)),
        None => (
            change.before.as_ref().map(|r| r.value_or_null()),
            change.after.as_ref().map(|r| r.value_or_null()),
        ),
    };
    let unknown = change
        .after_unknown
        .as_ref()
        .map_or(&null, |r| r.value_or_null());
    let bs = change
        .before_sensitive
        .as_ref()
        .map_or(&null, |r| r.value_or_null());
    let as_ = change
        .after_sensitive
        .as_ref()
        .map_or(&null, |r| r.value_or_null());
    let mut out = Vec::new();
    let mut path = Vec::new();
    diff(&mut path, before, after, unknown, bs, as_, &mut out);
    out
}

/// The attribute-level changes of `change`, leaf by leaf, in path order.
/// Sensitive values never appear: values the masks mark are masked, and the
/// change's own sensitive values are also replaced wherever else they occur (a
/// provider may copy a sensitive value into an attribute Terraform does not
/// mark (terraform_data's `output` mirrors `input`), so those are masked too.
pub fn attribute_changes(change: &Change) -> Vec<AttributeChange> {
    let secrets = crate::sensitive::change_sensitive_strings(change);
    attribute_changes_masked(change, &crate::sensitive::Redactor::new(&secrets))
}

/// The attribute changes with every value the masks mark sensitive masked,
/// and every occurrence of `redactor`'s secrets replaced in the rest (pass a
/// redactor built once from [`crate::sensitive::sensitive_strings`] of the
/// whole plan when diffing many changes).
pub fn attribute_changes_masked(
    change: &Change,
    redactor: &crate::sensitive::Redactor,
) -> Vec<AttributeChange> {
    let mut out = unredacted(change);
    if !redactor.is_empty() {
        for a in &mut out {
            for side in [&mut a.before, &mut a.after] {
                if let DiffValue::Known(v) = side {
                    redactor.json(v);
                }
            }
        }
    }
    out
}

fn sub<'a>(mask: &'a Value, seg: &PathSegment) -> &'a Value {
    static NULL: Value = Value::Null;
    match (mask, seg) {
        (Value::Bool(true), _) => mask,
        (Value::Object(m), PathSegment::Key(k)) => m.get(k).unwrap_or(&NULL),
        (Value::Array(a), PathSegment::Index(i)) => a.get(*i).unwrap_or(&NULL),
        _ => &NULL,
    }
}

fn side(v: Option<&Value>, sensitive: &Value) -> DiffValue {
    match v {
        None => DiffValue::Absent,
        Some(_) if sensitive == &Value::Bool(true) => DiffValue::Sensitive,
        Some(v) => DiffValue::Known(crate::sensitive::mask_value(v, sensitive)),
    }
}

fn diff(
    path: &mut Vec<PathSegment>,
    before: Option<&Value>,
    after: Option<&Value>,
    unknown: &Value,
    bs: &Value,
    as_: &Value,
    out: &mut Vec<AttributeChange>,
) {
    if unknown == &Value::Bool(true) {
        let b = side(before, bs);
        out.push(AttributeChange {
            path: AttrPath(path.clone()),
            before: b,
            after: DiffValue::Unknown,
        });
        return;
    }
    // Treat null like absent for containers on either side so a creation
    // lists leaves rather than one giant object.
    let before = before.filter(|v| !v.is_null());
    let after_is_null = matches!(after, Some(Value::Null));
    let after = after.filter(|v| !v.is_null());
    match (before, after) {
        (Some(Value::Object(b)), Some(Value::Object(a))) => {
            let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let seg = PathSegment::Key(k.clone());
                let (u, s1, s2) = (sub(unknown, &seg), sub(bs, &seg), sub(as_, &seg));
                path.push(seg);
                diff(path, b.get(k.as_str()), a.get(k.as_str()), u, s1, s2, out);
                path.pop();
            }
        }
        (Some(Value::Array(b)), Some(Value::Array(a))) => {
            for i in 0..b.len().max(a.len()) {
                let seg = PathSegment::Index(i);
                let (u, s1, s2) = (sub(unknown, &seg), sub(bs, &seg), sub(as_, &seg));
                path.push(seg);
                diff(path, b.get(i), a.get(i), u, s1, s2, out);
                path.pop();
            }
        }
        (None, Some(Value::Object(a))) if !path.is_empty() || before.is_none() => {
            if a.is_empty() && !path.is_empty() {
                out.push(AttributeChange {
                    path: AttrPath(path.clone()),
                    before: DiffValue::Absent,
                    after: side(Some(&Value::Object(a.clone())), as_),
                });
            }
            for (k, v) in a {
                let seg = PathSegment::Key(k.clone());
                let (u, s2) = (sub(unknown, &seg), sub(as_, &seg));
                path.push(seg);
                diff(path, None, Some(v), u, &Value::Null, s2, out);
                path.pop();
            }
            // Unknown attributes that are absent from `after`.
            if let Value::Object(u) = unknown {
                for (k, mask) in u {
                    if !a.contains_key(k) {
                        path.push(PathSegment::Key(k.clone()));
                        emit_unknown(path, mask, out);
                        path.pop();
                    }
                }
            }
        }
        (None, Some(Value::Array(a))) if !path.is_empty() => {
            if a.is_empty() {
                out.push(AttributeChange {
                    path: AttrPath(path.clone()),
                    before: DiffValue::Absent,
                    after: DiffValue::Known(Value::Array(Vec::new())),
                });
            }
            for (i, v) in a.iter().enumerate() {
                let seg = PathSegment::Index(i);
                let (u, s2) = (sub(unknown, &seg), sub(as_, &seg));
                path.push(seg);
                diff(path, None, Some(v), u, &Value::Null, s2, out);
                path.pop();
            }
        }
        (Some(Value::Object(b)), None) if !path.is_empty() || after.is_none() => {
            if b.is_empty() && !path.is_empty() {
                out.push(AttributeChange {
                    path: AttrPath(path.clone()),
                    before: side(Some(&Value::Object(b.clone())), bs),
                    after: DiffValue::Absent,
                });
            }
            for (k, v) in b {
                let seg = PathSegment::Key(k.clone());
                let s1 = sub(bs, &seg);
                path.push(seg);
                diff(path, Some(v), None, &Value::Null, s1, &Value::Null, out);
                path.pop();
            }
        }
        (None, None) => {
            // Unknown parts of a value whose known after-part is absent or null.
            emit_unknown(path, unknown, out);
        }
        (b, a) => {
            if b == a {
                return;
            }
            let after_side = match a {
                None if after_is_null => DiffValue::Known(Value::Null),
                other => side(other, as_),
            };
            out.push(AttributeChange {
                path: AttrPath(path.clone()),
                before: side(b, bs),
                after: after_side,
            });
        }
    }
}

/// The top-level attributes of two objects whose text differs (or that the
/// unknown mask marks), parsed; `None` when either side is not an object.
fn differing_attributes(before: &str, after: &str, unknown: &Value) -> Option<(Value, Value)> {
    use std::cmp::Ordering;
    if !before.trim_start().starts_with('{') || !after.trim_start().starts_with('{') {
        return None;
    }
    let b = crate::json::object_members(before)?;
    let a = crate::json::object_members(after)?;
    let marked = |k: &str| match unknown.get(k) {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(_) => true,
    };
    let mut bo = serde_json::Map::new();
    let mut ao = serde_json::Map::new();
    // Both member lists are sorted by key: walk them side by side.
    let (mut i, mut j) = (0, 0);
    loop {
        let order = match (b.get(i), a.get(j)) {
            (Some(x), Some(y)) => x.0.cmp(&y.0),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => break,
        };
        let (key, bv, av) = match order {
            Ordering::Less => {
                i += 1;
                (&b[i - 1].0, Some(b[i - 1].1), None)
            }
            Ordering::Greater => {
                j += 1;
                (&a[j - 1].0, None, Some(a[j - 1].1))
            }
            Ordering::Equal => {
                i += 1;
                j += 1;
                (&b[i - 1].0, Some(b[i - 1].1), Some(a[j - 1].1))
            }
        };
        let same = matches!((bv, av), (Some(x), Some(y)) if x.get() == y.get());
        if same && !marked(key) {
            continue;
        }
        if let Some(v) = bv {
            bo.insert(key.to_string(), serde_json::from_str(v.get()).ok()?);
        }
        if let Some(v) = av {
            ao.insert(key.to_string(), serde_json::from_str(v.get()).ok()?);
        }
    }
    Some((Value::Object(bo), Value::Object(ao)))
}

/// Emits an `Unknown` change for every path the unknown mask marks `true`.
fn emit_unknown(path: &mut Vec<PathSegment>, mask: &Value, out: &mut Vec<AttributeChange>) {
    match mask {
        Value::Bool(true) => out.push(AttributeChange {
            path: AttrPath(path.clone()),
            before: DiffValue::Absent,
            after: DiffValue::Unknown,
        }),
        Value::Object(m) => {
            for (k, v) in m {
                path.push(PathSegment::Key(k.clone()));
                emit_unknown(path, v, out);
                path.pop();
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                path.push(PathSegment::Index(i));
                emit_unknown(path, v, out);
                path.pop();
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::RawJson;

    fn change(before: &str, after: &str, unknown: &str, bs: &str, as_: &str) -> Change {
        let r = |s: &str| RawJson::from_text(s).ok();
        Change {
            actions: vec!["update".into()],
            before: r(before).filter(|v| !v.is_null()),
            after: r(after).filter(|v| !v.is_null()),
            after_unknown: r(unknown),
            before_sensitive: r(bs),
            after_sensitive: r(as_),
            replace_paths: None,
            importing: None,
            generated_config: None,
        }
    }

    fn render(c: &[AttributeChange]) -> Vec<String> {
        c.iter()
            .map(|a| format!("{}: {} -> {}", a.path, a.before.render(), a.after.render()))
            .collect()
    }

    #[test]
    fn update_lists_changed_leaves_only() {
        let c = change(
            r#"{"tags":{"env":"dev","team":"a"},"size":10,"ports":[22,80]}"#,
            r#"{"tags":{"env":"prod","team":"a"},"size":10,"ports":[22,443],"arn":null}"#,
            r#"{"arn":true}"#,
            "{}",
            "{}",
        );
        assert_eq!(
            render(&attribute_changes(&c)),
            vec![
                "arn: null -> \"(known after apply)\"",
                "ports[1]: 80 -> 443",
                "tags.env: \"dev\" -> \"prod\""
            ]
        );
    }

    #[test]
    fn sensitive_values_are_masked() {
        let c = change(
            r#"{"password":"hunter2","env":{"vars":{"A":"x","SECRET":"s1"}}}"#,
            r#"{"password":"hunter3","env":{"vars":{"A":"y","SECRET":"s2"}}}"#,
            "{}",
            r#"{"password":true,"env":{"vars":{"SECRET":true}}}"#,
            r#"{"password":true,"env":{"vars":{"SECRET":true}}}"#,
        );
        let out = render(&attribute_changes(&c)).join("\n");
        assert!(!out.contains("hunter"), "{out}");
        assert!(!out.contains("s1") && !out.contains("s2"), "{out}");
        assert!(out.contains("env.vars.A: \"x\" -> \"y\""));
        assert!(out.contains("password: \"(sensitive)\" -> \"(sensitive)\""));
    }

    #[test]
    fn creation_lists_known_and_unknown() {
        let c = change(
            "null",
            r#"{"name":"x","tags":{"a":"b"}}"#,
            r#"{"id":true}"#,
            "false",
            "{}",
        );
        assert_eq!(
            render(&attribute_changes(&c)),
            vec![
                "name: null -> \"x\"",
                "tags.a: null -> \"b\"",
                "id: null -> \"(known after apply)\""
            ]
        );
    }

    #[test]
    fn path_rendering() {
        let p = AttrPath(vec![
            PathSegment::Key("tags".into()),
            PathSegment::Key("kubernetes.io/role".into()),
            PathSegment::Index(2),
        ]);
        assert_eq!(p.to_string(), r#"tags["kubernetes.io/role"][2]"#);
    }
}
