//! The JSON Schema of a [`Verdict`] as Arbiter writes it (the `verdict` of
//! a change request, `arbiter evaluate --format json`), derived from the
//! types themselves, their serde attributes and doc comments included, so
//! it cannot drift from them.
//!
//! Served at [`PATH`] and committed as `docs/schemas/verdict.json`; a test
//! checks that the committed file is what [`verdict_schema_json`] makes
//! (regenerate with `UPDATE_GOLDEN=1 cargo test -p arbiter-server --test it
//! -- docs::`).

use crate::Verdict;
use schemars::generate::SchemaSettings;

/// Where the server serves the schema.
pub const PATH: &str = "/api/v1/schemas/verdict.json";

/// The schema (JSON Schema draft 2020-12) of a verdict as serialised: a
/// field that is always written is required, one that is left out when
/// empty is not.
pub fn verdict_schema() -> serde_json::Value {
    let schema = SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<Verdict>();
    schema.to_value()
}

/// [`verdict_schema`] as pretty-printed JSON with a final newline: the
/// served document and the committed file.
pub fn verdict_schema_json() -> String {
    let mut s = serde_json::to_string_pretty(&verdict_schema()).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_names_every_field_of_a_verdict_and_requires_those_always_written() {
        let s = verdict_schema();
        assert_eq!(s["title"], "Verdict");
        let props = s["properties"].as_object().unwrap();
        for f in [
            "decision",
            "confidence",
            "summary",
            "findings",
            "critics",
            "cost",
            "explanation",
            "stack",
            "plan",
            "changes",
            "warnings",
        ] {
            assert!(props.contains_key(f), "{f}");
        }
        let required: Vec<&str> = s["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(required.contains(&"decision"));
        // Left out when empty: not required.
        assert!(!required.contains(&"warnings"));
        let decision = serde_json::to_string(&s["$defs"]["Decision"]).unwrap();
        for d in ["approve", "review", "reject"] {
            assert!(decision.contains(d), "{decision}");
        }
    }
}
