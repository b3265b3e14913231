//! Finding and reading policy files: `.rego` modules and `data.json` /
//! `data.yaml` documents, and adding them to a regorus engine with either
//! Rego syntax (v1, or v0 for older policies).

use crate::error::PolicyError;
use crate::syntax::{self, ModuleRefs, RegoSyntax};
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

/// Adds a module to `engine` in the Rego syntax it is written in: the one it
/// declares (`import rego.v1` → v1; `import future.keywords…` → v0 with those
/// keywords). Otherwise the syntax its code indicates is tried first
/// ([`crate::syntax::indicated_syntax`]: `if`/`contains`/`in`/`every`
/// outside comments and strings → v1); a v0 candidate that does not parse is
/// tried as v1. A v1 candidate is not tried as v0: it holds words that the v0
/// parser would take for identifiers, printing warnings, and fail on anyway.
/// When nothing parses, the error is that of the indicated syntax. Source
/// shaped to exhaust the parser is refused first
/// ([`crate::syntax::check_shape`]).
/// Returns the package path (`data.main`).
pub fn add_module(engine: &mut regorus::Engine, src: &PolicySource) -> Result<String, PolicyError> {
    // The built-in pack's files (all v1, checked by the tests) skip the
    // lexer: compiling is most of the cost of judging a small plan.
    if src.path.starts_with("builtin:") && src.text.contains("\nimport rego.v1\n") {
        engine.set_rego_v0(false);
        return engine
            .add_policy(src.path.clone(), src.text.clone())
            .map_err(|e| PolicyError::from_regorus(&src.path, &e));
    }
    let tokens = syntax::lex(&src.text);
    syntax::check_shape(&src.path, &tokens)?;
    let (first, declared) = match syntax::declared_syntax(&tokens) {
        Some(s) => (s, true),
        None => (syntax::indicated_syntax(&tokens), false),
    };
    let mut parse = |s: RegoSyntax| {
        engine.set_rego_v0(s == RegoSyntax::V0);
        let r = engine.add_policy(src.path.clone(), src.text.clone());
        engine.set_rego_v0(false);
        r
    };
    match parse(first) {
        Ok(pkg) => Ok(pkg),
        Err(e) if declared || first == RegoSyntax::V1 => {
            Err(PolicyError::from_regorus(&src.path, &e))
        }
        Err(e) => parse(RegoSyntax::V1).map_err(|_| PolicyError::from_regorus(&src.path, &e)),
    }
}

/// Checks modules that are compiled together: refuses recursion between
/// their rules and functions and reference chains too deep to evaluate
/// ([`crate::syntax::check_references`]).
pub fn check_modules<'a>(
    modules: impl IntoIterator<Item = &'a PolicySource>,
    extra: &[(&str, &ModuleRefs)],
) -> Result<(), PolicyError> {
    let parsed: Vec<(&str, ModuleRefs)> = modules
        .into_iter()
        .map(|m| (m.path.as_str(), syntax::module_refs(&syntax::lex(&m.text))))
        .collect();
    let mut all: Vec<(&str, &ModuleRefs)> = extra.to_vec();
    all.extend(parsed.iter().map(|(p, m)| (*p, m)));
    syntax::check_references(&all)
}

pub use crate::syntax::rule_heads;

#[cfg(test)]
mod tests {
    use super::*;

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

    /// v0 and v1 policies whose comments, strings and rule names hold the
    /// words `if` and `contains`.
    pub(crate) const V0_WITH_KEYWORDS: &str = r#"package main

# Deny if the bucket contains a public ACL; notify if x.
deny[msg] {
  rc := input.resource_changes[_]
  contains_admin[rc.address]
  msg := sprintf("%s contains admin if public", [rc.address])
}

contains_admin[a] {
  rc := input.resource_changes[_]
  rc.change.after.acl == "public-read"
  a := rc.address
}

notify_if_x = `raw if contains` { true }

test_contains_admin {
  count(deny) == 1 with input as {"resource_changes": [{"address": "b", "change": {"after": {"acl": "public-read"}}}]}
}
"#;

    pub(crate) const V1_WITH_KEYWORDS: &str = r#"package other

# v1 without the import: `if` and `contains` are keywords here.
deny contains msg if {
  some rc in input.resource_changes
  rc.change.after.acl == "private"
  msg := "private # not a comment"
}

ifx := 1

contains_x(s) if contains(s, "x")

test_private if {
  count(deny) == 1 with input as {"resource_changes": [{"address": "b", "change": {"after": {"acl": "private"}}}]}
}
"#;

    #[test]
    fn keywords_in_comments_strings_and_names_do_not_decide_the_syntax() {
        for (name, text, pkg) in [
            ("v0.rego", V0_WITH_KEYWORDS, "data.main"),
            ("v1.rego", V1_WITH_KEYWORDS, "data.other"),
        ] {
            let mut e = regorus::Engine::new();
            let src = PolicySource {
                path: name.into(),
                text: text.into(),
            };
            assert_eq!(
                add_module(&mut e, &src)
                    .map_err(|e| e.to_string())
                    .as_deref(),
                Ok(pkg),
                "{name}"
            );
        }
        // v0 semantics are kept: `deny[msg]` is a partial set.
        let mut e = regorus::Engine::new();
        let src = PolicySource {
            path: "v0.rego".into(),
            text: V0_WITH_KEYWORDS.into(),
        };
        assert!(add_module(&mut e, &src).is_ok());
        assert_eq!(
            e.eval_rule("data.main.test_contains_admin".into()).ok(),
            Some(regorus::Value::Bool(true))
        );
    }

    #[test]
    fn a_file_that_parses_in_neither_syntax_reports_the_indicated_one() {
        let bad_v0 =
            "package main\n# if contains\ndeny[msg] {\n  msg := \"contains\"\n  x := \n}\n";
        let bad_v1 = "package main\ndeny contains msg if {\n  msg := \"x\"\n  x := \n}\n";
        for text in [bad_v0, bad_v1] {
            let mut e = regorus::Engine::new();
            let src = PolicySource {
                path: "p/bad.rego".into(),
                text: text.into(),
            };
            match add_module(&mut e, &src) {
                Err(PolicyError::Syntax {
                    file,
                    line,
                    message,
                    ..
                }) => {
                    assert_eq!(file, "p/bad.rego");
                    assert!(line >= 5, "{text}: line {line}: {message}");
                    // The v1 parser's complaint about a v0 file is not the error.
                    assert!(!message.contains("`if` keyword"), "{message}");
                }
                other => unreachable!("expected a syntax error, got {other:?}"),
            }
        }
        // A declared syntax is the only one tried.
        let declared = "package main\nimport rego.v1\ndeny[msg] {\n  msg := 1\n}\n";
        let mut e = regorus::Engine::new();
        let r = add_module(
            &mut e,
            &PolicySource {
                path: "d.rego".into(),
                text: declared.into(),
            },
        );
        assert!(
            matches!(r, Err(PolicyError::Syntax { line: 3, .. })),
            "{r:?}"
        );
    }

    #[test]
    fn both_syntaxes_in_one_directory() -> Result<(), PolicyError> {
        let dir = tempfile::tempdir().map_err(|e| PolicyError::Config(e.to_string()))?;
        let write = |n: &str, t: &str| std::fs::write(dir.path().join(n), t);
        write("old.rego", V0_WITH_KEYWORDS).map_err(|e| PolicyError::Config(e.to_string()))?;
        write("new.rego", V1_WITH_KEYWORDS).map_err(|e| PolicyError::Config(e.to_string()))?;
        let files = load_paths(&[dir.path().to_path_buf()], true)?;
        assert_eq!(files.modules.len(), 2);
        let up = crate::UserPolicies::compile(&files, &["main".into(), "other".into()])?;
        assert_eq!(up.module_count(), 2);
        let results = crate::testing::run_tests(
            &[dir.path().to_path_buf()],
            None,
            &crate::Limits::default(),
        )?;
        let names: Vec<(&str, &crate::testing::TestResult)> = results
            .iter()
            .map(|o| (o.name.as_str(), &o.result))
            .collect();
        assert_eq!(
            names,
            vec![
                ("test_private", &crate::testing::TestResult::Pass),
                ("test_contains_admin", &crate::testing::TestResult::Pass)
            ]
        );
        Ok(())
    }

    #[test]
    fn the_builtin_files_pass_the_checks_they_skip() {
        let mut refs = Vec::new();
        for (rel, text) in crate::builtin_files() {
            let tokens = syntax::lex(text);
            assert!(syntax::check_shape(rel, &tokens).is_ok(), "{rel}");
            assert_eq!(
                syntax::declared_syntax(&tokens),
                Some(RegoSyntax::V1),
                "{rel}"
            );
            refs.push((rel, syntax::module_refs(&tokens)));
        }
        let list: Vec<(&str, &ModuleRefs)> = refs.iter().map(|(p, m)| (*p, m)).collect();
        assert!(syntax::check_references(&list).is_ok());
    }
}
