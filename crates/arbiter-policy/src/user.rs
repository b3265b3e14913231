//! The user's own policies: conftest style and Spacelift style, unmodified.

use crate::error::PolicyError;
use crate::limits::{install_guards, on_eval_thread, value_size, Deadline, Limits};
use crate::load::{add_module, check_modules, rule_heads, LoadedFiles};
use crate::rulepack::{package_of, sort_findings, RULE_PACKAGE_PREFIX};
use crate::values::{get_str, s, to_json};
use arbiter_verdict::{ChangeRelation, Effect, Finding, Severity, SourceLocation};
use regorus::Value;
use std::collections::BTreeMap;

/// Largest result of one entrypoint (measured written out).
const MAX_RESULT_BYTES: u64 = 16 << 20;

/// Which input document a package receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputStyle {
    /// `input` = the plan JSON (+ `input.arbiter`).
    Conftest,
    /// `input` = `{"spacelift": …, "terraform": plan, "arbiter": …}`.
    Spacelift,
}

#[derive(Debug, Clone)]
struct Entrypoint {
    package: String,
    rule: String,
    effect: Effect,
    style: InputStyle,
    file: String,
    line: u32,
}

/// Loaded user policies, compiled once.
#[derive(Clone)]
pub struct UserPolicies {
    engine: regorus::Engine,
    entrypoints: Vec<Entrypoint>,
    files: usize,
    limits: Limits,
}

impl std::fmt::Debug for UserPolicies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserPolicies")
            .field("entrypoints", &self.entrypoints)
            .field("files", &self.files)
            .finish()
    }
}

/// Effect of a rule name: `deny`/`violation` → deny, `warn` → warn,
/// `escalate` → escalate, also with a `_suffix` (conftest's `deny_foo`).
fn effect_of(name: &str) -> Option<Effect> {
    let base = name.split('_').next().unwrap_or(name);
    let exact_or_suffixed = |b: &str| name == b || name.starts_with(&format!("{b}_"));
    match base {
        "deny" if exact_or_suffixed("deny") => Some(Effect::Deny),
        "violation" if exact_or_suffixed("violation") => Some(Effect::Deny),
        "warn" if exact_or_suffixed("warn") => Some(Effect::Warn),
        "escalate" if exact_or_suffixed("escalate") => Some(Effect::Escalate),
        _ => None,
    }
}

impl UserPolicies {
    /// Compiles the user modules that are not rule-pack replacements.
    /// `namespaces` are the conftest-style packages to evaluate (default
    /// `main`); `package spacelift` is always Spacelift style.
    pub fn compile(
        files: &LoadedFiles,
        namespaces: &[String],
    ) -> Result<UserPolicies, PolicyError> {
        let mut engine = regorus::Engine::new();
        install_guards(&mut engine)?;
        let namespaces: Vec<String> = if namespaces.is_empty() {
            vec!["main".into()]
        } else {
            namespaces.to_vec()
        };
        let mut entrypoints = Vec::new();
        let mut count = 0;
        // Rule-pack modules are handled by the rule pack.
        let is_user = |src: &&crate::load::PolicySource| {
            !package_of(&src.text)
                .is_some_and(|p| format!("data.{p}").starts_with(RULE_PACKAGE_PREFIX))
        };
        check_modules(files.modules.iter().filter(is_user), &[])?;
        for src in files.modules.iter().filter(is_user) {
            let pkg = add_module(&mut engine, src)?;
            count += 1;
            let bare = pkg.strip_prefix("data.").unwrap_or(&pkg).to_string();
            let style = if bare == "spacelift" {
                InputStyle::Spacelift
            } else if namespaces.contains(&bare) {
                InputStyle::Conftest
            } else {
                continue; // a library package
            };
            for (rule, line) in rule_heads(&src.text, |n| effect_of(n).is_some()) {
                let effect = effect_of(&rule).unwrap_or(Effect::Deny);
                if !entrypoints
                    .iter()
                    .any(|e: &Entrypoint| e.package == pkg && e.rule == rule)
                {
                    entrypoints.push(Entrypoint {
                        package: pkg.clone(),
                        rule,
                        effect,
                        style,
                        file: src.path.clone(),
                        line,
                    });
                }
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
        Ok(UserPolicies {
            engine,
            entrypoints,
            files: count,
            limits: Limits::default(),
        })
    }

    /// The same policies evaluated within `limits`.
    pub fn with_limits(mut self, limits: Limits) -> UserPolicies {
        self.limits = limits;
        self
    }

    /// True when no rule would be evaluated.
    pub fn is_empty(&self) -> bool {
        self.entrypoints.is_empty()
    }

    /// Number of modules compiled.
    pub fn module_count(&self) -> usize {
        self.files
    }

    /// Whether any entrypoint needs the conftest-style input (the whole plan
    /// as a Rego value, which costs time to build for large plans).
    pub fn needs_plan_document(&self) -> bool {
        !self.entrypoints.is_empty()
    }

    /// Evaluates every entrypoint. `plan` is the whole plan JSON as a Rego
    /// value ([`plan_document`]); `context` is the evaluation context
    /// (`input.arbiter`, also `data.arbiter.context`); `spacelift` is the
    /// Spacelift-style run/stack metadata.
    pub fn evaluate(
        &self,
        plan: &Value,
        context: &serde_json::Value,
        spacelift: &serde_json::Value,
    ) -> Result<Vec<Finding>, PolicyError> {
        if self.entrypoints.is_empty() {
            return Ok(Vec::new());
        }
        on_eval_thread(|| self.evaluate_here(plan, context, spacelift))
    }

    fn evaluate_here(
        &self,
        plan: &Value,
        context: &serde_json::Value,
        spacelift: &serde_json::Value,
    ) -> Result<Vec<Finding>, PolicyError> {
        let deadline = Deadline::start(&self.limits);
        let ctx = crate::values::from_json(context)
            .map_err(|m| PolicyError::Config(format!("context: {m}")))?;
        let sl = crate::values::from_json(spacelift)
            .map_err(|m| PolicyError::Config(format!("spacelift metadata: {m}")))?;
        let mut engine = self.engine.clone();
        let mut data = BTreeMap::new();
        let mut arb = BTreeMap::new();
        arb.insert(s("context"), ctx.clone());
        data.insert(s("arbiter"), Value::from(arb));
        engine
            .add_data(Value::from(data))
            .map_err(|e| PolicyError::Config(format!("cannot add data.arbiter.context: {e:#}")))?;

        let mut conftest_input = plan.clone();
        if let Ok(obj) = conftest_input.as_object_mut() {
            obj.insert(s("arbiter"), ctx.clone());
        }
        let mut sl_input = BTreeMap::new();
        sl_input.insert(s("spacelift"), sl);
        sl_input.insert(s("terraform"), plan.clone());
        sl_input.insert(s("arbiter"), ctx);
        let spacelift_input = Value::from(sl_input);

        let mut out = Vec::new();
        for style in [InputStyle::Conftest, InputStyle::Spacelift] {
            let eps: Vec<&Entrypoint> = self
                .entrypoints
                .iter()
                .filter(|e| e.style == style)
                .collect();
            if eps.is_empty() {
                continue;
            }
            engine.set_input(match style {
                InputStyle::Conftest => conftest_input.clone(),
                InputStyle::Spacelift => spacelift_input.clone(),
            });
            for ep in eps {
                let path = format!("{}.{}", ep.package, ep.rule);
                let err = |message: String| PolicyError::Eval {
                    rule: format!("{path} ({}:{})", ep.file, ep.line),
                    message,
                };
                deadline.arm(&mut engine).map_err(err)?;
                let v = engine
                    .eval_rule(path.clone())
                    .map_err(|e| err(deadline.message(&e)))?;
                if let Err(limit) = value_size(&v, MAX_RESULT_BYTES) {
                    return Err(err(format!(
                        "its result is larger than {} MiB (policy limit)",
                        limit >> 20
                    )));
                }
                messages(&v, ep, &mut out);
            }
        }
        sort_findings(&mut out);
        Ok(out)
    }
}

fn messages(v: &Value, ep: &Entrypoint, out: &mut Vec<Finding>) {
    let items: Vec<&Value> = match v {
        Value::Set(set) => set.iter().collect(),
        Value::Array(a) => a.iter().collect(),
        Value::Undefined | Value::Null | Value::Bool(false) => Vec::new(),
        other => vec![other],
    };
    let rule_id = format!(
        "{}.{}",
        ep.package.strip_prefix("data.").unwrap_or(&ep.package),
        ep.rule
    );
    for item in items {
        let (message, address, severity, id, evidence) = match item {
            Value::String(m) => (m.to_string(), None, None, None, serde_json::Value::Null),
            Value::Bool(true) => (
                format!("{rule_id} matched"),
                None,
                None,
                None,
                serde_json::Value::Null,
            ),
            Value::Object(_) => {
                let msg = get_str(item, "msg")
                    .or_else(|| get_str(item, "message"))
                    .map(str::to_string)
                    .unwrap_or_else(|| to_json(item).to_string());
                let address = get_str(item, "address")
                    .or_else(|| get_str(item, "resource"))
                    .map(str::to_string);
                let severity = get_str(item, "severity").and_then(Severity::parse);
                let id = get_str(item, "rule_id")
                    .or_else(|| get_str(item, "id"))
                    .map(str::to_string);
                let evidence = match &item["details"] {
                    Value::Undefined => match &item["metadata"] {
                        Value::Undefined => serde_json::Value::Null,
                        m => to_json(m),
                    },
                    d => to_json(d),
                };
                (msg, address, severity, id, evidence)
            }
            other => (
                to_json(other).to_string(),
                None,
                None,
                None,
                serde_json::Value::Null,
            ),
        };
        let default_sev = match ep.effect {
            Effect::Deny => Severity::High,
            Effect::Escalate => Severity::Medium,
            Effect::Warn => Severity::Low,
            Effect::Info => Severity::Info,
        };
        let mut f = Finding::new(
            id.unwrap_or_else(|| rule_id.clone()),
            "policy",
            severity.unwrap_or(default_sev),
            ep.effect,
            address,
            message,
        );
        f.evidence = evidence;
        f.relation = ChangeRelation::Change;
        f.location = Some(SourceLocation {
            file: ep.file.clone(),
            line: Some(ep.line),
        });
        out.push(f);
    }
}

/// The whole plan JSON text as a Rego value, for conftest/Spacelift input.
pub fn plan_document(text: &str) -> Result<Value, PolicyError> {
    Value::from_json_str(text).map_err(|e| PolicyError::Eval {
        rule: "policy input".into(),
        message: crate::error::first_line(&e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::PolicySource;
    use crate::LoadedFiles;
    use serde_json::json;

    fn files(mods: &[(&str, &str)]) -> LoadedFiles {
        LoadedFiles {
            modules: mods
                .iter()
                .map(|(p, t)| PolicySource {
                    path: p.to_string(),
                    text: t.to_string(),
                })
                .collect(),
            data: Vec::new(),
        }
    }

    const PLAN: &str = r#"{"format_version":"1.2","resource_changes":[{"address":"aws_s3_bucket.b","type":"aws_s3_bucket","change":{"actions":["create"],"after":{"acl":"public-read"}}}]}"#;

    #[test]
    fn conftest_and_spacelift_styles_with_context() -> Result<(), PolicyError> {
        let f = files(&[
            ("old.rego", "package main\ndeny[msg] {\n  rc := input.resource_changes[_]\n  rc.change.after.acl == \"public-read\"\n  msg := sprintf(\"%s is public\", [rc.address])\n}\n"),
            ("new.rego", "package main\nimport rego.v1\nwarn contains {\"msg\": \"prod change\", \"severity\": \"low\", \"address\": \"x.y\"} if input.arbiter.stack.environment == \"prod\"\nescalate_big contains \"big\" if count(input.resource_changes) > 0\n"),
            ("sl.rego", "package spacelift\nimport rego.v1\ndeny contains sprintf(\"stack %s: %d changes\", [input.spacelift.stack.name, count(input.terraform.resource_changes)]) if true\n"),
            ("lib.rego", "package helpers\nimport rego.v1\ndeny contains \"never evaluated: not a namespace\" if true\n"),
        ]);
        let up = UserPolicies::compile(&f, &[])?;
        let doc = plan_document(PLAN)?;
        let ctx = json!({"stack": {"environment": "prod", "name": "s"}});
        let sl = json!({"stack": {"name": "s"}});
        let out = up.evaluate(&doc, &ctx, &sl)?;
        let msgs: Vec<(&str, Effect)> =
            out.iter().map(|f| (f.message.as_str(), f.effect)).collect();
        assert!(
            msgs.contains(&("aws_s3_bucket.b is public", Effect::Deny)),
            "{msgs:?}"
        );
        assert!(msgs.contains(&("prod change", Effect::Warn)), "{msgs:?}");
        assert!(msgs.contains(&("big", Effect::Escalate)), "{msgs:?}");
        assert!(
            msgs.contains(&("stack s: 1 changes", Effect::Deny)),
            "{msgs:?}"
        );
        assert!(!msgs.iter().any(|(m, _)| m.contains("never evaluated")));
        let warn = out
            .iter()
            .find(|f| f.message == "prod change")
            .map(|f| (f.severity, f.address.clone()));
        assert_eq!(warn, Some((Severity::Low, Some("x.y".into()))));
        // --namespace selects other packages.
        let up = UserPolicies::compile(&f, &["helpers".into()])?;
        let out = up.evaluate(&doc, &ctx, &sl)?;
        assert!(out.iter().any(|f| f.message.contains("never evaluated")));
        assert!(!out.iter().any(|f| f.message == "aws_s3_bucket.b is public"));
        Ok(())
    }

    #[test]
    fn runtime_errors_are_errors() -> Result<(), PolicyError> {
        let f = files(&[(
            "e.rego",
            "package main\nimport rego.v1\ndeny contains x if { x := 1 / 0 }\n",
        )]);
        let up = UserPolicies::compile(&f, &[])?;
        let doc = plan_document(PLAN)?;
        // A runtime error names the rule and where it is defined: fail closed.
        let e = up
            .evaluate(&doc, &json!({}), &json!({}))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.contains("data.main.deny") && e.contains("e.rego:3"),
            "{e}"
        );
        let f = files(&[(
            "c.rego",
            "package main\nimport rego.v1\nx := 1\nx := 2\ndeny contains \"m\" if x == 1\n",
        )]);
        let r =
            UserPolicies::compile(&f, &[]).and_then(|up| up.evaluate(&doc, &json!({}), &json!({})));
        assert!(r.is_err(), "conflicting complete rule must fail");
        Ok(())
    }
}
