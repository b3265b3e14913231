//! The security critic (built-in rule findings) and the policy critic (the
//! user's own policies): both turn findings into risk by effect and severity.

use crate::{Critic, CriticOutput, ReviewContext, Setup, Stage, WeightedFinding};
use arbiter_verdict::{ChangeRelation, Effect, Finding, Severity};

/// Risk weight of a finding by effect and severity.
///
/// Deny findings reject the change anyway; their weight shows how bad it is.
/// Escalations force a review anyway. Warnings cost a little confidence so
/// that many of them together send a change to a person, while one hygiene
/// warning never does. Info findings, pre-existing and fixed weaknesses, and
/// findings an unexpired waiver covers cost nothing.
pub fn weight(f: &Finding) -> f64 {
    if f.is_waived() {
        return 0.0;
    }
    if matches!(
        f.relation,
        ChangeRelation::Preexisting | ChangeRelation::Fixed
    ) {
        return 0.0;
    }
    use Severity::*;
    match (f.effect, f.severity) {
        (Effect::Deny, Critical) => 0.95,
        (Effect::Deny, High) => 0.9,
        (Effect::Deny, Medium) => 0.8,
        (Effect::Deny, Low | Info) => 0.7,
        (Effect::Escalate, Critical) => 0.6,
        (Effect::Escalate, High) => 0.4,
        (Effect::Escalate, Medium) => 0.25,
        (Effect::Escalate, Low) => 0.15,
        (Effect::Escalate, Info) => 0.1,
        (Effect::Warn, Critical) => 0.05,
        (Effect::Warn, High) => 0.03,
        (Effect::Warn, Medium) => 0.015,
        (Effect::Warn, Low) => 0.005,
        (Effect::Warn, Info) | (Effect::Info, _) => 0.0,
    }
}

fn review_findings(findings: &[Finding], what: &str) -> CriticOutput {
    // The same rule firing several times on one resource is one weakness seen
    // from several sides: only its heaviest finding carries weight.
    let mut heaviest: std::collections::BTreeMap<(&str, Option<&str>), (usize, f64)> =
        Default::default();
    for (i, f) in findings.iter().enumerate() {
        let w = weight(f);
        let e = heaviest
            .entry((f.rule_id.as_str(), f.address.as_deref()))
            .or_insert((i, w));
        if w > e.1 {
            *e = (i, w);
        }
    }
    let weighted: Vec<WeightedFinding> = findings
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let carries = heaviest
                .get(&(f.rule_id.as_str(), f.address.as_deref()))
                .is_some_and(|(j, _)| *j == i);
            WeightedFinding {
                weight: if carries { weight(f) } else { 0.0 },
                finding: f.clone(),
            }
        })
        .collect();
    let count = |e: Effect| {
        findings
            .iter()
            .filter(|f| f.effect == e && f.relation != ChangeRelation::Fixed)
            .count()
    };
    let (d, e, w) = (
        count(Effect::Deny),
        count(Effect::Escalate),
        count(Effect::Warn),
    );
    let summary = if d + e + w == 0 {
        format!("no {what} findings that matter")
    } else {
        format!("{d} deny, {e} escalate, {w} warn {what} findings")
    };
    CriticOutput::from_findings(weighted, summary)
}

/// Judges the built-in rule pack's findings.
#[derive(Debug, Default, Clone)]
pub struct SecurityCritic;

impl Critic for SecurityCritic {
    fn name(&self) -> &'static str {
        "security"
    }
    fn stage(&self) -> Stage {
        Stage::OnFindings
    }
    fn review(&self, ctx: &ReviewContext<'_>) -> CriticOutput {
        review_findings(ctx.rule_findings, "security")
    }
}

/// Judges the findings of the user's own policies.
#[derive(Debug, Default, Clone)]
pub struct PolicyCritic;

impl Critic for PolicyCritic {
    fn name(&self) -> &'static str {
        "policy"
    }
    fn stage(&self) -> Stage {
        Stage::OnFindings
    }
    /// Only when the user's policies are loaded.
    fn wanted(&self, setup: &Setup) -> bool {
        setup.user_policies
    }
    fn review(&self, ctx: &ReviewContext<'_>) -> CriticOutput {
        review_findings(ctx.policy_findings, "policy")
    }
}
