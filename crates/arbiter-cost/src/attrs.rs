//! Reading the few attributes a cost model needs from a resource's values
//! without building the whole JSON tree: the other attributes are skipped by
//! the parser (`IgnoredAny`), which matters for plans of tens of megabytes.

use arbiter_plan::RawJson;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;
use std::fmt;

/// The wanted top-level attributes of one side (before or after) of a change.
#[derive(Debug, Clone, Default)]
pub struct Attrs {
    values: Vec<(&'static str, Value)>,
    unknown: Vec<(&'static str, Value)>,
}

impl Attrs {
    /// Reads `keys` from a values object and, when given, its `after_unknown`
    /// mask. A value that is not an object (or cannot be parsed) yields no
    /// attributes: the models then state what they assumed.
    pub fn extract(
        values: Option<&RawJson>,
        unknown: Option<&RawJson>,
        keys: &'static [&'static str],
    ) -> Attrs {
        Attrs {
            values: values.map(|v| pick(v.text(), keys)).unwrap_or_default(),
            unknown: unknown.map(|v| pick(v.text(), keys)).unwrap_or_default(),
        }
    }

    /// Builds attributes from a parsed object (tests, nested blocks).
    pub fn from_object(
        obj: &serde_json::Map<String, Value>,
        keys: &'static [&'static str],
    ) -> Attrs {
        let values = keys
            .iter()
            .filter_map(|k| obj.get(*k).map(|v| (*k, v.clone())))
            .collect();
        Attrs {
            values,
            unknown: Vec::new(),
        }
    }

    /// The value of `key`; `None` when absent or null.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.values
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
            .filter(|v| !v.is_null())
    }

    /// True when the plan marks `key` (or anything inside it) as known only
    /// after apply.
    pub fn is_unknown(&self, key: &str) -> bool {
        self.unknown
            .iter()
            .find(|(k, _)| *k == key)
            .is_some_and(|(_, v)| contains_true(v))
    }

    /// A string attribute.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    /// A number attribute (numbers written as strings, as some providers
    /// do, are read too).
    pub fn num(&self, key: &str) -> Option<f64> {
        self.get(key).and_then(as_num)
    }

    /// A boolean attribute.
    pub fn bool(&self, key: &str) -> Option<bool> {
        self.get(key).and_then(Value::as_bool)
    }

    /// The blocks of a nested-block attribute (`root_block_device`, …): each
    /// element that is an object.
    pub fn blocks(&self, key: &str) -> Vec<&serde_json::Map<String, Value>> {
        match self.get(key) {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_object).collect(),
            Some(Value::Object(o)) => vec![o],
            _ => Vec::new(),
        }
    }

    /// The first block of a nested-block attribute.
    pub fn block(&self, key: &str) -> Option<&serde_json::Map<String, Value>> {
        self.blocks(key).into_iter().next()
    }

    /// The strings of a list attribute.
    pub fn strings(&self, key: &str) -> Vec<&str> {
        match self.get(key) {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            Some(Value::String(s)) => vec![s.as_str()],
            _ => Vec::new(),
        }
    }

    /// Number of elements of a list attribute (`None` when absent).
    pub fn len_of(&self, key: &str) -> Option<usize> {
        match self.get(key) {
            Some(Value::Array(items)) => Some(items.len()),
            _ => None,
        }
    }
}

/// A JSON number, or a string holding one.
pub fn as_num(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
}

fn contains_true(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Array(a) => a.iter().any(contains_true),
        Value::Object(o) => o.values().any(contains_true),
        _ => false,
    }
}

fn pick(text: &str, keys: &'static [&'static str]) -> Vec<(&'static str, Value)> {
    let mut de = serde_json::Deserializer::from_str(text);
    Picker(keys).deserialize(&mut de).unwrap_or_default()
}

struct Picker(&'static [&'static str]);

impl<'de> DeserializeSeed<'de> for Picker {
    type Value = Vec<(&'static str, Value)>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Picker {
    type Value = Vec<(&'static str, Value)>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of attributes")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(idx) = map.next_key_seed(KeyIndex(self.0))? {
            match idx {
                Some(i) => {
                    let v: Value = map.next_value()?;
                    if let Some(k) = self.0.get(i) {
                        out.push((*k, v));
                    }
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
    // Anything but an object (null for a deleted side, a bare `true` mask):
    // no attributes.
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Vec::new())
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
}

/// Matches an object key against the wanted keys without allocating.
struct KeyIndex(&'static [&'static str]);

impl<'de> DeserializeSeed<'de> for KeyIndex {
    type Value = Option<usize>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyIndex {
    type Value = Option<usize>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an attribute name")
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.0.iter().position(|k| *k == v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_only_wanted_keys() -> Result<(), serde_json::Error> {
        let after = RawJson::from_text(
            r#"{"ami":"x","instance_type":"t3.micro","root_block_device":[{"volume_size":30}],"tags":{"a":"b"},"n":"12"}"#,
        )?;
        let unknown = RawJson::from_text(
            r#"{"root_block_device":[{"volume_size":false,"volume_type":true}]}"#,
        )?;
        const KEYS: &[&str] = &["instance_type", "root_block_device", "n", "missing"];
        let a = Attrs::extract(Some(&after), Some(&unknown), KEYS);
        assert_eq!(a.str("instance_type"), Some("t3.micro"));
        assert_eq!(a.num("n"), Some(12.0));
        assert!(a.get("ami").is_none(), "not requested");
        assert!(a.is_unknown("root_block_device"));
        assert!(!a.is_unknown("instance_type"));
        assert_eq!(
            a.block("root_block_device")
                .and_then(|b| b.get("volume_size"))
                .and_then(as_num),
            Some(30.0)
        );
        let none = Attrs::extract(Some(&RawJson::from_text("null")?), None, KEYS);
        assert!(none.get("instance_type").is_none());
        Ok(())
    }
}
