//! The counterfactual verdict: the same plan with every finding's mechanical
//! fix applied to the after-values of the resources it flags, judged again
//! with the same stack.

use arbiter_verdict::fix::apply_step;
use arbiter_verdict::{Counterfactual, Effect, Finding, FixStep, RemainingFinding, Verdict};
use std::collections::{BTreeMap, BTreeSet};

/// Why fixes could not be applied to a plan.
#[derive(Debug, thiserror::Error)]
pub enum FixPlanError {
    /// The plan text is not JSON.
    #[error("applying fixes: the plan is not JSON: {0}")]
    NotAPlan(String),
}

/// Every fix step to apply, per resource address (deduplicated, in finding
/// order).
pub fn fixes_by_address(findings: &[Finding]) -> BTreeMap<String, Vec<FixStep>> {
    let mut out: BTreeMap<String, Vec<FixStep>> = BTreeMap::new();
    for f in findings.iter().filter(|f| !f.fix.is_empty()) {
        let Some(address) = &f.address else { continue };
        let steps = out.entry(address.clone()).or_default();
        for s in &f.fix {
            if !steps.contains(s) {
                steps.push(s.clone());
            }
        }
    }
    out
}

/// The plan text with `fixes` applied to the after-values (and unknown
/// masks) of the resources they name; returns the new text and how many
/// steps changed something. `None` when the plan has no `resource_changes`
/// (a plan read from its `planned_values` alone).
pub fn apply_fixes(
    plan_text: &str,
    fixes: &BTreeMap<String, Vec<FixStep>>,
) -> Result<Option<(String, usize)>, FixPlanError> {
    let mut doc: serde_json::Value =
        serde_json::from_str(plan_text).map_err(|e| FixPlanError::NotAPlan(e.to_string()))?;
    let Some(rcs) = doc
        .get_mut("resource_changes")
        .and_then(serde_json::Value::as_array_mut)
    else {
        return Ok(None);
    };
    let mut applied = 0;
    for rc in rcs.iter_mut() {
        let address = rc.get("address").and_then(|a| a.as_str()).unwrap_or("");
        let Some(steps) = fixes.get(address) else {
            continue;
        };
        let ty = rc
            .get("type")
            .and_then(|t| t.as_str())
            .unwrap_or("")
            .to_string();
        let Some(change) = rc.get_mut("change").and_then(|c| c.as_object_mut()) else {
            continue;
        };
        // A deleted resource has no after-state to fix.
        if !change
            .get("after")
            .is_some_and(serde_json::Value::is_object)
        {
            continue;
        }
        let mut after = change.remove("after").unwrap_or(serde_json::Value::Null);
        let mut unknown = change
            .remove("after_unknown")
            .filter(serde_json::Value::is_object)
            .unwrap_or_else(|| serde_json::Value::Object(Default::default()));
        for s in steps.iter().filter(|s| s.applies_to(&ty)) {
            if apply_step(&mut after, &mut unknown, s) {
                applied += 1;
            }
        }
        change.insert("after".into(), after);
        change.insert("after_unknown".into(), unknown);
    }
    Ok(Some((doc.to_string(), applied)))
}

/// Whether a verdict warrants a counterfactual: some finding that matters
/// (not info, or costing points) has a fix.
pub fn wanted(findings: &[Finding]) -> bool {
    findings
        .iter()
        .any(|f| !f.fix.is_empty() && (f.effect != Effect::Info || f.confidence_cost > 0.0))
}

/// The counterfactual section from the original findings and the verdict of
/// the fixed plan.
pub fn summarize(original: &[Finding], fixed: &Verdict, steps_applied: usize) -> Counterfactual {
    let after: BTreeSet<(&str, Option<&str>)> = fixed
        .findings
        .iter()
        .map(|f| (f.rule_id.as_str(), f.address.as_deref()))
        .collect();
    let findings_fixed = original
        .iter()
        .filter(|f| !f.fix.is_empty())
        .filter(|f| !after.contains(&(f.rule_id.as_str(), f.address.as_deref())))
        .count();
    let remaining = fixed
        .findings
        .iter()
        .filter(|f| {
            f.waiver.as_ref().is_none_or(|w| w.expired)
                && (matches!(f.effect, Effect::Deny | Effect::Escalate)
                    || f.confidence_cost > 0.0
                    || f.held_by_floor)
        })
        .map(|f| RemainingFinding {
            rule_id: f.rule_id.clone(),
            address: f.address.clone(),
            message: f.message.clone(),
            severity: f.severity,
            effect: f.effect,
            held_by_floor: f.held_by_floor,
        })
        .collect();
    Counterfactual {
        decision: fixed.decision,
        confidence: fixed.confidence,
        steps_applied,
        findings_fixed,
        remaining,
    }
}
