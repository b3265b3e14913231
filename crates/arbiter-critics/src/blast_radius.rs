//! The blast-radius critic: how much can break.
//!
//! Each changing resource earns points by action and class (a destroyed
//! database weighs far more than a created log group), destroyed or replaced
//! resources add points for every block that depends on them in the
//! configuration, and the total is scaled by the environment's weight:
//! `risk = 1 − exp(−env_weight × points / SCALE)`. Destroying stateful data in a
//! production-like environment always escalates to a person.

use crate::classes::{class_of, ResourceClass};
use crate::{Critic, CriticOutput, ReviewContext, Stage, WeightedFinding};
use arbiter_plan::{Action, ResourceChange};
use arbiter_verdict::{ChangeRelation, Effect, Environment, Finding, Severity};
use std::collections::BTreeMap;

/// Points that take risk to `1 − 1/e` (≈ 63 %) in production.
pub const SCALE: f64 = 100.0;
/// Extra points per dependant of a destroyed or replaced resource.
pub const POINTS_PER_DEPENDANT: f64 = 0.5;
/// Dependants counted at most per resource.
pub const MAX_DEPENDANTS_COUNTED: usize = 40;
/// Destroyed resources at which a mass-deletion escalation is raised (prod-like).
pub const MASS_DESTRUCTION: usize = 10;

/// Points for one action on one class.
pub fn points(action: Action, class: ResourceClass) -> f64 {
    use ResourceClass::*;
    match (action, class) {
        (Action::NoOp | Action::Read, _) => 0.0,
        (Action::Create, _) => 0.5,
        (Action::Forget | Action::CreateThenForget, _) => 0.5,
        (Action::Update, Ordinary) => 1.0,
        (Action::Update, Stateful) => 1.5,
        (Action::Update, Foundational) => 2.0,
        (Action::CreateThenDelete, Ordinary) => 1.5,
        (Action::CreateThenDelete, Foundational) => 4.0,
        (Action::CreateThenDelete, Stateful) => 12.0,
        (Action::DeleteThenCreate, Ordinary) => 3.0,
        (Action::DeleteThenCreate, Foundational) => 6.0,
        (Action::DeleteThenCreate, Stateful) => 12.0,
        (Action::Delete, Ordinary) => 2.0,
        (Action::Delete, Foundational) => 6.0,
        (Action::Delete, Stateful) => 12.0,
    }
}

/// The blast-radius critic.
#[derive(Debug, Default, Clone)]
pub struct BlastRadiusCritic;

const SOURCE: &str = "critic:blast_radius";

impl Critic for BlastRadiusCritic {
    fn name(&self) -> &'static str {
        "blast_radius"
    }

    fn stage(&self) -> Stage {
        Stage::BeforePolicies
    }

    fn review(&self, ctx: &ReviewContext<'_>) -> CriticOutput {
        let env = ctx.stack.environment;
        let env_w = Environment::weight(env);
        let weight_of = |pts: f64| 1.0 - (-env_w * pts / SCALE).exp();
        let mut findings = Vec::new();
        // Aggregates for routine changes: (action kind, class) → (count, points).
        let mut routine: BTreeMap<(&'static str, ResourceClass), (usize, f64)> = BTreeMap::new();
        let mut destroyed = 0usize;
        let mut total = 0.0;
        for rc in ctx.plan.changing() {
            let class = class_of(&rc.resource_type);
            let mut pts = points(rc.action, class);
            if rc.action.destroys() {
                destroyed += 1;
            }
            let dependants = if rc.action.destroys() && !ctx.graph.is_empty() {
                ctx.graph.dependants(&rc.config_address()).len()
            } else {
                0
            };
            pts += POINTS_PER_DEPENDANT * dependants.min(MAX_DEPENDANTS_COUNTED) as f64;
            total += pts;
            if let Some(f) = destruction_finding(rc, class, dependants, env, pts) {
                findings.push(WeightedFinding {
                    weight: weight_of(pts),
                    finding: f,
                });
            } else {
                let e = routine.entry((rc.action.kind(), class)).or_insert((0, 0.0));
                e.0 += 1;
                e.1 += pts;
            }
        }
        for ((kind, class), (count, pts)) in routine {
            if pts <= 0.0 {
                continue;
            }
            let noun = if count == 1 { "resource" } else { "resources" };
            let mut f = Finding::new(
                format!("BLAST-{}", kind.to_ascii_uppercase().replace('-', "_")),
                SOURCE,
                Severity::Info,
                Effect::Info,
                None,
                format!(
                    "{count} {} {noun} {} in {}",
                    class.as_str(),
                    past(kind),
                    Environment::name(env)
                ),
            );
            f.title = Some(format!("{} {}", capital(past(kind)), class.as_str()));
            f.relation = ChangeRelation::Change;
            f.evidence = serde_json::json!({"count": count, "class": class.as_str(), "action": kind, "points": round2(pts)});
            findings.push(WeightedFinding {
                weight: weight_of(pts),
                finding: f,
            });
        }
        if destroyed >= MASS_DESTRUCTION && Environment::is_production_like(env) {
            let mut f = Finding::new(
                "BLAST-MASS-DESTRUCTION",
                SOURCE,
                Severity::High,
                Effect::Escalate,
                None,
                format!(
                    "{destroyed} resources are destroyed or replaced in {}",
                    Environment::name(env)
                ),
            );
            f.title = Some("Mass destruction".into());
            f.relation = ChangeRelation::Change;
            f.remediation =
                Some("Split the change, or confirm that every destruction is intended.".into());
            findings.push(WeightedFinding {
                weight: 0.0,
                finding: f,
            });
        }
        let changing = ctx.plan.changing().count();
        let summary = if changing == 0 {
            "nothing changes".to_string()
        } else {
            format!(
                "{changing} {} ({destroyed} destroyed or replaced) in {}; {:.1} blast points",
                if changing == 1 {
                    "resource changes"
                } else {
                    "resources change"
                },
                Environment::name(env),
                total
            )
        };
        CriticOutput::from_findings(findings, summary)
    }
}

fn destruction_finding(
    rc: &ResourceChange,
    class: ResourceClass,
    dependants: usize,
    env: Option<Environment>,
    pts: f64,
) -> Option<Finding> {
    if !rc.action.destroys() {
        return None;
    }
    let verb = match rc.action {
        Action::Delete => "destroys",
        Action::DeleteThenCreate => "destroys and re-creates",
        _ => "replaces (create before destroy)",
    };
    let (rule, severity, effect, why) = match class {
        ResourceClass::Stateful => (
            "BLAST-DESTROY-STATEFUL",
            Severity::High,
            if matches!(env, Some(Environment::Dev | Environment::Ephemeral)) {
                Effect::Warn
            } else {
                Effect::Escalate
            },
            "its data is lost unless a snapshot or backup is restored",
        ),
        ResourceClass::Foundational => (
            "BLAST-DESTROY-FOUNDATIONAL",
            Severity::Medium,
            if Environment::is_production_like(env) && rc.action != Action::CreateThenDelete {
                Effect::Escalate
            } else {
                Effect::Warn
            },
            "other resources build on it",
        ),
        ResourceClass::Ordinary => {
            if dependants < 5 {
                return None;
            }
            (
                "BLAST-DESTROY-DEPENDED-ON",
                Severity::Low,
                Effect::Warn,
                "other resources refer to it",
            )
        }
    };
    let mut msg = format!(
        "{verb} {} {} in {}: {why}",
        class.as_str(),
        rc.address,
        Environment::name(env)
    );
    if dependants > 0 {
        msg.push_str(&format!("; {dependants} resource blocks depend on it"));
    }
    let mut f = Finding::new(
        rule,
        SOURCE,
        severity,
        effect,
        Some(rc.address.clone()),
        msg,
    );
    f.title = Some(match class {
        ResourceClass::Stateful => "Stateful resource destroyed".into(),
        ResourceClass::Foundational => "Foundational resource destroyed".into(),
        ResourceClass::Ordinary => "Resource with many dependants destroyed".into(),
    });
    f.relation = ChangeRelation::Change;
    f.remediation = Some(match class {
        ResourceClass::Stateful => "Confirm the data is backed up or no longer needed; consider lifecycle { prevent_destroy = true } for data stores.".into(),
        _ => "Check that the dependants are changed in the same plan or can tolerate the outage.".into(),
    });
    f.evidence = serde_json::json!({
        "action": rc.action.kind(),
        "class": class.as_str(),
        "dependants": dependants,
        "points": round2(pts),
        "reason": rc.action_reason,
    });
    Some(f)
}

fn past(kind: &str) -> &'static str {
    match kind {
        "create" => "created",
        "update" => "updated in place",
        "delete" => "destroyed",
        "replace" => "replaced",
        "forget" => "forgotten (removed from state)",
        _ => "changed",
    }
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
