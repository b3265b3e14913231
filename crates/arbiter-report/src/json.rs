//! The JSON contract (PRODUCT.md §4.1).
//!
//! The verdict type already carries every contract field; this module only
//! rounds numbers for readability and keeps them numbers.

use crate::common::{finite_or, round_to};
use arbiter_verdict::Verdict;

/// The verdict as it goes on the wire: same shape, tidied numbers.
pub(crate) fn wire_verdict(verdict: &Verdict) -> Verdict {
    let mut v = verdict.clone();
    // Fail-safe fallbacks for numbers JSON cannot carry (serde_json would
    // write `null`, breaking the contract's number type): no confidence,
    // full risk, no money.
    v.confidence = round_to(finite_or(v.confidence, 0.0), 1);
    v.stack.auto_apply_threshold = round_to(finite_or(v.stack.auto_apply_threshold, 100.0), 1);
    v.stack.monthly_budget_usd = v
        .stack
        .monthly_budget_usd
        .map(|b| round_to(finite_or(b, 0.0), 2));
    for c in &mut v.critics {
        c.risk = round_to(finite_or(c.risk, 1.0), 3);
    }
    for f in &mut v.findings {
        f.confidence_cost = round_to(finite_or(f.confidence_cost, 0.0), 2);
    }
    if let Some(cf) = &mut v.counterfactual {
        cf.confidence = round_to(finite_or(cf.confidence, 0.0), 1);
    }
    v.cost = crate::cost::wire(&v.cost);
    v
}

pub(crate) fn render(verdict: &Verdict) -> String {
    let wire = wire_verdict(verdict);
    // Serialising the typed verdict (not a `serde_json::Value`) keeps the
    // field order of the struct, whatever serde_json features are enabled.
    match serde_json::to_string_pretty(&wire) {
        Ok(s) => s,
        // Unreachable with the current types (string keys only, finite
        // numbers); still, a renderer must not panic. Keep the output valid
        // JSON and the decision visible.
        Err(e) => {
            let err = serde_json::Value::String(format!("serialising the verdict: {e}"));
            format!(
                "{{\n  \"decision\": \"{}\",\n  \"error\": {}\n}}",
                verdict.decision.as_str(),
                err
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arbiter_verdict::{
        ActionSummary, CostSummary, CriticReport, Decision, PlanInfo, StackInfo, Verdict,
    };

    fn verdict() -> Verdict {
        Verdict {
            decision: Decision::Review,
            confidence: 87.654_321,
            summary: ActionSummary::default(),
            findings: Vec::new(),
            critics: vec![CriticReport {
                name: "security".into(),
                risk: f64::NAN,
                findings: 0,
                summary: String::new(),
            }],
            cost: CostSummary {
                monthly_before_usd: 1.005,
                monthly_after_usd: f64::INFINITY,
                monthly_delta_usd: 0.1 + 0.2,
                computed: true,
                note: None,
                ..CostSummary::default()
            },
            explanation: String::new(),
            stack: StackInfo::default(),
            plan: PlanInfo::default(),
            changes: Vec::new(),
            warnings: Vec::new(),
            counterfactual: Some(arbiter_verdict::Counterfactual {
                decision: Decision::Approve,
                confidence: 98.456_7,
                steps_applied: 1,
                findings_fixed: 1,
                remaining: Vec::new(),
            }),
        }
    }

    #[test]
    fn numbers_are_rounded_and_never_null() -> Result<(), serde_json::Error> {
        let v: serde_json::Value = serde_json::from_str(&render(&verdict()))?;
        assert_eq!(v["confidence"], serde_json::json!(87.7));
        assert_eq!(v["counterfactual"]["confidence"], serde_json::json!(98.5));
        assert_eq!(v["critics"][0]["risk"], serde_json::json!(1.0));
        assert_eq!(v["cost"]["monthly_after_usd"], serde_json::json!(0.0));
        assert_eq!(v["cost"]["monthly_delta_usd"], serde_json::json!(0.3));
        assert!(v["cost"]["monthly_before_usd"].is_f64());
        Ok(())
    }
}
