#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The counterfactual verdict: every finding's mechanical fix applied to the
//! plan's after-values, judged again with the same stack.

use arbiter_judge::{Judge, JudgeConfig, PlanInput, StackConfig};
use arbiter_verdict::{Decision, Effect};
use serde_json::json;

fn plan(resources: &[(&str, &str, serde_json::Value, serde_json::Value)]) -> PlanInput {
    let rcs: Vec<serde_json::Value> = resources
        .iter()
        .map(|(ty, name, after, unknown)| {
            json!({"address": format!("{ty}.{name}"), "mode": "managed", "type": ty, "name": name,
                   "provider_name": "registry.terraform.io/hashicorp/aws",
                   "change": {"actions": ["create"], "before": null, "after": after, "after_unknown": unknown}})
        })
        .collect();
    let doc =
        json!({"format_version": "1.2", "terraform_version": "1.11.0", "resource_changes": rcs});
    PlanInput::from_vec(doc.to_string().into_bytes()).unwrap()
}

fn prod() -> StackConfig {
    StackConfig {
        name: Some("payments".into()),
        environment: Some("prod".into()),
        ..Default::default()
    }
}

#[test]
fn fixes_turn_a_rejected_change_into_an_approved_one() {
    let judge = Judge::new(&JudgeConfig::default()).unwrap();
    let input = plan(&[
        (
            "aws_db_instance",
            "main",
            json!({"engine": "postgres", "instance_class": "db.t3.micro",
            "publicly_accessible": true, "storage_encrypted": false, "backup_retention_period": 7,
            "deletion_protection": true, "skip_final_snapshot": false}),
            json!({}),
        ),
        (
            "aws_instance",
            "web",
            json!({"ami": "ami-1", "instance_type": "t3.micro",
            "metadata_options": [{"http_tokens": "optional", "http_endpoint": "enabled"}],
            "root_block_device": [{"encrypted": true}]}),
            json!({}),
        ),
    ]);
    let v = judge.evaluate(&input, &prod()).unwrap();
    assert_eq!(v.decision, Decision::Reject, "{}", v.explanation);
    let public = v
        .findings
        .iter()
        .find(|f| f.rule_id == "ARB-AWS-RDS-001")
        .unwrap();
    assert_eq!(public.fix[0].to_string(), "publicly_accessible = false");
    let cf = v.counterfactual.as_ref().expect("a counterfactual");
    assert_eq!(cf.decision, Decision::Approve, "{cf:?}");
    assert!(cf.confidence > v.confidence);
    assert!(cf.findings_fixed >= 3, "{cf:?}");
    assert!(cf.steps_applied >= 3, "{cf:?}");
    assert!(cf.summary().contains("approve at"), "{}", cf.summary());
    // The JSON carries the fix per finding and the section.
    let j = serde_json::to_value(&v).unwrap();
    assert_eq!(j["counterfactual"]["decision"], "approve");
    assert!(j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["fix"][0]["path"] == "publicly_accessible"));
}

#[test]
fn what_the_fixes_do_not_cover_still_blocks() {
    let judge = Judge::new(&JudgeConfig::default()).unwrap();
    let input = plan(&[
        (
            "aws_db_instance",
            "main",
            json!({"engine": "postgres", "instance_class": "db.t3.micro",
            "publicly_accessible": true, "storage_encrypted": true, "backup_retention_period": 7,
            "deletion_protection": true, "skip_final_snapshot": false}),
            json!({}),
        ),
        // SSH open to the world: no mechanical fix.
        (
            "aws_security_group",
            "ssh",
            json!({"name": "ssh", "ingress": [{"from_port": 22, "to_port": 22,
            "protocol": "tcp", "cidr_blocks": ["0.0.0.0/0"], "ipv6_cidr_blocks": []}], "egress": []}),
            json!({}),
        ),
    ]);
    let v = judge.evaluate(&input, &prod()).unwrap();
    let cf = v.counterfactual.as_ref().expect("a counterfactual");
    assert_eq!(cf.decision, Decision::Reject);
    assert!(cf
        .remaining
        .iter()
        .any(|r| r.rule_id == "ARB-AWS-NET-001" && r.effect == Effect::Deny));
    assert!(!cf.remaining.iter().any(|r| r.rule_id == "ARB-AWS-RDS-001"));
    assert!(
        cf.summary()
            .contains("still blocking: ARB-AWS-NET-001 on aws_security_group.ssh"),
        "{}",
        cf.summary()
    );
}

#[test]
fn no_fix_no_counterfactual() {
    let judge = Judge::new(&JudgeConfig::default()).unwrap();
    let input = plan(&[(
        "aws_security_group",
        "ssh",
        json!({"name": "ssh", "ingress": [{"from_port": 22, "to_port": 22,
        "protocol": "tcp", "cidr_blocks": ["0.0.0.0/0"], "ipv6_cidr_blocks": []}], "egress": []}),
        json!({}),
    )]);
    let v = judge.evaluate(&input, &prod()).unwrap();
    assert!(v.findings.iter().all(|f| f.fix.is_empty()));
    assert!(v.counterfactual.is_none());
    assert!(serde_json::to_value(&v)
        .unwrap()
        .get("counterfactual")
        .is_none());
}

#[test]
fn large_plans_get_no_counterfactual() {
    let judge = Judge::new(&JudgeConfig::default()).unwrap();
    let db = json!({"engine": "postgres", "instance_class": "db.t3.micro", "publicly_accessible": true,
        "storage_encrypted": true, "backup_retention_period": 7, "deletion_protection": true,
        "skip_final_snapshot": false});
    let names: Vec<String> = (0..arbiter_judge::COUNTERFACTUAL_MAX_CHANGES)
        .map(|i| format!("n{i}"))
        .collect();
    let mut resources: Vec<(&str, &str, serde_json::Value, serde_json::Value)> = names
        .iter()
        .map(|n| {
            (
                "terraform_data",
                n.as_str(),
                json!({"input": "x"}),
                json!({}),
            )
        })
        .collect();
    // At the limit: a counterfactual.
    resources[0] = ("aws_db_instance", "main", db.clone(), json!({}));
    let v = judge.evaluate(&plan(&resources), &prod()).unwrap();
    assert!(v.counterfactual.is_some());
    // One more change: none.
    resources.push(("terraform_data", "extra", json!({"input": "x"}), json!({})));
    let v = judge.evaluate(&plan(&resources), &prod()).unwrap();
    assert_eq!(v.decision, Decision::Reject);
    assert!(v.findings.iter().any(|f| !f.fix.is_empty()));
    assert!(v.counterfactual.is_none());
}
