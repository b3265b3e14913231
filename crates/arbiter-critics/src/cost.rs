//! The cost critic: risk from what a change adds to the monthly bill,
//! measured against the stack's budget, and from expensive classes (GPU and
//! other accelerators, large provisioned IOPS, Multi-AZ upsizing).
//!
//! It reads the cost section the engine produced (`CostSummary`); it
//! prices nothing itself.
//!
//! Weights. With `r` = monthly increase ÷ budget (or ÷
//! [`REFERENCE_MONTHLY_USD`] when the stack has no budget), the increase
//! weighs `1 − e^(−0.6·r)`: +1 % of the budget costs about 0.6 confidence
//! points, +10 % about 6 (enough to send a change to a person at the default
//! threshold of 95), +100 % about 45. Crossing the budget escalates. An
//! expensive class adds its own weight, growing with the resource's share of
//! the budget: GPU capacity `0.05 + 0.25·(1 − e^(−0.6·r))`, large
//! provisioned IOPS and Multi-AZ upsizing `0.01 + 0.25·(1 − e^(−0.6·r))`.
//! Changed resources that could not be priced weigh 0.005 each (at most
//! 0.03): an unknown price is a small uncertainty, not a verdict.

use crate::{Critic, CriticOutput, ReviewContext, Stage, WeightedFinding};
use arbiter_verdict::money::{group_thousands, usd, usd_delta, MoneyStyle};
use arbiter_verdict::{ChangeRelation, CostClass, Effect, Finding, ResourceCost, Severity};

/// The yardstick for stacks without `monthly_budget_usd`, USD a month.
pub const REFERENCE_MONTHLY_USD: f64 = 10_000.0;
/// Steepness of the weight curve (see the module docs).
const RATE: f64 = 0.6;
/// Most weight the budget finding can carry.
const MAX_BUDGET_WEIGHT: f64 = 0.9;
/// Weight per changed resource that could not be priced, and the cap.
const UNPRICED_WEIGHT: f64 = 0.005;
const MAX_UNPRICED_WEIGHT: f64 = 0.03;

/// Judges the cost section of an evaluation (`ReviewContext::cost`).
#[derive(Debug, Default, Clone)]
pub struct CostCritic;

fn curve(ratio: f64) -> f64 {
    if ratio.is_finite() && ratio > 0.0 {
        1.0 - (-RATE * ratio).exp()
    } else if ratio.is_infinite() && ratio > 0.0 {
        1.0
    } else {
        0.0
    }
}

/// `2,359 %`, `12 %`, `1.6 %`.
fn percent(ratio: f64) -> String {
    let p = ratio * 100.0;
    if p >= 10.0 {
        format!("{} %", group_thousands(&format!("{p:.0}")))
    } else {
        format!("{p:.1} %")
    }
}

impl Critic for CostCritic {
    fn name(&self) -> &'static str {
        "cost"
    }

    fn stage(&self) -> Stage {
        Stage::BeforePolicies
    }

    fn review(&self, ctx: &ReviewContext<'_>) -> CriticOutput {
        let c = ctx.cost;
        if !c.computed {
            let why = c.note.as_deref().unwrap_or("no cost figures");
            return CriticOutput::from_findings(Vec::new(), format!("cost not computed ({why})"));
        }
        let budget = ctx
            .stack
            .monthly_budget_usd
            .filter(|b| b.is_finite() && *b > 0.0);
        let yardstick = budget.unwrap_or(REFERENCE_MONTHLY_USD);
        let delta = if c.monthly_delta_usd.is_finite() {
            c.monthly_delta_usd
        } else {
            0.0
        };
        let mut out: Vec<WeightedFinding> = Vec::new();
        let changed = |r: &&ResourceCost| r.monthly_delta_usd > 0.005;
        let mut top: Vec<&ResourceCost> = c.resources.iter().filter(changed).collect();
        top.sort_by(|a, b| b.monthly_delta_usd.total_cmp(&a.monthly_delta_usd));
        let largest = top
            .iter()
            .take(3)
            .map(|r| {
                format!(
                    "{} {}",
                    r.address,
                    usd_delta(r.monthly_delta_usd, MoneyStyle::Rounded)
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let span = format!(
            "monthly cost {} → {}",
            usd(c.monthly_before_usd, MoneyStyle::Rounded),
            usd(c.monthly_after_usd, MoneyStyle::Rounded)
        );

        if delta > 0.005 {
            let ratio = delta / yardstick;
            let weight = curve(ratio).min(MAX_BUDGET_WEIGHT);
            let over = budget.is_some_and(|b| {
                c.monthly_after_usd > b && (c.monthly_before_usd <= b || ratio >= 0.01)
            });
            let big_without_budget = budget.is_none() && delta >= REFERENCE_MONTHLY_USD;
            let mut message = match budget {
                Some(b) => format!("{}/month, {} of the {} budget ({span}", usd_delta(delta, MoneyStyle::Rounded), percent(ratio), usd(b, MoneyStyle::Rounded)),
                None => format!(
                    "{}/month ({span}; the stack has no monthly_budget_usd, judged against {} a month",
                    usd_delta(delta, MoneyStyle::Rounded),
                    usd(REFERENCE_MONTHLY_USD, MoneyStyle::Rounded)
                ),
            };
            if over {
                message.push_str(", over budget");
            }
            message.push(')');
            if !largest.is_empty() {
                message.push_str(&format!("; largest: {largest}"));
            }
            let (rule, effect, severity) = if over {
                ("COST-BUDGET-EXCEEDED", Effect::Escalate, Severity::High)
            } else if big_without_budget {
                ("COST-LARGE-INCREASE", Effect::Escalate, Severity::High)
            } else if weight >= 0.005 {
                ("COST-INCREASE", Effect::Warn, Severity::Medium)
            } else {
                ("COST-INCREASE", Effect::Info, Severity::Info)
            };
            let mut f = finding(rule, severity, effect, None, message);
            f.title = Some(if over {
                "The change takes the stack over its monthly budget".into()
            } else {
                "The change raises the monthly cost".into()
            });
            f.remediation = Some(if over {
                "Raise monthly_budget_usd if the spend is intended, or size the resources down; a person must confirm.".into()
            } else {
                "Check that the added spend is intended; `arbiter cost PLAN` shows the breakdown."
                    .into()
            });
            f.evidence = serde_json::json!({
                "monthly_before_usd": round2(c.monthly_before_usd),
                "monthly_after_usd": round2(c.monthly_after_usd),
                "monthly_delta_usd": round2(delta),
                "monthly_budget_usd": budget,
                "share_of_budget": budget.map(|_| round4(ratio)),
                "largest": top.iter().take(3).map(|r| serde_json::json!({"address": r.address, "monthly_delta_usd": round2(r.monthly_delta_usd)})).collect::<Vec<_>>(),
            });
            out.push(WeightedFinding { finding: f, weight });
        } else if delta < -0.005 {
            let message = match budget {
                Some(b) => format!(
                    "{}/month, {} of the {} budget ({span})",
                    usd_delta(delta, MoneyStyle::Rounded),
                    percent(-delta / b),
                    usd(b, MoneyStyle::Rounded)
                ),
                None => format!("{}/month ({span})", usd_delta(delta, MoneyStyle::Rounded)),
            };
            let mut f = finding("COST-SAVING", Severity::Info, Effect::Info, None, message);
            f.title = Some("The change lowers the monthly cost".into());
            out.push(WeightedFinding {
                finding: f,
                weight: 0.0,
            });
        }

        // Expensive classes, per resource whose cost grows.
        for r in &top {
            let share = r.monthly_delta_usd / yardstick;
            let grows = curve(share);
            let detail = if r.details.is_empty() {
                String::new()
            } else {
                format!(" ({})", r.details.join("; "))
            };
            let has = |c: CostClass| r.classes.contains(&c);
            if has(CostClass::Gpu) {
                let mut f = finding(
                    "COST-GPU",
                    Severity::Medium,
                    Effect::Warn,
                    Some(r.address.clone()),
                    format!(
                        "GPU/accelerator capacity{detail}: {}/month",
                        usd_delta(r.monthly_delta_usd, MoneyStyle::Rounded)
                    ),
                );
                f.title = Some("GPU or accelerator capacity".into());
                f.remediation = Some("Confirm the workload needs accelerators, pick the smallest size, and bound its lifetime (schedule, TTL, spot).".into());
                out.push(WeightedFinding {
                    finding: f,
                    weight: 0.05 + 0.25 * grows,
                });
            }
            if has(CostClass::ProvisionedIops) {
                let mut f = finding(
                    "COST-PROVISIONED-IOPS",
                    Severity::Low,
                    Effect::Warn,
                    Some(r.address.clone()),
                    format!(
                        "large provisioned IOPS{detail}: {}/month",
                        usd_delta(r.monthly_delta_usd, MoneyStyle::Rounded)
                    ),
                );
                f.title = Some("Large provisioned IOPS".into());
                f.remediation = Some("Check the IOPS against measured load; gp3 includes 3,000 IOPS and scales cheaper than io1/io2.".into());
                out.push(WeightedFinding {
                    finding: f,
                    weight: 0.01 + 0.25 * grows,
                });
            }
            if has(CostClass::MultiAz)
                && matches!(r.action.as_str(), "update" | "replace")
                && r.monthly_before_usd > 0.0
            {
                let mut f = finding(
                    "COST-MULTI-AZ-UPSIZE",
                    Severity::Low,
                    Effect::Warn,
                    Some(r.address.clone()),
                    format!(
                        "Multi-AZ database grows{detail}: {} → {} a month ({})",
                        usd(r.monthly_before_usd, MoneyStyle::Rounded),
                        usd(r.monthly_after_usd, MoneyStyle::Rounded),
                        usd_delta(r.monthly_delta_usd, MoneyStyle::Rounded)
                    ),
                );
                f.title = Some("Multi-AZ upsizing".into());
                f.remediation = Some("Multi-AZ doubles instance and storage cost; check the new size against measured load.".into());
                out.push(WeightedFinding {
                    finding: f,
                    weight: 0.01 + 0.25 * grows,
                });
            }
        }

        // What could not be priced.
        let unknown: Vec<_> = c
            .unpriced
            .iter()
            .filter(|u| {
                u.kind == "no-price" && matches!(u.action.as_str(), "create" | "update" | "replace")
            })
            .collect();
        let n_unknown = unknown.len();
        if n_unknown > 0 {
            let listed: Vec<String> = unknown
                .iter()
                .take(3)
                .map(|u| format!("{} ({})", u.address, u.reason))
                .collect();
            let more = if n_unknown > 3 {
                format!(" and {} more", n_unknown - 3)
            } else {
                String::new()
            };
            let mut f = finding(
                "COST-UNPRICED",
                Severity::Low,
                Effect::Warn,
                None,
                format!(
                    "{n_unknown} changed resource(s) could not be priced and are left out of the figures: {}{more}",
                    listed.join("; ")
                ),
            );
            f.title = Some("Resources without a price".into());
            f.remediation = Some("Import current prices with `arbiter pricing import` and pass --catalogue, or review their cost by hand.".into());
            let weight = (UNPRICED_WEIGHT * n_unknown as f64).min(MAX_UNPRICED_WEIGHT);
            out.push(WeightedFinding { finding: f, weight });
        }
        if c.counts.assumed_components > 0 {
            let f = finding(
                "COST-ASSUMPTIONS",
                Severity::Info,
                Effect::Info,
                None,
                format!(
                    "{} cost figure(s) rest on assumptions (usage-based or known only after apply); a usage file (--usage) replaces them",
                    c.counts.assumed_components
                ),
            );
            out.push(WeightedFinding {
                finding: f,
                weight: 0.0,
            });
        }

        let mut summary = format!("{}/month ({span})", usd_delta(delta, MoneyStyle::Rounded));
        if let Some(b) = budget {
            summary.push_str(&format!(
                "; {} of the {} budget",
                percent(delta.max(0.0) / b),
                usd(b, MoneyStyle::Rounded)
            ));
        }
        if c.counts.unpriced > 0 {
            summary.push_str(&format!("; {} unpriced", c.counts.unpriced));
        }
        CriticOutput::from_findings(out, summary)
    }
}

fn finding(
    rule: &str,
    severity: Severity,
    effect: Effect,
    address: Option<String>,
    message: String,
) -> Finding {
    let mut f = Finding::new(rule, "critic:cost", severity, effect, address, message);
    f.relation = ChangeRelation::Change;
    f
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn round4(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Environment, StackContext};
    use arbiter_plan::{DependencyGraph, Plan};
    use arbiter_verdict::CostSummary;
    use arbiter_verdict::{CostCounts, UnpricedResource};

    fn plan() -> Plan {
        arbiter_plan::read_plan_str(r#"{"format_version":"1.2","resource_changes":[]}"#)
            .unwrap_or_else(|_| unreachable_plan())
    }

    #[allow(clippy::panic)]
    fn unreachable_plan() -> Plan {
        panic!("the empty plan parses")
    }

    fn review(cost: &CostSummary, budget: Option<f64>) -> CriticOutput {
        let plan = plan();
        let graph = DependencyGraph::default();
        let stack = StackContext {
            name: None,
            environment: Some(Environment::Dev),
            labels: Vec::new(),
            monthly_budget_usd: budget,
        };
        let ctx = ReviewContext {
            plan: &plan,
            graph: &graph,
            stack: &stack,
            rule_findings: &[],
            policy_findings: &[],
            cost,
        };
        CostCritic.review(&ctx)
    }

    fn gpu_cost() -> CostSummary {
        CostSummary {
            monthly_before_usd: 0.0,
            monthly_after_usd: 23_592.0,
            monthly_delta_usd: 23_592.0,
            computed: true,
            resources: vec![ResourceCost {
                address: "aws_instance.trainer".into(),
                resource_type: "aws_instance".into(),
                action: "create".into(),
                monthly_after_usd: 23_592.0,
                monthly_delta_usd: 23_592.0,
                classes: vec![CostClass::Gpu],
                details: vec!["p4d.24xlarge: 8 × NVIDIA A100".into()],
                ..ResourceCost::default()
            }],
            counts: CostCounts {
                priced: 1,
                ..CostCounts::default()
            },
            ..CostSummary::default()
        }
    }

    #[test]
    fn over_budget_escalates_and_says_the_money_in_plain_numbers() {
        let out = review(&gpu_cost(), Some(1000.0));
        let f = &out.findings[0].finding;
        assert_eq!(f.rule_id, "COST-BUDGET-EXCEEDED");
        assert_eq!(f.effect, Effect::Escalate);
        assert!(
            f.message
                .starts_with("+$23,592/month, 2,359 % of the $1,000 budget"),
            "{}",
            f.message
        );
        assert!(out.findings.iter().any(|w| w.finding.rule_id == "COST-GPU"));
        assert!(out.risk > 0.9, "{}", out.risk);
    }

    #[test]
    fn risk_grows_with_the_share_of_the_budget() {
        let mut small = gpu_cost();
        small.resources.clear();
        small.monthly_after_usd = 30.0;
        small.monthly_delta_usd = 30.0;
        let r = |c: &CostSummary, b: f64| review(c, Some(b)).risk;
        let low = r(&small, 20_000.0);
        let mid = r(&small, 300.0);
        assert!(low < 0.002, "{low}");
        assert!(mid > 0.05 && mid < 0.1, "{mid}");
        // Savings carry no risk.
        let mut saving = small.clone();
        saving.monthly_delta_usd = -30.0;
        let out = review(&saving, Some(300.0));
        assert_eq!(out.risk, 0.0);
        assert_eq!(out.findings[0].finding.rule_id, "COST-SAVING");
        assert!(
            out.findings[0].finding.message.starts_with("-$30.00/month"),
            "{}",
            out.findings[0].finding.message
        );
    }

    #[test]
    fn without_a_budget_the_reference_is_used() {
        let out = review(&gpu_cost(), None);
        let f = &out.findings[0].finding;
        assert_eq!(f.rule_id, "COST-LARGE-INCREASE");
        assert!(f.message.contains("no monthly_budget_usd"), "{}", f.message);
    }

    #[test]
    fn unpriced_changes_weigh_little_and_not_computed_weighs_nothing() {
        let mut c = CostSummary {
            computed: true,
            ..CostSummary::default()
        };
        c.unpriced = (0..10)
            .map(|i| UnpricedResource {
                address: format!("aws_x.y[{i}]"),
                resource_type: "aws_x".into(),
                action: "create".into(),
                reason: "no cost model".into(),
                kind: "no-price".into(),
            })
            .collect();
        let out = review(&c, Some(100.0));
        assert!(
            (out.risk - MAX_UNPRICED_WEIGHT).abs() < 1e-9,
            "{}",
            out.risk
        );
        let none = review(&CostSummary::default(), Some(100.0));
        assert_eq!(none.risk, 0.0);
        assert!(none.summary.starts_with("cost not computed"));
    }

    #[test]
    fn percent_formats() {
        assert_eq!(percent(23.592), "2,359 %");
        assert_eq!(percent(0.0164), "1.6 %");
    }
}
