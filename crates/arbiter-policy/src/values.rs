//! Building regorus values efficiently.
//!
//! The rule pack turns megabytes of plan JSON into Rego values for every
//! plan, so the conversion avoids what dominates a naive one: a fresh
//! allocation for every repeated object key and short string, and building
//! each object by repeated ordered inserts.

use regorus::Value;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::{BuildHasher, Hasher};

/// Parses JSON text straight into a regorus value (no intermediate tree).
pub fn from_json_text(text: &str) -> Result<Value, String> {
    let mut keys = KeyCache::default();
    from_json_text_cached(text, &mut keys)
}

/// Most distinct entries each table of a [`KeyCache`] keeps; later ones are
/// allocated as usual, so a hostile plan cannot grow the cache without bound.
const MAX_CACHED: usize = 65_536;

/// String values at most this long are shared (enum-like values such as
/// `"tcp"`, `"0.0.0.0/0"` or `"gp3"` repeat thousands of times; long ones
/// are mostly unique).
const MAX_SHARED_STRING: usize = 24;

/// Object keys and short string values seen so far: plans repeat the same
/// attribute names (and many values) thousands of times, so each distinct
/// one is allocated once and shared (regorus strings are reference counted).
#[derive(Default)]
pub struct KeyCache {
    keys: HashMap<Box<str>, Value, SeededFx>,
    strings: HashMap<Box<str>, Value, SeededFx>,
}

impl KeyCache {
    pub(crate) fn key(&mut self, k: &str) -> Value {
        intern(&mut self.keys, k)
    }

    fn string(&mut self, s: &str) -> Value {
        if s.len() > MAX_SHARED_STRING {
            return Value::from(s);
        }
        intern(&mut self.strings, s)
    }
}

fn intern(table: &mut HashMap<Box<str>, Value, SeededFx>, k: &str) -> Value {
    if let Some(v) = table.get(k) {
        return v.clone();
    }
    let v = Value::from(k);
    if table.len() < MAX_CACHED {
        table.insert(k.into(), v.clone());
    }
    v
}

/// Converted documents by their text, for documents that repeat verbatim:
/// Terraform's `after_unknown` mask is usually the same for every resource
/// of a type and action (10,000 changes have a few dozen distinct masks), so
/// each distinct text is converted once and the value shared.
#[derive(Default)]
pub(crate) struct DocCache<'a> {
    docs: HashMap<&'a str, Value, SeededFx>,
}

impl<'a> DocCache<'a> {
    /// Longest text kept (long documents rarely repeat).
    const MAX_TEXT: usize = 4096;

    /// [`from_json_text_cached`] of `text`, converted at most once.
    pub(crate) fn convert(&mut self, text: &'a str, keys: &mut KeyCache) -> Result<Value, String> {
        if text.len() > Self::MAX_TEXT {
            return from_json_text_cached(text, keys);
        }
        if let Some(v) = self.docs.get(text) {
            return Ok(v.clone());
        }
        let v = from_json_text_cached(text, keys)?;
        if self.docs.len() < MAX_CACHED {
            self.docs.insert(text, v.clone());
        }
        Ok(v)
    }
}

/// A multiply-rotate hash (the Fx hash of rustc) with a per-process random
/// seed: several times cheaper than SipHash on short keys, and the seed keeps
/// a crafted plan from choosing colliding keys in advance (the tables are
/// bounded by [`MAX_CACHED`] in any case).
#[derive(Clone, Copy)]
struct SeededFx(u64);

impl Default for SeededFx {
    fn default() -> Self {
        static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        SeededFx(
            *SEED.get_or_init(|| {
                std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64)
            }),
        )
    }
}

impl BuildHasher for SeededFx {
    type Hasher = FxHasher;
    fn build_hasher(&self) -> FxHasher {
        FxHasher(self.0)
    }
}

struct FxHasher(u64);

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0xf135_7aea_2e62_a9c5);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        // The multiply leaves the low bits (the table index) weakly mixed.
        self.0.rotate_left(26)
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
        Ok(self.0.string(s))
    }
    fn visit_string<E: serde::de::Error>(self, s: String) -> Result<Value, E> {
        Ok(self.0.string(&s))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(v) = seq.next_element_seed(Seed(&mut *self.0))? {
            out.push(v);
        }
        Ok(Value::from(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        // Collected first, then built in bulk: Terraform prints keys sorted,
        // so the sort finds one run and no entry is searched for. Equal keys
        // keep the last value, as repeated inserts would.
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(8));
        while let Some(k) = map.next_key_seed(KeySeed(&mut *self.0))? {
            let v = map.next_value_seed(Seed(&mut *self.0))?;
            entries.push((k, v));
        }
        Ok(Value::from(entries.into_iter().collect::<BTreeMap<_, _>>()))
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
        // Unsorted and repeated keys (the last value wins, as in regorus),
        // escapes, long and short strings shared across documents.
        let mut keys = KeyCache::default();
        for t in [
            r#"{"b": 1, "a": 2, "b": 3, "\u0061b": "tcp", "s": "0.0.0.0/0"}"#,
            r#"{"z": ["tcp", "tcp", "a-string-longer-than-the-sharing-limit"], "a": {"y": 1, "x": 2}}"#,
        ] {
            let ours = from_json_text_cached(t, &mut keys)?;
            let theirs = Value::from_json_str(t).map_err(|e| e.to_string())?;
            assert_eq!(ours, theirs, "{t}");
        }
        assert!(from_json_text("{\"a\": 1} x").is_err());
        assert!(from_json_text(&format!("{}{}", "[".repeat(500), "]".repeat(500))).is_err());
        Ok(())
    }
}
