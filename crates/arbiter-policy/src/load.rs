//! Finding and reading policy files: `.rego` modules and `data.json` /
//! `data.yaml` documents, and adding them to a regorus engine with either
//! Rego syntax (v1, or v0 for older policies).

use crate::error::PolicyError;
use std::path::{Path, PathBuf};

/// One Rego module to load.
#[derive(Debug, Clone)]
pub struct PolicySource {
    /// Path shown in messages (as given by the user, or `builtin:<rel>`).
    pub path: String,
    /// Rego text.
    pub text: String,
}

/// A data document to merge into `data`.
#[derive(Debug, Clone)]
pub struct DataSource {
    /// Path shown in messages.
    pub path: String,
    /// Parsed value.
    pub value: regorus::Value,
}

/// Everything found under the given paths.
#[derive(Debug, Clone, Default)]
pub struct LoadedFiles {
    /// `.rego` modules, sorted by path.
    pub modules: Vec<PolicySource>,
    /// Data documents.
    pub data: Vec<DataSource>,
}

/// Reads `.rego` files (recursively, sorted) and `data.json`/`data.yaml`/
/// `data.yml` documents from each path (a directory or a single file).
/// `include_tests` controls whether `*_test.rego` files are read.
pub fn load_paths(paths: &[PathBuf], include_tests: bool) -> Result<LoadedFiles, PolicyError> {
    let mut files = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| PolicyError::Load {
            path: p.display().to_string(),
            message: format!("cannot read policy path: {e}"),
        })?;
        if meta.is_dir() {
            walk(p, &mut files)?;
        } else {
            files.push(p.clone());
        }
    }
    let mut out = LoadedFiles::default();
    for f in files {
        let name = f
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let shown = f.display().to_string();
        if !is_policy_file(&name, include_tests) {
            continue;
        }
        let text = std::fs::read_to_string(&f).map_err(|e| PolicyError::Load {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        add_file(&mut out, &name, shown, text)?;
    }
    Ok(out)
}

/// Whether a file of this name is read: `.rego` modules (`*_test.rego` only
/// with `include_tests`) and `data.json`/`data.yaml`/`data.yml`.
fn is_policy_file(name: &str, include_tests: bool) -> bool {
    (name.ends_with(".rego") && (include_tests || !name.ends_with("_test.rego")))
        || name == "data.json"
        || name == "data.yaml"
        || name == "data.yml"
}

/// Like [`load_paths`] for files held in memory (a stored policy set): file
/// path → content. A file is judged by the last component of its path; other
/// files are refused, so that a typo in a name does not pass silently.
pub fn load_sources(
    files: &std::collections::BTreeMap<String, String>,
    include_tests: bool,
) -> Result<LoadedFiles, PolicyError> {
    let mut out = LoadedFiles::default();
    for (path, text) in files {
        let name = path.rsplit('/').next().unwrap_or_default();
        if !is_policy_file(name, true) {
            return Err(PolicyError::Load {
                path: path.clone(),
                message: "not a policy file: expected NAME.rego, data.json or data.yaml".into(),
            });
        }
        if !include_tests && name.ends_with("_test.rego") {
            continue;
        }
        add_file(&mut out, name, path.clone(), text.clone())?;
    }
    Ok(out)
}

/// Adds one file's content: a module, or a parsed data document.
fn add_file(
    out: &mut LoadedFiles,
    name: &str,
    shown: String,
    text: String,
) -> Result<(), PolicyError> {
    if name.ends_with(".rego") {
        out.modules.push(PolicySource { path: shown, text });
        return Ok(());
    }
    let value = if name == "data.json" {
        serde_json::from_str::<serde_json::Value>(&text)
            .map_err(|e| PolicyError::Data {
                path: shown.clone(),
                message: e.to_string(),
            })
            .and_then(|v| {
                crate::values::from_json(&v).map_err(|m| PolicyError::Data {
                    path: shown.clone(),
                    message: m,
                })
            })?
    } else {
        regorus::Value::from_yaml_str(&text).map_err(|e| PolicyError::Data {
            path: shown.clone(),
            message: format!("{e:#}"),
        })?
    };
    if value.as_object().is_err() {
        return Err(PolicyError::Data {
            path: shown,
            message: "the top level must be an object".into(),
        });
    }
    out.data.push(DataSource { path: shown, value });
    Ok(())
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), PolicyError> {
    let rd = std::fs::read_dir(dir).map_err(|e| PolicyError::Load {
        path: dir.display().to_string(),
        message: e.to_string(),
    })?;
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        let hidden = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if p.is_dir() {
            walk(&p, out)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
}

/// Adds a module to `engine`, accepting both Rego v1 and the older v0 syntax
/// (`deny[msg] { … }`). Returns the package path (`data.main`).
pub fn add_module(engine: &mut regorus::Engine, src: &PolicySource) -> Result<String, PolicyError> {
    // Files that use the v1 keywords are parsed as v1 only: the v0 parser
    // would print warnings about them and report a less useful error.
    let looks_v1 = src.text.contains("import rego.v1")
        || src.text.contains(" if ")
        || src.text.contains(" contains ");
    engine.set_rego_v0(false);
    match engine.add_policy(src.path.clone(), src.text.clone()) {
        Ok(pkg) => Ok(pkg),
        Err(e1) if looks_v1 => Err(PolicyError::from_regorus(&src.path, &e1)),
        Err(_) => {
            engine.set_rego_v0(true);
            let v0 = engine.add_policy(src.path.clone(), src.text.clone());
            engine.set_rego_v0(false);
            v0.map_err(|e0| PolicyError::from_regorus(&src.path, &e0))
        }
    }
}

/// Names of rules defined at the start of a line whose name satisfies `pred`
/// (e.g. `deny`, `deny_public`, `test_x`), in order of first appearance.
pub fn rule_heads(text: &str, pred: impl Fn(&str) -> bool) -> Vec<(String, u32)> {
    let mut out: Vec<(String, u32)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.trim_start();
        let name: String = l
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() || !pred(&name) {
            continue;
        }
        let rest = l[name.len()..].trim_start();
        let is_head = rest.starts_with('[')
            || rest.starts_with('{')
            || rest.starts_with("contains")
            || rest.starts_with("if")
            || rest.starts_with(":=")
            || rest.starts_with('=')
            || rest.is_empty();
        if is_head && !out.iter().any(|(n, _)| *n == name) {
            out.push((name, (i + 1) as u32));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_heads_finds_both_syntaxes() {
        let t = "package main\n\ndeny[msg] {\n  msg := \"x\"\n}\n\ndeny_public contains msg if {\n msg := \"y\"\n}\nwarn = true\ndenylist := [1]\n";
        let heads = rule_heads(t, |n| n == "deny" || n.starts_with("deny_") || n == "warn");
        assert_eq!(
            heads,
            vec![
                ("deny".into(), 3),
                ("deny_public".into(), 7),
                ("warn".into(), 10)
            ]
        );
    }

    #[test]
    fn both_syntaxes_load_and_errors_are_located() {
        let mut e = regorus::Engine::new();
        let v0 = PolicySource {
            path: "old.rego".into(),
            text: "package main\ndeny[msg] {\n  msg := \"x\"\n}\n".into(),
        };
        let v1 = PolicySource {
            path: "new.rego".into(),
            text: "package other\ndeny contains msg if {\n  msg := \"y\"\n}\n".into(),
        };
        assert_eq!(add_module(&mut e, &v0).ok().as_deref(), Some("data.main"));
        assert_eq!(add_module(&mut e, &v1).ok().as_deref(), Some("data.other"));
        let bad = PolicySource {
            path: "bad.rego".into(),
            text: "package x\n\ndeny contains msg if {\n  msg := \n}\n".into(),
        };
        match add_module(&mut e, &bad) {
            Err(PolicyError::Syntax { file, line, .. }) => {
                assert_eq!(file, "bad.rego");
                assert!(line >= 4, "line {line}");
            }
            other => unreachable!("expected a syntax error, got {other:?}"),
        }
    }
}
