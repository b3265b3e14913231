//! Usage files: the figures a plan cannot say (requests a month, GB stored,
//! hours a GPU runs), in Infracost's format.
//!
//! ```yaml
//! version: 0.1
//! resource_type_default_usage:      # every resource of a type
//!   aws_lambda_function:
//!     monthly_requests: 1000000
//! resource_usage:                   # one resource (address, `[*]` for all instances)
//!   aws_lambda_function.api:
//!     monthly_requests: 25000000
//!     request_duration_ms: 120
//!   aws_s3_bucket.assets:
//!     standard:
//!       storage_gb: 500
//! ```
//!
//! Nested maps are flattened to dotted keys (`standard.storage_gb`). Values
//! must be numbers ≥ 0 and below [`MAX_USAGE_VALUE`]; anything else is an
//! error naming the key path, so a typo or a sign slip never prices silently.

use crate::error::CostError;
use std::collections::BTreeMap;
use std::path::Path;

/// Largest value a usage figure may take (a quadrillion of anything is a slip).
pub const MAX_USAGE_VALUE: f64 = 1e15;

/// Largest usage file read.
pub const MAX_USAGE_BYTES: u64 = 16 * 1024 * 1024;

/// Flattened usage figures of one resource or type: dotted key → value.
pub type UsageValues = BTreeMap<String, f64>;

/// A parsed usage file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    /// Figures per resource address (as written: `aws_instance.web`,
    /// `aws_instance.web[0]`, `aws_instance.web[*]`, `module.m.aws_x.y`).
    pub by_address: BTreeMap<String, UsageValues>,
    /// Figures for every resource of a type.
    pub by_type: BTreeMap<String, UsageValues>,
    /// File name, for messages.
    pub source: String,
    /// Values that were ignored (not numbers), with their path.
    pub warnings: Vec<String>,
}

impl Usage {
    /// No usage file: every usage-based figure takes its documented default.
    pub fn none() -> Usage {
        Usage::default()
    }

    /// Reads and validates a usage file.
    pub fn from_file(path: &Path) -> Result<Usage, CostError> {
        let shown = path.display().to_string();
        let io = |e: std::io::Error| CostError::Io {
            path: shown.clone(),
            message: e.to_string(),
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        if meta.len() > MAX_USAGE_BYTES {
            return Err(CostError::Usage {
                path: shown,
                location: String::new(),
                message: format!(
                    "{} bytes is more than the {MAX_USAGE_BYTES} a usage file may have",
                    meta.len()
                ),
            });
        }
        let text = std::fs::read_to_string(path).map_err(io)?;
        Usage::from_yaml_str(&text, &shown)
    }

    /// Parses usage YAML; `name` is used in messages.
    pub fn from_yaml_str(text: &str, name: &str) -> Result<Usage, CostError> {
        let err = |location: String, message: String| CostError::Usage {
            path: name.to_string(),
            location,
            message,
        };
        let doc: yaml_serde::Value = yaml_serde::from_str(text).map_err(|e| {
            let loc = e
                .location()
                .map(|l| format!("line {} column {}: ", l.line(), l.column()))
                .unwrap_or_default();
            let msg = e.to_string();
            // yaml_serde appends " at line L column C"; the location is in front already.
            let msg = match msg.find(" at line ") {
                Some(i) if !loc.is_empty() => msg[..i].to_string(),
                _ => msg,
            };
            err(loc, msg)
        })?;
        let mut usage = Usage {
            source: name.to_string(),
            ..Usage::default()
        };
        let top = match doc {
            yaml_serde::Value::Null => return Ok(usage),
            yaml_serde::Value::Mapping(m) => m,
            other => {
                return Err(err(
                    String::new(),
                    format!(
                        "expected a mapping with version and resource_usage, found {}",
                        kind(&other)
                    ),
                ))
            }
        };
        let mut saw_version = false;
        for (k, v) in top {
            let key = key_text(&k);
            match key.as_str() {
                "version" => {
                    saw_version = true;
                    let ok = match &v {
                        yaml_serde::Value::Number(n) => n.as_f64() == Some(0.1),
                        yaml_serde::Value::String(s) => s.trim() == "0.1",
                        _ => false,
                    };
                    if !ok {
                        return Err(err(
                            "version: ".into(),
                            format!(
                                "{} is not a supported usage file version (use 0.1)",
                                show(&v)
                            ),
                        ));
                    }
                }
                "resource_usage" | "resource_type_default_usage" => {
                    let entries = match v {
                        yaml_serde::Value::Mapping(m) => m,
                        yaml_serde::Value::Null => continue,
                        other => {
                            return Err(err(
                                format!("{key}: "),
                                format!("expected a mapping of addresses, found {}", kind(&other)),
                            ))
                        }
                    };
                    for (addr, vals) in entries {
                        let addr = key_text(&addr);
                        let path = format!("{key}.{addr}");
                        let mut flat = UsageValues::new();
                        flatten(&vals, "", &path, &mut flat, &mut usage.warnings)
                            .map_err(|(p, m)| err(format!("{p}: "), m))?;
                        let target = if key == "resource_usage" {
                            &mut usage.by_address
                        } else {
                            &mut usage.by_type
                        };
                        if target.insert(addr.clone(), flat).is_some() {
                            return Err(err(format!("{path}: "), "given twice".into()));
                        }
                    }
                }
                other => return Err(err(
                    format!("{other}: "),
                    "unknown key (expected version, resource_usage, resource_type_default_usage)"
                        .into(),
                )),
            }
        }
        if !saw_version && !usage.is_empty() {
            usage.warnings.push(format!(
                "usage file {name}: no `version: 0.1` line; read as version 0.1"
            ));
        }
        Ok(usage)
    }

    /// The figures that apply to one resource: its type's defaults, overlaid
    /// by the entry for its configuration address, then `ADDRESS[*]`, then
    /// the exact address.
    pub fn for_resource(
        &self,
        address: &str,
        config_address: &str,
        resource_type: &str,
    ) -> UsageView<'_> {
        let mut layers: Vec<(&str, &UsageValues)> = Vec::with_capacity(4);
        if self.by_address.is_empty() && self.by_type.is_empty() {
            return UsageView { layers };
        }
        if let Some(v) = self.by_type.get(resource_type) {
            layers.push(("resource_type_default_usage", v));
        }
        if let Some(v) = self.by_address.get(config_address) {
            layers.push(("resource_usage", v));
        }
        if let Some(stripped) = address.strip_suffix(']') {
            if let Some(open) = stripped.rfind('[') {
                let wildcard = format!("{}[*]", &address[..open]);
                if let Some(v) = self.by_address.get(&wildcard) {
                    layers.push(("resource_usage", v));
                }
            }
        }
        if address != config_address {
            if let Some(v) = self.by_address.get(address) {
                layers.push(("resource_usage", v));
            }
        }
        UsageView { layers }
    }

    /// Whether the file gave anything at all.
    pub fn is_empty(&self) -> bool {
        self.by_address.is_empty() && self.by_type.is_empty()
    }
}

/// The usage figures of one resource (most specific layer last).
#[derive(Debug, Clone, Default)]
pub struct UsageView<'a> {
    layers: Vec<(&'a str, &'a UsageValues)>,
}

impl UsageView<'_> {
    /// The most specific value of `key`, if the usage file gives one.
    pub fn get(&self, key: &str) -> Option<f64> {
        self.layers
            .iter()
            .rev()
            .find_map(|(_, v)| v.get(key).copied())
    }
}

fn flatten(
    v: &yaml_serde::Value,
    prefix: &str,
    path: &str,
    out: &mut UsageValues,
    warnings: &mut Vec<String>,
) -> Result<(), (String, String)> {
    match v {
        yaml_serde::Value::Null => Ok(()),
        yaml_serde::Value::Mapping(m) => {
            for (k, val) in m {
                let k = key_text(k);
                let key = if prefix.is_empty() {
                    k
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(val, &key, path, out, warnings)?;
            }
            Ok(())
        }
        yaml_serde::Value::Number(n) => {
            let at = format!("{path}.{prefix}");
            if prefix.is_empty() {
                return Err((
                    path.to_string(),
                    "expected a mapping of usage keys, found a number".into(),
                ));
            }
            let x = n.as_f64().unwrap_or(f64::NAN);
            if !x.is_finite() {
                return Err((at, format!("{n} is not a finite number")));
            }
            if x < 0.0 {
                return Err((
                    at,
                    format!("{n} is negative; usage figures are amounts ≥ 0"),
                ));
            }
            if x > MAX_USAGE_VALUE {
                return Err((
                    at,
                    format!("{n} is beyond any plausible usage (more than {MAX_USAGE_VALUE:e})"),
                ));
            }
            out.insert(prefix.to_string(), x);
            Ok(())
        }
        yaml_serde::Value::Tagged(t) => flatten(&t.value, prefix, path, out, warnings),
        other => {
            let at = if prefix.is_empty() {
                path.to_string()
            } else {
                format!("{path}.{prefix}")
            };
            if prefix.is_empty() {
                return Err((
                    at,
                    format!("expected a mapping of usage keys, found {}", kind(other)),
                ));
            }
            warnings.push(format!(
                "usage {at}: {} is not a number; ignored",
                show(other)
            ));
            Ok(())
        }
    }
}

fn key_text(k: &yaml_serde::Value) -> String {
    match k {
        yaml_serde::Value::String(s) => s.clone(),
        other => show(other),
    }
}

fn show(v: &yaml_serde::Value) -> String {
    match v {
        yaml_serde::Value::String(s) => format!("{s:?}"),
        yaml_serde::Value::Number(n) => n.to_string(),
        yaml_serde::Value::Bool(b) => b.to_string(),
        yaml_serde::Value::Null => "null".into(),
        other => kind(other).to_string(),
    }
}

fn kind(v: &yaml_serde::Value) -> &'static str {
    match v {
        yaml_serde::Value::Null => "null",
        yaml_serde::Value::Bool(_) => "a boolean",
        yaml_serde::Value::Number(_) => "a number",
        yaml_serde::Value::String(_) => "a string",
        yaml_serde::Value::Sequence(_) => "a list",
        yaml_serde::Value::Mapping(_) => "a mapping",
        yaml_serde::Value::Tagged(_) => "a tagged value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_infracost_shaped_files() -> Result<(), CostError> {
        let u = Usage::from_yaml_str(
            "version: 0.1\nresource_type_default_usage:\n  aws_lambda_function:\n    monthly_requests: 10\nresource_usage:\n  aws_lambda_function.api:\n    monthly_requests: 25000000\n  aws_s3_bucket.b:\n    standard:\n      storage_gb: 500\n  aws_instance.w[*]:\n    monthly_cpu_credit_hrs: 3\n",
            "u.yml",
        )?;
        let v = u.for_resource(
            "aws_lambda_function.api",
            "aws_lambda_function.api",
            "aws_lambda_function",
        );
        assert_eq!(v.get("monthly_requests"), Some(25_000_000.0));
        let v = u.for_resource(
            "aws_lambda_function.other",
            "aws_lambda_function.other",
            "aws_lambda_function",
        );
        assert_eq!(v.get("monthly_requests"), Some(10.0));
        let v = u.for_resource("aws_s3_bucket.b", "aws_s3_bucket.b", "aws_s3_bucket");
        assert_eq!(v.get("standard.storage_gb"), Some(500.0));
        let v = u.for_resource("aws_instance.w[3]", "aws_instance.w", "aws_instance");
        assert_eq!(v.get("monthly_cpu_credit_hrs"), Some(3.0));
        Ok(())
    }

    #[test]
    fn bad_files_name_the_problem_and_where() {
        let e = |t: &str| {
            Usage::from_yaml_str(t, "u.yml")
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert_eq!(
            e("version: 0.1\nresource_usage:\n  aws_lambda_function.api:\n    monthly_requests: -5\n"),
            "usage file u.yml: resource_usage.aws_lambda_function.api.monthly_requests: -5 is negative; usage figures are amounts ≥ 0"
        );
        assert!(
            e("version: 0.1\nresource_usage:\n  aws_s3_bucket.b:\n    storage_gb: 1e30\n")
                .contains("beyond any plausible usage")
        );
        assert!(e("version: 2\n").contains("version: 2 is not a supported"));
        assert!(e("versoin: 0.1\n").contains("versoin: unknown key"));
        let syntax = e("version: 0.1\nresource_usage:\n  a: [1, 2\n");
        assert!(syntax.starts_with("usage file u.yml: line "), "{syntax}");
        assert!(e("- 1\n- 2\n").contains("expected a mapping"));
    }

    #[test]
    fn non_numbers_are_ignored_with_a_warning() -> Result<(), CostError> {
        let u = Usage::from_yaml_str(
            "version: 0.1\nresource_usage:\n  aws_instance.a:\n    operating_system: linux\n",
            "u.yml",
        )?;
        assert_eq!(u.warnings.len(), 1, "{:?}", u.warnings);
        assert!(u.warnings[0].contains("resource_usage.aws_instance.a.operating_system"));
        Ok(())
    }
}
