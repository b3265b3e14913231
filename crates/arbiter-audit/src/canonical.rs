//! The canonical JSON encoding of event payloads: RFC 8785 (JSON
//! Canonicalization Scheme, "JCS").
//!
//! - objects: members sorted by their names compared as UTF-16 code units,
//!   no whitespace anywhere;
//! - strings: `"` and `\` escaped, U+0008/0009/000A/000C/000D as `\b \t \n
//!   \f \r`, other control characters below U+0020 as `\u00xx` (lower-case
//!   hex), everything else as literal UTF-8;
//! - numbers: the ECMAScript `Number.prototype.toString` form of the IEEE
//!   754 double (`1e+30`, `0.002`, `4.5`, `-0` written as `0`);
//!   integers beyond ±2^53 are refused (they would not survive a double);
//! - `null`, `true`, `false` as such.
//!
//! The payload digest of an audit entry is SHA-256 of these bytes.

use crate::digest::Digest;
use serde_json::Value;

/// Integers of larger magnitude cannot all be represented exactly as an
/// IEEE 754 double, which RFC 8785 numbers are.
const MAX_SAFE_INTEGER: u64 = 9_007_199_254_740_992; // 2^53

/// Deeper payloads are refused: the encoder recurses.
pub const MAX_DEPTH: usize = 128;

/// Why a value has no canonical encoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    /// An integer of magnitude above 2^53.
    #[error("{path}: integer {value} is outside ±2^53 and has no exact RFC 8785 encoding (send it as a string)")]
    IntegerOutOfRange {
        /// JSON path of the number (`$.a[2]`).
        path: String,
        /// The integer as written.
        value: String,
    },
    /// A number that is not finite (cannot come from JSON text, only from code).
    #[error("{path}: number is not finite")]
    NotFinite {
        /// JSON path of the number.
        path: String,
    },
    /// Nested deeper than [`MAX_DEPTH`].
    #[error("{path}: nested deeper than {MAX_DEPTH} levels")]
    TooDeep {
        /// JSON path where the limit was passed.
        path: String,
    },
}

/// The RFC 8785 canonical text of `value`.
///
/// Guarantees: two values that are equal as JSON data (same members in any
/// order, same numbers however written) give the same text; the text parses
/// back to an equal value.
pub fn canonical_json(value: &Value) -> Result<String, CanonicalError> {
    let mut out = String::new();
    let mut path = Path(Vec::new());
    write_value(&mut out, value, &mut path)?;
    Ok(out)
}

/// SHA-256 of the canonical encoding of `payload`: what an entry's
/// `payload_digest` holds.
pub fn payload_digest(payload: &Value) -> Result<Digest, CanonicalError> {
    Ok(Digest::sha256(canonical_json(payload)?.as_bytes()))
}

/// JSON path kept during encoding, only rendered for errors.
struct Path(Vec<PathPart>);

enum PathPart {
    Key(String),
    Index(usize),
}

impl Path {
    fn render(&self) -> String {
        let mut s = String::from("$");
        for p in &self.0 {
            match p {
                PathPart::Key(k) => {
                    if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                        s.push('.');
                        s.push_str(k);
                    } else {
                        s.push('[');
                        s.push_str(&serde_json::Value::String(k.clone()).to_string());
                        s.push(']');
                    }
                }
                PathPart::Index(i) => s.push_str(&format!("[{i}]")),
            }
        }
        s
    }
}

fn write_value(out: &mut String, value: &Value, path: &mut Path) -> Result<(), CanonicalError> {
    if path.0.len() > MAX_DEPTH {
        return Err(CanonicalError::TooDeep {
            path: path.render(),
        });
    }
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(out, n, path)?,
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                path.0.push(PathPart::Index(i));
                write_value(out, item, path)?;
                path.0.pop();
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            // RFC 8785 §3.2.3: compare names as arrays of UTF-16 code units.
            members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push('{');
            for (i, (k, v)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, k);
                out.push(':');
                path.0.push(PathPart::Key(k.clone()));
                write_value(out, v, path)?;
                path.0.pop();
            }
            out.push('}');
        }
    }
    Ok(())
}

fn write_number(
    out: &mut String,
    n: &serde_json::Number,
    path: &Path,
) -> Result<(), CanonicalError> {
    if let Some(u) = n.as_u64() {
        if u > MAX_SAFE_INTEGER {
            return Err(CanonicalError::IntegerOutOfRange {
                path: path.render(),
                value: u.to_string(),
            });
        }
        out.push_str(&u.to_string());
        return Ok(());
    }
    if let Some(i) = n.as_i64() {
        if i.unsigned_abs() > MAX_SAFE_INTEGER {
            return Err(CanonicalError::IntegerOutOfRange {
                path: path.render(),
                value: i.to_string(),
            });
        }
        out.push_str(&i.to_string());
        return Ok(());
    }
    match n.as_f64() {
        Some(f) if f.is_finite() => {
            out.push_str(&es_number(f));
            Ok(())
        }
        _ => Err(CanonicalError::NotFinite {
            path: path.render(),
        }),
    }
}

/// ECMAScript `Number.prototype.toString(x)` for a finite double
/// (ECMA-262 §6.1.6.1.20), from Rust's shortest round-trip digits.
pub fn es_number(x: f64) -> String {
    if x == 0.0 {
        return "0".to_string(); // also -0
    }
    let sign = if x < 0.0 { "-" } else { "" };
    // `{:e}` gives the shortest digits that round-trip ("d.ddddde[-]x"),
    // but when two candidates of that length are equally short it may pick
    // either; ECMAScript wants the one closest to x (ties to even), which is
    // the exactly rounded value of that many digits when it round-trips.
    let shortest = format!("{:e}", x.abs());
    let k = shortest
        .split_once('e')
        .map_or(1, |(m, _)| m.len() - usize::from(m.contains('.')));
    let rounded = format!("{:.*e}", k.saturating_sub(1), x.abs());
    let sci = if rounded.parse::<f64>() == Ok(x.abs()) {
        rounded
    } else {
        shortest
    };
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let exp: i64 = exp.parse().unwrap_or(0);
    let k = digits.len() as i64;
    // x = 0.d1d2…dk × 10^n
    let n = exp + 1;
    let body = if k <= n && n <= 21 {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        let (int, frac) = digits.split_at(n as usize);
        format!("{int}.{frac}")
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let e = n - 1;
        let e_sign = if e < 0 { '-' } else { '+' };
        let (first, rest) = digits.split_at(1);
        if rest.is_empty() {
            format!("{first}e{e_sign}{}", e.abs())
        } else {
            format!("{first}.{rest}e{e_sign}{}", e.abs())
        }
    };
    format!("{sign}{body}")
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{0C}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    /// RFC 8785 Appendix B: IEEE 754 bit patterns and their canonical text.
    #[test]
    fn rfc8785_appendix_b_numbers() {
        let cases = [
            ("0000000000000000", "0"),
            ("8000000000000000", "0"),
            ("0000000000000001", "5e-324"),
            ("8000000000000001", "-5e-324"),
            ("7fefffffffffffff", "1.7976931348623157e+308"),
            ("ffefffffffffffff", "-1.7976931348623157e+308"),
            ("4340000000000000", "9007199254740992"),
            ("c340000000000000", "-9007199254740992"),
            ("4430000000000000", "295147905179352830000"),
            ("44b52d02c7e14af5", "9.999999999999997e+22"),
            ("44b52d02c7e14af6", "1e+23"),
            ("44b52d02c7e14af7", "1.0000000000000001e+23"),
            ("444b1ae4d6e2ef4e", "999999999999999700000"),
            ("444b1ae4d6e2ef4f", "999999999999999900000"),
            ("444b1ae4d6e2ef50", "1e+21"),
            ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
            ("3eb0c6f7a0b5ed8d", "0.000001"),
            ("41b3de4355555553", "333333333.3333332"),
            ("41b3de4355555554", "333333333.33333325"),
            ("41b3de4355555555", "333333333.3333333"),
            ("41b3de4355555556", "333333333.3333334"),
            ("41b3de4355555557", "333333333.33333343"),
            ("becbf647612f3696", "-0.0000033333333333333333"),
            ("43143ff3c1cb0959", "1424953923781206.2"),
        ];
        for (bits, want) in cases {
            let x = f64::from_bits(u64::from_str_radix(bits, 16).unwrap());
            assert_eq!(es_number(x), want, "{bits}");
            // Through a JSON value too (a float Number).
            let v = serde_json::Number::from_f64(x).map(Value::Number).unwrap();
            assert_eq!(canonical_json(&v).unwrap(), want, "{bits}");
        }
    }

    /// RFC 8785 §3.2.2 sample (values given as data: serde_json's float
    /// parser is not required to be exact, the bit patterns are).
    #[test]
    fn rfc8785_sample_object() {
        let v = json!({
            "numbers": [
                f64::from_bits(0x41b3de4355555555_u64), // 333333333.33333329
                1e30, 4.50, 2e-3, 1e-27
            ],
            "string": "\u{20ac}$\u{000F}\nA'B\"\\\\\"/",
            "literals": [null, true, false]
        });
        assert_eq!(
            canonical_json(&v).unwrap(),
            r#"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
        );
    }

    /// RFC 8785 §3.2.3: sorting by UTF-16 code units, not code points.
    #[test]
    fn rfc8785_member_order() {
        let v = json!({
            "\u{20ac}": "Euro Sign",
            "\r": "Carriage Return",
            "\u{fb33}": "Hebrew Letter Dalet With Dagesh",
            "1": "One",
            "\u{1f600}": "Emoji: Grinning Face",
            "\u{0080}": "Control",
            "\u{00f6}": "Latin Small Letter O With Diaeresis"
        });
        let text = canonical_json(&v).unwrap();
        let keys: Vec<String> = text
            .trim_matches(|c| c == '{' || c == '}')
            .split(",\"")
            .map(|m| m.split(':').next().unwrap().trim_matches('"').to_string())
            .collect();
        assert_eq!(
            keys,
            [
                "\\r",
                "1",
                "\u{0080}",
                "\u{00f6}",
                "\u{20ac}",
                "\u{1f600}",
                "\u{fb33}"
            ]
        );
    }

    #[test]
    fn integers_and_limits() {
        assert_eq!(
            canonical_json(&json!([0, -1, 9007199254740992_u64])).unwrap(),
            "[0,-1,9007199254740992]"
        );
        let err = canonical_json(&json!({"a": [1, 9007199254740993_u64]})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "$.a[1]: integer 9007199254740993 is outside ±2^53 and has no exact RFC 8785 encoding (send it as a string)"
        );
        let mut deep = json!(1);
        for _ in 0..200 {
            deep = json!([deep]);
        }
        assert!(matches!(
            canonical_json(&deep),
            Err(CanonicalError::TooDeep { .. })
        ));
    }

    #[test]
    fn same_data_same_digest() {
        let a: Value = serde_json::from_str(r#"{"b": 1.0, "a": [true, "x\u0041"]}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"a":[true,"xA"],"b":1}"#).unwrap();
        assert_eq!(payload_digest(&a).unwrap(), payload_digest(&b).unwrap());
        assert_eq!(canonical_json(&a).unwrap(), r#"{"a":[true,"xA"],"b":1}"#);
    }
}
