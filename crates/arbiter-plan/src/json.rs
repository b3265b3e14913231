//! A JSON value kept as text until somebody needs it.
//!
//! Plans are large (tens of megabytes) and most consumers look at a few
//! attributes of a few resources. [`RawJson`] keeps the exact text of a value
//! (already validated by the reader) and parses it on first use. Values read
//! by [`crate::read::read_plan_shared`] are slices of the plan's own text
//! (shared, not copied).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use std::cell::RefCell;
use std::sync::{Arc, OnceLock};

/// A JSON value kept as its text, parsed lazily and at most once.
pub struct RawJson {
    text: Text,
    parsed: OnceLock<Result<serde_json::Value, String>>,
}

/// Where the text of a [`RawJson`] lives.
#[derive(Clone)]
enum Text {
    Owned(Box<RawValue>),
    /// `doc[start..end]`, always a valid JSON value on char boundaries.
    Shared {
        doc: Arc<String>,
        start: usize,
        end: usize,
    },
}

std::thread_local! {
    /// The document being read by [`SharedDocument::install`] on this thread.
    static SHARED: RefCell<Option<Arc<String>>> = const { RefCell::new(None) };
}

/// While alive, [`RawJson`] values deserialized on this thread from `doc`'s
/// text (with `serde_json::from_str`) borrow from it instead of copying.
pub(crate) struct SharedDocument;

impl SharedDocument {
    pub(crate) fn install(doc: &Arc<String>) -> SharedDocument {
        SHARED.with(|s| *s.borrow_mut() = Some(doc.clone()));
        SharedDocument
    }
}

impl Drop for SharedDocument {
    fn drop(&mut self) {
        SHARED.with(|s| *s.borrow_mut() = None);
    }
}

impl RawJson {
    /// Wraps JSON text. Fails when the text is not valid JSON.
    pub fn from_text(text: &str) -> Result<RawJson, serde_json::Error> {
        Ok(RawJson {
            text: Text::Owned(RawValue::from_string(text.to_string())?),
            parsed: OnceLock::new(),
        })
    }

    /// Wraps an already parsed value.
    pub fn from_value(value: &serde_json::Value) -> RawJson {
        let text = serde_json::to_string(value).unwrap_or_else(|_| "null".into());
        let raw = RawValue::from_string(text).unwrap_or_else(|_| null_raw());
        let parsed = OnceLock::new();
        let _ = parsed.set(Ok(value.clone()));
        RawJson {
            text: Text::Owned(raw),
            parsed,
        }
    }

    /// The exact JSON text.
    pub fn text(&self) -> &str {
        match &self.text {
            Text::Owned(raw) => raw.get(),
            Text::Shared { doc, start, end } => doc.get(*start..*end).unwrap_or("null"),
        }
    }

    /// The parsed value. Fails only for text nested deeper than the JSON
    /// reader's recursion limit (128 levels) or holding a number beyond a
    /// 64-bit float, with serde_json's message; the plan and state readers
    /// refuse such documents up front, so values they produce always parse.
    pub fn value(&self) -> Result<&serde_json::Value, &str> {
        self.parsed
            .get_or_init(|| serde_json::from_str(self.text()).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| e.as_str())
    }

    /// The parsed value, or `Null` when it cannot be parsed (see
    /// [`RawJson::value`]: never for values from this crate's readers).
    pub fn value_or_null(&self) -> &serde_json::Value {
        static NULL: serde_json::Value = serde_json::Value::Null;
        self.value().unwrap_or(&NULL)
    }

    /// True when the text is `null`.
    pub fn is_null(&self) -> bool {
        self.text().trim() == "null"
    }
}

fn null_raw() -> Box<RawValue> {
    // "null" is always valid JSON.
    RawValue::from_string("null".to_string()).unwrap_or_else(|_| unreachable_raw())
}

// `RawValue` has no infallible constructor; "null" cannot fail to parse.
#[allow(clippy::panic)]
fn unreachable_raw() -> Box<RawValue> {
    panic!("\"null\" is valid JSON")
}

impl Clone for RawJson {
    fn clone(&self) -> Self {
        RawJson {
            text: self.text.clone(),
            parsed: self.parsed.clone(),
        }
    }
}

impl std::fmt::Debug for RawJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = self.text();
        if t.len() > 80 {
            let mut end = 80;
            while !t.is_char_boundary(end) {
                end -= 1;
            }
            write!(f, "RawJson({}…)", &t[..end])
        } else {
            write!(f, "RawJson({t})")
        }
    }
}

impl PartialEq for RawJson {
    fn eq(&self, other: &Self) -> bool {
        self.text() == other.text()
    }
}

impl<'de> Deserialize<'de> for RawJson {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let shared = SHARED.with(|s| s.borrow().clone());
        let text = match shared {
            // Reading the shared document: borrow the value's text.
            Some(doc) => {
                let raw = <&'de RawValue>::deserialize(d)?;
                match crate::read::offset_in(&doc, raw.get()) {
                    Some((start, end)) => Text::Shared { doc, start, end },
                    None => Text::Owned(raw.to_owned()),
                }
            }
            None => Text::Owned(Box::<RawValue>::deserialize(d)?),
        };
        Ok(RawJson {
            text,
            parsed: OnceLock::new(),
        })
    }
}

impl Serialize for RawJson {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.text {
            Text::Owned(raw) => raw.serialize(s),
            Text::Shared { .. } => match serde_json::from_str::<&RawValue>(self.text()) {
                Ok(raw) => raw.serialize(s),
                Err(e) => Err(serde::ser::Error::custom(e)),
            },
        }
    }
}

/// The members of the JSON object `text`, sorted by key, a repeated key
/// keeping its last value (what a map would hold); each value is the exact
/// text of the member. `None` when `text` is not a valid JSON object. Keys
/// without escapes are borrowed, so this is much cheaper than a map of
/// owned keys when only a few members are needed.
pub(crate) fn object_members(text: &str) -> Option<Vec<(std::borrow::Cow<'_, str>, &RawValue)>> {
    let Members(mut members) = serde_json::from_str(text).ok()?;
    // Terraform prints keys sorted: this is one comparison per member.
    if !members.windows(2).all(|w| w[0].0 < w[1].0) {
        members.sort_by(|a, b| a.0.cmp(&b.0)); // stable: repeats keep their order
        let mut deduped: Vec<(std::borrow::Cow<'_, str>, &RawValue)> =
            Vec::with_capacity(members.len());
        for m in members {
            match deduped.last_mut() {
                Some(last) if last.0 == m.0 => *last = m,
                _ => deduped.push(m),
            }
        }
        members = deduped;
    }
    Some(members)
}

struct Members<'a>(Vec<(std::borrow::Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(MembersVisitor)
    }
}

struct MembersVisitor;

impl<'de> serde::de::Visitor<'de> for MembersVisitor {
    type Value = Members<'de>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Members<'de>, A::Error> {
        let mut out = Vec::with_capacity(map.size_hint().unwrap_or(16));
        while let Some(Key(k)) = map.next_key()? {
            out.push((k, map.next_value()?));
        }
        Ok(Members(out))
    }
}

/// A key, borrowed from the text when it has no escapes.
struct Key<'a>(std::borrow::Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> serde::de::Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(std::borrow::Cow::Borrowed(s)))
    }
    fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
        Ok(Key(std::borrow::Cow::Owned(s.to_string())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_members_are_sorted_and_deduplicated_like_a_map() {
        let m = |t: &str| {
            object_members(t).map(|v| {
                v.iter()
                    .map(|(k, r)| format!("{k}={}", r.get()))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
        };
        assert_eq!(
            m(r#"{"a":1,"b":[2, 3],"c":{"d":null}}"#).as_deref(),
            Some("a=1 b=[2, 3] c={\"d\":null}")
        );
        assert_eq!(
            m(r#"{"b":1,"a":2,"b":3,"\u0061":4}"#).as_deref(),
            Some("a=4 b=3")
        );
        assert_eq!(m("{}").as_deref(), Some(""));
        assert_eq!(m("[1]"), None);
        assert_eq!(m(r#"{"a":1"#), None);
    }

    #[test]
    fn lazy_parse_and_debug() -> Result<(), serde_json::Error> {
        let r = RawJson::from_text(r#"{"a": [1, 2]}"#)?;
        assert_eq!(r.value().ok().and_then(|v| v["a"][1].as_i64()), Some(2));
        assert!(!r.is_null());
        assert!(format!("{r:?}").contains("\"a\""));
        Ok(())
    }

    #[test]
    fn too_deep_is_an_error_value() -> Result<(), serde_json::Error> {
        // RawValue accepts deep nesting (it only skips), the lazy parse reports it.
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let r: RawJson = serde_json::from_str(&deep)?;
        assert!(r.value().is_err());
        assert!(r.value_or_null().is_null());
        Ok(())
    }
}
