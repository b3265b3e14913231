//! Building regorus values efficiently.

use regorus::Value;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// Parses JSON text straight into a regorus value (no intermediate tree).
pub fn from_json_text(text: &str) -> Result<Value, String> {
    let mut keys = KeyCache::default();
    from_json_text_cached(text, &mut keys)
}

/// Object keys seen so far: plans repeat the same attribute names thousands
/// of times, so each distinct key is allocated once and shared.
#[derive(Default)]
pub struct KeyCache {
    keys: HashMap<Box<str>, Value>,
}

impl KeyCache {
    fn key(&mut self, k: &str) -> Value {
        if let Some(v) = self.keys.get(k) {
            return v.clone();
        }
        let v = Value::from(k);
        if self.keys.len() < 65_536 {
            self.keys.insert(k.into(), v.clone());
        }
        v
    }
}

/// [`from_json_text`] sharing a key cache across many documents.
pub fn from_json_text_cached(text: &str, keys: &mut KeyCache) -> Result<Value, String> {
    let mut de = serde_json::Deserializer::from_str(text);
    let v = Seed(keys).deserialize(&mut de).map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(v)
}

struct Seed<'a>(&'a mut KeyCache);

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor(self.0))
    }
}

struct KeySeed<'a>(&'a mut KeyCache);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_str(KeyVisitor(self.0))
    }
}

struct KeyVisitor<'a>(&'a mut KeyCache);

impl Visitor<'_> for KeyVisitor<'_> {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Value, E> {
        Ok(self.0.key(s))
    }
}

struct ValueVisitor<'a>(&'a mut KeyCache);

impl<'de> Visitor<'de> for ValueVisitor<'_> {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: serde::de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Seed(self.0).deserialize(d)
    }
    fn visit_bool<E: serde::de::Error>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Value, E> {
        Ok(Value::from(n))
    }
    fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Value, E> {
        Ok(Value::from(n))
    }
    fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Value, E> {
        if !n.is_finite() {
            return Err(E::custom(format!("invalid non-finite number: {n}")));
        }
        Ok(Value::from(n))
    }
    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Value, E> {
        Ok(Value::from(s))
    }
    fn visit_string<E: serde::de::Error>(self, s: String) -> Result<Value, E> {
        Ok(Value::from(s))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(v) = seq.next_element_seed(Seed(&mut *self.0))? {
            out.push(v);
        }
        Ok(Value::from(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = BTreeMap::new();
        while let Some(k) = map.next_key_seed(KeySeed(&mut *self.0))? {
            let v = map.next_value_seed(Seed(&mut *self.0))?;
            out.insert(k, v);
        }
        Ok(Value::from(out))
    }
}

/// Converts a serde_json value.
pub fn from_json(v: &serde_json::Value) -> Result<Value, String> {
    serde_json::from_value::<Value>(v.clone()).map_err(|e| e.to_string())
}

/// Converts a regorus value back to serde_json (sets become arrays).
pub fn to_json(v: &Value) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// A string value.
pub fn s(text: &str) -> Value {
    Value::from(text)
}

/// Reads `obj[key]` as a string.
pub fn get_str<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    match &obj[key] {
        Value::String(s) => Some(s.as_ref()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_value_as_regorus_own_parser() -> Result<(), String> {
        let texts = [
            r#"{"a": [1, -2, 3.5, "x", null, true, {"b": {}}], "c": {"a": []}, "big": 18446744073709551615}"#,
            "[]",
            "\"s\"",
            "12",
        ];
        for t in texts {
            let ours = from_json_text(t)?;
            let theirs = Value::from_json_str(t).map_err(|e| e.to_string())?;
            assert_eq!(ours, theirs, "{t}");
        }
        assert!(from_json_text("{\"a\": 1} x").is_err());
        assert!(from_json_text(&format!("{}{}", "[".repeat(500), "]".repeat(500))).is_err());
        Ok(())
    }
}
