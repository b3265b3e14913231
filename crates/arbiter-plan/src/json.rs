//! A JSON value kept as text until somebody needs it.
//!
//! Plans are large (tens of megabytes) and most consumers look at a few
//! attributes of a few resources. [`RawJson`] keeps the exact text of a value
//! (already validated by the reader) and parses it on first use.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use std::sync::OnceLock;

/// A JSON value kept as its text, parsed lazily and at most once.
pub struct RawJson {
    raw: Box<RawValue>,
    parsed: OnceLock<Result<serde_json::Value, String>>,
}

impl RawJson {
    /// Wraps JSON text. Fails when the text is not valid JSON.
    pub fn from_text(text: &str) -> Result<RawJson, serde_json::Error> {
        Ok(RawJson {
            raw: RawValue::from_string(text.to_string())?,
            parsed: OnceLock::new(),
        })
    }

    /// Wraps an already parsed value.
    pub fn from_value(value: &serde_json::Value) -> RawJson {
        let text = serde_json::to_string(value).unwrap_or_else(|_| "null".into());
        let raw = RawValue::from_string(text).unwrap_or_else(|_| null_raw());
        let parsed = OnceLock::new();
        let _ = parsed.set(Ok(value.clone()));
        RawJson { raw, parsed }
    }

    /// The exact JSON text.
    pub fn text(&self) -> &str {
        self.raw.get()
    }

    /// The parsed value. Fails only for text nested deeper than the JSON
    /// reader's recursion limit (128 levels) or holding a number beyond a
    /// 64-bit float, with serde_json's message; the plan and state readers
    /// refuse such documents up front, so values they produce always parse.
    pub fn value(&self) -> Result<&serde_json::Value, &str> {
        self.parsed
            .get_or_init(|| serde_json::from_str(self.raw.get()).map_err(|e| e.to_string()))
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
        self.raw.get().trim() == "null"
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
            raw: self.raw.clone(),
            parsed: self.parsed.clone(),
        }
    }
}

impl std::fmt::Debug for RawJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = self.raw.get();
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
        self.raw.get() == other.raw.get()
    }
}

impl<'de> Deserialize<'de> for RawJson {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(RawJson {
            raw: Box::<RawValue>::deserialize(d)?,
            parsed: OnceLock::new(),
        })
    }
}

impl Serialize for RawJson {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.raw.serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
