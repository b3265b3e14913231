#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The cost engine inside judging: the verdict's cost section, the cost
//! critic's findings, budget rules in Rego over `input.arbiter.cost`, the
//! trimmed breakdown and redaction.

use arbiter_cost::{Catalogue, CostEngine, Usage};
use arbiter_judge::{Judge, JudgeConfig, PlanInput, StackConfig, MAX_COST_RESOURCES};
use arbiter_verdict::{Decision, Effect};
use std::path::Path;

const SCENARIOS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/scenarios");

fn scenario(name: &str) -> (PlanInput, StackConfig) {
    let dir = Path::new(SCENARIOS);
    let input = PlanInput::from_file(&dir.join(format!("{name}.plan.json"))).unwrap();
    let stack = StackConfig::from_file(&dir.join(format!("{name}.stack.toml"))).unwrap();
    (input, stack)
}

fn judge() -> Judge {
    Judge::new(&JudgeConfig::default()).unwrap()
}

#[test]
fn a_gpu_instance_over_a_dev_budget_escalates_because_of_cost() {
    let (input, mut stack) = scenario("gpu-instance-dev-budget");
    // Without the built-in GPU rule, the cost critic alone must stop it.
    stack.rules.disable.push("ARB-AWS-COST-001".into());
    let v = judge().evaluate(&input, &stack).unwrap();
    assert_eq!(v.decision, Decision::Review, "{}", v.explanation);
    let f = v
        .findings
        .iter()
        .find(|f| f.rule_id == "COST-BUDGET-EXCEEDED")
        .expect("a budget finding");
    assert_eq!(f.effect, Effect::Escalate);
    assert_eq!(f.source, "critic:cost");
    // p4d.24xlarge: 21.957642 × 730 = 16,029.08; 50 GB gp3 root × 0.08 = 4.00;
    // detailed monitoring 7 × 0.30 = 2.10.
    assert!(
        f.message
            .starts_with("+$16,035/month, 1,604 % of the $1,000 budget"),
        "{}",
        f.message
    );
    assert!(
        (v.cost.monthly_after_usd - 16_035.178_66).abs() < 0.01,
        "{}",
        v.cost.monthly_after_usd
    );
    assert_eq!(v.cost.monthly_before_usd, 0.0);
    assert!(v.cost.computed);
    assert_eq!(v.cost.region.as_deref(), Some("us-east-1"));
    let r = &v.cost.resources[0];
    assert_eq!(r.address, "aws_instance.trainer");
    assert_eq!(r.classes, vec![arbiter_verdict::CostClass::Gpu]);
    assert!(v.findings.iter().any(|f| f.rule_id == "COST-GPU"));
    let critic = v
        .critics
        .iter()
        .find(|c| c.name == "cost")
        .expect("a cost critic report");
    assert!(critic.risk > 0.9, "{}", critic.risk);
    assert!(
        v.explanation.contains("COST-BUDGET-EXCEEDED"),
        "{}",
        v.explanation
    );
}

#[test]
fn a_small_change_within_budget_costs_little_confidence() {
    let (input, stack) = scenario("small-dev-environment");
    let v = judge().evaluate(&input, &stack).unwrap();
    assert_eq!(v.decision, Decision::Approve, "{}", v.explanation);
    // 2 × (t3.small 15.184 + 50 GB gp3 4.00 + monitoring 2.10) = 42.568
    assert!(
        (v.cost.monthly_delta_usd - 42.568).abs() < 0.01,
        "{}",
        v.cost.monthly_delta_usd
    );
    let f = v
        .findings
        .iter()
        .find(|f| f.rule_id == "COST-INCREASE")
        .expect("a cost finding");
    assert!(f.confidence_cost < 2.0, "{}", f.confidence_cost);
    assert!(
        f.message.contains("2.8 % of the $1,500 budget"),
        "{}",
        f.message
    );
}

#[test]
fn policies_read_the_cost_figures_at_input_arbiter_cost() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("budget.rego"),
        r#"package main

import rego.v1

deny contains msg if {
  budget := input.arbiter.stack.monthly_budget_usd
  input.arbiter.cost.monthly_delta_usd > budget / 2
  msg := sprintf("adds $%.0f a month, more than half the $%.0f budget", [input.arbiter.cost.monthly_delta_usd, budget])
}

warn contains msg if {
  some r in input.arbiter.cost.resources
  "gpu" in r.classes
  msg := sprintf("%s is GPU capacity", [r.address])
}
"#,
    )
    .unwrap();
    let judge = Judge::new(&JudgeConfig {
        policy_paths: vec![dir.path().to_path_buf()],
        ..Default::default()
    })
    .unwrap();
    let (input, stack) = scenario("gpu-instance-dev-budget");
    let v = judge.evaluate(&input, &stack).unwrap();
    assert_eq!(v.decision, Decision::Reject, "{}", v.explanation);
    let deny = v
        .findings
        .iter()
        .find(|f| f.effect == Effect::Deny)
        .unwrap();
    assert_eq!(
        deny.message,
        "adds $16035 a month, more than half the $1000 budget"
    );
    assert!(v
        .findings
        .iter()
        .any(|f| f.effect == Effect::Warn && f.message == "aws_instance.trainer is GPU capacity"));
    // Within budget, the same policy stays quiet.
    let (small, stack) = scenario("small-dev-environment");
    let v = judge.evaluate(&small, &stack).unwrap();
    assert!(
        v.findings.iter().all(|f| f.source != "policy"),
        "{:?}",
        v.rule_ids()
    );
}

#[test]
fn the_verdict_lists_the_largest_changes_and_counts_the_rest() {
    // 40 elastic IPs: 40 × 0.005 × 730 = 146.
    let changes: Vec<String> = (0..40)
        .map(|i| {
            format!(
                r#"{{"address":"aws_eip.ip[{i}]","type":"aws_eip","name":"ip","index":{i},"change":{{"actions":["create"],"after":{{"domain":"vpc"}}}}}}"#
            )
        })
        .collect();
    let text = format!(
        r#"{{"format_version":"1.2","resource_changes":[{}]}}"#,
        changes.join(",")
    );
    let input = PlanInput::from_bytes(text.as_bytes()).unwrap();
    let v = judge().evaluate(&input, &StackConfig::default()).unwrap();
    assert_eq!(v.cost.resources.len(), MAX_COST_RESOURCES);
    assert_eq!(v.cost.omitted_resources, 40 - MAX_COST_RESOURCES);
    assert_eq!(v.cost.counts.priced, 40);
    assert!(
        (v.cost.monthly_after_usd - 146.0).abs() < 1e-6,
        "{}",
        v.cost.monthly_after_usd
    );
}

#[test]
fn a_region_without_prices_leaves_resources_unpriced_with_a_small_risk() {
    let (input, stack) = scenario("small-dev-environment");
    let engine = CostEngine::new(
        Catalogue::embedded(),
        Usage::none(),
        Some("ap-south-1".into()),
    )
    .unwrap();
    let v = judge()
        .with_cost_engine(engine)
        .evaluate(&input, &stack)
        .unwrap();
    assert_eq!(v.cost.counts.priced, 0);
    assert_eq!(v.cost.counts.unpriced, 4, "{:?}", v.cost.unpriced);
    assert!(v
        .cost
        .unpriced
        .iter()
        .all(|u| u.reason.contains("ap-south-1")));
    assert!(
        v.cost
            .warnings
            .iter()
            .any(|w| w.contains("no prices for region ap-south-1")),
        "{:?}",
        v.cost.warnings
    );
    let f = v
        .findings
        .iter()
        .find(|f| f.rule_id == "COST-UNPRICED")
        .unwrap();
    assert!(f.confidence_cost <= 3.0, "{}", f.confidence_cost);
    // An unknown price is an uncertainty, not a verdict.
    assert_eq!(v.decision, Decision::Approve, "{}", v.explanation);
}

#[test]
fn sensitive_values_never_reach_the_cost_section() {
    let text = r#"{"format_version":"1.2","resource_changes":[{"address":"aws_instance.secret","type":"aws_instance","name":"secret",
      "change":{"actions":["create"],"after":{"instance_type":"p4d.24xlarge","root_block_device":[{"volume_size":8,"volume_type":"gp2"}]},
      "after_sensitive":{"instance_type":true}}}]}"#;
    let input = PlanInput::from_bytes(text.as_bytes()).unwrap();
    let v = judge().evaluate(&input, &StackConfig::default()).unwrap();
    assert!(v.cost.computed && v.cost.counts.priced == 1);
    let json = serde_json::to_string(&v).unwrap();
    assert!(
        !json.contains("p4d.24xlarge"),
        "the sensitive instance type leaked: {json}"
    );
}
