//! Data-driven tests of the built-in rule pack: every rule has a case file in
//! `rules/cases/<ID>.json` with resources and the addresses it must flag.
//! Cases run through the real engine (`RulePack::evaluate`) on a plan built
//! from the case, so the change semantics and input building are tested too.
//!
//! Failures print a table and, per failing case, the command that reruns it:
//! `ARBITER_RULE=<ID> cargo test -p arbiter-policy --test rule_cases -- --nocapture`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use arbiter_plan::read_plan_str;
use arbiter_policy::{RuleOverrides, RulePack};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::PathBuf;

fn cases_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("rules/cases")
}

fn plan_for(resources: &[Value]) -> String {
    let rcs: Vec<Value> = resources
        .iter()
        .map(|r| {
            let ty = r["type"].as_str().unwrap_or_default().to_string();
            let mode = r["mode"].as_str().unwrap_or("managed");
            let address = r["address"].as_str().unwrap_or_default();
            let name = r["name"].as_str().map(str::to_string).unwrap_or_else(|| {
                address
                    .rsplit('.')
                    .next()
                    .unwrap_or("x")
                    .split('[')
                    .next()
                    .unwrap_or("x")
                    .to_string()
            });
            let actions = r.get("actions").cloned().unwrap_or(json!(["create"]));
            let before = r.get("before").cloned().unwrap_or(Value::Null);
            json!({
                "address": address, "mode": mode, "type": ty, "name": name,
                "module_address": r.get("module_address").cloned().unwrap_or(Value::Null),
                "index": r.get("index").cloned().unwrap_or(Value::Null),
                "provider_name": "registry.terraform.io/hashicorp/aws",
                "change": {"actions": actions, "before": before, "after": r["values"],
                           "after_unknown": r.get("unknown").cloned().unwrap_or(json!({}))}
            })
        })
        .collect();
    // `"refs": {"argument": ["aws_x.y", ...]}` on a case resource becomes the
    // configuration's references (root-module resources only), as Terraform
    // writes them for an expression such as `aws_x.y.id`.
    let config: Vec<Value> = resources
        .iter()
        .map(|r| {
            let empty = serde_json::Map::new();
            let refs = r.get("refs").and_then(Value::as_object).unwrap_or(&empty);
            let exprs: serde_json::Map<String, Value> = refs
                .iter()
                .map(|(arg, targets)| {
                    let mut list = Vec::new();
                    for t in targets.as_array().into_iter().flatten() {
                        let t = t.as_str().unwrap_or_default();
                        list.push(json!(format!("{t}.id")));
                        list.push(json!(t));
                    }
                    (arg.clone(), json!({ "references": list }))
                })
                .collect();
            let address = r["address"].as_str().unwrap_or_default();
            let config_address = arbiter_plan::address::config_address(address);
            json!({"address": config_address, "expressions": exprs})
        })
        .collect();
    let mut plan = json!({"format_version": "1.2", "resource_changes": rcs});
    if resources.iter().any(|r| r.get("refs").is_some()) {
        plan["configuration"] = json!({"root_module": {"resources": config}});
    }
    plan.to_string()
}

struct Outcome {
    rule: String,
    case: String,
    expected: BTreeSet<String>,
    got: BTreeSet<String>,
}

#[test]
fn every_rule_case_yields_its_expected_findings() {
    let pack = RulePack::builtin().expect("built-in rule pack compiles");
    let only = std::env::var("ARBITER_RULE").ok();
    let mut outcomes = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .expect("rules/cases exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    for file in &files {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let rule_id = doc["rule"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: no \"rule\"", file.display()));
        if only.as_deref().is_some_and(|o| o != rule_id) {
            continue;
        }
        assert!(
            pack.rule(rule_id).is_some(),
            "{}: unknown rule {rule_id}",
            file.display()
        );
        // Only this rule runs, so other rules' findings cannot mask or fake a result.
        let overrides = RuleOverrides {
            disabled: pack
                .rules()
                .iter()
                .filter(|r| r.id != rule_id)
                .map(|r| r.id.clone())
                .collect(),
            ..Default::default()
        };
        for case in doc["cases"]
            .as_array()
            .unwrap_or_else(|| panic!("{}: no cases", file.display()))
        {
            let name = case["name"].as_str().unwrap_or("?").to_string();
            let resources = case["resources"].as_array().cloned().unwrap_or_default();
            // `"configuration"` on a case is the plan's configuration as
            // Terraform writes it (provisioners, module calls).
            let mut text = plan_for(&resources);
            if let Some(cfg) = case.get("configuration") {
                let mut p: Value = serde_json::from_str(&text).unwrap();
                p["configuration"] = cfg.clone();
                text = p.to_string();
            }
            let plan = read_plan_str(&text).unwrap_or_else(|e| panic!("{rule_id} / {name}: {e}"));
            let stack = json!({"name": "case", "environment": case["stack"]["environment"].clone(), "labels": []});
            let findings = pack
                .evaluate(&plan, &stack, &overrides)
                .unwrap_or_else(|e| panic!("{rule_id} / {name}: evaluation failed: {e}"));
            let got = findings
                .iter()
                .filter(|f| f.rule_id == rule_id)
                .filter_map(|f| f.address.clone())
                .collect();
            let expected = case["expect"]
                .as_array()
                .unwrap_or(&Vec::new())
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            outcomes.push(Outcome {
                rule: rule_id.to_string(),
                case: name,
                expected,
                got,
            });
        }
    }
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| o.expected != o.got).collect();
    let mut rules: BTreeSet<&str> = BTreeSet::new();
    for o in &outcomes {
        rules.insert(&o.rule);
    }
    println!("{:<22} {:<60} RESULT", "RULE", "CASE");
    for o in &outcomes {
        let res = if o.expected == o.got {
            "PASS".to_string()
        } else {
            format!("FAIL expected {:?} got {:?}", o.expected, o.got)
        };
        println!(
            "{:<22} {:<60} {res}",
            o.rule,
            o.case.chars().take(60).collect::<String>()
        );
    }
    println!(
        "{} passed, {} failed ({} rules)",
        outcomes.len() - failed.len(),
        failed.len(),
        rules.len()
    );
    for o in &failed {
        println!(
            "rerun: ARBITER_RULE={} cargo test -p arbiter-policy --test rule_cases -- --nocapture",
            o.rule
        );
    }
    assert!(
        failed.is_empty(),
        "{} rule cases failed (table above)",
        failed.len()
    );
    assert!(!outcomes.is_empty(), "no cases ran");
}

#[test]
fn every_rule_is_complete_and_has_firing_and_quiet_cases() {
    let pack = RulePack::builtin().expect("built-in rule pack compiles");
    let mut problems = Vec::new();
    for r in pack.rules() {
        for (field, v) in [
            ("title", &r.title),
            ("rationale", &r.rationale),
            ("remediation", &r.remediation),
            ("category", &r.category),
            ("provider", &r.provider),
        ] {
            if v.trim().is_empty() {
                problems.push(format!("{}: empty {field}", r.id));
            }
        }
        let path = cases_dir().join(format!("{}.json", r.id));
        let Ok(text) = std::fs::read_to_string(&path) else {
            problems.push(format!("{}: no case file {}", r.id, path.display()));
            continue;
        };
        let doc: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let cases = doc["cases"].as_array().cloned().unwrap_or_default();
        let firing = cases
            .iter()
            .filter(|c| c["expect"].as_array().is_some_and(|a| !a.is_empty()))
            .count();
        let quiet = cases
            .iter()
            .filter(|c| c["expect"].as_array().is_some_and(|a| a.is_empty()))
            .count();
        if firing == 0 || quiet == 0 {
            problems.push(format!(
                "{}: needs a firing and a quiet case (has {firing} firing, {quiet} quiet)",
                r.id
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "rule pack problems:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_pack_is_big_enough_and_covers_three_clouds() {
    let pack = RulePack::builtin().unwrap();
    let n = pack.rules().len();
    let by = |p: &str| pack.rules().iter().filter(|r| r.provider == p).count();
    assert!(n >= 60, "only {n} rules");
    assert!(
        by("aws") >= 45 && by("gcp") >= 3 && by("azure") >= 3,
        "aws {} gcp {} azure {}",
        by("aws"),
        by("gcp"),
        by("azure")
    );
}

#[test]
fn build_time_metadata_matches_the_rego() {
    // The build script extracts each rule's metadata literal; evaluating the
    // Rego must give the same object, or `rules list` would lie.
    let pack = RulePack::builtin().unwrap();
    for (rel, text) in arbiter_policy::builtin_files() {
        let Some(pkg) = arbiter_policy::rulepack::package_of(text) else {
            continue;
        };
        if !pkg.starts_with("arbiter.rules.") {
            continue;
        }
        let mut engine = regorus::Engine::new();
        for (_, t) in arbiter_policy::builtin_files().filter(|(p, _)| p.starts_with("lib/")) {
            engine.add_policy("lib.rego".into(), t.to_string()).unwrap();
        }
        engine
            .add_policy(rel.to_string(), text.to_string())
            .unwrap();
        let v = engine.eval_rule(format!("data.{pkg}.metadata")).unwrap();
        let evaluated: Value = serde_json::to_value(&v).unwrap();
        let meta = pack
            .rules()
            .iter()
            .find(|r| r.package == format!("data.{pkg}"))
            .unwrap();
        assert_eq!(evaluated["id"].as_str(), Some(meta.id.as_str()), "{rel}");
        assert_eq!(
            evaluated["severity"].as_str(),
            Some(meta.severity.as_str()),
            "{rel}"
        );
        assert_eq!(
            evaluated["effect"].as_str(),
            Some(meta.effect.as_str()),
            "{rel}"
        );
        let types: Vec<String> =
            serde_json::from_value(evaluated["resource_types"].clone()).unwrap();
        assert_eq!(types, meta.resource_types, "{rel}");
    }
}

/// Change semantics: a weakness kept by an update is pre-existing (info), a
/// new one is introduced, and an update that only removes one raises nothing.
#[test]
fn findings_are_classified_against_the_before_state() {
    use arbiter_verdict::{ChangeRelation, Effect};
    let pack = RulePack::builtin().unwrap();
    let sg = |ports: &[u16]| {
        let ingress: Vec<Value> = ports
            .iter()
            .map(|p| json!({"from_port": p, "to_port": p, "protocol": "tcp", "cidr_blocks": ["0.0.0.0/0"], "ipv6_cidr_blocks": []}))
            .collect();
        json!({"name": "web", "ingress": ingress, "egress": []})
    };
    let run = |before: &[u16], after: &[u16]| {
        let r = json!({"type": "aws_security_group", "address": "aws_security_group.web", "actions": ["update"],
                       "before": sg(before), "values": sg(after)});
        let plan = read_plan_str(&plan_for(&[r])).unwrap();
        pack.evaluate(
            &plan,
            &json!({"environment": "prod"}),
            &RuleOverrides::default(),
        )
        .unwrap()
    };
    // Kept open: pre-existing, downgraded to info.
    let kept = run(&[22], &[22]);
    let ssh: Vec<_> = kept
        .iter()
        .filter(|f| f.rule_id == "ARB-AWS-NET-001")
        .collect();
    assert_eq!(ssh.len(), 1, "{kept:#?}");
    assert_eq!(
        (ssh[0].relation, ssh[0].effect),
        (ChangeRelation::Preexisting, Effect::Info)
    );
    // RDP added beside SSH: RDP introduced (deny), SSH pre-existing.
    let added = run(&[22], &[22, 3389]);
    let rel: Vec<(ChangeRelation, Effect, bool)> = added
        .iter()
        .filter(|f| f.rule_id == "ARB-AWS-NET-001")
        .map(|f| (f.relation, f.effect, f.message.contains("3389")))
        .collect();
    assert!(
        rel.contains(&(ChangeRelation::Introduced, Effect::Deny, true)),
        "{rel:?}"
    );
    assert!(
        rel.contains(&(ChangeRelation::Preexisting, Effect::Info, false)),
        "{rel:?}"
    );
    // Closed: nothing that matters.
    let closed = run(&[22], &[]);
    assert!(
        closed.iter().all(|f| f.effect == Effect::Info),
        "{closed:#?}"
    );
    // Created open: introduced deny.
    let r = json!({"type": "aws_security_group", "address": "aws_security_group.web", "values": sg(&[22])});
    let plan = read_plan_str(&plan_for(&[r])).unwrap();
    let created = pack
        .evaluate(&plan, &json!({}), &RuleOverrides::default())
        .unwrap();
    assert!(created.iter().any(|f| f.rule_id == "ARB-AWS-NET-001"
        && f.effect == Effect::Deny
        && f.relation == ChangeRelation::Introduced));
}

/// A pack compiled for some resource types judges plans of those types like
/// the full pack, and refuses plans with other rule-relevant types.
#[test]
fn pack_compiled_for_types_matches_full_pack_and_refuses_others() {
    let full = RulePack::builtin().unwrap();
    let types: BTreeSet<String> = ["aws_security_group_rule".to_string()].into();
    let small = RulePack::for_types(&[], Some(&types)).unwrap();
    assert_eq!(
        small.rules().len(),
        full.rules().len(),
        "rules() lists every rule"
    );
    let sg = json!({"type": "aws_security_group_rule", "address": "aws_security_group_rule.ssh",
        "values": {"type": "ingress", "from_port": 22, "to_port": 22, "protocol": "tcp", "cidr_blocks": ["0.0.0.0/0"]}});
    let plan = read_plan_str(&plan_for(&[sg])).unwrap();
    let stack = json!({"environment": "prod"});
    let a = full
        .evaluate(&plan, &stack, &RuleOverrides::default())
        .unwrap();
    let b = small
        .evaluate(&plan, &stack, &RuleOverrides::default())
        .unwrap();
    assert_eq!(a, b);
    assert!(!a.is_empty());
    let bucket = json!({"type": "aws_s3_bucket_acl", "address": "aws_s3_bucket_acl.a", "values": {"acl": "public-read"}});
    let plan = read_plan_str(&plan_for(&[bucket])).unwrap();
    let e = small
        .evaluate(&plan, &stack, &RuleOverrides::default())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("aws_s3_bucket_acl"), "{e}");
}

/// rules/README.md's table lists every rule with its current metadata.
#[test]
fn readme_table_matches_the_rules() {
    let pack = RulePack::builtin().unwrap();
    let readme =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("rules/README.md"))
            .unwrap();
    let mut stale = Vec::new();
    for r in pack.rules() {
        let file = r.file.trim_start_matches("builtin:");
        let row = format!(
            "| {} | {} | {} | {} | {} | `{}` | {} |",
            r.id,
            r.title,
            r.severity,
            r.effect,
            r.category,
            file,
            r.checkov.join(", ")
        );
        if !readme.lines().any(|l| l == row) {
            stale.push(row);
        }
    }
    assert!(
        stale.is_empty(),
        "update rules/README.md; expected rows:\n{}",
        stale.join("\n")
    );
}

/// The AWS managed AdministratorAccess policy attached to a workload is a deny
/// in every environment (like a written-out `*` on `*`), and a stack can
/// re-grade it.
#[test]
fn administrator_access_is_denied_everywhere_unless_regraded() {
    use arbiter_verdict::{ChangeRelation, Effect, Severity};
    let pack = RulePack::builtin().unwrap();
    let r = json!({"type": "aws_iam_role_policy_attachment", "address": "aws_iam_role_policy_attachment.admin",
        "values": {"role": "ci", "policy_arn": "arn:aws:iam::aws:policy/AdministratorAccess"}});
    let plan = read_plan_str(&plan_for(&[r])).unwrap();
    for env in [
        json!("prod"),
        json!("staging"),
        json!("dev"),
        json!("ephemeral"),
        Value::Null,
    ] {
        let findings = pack
            .evaluate(
                &plan,
                &json!({"environment": env}),
                &RuleOverrides::default(),
            )
            .unwrap();
        let admin: Vec<_> = findings
            .iter()
            .filter(|f| f.rule_id == "ARB-AWS-IAM-005")
            .map(|f| (f.effect, f.severity, f.relation))
            .collect();
        assert_eq!(
            admin,
            vec![(Effect::Deny, Severity::Critical, ChangeRelation::Introduced)],
            "{env}"
        );
    }
    let regraded = RuleOverrides {
        effect: [("ARB-AWS-IAM-005".to_string(), Effect::Escalate)].into(),
        ..Default::default()
    };
    let findings = pack
        .evaluate(&plan, &json!({"environment": "prod"}), &regraded)
        .unwrap();
    assert!(findings
        .iter()
        .any(|f| f.rule_id == "ARB-AWS-IAM-005" && f.effect == Effect::Escalate));
}

/// Hygiene-grade settings are `low` on a new resource and `medium` when the
/// change switches them off on an existing one (`lib.on_update`).
#[test]
fn switching_a_setting_off_weighs_more_than_creating_without_it() {
    use arbiter_verdict::{ChangeRelation, Severity};
    let pack = RulePack::builtin().unwrap();
    let trail = |multi: bool| json!({"name": "org", "s3_bucket_name": "logs", "is_multi_region_trail": multi, "enable_log_file_validation": true, "enable_logging": true, "kms_key_id": "arn:aws:kms:eu-west-1:1:key/k"});
    let run = |r: Value| {
        let plan = read_plan_str(&plan_for(&[r])).unwrap();
        pack.evaluate(
            &plan,
            &json!({"environment": "prod"}),
            &RuleOverrides::default(),
        )
        .unwrap()
        .into_iter()
        .filter(|f| f.rule_id == "ARB-AWS-CT-002")
        .map(|f| (f.severity, f.relation))
        .collect::<Vec<_>>()
    };
    let created = run(
        json!({"type": "aws_cloudtrail", "address": "aws_cloudtrail.org", "values": trail(false)}),
    );
    assert_eq!(created, vec![(Severity::Low, ChangeRelation::Introduced)]);
    let switched_off = run(
        json!({"type": "aws_cloudtrail", "address": "aws_cloudtrail.org", "actions": ["update"],
        "before": trail(true), "values": trail(false)}),
    );
    assert_eq!(
        switched_off,
        vec![(Severity::Medium, ChangeRelation::Introduced)]
    );
}

/// Rules that relate resources (`"joins": true`) see every view of their types
/// even when a large plan is judged in two halves, and their before-state
/// evaluation sees the other resources' before-states, so a link that already
/// existed is pre-existing rather than introduced.
#[test]
fn joining_rules_see_the_whole_plan_and_the_before_world() {
    use arbiter_verdict::ChangeRelation;
    let pack = RulePack::builtin().unwrap();
    assert!(pack.rule("ARB-AWS-NET-008").unwrap().joins);
    assert!(!pack.rule("ARB-AWS-NET-001").unwrap().joins);
    // 300 private route tables first, then 300 routes to an internet gateway:
    // the two-halves split puts tables and routes on different sides.
    let n = 300;
    let mut resources = Vec::new();
    for i in 0..n {
        resources.push(json!({"type": "aws_route_table", "address": format!("aws_route_table.rt{i}"),
            "values": {"vpc_id": "vpc-1", "route": [], "tags": {"Name": format!("private-{i}")}}, "unknown": {"id": true}}));
    }
    for i in 0..n {
        resources.push(json!({"type": "aws_route", "address": format!("aws_route.r{i}"),
            "values": {"destination_cidr_block": "0.0.0.0/0", "gateway_id": "igw-1"},
            "unknown": {"route_table_id": true}, "refs": {"route_table_id": [format!("aws_route_table.rt{i}")]}}));
    }
    let plan = read_plan_str(&plan_for(&resources)).unwrap();
    let findings = pack
        .evaluate(
            &plan,
            &json!({"environment": "prod"}),
            &RuleOverrides::default(),
        )
        .unwrap();
    let routes = findings
        .iter()
        .filter(|f| f.rule_id == "ARB-AWS-NET-008")
        .count();
    assert_eq!(routes, n);

    // An existing world egress rule of a database group, updated in place (tags):
    // the weakness is pre-existing, not introduced.
    let group = |name: &str| json!({"name": name, "id": "sg-0db", "ingress": [], "egress": []});
    let rule = |tag: &str| json!({"ip_protocol": "-1", "cidr_ipv4": "0.0.0.0/0", "security_group_id": "sg-0db", "tags": {"Owner": tag}});
    let resources = vec![
        json!({"type": "aws_security_group", "address": "aws_security_group.db", "actions": ["update"],
               "before": group("orders-db"), "values": group("orders-db")}),
        json!({"type": "aws_vpc_security_group_egress_rule", "address": "aws_vpc_security_group_egress_rule.out",
               "actions": ["update"], "before": rule("a"), "values": rule("b")}),
    ];
    let plan = read_plan_str(&plan_for(&resources)).unwrap();
    let findings = pack
        .evaluate(
            &plan,
            &json!({"environment": "prod"}),
            &RuleOverrides::default(),
        )
        .unwrap();
    let egress: Vec<_> = findings
        .iter()
        .filter(|f| f.rule_id == "ARB-AWS-NET-005")
        .map(|f| (f.address.clone().unwrap_or_default(), f.relation))
        .collect();
    assert_eq!(
        egress,
        vec![(
            "aws_vpc_security_group_egress_rule.out".to_string(),
            ChangeRelation::Preexisting
        )]
    );
}

/// Security rules: the built-in rules that are not hygiene (effect `info`,
/// see rules/README.md "Hygiene is `info`") nor about cost.
fn is_security_rule(r: &arbiter_policy::RuleMeta) -> bool {
    r.builtin && r.effect != arbiter_verdict::Effect::Info && r.category != "cost"
}

/// Every declared fix is applied to every firing case of its rule (to each
/// flagged resource, with the rule's own semantics of values and unknowns)
/// and the rule must go quiet; and at least 60 % of the security rules have
/// one.
#[test]
fn every_fix_silences_its_rule_on_its_firing_cases() {
    let pack = RulePack::builtin().expect("built-in rule pack compiles");
    let only = std::env::var("ARBITER_RULE").ok();
    let mut failures = Vec::new();
    let mut checked = 0;
    for rule in pack.rules().iter().filter(|r| !r.fix.is_empty()) {
        if only.as_deref().is_some_and(|o| o != rule.id) {
            continue;
        }
        let file = cases_dir().join(format!("{}.json", rule.id));
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let overrides = RuleOverrides {
            disabled: pack
                .rules()
                .iter()
                .filter(|r| r.id != rule.id)
                .map(|r| r.id.clone())
                .collect(),
            ..Default::default()
        };
        let run = |resources: &[Value], case: &Value| -> Vec<arbiter_verdict::Finding> {
            let plan = read_plan_str(&plan_for(resources)).unwrap();
            let stack = json!({"name": "case", "environment": case["stack"]["environment"].clone(), "labels": []});
            pack.evaluate(&plan, &stack, &overrides)
                .unwrap()
                .into_iter()
                .filter(|f| f.rule_id == rule.id)
                .collect()
        };
        let mut fired = 0;
        for case in doc["cases"].as_array().unwrap() {
            let name = case["name"].as_str().unwrap_or("?");
            let mut resources = case["resources"].as_array().cloned().unwrap_or_default();
            let before = run(&resources, case);
            if before.is_empty() {
                continue;
            }
            fired += 1;
            // The fix travels on the finding.
            assert!(
                before.iter().all(|f| f.fix == rule.fix),
                "{}: finding without the rule's fix",
                rule.id
            );
            let flagged: BTreeSet<&str> =
                before.iter().filter_map(|f| f.address.as_deref()).collect();
            for r in resources.iter_mut() {
                let addr = r["address"].as_str().unwrap_or_default().to_string();
                if !flagged.contains(addr.as_str()) {
                    continue;
                }
                let ty = r["type"].as_str().unwrap_or_default().to_string();
                let mut values = r["values"].take();
                let mut unknown = r.get_mut("unknown").map(Value::take).unwrap_or(json!({}));
                for step in rule.fix.iter().filter(|s| s.applies_to(&ty)) {
                    arbiter_verdict::fix::apply_step(&mut values, &mut unknown, step);
                }
                r["values"] = values;
                r["unknown"] = unknown;
            }
            let after = run(&resources, case);
            if !after.is_empty() {
                failures.push(format!(
                    "{} / {name}: still fires after the fix: {:?}",
                    rule.id,
                    after
                        .iter()
                        .map(|f| (&f.address, &f.message))
                        .collect::<Vec<_>>()
                ));
            }
            checked += 1;
        }
        if fired == 0 {
            failures.push(format!("{}: has a fix but no firing case", rule.id));
        }
    }
    for f in &failures {
        println!("{f}");
    }
    assert!(
        failures.is_empty(),
        "{} fix failures (above)",
        failures.len()
    );
    assert!(checked > 0 || only.is_some(), "no fix was checked");
    let security: Vec<&arbiter_policy::RuleMeta> = pack
        .rules()
        .iter()
        .filter(|r| is_security_rule(r))
        .collect();
    let with_fix = security.iter().filter(|r| !r.fix.is_empty()).count();
    let ratio = with_fix as f64 / security.len() as f64;
    println!(
        "fix coverage: {with_fix} of {} security rules ({:.1} %), {checked} firing cases silenced",
        security.len(),
        ratio * 100.0
    );
    if only.is_none() {
        assert!(
            ratio >= 0.60,
            "fix coverage {:.1} % is below 60 %",
            ratio * 100.0
        );
    }
}

/// A fix declaration is checked when the pack loads: the error names the
/// file, the rule and the step.
#[test]
fn invalid_fix_declarations_are_refused_at_load() {
    let rule = |fix: &str| {
        arbiter_policy::PolicySource {
        path: "mine/x.rego".into(),
        text: format!(
            "package arbiter.rules.aws.my_fix\nimport rego.v1\nmetadata := {{\"id\": \"MY-001\", \"title\": \"t\", \"severity\": \"low\", \"effect\": \"warn\", \"resource_types\": [\"aws_instance\"], \"fix\": {fix}}}\nfindings contains f if {{ some r in input.resources.aws_instance; f := {{\"address\": r.address}} }}\n"
        ),
    }
    };
    let ok = RulePack::with_replacements(&[rule(
        r#"[{"path": "metadata_options[0].http_tokens", "value": "required"}]"#,
    )])
    .unwrap();
    assert_eq!(
        ok.rule("MY-001").unwrap().fix[0].path.to_string(),
        "metadata_options[0].http_tokens"
    );
    for (fix, needle) in [
        (r#"[{"path": "a[", "value": 1}]"#, "unclosed"),
        (r#"[{"path": "a"}]"#, "exactly one of"),
        (
            r#"[{"path": "a[0]", "value": 1}]"#,
            "ends with an attribute",
        ),
        (
            r#"[{"path": "a", "value": 1, "types": ["aws_s3_bucket"]}]"#,
            "aws_s3_bucket",
        ),
        (r#""a = 1""#, "list of"),
    ] {
        let err = RulePack::with_replacements(&[rule(fix)])
            .err()
            .expect(fix)
            .to_string();
        assert!(
            err.contains("mine/x.rego") && err.contains("MY-001") && err.contains(needle),
            "{fix}: {err}"
        );
    }
}
