//! `arbiter policy test`: runs `test_*` rules the way `opa test` does.

use crate::error::PolicyError;
use crate::limits::{install_guards, on_eval_thread, Deadline, Limits};
use crate::load::{add_module, check_modules, load_paths, rule_heads};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Result of one test rule.
#[derive(Debug, Clone, PartialEq)]
pub enum TestResult {
    /// The rule evaluated to `true`.
    Pass,
    /// The rule was false or undefined.
    Fail,
    /// Evaluation raised an error.
    Error(String),
}

/// One test rule's outcome.
#[derive(Debug, Clone)]
pub struct TestOutcome {
    /// File defining the test.
    pub file: String,
    /// Package path, e.g. `data.main`.
    pub package: String,
    /// Rule name, e.g. `test_deny_public_bucket`.
    pub name: String,
    /// 1-based line of the rule head.
    pub line: u32,
    /// What happened.
    pub result: TestResult,
    /// How long it took.
    pub duration: Duration,
}

/// Loads every `.rego` file (tests included) and data document under `paths`
/// and evaluates each `test_*` rule whose `package.name` contains `filter`.
/// Each test has the time budget of `limits`.
pub fn run_tests(
    paths: &[PathBuf],
    filter: Option<&str>,
    limits: &Limits,
) -> Result<Vec<TestOutcome>, PolicyError> {
    let files = load_paths(paths, true)?;
    on_eval_thread(|| run_loaded(&files, filter, limits))
}

fn run_loaded(
    files: &crate::load::LoadedFiles,
    filter: Option<&str>,
    limits: &Limits,
) -> Result<Vec<TestOutcome>, PolicyError> {
    let mut engine = regorus::Engine::new();
    install_guards(&mut engine)?;
    let mut tests = Vec::new();
    check_modules(&files.modules, &[])?;
    for src in &files.modules {
        let pkg = add_module(&mut engine, src)?;
        for (name, line) in rule_heads(&src.text, |n| n.starts_with("test_")) {
            tests.push((src.path.clone(), pkg.clone(), name, line));
        }
    }
    for d in &files.data {
        engine
            .add_data(d.value.clone())
            .map_err(|e| PolicyError::Data {
                path: d.path.clone(),
                message: format!("{e:#}"),
            })?;
    }
    engine.set_input(regorus::Value::new_object());
    let mut out = Vec::new();
    for (file, package, name, line) in tests {
        let full = format!("{package}.{name}");
        if filter.is_some_and(|f| !full.contains(f)) {
            continue;
        }
        let start = Instant::now();
        let deadline = Deadline::start(limits);
        let result = match deadline.arm(&mut engine) {
            Err(m) => TestResult::Error(m),
            Ok(()) => match engine.eval_rule(full.clone()) {
                Ok(regorus::Value::Bool(true)) => TestResult::Pass,
                Ok(_) => TestResult::Fail,
                Err(e) => TestResult::Error(deadline.message(&e)),
            },
        };
        out.push(TestOutcome {
            file,
            package,
            name,
            line,
            result,
            duration: start.elapsed(),
        });
    }
    Ok(out)
}
