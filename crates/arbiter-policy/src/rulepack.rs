//! The rule pack: built-in Rego rules (embedded in the binary) plus user
//! replacements, evaluated with change semantics.
//!
//! Each rule is a predicate on one *state* of a resource. The pack evaluates
//! every rule on the after-state of created/updated/replaced resources; where
//! an after-state has a finding that matters (not `info`) and the resource
//! existed before, it also evaluates the before-state and compares findings by
//! (rule, address, message): present only after → introduced; before and
//! after → pre-existing (downgraded to `info`, it does not hold the change
//! up); only before → fixed (`info`, reported on those resources). A change
//! that only makes a resource safer therefore raises nothing.
//! Rules see only the resource types they declare, so the work grows with the
//! resources each rule cares about, not with rules × plan size.

use crate::error::PolicyError;
use crate::limits::{install_guards, on_eval_thread, Deadline, Limits};
use crate::load::{add_module, check_modules, PolicySource};
use crate::syntax::ModuleRefs;
use crate::values::{
    from_json_text, from_json_text_cached, get_str, s, to_json, DocCache, KeyCache,
};
use arbiter_plan::address::config_address;
use arbiter_plan::{argument_references, Action, ArgumentReferences, Plan, ResourceChange};
use arbiter_verdict::{ChangeRelation, Effect, Finding, FixStep, Severity, SourceLocation};
use regorus::Value;
use std::collections::{BTreeMap, BTreeSet};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/builtin_rules.rs"));
}

/// The built-in rule pack files: (path relative to `rules/`, Rego text).
pub fn builtin_files() -> impl Iterator<Item = (&'static str, &'static str)> {
    embedded::BUILTIN_FILES.iter().map(|(p, t, _)| (*p, *t))
}

/// Metadata of a built-in file extracted at build time, as JSON.
fn builtin_metadata(path: &str) -> Option<&'static str> {
    let rel = path.strip_prefix("builtin:")?;
    embedded::BUILTIN_FILES
        .iter()
        .find(|(p, _, _)| *p == rel)
        .and_then(|(_, _, m)| *m)
}

/// The references of every built-in file (`builtin:<rel>`), read once.
fn builtin_references() -> &'static [(String, ModuleRefs)] {
    static REFS: std::sync::OnceLock<Vec<(String, ModuleRefs)>> = std::sync::OnceLock::new();
    REFS.get_or_init(|| {
        builtin_files()
            .map(|(rel, text)| {
                (
                    format!("builtin:{rel}"),
                    crate::syntax::module_refs(&crate::syntax::lex(text)),
                )
            })
            .collect()
    })
}

/// Package prefix every rule of the pack lives under.
pub const RULE_PACKAGE_PREFIX: &str = "data.arbiter.rules.";

/// Description of one rule, read from its `metadata` object.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RuleMeta {
    /// Stable ID, e.g. `ARB-AWS-NET-001`.
    pub id: String,
    /// Short title.
    pub title: String,
    /// Default severity.
    pub severity: Severity,
    /// Default effect.
    pub effect: Effect,
    /// Category (`iam`, `network`, …).
    pub category: String,
    /// Cloud provider (`aws`, `gcp`, `azure`).
    pub provider: String,
    /// Resource types the rule reads (`data.` prefix for data sources).
    pub resource_types: Vec<String>,
    /// Why it matters.
    pub rationale: String,
    /// What to do.
    pub remediation: String,
    /// Corresponding Checkov check IDs.
    pub checkov: Vec<String>,
    /// The rule relates resources of different types (metadata `"joins": true`):
    /// a finding on one resource depends on another one in the change (an egress
    /// rule and its group, a bucket and its versioning resource). Such rules are
    /// always evaluated over every view of their types at once, never over half
    /// of a plan, and their before-state evaluation sees the other resources.
    pub joins: bool,
    /// The mechanical fix (metadata `"fix"`: steps on the flagged resource's
    /// attribute values) that makes the rule's finding go away; empty when
    /// the rule declares none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fix: Vec<FixStep>,
    /// Rego package path, e.g. `data.arbiter.rules.aws.sg_admin_ports_world_open`.
    pub package: String,
    /// File the rule was loaded from (`builtin:aws/x.rego` or a user path).
    pub file: String,
    /// Whether it is part of the built-in pack (not replaced by a user file).
    pub builtin: bool,
    /// The Rego source.
    #[serde(skip)]
    pub source: String,
    /// Whether the rule is compiled in this pack (see [`RulePack::for_types`]).
    #[serde(skip)]
    pub compiled: bool,
}

/// User adjustments to the pack: disable rules, re-grade severity or effect.
#[derive(Debug, Clone, Default)]
pub struct RuleOverrides {
    /// Rule IDs to skip.
    pub disabled: BTreeSet<String>,
    /// New severity per rule ID.
    pub severity: BTreeMap<String, Severity>,
    /// New effect per rule ID.
    pub effect: BTreeMap<String, Effect>,
}

impl RuleOverrides {
    /// Fails when an override names an unknown rule ID (a typo would silently
    /// leave a rule on).
    pub fn check_against(&self, pack: &RulePack) -> Result<(), PolicyError> {
        let known: BTreeSet<&str> = pack.rules.iter().map(|r| r.id.as_str()).collect();
        for id in self
            .disabled
            .iter()
            .chain(self.severity.keys())
            .chain(self.effect.keys())
        {
            if !known.contains(id.as_str()) {
                return Err(PolicyError::Config(format!(
                    "unknown rule ID {id:?} in rule overrides; see `arbiter rules list`"
                )));
            }
        }
        Ok(())
    }
}

/// A compiled rule pack, ready to evaluate plans. Cheap to share between
/// threads; evaluation clones the compiled engine.
#[derive(Clone)]
pub struct RulePack {
    engine: regorus::Engine,
    limits: Limits,
    rules: Vec<RuleMeta>,
    /// The resource types the pack was compiled for (`None`: all rules).
    compiled_for: Option<BTreeSet<String>>,
}

/// One resource state handed to rules.
#[derive(Clone)]
struct View<'a> {
    rc: &'a ResourceChange,
    values: &'a str,
    unknown: Option<&'a str>,
    /// What the block's arguments refer to in the configuration (`refs`).
    refs: Option<&'a BTreeMap<String, BTreeSet<String>>>,
}

/// A raw finding before metadata is applied: (rule index, address, message, evidence, severity, effect).
type RawFinding = (
    usize,
    String,
    String,
    serde_json::Value,
    Option<Severity>,
    Option<Effect>,
);

impl RulePack {
    /// The built-in pack alone.
    pub fn builtin() -> Result<RulePack, PolicyError> {
        RulePack::with_replacements(&[])
    }

    /// The built-in pack, where any user module whose package matches a
    /// built-in rule's package replaces it, and other user modules under
    /// `arbiter.rules.` add rules (or helpers under `arbiter.lib`).
    pub fn with_replacements(user: &[PolicySource]) -> Result<RulePack, PolicyError> {
        RulePack::for_types(user, None)
    }

    /// Like [`RulePack::with_replacements`], but compiles only the built-in
    /// rules that read one of `types` (all rules when `None`). Compiling is
    /// most of the cost of judging a small plan; a pack compiled for some types
    /// refuses to judge a plan with other rule-relevant types rather than
    /// silently skip rules. `rules()` still lists every rule.
    pub fn for_types(
        user: &[PolicySource],
        types: Option<&BTreeSet<String>>,
    ) -> Result<RulePack, PolicyError> {
        on_eval_thread(|| RulePack::for_types_here(user, types))
    }

    fn for_types_here(
        user: &[PolicySource],
        types: Option<&BTreeSet<String>>,
    ) -> Result<RulePack, PolicyError> {
        let mut engine = regorus::Engine::new();
        install_guards(&mut engine)?;
        let user_packages: BTreeMap<String, &PolicySource> = user
            .iter()
            .filter_map(|src| package_of(&src.text).map(|p| (format!("data.{p}"), src)))
            .collect();
        // Recursion: only user files can bring it (the built-in files are
        // checked by the tests); their references to built-in files count,
        // read once per process.
        if !user_packages.is_empty() {
            let builtin_refs: Vec<(&str, &ModuleRefs)> = builtin_references()
                .iter()
                .filter(|(_, m)| !user_packages.contains_key(&m.package))
                .map(|(p, m)| (p.as_str(), m))
                .collect();
            check_modules(user_packages.values().copied(), &builtin_refs)?;
        }
        let mut rules = Vec::new();
        let mut seen_ids: BTreeMap<String, String> = BTreeMap::new();
        let mut add_meta = |meta: RuleMeta, rules: &mut Vec<RuleMeta>| -> Result<(), PolicyError> {
            if let Some(other) = seen_ids.insert(meta.id.clone(), meta.file.clone()) {
                return Err(PolicyError::Config(format!(
                    "{}: rule ID {} is already used by {other}",
                    meta.file, meta.id
                )));
            }
            rules.push(meta);
            Ok(())
        };
        // Built-in files: metadata comes from the build; compile what is needed.
        for (rel, text) in builtin_files() {
            let pkg = package_of(text)
                .map(|p| format!("data.{p}"))
                .unwrap_or_default();
            if user_packages.contains_key(&pkg) {
                continue;
            }
            let src = PolicySource {
                path: format!("builtin:{rel}"),
                text: (*text).to_string(),
            };
            if !pkg.starts_with(RULE_PACKAGE_PREFIX) {
                add_module(&mut engine, &src)?; // helper library
                continue;
            }
            let pre = builtin_metadata(&src.path).and_then(|m| from_json_text(m).ok());
            let (meta_val, compiled) = match pre {
                Some(v) => {
                    let wanted = types.is_none_or(|t| {
                        let rt = list_of(&v["resource_types"]);
                        rt.iter().any(|x| t.contains(x))
                    });
                    if wanted {
                        add_module(&mut engine, &src)?;
                    }
                    (v, wanted)
                }
                None => {
                    add_module(&mut engine, &src)?;
                    (eval_metadata(&mut engine, &pkg, &src)?, true)
                }
            };
            let mut meta = parse_meta(&meta_val, &pkg, &src, true)?;
            meta.compiled = compiled;
            add_meta(meta, &mut rules)?;
        }
        // User files: always compiled.
        for (pkg, src) in &user_packages {
            let added = add_module(&mut engine, src)?;
            if !added.starts_with(RULE_PACKAGE_PREFIX) {
                continue;
            }
            let v = eval_metadata(&mut engine, pkg, src)?;
            let mut meta = parse_meta(&v, pkg, src, false)?;
            meta.compiled = true;
            add_meta(meta, &mut rules)?;
        }
        rules.sort_by(|a, b| a.id.cmp(&b.id));
        // Prepare the engine once so clones share the compiled form.
        engine.set_input(Value::new_object());
        if let Some(r) = rules.iter().find(|r| r.compiled) {
            let _ = engine.eval_rule(format!("{}.findings", r.package));
        }
        Ok(RulePack {
            engine,
            limits: Limits::default(),
            rules,
            compiled_for: types.cloned(),
        })
    }

    /// The same pack evaluated within `limits`.
    pub fn with_limits(mut self, limits: Limits) -> RulePack {
        self.limits = limits;
        self
    }

    /// Every rule, sorted by ID.
    pub fn rules(&self) -> &[RuleMeta] {
        &self.rules
    }

    /// The rule with this ID (case-insensitive).
    pub fn rule(&self, id: &str) -> Option<&RuleMeta> {
        self.rules.iter().find(|r| r.id.eq_ignore_ascii_case(id))
    }

    /// Evaluates the pack on a plan. `stack` becomes `input.stack`.
    /// Findings are sorted (effect, severity, rule, address, message).
    pub fn evaluate(
        &self,
        plan: &Plan,
        stack: &serde_json::Value,
        overrides: &RuleOverrides,
    ) -> Result<Vec<Finding>, PolicyError> {
        on_eval_thread(|| self.evaluate_here(plan, stack, overrides))
    }

    fn evaluate_here(
        &self,
        plan: &Plan,
        stack: &serde_json::Value,
        overrides: &RuleOverrides,
    ) -> Result<Vec<Finding>, PolicyError> {
        let deadline = Deadline::start(&self.limits);
        // Provider blocks of the configuration are judged like resources
        // (type `provider.<name>`), e.g. for static credentials.
        let mut providers = provider_views(plan);
        // Provisioners of the resources the plan creates or destroys
        // (type `provisioner.<kind>`, at the resource's address): code the
        // worker would run.
        providers.extend(provisioner_views(plan));
        if let Some(compiled) = &self.compiled_for {
            let all: BTreeSet<&str> = self
                .rules
                .iter()
                .flat_map(|r| r.resource_types.iter().map(String::as_str))
                .collect();
            if let Some(rc) = plan
                .resource_changes
                .iter()
                .chain(providers.iter())
                .find(|rc| {
                    let t = rc.keyed_type();
                    all.contains(t.as_str()) && !compiled.contains(&t)
                })
            {
                return Err(PolicyError::Config(format!(
                    "the rule pack was compiled without the rules for {} ({}); compile it for the plan's types",
                    rc.keyed_type(),
                    rc.address
                )));
            }
        }
        let active: Vec<usize> = (0..self.rules.len())
            .filter(|&i| self.rules[i].compiled && !overrides.disabled.contains(&self.rules[i].id))
            .collect();
        let types: BTreeSet<&str> = active
            .iter()
            .flat_map(|&i| self.rules[i].resource_types.iter().map(String::as_str))
            .collect();
        // What each block's arguments refer to, for rules that follow a
        // reference (an egress rule to its group, a route to its table).
        let arg_refs: ArgumentReferences = plan
            .configuration
            .as_ref()
            .map(argument_references)
            .unwrap_or_default();
        let mut after_views = Vec::new();
        let mut before_views: Vec<View<'_>> = Vec::new();
        for rc in plan.resource_changes.iter().chain(providers.iter()) {
            let keyed = rc.keyed_type();
            if !types.contains(keyed.as_str()) {
                continue;
            }
            let refs = if arg_refs.is_empty() {
                None
            } else {
                arg_refs.get(&config_address(&rc.address))
            };
            if rc.action.has_after_state() {
                if let Some(a) = &rc.change.after {
                    after_views.push(View {
                        rc,
                        values: a.text(),
                        unknown: rc.change.after_unknown.as_ref().map(|u| u.text()),
                        refs,
                    });
                }
            }
            if matches!(
                rc.action,
                Action::Update | Action::DeleteThenCreate | Action::CreateThenDelete
            ) {
                if let Some(b) = &rc.change.before {
                    before_views.push(View {
                        rc,
                        values: b.text(),
                        unknown: None,
                        refs,
                    });
                }
            }
        }
        let stack_value = crate::values::from_json(stack)
            .map_err(|m| PolicyError::Config(format!("stack context: {m}")))?;

        // Rules that relate resources across types see every view of their types
        // in one evaluation; the others may run on halves of the plan.
        let (joined, single): (Vec<usize>, Vec<usize>) =
            active.iter().partition(|&&i| self.rules[i].joins);
        // After-states: two halves in two threads when there is enough work.
        let after = if after_views.len() >= 512 {
            // Split where half of the JSON text is on each side: the work is
            // proportional to the values' size, not to their count.
            let total: usize = after_views.iter().map(|v| v.values.len()).sum();
            let mut acc = 0;
            let mid = after_views
                .iter()
                .position(|v| {
                    acc += v.values.len();
                    acc * 2 >= total
                })
                .map_or(after_views.len() / 2, |i| i + 1);
            let (a1, a2) = after_views.split_at(mid);
            let (r1, r2) = std::thread::scope(|scope| {
                let h = std::thread::Builder::new()
                    .stack_size(crate::limits::EVAL_STACK_BYTES)
                    .spawn_scoped(scope, || {
                        self.run_views(a2, &stack_value, &single, &deadline)
                    });
                let r1 = self.run_views(a1, &stack_value, &single, &deadline);
                let r2 = match h {
                    Ok(h) => h.join().unwrap_or_else(|_| {
                        Err(PolicyError::Eval {
                            rule: "rule pack".into(),
                            message: "evaluation thread panicked".into(),
                        })
                    }),
                    // No second thread: this one does both halves.
                    Err(_) => self.run_views(a2, &stack_value, &single, &deadline),
                };
                (r1, r2)
            });
            let mut a = r1?;
            a.extend(r2?);
            if !joined.is_empty() {
                let join_types = self.types_of(&joined);
                let views: Vec<View<'_>> = after_views
                    .iter()
                    .filter(|v| join_types.contains(v.rc.keyed_type().as_str()))
                    .map(View::clone)
                    .collect();
                a.extend(self.run_views(&views, &stack_value, &joined, &deadline)?);
            }
            a
        } else {
            self.run_views(&after_views, &stack_value, &active, &deadline)?
        };
        // Before-states only where the after-state has a finding that matters
        // (not info): there, a finding already present before is pre-existing.
        let matters: BTreeSet<&str> = after
            .iter()
            .filter(|f| self.effective_effect(f, overrides) != Effect::Info)
            .map(|f| f.1.as_str())
            .collect();
        // Rules that relate resources need the other resources of the before
        // world beside a judged before-state: the before-states of the other
        // updated or replaced resources of their types (created ones did not
        // exist). Findings are kept only for the judged views.
        let context: Vec<View<'_>> = if joined.is_empty() {
            Vec::new()
        } else {
            let join_types = self.types_of(&joined);
            before_views
                .iter()
                .filter(|v| {
                    !matters.contains(v.rc.address.as_str())
                        && join_types.contains(v.rc.keyed_type().as_str())
                })
                .map(View::clone)
                .collect()
        };
        before_views.retain(|v| matters.contains(v.rc.address.as_str()));
        let judged: BTreeSet<String> = before_views.iter().map(|v| v.rc.address.clone()).collect();
        if !before_views.is_empty() {
            before_views.extend(context);
        }
        let mut before = self.run_views(&before_views, &stack_value, &active, &deadline)?;
        before.retain(|f| judged.contains(f.1.as_str()));
        Ok(self.compare(after, before, overrides))
    }

    /// Single-threaded timing of the after-side evaluation, for benchmarks:
    /// milliseconds to build the input and per rule (ID, ms), slowest first.
    pub fn profile(
        &self,
        plan: &Plan,
        stack: &serde_json::Value,
    ) -> Result<(f64, Vec<(String, f64)>), PolicyError> {
        on_eval_thread(|| self.profile_here(plan, stack))
    }

    fn profile_here(
        &self,
        plan: &Plan,
        stack: &serde_json::Value,
    ) -> Result<(f64, Vec<(String, f64)>), PolicyError> {
        let deadline = Deadline::start(&self.limits);
        let active: Vec<usize> = (0..self.rules.len()).collect();
        let t = std::time::Instant::now();
        let arg_refs: ArgumentReferences = plan
            .configuration
            .as_ref()
            .map(argument_references)
            .unwrap_or_default();
        let views: Vec<View<'_>> = plan
            .resource_changes
            .iter()
            .filter(|rc| rc.action.has_after_state())
            .filter_map(|rc| {
                rc.change.after.as_ref().map(|a| View {
                    rc,
                    values: a.text(),
                    unknown: rc.change.after_unknown.as_ref().map(|u| u.text()),
                    refs: arg_refs.get(&config_address(&rc.address)),
                })
            })
            .collect();
        let stack_value = crate::values::from_json(stack).map_err(PolicyError::Config)?;
        let (input, _) = build_input(&views, &stack_value)?;
        let build_ms = t.elapsed().as_secs_f64() * 1e3;
        let mut engine = self.engine.clone();
        engine.set_input(input);
        let mut per_rule = Vec::new();
        for &i in &active {
            let t = std::time::Instant::now();
            let path = format!("{}.findings", self.rules[i].package);
            let err = |message: String| PolicyError::Eval {
                rule: self.rules[i].id.clone(),
                message,
            };
            deadline.arm(&mut engine).map_err(err)?;
            engine
                .eval_rule(path)
                .map_err(|e| err(deadline.message(&e)))?;
            per_rule.push((self.rules[i].id.clone(), t.elapsed().as_secs_f64() * 1e3));
        }
        per_rule.sort_by(|a, b| b.1.total_cmp(&a.1));
        Ok((build_ms, per_rule))
    }

    fn run_views(
        &self,
        views: &[View<'_>],
        stack: &Value,
        active: &[usize],
        deadline: &Deadline,
    ) -> Result<Vec<RawFinding>, PolicyError> {
        if views.is_empty() {
            return Ok(Vec::new());
        }
        let mut engine = self.engine.clone();
        self.run_side(&mut engine, views, stack, active, deadline)
    }

    /// The resource types the given rules read.
    fn types_of(&self, rules: &[usize]) -> BTreeSet<String> {
        rules
            .iter()
            .flat_map(|&i| self.rules[i].resource_types.iter().cloned())
            .collect()
    }

    fn effective_effect(&self, f: &RawFinding, overrides: &RuleOverrides) -> Effect {
        let rule = &self.rules[f.0];
        overrides
            .effect
            .get(&rule.id)
            .copied()
            .or(f.5)
            .unwrap_or(rule.effect)
    }

    fn run_side(
        &self,
        engine: &mut regorus::Engine,
        views: &[View<'_>],
        stack: &Value,
        active: &[usize],
        deadline: &Deadline,
    ) -> Result<Vec<RawFinding>, PolicyError> {
        if views.is_empty() {
            return Ok(Vec::new());
        }
        let (input, present) = build_input(views, stack)?;
        engine.set_input(input);
        let mut out = Vec::new();
        for &i in active {
            let rule = &self.rules[i];
            if !rule
                .resource_types
                .iter()
                .any(|t| present.contains(t.as_str()))
            {
                continue;
            }
            let path = format!("{}.findings", rule.package);
            let err = |message: String| PolicyError::Eval {
                rule: format!("{} ({path} in {})", rule.id, rule.file),
                message,
            };
            deadline.arm(engine).map_err(err)?;
            let result = engine
                .eval_rule(path.clone())
                .map_err(|e| err(deadline.message(&e)))?;
            collect_findings(i, rule, &result, &mut out)?;
        }
        Ok(out)
    }

    fn compare(
        &self,
        after: Vec<RawFinding>,
        before: Vec<RawFinding>,
        overrides: &RuleOverrides,
    ) -> Vec<Finding> {
        let key = |f: &RawFinding| (f.0, f.1.clone(), f.2.clone());
        let before_keys: BTreeSet<(usize, String, String)> = before.iter().map(key).collect();
        let after_keys: BTreeSet<(usize, String, String)> = after.iter().map(key).collect();
        let mut out = Vec::new();
        let mut emitted = BTreeSet::new();
        for f in after {
            let k = key(&f);
            if !emitted.insert(k.clone()) {
                continue;
            }
            let relation = if before_keys.contains(&k) {
                ChangeRelation::Preexisting
            } else {
                ChangeRelation::Introduced
            };
            out.push(self.finding(f, relation, overrides));
        }
        for f in before {
            let k = key(&f);
            if after_keys.contains(&k) || !emitted.insert(k) {
                continue;
            }
            out.push(self.finding(f, ChangeRelation::Fixed, overrides));
        }
        sort_findings(&mut out);
        out
    }

    fn finding(
        &self,
        f: RawFinding,
        relation: ChangeRelation,
        overrides: &RuleOverrides,
    ) -> Finding {
        let (i, address, message, evidence, sev, eff) = f;
        let rule = &self.rules[i];
        let mut severity = overrides
            .severity
            .get(&rule.id)
            .copied()
            .or(sev)
            .unwrap_or(rule.severity);
        let mut effect = overrides
            .effect
            .get(&rule.id)
            .copied()
            .or(eff)
            .unwrap_or(rule.effect);
        let message = match relation {
            ChangeRelation::Preexisting => {
                effect = Effect::Info;
                format!("Pre-existing, not introduced by this change: {message}")
            }
            ChangeRelation::Fixed => {
                effect = Effect::Info;
                severity = Severity::Info;
                format!("Fixed by this change: {message}")
            }
            _ => message,
        };
        let mut out = Finding::new(
            rule.id.clone(),
            "builtin",
            severity,
            effect,
            Some(address),
            message,
        );
        if !rule.builtin {
            out.source = "policy".into();
        }
        out.title = Some(rule.title.clone());
        out.remediation = Some(rule.remediation.clone());
        out.evidence = evidence;
        out.relation = relation;
        out.references = rule.checkov.clone();
        if relation != ChangeRelation::Fixed {
            out.fix = rule.fix.clone();
        }
        out.location = Some(SourceLocation {
            file: rule.file.clone(),
            line: None,
        });
        out
    }
}

/// The types of a plan as rules key them: `aws_instance`,
/// `data.aws_iam_policy_document`, and `provider.aws` for provider blocks.
/// [`RulePack::for_types`] with these compiles every rule the plan needs.
pub fn plan_types(plan: &Plan) -> BTreeSet<String> {
    plan.resource_changes
        .iter()
        .chain(provider_views(plan).iter())
        .chain(provisioner_views(plan).iter())
        .map(|rc| rc.keyed_type())
        .collect()
}

/// Provider blocks (`configuration.provider_config`) as pseudo-resources of
/// type `provider.<name>` at Checkov-style addresses
/// (`provider["registry.terraform.io/hashicorp/aws"].alias`): `values` holds
/// the constant expressions, `unknown` marks expressions that refer to
/// something (variables, data sources) and so are not literals.
fn provider_views(plan: &Plan) -> Vec<arbiter_plan::ResourceChange> {
    let Some(cfg) = plan
        .configuration
        .as_ref()
        .and_then(|c| c.get("provider_config"))
        .and_then(|p| p.as_object())
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, p) in cfg {
        let name = p
            .get("name")
            .and_then(|n| n.as_str())
            .unwrap_or(key.split('.').next().unwrap_or(key));
        let full = p
            .get("full_name")
            .and_then(|n| n.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| format!("registry.terraform.io/hashicorp/{name}"));
        let alias = p.get("alias").and_then(|a| a.as_str());
        let module = p.get("module_address").and_then(|m| m.as_str());
        let mut address = format!("provider[{}]", serde_json::Value::String(full.clone()));
        if let Some(a) = alias {
            address.push('.');
            address.push_str(a);
        }
        if let Some(m) = module {
            address = format!("{m}.{address}");
        }
        let mut values = serde_json::Map::new();
        let mut unknown = serde_json::Map::new();
        if let Some(exprs) = p.get("expressions").and_then(|e| e.as_object()) {
            for (k, e) in exprs {
                match e.get("constant_value") {
                    Some(v) => {
                        values.insert(k.clone(), v.clone());
                    }
                    None => {
                        values.insert(k.clone(), serde_json::Value::Null);
                        unknown.insert(k.clone(), serde_json::Value::Bool(true));
                    }
                }
            }
        }
        let change = serde_json::json!({
            "actions": ["create"],
            "after": serde_json::Value::Object(values),
            "after_unknown": serde_json::Value::Object(unknown),
        });
        let rc = serde_json::json!({
            "address": address, "mode": "managed", "type": format!("provider.{name}"), "name": alias.unwrap_or(name),
            "module_address": module, "provider_name": full, "change": change,
        });
        if let Ok(mut rc) = serde_json::from_value::<arbiter_plan::ResourceChange>(rc) {
            rc.action = Action::Create;
            out.push(rc);
        }
    }
    out
}

/// Marks an `external` data source block in [`provisioners_by_block`].
const EXTERNAL: &str = "(external data source)";

/// The provisioners of each resource block of the configuration, by
/// configuration address (`module.a.aws_instance.web`).
fn provisioners_by_block(configuration: &serde_json::Value) -> BTreeMap<String, Vec<String>> {
    fn walk(
        module: &serde_json::Value,
        prefix: &str,
        out: &mut BTreeMap<String, Vec<String>>,
        depth: usize,
    ) {
        if depth > 64 {
            return;
        }
        for r in module
            .get("resources")
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
        {
            let kinds: Vec<String> = r
                .get("provisioners")
                .and_then(serde_json::Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|p| {
                    p.get("type")
                        .and_then(serde_json::Value::as_str)
                        .map(str::to_string)
                })
                .collect();
            let Some(a) = r.get("address").and_then(serde_json::Value::as_str) else {
                continue;
            };
            let external = r.get("mode").and_then(serde_json::Value::as_str) == Some("data")
                && r.get("type").and_then(serde_json::Value::as_str) == Some("external");
            if external {
                out.insert(format!("{prefix}{a}"), vec![EXTERNAL.to_string()]);
            } else if !kinds.is_empty() {
                out.insert(format!("{prefix}{a}"), kinds);
            }
        }
        if let Some(calls) = module
            .get("module_calls")
            .and_then(serde_json::Value::as_object)
        {
            for (name, call) in calls {
                if let Some(m) = call.get("module") {
                    walk(m, &format!("{prefix}module.{name}."), out, depth + 1);
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    if let Some(root) = configuration.get("root_module") {
        walk(root, "", &mut out, 0);
    }
    out
}

/// Provisioners as pseudo-resources of type `provisioner.<kind>` at the
/// address of the resource instance that runs them, for every resource
/// the plan creates, replaces or destroys (provisioners run then, on the
/// worker). `values`: `{"provisioner": kind, "index": i, "resource_type": …}`.
fn provisioner_views(plan: &Plan) -> Vec<arbiter_plan::ResourceChange> {
    let Some(cfg) = plan.configuration.as_ref() else {
        return Vec::new();
    };
    let blocks = provisioners_by_block(cfg);
    if blocks.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    // `external` data sources run whenever the configuration is planned
    // (also by the worker), whether or not the plan lists them.
    for (address, kinds) in &blocks {
        if kinds.first().map(String::as_str) != Some(EXTERNAL) {
            continue;
        }
        let (module, name) = match address.rsplit_once(".data.external.") {
            Some((m, n)) => (Some(m.to_string()), n.to_string()),
            None => (
                None,
                address.trim_start_matches("data.external.").to_string(),
            ),
        };
        let view = serde_json::json!({
            "address": address, "mode": "data", "type": "external", "name": name,
            "module_address": module,
            "change": {"actions": ["create"], "after": {}, "after_unknown": {}},
        });
        if let Ok(mut v) = serde_json::from_value::<arbiter_plan::ResourceChange>(view) {
            v.action = Action::Create;
            out.push(v);
        }
    }
    for rc in &plan.resource_changes {
        if !matches!(
            rc.action,
            Action::Create | Action::Delete | Action::DeleteThenCreate | Action::CreateThenDelete
        ) {
            continue;
        }
        let Some(kinds) = blocks.get(&config_address(&rc.address)) else {
            continue;
        };
        if kinds.first().map(String::as_str) == Some(EXTERNAL) {
            continue;
        }
        for (i, kind) in kinds.iter().enumerate() {
            let change = serde_json::json!({
                "actions": ["create"],
                "after": {"provisioner": kind, "index": i, "resource_type": rc.resource_type},
                "after_unknown": {},
            });
            let view = serde_json::json!({
                "address": rc.address, "mode": "managed", "type": format!("provisioner.{kind}"),
                "name": rc.name, "module_address": rc.module_address, "change": change,
            });
            if let Ok(mut v) = serde_json::from_value::<arbiter_plan::ResourceChange>(view) {
                v.action = Action::Create;
                out.push(v);
            }
        }
    }
    out
}

/// Sorts findings: effect (deny first), severity, rule, address, message.
pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        (a.effect, a.severity, &a.rule_id, &a.address, &a.message)
            .cmp(&(b.effect, b.severity, &b.rule_id, &b.address, &b.message))
    });
}

/// The Rego input `{"resources": {type: [view, …]}, "stack": …}` and the
/// types present.
fn build_input(
    views: &[View<'_>],
    stack: &Value,
) -> Result<(Value, BTreeSet<String>), PolicyError> {
    let mut by_type: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut keys = KeyCache::default();
    let mut masks = DocCache::default();
    // Every view has the same keys and few distinct action lists: made once.
    let fields = ViewKeys::new(&mut keys);
    let mut actions: BTreeMap<Action, Value> = BTreeMap::new();
    for v in views {
        let acts = actions
            .entry(v.rc.action)
            .or_insert_with(|| {
                Value::from(
                    v.rc.action
                        .as_list()
                        .iter()
                        .map(|a| s(a))
                        .collect::<Vec<_>>(),
                )
            })
            .clone();
        let value = view_value(v, &fields, acts, &mut keys, &mut masks)?;
        let keyed = v.rc.keyed_type();
        match by_type.get_mut(&keyed) {
            Some(list) => list.push(value),
            None => {
                by_type.insert(keyed, vec![value]);
            }
        }
    }
    let present: BTreeSet<String> = by_type.keys().cloned().collect();
    let resources: BTreeMap<Value, Value> = by_type
        .into_iter()
        .map(|(k, list)| (s(&k), Value::from(list)))
        .collect();
    let mut input = BTreeMap::new();
    input.insert(s("resources"), Value::from(resources));
    input.insert(s("stack"), stack.clone());
    Ok((Value::from(input), present))
}

/// The keys of a resource view, in sorted order.
struct ViewKeys([Value; 12]);

impl ViewKeys {
    const NAMES: [&'static str; 12] = [
        "actions",
        "address",
        "config_address",
        "index",
        "mode",
        "module_address",
        "name",
        "provider_name",
        "refs",
        "type",
        "unknown",
        "values",
    ];

    fn new(keys: &mut KeyCache) -> ViewKeys {
        ViewKeys(Self::NAMES.map(|n| keys.key(n)))
    }
}

fn view_value<'a>(
    v: &View<'a>,
    fields: &ViewKeys,
    actions: Value,
    keys: &mut KeyCache,
    masks: &mut DocCache<'a>,
) -> Result<Value, PolicyError> {
    let rc = v.rc;
    let bad = |m: String| PolicyError::Eval {
        rule: format!("input for {}", rc.address),
        message: m,
    };
    let values = from_json_text_cached(v.values, keys).map_err(bad)?;
    let unknown = match v.unknown {
        Some(u) => masks.convert(u, keys).map_err(bad)?,
        None => Value::new_object(),
    };
    let unknown = if unknown.as_object().is_ok() {
        unknown
    } else {
        Value::new_object()
    };
    let refs = match v.refs {
        None => Value::new_object(),
        Some(m) => {
            let o: BTreeMap<Value, Value> = m
                .iter()
                .map(|(arg, targets)| {
                    (
                        keys.key(arg),
                        Value::from(targets.iter().map(|t| s(t)).collect::<Vec<_>>()),
                    )
                })
                .collect();
            Value::from(o)
        }
    };
    // Repeated per type and module: shared through the cache.
    let mut shared = |t: Option<&str>| t.map_or(Value::Null, |t| keys.key(t));
    let entries = [
        actions,
        s(&rc.address),
        s(&config_address(&rc.address)),
        match &rc.index {
            None => Value::Null,
            Some(arbiter_plan::InstanceKey::Int(i)) => Value::from(*i),
            Some(arbiter_plan::InstanceKey::Str(k)) => s(k),
        },
        shared(Some(match rc.mode {
            arbiter_plan::ResourceMode::Managed => "managed",
            arbiter_plan::ResourceMode::Data => "data",
        })),
        shared(rc.module_address.as_deref()),
        s(&rc.name),
        shared(rc.provider_name.as_deref()),
        refs,
        shared(Some(&rc.resource_type)),
        unknown,
        values,
    ];
    let m: BTreeMap<Value, Value> = fields.0.iter().cloned().zip(entries).collect();
    Ok(Value::from(m))
}

fn collect_findings(
    i: usize,
    rule: &RuleMeta,
    result: &Value,
    out: &mut Vec<RawFinding>,
) -> Result<(), PolicyError> {
    let items: Vec<&Value> = match result {
        Value::Set(set) => set.iter().collect(),
        Value::Array(a) => a.iter().collect(),
        Value::Undefined | Value::Null => Vec::new(),
        other => {
            return Err(PolicyError::Eval {
                rule: rule.id.clone(),
                message: format!(
                    "`findings` must be a set of objects, found {}",
                    crate::values::to_json(other)
                ),
            })
        }
    };
    for item in items {
        let Some(address) = get_str(item, "address") else {
            return Err(PolicyError::Eval {
                rule: rule.id.clone(),
                message: format!("a finding has no string `address`: {}", to_json(item)),
            });
        };
        let message = get_str(item, "message")
            .or_else(|| get_str(item, "msg"))
            .unwrap_or(&rule.title)
            .to_string();
        let evidence = match &item["evidence"] {
            Value::Undefined => serde_json::Value::Null,
            e => to_json(e),
        };
        let sev = get_str(item, "severity").and_then(Severity::parse);
        let eff = get_str(item, "effect").and_then(Effect::parse);
        out.push((i, address.to_string(), message, evidence, sev, eff));
    }
    Ok(())
}

fn parse_meta(
    v: &Value,
    pkg: &str,
    src: &PolicySource,
    builtin: bool,
) -> Result<RuleMeta, PolicyError> {
    let err = |m: &str| PolicyError::Config(format!("{}: metadata of {pkg}: {m}", src.path));
    let text = |k: &str| get_str(v, k).map(str::to_string);
    let list = |k: &str| -> Vec<String> {
        match &v[k] {
            Value::Array(a) => a.iter().filter_map(get_str_v).collect(),
            Value::Set(a) => a.iter().filter_map(get_str_v).collect(),
            Value::String(s) => vec![s.to_string()],
            _ => Vec::new(),
        }
    };
    let id = text("id")
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| err("missing \"id\""))?;
    let severity = text("severity")
        .and_then(|s| Severity::parse(&s))
        .ok_or_else(|| err("\"severity\" must be critical|high|medium|low|info"))?;
    let effect = text("effect")
        .and_then(|s| Effect::parse(&s))
        .ok_or_else(|| err("\"effect\" must be deny|escalate|warn|info"))?;
    let resource_types = list("resource_types");
    if resource_types.is_empty() {
        return Err(err("\"resource_types\" must list at least one type"));
    }
    let fix = match &v["fix"] {
        Value::Undefined | Value::Null => Vec::new(),
        f => arbiter_verdict::fix::parse_fix(&to_json(f)).map_err(|e| {
            PolicyError::Config(format!("{}: rule {id}: invalid \"fix\" step {e}", src.path))
        })?,
    };
    for step in &fix {
        if let Some(t) = step.types.iter().find(|t| !resource_types.contains(t)) {
            return Err(PolicyError::Config(format!(
                "{}: rule {id}: \"fix\" step {:?} names type {t:?}, which is not one of the rule's resource_types",
                src.path,
                step.path.to_string()
            )));
        }
    }
    Ok(RuleMeta {
        fix,
        title: text("title").unwrap_or_else(|| id.clone()),
        id,
        severity,
        effect,
        category: text("category").unwrap_or_default(),
        provider: text("provider").unwrap_or_default(),
        resource_types,
        rationale: text("rationale").unwrap_or_default(),
        remediation: text("remediation").unwrap_or_default(),
        checkov: list("checkov"),
        joins: matches!(v["joins"], Value::Bool(true)),
        package: pkg.to_string(),
        file: src.path.clone(),
        builtin,
        source: src.text.clone(),
        compiled: true,
    })
}

fn list_of(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a.iter().filter_map(get_str_v).collect(),
        Value::Set(a) => a.iter().filter_map(get_str_v).collect(),
        Value::String(s) => vec![s.to_string()],
        _ => Vec::new(),
    }
}

fn eval_metadata(
    engine: &mut regorus::Engine,
    pkg: &str,
    src: &PolicySource,
) -> Result<Value, PolicyError> {
    // Each metadata object has the default budget (compiling is not bounded
    // by one evaluation's budget: it grows with the number of files).
    let deadline = Deadline::start(&Limits::default());
    let err = |m: String| {
        PolicyError::Config(format!(
            "{}: rule package {pkg} has no valid `metadata` object: {m}",
            src.path
        ))
    };
    deadline.arm(engine).map_err(err)?;
    engine
        .eval_rule(format!("{pkg}.metadata"))
        .map_err(|e| err(deadline.message(&e)))
}

fn get_str_v(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.to_string()),
        _ => None,
    }
}

/// The `package` declared by a Rego module (without `data.`).
pub fn package_of(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let l = l.trim();
        l.strip_prefix("package ")
            .map(|p| p.split('#').next().unwrap_or("").trim().to_string())
    })
}
