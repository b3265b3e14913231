//! Approval policies: Rego that decides, from the reviews collected so far,
//! whether a change request that needs a person is approved, rejected, or
//! still waiting.
//!
//! A policy is a module in `package arbiter.approval` defining the booleans
//! `approve` and `reject` (either may be undefined = false), and optionally
//! `required` (a number shown to reviewers: approvals needed). `reject` wins
//! over `approve`. Input:
//!
//! ```json
//! {"change_request": {"id": 7, "stack": "web", "submitter": "agent:ci",
//!                     "decision": "review", "confidence": 62.5, "priority": 0.4,
//!                     "cost_delta_usd": 12.0, "resources_changed": 3},
//!  "stack": {"name": "web", "environment": "prod", "labels": ["team:web"], …},
//!  "reviews": [{"reviewer": "user:alice", "role": "reviewer",
//!               "decision": "approve", "comment": "ok"}]}
//! ```

use crate::error::{first_line, PolicyError};
use crate::limits::{install_guards, on_eval_thread, Deadline, Limits};
use crate::load::{add_module, check_modules, LoadedFiles, PolicySource};
use regorus::Value;

/// The package every approval policy lives in.
pub const APPROVAL_PACKAGE: &str = "arbiter.approval";

/// The built-in approval policy: two approvals for `prod`, one elsewhere;
/// any rejection rejects.
pub const BUILTIN_APPROVAL_POLICY: &str = r#"package arbiter.approval

import rego.v1

# Approvals needed: two people for production, one elsewhere.
default required := 1

required := 2 if input.stack.environment == "prod"

approvals := {r.reviewer | some r in input.reviews; r.decision == "approve"}

rejections := {r.reviewer | some r in input.reviews; r.decision == "reject"}

approve if count(approvals) >= required

reject if count(rejections) > 0
"#;

/// What an approval policy says now.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalOutcome {
    /// Enough approvals.
    pub approve: bool,
    /// Rejected.
    pub reject: bool,
    /// Approvals the policy asks for, when it says.
    pub required: Option<f64>,
}

/// A compiled approval policy; clone per evaluation is cheap.
#[derive(Clone)]
pub struct ApprovalPolicy {
    engine: regorus::Engine,
    /// The file defining `package arbiter.approval`, named in errors.
    file: String,
    limits: Limits,
}

impl ApprovalPolicy {
    /// The built-in policy.
    pub fn builtin() -> Result<ApprovalPolicy, PolicyError> {
        ApprovalPolicy::compile(&LoadedFiles {
            modules: vec![PolicySource {
                path: "builtin:approval.rego".into(),
                text: BUILTIN_APPROVAL_POLICY.into(),
            }],
            data: Vec::new(),
        })
    }

    /// Compiles a policy set; at least one module must be in
    /// `package arbiter.approval` and define `approve` or `reject`.
    pub fn compile(files: &LoadedFiles) -> Result<ApprovalPolicy, PolicyError> {
        ApprovalPolicy::compile_within(files, Limits::default())
    }

    /// Compiles a policy set whose check run and later evaluations are held
    /// to `limits` (the server's configured budget, not the default one).
    pub fn compile_within(
        files: &LoadedFiles,
        limits: Limits,
    ) -> Result<ApprovalPolicy, PolicyError> {
        on_eval_thread(|| ApprovalPolicy::compile_here(files, limits))
    }

    fn compile_here(files: &LoadedFiles, limits: Limits) -> Result<ApprovalPolicy, PolicyError> {
        let mut engine = regorus::Engine::new();
        install_guards(&mut engine)?;
        let mut found = None;
        check_modules(&files.modules, &[])?;
        for m in &files.modules {
            let pkg = add_module(&mut engine, m)?;
            if pkg == format!("data.{APPROVAL_PACKAGE}") && found.is_none() {
                found = Some(m.path.clone());
            }
        }
        for d in &files.data {
            engine
                .add_data(d.value.clone())
                .map_err(|e| PolicyError::Data {
                    path: d.path.clone(),
                    message: first_line(&e),
                })?;
        }
        let Some(file) = found else {
            return Err(PolicyError::Config(format!(
                "an approval policy needs a module in `package {APPROVAL_PACKAGE}` defining `approve` and/or `reject`"
            )));
        };
        let p = ApprovalPolicy {
            engine,
            file,
            limits,
        };
        // Catch runtime errors (and non-boolean rules) now, not at the first review.
        p.evaluate_here(&serde_json::json!({"change_request": {}, "stack": {}, "reviews": []}))?;
        Ok(p)
    }

    /// The same policy evaluated within `limits`.
    pub fn with_limits(mut self, limits: Limits) -> ApprovalPolicy {
        self.limits = limits;
        self
    }

    /// Evaluates the policy. An error (including a policy over its budget)
    /// never approves.
    pub fn evaluate(&self, input: &serde_json::Value) -> Result<ApprovalOutcome, PolicyError> {
        on_eval_thread(|| self.evaluate_here(input))
    }

    fn evaluate_here(&self, input: &serde_json::Value) -> Result<ApprovalOutcome, PolicyError> {
        let deadline = Deadline::start(&self.limits);
        let mut engine = self.engine.clone();
        engine.set_input(
            crate::values::from_json(input)
                .map_err(|m| PolicyError::Config(format!("approval input: {m}")))?,
        );
        let mut rule = |name: &str| -> Result<Value, PolicyError> {
            let path = format!("data.{APPROVAL_PACKAGE}.{name}");
            let rule = format!("{path} ({})", self.file);
            deadline
                .arm(&mut engine)
                .map_err(|message| PolicyError::Eval {
                    rule: rule.clone(),
                    message,
                })?;
            match engine.eval_rule(path.clone()) {
                Ok(v) => Ok(v),
                // A policy need not define every rule: absent means undefined.
                Err(e) if e.to_string().contains("not a valid rule path") => Ok(Value::Undefined),
                Err(e) => Err(PolicyError::Eval {
                    rule,
                    message: deadline.message(&e),
                }),
            }
        };
        let flag = |name: &str, v: Value| -> Result<bool, PolicyError> {
            match v {
                Value::Undefined | Value::Null => Ok(false),
                Value::Bool(b) => Ok(b),
                other => Err(PolicyError::Eval {
                    rule: format!("data.{APPROVAL_PACKAGE}.{name}"),
                    message: format!("must be a boolean, got {other}"),
                }),
            }
        };
        let approve = flag("approve", rule("approve")?)?;
        let reject = flag("reject", rule("reject")?)?;
        let required = match rule("required")? {
            Value::Number(n) => n.as_f64(),
            _ => None,
        };
        Ok(ApprovalOutcome {
            approve,
            reject,
            required,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn input(env: &str, reviews: &[(&str, &str)]) -> serde_json::Value {
        serde_json::json!({
            "change_request": {"id": 1},
            "stack": {"environment": env},
            "reviews": reviews.iter().map(|(r, d)| serde_json::json!({"reviewer": r, "decision": d})).collect::<Vec<_>>(),
        })
    }

    #[test]
    fn builtin_wants_two_approvals_in_prod_and_one_elsewhere() {
        let p = ApprovalPolicy::builtin().unwrap();
        let o = p
            .evaluate(&input("prod", &[("user:a", "approve")]))
            .unwrap();
        assert!(!o.approve && !o.reject);
        assert_eq!(o.required, Some(2.0));
        let o = p
            .evaluate(&input(
                "prod",
                &[("user:a", "approve"), ("user:b", "approve")],
            ))
            .unwrap();
        assert!(o.approve && !o.reject);
        let o = p.evaluate(&input("dev", &[("user:a", "approve")])).unwrap();
        assert!(o.approve);
        let o = p
            .evaluate(&input(
                "dev",
                &[("user:a", "approve"), ("user:b", "reject")],
            ))
            .unwrap();
        assert!(o.reject);
    }

    #[test]
    fn custom_policies_are_checked_when_compiled() {
        let files = |text: &str| LoadedFiles {
            modules: vec![PolicySource {
                path: "a.rego".into(),
                text: text.into(),
            }],
            data: Vec::new(),
        };
        let wrong_pkg = ApprovalPolicy::compile(&files("package main\napprove := true\n"));
        assert!(wrong_pkg
            .err()
            .unwrap()
            .to_string()
            .contains("package arbiter.approval"));
        let not_bool = ApprovalPolicy::compile(&files("package arbiter.approval\napprove := 3\n"));
        assert!(not_bool
            .err()
            .unwrap()
            .to_string()
            .contains("must be a boolean"));
        let three = ApprovalPolicy::compile(&files(
            "package arbiter.approval\nimport rego.v1\napprove if count(input.reviews) >= 3\n",
        ))
        .unwrap();
        assert!(
            !three
                .evaluate(&input("dev", &[("user:a", "approve")]))
                .unwrap()
                .approve
        );
    }

    #[test]
    fn a_policy_over_its_time_budget_is_an_error_never_an_approval() {
        let files = LoadedFiles {
            modules: vec![PolicySource {
                path: "slow.rego".into(),
                text: "package arbiter.approval\nimport rego.v1\napprove if {\n  input.stack.environment == \"slow\"\n  count([1 | some i in numbers.range(1, 14000); some j in numbers.range(1, 14000); i + j == 0]) >= 0\n}\n".into(),
            }],
            data: Vec::new(),
        };
        let p = ApprovalPolicy::compile(&files)
            .unwrap()
            .with_limits(Limits::with_timeout(std::time::Duration::from_millis(200)));
        let started = std::time::Instant::now();
        let e = p
            .evaluate(&input("slow", &[("user:a", "approve")]))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.contains("exceeded the time budget of 200 ms") && e.contains("slow.rego"),
            "{e}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }
}
